"""`keyun dispatch vehicle|driver|report-in|safety-check`: the station's coaches and drivers,
report-in (报班) and the safety check (安检), docs/dispatch.md."""

from __future__ import annotations

import argparse

from keyun.v1 import fleet_pb2

from .cli import _client, _common
from .flows import show, table, trip_line

VEHICLE_OPTIONS = (
    ("--operator", "operator_id", "the operator (承运企业) running it"),
    ("--seats", "rated_seats", "rated seats (核定座位), 1..80"),
    ("--layout", "seat_layout", 'seat layout, free text: "2+2", "2+1 sleeper"'),
    ("--permit-expires", "permit_expires", "road transport permit (道路运输证) valid through, YYYY-MM-DD"),
    ("--inspection-expires", "inspection_expires", "technical inspection valid through, YYYY-MM-DD"),
    ("--insurance-expires", "insurance_expires", "insurance valid through, YYYY-MM-DD"),
)
DRIVER_OPTIONS = (
    ("--name", "name", "the driver's name (stored encrypted, shown masked)"),
    ("--licence-class", "licence_class", "A1, A2, A3, B1, B2 or C1"),
    ("--qualification-number", "qualification_number", "the qualification certificate (从业资格证) number"),
    ("--qualification-expires", "qualification_expires", "the certificate is valid through, YYYY-MM-DD"),
    ("--phone", "phone", "a mobile number (stored encrypted, shown masked)"),
)


def add_verbs(dispatch) -> None:
    """The fleet verbs, under `keyun dispatch`."""
    _vehicle_verbs(dispatch.add_parser("vehicle", help="the station's coaches: add, update, list, show, retire"))
    _driver_verbs(dispatch.add_parser("driver", help="drivers: add, update, list, show, retire"))

    p = dispatch.add_parser("report-in", help="报班: assign a vehicle and driver to a trip")
    p.add_argument("trip_id")
    p.add_argument("vehicle_id")
    p.add_argument("driver_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_report_in)

    p = dispatch.add_parser("safety-check", help="安检: record the coach's safety check, item by item")
    p.add_argument("trip_id")
    p.add_argument(
        "--item",
        action="append",
        required=True,
        metavar="NAME=ok|fail[:NOTE]",
        help="an item checked, e.g. brakes=ok or tyres=fail:worn (repeat; the check passes when all are ok)",
    )
    p.add_argument("--note", default="")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_safety_check)


def _vehicle_verbs(parser) -> None:
    verbs = parser.add_subparsers(dest="vehicle_action", required=True)
    p = verbs.add_parser("add", help="add a coach")
    p.add_argument("plate", help="as painted: 京A12345")
    for flag, dest, text in VEHICLE_OPTIONS:
        optional = dest == "seat_layout"
        kind = int if dest == "rated_seats" else str
        p.add_argument(flag, dest=dest, required=not optional, default="" if optional else None, type=kind, help=text)
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _show_vehicle(a, _client(a).add_vehicle(_vehicle_input(a), a.request_id)))

    p = verbs.add_parser("update", help="change a coach: the options given replace what it has")
    p.add_argument("vehicle_id")
    p.add_argument("--plate")
    for flag, dest, text in VEHICLE_OPTIONS:
        p.add_argument(flag, dest=dest, type=int if dest == "rated_seats" else str, help=text)
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=_update_vehicle)

    p = verbs.add_parser("list", help="the coaches in service (with --all, retired ones too)")
    _page_options(p)
    _common(p)
    p.set_defaults(run=_list_vehicles)

    p = verbs.add_parser("show", help="one coach")
    p.add_argument("vehicle_id")
    _common(p)
    p.set_defaults(run=lambda a: _show_vehicle(a, _client(a).vehicle(a.vehicle_id)))

    p = verbs.add_parser("retire", help="take a coach out of service (kept for the records)")
    p.add_argument("vehicle_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _show_vehicle(a, _client(a).retire_vehicle(a.vehicle_id, a.request_id)))


def _driver_verbs(parser) -> None:
    verbs = parser.add_subparsers(dest="driver_action", required=True)
    p = verbs.add_parser("add", help="add a driver")
    for flag, dest, text in DRIVER_OPTIONS:
        p.add_argument(flag, dest=dest, required=dest != "phone", default="", help=text)
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _show_driver(a, _client(a).add_driver(_driver_input(a), a.request_id)))

    p = verbs.add_parser("update", help="change a driver: every field is given again (the stored ones are encrypted)")
    p.add_argument("driver_id")
    for flag, dest, text in DRIVER_OPTIONS:
        p.add_argument(flag, dest=dest, required=dest != "phone", default="", help=text)
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _show_driver(a, _client(a).update_driver(a.driver_id, _driver_input(a), a.request_id)))

    p = verbs.add_parser("list", help="drivers in service (with --all, retired ones too), masked")
    _page_options(p)
    _common(p)
    p.set_defaults(run=_list_drivers)

    p = verbs.add_parser("show", help="one driver, masked")
    p.add_argument("driver_id")
    _common(p)
    p.set_defaults(run=lambda a: _show_driver(a, _client(a).driver(a.driver_id)))

    p = verbs.add_parser("retire", help="a driver who no longer drives for the station (kept for the records)")
    p.add_argument("driver_id")
    p.add_argument("--request-id")
    _common(p)
    p.set_defaults(run=lambda a: _show_driver(a, _client(a).retire_driver(a.driver_id, a.request_id)))


def _page_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="retired ones too")
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--page-token", default="")


def _vehicle_input(a: argparse.Namespace) -> fleet_pb2.VehicleInput:
    return fleet_pb2.VehicleInput(plate=a.plate, **{dest: getattr(a, dest) for _, dest, _ in VEHICLE_OPTIONS})


def _driver_input(a: argparse.Namespace) -> fleet_pb2.DriverInput:
    return fleet_pb2.DriverInput(**{dest: getattr(a, dest) for _, dest, _ in DRIVER_OPTIONS})


def _update_vehicle(a: argparse.Namespace) -> None:
    """The vehicle as stored, with the options given put over it."""
    client = _client(a)
    details = client.vehicle(a.vehicle_id).details
    if a.plate is not None:
        details.plate = a.plate
    for _, dest, _ in VEHICLE_OPTIONS:
        if getattr(a, dest) is not None:
            setattr(details, dest, getattr(a, dest))
    _show_vehicle(a, client.update_vehicle(a.vehicle_id, details, a.request_id))


def _vehicle_row(v: fleet_pb2.Vehicle) -> list[object]:
    d = v.details
    state = "retired" if v.HasField("retired_at") else "in service"
    return [
        v.vehicle_id,
        d.plate,
        d.operator_id,
        d.rated_seats,
        d.permit_expires,
        d.inspection_expires,
        d.insurance_expires,
        state,
    ]


VEHICLE_HEADERS = ("vehicle", "plate", "operator", "seats", "permit", "inspection", "insurance", "state")
DRIVER_HEADERS = ("driver", "name", "class", "qualification", "valid through", "phone", "state")


def _show_vehicle(a: argparse.Namespace, v: fleet_pb2.Vehicle) -> None:
    show(a, v, table(VEHICLE_HEADERS, [_vehicle_row(v)]))


def _list_vehicles(a: argparse.Namespace) -> None:
    page = _client(a).vehicles_page(a.page_size, a.page_token, a.all)
    text = table(VEHICLE_HEADERS, [_vehicle_row(v) for v in page.vehicles])
    show(a, page, text + (f"\nnext page: --page-token {page.next_page_token}" if page.next_page_token else ""))


def _driver_row(d: fleet_pb2.Driver) -> list[object]:
    state = "retired" if d.HasField("retired_at") else "in service"
    return [
        d.driver_id,
        d.masked_name,
        d.licence_class,
        d.masked_qualification_number,
        d.qualification_expires,
        d.masked_phone or "-",
        state,
    ]


def _show_driver(a: argparse.Namespace, d: fleet_pb2.Driver) -> None:
    show(a, d, table(DRIVER_HEADERS, [_driver_row(d)]))


def _list_drivers(a: argparse.Namespace) -> None:
    page = _client(a).drivers_page(a.page_size, a.page_token, a.all)
    text = table(DRIVER_HEADERS, [_driver_row(d) for d in page.drivers])
    show(a, page, text + (f"\nnext page: --page-token {page.next_page_token}" if page.next_page_token else ""))


def _report_in(a: argparse.Namespace) -> None:
    reply = _client(a).report_in(a.trip_id, a.vehicle_id, a.driver_id, a.request_id)
    show(a, reply, f"{trip_line(reply.trip)}  vehicle {reply.plate}  driver {reply.driver_id}  on {reply.travel_date}")


def parse_item(text: str) -> tuple[str, bool, str]:
    """`brakes=ok`, `tyres=fail:worn` -> (name, passed, note)."""
    name, _, rest = text.partition("=")
    verdict, _, note = rest.partition(":")
    if verdict not in ("ok", "fail"):
        raise SystemExit(f"--item {text}: NAME=ok or NAME=fail[:NOTE]")
    return name.strip(), verdict == "ok", note.strip()


def _safety_check(a: argparse.Namespace) -> None:
    items = [parse_item(text) for text in a.item]
    passed = all(ok for _, ok, _ in items)
    trip = _client(a).record_safety_check(a.trip_id, passed, items, a.note, a.request_id)
    show(a, trip, f"{trip_line(trip)}  safety check {trip.safety_check}")
