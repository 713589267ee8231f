"""`keyun dispatch`: the life of a trip (depart, delay, cancel) and loading the timetable."""

from __future__ import annotations

from .cli import _client, _common, add_network_load
from .flows import show, table, trip_line


def add_verbs(verbs) -> None:
    dispatch = verbs.add_parser(
        "dispatch", help="dispatch: a trip departs, is delayed or cancelled; load the timetable"
    ).add_subparsers(dest="action", required=True)

    p = dispatch.add_parser("depart", help="the coach has left its first stop: boarding there closes")
    p.add_argument("trip_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, t := _client(a).depart(a.trip_id, a.request_id), trip_line(t)))

    p = dispatch.add_parser(
        "delay", help="put departure back: the total delay from the timetable (it only grows); refunds become free"
    )
    p.add_argument("trip_id")
    p.add_argument("minutes", type=int, help="total delay in minutes, 1..1440")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, t := _client(a).delay(a.trip_id, a.minutes, a.request_id), trip_line(t)))

    p = dispatch.add_parser("cancel", help="cancel a trip: no more sales or boarding; refunds are free")
    p.add_argument("trip_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, t := _client(a).cancel(a.trip_id, a.request_id), trip_line(t)))

    p = dispatch.add_parser("gate", help="name the gate or bay a trip boards at (an empty GATE takes it back)")
    p.add_argument("trip_id")
    p.add_argument("gate", help='as painted in the hall: "3", "A12", "B-2"; "" takes it back')
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a, t := _client(a).assign_gate(a.trip_id, a.gate, a.request_id), f"{trip_line(t)}  gate {t.gate or '-'}"
        )
    )

    p = dispatch.add_parser(
        "merge", help="并班: move every live ticket of TRIP_ID onto INTO_TRIP_ID (same route); TRIP_ID stops selling"
    )
    p.add_argument("trip_id")
    p.add_argument("into_trip_id")
    p.add_argument("--request-id", help="repeat the same id to continue an interrupted merge")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, r := _client(a).merge_trips(a.trip_id, a.into_trip_id, a.request_id), merge_text(r))
    )

    p = dispatch.add_parser(
        "missed", help="脱班: the coach did not come: no more sales or boarding; refunds free; then merge or refund"
    )
    p.add_argument("trip_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, t := _client(a).mark_missed(a.trip_id, a.request_id), trip_line(t)))

    p = add_network_load(dispatch)  # the same verb as `keyun network load`


def merge_text(reply) -> str:
    """What a merge did: the tickets moved (old seat -> new seat) and those left, with why."""
    moved = table(
        ("ticket", "segment", "seat", "new ticket", "new seat"),
        [
            (m.old_ticket_id, f"{m.from_station}-{m.to_station}", m.old_seat, m.new_ticket_id, m.new_seat)
            for m in reply.moved
        ],
    )
    lines = [f"{trip_line(reply.trip)}  merged into {reply.into_trip.trip_id}", f"moved {len(reply.moved)}:", moved]
    if reply.not_moved:
        left = table(
            ("ticket", "segment", "seat", "reason", "why"),
            [(u.ticket_id, f"{u.from_station}-{u.to_station}", u.seat, u.reason, u.message) for u in reply.not_moved],
        )
        lines += [f"NOT moved {len(reply.not_moved)} (still on {reply.trip.trip_id}; refunds are free):", left]
    return "\n".join(lines)
