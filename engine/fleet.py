"""Vehicles, drivers and who drives what (运力): station master data, hosted by the accounts owner.

Why the accounts owner: it already keeps the station-wide records that belong to no trip (staff,
devices, shifts, announcements), as one owner with one log.  Report-in (报班) must refuse a driver
or a coach already assigned to an overlapping trip, and trips are spread over many shards: kept
here, every assignment is in one owner, so the overlap check sees them all and two report-ins
cannot both pass (the owner decides one command at a time).  The trip records the plate and
driver too (engine/commands.RecordCrew), for manifests and the board.

Drivers' personal data arrives protected by the gateway, as passengers' does (engine/accounts.py):
the name, qualification certificate number and phone encrypted with the station's field keys,
plus their masked forms for replies.  Nothing here holds them in the clear.

Certificate dates are ISO dates (YYYY-MM-DD) in the station's calendar: a certificate is valid
through its expiry date, and a trip may run on it when the travel date is not after it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, quote, reject
from .values import Command, Event, Query, Reply, Value

VEHICLE_ID = re.compile(r"V[0-9]{6,}")
DRIVER_ID = re.compile(r"D[0-9]{6,}")
# A plate as painted (京A12345, 粤B D12345 without the space, a new-energy 沪AD12345): a province's
# character, a letter, then 5 or 6 letters and digits.
PLATE = re.compile(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}")
OPERATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
LICENCE_CLASS = re.compile(r"(A1|A2|A3|B1|B2|C1)")  # the classes that may drive a coach or a bus
MAX_SEATS = 80
MAX_LAYOUT_CHARS = 32  # "2+1", "2+2 sleeper", "45 seats 2+2"
MAX_PAGE = 200
DAY_MS = 24 * 60 * 60 * 1000


def _request(value: str) -> None:
    from .commands import check_request_id  # the trip commands' rule for request ids

    check_request_id(value)


def check_date(field_name: str, value: str) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name}: a date, YYYY-MM-DD", field=field_name))
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.isoformat() != value:
        raise invalid(field_name, f"a date, YYYY-MM-DD, not {quote(value)}")


def check_vehicle_id(value: str) -> None:
    if not VEHICLE_ID.fullmatch(value):
        raise invalid("vehicle_id", "a vehicle id like V000001")


def check_driver_id(value: str) -> None:
    if not DRIVER_ID.fullmatch(value):
        raise invalid("driver_id", "a driver id like D000001")


def _page(offset: int, page_size: int) -> None:
    if offset < 0:
        raise invalid("page_token", "not a page token of this list")
    if not 0 < page_size <= MAX_PAGE:
        raise invalid("page_size", f"1..{MAX_PAGE}")


# ---------------------------------------------------------------------------------------------
# Records.


class VehicleFields(Value):
    """What staff say about a coach; checked on construction."""

    plate: str
    operator_id: str
    rated_seats: int
    seat_layout: str
    permit_expires: str  # 道路运输证
    inspection_expires: str  # 年检 (the technical inspection)
    insurance_expires: str

    def __post_init__(self) -> None:
        if not self.plate:
            raise Rejected(reject(Reason.MISSING_FIELD, "plate: the number plate, like 京A12345", field="plate"))
        if not PLATE.fullmatch(self.plate):
            raise invalid("plate", f"a number plate like 京A12345, not {quote(self.plate)}")
        if not OPERATOR.fullmatch(self.operator_id):
            raise invalid("operator_id", "1 to 32 letters, digits, '_' or '-'")
        if not 0 < self.rated_seats <= MAX_SEATS:
            raise invalid("rated_seats", f"1..{MAX_SEATS}")
        if len(self.seat_layout) > MAX_LAYOUT_CHARS or any(ord(c) < 32 for c in self.seat_layout):
            raise invalid("seat_layout", f"at most {MAX_LAYOUT_CHARS} printable characters")
        check_date("permit_expires", self.permit_expires)
        check_date("inspection_expires", self.inspection_expires)
        check_date("insurance_expires", self.insurance_expires)

    def expired_on(self, travel_date: str) -> str:
        """The first certificate not valid on `travel_date` ("" when all are)."""
        for name, expires in (
            ("permit", self.permit_expires),
            ("inspection", self.inspection_expires),
            ("insurance", self.insurance_expires),
        ):
            if expires < travel_date:
                return name
        return ""


class DriverFields(Value):
    """A driver as the gateway sends it: personal data encrypted, with its masked forms."""

    name_cipher: bytes
    name_masked: str
    licence_class: str
    qualification_cipher: bytes  # 从业资格证 number
    qualification_masked: str
    qualification_expires: str
    phone_cipher: bytes
    phone_masked: str

    def __post_init__(self) -> None:
        if not self.name_cipher:
            raise Rejected(reject(Reason.MISSING_FIELD, "name: the driver's name", field="name"))
        if not LICENCE_CLASS.fullmatch(self.licence_class):
            raise invalid("licence_class", "A1, A2, A3, B1, B2 or C1")
        if not self.qualification_cipher:
            raise Rejected(
                reject(
                    Reason.MISSING_FIELD, "qualification_number: the 从业资格证 number", field="qualification_number"
                )
            )
        check_date("qualification_expires", self.qualification_expires)


class Vehicle(Value):
    vehicle_id: str
    fields: VehicleFields
    added_at_ms: int
    retired_at_ms: int = 0


class Driver(Value):
    driver_id: str
    fields: DriverFields
    added_at_ms: int
    retired_at_ms: int = 0


class Assignment(Value):
    """A report-in: this coach and driver run this trip from `starts_ms` to `ends_ms`."""

    trip_id: str
    vehicle_id: str
    plate: str
    driver_id: str
    travel_date: str
    starts_ms: int  # the coach leaves its first stop
    ends_ms: int  # ...and reaches its last
    account_id: str  # the dispatcher who reported it in
    at_ms: int

    def overlaps(self, starts_ms: int, ends_ms: int) -> bool:
        return self.starts_ms < ends_ms and starts_ms < self.ends_ms


class FleetBook(Value, frozen=False):
    vehicles: dict[str, Vehicle] = msgspec.field(default_factory=dict)
    drivers: dict[str, Driver] = msgspec.field(default_factory=dict)
    assignments: dict[str, Assignment] = msgspec.field(default_factory=dict)  # by trip
    vehicles_added: int = 0
    drivers_added: int = 0


# ---------------------------------------------------------------------------------------------
# Commands, queries, events and replies.


class AddVehicle(Value, Command):
    request_id: str
    fields: VehicleFields

    def __post_init__(self) -> None:
        _request(self.request_id)


class UpdateVehicle(Value, Command):
    request_id: str
    vehicle_id: str
    fields: VehicleFields

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_vehicle_id(self.vehicle_id)


class RetireVehicle(Value, Command):
    request_id: str
    vehicle_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_vehicle_id(self.vehicle_id)


class AddDriver(Value, Command):
    request_id: str
    fields: DriverFields

    def __post_init__(self) -> None:
        _request(self.request_id)


class UpdateDriver(Value, Command):
    request_id: str
    driver_id: str
    fields: DriverFields

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_driver_id(self.driver_id)


class RetireDriver(Value, Command):
    request_id: str
    driver_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_driver_id(self.driver_id)


class AssignCrew(Value, Command):
    """Report-in, as the accounts owner decides it: the gateway read the trip first and sends
    what the owner needs of it (its travel date, its time range and the seats sold)."""

    request_id: str
    trip_id: str
    vehicle_id: str
    driver_id: str
    travel_date: str
    starts_ms: int
    ends_ms: int
    seats_sold: int
    account_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_vehicle_id(self.vehicle_id)
        check_driver_id(self.driver_id)
        check_date("travel_date", self.travel_date)
        if not 0 < self.starts_ms <= self.ends_ms:
            raise invalid("trip_id", "the trip's times are out of order")


class ReleaseCrew(Value, Command):
    """The trip will not run (it was cancelled): its coach and driver are free for others."""

    request_id: str
    trip_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)


class OverlappingTrips(Value, Query):
    """The trips other than `trip_id` on which this vehicle or driver is reported in between
    `starts_ms` and `ends_ms`: report-in looks at them first, and frees those cancelled since."""

    trip_id: str
    vehicle_id: str
    driver_id: str
    starts_ms: int
    ends_ms: int


class GetVehicle(Value, Query):
    vehicle_id: str

    def __post_init__(self) -> None:
        check_vehicle_id(self.vehicle_id)


class ListVehicles(Value, Query):
    offset: int = 0
    page_size: int = 50
    include_retired: bool = False

    def __post_init__(self) -> None:
        _page(self.offset, self.page_size)


class GetDriver(Value, Query):
    driver_id: str

    def __post_init__(self) -> None:
        check_driver_id(self.driver_id)


class ListDrivers(Value, Query):
    offset: int = 0
    page_size: int = 50
    include_retired: bool = False

    def __post_init__(self) -> None:
        _page(self.offset, self.page_size)


class GetAssignment(Value, Query):
    trip_id: str


class VehicleAdded(Value, Event):
    vehicle: Vehicle


class VehicleUpdated(Value, Event):
    vehicle_id: str
    fields: VehicleFields


class VehicleRetired(Value, Event):
    vehicle_id: str
    at_ms: int


class DriverAdded(Value, Event):
    driver: Driver


class DriverUpdated(Value, Event):
    driver_id: str
    fields: DriverFields


class DriverRetired(Value, Event):
    driver_id: str
    at_ms: int


class CrewAssigned(Value, Event):
    assignment: Assignment


class CrewReleased(Value, Event):
    trip_id: str
    at_ms: int


class TripIds(Value, Reply):
    trip_ids: tuple[str, ...]


class VehicleView(Value, Reply):
    vehicle: Vehicle


class VehiclesPage(Value, Reply):
    vehicles: tuple[Vehicle, ...]
    next_offset: int  # 0: no more


class DriverView(Value, Reply):
    driver: Driver


class DriversPage(Value, Reply):
    drivers: tuple[Driver, ...]
    next_offset: int


class AssignmentView(Value, Reply):
    assignment: Assignment | None


FLEET_COMMANDS = (
    AddVehicle,
    UpdateVehicle,
    RetireVehicle,
    AddDriver,
    UpdateDriver,
    RetireDriver,
    AssignCrew,
    ReleaseCrew,
)
FLEET_QUERIES = (GetVehicle, ListVehicles, GetDriver, ListDrivers, GetAssignment, OverlappingTrips)
FLEET_EVENTS = (
    VehicleAdded,
    VehicleUpdated,
    VehicleRetired,
    DriverAdded,
    DriverUpdated,
    DriverRetired,
    CrewAssigned,
    CrewReleased,
)


# ---------------------------------------------------------------------------------------------
# The rules.


def _vehicle(book: FleetBook, vehicle_id: str) -> Vehicle | Rejection:
    found = book.vehicles.get(vehicle_id)
    if found is None:
        return reject(Reason.UNKNOWN_VEHICLE, f"no vehicle {vehicle_id}", field="vehicle_id")
    return found


def _driver(book: FleetBook, driver_id: str) -> Driver | Rejection:
    found = book.drivers.get(driver_id)
    if found is None:
        return reject(Reason.UNKNOWN_DRIVER, f"no driver {driver_id}", field="driver_id")
    return found


def _plate_taken(book: FleetBook, plate: str, other_than: str = "") -> Rejection | None:
    for vehicle in book.vehicles.values():
        if vehicle.fields.plate == plate and not vehicle.retired_at_ms and vehicle.vehicle_id != other_than:
            return reject(Reason.PLATE_TAKEN, f"plate {plate} is vehicle {vehicle.vehicle_id} already", field="plate")
    return None


def decide(book: FleetBook, command: Command, now_ms: int) -> tuple[Event, ...] | Rejection:
    match command:
        case AddVehicle(_, fields):
            taken = _plate_taken(book, fields.plate)
            if taken is not None:
                return taken
            return (VehicleAdded(Vehicle(f"V{book.vehicles_added + 1:06d}", fields, now_ms)),)
        case UpdateVehicle(_, vehicle_id, fields):
            found = _vehicle(book, vehicle_id)
            if isinstance(found, Rejection):
                return found
            taken = _plate_taken(book, fields.plate, vehicle_id)
            if taken is not None:
                return taken
            return () if found.fields == fields else (VehicleUpdated(vehicle_id, fields),)
        case RetireVehicle(_, vehicle_id):
            found = _vehicle(book, vehicle_id)
            if isinstance(found, Rejection):
                return found
            return () if found.retired_at_ms else (VehicleRetired(vehicle_id, now_ms),)
        case AddDriver(_, fields):
            return (DriverAdded(Driver(f"D{book.drivers_added + 1:06d}", fields, now_ms)),)
        case UpdateDriver(_, driver_id, fields):
            driver = _driver(book, driver_id)
            if isinstance(driver, Rejection):
                return driver
            return (DriverUpdated(driver_id, fields),)
        case RetireDriver(_, driver_id):
            driver = _driver(book, driver_id)
            if isinstance(driver, Rejection):
                return driver
            return () if driver.retired_at_ms else (DriverRetired(driver_id, now_ms),)
        case AssignCrew():
            return _assign(book, command, now_ms)
        case ReleaseCrew(_, trip_id):
            return (CrewReleased(trip_id, now_ms),) if trip_id in book.assignments else ()
    raise AssertionError(f"not a fleet command: {command!r}")


def _assign(book: FleetBook, command: AssignCrew, now_ms: int) -> tuple[Event, ...] | Rejection:
    """Report-in: every certificate valid on the travel date, enough rated seats, and neither the
    coach nor the driver on another trip whose time range overlaps this one's."""
    vehicle = _vehicle(book, command.vehicle_id)
    if isinstance(vehicle, Rejection):
        return vehicle
    driver = _driver(book, command.driver_id)
    if isinstance(driver, Rejection):
        return driver
    if vehicle.retired_at_ms:
        return reject(Reason.VEHICLE_RETIRED, f"vehicle {vehicle.vehicle_id} is retired", field="vehicle_id")
    if driver.retired_at_ms:
        return reject(Reason.DRIVER_RETIRED, f"driver {driver.driver_id} is retired", field="driver_id")
    expired = vehicle.fields.expired_on(command.travel_date)
    if expired:
        return reject(
            Reason.CERTIFICATE_EXPIRED,
            f"vehicle {vehicle.fields.plate}: its {expired} certificate has expired on the travel date "
            f"{command.travel_date}",
            certificate=expired,
            field="vehicle_id",
        )
    if driver.fields.qualification_expires < command.travel_date:
        return reject(
            Reason.QUALIFICATION_EXPIRED,
            f"driver {driver.driver_id}: the qualification certificate (从业资格证) expired on "
            f"{driver.fields.qualification_expires}, before the travel date {command.travel_date}",
            field="driver_id",
        )
    if vehicle.fields.rated_seats < command.seats_sold:
        return reject(
            Reason.TOO_FEW_RATED_SEATS,
            f"vehicle {vehicle.fields.plate} has {vehicle.fields.rated_seats} rated seats and the trip has "
            f"{command.seats_sold} seats sold",
            field="vehicle_id",
        )
    for other in book.assignments.values():
        if other.trip_id == command.trip_id or not other.overlaps(command.starts_ms, command.ends_ms):
            continue
        if other.vehicle_id == command.vehicle_id:
            return reject(
                Reason.VEHICLE_BUSY,
                f"vehicle {vehicle.fields.plate} runs trip {other.trip_id} at an overlapping time",
                trip_id=other.trip_id,
                field="vehicle_id",
            )
        if other.driver_id == command.driver_id:
            return reject(
                Reason.DRIVER_BUSY,
                f"driver {driver.driver_id} drives trip {other.trip_id} at an overlapping time",
                trip_id=other.trip_id,
                field="driver_id",
            )
    assignment = Assignment(
        command.trip_id,
        command.vehicle_id,
        vehicle.fields.plate,
        command.driver_id,
        command.travel_date,
        command.starts_ms,
        command.ends_ms,
        command.account_id,
        now_ms,
    )
    return (CrewAssigned(assignment),)


def evolve(book: FleetBook, event: Event) -> None:
    match event:
        case VehicleAdded(vehicle):
            book.vehicles[vehicle.vehicle_id] = vehicle
            book.vehicles_added += 1
        case VehicleUpdated(vehicle_id, fields):
            book.vehicles[vehicle_id] = msgspec.structs.replace(book.vehicles[vehicle_id], fields=fields)
        case VehicleRetired(vehicle_id, at_ms):
            book.vehicles[vehicle_id] = msgspec.structs.replace(book.vehicles[vehicle_id], retired_at_ms=at_ms)
        case DriverAdded(driver):
            book.drivers[driver.driver_id] = driver
            book.drivers_added += 1
        case DriverUpdated(driver_id, fields):
            book.drivers[driver_id] = msgspec.structs.replace(book.drivers[driver_id], fields=fields)
        case DriverRetired(driver_id, at_ms):
            book.drivers[driver_id] = msgspec.structs.replace(book.drivers[driver_id], retired_at_ms=at_ms)
        case CrewAssigned(assignment):
            book.assignments[assignment.trip_id] = assignment
        case CrewReleased(trip_id, _):
            del book.assignments[trip_id]


def render(book: FleetBook, command: Command, events: tuple[Event, ...]) -> Any:
    match command:
        case AddVehicle():
            return VehicleView(events[0].vehicle)  # type: ignore[attr-defined]
        case UpdateVehicle(_, vehicle_id) | RetireVehicle(_, vehicle_id):
            return VehicleView(book.vehicles[vehicle_id])
        case AddDriver():
            return DriverView(events[0].driver)  # type: ignore[attr-defined]
        case UpdateDriver(_, driver_id) | RetireDriver(_, driver_id):
            return DriverView(book.drivers[driver_id])
        case AssignCrew(_, trip_id):
            return AssignmentView(book.assignments[trip_id])
        case ReleaseCrew(_, trip_id):
            return AssignmentView(None)
    raise AssertionError(f"not a fleet command: {command!r}")


def answer(book: FleetBook, query: Query) -> Reply | Rejection:
    match query:
        case GetVehicle(vehicle_id):
            found = _vehicle(book, vehicle_id)
            return found if isinstance(found, Rejection) else VehicleView(found)
        case GetDriver(driver_id):
            driver = _driver(book, driver_id)
            return driver if isinstance(driver, Rejection) else DriverView(driver)
        case ListVehicles(offset, page_size, include_retired):
            vehicles = [v for k, v in sorted(book.vehicles.items()) if include_retired or not v.retired_at_ms]
            more = offset + page_size < len(vehicles)
            return VehiclesPage(tuple(vehicles[offset : offset + page_size]), offset + page_size if more else 0)
        case ListDrivers(offset, page_size, include_retired):
            drivers = [d for k, d in sorted(book.drivers.items()) if include_retired or not d.retired_at_ms]
            more = offset + page_size < len(drivers)
            return DriversPage(tuple(drivers[offset : offset + page_size]), offset + page_size if more else 0)
        case GetAssignment(trip_id):
            return AssignmentView(book.assignments.get(trip_id))
        case OverlappingTrips(trip_id, vehicle_id, driver_id, starts_ms, ends_ms):
            return TripIds(
                tuple(
                    sorted(
                        a.trip_id
                        for a in book.assignments.values()
                        if a.trip_id != trip_id
                        and (a.vehicle_id == vehicle_id or a.driver_id == driver_id)
                        and a.overlaps(starts_ms, ends_ms)
                    )
                )
            )
    raise AssertionError(f"not a fleet query: {query!r}")
