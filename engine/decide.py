"""decide(state, command, now, policy) -> events | Rejection.  Reads state, never changes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from heapq import heappop as _heappop
from heapq import heappush as _heappush
from typing import Any, Protocol, cast

import msgspec

from . import quotas
from .commands import (
    AbortChange,
    ArchiveTrips,
    AssignGate,
    BeginChange,
    CancelOrder,
    CancelTrip,
    ChangeTicket,
    CheckIn,
    ClearChange,
    ConfirmHold,
    CreateOrder,
    DelayTrip,
    DepartTrip,
    PickUpTickets,
    PlaceHold,
    QuoteHold,
    RecordPayment,
    Refund,
    RefundOrder,
    ReleaseHold,
    ScheduleTrip,
    Sell,
    SettleMove,
    SettleRefund,
    SweepHolds,
    TicketRequest,
    TripCommand,
    UndoMove,
    VoidTicket,
)
from .counter_sales import VoidSale, void_sale
from .crew import CrewRecorded, RecordCrew, RecordSafetyCheck, SafetyChecked
from .events import (
    ChangeAborted,
    ChangeBegun,
    ChangeCleared,
    Fare,
    GateAssigned,
    Holder,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    IssuedTicket,
    MoveSettled,
    MoveUndone,
    OrderCancelled,
    OrderCreated,
    OrderExpired,
    OrderTicketed,
    Payment,
    PaymentRecorded,
    RefundPart,
    RefundRequested,
    RefundSettled,
    ScanConflicted,
    TicketChanged,
    TicketCheckedIn,
    TicketRefunded,
    TicketsIssued,
    TicketVoided,
    TripArchived,
    TripCancelled,
    TripDelayed,
    TripDeparted,
    TripEvent,
    TripScheduled,
)
from .fares import CHILD_TYPES, ONLY_FULL, TicketType, free_child_limit
from .network import TripSpec, flow_coach
from .policy import Policy
from .reasons import Reason, Rejection, element, reject
from .seats import choose_seats
from .state import (
    RELEASED,
    Hold,
    Move,
    Order,
    OrderStatus,
    ShardState,
    Ticket,
    TicketStatus,
    Trip,
    legs_mask,
    seats_free,
)

Outcome = tuple[TripEvent, ...] | Rejection

# The sweep walks the expiry index in order; entries of holds already confirmed or released are
# skipped, and this bounds how many it may look at in one go.
MAX_SWEEP_VISITS = 4096
# An uploaded offline scan may carry a time a little ahead of the server's (the lane's clock).
SCAN_CLOCK_SKEW_MS = 60_000
# The same for archiving, whose walk passes trips kept back (a refund still owed) every batch.
MAX_ARCHIVE_VISITS = 256


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
    if trip.spec.flow_max_wait_min:
        # A departure-when-full coach (流水班) boards as it sells, and is gone from every stop once
        # dispatch departs it: it keeps no timetable to tell a later stop's time by.
        return TripStatus.DEPARTED if trip.departed_at_ms else TripStatus.CHECKING_IN
    if now >= departs - policy.boarding_opens_ms:
        return TripStatus.CHECKING_IN
    return TripStatus.ON_SALE


def find_trip(state: ShardState, trip_id: str) -> Trip | Rejection:
    trip = state.trips.get(trip_id)
    if trip is not None:
        return trip
    return (
        archived(trip_id)
        if trip_id in state.archived
        else reject(Reason.UNKNOWN_TRIP, f"no trip {trip_id}", trip_id=trip_id)
    )


def archived(trip_id: str) -> Rejection:
    return reject(
        Reason.TRIP_ARCHIVED,
        f"trip {trip_id} ran long ago and was archived: its records are read with keyun archive",
        trip_id=trip_id,
    )


def find_segment(trip: Trip, from_station: str, to_station: str) -> tuple[int, int] | Rejection:
    i, j = trip.stop_index.get(from_station), trip.stop_index.get(to_station)
    if i is None or j is None or i >= j:
        stops = "→".join(stop.code for stop in trip.spec.stops)
        return reject(
            Reason.BAD_SEGMENT, f"{from_station}→{to_station} is not a segment of {stops}", field="to_station"
        )
    return i, j


def decide(state: ShardState, command: TripCommand, now: int, policy: Policy) -> Outcome:
    sale = _SALES.get(type(command))  # the commands of every sale, without walking the cases below
    if sale is not None:
        trip = state.trips.get(command.trip_id)
        if trip is not None:  # else find_trip below says why
            return sale(trip, command, now, policy)
    schedules = _SCHEDULES.get(type(command))
    if schedules is not None:
        return schedules(state, command, now, policy)
    match command:
        case ScheduleTrip():
            return _schedule(state, command)
        case SweepHolds(limit):
            return _sweep(state, now, limit)
        case ArchiveTrips(limit):
            return _archive_due(state, now, policy, limit)
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
            if not isinstance(hold, Rejection) and hold.hold_id in trip.order_of_hold:
                hold = _has_order(trip, hold.hold_id)
            elif not isinstance(hold, Rejection) and command.buyer and hold.buyer != command.buyer:
                hold = reject(
                    Reason.UNKNOWN_HOLD, f"no hold {command.hold_id}", hold_id=command.hold_id
                )  # someone else's: not theirs to see
            return hold if isinstance(hold, Rejection) else (HoldReleased(trip.spec.trip_id, hold.hold_id),)
        case Refund():
            return _refund(trip, command, now, policy)
        case CheckIn():
            return _check_in(trip, command, now, policy)
        case DepartTrip():
            return _depart(trip, command, now, policy)
        case CancelTrip():
            if command.only_unsold and not untouched(trip):
                return reject(
                    Reason.TRIP_HAS_SALES,
                    f"trip {trip.spec.trip_id} has sales and is not retired",
                    trip_id=trip.spec.trip_id,
                )
            return _cancel(trip, now, policy, command.missed)
        case DelayTrip():
            return _delay(trip, command, now, policy)
        case AssignGate():
            return _assign_gate(trip, command, now, policy)
        case CreateOrder():
            return _create_order(trip, command, now)
        case RecordPayment():
            return _record_payment(trip, command, now, policy)
        case CancelOrder():
            return _cancel_order(trip, command, now)
        case RefundOrder():
            return _refund_order(trip, command, now, policy)
        case SettleRefund():
            return _settle_refund(trip, command, now)
        case ChangeTicket():
            return _change_ticket(trip, command, now, policy)
        case VoidTicket():
            return _void_ticket(trip, command, now)
        case VoidSale():
            return void_sale(trip, command, now, policy)
        case BeginChange():
            return _begin_change(trip, command, now, policy)
        case AbortChange():
            return _abort_change(trip, command, now)
        case UndoMove():
            return _undo_move(trip, command, now)
        case ClearChange():
            return _clear_change(trip, command, now)
        case SettleMove():
            return _settle_move(trip, command, now)
        case RecordCrew():
            return _record_crew(trip, command, now)
        case RecordSafetyCheck():
            return _record_safety_check(trip, command, now)
        case PickUpTickets():
            from .pickup import pick_up  # late: the pick-up's rules build on this module's

            return pick_up(trip, command, now, policy)
    from .seat_plan import decide_plan  # late: the seat plan's rules build on this module's

    planned = decide_plan(trip, command, now, policy)
    if planned is not None:
        return planned
    from .handheld import decide_handheld  # late: the handheld's rules build on this module's

    return decide_handheld(trip, command, now, policy)


def _schedule(state: ShardState, command: ScheduleTrip) -> Outcome:
    if command.spec.trip_id in state.archived:
        return archived(command.spec.trip_id)  # its ticket numbers would start again
    existing = state.trips.get(command.spec.trip_id)
    if existing is None:
        return (TripScheduled(command.spec),)
    if existing.spec == command.spec or _same_but_distances(existing.spec, command.spec):
        return ()
    if command.replace_unsold:
        if untouched(existing):
            return (TripScheduled(command.spec),)  # evolve starts the trip afresh, on the new terms
        return reject(
            Reason.TRIP_HAS_SALES,
            f"trip {command.spec.trip_id} has sales (or was cancelled, delayed or departed) and keeps its terms",
            trip_id=command.spec.trip_id,
        )
    return reject(
        Reason.TRIP_CONFLICT,
        f"trip {command.spec.trip_id} exists with a different definition",
        trip_id=command.spec.trip_id,
    )


def _same_but_distances(existing: TripSpec, loaded: TripSpec) -> bool:
    """A trip scheduled before specs carried stop distances, loaded again from the same network
    file: the same trip (its distances stay unknown), not a conflict."""
    return not existing.stop_km and existing == msgspec.structs.replace(loaded, stop_km=())


def untouched(trip: Trip) -> bool:
    """Nothing was ever sold, held, ordered or done on the trip: a new definition may replace it."""
    return not (
        trip.tickets
        or trip.holds
        or trip.orders
        or trip.holds_placed
        or trip.tickets_issued
        or trip.cancelled_at_ms
        or trip.departed_at_ms
        or trip.delay_ms
        or trip.gate != trip.spec.gate  # a gate dispatch named, not the timetable's
        or trip.quotas
        or trip.blocked
    )


def _sales_open(trip: Trip, from_stop: int, now: int, policy: Policy) -> Rejection | None:
    # segment_status's CANCELLED and DEPARTED written out, so that every hold, sale and confirm
    # works out the departure time once.
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    departs = trip.departs_at_ms(from_stop)
    departed = ((from_stop == 0 or trip.spec.flow_max_wait_min) and trip.departed_at_ms) or (
        now > departs + policy.boarding_closes_ms
    )
    if departed or now >= departs - policy.sales_close_ms:
        return reject(
            Reason.SALES_CLOSED,
            f"sales for trip {trip.spec.trip_id} from {trip.spec.stops[from_stop].code} have closed",
        )
    return None


def _pick_seats(
    trip: Trip, segment: tuple[int, int], seat_numbers: tuple[str, ...], seat_count: int, now: int = 0
) -> tuple[int, ...] | Rejection:
    mask = legs_mask(*segment)
    if trip.quotas or trip.blocked:  # dispatch keeps or blocks seats (engine/quotas.py)
        return _pick_planned_seats(trip, segment, seat_numbers, seat_count, now)
    if not seat_numbers:
        seats = choose_seats(trip, mask, seat_count)
        if seats is None:
            free = seats_free(trip, mask)
            return reject(Reason.NOT_ENOUGH_SEATS, f"only {free} seats free on this segment", seats_free=free)
        return seats
    chosen: list[int] = []
    for index, label in enumerate(seat_numbers):
        seat = trip.seat_index.get(label)
        if seat is None:
            return reject(
                Reason.UNKNOWN_SEAT, f"no seat {label} on this coach", field=element("seat_numbers", index), seat=label
            )
        if trip.occupied[seat] & mask:
            return reject(Reason.SEAT_TAKEN, f"seat {label} is taken on this segment", seat=label)
        chosen.append(seat)
    return tuple(chosen)


def _pick_planned_seats(
    trip: Trip, segment: tuple[int, int], seat_numbers: tuple[str, ...], seat_count: int, now: int
) -> tuple[int, ...] | Rejection:
    """_pick_seats on a trip with quotas or blocked seats: a quota serving the boarding stop gives
    its seats first; seats kept for another stop and blocked seats are refused by name."""
    mask = legs_mask(*segment)
    if not seat_numbers:
        seats = quotas.quota_seats_first(trip, segment[0], mask, seat_count, now)
        if seats is None:
            free = quotas.free_for(trip, *segment, now)
            return reject(Reason.NOT_ENOUGH_SEATS, f"only {free} seats free on this segment", seats_free=free)
        return seats
    bars = quotas.barred(trip, segment[0], now)
    chosen: list[int] = []
    for index, label in enumerate(seat_numbers):
        seat = trip.seat_index.get(label)
        if seat is None:
            return reject(
                Reason.UNKNOWN_SEAT, f"no seat {label} on this coach", field=element("seat_numbers", index), seat=label
            )
        if seat in trip.blocked:
            return reject(Reason.SEAT_BLOCKED, f"seat {label} is blocked ({trip.blocked[seat]})", seat=label)
        if bars.get(seat, 0) & mask:
            stop = next(q.stop for q in trip.quotas.values() if seat in q.seats)
            return reject(
                Reason.SEAT_RESERVED,
                f"seat {label} is kept for passengers boarding at {trip.spec.stops[stop].code}",
                seat=label,
                stop=trip.spec.stops[stop].code,
            )
        if trip.occupied[seat] & mask:
            return reject(Reason.SEAT_TAKEN, f"seat {label} is taken on this segment", seat=label)
        chosen.append(seat)
    return tuple(chosen)


class SeatClaim(Protocol):
    """What a hold, a sale and a handheld's allotment ask for: seats of one segment, named or any."""

    @property
    def from_station(self) -> str: ...

    @property
    def to_station(self) -> str: ...

    @property
    def seat_numbers(self) -> tuple[str, ...]: ...

    @property
    def seat_count(self) -> int: ...


def claim(
    trip: Trip, command: SeatClaim, now: int, policy: Policy
) -> tuple[tuple[int, int], tuple[int, ...]] | Rejection:
    """The segment and seats a hold, a sale or a handheld's allotment would take, or why it cannot."""
    segment = find_segment(trip, command.from_station, command.to_station)
    if isinstance(segment, Rejection):
        return segment
    closed = _sales_open(trip, segment[0], now, policy)
    if closed is not None:
        return closed
    seats = _pick_seats(trip, segment, command.seat_numbers, command.seat_count, now)
    return seats if isinstance(seats, Rejection) else (segment, seats)


def hold_terms(
    trip: Trip, command: PlaceHold | QuoteHold, now: int, policy: Policy
) -> tuple[tuple[int, int], tuple[int, ...], tuple[Fare, ...]] | Rejection:
    """The segment, seats and fares a hold would take now, or why it cannot: what PlaceHold places,
    and what its quote (QuoteHold, a rebooking's price) answers without placing it."""
    claimed = claim(trip, command, now, policy)
    if isinstance(claimed, Rejection):
        return claimed
    segment, seats = claimed
    fares = _priced(trip, command, segment, len(seats), policy)
    return fares if isinstance(fares, Rejection) else (segment, seats, fares)


def _place_hold(trip: Trip, command: PlaceHold, now: int, policy: Policy) -> Outcome:
    if command.for_move in trip.undone_moves:
        return _undone(command.for_move)
    terms = hold_terms(trip, command, now, policy)
    if isinstance(terms, Rejection):
        return terms
    (i, j), seats, fares = terms
    hold_id = f"{trip.spec.trip_id}-H{trip.holds_placed + 1}"
    ttl_ms = command.ttl_ms or policy.hold_ttl_ms
    return (
        HoldPlaced(
            trip.spec.trip_id,
            hold_id,
            seats,
            i,
            j,
            trip.fares[(i, j)],
            now + ttl_ms,
            command.buyer,
            command.holders,
            command.for_move,
            fares,
        ),
    )


def _tickets(
    trip: Trip, seats: tuple[int, ...], fare_fen: int, holders: tuple[Holder, ...] = (), fares: tuple[Fare, ...] = ()
) -> tuple[IssuedTicket, ...]:
    first = trip.tickets_issued + 1
    trip_id = trip.spec.trip_id
    if len(seats) == 1 and not holders and not fares:  # one seat, nobody named, full fare: the common sale
        return (IssuedTicket(f"{trip_id}-{first:04d}", seats[0], fare_fen),)
    named = holders or (None,) * len(seats)
    if fares:
        return tuple(
            [
                IssuedTicket(f"{trip_id}-{first + k:04d}", seat, fare.total_fen, holder, fare)
                for k, (seat, holder, fare) in enumerate(zip(seats, named, fares, strict=True))
            ]
        )
    # A list comprehension: tuple(generator) costs a generator resumption per ticket.
    return tuple(
        [
            IssuedTicket(f"{trip_id}-{first + k:04d}", seat, fare_fen, holder)
            for k, (seat, holder) in enumerate(zip(seats, named, strict=True))
        ]
    )


def _sell(trip: Trip, command: Sell, now: int, policy: Policy) -> Outcome:
    claimed = claim(trip, command, now, policy)
    if isinstance(claimed, Rejection):
        return claimed
    (i, j), seats = claimed
    full_fen = trip.fares[(i, j)]
    fares = _priced(trip, command, (i, j), len(seats), policy)
    if isinstance(fares, Rejection):
        return fares
    return (
        TicketsIssued(
            trip.spec.trip_id,
            "",
            i,
            j,
            _tickets(trip, seats, full_fen, command.holders, fares),
            now,
            command.buyer,
            counter=command.counter,
        ),
    )


# --- ticket types, fare components and real-name rules (engine/fares.py, docs/tickets.md) ----


def _priced(
    trip: Trip, command: PlaceHold | Sell | QuoteHold, segment: tuple[int, int], seats: int, policy: Policy
) -> tuple[Fare, ...] | Rejection:
    """The fares of a hold's or sale's seats, or why the station's rules refuse them: () when
    every seat is a plain full fare with nothing added, as sales were before ticket types."""
    rules = policy.fares
    if not command.tickets and not command.holders and not rules.itemises:
        return ()  # the common sale: full fares, nobody named
    requests = command.tickets or (TicketRequest(),) * seats
    refusal = _type_refusal(trip, requests, policy) or _document_refusal(
        trip, command.holders, _free_children(requests), policy, segment
    )
    if refusal is not None:
        return refusal
    if not command.tickets and not rules.itemises:
        return ()
    full_fen = trip.fares[segment]
    return tuple([rules.fare(full_fen, r.ticket_type, r.insured, r.free_child) for r in requests])


def _free_children(requests: tuple[TicketRequest, ...] | tuple[Fare, ...]) -> tuple[Holder, ...]:
    return tuple([r.free_child for r in requests if r.free_child is not None])


def _type_refusal(trip: Trip, requests: tuple[TicketRequest, ...], policy: Policy) -> Rejection | None:
    """Why the trip cannot carry these ticket types, if it cannot."""
    rules = policy.fares
    types = {r.ticket_type for r in requests}
    free_children = sum(1 for r in requests if r.free_child is not None)
    if types == ONLY_FULL and not free_children:
        return None
    rated = len(trip.seat_labels)
    if (types & CHILD_TYPES or free_children) and rated <= rules.small_vehicle_seats:
        return reject(
            Reason.CHILD_FARE_NOT_OFFERED,
            f"trip {trip.spec.trip_id} runs a vehicle of {rated} seats: no child fares on {rules.small_vehicle_seats} "
            "seats or fewer; children pay the full fare",
            seats=rated,
        )
    if TicketType.STUDENT.value in types and not trip.spec.student_fares:
        return reject(
            Reason.STUDENT_FARE_NOT_OFFERED,
            f"schedule {trip.spec.schedule_id} sells no student tickets",
            field="passengers",
        )
    if free_children:
        carried, limit = _free_children_carried(trip), free_child_limit(rules, rated)
        if carried + free_children > limit:
            return reject(
                Reason.FREE_CHILD_LIMIT,
                f"trip {trip.spec.trip_id} may carry {limit} free children ({rules.free_child_percent} % of its "
                f"{rated} seats) and carries {carried}: a child who rides pays the child fare",
                limit=limit,
                carried=carried,
            )
    return None


def _free_children_carried(trip: Trip) -> int:
    """Free children on the trip's live tickets and holds, wherever they board."""
    on_tickets = sum(
        1
        for t in trip.tickets.values()
        if t.fare is not None and t.fare.free_child is not None and t.status not in RELEASED
    )
    return on_tickets + sum(len(_free_children(hold.fares)) for hold in trip.holds.values())


def _document_refusal(
    trip: Trip,
    holders: tuple[Holder, ...],
    free_children: tuple[Holder, ...],
    policy: Policy,
    segment: tuple[int, int],
) -> Rejection | None:
    """DOCUMENT_HAS_TICKET when a passenger's document already holds a live ticket (or a hold) on
    this trip, by the blind index the gateway put on the holder: on the whole trip, or on a segment
    sharing a leg with `segment`, as the station's one_ticket_per_document says."""
    rule = policy.fares.one_ticket_per_document
    wanted = [h for h in (*holders, *free_children) if h.document_index]
    if not wanted or rule == "off":
        return None
    seen: dict[bytes, str] = {}
    for holder in wanted:
        if holder.document_index in seen:
            return reject(
                Reason.DOCUMENT_HAS_TICKET,
                f"document {holder.document_masked} is named twice in this sale",
                field="passengers",
                document=holder.document_masked,
            )
        seen[holder.document_index] = holder.document_masked
    mask = legs_mask(*segment) if rule == "overlapping" else -1  # -1: every leg of the trip
    for document, masked in seen.items():
        for owner_id, legs in trip.documents.get(document, {}).items():
            if legs & mask and _live(trip, owner_id):
                return reject(
                    Reason.DOCUMENT_HAS_TICKET,
                    f"document {masked} already holds {owner_id} on trip {trip.spec.trip_id}: "
                    + (
                        "one live ticket per document and trip"
                        if rule == "trip"
                        else "a passenger sits in one seat at a time"
                    ),
                    ticket_id=owner_id,
                    document=masked,
                )
    return None


def _live(trip: Trip, owner_id: str) -> bool:
    """Whether a hold still holds its seats, or a ticket its seat (Trip.documents keeps both ids)."""
    if owner_id in trip.holds:
        return True
    ticket = trip.tickets.get(owner_id)
    return ticket is not None and ticket.status not in RELEASED


def _live_hold(trip: Trip, hold_id: str, now: int) -> Hold | Rejection:
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


def _has_order(trip: Trip, hold_id: str) -> Rejection:
    order_id = trip.order_of_hold[hold_id]
    return reject(
        Reason.HOLD_HAS_ORDER, f"hold {hold_id} belongs to order {order_id}: pay or cancel the order", order_id=order_id
    )


def _confirm(trip: Trip, command: ConfirmHold, now: int, policy: Policy) -> Outcome:
    if command.for_move in trip.undone_moves:
        return _undone(command.for_move)
    hold = _live_hold(trip, command.hold_id, now)
    if isinstance(hold, Rejection):
        return hold
    if hold.hold_id in trip.order_of_hold:
        return _has_order(trip, hold.hold_id)
    closed = _sales_open(trip, hold.from_stop, now, policy)
    if closed is not None:
        return closed
    tickets = _tickets(trip, hold.seats, hold.fare_fen, hold.holders, hold.fares)
    pending = bool(hold.for_move)  # a rebooking's new ticket waits for its old one to be given up (SettleMove)
    return (
        TicketsIssued(
            trip.spec.trip_id,
            hold.hold_id,
            hold.from_stop,
            hold.to_stop,
            tickets,
            now,
            hold.buyer,
            command.changed_from,
            pending,
            counter=command.counter,
        ),
    )


# Commands that make a trip, decided before any trip is looked up: engine/seat_plan.py adds its
# extra run (AddExtraRun) when it is imported (engine/shard.py imports it).
_SCHEDULES: dict[type, Callable[[ShardState, Any, int, Policy], Outcome]] = {}

_SALES: dict[type, Callable[[Trip, Any, int, Policy], Outcome]] = {
    PlaceHold: _place_hold,
    Sell: _sell,
    ConfirmHold: _confirm,
}


def _refund(trip: Trip, command: Refund, now: int, policy: Policy) -> Outcome:
    order_id = _order_of_ticket(trip, command.ticket_id)
    if order_id:
        # Money paid through an order goes back the way it came: the order's refund does that.
        return reject(
            Reason.ORDER_CLOSED,
            f"ticket {command.ticket_id} was paid through order {order_id}: refund the order",
            order_id=order_id,
        )
    refunded = refund_ticket(trip, command.ticket_id, now, policy)
    if isinstance(refunded, Rejection):
        return refunded
    return (msgspec.structs.replace(refunded, shift_id=command.shift_id) if command.shift_id else refunded,)


def _order_of_ticket(trip: Trip, ticket_id: str) -> str:
    ticket = trip.tickets.get(ticket_id)
    return ticket.order_id if ticket is not None else ""


def refund_ticket(trip: Trip, ticket_id: str, now: int, policy: Policy) -> TicketRefunded | Rejection:
    ticket = trip.tickets.get(ticket_id)
    if ticket is None:
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {ticket_id}", ticket_id=ticket_id)
    held = held_by_move(trip, ticket, now)
    if held is not None:
        return held
    if ticket.status is TicketStatus.REFUNDED:
        return reject(
            Reason.ALREADY_REFUNDED, f"ticket {ticket.ticket_id} was refunded", refunded_at_ms=ticket.refunded_at_ms
        )
    if ticket.status in (TicketStatus.CHANGED, TicketStatus.VOID):
        return _changed(ticket)
    if trip.cancelled_at_ms:
        # The station cancelled: every passenger gets everything back, boarded or not.
        return TicketRefunded(trip.spec.trip_id, ticket.ticket_id, 0, ticket.price_fen, now)
    if (
        trip.delay_ms
        and ticket.status is TicketStatus.ISSUED
        and segment_status(trip, ticket.from_stop, now, policy) is not TripStatus.DEPARTED
    ):
        # The station or operator delayed it: refunds cost nothing, and every component goes back.
        return TicketRefunded(trip.spec.trip_id, ticket.ticket_id, 0, ticket.price_fen, now)
    if ticket.status is TicketStatus.CHECKED_IN:
        return reject(Reason.TICKET_CHECKED_IN, f"ticket {ticket.ticket_id} has boarded and cannot be refunded")
    if segment_status(trip, ticket.from_stop, now, policy) is TripStatus.DEPARTED:
        return reject(Reason.REFUND_NOT_ALLOWED, "no refunds once the coach has left")
    # The fee is worked out on the refundable components only, and they go back less the fee; the
    # accident insurance goes back whole with the ticket; the station keeps the other components.
    basis = policy.fares.refund_basis_fen(ticket.fare, ticket.price_fen)
    fee = policy.refund_fee_fen(basis, trip.departs_at_ms(ticket.from_stop) - now)
    if fee is None:
        return reject(Reason.REFUND_NOT_ALLOWED, "no refunds once the coach has left")
    insurance = ticket.fare.insurance_fen if ticket.fare is not None else 0
    return TicketRefunded(trip.spec.trip_id, ticket.ticket_id, fee, basis - fee + insurance, now)


def _changed(ticket: Ticket) -> Rejection:
    if ticket.status is TicketStatus.VOID:
        return reject(
            Reason.TICKET_CHANGED, f"ticket {ticket.ticket_id} was taken back: its rebooking did not go through"
        )
    return reject(
        Reason.TICKET_CHANGED,
        f"ticket {ticket.ticket_id} was changed to {ticket.changed_to}",
        changed_to=ticket.changed_to,
    )


# --- rebooking (改签) -------------------------------------------------------------------------


def own_ticket(trip: Trip, ticket_id: str, buyer: str) -> Ticket | Rejection:
    """The ticket, unless it does not exist or (for a passenger) is someone else's."""
    ticket = trip.tickets.get(ticket_id)
    if ticket is None or (buyer and ticket.buyer != buyer):
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {ticket_id}", ticket_id=ticket_id)
    return ticket


def in_progress(ticket: Ticket, now: int) -> Rejection:
    """A call on a ticket a rebooking holds: retry once the move is made or undone.  The facts let
    the gateway finish or undo a move whose saga was interrupted (`age_ms` by this owner's clock)."""
    move = cast(Move, ticket.move)  # a ticket in progress has one
    return reject(
        Reason.CHANGE_IN_PROGRESS,
        f"ticket {ticket.ticket_id} is being rebooked to trip {move.new_trip_id}: retry shortly",
        ticket_id=ticket.ticket_id,
        saga=move.saga,
        old_ticket_id=ticket.ticket_id,
        new_trip_id=move.new_trip_id,
        age_ms=now - move.began_at_ms,
    )


def _pending(trip: Trip, ticket: Ticket, now: int) -> Rejection:
    """A call on a rebooking's new ticket before its move settled: the old ticket may still be
    kept (and the new one voided), so retry once the move is made or undone.  The same facts as
    in_progress, for the gateway to resolve the move at the old ticket's owner."""
    return reject(
        Reason.CHANGE_IN_PROGRESS,
        f"ticket {ticket.ticket_id} is being issued for ticket {ticket.changed_from}'s rebooking: retry shortly",
        ticket_id=ticket.ticket_id,
        saga=ticket.for_move,
        old_ticket_id=ticket.changed_from,
        new_trip_id=trip.spec.trip_id,
        age_ms=now - ticket.issued_at_ms,
    )


def held_by_move(trip: Trip, ticket: Ticket, now: int) -> Rejection | None:
    """CHANGE_IN_PROGRESS when a rebooking holds the ticket, at either end of its move."""
    if ticket.moving():
        return in_progress(ticket, now)
    if ticket.pending_move():
        return _pending(trip, ticket, now)
    return None


def _undone(saga: str) -> Rejection:
    return reject(
        Reason.CHANGE_NOT_ALLOWED,
        f"rebooking {saga} was undone: the ticket was refunded, boarded or moved while it was interrupted",
    )


def _begin_change(trip: Trip, command: BeginChange, now: int, policy: Policy) -> Outcome:
    ticket = own_ticket(trip, command.ticket_id, command.buyer)
    if isinstance(ticket, Rejection):
        return ticket
    if ticket.move is not None and ticket.move.saga == command.saga:
        return ()  # this saga's move began already
    refusal = (
        station_move_refusal(trip, ticket, command.new_trip_id, command.new_route_id, now)
        if command.station
        else move_refusal(trip, ticket, command.new_trip_id, command.new_route_id, now, policy)
    )
    if refusal is not None:
        return refusal
    return (ChangeBegun(trip.spec.trip_id, ticket.ticket_id, command.saga, command.new_trip_id, now),)


def move_refusal(
    trip: Trip, ticket: Ticket, new_trip_id: str, new_route_id: str, now: int, policy: Policy
) -> Rejection | None:
    """Why the ticket may not begin a move to `new_trip_id` now, if it may not: BeginChange's
    checks, which its quote (CheckChange) makes too."""
    return (
        held_by_move(trip, ticket, now)
        or _move_refusal(trip, ticket, new_trip_id, new_route_id)
        or change_refusal(trip, ticket, now, policy)
    )


def station_move_refusal(trip: Trip, ticket: Ticket, new_trip_id: str, new_route_id: str, now: int) -> Rejection | None:
    """Why the station may not move the ticket (并班, Dispatch/MergeTrips), if it may not.  Unlike a
    passenger's rebooking, the station moves a ticket off a cancelled or missed trip, and a ticket
    rebooked once already: the passenger chose neither.  A boarded, refunded or moved ticket stays."""
    held = held_by_move(trip, ticket, now)
    if held is not None:
        return held
    if new_trip_id == trip.spec.trip_id or new_route_id != trip.spec.route_id:
        return _move_refusal(trip, ticket, new_trip_id, new_route_id)
    if ticket.status is TicketStatus.CHECKED_IN:
        return reject(Reason.TICKET_CHECKED_IN, f"ticket {ticket.ticket_id} has boarded")
    if ticket.status is TicketStatus.REFUNDED:
        return reject(Reason.ALREADY_REFUNDED, f"ticket {ticket.ticket_id} was refunded")
    if ticket.status in (TicketStatus.CHANGED, TicketStatus.VOID):
        return _changed(ticket)
    if trip.departed_at_ms and not _same_flow_line(trip.spec.trip_id, new_trip_id):
        return reject(Reason.CHANGE_NOT_ALLOWED, f"trip {trip.spec.trip_id} has left: its tickets stay")
    return None


def _same_flow_line(trip_id: str, new_trip_id: str) -> bool:
    """Two coaches of one departure-when-full line's day (流水班): a ticket of the coach that left
    without its passenger is good for the next coach with room (docs/dispatch.md)."""
    coach, other = flow_coach(trip_id), flow_coach(new_trip_id)
    return coach is not None and other is not None and coach[0] == other[0]


def _move_refusal(trip: Trip, ticket: Ticket, new_trip_id: str, new_route_id: str) -> Rejection | None:
    """Why the ticket may not move to the trip asked for, as the client first hears it."""
    if new_trip_id == trip.spec.trip_id:
        why = "the new trip is the ticket's own trip"
    elif new_route_id != trip.spec.route_id:
        why = f"trip {new_trip_id} runs route {new_route_id}, not the ticket's {trip.spec.route_id}"
    elif ticket.changed_from:
        why = f"ticket {ticket.ticket_id} was rebooked already; a ticket is changed once"
    elif ticket.status is not TicketStatus.ISSUED and not ticket.changed_to:
        why = f"ticket {ticket.ticket_id} is {ticket.status.value}"
    else:
        return None  # a ticket rebooked already is answered TICKET_CHANGED, naming its new ticket (change_refusal)
    return reject(Reason.CHANGE_NOT_ALLOWED, why, field="new_trip_id")


def _abort_change(trip: Trip, command: AbortChange, now: int) -> Outcome:
    ticket = own_ticket(trip, command.ticket_id, "")
    if isinstance(ticket, Rejection):
        return ticket
    move = ticket.move
    if move is None or move.saga != command.saga or move.aborted:
        return ()  # this saga holds nothing here: never began, aborted already, or cleared
    if ticket.status is TicketStatus.CHANGED:
        return _changed(ticket)  # the move was made first: nothing is undone
    return (ChangeAborted(trip.spec.trip_id, ticket.ticket_id, command.saga, now),)


def _undo_move(trip: Trip, command: UndoMove, now: int) -> Outcome:
    saga = command.saga
    released = tuple(
        HoldReleased(trip.spec.trip_id, hold.hold_id) for hold in trip.holds.values() if hold.for_move == saga
    )
    voided = tuple(
        TicketVoided(trip.spec.trip_id, ticket.ticket_id, now)
        for ticket in trip.tickets.values()
        if ticket.for_move == saga and ticket.status is TicketStatus.ISSUED
    )
    undone = () if saga in trip.undone_moves else (MoveUndone(trip.spec.trip_id, saga, now),)
    return released + voided + undone


def _clear_change(trip: Trip, command: ClearChange, now: int) -> Outcome:
    ticket = own_ticket(trip, command.ticket_id, "")
    if isinstance(ticket, Rejection):
        return ticket
    move = ticket.move
    if move is None or move.saga != command.saga:
        return ()  # cleared already
    if not move.aborted:
        return in_progress(ticket, now)  # only an aborted move is cleared: AbortChange comes first
    return (ChangeCleared(trip.spec.trip_id, ticket.ticket_id, command.saga, now),)


def _settle_move(trip: Trip, command: SettleMove, now: int) -> Outcome:
    ticket = own_ticket(trip, command.ticket_id, "")
    if isinstance(ticket, Rejection):
        return ticket
    if ticket.for_move != command.saga:
        return reject(
            Reason.CHANGE_NOT_ALLOWED,
            f"ticket {ticket.ticket_id} was not issued by rebooking {command.saga}",
            field="ticket_id",
        )
    if ticket.status is TicketStatus.VOID:
        return _undone(command.saga)  # only a move made is settled, and a move made is never undone
    if not ticket.move_pending:
        return ()  # settled already
    return (MoveSettled(trip.spec.trip_id, ticket.ticket_id, command.saga, now),)


def _change_ticket(trip: Trip, command: ChangeTicket, now: int, policy: Policy) -> Outcome:
    ticket = own_ticket(trip, command.ticket_id, command.buyer)
    if isinstance(ticket, Rejection):
        return ticket
    if ticket.status is TicketStatus.CHANGED and ticket.changed_to == command.new_ticket_id:
        return ()  # done already: a retry of the same move
    if command.saga and (ticket.move is None or ticket.move.saga != command.saga or ticket.move.aborted):
        return _undone(command.saga)
    if command.reason:  # the station's move (并班): begun by its saga, checked then; no difference paid
        return (TicketChanged(trip.spec.trip_id, ticket.ticket_id, command.new_ticket_id, now, command.reason),)
    refusal = change_refusal(trip, ticket, now, policy)
    if refusal is not None:
        return refusal
    changed = TicketChanged(trip.spec.trip_id, ticket.ticket_id, command.new_ticket_id, now)
    order = trip.orders.get(ticket.order_id)
    if order is None or not 0 <= command.new_price_fen < ticket.price_fen:
        return (changed,)
    # A cheaper trip: the difference goes back the way the order was paid.
    payment = next(p for p in order.payments if p.provider_txn_id == order.paid_by)
    refund = RefundPart(
        f"{order.order_id}-R{len(order.refunds) + 1}",
        payment.method,
        payment.provider_txn_id,
        (),
        ticket.price_fen - command.new_price_fen,
        0,
        now,
        f"rebooked {ticket.ticket_id} to a cheaper trip",
    )
    return (changed, RefundRequested(trip.spec.trip_id, order.order_id, refund))


def change_refusal(trip: Trip, ticket: Ticket, now: int, policy: Policy) -> Rejection | None:
    """Why this ticket cannot be rebooked now, if it cannot."""
    if ticket.status is TicketStatus.CHECKED_IN:
        return reject(Reason.TICKET_CHECKED_IN, f"ticket {ticket.ticket_id} has boarded")
    if ticket.status is TicketStatus.REFUNDED:
        return reject(Reason.ALREADY_REFUNDED, f"ticket {ticket.ticket_id} was refunded")
    if ticket.status in (TicketStatus.CHANGED, TicketStatus.VOID):
        return _changed(ticket)
    if ticket.changed_from:
        return reject(
            Reason.CHANGE_NOT_ALLOWED, f"ticket {ticket.ticket_id} was rebooked already; a ticket is changed once"
        )
    if segment_status(trip, ticket.from_stop, now, policy) in (TripStatus.DEPARTED, TripStatus.CANCELLED):
        return reject(
            Reason.CHANGE_NOT_ALLOWED, f"trip {trip.spec.trip_id} has left or was cancelled: refund the ticket instead"
        )
    return None


def _void_ticket(trip: Trip, command: VoidTicket, now: int) -> Outcome:
    ticket = trip.tickets.get(command.ticket_id)
    if ticket is None:
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {command.ticket_id}", ticket_id=command.ticket_id)
    if ticket.status is TicketStatus.VOID:
        return ()
    if not ticket.changed_from or ticket.status is not TicketStatus.ISSUED:
        return reject(Reason.CHANGE_NOT_ALLOWED, f"ticket {ticket.ticket_id} is not an unused rebooked ticket")
    return (TicketVoided(trip.spec.trip_id, ticket.ticket_id, now),)


# --- orders ---------------------------------------------------------------------------------


def find_order(trip: Trip, order_id: str, buyer: str = "") -> Order | Rejection:
    """The order, unless it does not exist or (for a passenger) is someone else's."""
    order = trip.orders.get(order_id)
    if order is None or (buyer and order.buyer != buyer):
        return reject(Reason.UNKNOWN_ORDER, f"no order {order_id}", field="order_id")
    return order


def _create_order(trip: Trip, command: CreateOrder, now: int) -> Outcome:
    hold = _live_hold(trip, command.hold_id, now)
    if isinstance(hold, Rejection):
        return hold
    if command.buyer and hold.buyer != command.buyer:
        return reject(Reason.UNKNOWN_HOLD, f"no hold {command.hold_id}", hold_id=command.hold_id)  # someone else's
    if hold.hold_id in trip.order_of_hold:
        return _has_order(trip, hold.hold_id)
    order_id = f"{trip.spec.trip_id}-O{trip.orders_placed + 1}"
    return (
        OrderCreated(
            trip.spec.trip_id,
            order_id,
            hold.hold_id,
            hold.buyer,
            command.method.value,
            hold.total_fen,
            hold.expires_at_ms,
            now,
            hold.seats,
            hold.from_stop,
            hold.to_stop,
            hold.fare_fen,
            hold.holders,
            hold.fares,
            command.shift_id,
        ),
    )


def _record_payment(trip: Trip, command: RecordPayment, now: int, policy: Policy) -> Outcome:
    """Ticket the order if its seats can still be had; otherwise owe the money back.

    Duplicate notifications (the same provider transaction) change nothing.  A payment for the
    wrong amount or by another method is refused, and recorded by the gateway's audit trail.
    """
    order = find_order(trip, command.order_id)
    if isinstance(order, Rejection):
        return order
    if any(p.provider_txn_id == command.provider_txn_id and p.method == command.method.value for p in order.payments):
        return ()
    if command.amount_fen != order.amount_fen or command.method.value != order.method:
        return reject(
            Reason.PAYMENT_MISMATCH,
            f"order {order.order_id} is for {order.amount_fen} fen by {order.method}",
            amount_fen=order.amount_fen,
            method=order.method,
        )
    payment = Payment(command.method.value, command.provider_txn_id, command.amount_fen, command.paid_at_ms)
    paid = PaymentRecorded(trip.spec.trip_id, order.order_id, payment)
    tickets = (
        _ticket_order(trip, order, now, policy)
        if order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.EXPIRED)
        else None
    )
    if tickets is not None:
        issued, ticketed_ids = tickets
        return (
            paid,
            issued,
            OrderTicketed(trip.spec.trip_id, order.order_id, ticketed_ids, now, payment.provider_txn_id),
        )
    why = {
        OrderStatus.EXPIRED: "paid after the order expired, and its seats were gone",
        OrderStatus.CANCELLED: "paid for a cancelled order",
        OrderStatus.PENDING_PAYMENT: "paid after sales closed",
    }.get(order.status, "paid twice")
    return (paid, _refund_whole(trip, order, payment, now, why))


def _ticket_order(trip: Trip, order: Order, now: int, policy: Policy) -> tuple[TicketsIssued, tuple[str, ...]] | None:
    """Tickets for the order's seats: from its live hold, or (paid late) if they are still free."""
    if _sales_open(trip, order.from_stop, now, policy) is not None:
        return None
    hold = trip.holds.get(order.hold_id)
    if hold is None:
        mask = legs_mask(order.from_stop, order.to_stop)
        occupied = quotas.sellable(trip, order.from_stop, now)  # its seats may be kept for a stop by now
        if any(occupied[seat] & mask for seat in order.seats):
            return None
        segment = (order.from_stop, order.to_stop)
        if _document_refusal(trip, order.holders, _free_children(order.fares), policy, segment) is not None:
            return None  # paid late, and a passenger's document took another ticket meanwhile
    tickets = _tickets(trip, order.seats, order.fare_fen, order.holders, order.fares)
    issued = TicketsIssued(
        trip.spec.trip_id,
        order.hold_id if hold is not None else "",
        order.from_stop,
        order.to_stop,
        tickets,
        now,
        order.buyer,
    )
    return issued, tuple(t.ticket_id for t in tickets)


def _refund_whole(trip: Trip, order: Order, payment: Payment, now: int, why: str) -> RefundRequested:
    refund = RefundPart(
        f"{order.order_id}-R{len(order.refunds) + 1}",
        payment.method,
        payment.provider_txn_id,
        (),
        payment.amount_fen,
        0,
        now,
        why,
    )
    return RefundRequested(trip.spec.trip_id, order.order_id, refund)


def _cancel_order(trip: Trip, command: CancelOrder, now: int) -> Outcome:
    order = find_order(trip, command.order_id, command.buyer)
    if isinstance(order, Rejection):
        return order
    if order.status is OrderStatus.CANCELLED:
        return ()
    if order.status is not OrderStatus.PENDING_PAYMENT:
        return reject(
            Reason.ORDER_CLOSED,
            f"order {order.order_id} is {order.status.value}; only an unpaid order can be cancelled",
        )
    released = (HoldReleased(trip.spec.trip_id, order.hold_id),) if order.hold_id in trip.holds else ()
    return (*released, OrderCancelled(trip.spec.trip_id, order.order_id, now))


def _refund_order(trip: Trip, command: RefundOrder, now: int, policy: Policy) -> Outcome:
    order = find_order(trip, command.order_id, command.buyer)
    if isinstance(order, Rejection):
        return order
    if order.status not in (OrderStatus.TICKETED, OrderStatus.PARTIALLY_REFUNDED):
        return reject(
            Reason.ORDER_CLOSED, f"order {order.order_id} is {order.status.value}; it has no tickets to refund"
        )
    wanted = command.ticket_ids or tuple(
        t for t in order.ticket_ids if trip.tickets[t].status is not TicketStatus.REFUNDED
    )
    refunded = []
    for index, ticket_id in enumerate(wanted):
        if ticket_id not in order.ticket_ids:  # only a ticket the request named, so `index` is its place there
            return reject(
                Reason.UNKNOWN_TICKET,
                f"ticket {ticket_id} is not in order {order.order_id}",
                field=element("ticket_ids", index),
                ticket_id=ticket_id,
            )
        one = refund_ticket(trip, ticket_id, now, policy)
        if isinstance(one, Rejection):
            return one
        refunded.append(msgspec.structs.replace(one, shift_id=command.shift_id) if command.shift_id else one)
    payment = next(p for p in order.payments if p.provider_txn_id == order.paid_by)
    refund = RefundPart(
        f"{order.order_id}-R{len(order.refunds) + 1}",
        payment.method,
        payment.provider_txn_id,
        tuple(wanted),
        sum(r.refund_fen for r in refunded),
        sum(r.fee_fen for r in refunded),
        now,
        "refund requested",
    )
    return (*refunded, RefundRequested(trip.spec.trip_id, order.order_id, refund))


def _settle_refund(trip: Trip, command: SettleRefund, now: int) -> Outcome:
    order = find_order(trip, command.order_id)
    if isinstance(order, Rejection):
        return order
    if not any(r.refund_no == command.refund_no for r in order.refunds):
        return reject(
            Reason.UNKNOWN_REFUND, f"order {order.order_id} has no refund {command.refund_no}", field="refund_no"
        )
    if any(no == command.refund_no for no, _, _ in order.settled):
        return ()
    return (RefundSettled(trip.spec.trip_id, order.order_id, command.refund_no, command.provider_refund_id, now),)


def _check_in(trip: Trip, command: CheckIn, now: int, policy: Policy) -> Outcome:
    if command.scanned_at_ms > now + SCAN_CLOCK_SKEW_MS:
        return reject(Reason.INVALID_FIELD, "scanned_at is in the future", field="scanned_at")
    at = now
    if command.scanned_at_ms:
        now = command.scanned_at_ms  # an offline scan uploaded: decided as it was at the lane
        conflict = _upload_conflict(trip, command, at)
        if conflict is not None:
            return conflict
    ticket = trip.tickets.get(command.ticket_id)
    if ticket is None:
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {command.ticket_id}", ticket_id=command.ticket_id)
    held = held_by_move(trip, ticket, now)
    if held is not None:
        return held
    if ticket.status is TicketStatus.REFUNDED:
        return reject(
            Reason.ALREADY_REFUNDED, f"ticket {ticket.ticket_id} was refunded", refunded_at_ms=ticket.refunded_at_ms
        )
    if ticket.status in (TicketStatus.CHANGED, TicketStatus.VOID):
        return _changed(ticket)
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
    if policy.require_safety_check and not command.scanned_at_ms:
        # An uploaded offline scan is not refused: the lane let the passenger through already.
        unsafe = _safety_refusal(trip)
        if unsafe is not None:
            return unsafe
    return (TicketCheckedIn(trip.spec.trip_id, ticket.ticket_id, command.gate_id, now),)


def _safety_refusal(trip: Trip) -> Rejection | None:
    """Check-in waits for the trip's safety check (安检) to pass; its last check decides."""
    if trip.safety is None:
        return reject(
            Reason.SAFETY_CHECK_PENDING,
            f"trip {trip.spec.trip_id}: check-in opens after the coach's safety check has passed",
            trip_id=trip.spec.trip_id,
        )
    if not trip.safety.passed:
        return reject(
            Reason.SAFETY_CHECK_FAILED,
            f"trip {trip.spec.trip_id}: the coach failed its safety check; check-in opens after a check passes",
            trip_id=trip.spec.trip_id,
        )
    return None


def _record_crew(trip: Trip, command: RecordCrew, now: int) -> Outcome:
    """The crew the accounts owner assigned; the same crew again changes nothing."""
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    crew = trip.crew
    if crew is not None and (crew.vehicle_id, crew.driver_id, crew.plate) == (
        command.vehicle_id,
        command.driver_id,
        command.plate,
    ):
        return ()
    return (CrewRecorded(trip.spec.trip_id, command.vehicle_id, command.plate, command.driver_id, now),)


def _record_safety_check(trip: Trip, command: RecordSafetyCheck, now: int) -> Outcome:
    """A check of a coach yet to leave; a later check replaces the earlier as the one that counts."""
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if trip.departed_at_ms:
        return reject(Reason.TRIP_DEPARTED, f"trip {trip.spec.trip_id} has left")
    return (SafetyChecked(trip.spec.trip_id, command.passed, command.items, command.inspector, command.note, now),)


def _upload_conflict(trip: Trip, command: CheckIn, now: int) -> Outcome | None:
    """An uploaded offline scan of a ticket checked in by another scan, or refunded, changed or
    voided: recorded as a conflict (the lane let the passenger through), not refused and lost."""
    ticket = trip.tickets.get(command.ticket_id)
    if ticket is None:
        return None
    first_gate, first_at = "", 0
    if ticket.status is TicketStatus.CHECKED_IN:
        reason, first_gate, first_at = Reason.ALREADY_CHECKED_IN, ticket.gate_id, ticket.checked_in_at_ms
    elif ticket.status is TicketStatus.REFUNDED:
        reason = Reason.ALREADY_REFUNDED
    elif ticket.status in (TicketStatus.CHANGED, TicketStatus.VOID):
        reason = Reason.TICKET_CHANGED
    else:
        return None
    conflicted = ScanConflicted(
        trip.spec.trip_id,
        ticket.ticket_id,
        command.gate_id,
        command.scanned_at_ms,
        reason.name,
        first_gate,
        first_at,
        now,
    )
    return (conflicted,)


def _depart(trip: Trip, command: DepartTrip, now: int, policy: Policy) -> Outcome:
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if segment_status(trip, 0, now, policy) is TripStatus.ON_SALE:
        opens = trip.departs_at_ms(0) - policy.boarding_opens_ms
        return reject(
            Reason.NOT_YET_BOARDING, "a coach cannot leave before boarding has opened", boarding_opens_at_ms=opens
        )
    if trip.departed_at_ms:
        return ()
    return (TripDeparted(trip.spec.trip_id, now, command.staff, command.note),)


def _cancel(trip: Trip, now: int, policy: Policy, missed: bool = False) -> Outcome:
    if trip.departed_at_ms or segment_status(trip, 0, now, policy) is TripStatus.DEPARTED:
        return reject(Reason.TRIP_DEPARTED, f"trip {trip.spec.trip_id} has left and cannot be cancelled")
    return () if trip.cancelled_at_ms else (TripCancelled(trip.spec.trip_id, now, missed),)


def _delay(trip: Trip, command: DelayTrip, now: int, policy: Policy) -> Outcome:
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if trip.departed_at_ms or segment_status(trip, 0, now, policy) is TripStatus.DEPARTED:
        return reject(Reason.TRIP_DEPARTED, f"trip {trip.spec.trip_id} has left")
    delay_ms = command.delay_min * 60_000
    if delay_ms == trip.delay_ms:
        return ()
    if delay_ms < trip.delay_ms:
        return reject(
            Reason.INVALID_FIELD,
            f"delay_minutes: trip {trip.spec.trip_id} is already {trip.delay_ms // 60_000} minutes late; "
            "a delay only grows",
            field="delay_minutes",
        )
    return (TripDelayed(trip.spec.trip_id, delay_ms, now),)


def _assign_gate(trip: Trip, command: AssignGate, now: int, policy: Policy) -> Outcome:
    """A gate may change until the coach has left; naming the same gate again changes nothing."""
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if trip.departed_at_ms or segment_status(trip, 0, now, policy) is TripStatus.DEPARTED:
        return reject(Reason.TRIP_DEPARTED, f"trip {trip.spec.trip_id} has left")
    if command.gate == trip.gate:
        return ()
    return (GateAssigned(trip.spec.trip_id, command.gate, trip.gate, now),)


def _sweep(state: ShardState, now: int, limit: int) -> Outcome:
    """Expire holds whose time is up, earliest first, walking the expiry heap without popping it."""
    events: list[TripEvent] = []
    for visits, (expires_at_ms, trip_id, hold_id) in enumerate(_in_order(state.expiry)):
        if expires_at_ms > now or len(events) >= limit or visits >= MAX_SWEEP_VISITS:
            break
        trip = state.trips.get(trip_id)  # an archived trip has no holds left
        hold = trip.holds.get(hold_id) if trip is not None else None
        if hold is not None and hold.expires_at_ms == expires_at_ms:
            events.append(HoldExpired(trip_id, hold_id))
            assert trip is not None  # it has the hold
            if hold_id in trip.order_of_hold:
                events.append(OrderExpired(trip_id, trip.order_of_hold[hold_id], now))
    return tuple(events)


def _archive_due(state: ShardState, now: int, policy: Policy, limit: int) -> Outcome:
    """Archive trips that reached their last stop `policy.archive_after_ms` ago, earliest first,
    walking the index of trip ends without popping it.  A trip is kept while it still owes a
    refund that was not paid out, or holds seats (neither should last that long)."""
    events: list[TripEvent] = []
    cutoff = now - policy.archive_after_ms
    for visits, (ends_at_ms, trip_id) in enumerate(_in_order(state.ends)):
        if ends_at_ms > cutoff or len(events) >= limit or visits >= MAX_ARCHIVE_VISITS:
            break
        trip = state.trips.get(trip_id)
        if trip is not None and trip.ends_at_ms() <= cutoff and not trip.holds and not _owes_refunds(trip):
            events.append(TripArchived(trip_id, now))
    return tuple(events)


def _in_order(heap: list[Any]) -> Iterator[Any]:
    """A binary heap's entries, smallest first, without popping it: a frontier of the entries
    whose parents were taken."""
    frontier = [(heap[0], 0)] if heap else []
    while frontier:
        entry, position = _heappop(frontier)
        yield entry
        for child in (2 * position + 1, 2 * position + 2):
            if child < len(heap):
                _heappush(frontier, (heap[child], child))


def _owes_refunds(trip: Trip) -> bool:
    return any(len(order.settled) < len(order.refunds) for order in trip.orders.values())
