"""Seat allotments lent to handhelds (移动售检票): what a device may sell offline, and its settlement.

A handheld on a platform, at a roadside stop or on board sells seats to walk-in passengers where
the network may not reach.  Before it goes, its trip's owner lends it an **allotment**: specific
seats of one segment, taken from the pool like a hold that never expires, so that nobody else can
sell them.  Offline, the device sells from it (any seat of it, on any segment within it, each
seat-leg at most once) and keeps its sales in a local journal (terminals/handheld.py).  Back
online it **settles**: the owner issues a real ticket for every sale, priced by the station's fare
rules as a counter would price it (what the device charged is kept with the sale, and a difference
is reported), and gives every seat-leg it did not sell back to the pool.

The owner refuses a settle line that is not within the allotment (another seat, a wider segment)
or that sells a seat-leg a second time, and the whole settlement with it: a bad input changes
nothing.  Settling is idempotent per sale id: a sale settled once is reported again, never issued
twice; new sales on an allotment already settled are refused.
"""

from __future__ import annotations

import msgspec

from .commands import TicketRequest, TripCommand, TripQuery, _seats, _segment, _trip_id, blank, check_request_id
from .events import (
    AllotmentLent,
    AllotmentSettled,
    Holder,
    IssuedTicket,
    ScanConflicted,
    SettledSale,
    TicketsIssued,
    TripEvent,
)
from .fares import FareRules
from .policy import Policy
from .reasons import Reason, Rejection, element, first_repeat, invalid, reject
from .state import Allotment, ShardState, Trip, legs_mask
from .values import Reply, Value

MAX_SALE_LINES = 200  # a settlement's lines: a full coach sold leg by leg fits
MAX_SALE_ID_CHARS = 64
MAX_DEVICE_CHARS = 64


class LendAllotment(Value, TripCommand):
    """Lend seats of one segment to a device (its account): by seat numbers, or any `seat_count`."""

    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    device: str
    seat_numbers: tuple[str, ...] = ()
    seat_count: int = 0

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _segment(self.from_station, self.to_station)
        _seats(self.seat_numbers, self.seat_count)
        _device(self.device)


class SaleLine(Value):
    """One sale the device made from its allotment."""

    sale_id: str  # the device's own id of the sale: a settlement is idempotent by it
    seat: str
    from_station: str
    to_station: str
    charged_fen: int  # what the device charged the passenger
    sold_at_ms: int
    holder: Holder | None = None  # the walk-in passenger, sealed by the gateway
    ticket: TicketRequest = TicketRequest()


class SettleAllotment(Value, TripCommand):
    request_id: str
    trip_id: str
    allotment_id: str
    device: str
    sales: tuple[SaleLine, ...] = ()

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _allotment_id(self.trip_id, self.allotment_id)
        _device(self.device)
        if len(self.sales) > MAX_SALE_LINES:
            raise invalid("sales", f"at most {MAX_SALE_LINES} sales per settlement")
        for index, line in enumerate(self.sales):
            if not 0 < len(line.sale_id) <= MAX_SALE_ID_CHARS or not line.sale_id.isprintable():
                raise invalid(f"{element('sales', index)}.sale_id", f"1..{MAX_SALE_ID_CHARS} printable characters")
            if line.charged_fen < 0:
                raise invalid(f"{element('sales', index)}.charged_fen", "must not be negative")
            if line.from_station == line.to_station:
                raise invalid(f"{element('sales', index)}.to_station", "the sale's stops are the same")
        repeat = first_repeat(tuple(line.sale_id for line in self.sales))
        if repeat is not None:
            raise invalid(f"{element('sales', repeat)}.sale_id", "a sale id is named twice")

    def without_ciphers(self) -> SettleAllotment:
        """The settlement without its passengers' ciphers, which a retry encrypts afresh
        (commands.same_request)."""
        lines = tuple(
            msgspec.structs.replace(line, holder=blank(line.holder)) if line.holder is not None else line
            for line in self.sales
        )
        return msgspec.structs.replace(self, sales=lines)


class GetAllotment(Value, TripQuery):
    trip_id: str
    allotment_id: str
    device: str = ""  # "": whoever asks may see it (checked by the gateway); else only that device's

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)
        _allotment_id(self.trip_id, self.allotment_id)


def _device(device: str) -> None:
    if not 0 < len(device) <= MAX_DEVICE_CHARS:
        raise invalid("device", "name the device's account")


def _allotment_id(trip_id: str, allotment_id: str) -> None:
    trip_part, _, number = allotment_id.rpartition("-A")
    if trip_part != trip_id or not number.isdigit():
        raise invalid("allotment_id", f"not an allotment of trip {trip_id}")


# --- views ------------------------------------------------------------------------------------


class SegmentFare(Value):
    from_station: str
    to_station: str
    full_fen: int


class AllotmentView(Value, Reply):
    """An allotment, with what the device needs to sell from it offline: its seats, its stops and
    every segment's full fare within it, and the station's fare rules (engine.fares.FareRules)."""

    allotment_id: str
    trip_id: str
    device: str
    from_station: str
    to_station: str
    stations: tuple[str, ...]  # the stops from from_station to to_station, in order
    seats: tuple[str, ...]
    fares: tuple[SegmentFare, ...]
    fare_rules: FareRules
    lent_at_ms: int
    settled_at_ms: int
    sales: tuple[SettledSale, ...]
    rated_seats: int  # the vehicle's seats: on a small one no child fares apply


class SettledLine(Value):
    sale_id: str
    ticket_id: str
    seat: str
    from_station: str
    to_station: str
    price_fen: int  # what the ticket costs by the fare rules
    charged_fen: int  # what the device charged
    already: bool  # settled by an earlier call: nothing issued now
    document_conflict: str = ""  # the live ticket the passenger's document already held (DOCUMENT_HAS_TICKET)
    document_masked: str = ""  # the passenger's document, masked, when there is a conflict


class SettlementView(Value, Reply):
    allotment: AllotmentView
    lines: tuple[SettledLine, ...]  # the request's sales, in its order
    unused_seats: tuple[str, ...]  # seats of the allotment nobody bought any leg of
    returned: bool  # every seat-leg not sold is back in the pool


# --- decide -----------------------------------------------------------------------------------


def lend(trip: Trip, command: LendAllotment, now: int, policy: Policy) -> tuple[TripEvent, ...] | Rejection:
    from .decide import claim  # late: decide dispatches here

    claimed = claim(trip, command, now, policy)  # a segment's seats, as a hold or sale takes them
    if isinstance(claimed, Rejection):
        return claimed
    segment, seats = claimed
    allotment_id = f"{trip.spec.trip_id}-A{len(trip.allotments) + 1}"
    return (AllotmentLent(trip.spec.trip_id, allotment_id, command.device, seats, segment[0], segment[1], now),)


def _unknown(allotment_id: str) -> Rejection:
    return reject(
        Reason.UNKNOWN_ALLOTMENT, f"no allotment {allotment_id} lent to this device", allotment_id=allotment_id
    )


def settle(trip: Trip, command: SettleAllotment, now: int, policy: Policy) -> tuple[TripEvent, ...] | Rejection:
    allotment = trip.allotments.get(command.allotment_id)
    if allotment is None or allotment.device != command.device:
        return _unknown(command.allotment_id)
    settled = {sale.sale_id for sale in allotment.sales}
    new = [(index, line) for index, line in enumerate(command.sales) if line.sale_id not in settled]
    if allotment.settled_at_ms:
        if new:
            index, line = new[0]
            return reject(
                Reason.ALLOTMENT_SETTLED,
                f"allotment {allotment.allotment_id} is settled: sale {line.sale_id} comes too late to be issued "
                "from it; sell it online",
                field=f"{element('sales', index)}.sale_id",
                sale_id=line.sale_id,
            )
        return ()  # a retry: everything in it was settled before
    sold = [0] * len(trip.seat_labels)  # per seat, the legs this settlement sells
    allotted = legs_mask(allotment.from_stop, allotment.to_stop)
    sales: list[SettledSale] = []
    issued: list[TicketsIssued] = []
    conflicts: list[ScanConflicted] = []
    settling: dict[bytes, list[tuple[str, int]]] = {}  # document -> this settlement's tickets and legs
    for index, line in new:
        where = element("sales", index)
        placed = _place(trip, allotment, line, where)
        if isinstance(placed, Rejection):
            return placed
        seat, (i, j) = placed
        mask = legs_mask(i, j)
        if mask & ~allotted or seat not in allotment.seats:
            return reject(
                Reason.OUTSIDE_ALLOTMENT,
                f"{where}: seat {line.seat} from {line.from_station} to {line.to_station} is not within allotment "
                f"{allotment.allotment_id}",
                field=where,
                sale_id=line.sale_id,
            )
        if sold[seat] & mask:
            return reject(
                Reason.ALLOTMENT_OVERSOLD,
                f"{where}: seat {line.seat} is sold twice on a leg from {line.from_station} to {line.to_station}",
                field=where,
                sale_id=line.sale_id,
            )
        sold[seat] |= mask
        ticket_id = f"{trip.spec.trip_id}-{trip.tickets_issued + len(issued) + 1:04d}"
        request = line.ticket
        fare = policy.fares.fare(trip.fares[(i, j)], request.ticket_type, request.insured, request.free_child)
        other = _document_holds(trip, line.holder, mask, policy, settling)
        if line.holder is not None and line.holder.document_index:
            settling.setdefault(line.holder.document_index, []).append((ticket_id, mask))
        sales.append(SettledSale(line.sale_id, ticket_id, line.charged_fen, line.sold_at_ms, other))
        ticket = IssuedTicket(ticket_id, seat, fare.total_fen, line.holder, fare)
        issued.append(TicketsIssued(trip.spec.trip_id, "", i, j, (ticket,), now, command.device))
        if other:  # issued all the same, the sale happened; the inspectors' report says so
            conflicts.append(
                ScanConflicted(
                    trip.spec.trip_id,
                    ticket_id,
                    command.device,
                    line.sold_at_ms,
                    Reason.DOCUMENT_HAS_TICKET.name,
                    "",
                    0,
                    now,
                    other,
                )
            )
    return (AllotmentSettled(trip.spec.trip_id, allotment.allotment_id, tuple(sales), now), *issued, *conflicts)


def _document_holds(
    trip: Trip, holder: Holder | None, legs: int, policy: Policy, settling: dict[bytes, list[tuple[str, int]]]
) -> str:
    """The live ticket (or hold) the sale's document already holds, as the counter's
    one_ticket_per_document reads it (decide._document_refusal): on the whole trip, or on a segment
    sharing a leg with the sale's; "" when none or the rule is off.  The settlement's earlier lines
    count too."""
    from .decide import _live  # late: decide dispatches here

    rule = policy.fares.one_ticket_per_document
    if holder is None or not holder.document_index or rule == "off":
        return ""
    mask = legs if rule == "overlapping" else -1  # -1: every leg of the trip
    for owner_id, held in trip.documents.get(holder.document_index, {}).items():
        if held & mask and _live(trip, owner_id):
            return owner_id
    for ticket_id, held in settling.get(holder.document_index, []):
        if held & mask:
            return ticket_id
    return ""


def _place(trip: Trip, allotment: Allotment, line: SaleLine, where: str) -> tuple[int, tuple[int, int]] | Rejection:
    """The seat and segment a sale line names, or why it names none of this trip's."""
    seat = trip.seat_index.get(line.seat)
    i, j = trip.stop_index.get(line.from_station), trip.stop_index.get(line.to_station)
    if seat is None or i is None or j is None or i >= j:
        return reject(
            Reason.OUTSIDE_ALLOTMENT,
            f"{where}: seat {line.seat} from {line.from_station} to {line.to_station} is no seat and segment of "
            f"trip {trip.spec.trip_id}",
            field=where,
            sale_id=line.sale_id,
        )
    return seat, (i, j)


def decide_handheld(trip: Trip, command: TripCommand, now: int, policy: Policy) -> tuple[TripEvent, ...] | Rejection:
    if isinstance(command, LendAllotment):
        return lend(trip, command, now, policy)
    if isinstance(command, SettleAllotment):
        return settle(trip, command, now, policy)
    raise AssertionError(f"unknown command {command!r}")


# --- render -----------------------------------------------------------------------------------


def allotment_view(trip: Trip, allotment: Allotment, policy: Policy) -> AllotmentView:
    codes = tuple(stop.code for stop in trip.spec.stops)
    i, j = allotment.from_stop, allotment.to_stop
    fares = tuple(
        SegmentFare(codes[a], codes[b], trip.fares[(a, b)])
        for a in range(i, j)
        for b in range(a + 1, j + 1)
        if (a, b) in trip.fares
    )
    return AllotmentView(
        allotment.allotment_id,
        trip.spec.trip_id,
        allotment.device,
        codes[i],
        codes[j],
        codes[i : j + 1],
        tuple(trip.seat_labels[seat] for seat in allotment.seats),
        fares,
        policy.fares,
        allotment.lent_at_ms,
        allotment.settled_at_ms,
        allotment.sales,
        len(trip.seat_labels),
    )


def render_handheld(state: ShardState, command: TripCommand, events: tuple[TripEvent, ...], policy: Policy) -> Reply:
    trip = state.trips[command.trip_id]
    if isinstance(command, LendAllotment):
        (lent,) = events
        assert isinstance(lent, AllotmentLent)
        return allotment_view(trip, trip.allotments[lent.allotment_id], policy)
    assert isinstance(command, SettleAllotment)
    allotment = trip.allotments[command.allotment_id]
    now_settled = {sale.sale_id for event in events if isinstance(event, AllotmentSettled) for sale in event.sales}
    by_id = {sale.sale_id: sale for sale in allotment.sales}
    codes = tuple(stop.code for stop in trip.spec.stops)
    lines = []
    for line in command.sales:
        sale = by_id[line.sale_id]
        ticket = trip.tickets[sale.ticket_id]
        masked = line.holder.document_masked if sale.document_conflict and line.holder is not None else ""
        lines.append(
            SettledLine(
                sale.sale_id,
                sale.ticket_id,
                trip.seat_labels[ticket.seat],
                codes[ticket.from_stop],
                codes[ticket.to_stop],
                ticket.price_fen,
                sale.charged_fen,
                sale.sale_id not in now_settled,
                sale.document_conflict,
                masked,
            )
        )
    used = {trip.tickets[sale.ticket_id].seat for sale in allotment.sales}
    unused = tuple(trip.seat_labels[seat] for seat in allotment.seats if seat not in used)
    return SettlementView(allotment_view(trip, allotment, policy), tuple(lines), unused, bool(allotment.settled_at_ms))


def answer_handheld(trip: Trip, query: GetAllotment, policy: Policy) -> Reply | Rejection:
    allotment = trip.allotments.get(query.allotment_id)
    if allotment is None or (query.device and allotment.device != query.device):
        return _unknown(query.allotment_id)
    return allotment_view(trip, allotment, policy)
