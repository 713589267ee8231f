"""decide(state, command, now, policy) -> events | Rejection.  Reads state, never changes it."""

from __future__ import annotations

from enum import Enum
from heapq import heappop as _heappop, heappush as _heappush

from .commands import (
    CancelTrip,
    CheckIn,
    Command,
    ConfirmHold,
    DepartTrip,
    PlaceHold,
    Refund,
    ReleaseHold,
    ScheduleTrip,
    Sell,
    SweepHolds,
)
from .events import (
    Event,
    Holder,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    IssuedTicket,
    TicketCheckedIn,
    TicketRefunded,
    TicketsIssued,
    TripCancelled,
    TripDeparted,
    TripScheduled,
)
from .policy import Policy
from .reasons import Reason, Rejection, reject
from .seats import choose_seats
from .state import ShardState, TicketStatus, Trip, legs_mask, seats_free

Outcome = tuple[Event, ...] | Rejection

# The sweep walks the expiry index in order; entries of holds already confirmed or released are
# skipped, and this bounds how many it may look at in one go.
MAX_SWEEP_VISITS = 4096


class TripStatus(Enum):
    ON_SALE = "on_sale"
    CHECKING_IN = "checking_in"
    DEPARTED = "departed"
    CANCELLED = "cancelled"


def segment_status(trip: Trip, from_stop: int, now: int, policy: Policy) -> TripStatus:
    """The trip as seen by passengers boarding at `from_stop`.

    Dispatch marks departure from the first stop only; at later stops the coach counts as gone once
    boarding there has closed by the clock.
    """
    departs = trip.departs_at_ms(from_stop)
    if trip.cancelled_at_ms:
        return TripStatus.CANCELLED
    if (from_stop == 0 and trip.departed_at_ms) or now > departs + policy.boarding_closes_ms:
        return TripStatus.DEPARTED
    if now >= departs - policy.boarding_opens_ms:
        return TripStatus.CHECKING_IN
    return TripStatus.ON_SALE


def find_trip(state: ShardState, trip_id: str) -> Trip | Rejection:
    trip = state.trips.get(trip_id)
    return trip if trip is not None else reject(Reason.UNKNOWN_TRIP, f"no trip {trip_id}", trip_id=trip_id)


def find_segment(trip: Trip, from_station: str, to_station: str) -> tuple[int, int] | Rejection:
    i, j = trip.stop_index.get(from_station), trip.stop_index.get(to_station)
    if i is None or j is None or i >= j:
        stops = "→".join(stop.code for stop in trip.spec.stops)
        return reject(Reason.BAD_SEGMENT, f"{from_station}→{to_station} is not a segment of {stops}", field="to_station")
    return i, j


def decide(state: ShardState, command: Command, now: int, policy: Policy) -> Outcome:
    match command:
        case ScheduleTrip():
            return _schedule(state, command)
        case SweepHolds(limit):
            return _sweep(state, now, limit)
    trip = find_trip(state, command.trip_id)
    if isinstance(trip, Rejection):
        return trip
    match command:
        case PlaceHold():
            return _place_hold(trip, command, now, policy)
        case Sell():
            return _sell(trip, command, now, policy)
        case ConfirmHold():
            return _confirm(trip, command, now, policy)
        case ReleaseHold():
            hold = _live_hold(trip, command.hold_id, now)
            if not isinstance(hold, Rejection) and command.buyer and hold.buyer != command.buyer:
                hold = reject(Reason.UNKNOWN_HOLD, f"no hold {command.hold_id}", hold_id=command.hold_id)  # someone else's: not theirs to see
            return hold if isinstance(hold, Rejection) else (HoldReleased(trip.spec.trip_id, hold.hold_id),)
        case Refund():
            return _refund(trip, command, now, policy)
        case CheckIn():
            return _check_in(trip, command, now, policy)
        case DepartTrip():
            return _depart(trip, now, policy)
        case CancelTrip():
            return _cancel(trip, now, policy)
    raise AssertionError(f"unknown command {command!r}")


def _schedule(state: ShardState, command: ScheduleTrip) -> Outcome:
    existing = state.trips.get(command.spec.trip_id)
    if existing is None:
        return (TripScheduled(command.spec),)
    if existing.spec == command.spec:
        return ()
    return reject(Reason.TRIP_CONFLICT, f"trip {command.spec.trip_id} exists with a different definition", trip_id=command.spec.trip_id)


def _sales_open(trip: Trip, from_stop: int, now: int, policy: Policy) -> Rejection | None:
    status = segment_status(trip, from_stop, now, policy)
    if status is TripStatus.CANCELLED:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if status is TripStatus.DEPARTED or now >= trip.departs_at_ms(from_stop) - policy.sales_close_ms:
        return reject(Reason.SALES_CLOSED, f"sales for trip {trip.spec.trip_id} from {trip.spec.stops[from_stop].code} have closed")
    return None


def _pick_seats(trip: Trip, segment: tuple[int, int], seat_numbers: tuple[str, ...], seat_count: int) -> tuple[int, ...] | Rejection:
    mask = legs_mask(*segment)
    if not seat_numbers:
        seats = choose_seats(trip, mask, seat_count)
        if seats is None:
            free = seats_free(trip, mask)
            return reject(Reason.NOT_ENOUGH_SEATS, f"only {free} seats free on this segment", seats_free=free)
        return seats
    seats = []
    for label in seat_numbers:
        seat = trip.seat_index.get(label)
        if seat is None:
            return reject(Reason.UNKNOWN_SEAT, f"no seat {label} on this coach", field="seat_numbers", seat=label)
        if trip.occupied[seat] & mask:
            return reject(Reason.SEAT_TAKEN, f"seat {label} is taken on this segment", seat=label)
        seats.append(seat)
    return tuple(seats)


def _claim(trip: Trip, command: PlaceHold | Sell, now: int, policy: Policy) -> tuple[tuple[int, int], tuple[int, ...]] | Rejection:
    """The segment and seats a hold or sale would take, or why it cannot."""
    segment = find_segment(trip, command.from_station, command.to_station)
    if isinstance(segment, Rejection):
        return segment
    closed = _sales_open(trip, segment[0], now, policy)
    if closed is not None:
        return closed
    seats = _pick_seats(trip, segment, command.seat_numbers, command.seat_count)
    return seats if isinstance(seats, Rejection) else (segment, seats)


def _place_hold(trip: Trip, command: PlaceHold, now: int, policy: Policy) -> Outcome:
    claim = _claim(trip, command, now, policy)
    if isinstance(claim, Rejection):
        return claim
    (i, j), seats = claim
    hold_id = f"{trip.spec.trip_id}-H{trip.holds_placed + 1}"
    ttl_ms = command.ttl_ms or policy.hold_ttl_ms
    return (HoldPlaced(trip.spec.trip_id, hold_id, seats, i, j, trip.fares[(i, j)], now + ttl_ms, command.buyer, command.holders),)


def _tickets(trip: Trip, seats: tuple[int, ...], fare_fen: int, holders: tuple[Holder, ...] = ()) -> tuple[IssuedTicket, ...]:
    first = trip.tickets_issued + 1
    named = holders or (None,) * len(seats)
    return tuple(IssuedTicket(f"{trip.spec.trip_id}-{first + k:04d}", seat, fare_fen, holder) for k, (seat, holder) in enumerate(zip(seats, named, strict=True)))


def _sell(trip: Trip, command: Sell, now: int, policy: Policy) -> Outcome:
    claim = _claim(trip, command, now, policy)
    if isinstance(claim, Rejection):
        return claim
    (i, j), seats = claim
    return (TicketsIssued(trip.spec.trip_id, "", i, j, _tickets(trip, seats, trip.fares[(i, j)], command.holders), now, command.buyer),)


def _live_hold(trip: Trip, hold_id: str, now: int):
    hold = trip.holds.get(hold_id)
    if hold is None:
        expired_at_ms = trip.expired_holds.get(hold_id)
        if expired_at_ms is not None:
            return reject(Reason.HOLD_EXPIRED, f"hold {hold_id} expired", hold_id=hold_id, expired_at_ms=expired_at_ms)
        number = int(hold_id.rpartition("-H")[2])
        if number <= trip.holds_placed:
            return reject(Reason.HOLD_CLOSED, f"hold {hold_id} was already confirmed or released", hold_id=hold_id)
        return reject(Reason.UNKNOWN_HOLD, f"no hold {hold_id}", hold_id=hold_id)
    if now >= hold.expires_at_ms:
        return reject(Reason.HOLD_EXPIRED, f"hold {hold_id} expired", hold_id=hold_id, expired_at_ms=hold.expires_at_ms)
    return hold


def _confirm(trip: Trip, command: ConfirmHold, now: int, policy: Policy) -> Outcome:
    hold = _live_hold(trip, command.hold_id, now)
    if isinstance(hold, Rejection):
        return hold
    closed = _sales_open(trip, hold.from_stop, now, policy)
    if closed is not None:
        return closed
    tickets = _tickets(trip, hold.seats, hold.fare_fen, hold.holders)
    return (TicketsIssued(trip.spec.trip_id, hold.hold_id, hold.from_stop, hold.to_stop, tickets, now, hold.buyer),)


def _refund(trip: Trip, command: Refund, now: int, policy: Policy) -> Outcome:
    ticket = trip.tickets.get(command.ticket_id)
    if ticket is None:
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {command.ticket_id}", ticket_id=command.ticket_id)
    if ticket.status is TicketStatus.REFUNDED:
        return reject(Reason.ALREADY_REFUNDED, f"ticket {ticket.ticket_id} was refunded", refunded_at_ms=ticket.refunded_at_ms)
    if trip.cancelled_at_ms:
        fee = 0  # the station cancelled: every passenger gets everything back, boarded or not
    elif ticket.status is TicketStatus.CHECKED_IN:
        return reject(Reason.TICKET_CHECKED_IN, f"ticket {ticket.ticket_id} has boarded and cannot be refunded")
    elif segment_status(trip, ticket.from_stop, now, policy) is TripStatus.DEPARTED:
        fee = None
    else:
        fee = policy.refund_fee_fen(ticket.price_fen, trip.departs_at_ms(ticket.from_stop) - now)
    if fee is None:
        return reject(Reason.REFUND_NOT_ALLOWED, "no refunds once the coach has left")
    return (TicketRefunded(trip.spec.trip_id, ticket.ticket_id, fee, ticket.price_fen - fee, now),)


def _check_in(trip: Trip, command: CheckIn, now: int, policy: Policy) -> Outcome:
    ticket = trip.tickets.get(command.ticket_id)
    if ticket is None:
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {command.ticket_id}", ticket_id=command.ticket_id)
    if ticket.status is TicketStatus.REFUNDED:
        return reject(Reason.ALREADY_REFUNDED, f"ticket {ticket.ticket_id} was refunded", refunded_at_ms=ticket.refunded_at_ms)
    if ticket.status is TicketStatus.CHECKED_IN:
        return reject(
            Reason.ALREADY_CHECKED_IN,
            f"ticket {ticket.ticket_id} already checked in at gate {ticket.gate_id}",
            checked_in_at_ms=ticket.checked_in_at_ms,
            gate_id=ticket.gate_id,
        )
    status = segment_status(trip, ticket.from_stop, now, policy)
    if status is TripStatus.CANCELLED:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if status is TripStatus.DEPARTED:
        return reject(Reason.BOARDING_CLOSED, f"boarding for trip {trip.spec.trip_id} has closed")
    if status is TripStatus.ON_SALE:
        opens = trip.departs_at_ms(ticket.from_stop) - policy.boarding_opens_ms
        return reject(Reason.NOT_YET_BOARDING, "boarding has not opened yet", boarding_opens_at_ms=opens)
    return (TicketCheckedIn(trip.spec.trip_id, ticket.ticket_id, command.gate_id, now),)


def _depart(trip: Trip, now: int, policy: Policy) -> Outcome:
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if segment_status(trip, 0, now, policy) is TripStatus.ON_SALE:
        opens = trip.departs_at_ms(0) - policy.boarding_opens_ms
        return reject(Reason.NOT_YET_BOARDING, "a coach cannot leave before boarding has opened", boarding_opens_at_ms=opens)
    return () if trip.departed_at_ms else (TripDeparted(trip.spec.trip_id, now),)


def _cancel(trip: Trip, now: int, policy: Policy) -> Outcome:
    if trip.departed_at_ms or segment_status(trip, 0, now, policy) is TripStatus.DEPARTED:
        return reject(Reason.TRIP_DEPARTED, f"trip {trip.spec.trip_id} has left and cannot be cancelled")
    return () if trip.cancelled_at_ms else (TripCancelled(trip.spec.trip_id, now),)


def _sweep(state: ShardState, now: int, limit: int) -> Outcome:
    """Expire holds whose time is up, earliest first, walking the expiry heap without popping it."""
    heap, events = state.expiry, []
    frontier = [(heap[0], 0)] if heap else []
    visits = 0
    while frontier and len(events) < limit and visits < MAX_SWEEP_VISITS:
        (expires_at_ms, trip_id, hold_id), position = _heappop(frontier)
        if expires_at_ms > now:
            break
        visits += 1
        hold = state.trips[trip_id].holds.get(hold_id)
        if hold is not None and hold.expires_at_ms == expires_at_ms:
            events.append(HoldExpired(trip_id, hold_id))
        for child in (2 * position + 1, 2 * position + 2):
            if child < len(heap):
                _heappush(frontier, (heap[child], child))
    return tuple(events)

