"""`keyun dispatch`: the life of a trip (depart, delay, cancel), seat quotas for stops, blocked
seats, extra runs, and loading the timetable."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from keyun.v1 import dispatch_pb2

from . import fleet_cli, printing, trip_sheet_print
from .cli import _client, _common, add_network_load
from .flows import show, table, trip_line

BEIJING = dt.timezone(dt.timedelta(hours=8))


def add_verbs(verbs) -> None:
    console = verbs.add_parser(
        "dispatch",
        help="dispatch: with no verb the full-screen console; or depart, delay, cancel, quotas, load the timetable",
        description="With no verb: the dispatch console, a full-screen application for dispatchers "
        "(docs/dispatch.md).  The verbs do one thing each from the command line.",
    )
    _common(console)
    console.add_argument("--station", default="", help="the station whose departures are shown (default: yours)")
    console.add_argument(
        "--date", type=printing.station_date, default="today", help="today, tomorrow, +N or YYYY-MM-DD (default today)"
    )
    console.add_argument(
        "--print-dir",
        type=Path,
        default=Path(os.environ.get("KEYUN_PRINT_DIR") or Path.home() / "keyun-trip-sheets"),
        help="where the console writes trip sheet PDFs (env KEYUN_PRINT_DIR; default ~/keyun-trip-sheets)",
    )
    console.set_defaults(run=_console)
    dispatch = console.add_subparsers(dest="action")

    p = dispatch.add_parser("depart", help="the coach has left its first stop: boarding there closes")
    p.add_argument("trip_id")
    p.add_argument(
        "--staff",
        action="append",
        default=[],
        type=_staff,
        metavar="NAME:ROLE",
        help="one of the crew on board besides the driver (repeatable); ROLE: conductor, attendant, security, "
        "relief_driver, other",
    )
    p.add_argument("--note", default="", help="a note for the trip sheet")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, t := _client(a).depart(a.trip_id, a.request_id, a.staff, a.note), trip_line(t))
    )

    p = dispatch.add_parser("trip-sheet", help="路单: a departed trip's coach, crew, passengers and revenue by segment")
    p.add_argument("trip_id")
    p.add_argument("--pdf", type=Path, metavar="FILE", help="write the sheet as a PDF to FILE")
    _common(p)
    p.set_defaults(run=_trip_sheet)

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

    p = dispatch.add_parser(
        "change-vehicle",
        help="换车: another coach with the layout's first SEATS seats; tickets on seats it lacks are reseated",
    )
    p.add_argument("trip_id")
    p.add_argument("seats", type=int, help="the new coach's seats, 1..the trip's layout")
    p.add_argument("--vehicle-name", default="", help="its name or model, for the record")
    unfit = p.add_mutually_exclusive_group()
    unfit.add_argument("--refund", action="store_true", help="refund the tickets with no seat in full")
    unfit.add_argument("--move-to", metavar="TRIP_ID", default="", help="move the tickets with no seat to this trip")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_change_vehicle)

    p = add_network_load(dispatch)  # the same verb as `keyun network load`

    _add_seat_plan_verbs(dispatch)
    fleet_cli.add_verbs(dispatch)  # vehicle, driver, report-in, safety-check (docs/dispatch.md)


def _console(args) -> None:
    from .dispatch_console import run  # Textual is loaded only for the console

    run(args)


def _staff(text: str) -> tuple[str, str]:
    """NAME:ROLE as (name, role); the server checks both."""
    name, colon, role = text.rpartition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME:ROLE, e.g. 王芳:conductor")
    return name, role


def _trip_sheet(args) -> None:
    sheet = _client(args).trip_sheet(args.trip_id)
    if args.pdf:
        trip_sheet_print.write_pdf(sheet, args.pdf)
        show(args, sheet, f"trip sheet {sheet.sheet_number} written to {args.pdf}")
    else:
        show(args, sheet, trip_sheet_print.sheet_text(sheet))


def _when_ms(text: str) -> int:
    """An ISO 8601 time ("2026-12-09T14:30", Beijing time unless it names an offset) in epoch ms."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-12-09T14:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


def plan_text(plan) -> str:
    """A trip's seat plan: its quotas by stop and its blocked seats."""
    lines = [trip_line(plan.trip) + (f"  extra run of {plan.extra_of}" if plan.extra_of else "")]
    for quota in plan.quotas:
        if quota.HasField("release_at"):
            release = (
                f"released {printing.local(quota.release_at)}"
                if quota.released
                else (f"until {printing.local(quota.release_at)}")
            )
        else:
            release = "until the coach leaves"
        shared = ", shared with later stops" if quota.shared else ""
        lines.append(
            f"quota {quota.stop}: {','.join(quota.seat_numbers)} ({quota.seats_unsold} unsold) {release}{shared}"
        )
    for seat in plan.blocked:
        lines.append(f"blocked {seat.seat_number} ({_block_reason(seat.reason)})")
    return "\n".join(lines)


def _block_reason(value: int) -> str:
    return dispatch_pb2.BlockReason.Name(value).removeprefix("BLOCK_REASON_").lower()


def _add_seat_plan_verbs(dispatch) -> None:
    p = dispatch.add_parser(
        "quota",
        help="keep seats for passengers boarding at a stop (配载) until a release time; --clear gives them back",
    )
    p.add_argument("trip_id")
    p.add_argument("stop", nargs="?", default="", help="the boarding stop's station code (none: show the plan)")
    p.add_argument("--seats", type=int, default=0, help="how many seats (the server picks them)")
    p.add_argument("--seat", action="append", default=[], dest="seat_numbers", help="a seat to keep (repeatable)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--release-before", type=int, default=0, metavar="MIN", help="minutes before the stop's departure"
    )
    group.add_argument("--release-at", type=_when_ms, default=0, metavar="TIME", help="a time, Beijing unless offset")
    p.add_argument("--shared", action="store_true", help="later stops may sell them too")
    p.add_argument("--clear", action="store_true", help="give the stop's quota back to the general pool")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_quota)

    p = dispatch.add_parser("block", help="take seats out of sale (crew, broken, other)")
    p.add_argument("trip_id")
    p.add_argument("seats", nargs="+")
    p.add_argument("--reason", choices=("crew", "broken", "other"), default="other")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(a, r := _client(a).block_seats(a.trip_id, a.seats, a.reason, a.request_id), plan_text(r))
    )

    p = dispatch.add_parser("unblock", help="put blocked seats back on sale")
    p.add_argument("trip_id")
    p.add_argument("seats", nargs="+")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: show(a, r := _client(a).unblock_seats(a.trip_id, a.seats, a.request_id), plan_text(r)))

    p = dispatch.add_parser(
        "extra-run", help="add an extra run (加班) on a trip's or schedule's route, on sale at once"
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--trip", default="", help="the trip to copy the route, fares and coach from")
    source.add_argument("--schedule", default="", help="or its schedule (its trip nearest the date is copied)")
    p.add_argument("departs", type=_when_ms, help="departure, e.g. 2026-12-09T14:30 (Beijing unless offset)")
    p.add_argument("--vehicle", default="", help="the coach's name (default: the copied one's)")
    p.add_argument("--seats", type=int, default=0, help="its seats, standard layout (default: the copied coach)")
    p.add_argument("--gate", default="")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(
        run=lambda a: show(
            a,
            r := _client(a).add_extra_run(
                a.departs, a.trip, a.schedule, a.vehicle, a.seats, a.gate, request_id=a.request_id
            ),
            plan_text(r),
        )
    )


def _quota(a) -> None:
    client = _client(a)
    if not a.stop:
        reply = client.seat_plan(a.trip_id)
    elif a.clear:
        reply = client.clear_seat_quota(a.trip_id, a.stop, a.request_id)
    else:
        reply = client.set_seat_quota(
            a.trip_id, a.stop, a.seats, a.seat_numbers, a.release_at, a.release_before, a.shared, a.request_id
        )
    show(a, reply, plan_text(reply))


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


def _change_vehicle(a: argparse.Namespace) -> None:
    choice = "refund" if a.refund else "move" if a.move_to else ""
    reply = _client(a).change_vehicle(a.trip_id, a.seats, choice, a.move_to, a.vehicle_name, a.request_id)
    show(a, reply, vehicle_text(reply))


def vehicle_text(reply) -> str:
    """What a vehicle change did: tickets reseated, refunded, moved."""
    lines = [f"{trip_line(reply.trip)}  now {reply.seat_count} seats"]
    rows = [(r.ticket_id, f"{r.from_station}-{r.to_station}", r.old_seat, r.new_seat) for r in reply.reseated]
    lines += [f"reseated {len(rows)}:", table(("ticket", "segment", "seat", "new seat"), rows)]
    if reply.refunded:
        rows = [
            (r.ticket_id, f"{r.from_station}-{r.to_station}", r.seat, f"{r.refund_fen / 100:.2f}")
            for r in reply.refunded
        ]
        lines += [f"refunded in full {len(rows)}:", table(("ticket", "segment", "seat", "refund"), rows)]
    if reply.moved:
        rows = [(m.old_ticket_id, f"{m.from_station}-{m.to_station}", m.new_ticket_id, m.new_seat) for m in reply.moved]
        lines += [f"moved {len(rows)}:", table(("ticket", "segment", "new ticket", "new seat"), rows)]
    return "\n".join(lines)
