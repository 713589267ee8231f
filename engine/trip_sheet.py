"""The trip sheet (路单): what departure records, and the sheet's numbers (docs/dispatch.md).

Departure (engine.commands.DepartTrip) records, with the time, the crew on board besides the
driver and a note; the coach and driver are the trip's report-in (engine/crew.py).  The sheet's
numbers are computed here from the same tickets as the manifest (engine.views.ManifestView), so
its totals are the manifest's: every ticket issued on the trip is counted once, as riding (sold:
issued or checked in) or not (refunded, changed to another trip, void).
"""

from __future__ import annotations

from .events import StaffOnBoard
from .identity import mask_name
from .reasons import invalid
from .state import TicketStatus
from .values import Value
from .views import ManifestView, StopView, TicketView, TripView

STAFF_ROLES = frozenset({"conductor", "attendant", "security", "relief_driver", "other"})
MAX_STAFF = 8
MAX_NAME_CHARS = 40
MAX_NOTE_CHARS = 200
SHEET_PREFIX = "LD-"


def _printable(text: str) -> bool:
    return not any(ord(c) < 32 or ord(c) == 127 for c in text)


def staff_on_board(people: list[tuple[str, str]]) -> tuple[StaffOnBoard, ...]:
    """The crew as departure records them, from (name, role) as asked: names checked and masked
    here, so the trip's log never holds a full name.  Raises Rejected naming the bad field."""
    if len(people) > MAX_STAFF:
        raise invalid("staff", f"at most {MAX_STAFF} people besides the driver")
    staff = []
    for k, (name, role) in enumerate(people):
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or not _printable(name):
            raise invalid(f"staff[{k}].name", f"1 to {MAX_NAME_CHARS} printable characters")
        if role not in STAFF_ROLES:
            raise invalid(f"staff[{k}].role", f"one of {', '.join(sorted(STAFF_ROLES))}")
        staff.append(StaffOnBoard(mask_name(name), role))
    return tuple(staff)


def check_departure(staff: tuple[StaffOnBoard, ...], note: str) -> None:
    """DepartTrip's own checks (its names are masked already)."""
    if len(staff) > MAX_STAFF:
        raise invalid("staff", f"at most {MAX_STAFF} people besides the driver")
    for k, person in enumerate(staff):
        if not person.name or len(person.name) > MAX_NAME_CHARS or not _printable(person.name):
            raise invalid(f"staff[{k}].name", f"1 to {MAX_NAME_CHARS} printable characters")
        if person.role not in STAFF_ROLES:
            raise invalid(f"staff[{k}].role", f"one of {', '.join(sorted(STAFF_ROLES))}")
    if len(note) > MAX_NOTE_CHARS or not _printable(note):
        raise invalid("note", f"at most {MAX_NOTE_CHARS} printable characters")


class SheetCounts(Value):
    """Tickets, free children and revenue (fen, by fare component) of a group of tickets."""

    tickets_sold: int = 0  # riding: issued or checked in
    checked_in: int = 0
    free_children: int = 0
    base_fen: int = 0
    service_fee_fen: int = 0
    fuel_surcharge_fen: int = 0
    insurance_fen: int = 0
    refunded: int = 0
    changed: int = 0
    void: int = 0

    @property
    def no_shows(self) -> int:
        return self.tickets_sold - self.checked_in

    @property
    def total_fen(self) -> int:
        return self.base_fen + self.service_fee_fen + self.fuel_surcharge_fen + self.insurance_fen

    @property
    def issued(self) -> int:
        """Every ticket counted, riding or not: the manifest's tickets_issued."""
        return self.tickets_sold + self.refunded + self.changed + self.void


def add_ticket(counts: SheetCounts, ticket: TicketView) -> SheetCounts:
    """`counts` with one more ticket."""
    status = ticket.status
    if status is TicketStatus.REFUNDED:
        return _plus(counts, refunded=1)
    if status is TicketStatus.CHANGED:
        return _plus(counts, changed=1)
    if status is TicketStatus.VOID:
        return _plus(counts, void=1)
    fare = ticket.fare
    return _plus(
        counts,
        tickets_sold=1,
        checked_in=int(status is TicketStatus.CHECKED_IN),
        free_children=int(fare is not None and fare.free_child is not None),
        # A ticket sold before ticket types existed has no fare: a full fare of its price.
        base_fen=fare.base_fen if fare is not None else ticket.price_fen,
        service_fee_fen=fare.service_fee_fen if fare is not None else 0,
        fuel_surcharge_fen=fare.fuel_surcharge_fen if fare is not None else 0,
        insurance_fen=fare.insurance_fen if fare is not None else 0,
    )


def _plus(counts: SheetCounts, **more: int) -> SheetCounts:
    fields = {name: getattr(counts, name) for name in counts.__struct_fields__}
    for name, value in more.items():
        fields[name] += value
    return SheetCounts(**fields)


class SegmentSheet(Value):
    from_stop: StopView
    to_stop: StopView
    counts: SheetCounts


class BoardingSheet(Value):
    stop: StopView
    passengers: int  # sold tickets boarding here
    checked_in: int
    free_children: int


class TripSheet(Value):
    sheet_number: str
    trip: TripView
    segments: tuple[SegmentSheet, ...]  # with tickets, in stop order
    boardings: tuple[BoardingSheet, ...]  # stops where sold tickets board, in stop order
    totals: SheetCounts
    departed_at_ms: int  # 0: not departed
    staff: tuple[StaffOnBoard, ...]  # on board besides the driver, names masked
    note: str


def sheet_number(trip_id: str) -> str:
    """路单号: one per trip, the same every time it is made."""
    return SHEET_PREFIX + trip_id


def trip_sheet(manifest: ManifestView) -> TripSheet:
    """The sheet of a trip from its manifest (every ticket issued on it)."""
    trip = manifest.trip
    order = {stop.code: k for k, stop in enumerate(trip.stops)}
    by_segment: dict[tuple[int, int], SheetCounts] = {}
    totals = SheetCounts()
    for ticket in manifest.tickets:
        key = (order[ticket.from_stop.code], order[ticket.to_stop.code])
        by_segment[key] = add_ticket(by_segment.get(key, SheetCounts()), ticket)
        totals = add_ticket(totals, ticket)
    segments = tuple(
        SegmentSheet(trip.stops[i], trip.stops[j], counts) for (i, j), counts in sorted(by_segment.items())
    )
    return TripSheet(
        sheet_number(trip.trip_id),
        trip,
        segments,
        _boardings(trip, segments),
        totals,
        manifest.departed_at_ms,
        manifest.staff,
        manifest.departure_note,
    )


def _boardings(trip: TripView, segments: tuple[SegmentSheet, ...]) -> tuple[BoardingSheet, ...]:
    boardings = []
    for stop in trip.stops:
        here = [s.counts for s in segments if s.from_stop.code == stop.code]
        passengers = sum(c.tickets_sold for c in here)
        if passengers:
            checked_in = sum(c.checked_in for c in here)
            boardings.append(BoardingSheet(stop, passengers, checked_in, sum(c.free_children for c in here)))
    return tuple(boardings)
