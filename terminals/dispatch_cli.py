"""`keyun dispatch`: the life of a trip (depart, delay, cancel) and loading the timetable."""

from __future__ import annotations

from . import fleet_cli
from .cli import _client, _common, add_network_load
from .flows import show, trip_line


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

    p = add_network_load(dispatch)  # the same verb as `keyun network load`

    fleet_cli.add_verbs(dispatch)  # vehicle, driver, report-in, safety-check (docs/dispatch.md)
