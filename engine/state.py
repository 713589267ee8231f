"""The state an owner keeps for its trips, and `evolve`, the one place it changes.

State is mutable for speed (an owner applies hundreds of thousands of events a second), but only
`evolve` mutates it, one event at a time; `decide` only reads it.
"""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, cast

import msgspec

from .crew import Crew, CrewRecorded, SafetyCheck, SafetyChecked
from .events import (
    AllotmentLent,
    AllotmentSettled,
    ChangeAborted,
    ChangeBegun,
    ChangeCleared,
    CounterSale,
    ExtraRunAdded,
    Fare,
    GateAssigned,
    Holder,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
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
    SeatQuotaCleared,
    SeatQuotaSet,
    SeatsBlocked,
    SeatsUnblocked,
    SettledSale,
    StaffOnBoard,
    TicketChanged,
    TicketCheckedIn,
    TicketRefunded,
    TicketsIssued,
    TicketsPrinted,
    TicketVoided,
    TripArchived,
    TripCancelled,
    TripDelayed,
    TripDeparted,
    TripEvent,
    TripScheduled,
    VehicleChanged,
)
from .network import AISLE, TripSpec
from .values import Value


class TicketStatus(Enum):
    ISSUED = "issued"
    CHECKED_IN = "checked_in"
    REFUNDED = "refunded"
    CHANGED = "changed"  # moved to another trip (改签): its seat is free again
    VOID = "void"  # a rebooking's new ticket taken back because the move could not finish


# Tickets in these states hold no seat.
RELEASED = frozenset({TicketStatus.REFUNDED, TicketStatus.CHANGED, TicketStatus.VOID})


def legs_mask(from_stop: int, to_stop: int) -> int:
    """Bits for the legs from_stop..to_stop-1: leg k joins stop k and stop k+1."""
    return (1 << to_stop) - (1 << from_stop)


def seats_free(trip: Trip, mask: int) -> int:
    """How many seats are free on every leg of `mask`."""
    return sum(1 for bits in trip.occupied if bits & mask == 0)


class Hold(Value):
    hold_id: str
    seats: tuple[int, ...]
    from_stop: int
    to_stop: int
    fare_fen: int
    expires_at_ms: int
    buyer: str = ""
    holders: tuple[Holder, ...] = ()
    for_move: str = ""  # a rebooking's hold: the saga it is for
    fares: tuple[Fare, ...] = ()  # one per seat when sold by ticket type (HoldPlaced.fares)

    @property
    def total_fen(self) -> int:
        return sum(fare.total_fen for fare in self.fares) if self.fares else self.fare_fen * len(self.seats)


class Move(Value):
    """A rebooking of a ticket by one saga, from its first step at the ticket's owner on.  It stays
    on the ticket once made, so that the saga's late undo can be told the move was made."""

    saga: str
    new_trip_id: str
    began_at_ms: int
    aborted: bool = False  # undone here; the new trip's clean-up is not confirmed yet


class Revocation(Value):
    """A credential revoked: its ticket refunded, changed or voided, or (ticket_id "") the whole
    trip cancelled.  A trip's revocations are kept in order; a gate's position in them is their
    count (Gate/WatchRevocations)."""

    ticket_id: str
    why: str  # "refunded", "changed", "void" or "trip_cancelled"
    at_ms: int


class Allotment(Value):
    """Seats of one segment lent to a handheld device (engine/handheld.py): their seat-legs are
    taken until the device settles, and then every one not sold goes back to the pool."""

    allotment_id: str
    device: str  # the account it is lent to: the only one that may settle it
    seats: tuple[int, ...]
    from_stop: int
    to_stop: int
    lent_at_ms: int
    settled_at_ms: int = 0  # 0: still lent
    sales: tuple[SettledSale, ...] = ()  # every settled sale, by the device's sale id


class SeatQuota(Value):
    """Seats kept for passengers boarding at one stop (配载, events.SeatQuotaSet): until the release
    time, a sale boarding elsewhere may not take their legs from that stop on (engine/seat_plan.py)."""

    stop: int
    seats: tuple[int, ...]
    release_at_ms: int = 0  # absolute, 0 for none
    release_before_min: int = 0  # minutes before the stop's departure (with any delay), 0 for none
    shared: bool = False  # stops after `stop` may sell them too
    set_at_ms: int = 0


class Conflict(Value):
    """An uploaded offline scan that could not be applied (events.ScanConflicted), as kept."""

    ticket_id: str
    gate_id: str
    scanned_at_ms: int
    reason: str
    first_gate_id: str
    first_at_ms: int
    at_ms: int  # when the upload reached the owner
    other_ticket_id: str = ""  # DOCUMENT_HAS_TICKET: the ticket the document already held


class Ticket(Value):
    ticket_id: str
    seat: int
    from_stop: int
    to_stop: int
    price_fen: int
    issued_at_ms: int
    status: TicketStatus = TicketStatus.ISSUED
    checked_in_at_ms: int = 0
    gate_id: str = ""
    refund_fee_fen: int = 0
    refunded_fen: int = 0
    refunded_at_ms: int = 0
    buyer: str = ""
    holder: Holder | None = None
    changed_from: str = ""  # the ticket this one replaced (rebooking)
    changed_to: str = ""  # the ticket that replaced this one
    order_id: str = ""  # the order that paid for it, if one did
    move: Move | None = None  # a rebooking of this ticket begun (BeginChange), made or being undone
    for_move: str = ""  # a rebooking's new ticket: the saga that issued it
    # A rebooking's new ticket whose old ticket may still be kept (step 3 not known to have
    # committed): cleared by MoveSettled.  Records written before it existed read False: settled.
    move_pending: bool = False
    fare: Fare | None = None  # its components and type, when sold by ticket type (price_fen is their total)
    counter: CounterSale | None = None  # sold at a counter in a seller's shift
    refund_shift: str = ""  # refunded at a counter in this shift
    # Picked up (取票, events.TicketsPrinted): when, by which kiosk or seller account, and by which
    # request, whose retry is given the ticket again.  0: its paper copy was never picked up.
    printed_at_ms: int = 0
    printed_by: str = ""
    printed_request: str = ""

    def moving(self) -> bool:
        """A rebooking holds this ticket: neither made nor cleared after an undo."""
        return self.move is not None and self.status is TicketStatus.ISSUED

    def pending_move(self) -> bool:
        """A rebooking's new ticket, issued and not settled: its move may still be undone."""
        return self.move_pending and self.status is TicketStatus.ISSUED


class OrderStatus(Enum):
    PENDING_PAYMENT = "pending_payment"
    # Paid: the owner records the payment and issues the tickets in the same step, so an order
    # passes through PAID (it shows in its history) straight to TICKETED.
    PAID = "paid"
    TICKETED = "ticketed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # not paid before its hold expired
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CHANGED = "changed"  # its tickets moved to another trip (rebooking)


class Order(Value):
    order_id: str
    hold_id: str
    buyer: str
    method: str
    amount_fen: int
    pay_by_ms: int
    created_at_ms: int
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    seats: tuple[int, ...] = ()
    from_stop: int = 0
    to_stop: int = 0
    fare_fen: int = 0
    holders: tuple[Holder, ...] = ()
    paid_by: str = ""  # provider transaction id of the payment that ticketed it
    payments: tuple[Payment, ...] = ()
    ticket_ids: tuple[str, ...] = ()
    refunds: tuple[RefundPart, ...] = ()
    settled: tuple[tuple[str, str, int], ...] = ()  # (refund_no, provider refund id, at_ms)
    history: tuple[tuple[str, int], ...] = ()  # (status value, at_ms): what WatchOrder streams
    fares: tuple[Fare, ...] = ()  # the hold's, one per seat, when sold by ticket type
    shift_id: str = ""  # made by a counter seller in this shift: its tickets count there


@dataclass(slots=True)
class Trip:
    """A trip as its owner works on it: mutable, with indexes and caches, and never encoded: its
    record form (TripRecord) is what snapshots hold."""

    spec: TripSpec
    seat_labels: tuple[str, ...]
    seat_index: dict[str, int]
    fares: dict[tuple[int, int], int]
    stop_index: dict[str, int]
    seat_rows: tuple[tuple[int | None, ...], ...]  # the layout as seat indices, None for the aisle
    occupied: list[int]  # per seat, bits of the legs held or sold
    timetable_ms: tuple[int, ...]  # when the coach leaves each stop by the timetable (departs_at_ms adds any delay)
    holds: dict[str, Hold] = field(default_factory=dict)
    # hold id -> when it expired: every batch sweeps first, so without this a late confirm of an
    # expired hold could only hear HOLD_CLOSED, never HOLD_EXPIRED.
    expired_holds: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    departed_at_ms: int = 0
    cancelled_at_ms: int = 0
    holds_placed: int = 0  # numbers hold ids
    tickets_issued: int = 0  # numbers ticket ids
    orders: dict[str, Order] = field(default_factory=dict)
    orders_placed: int = 0  # numbers order ids
    delay_ms: int = 0  # the station's announced delay: every stop leaves this much later
    order_of_hold: dict[str, str] = field(default_factory=dict)  # hold id -> its order, while it has one
    # Rebooking sagas undone on this trip (as the new trip): their late steps are refused here, so
    # a saga that outlived its undo cannot leave a hold or a ticket behind.
    undone_moves: set[str] = field(default_factory=set)
    # Real-name passengers by the blind index of their document: index -> {ticket or hold id: legs}.
    # Only ever added to (HoldPlaced, TicketsIssued): a reader keeps the entries whose hold still
    # exists or whose ticket still holds its seat (engine.decide._document_refusal), so entries a
    # release left behind cost nothing but their room.
    documents: dict[bytes, dict[str, int]] = field(default_factory=dict)
    # Replies render the trip's unchanging parts over and over; views.py keeps them here, once.
    revoked: list[Revocation] = field(default_factory=list)  # in the order they happened
    # Seat allotments lent to handhelds, by id (engine/handheld.py); kept after they are settled,
    # so a retried settle is told what it already issued.
    allotments: dict[str, Allotment] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)  # uploaded offline scans not applied, in order
    gate: str = ""  # the gate or bay it boards at (Dispatch/AssignGate), "" until one is named
    # Seat quotas by boarding stop (engine/seat_plan.py).  Their seats are not in `occupied`: a
    # quota bars sales by the clock, so each sale works out what it may take.
    quotas: dict[int, SeatQuota] = field(default_factory=dict)
    # Blocked seats -> why (crew, broken, other): every leg of each is in `occupied`.
    blocked: dict[int, str] = field(default_factory=dict)
    extra_of: str = ""  # an extra run (加班): the trip whose route it was added on
    crew: Crew | None = None  # the vehicle and driver reported in (Fleet/ReportIn), None until then
    safety: SafetyCheck | None = None  # the last safety check (Fleet/RecordSafetyCheck), None until one
    # Recorded at departure (Dispatch/DepartTrip) for the trip sheet (engine/trip_sheet.py).
    departure_staff: tuple[StaffOnBoard, ...] = ()
    departure_note: str = ""
    view_cache: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def new(cls, spec: TripSpec) -> Trip:
        labels, seat_index, seat_rows = _layout(spec.rows)
        return cls(
            spec=spec,
            seat_labels=labels,
            seat_index=seat_index,
            fares={(i, j): fen for i, j, fen in spec.fares},  # its own: a fare may change
            stop_index=_stop_index(tuple(stop.code for stop in spec.stops)),
            seat_rows=seat_rows,
            occupied=[0] * len(labels),
            timetable_ms=tuple(spec.departs_at_ms + stop.offset_min * 60_000 for stop in spec.stops),
            gate=spec.gate,  # the schedule's gate, until dispatch names another
        )

    def departs_at_ms(self, stop: int) -> int:
        return self.timetable_ms[stop] + self.delay_ms

    def ends_at_ms(self) -> int:
        """When the coach reaches its last stop (with any delay)."""
        return self.departs_at_ms(len(self.spec.stops) - 1)


# Trips of one route and coach share their stop and seat indexes, made once and never changed: a
# few shared tables stay in the processor's cache, where one copy per trip is read from memory.
@functools.lru_cache(maxsize=1024)
def _layout(
    rows: tuple[tuple[str, ...], ...],
) -> tuple[tuple[str, ...], dict[str, int], tuple[tuple[int | None, ...], ...]]:
    """A coach's seat labels, their indices, and its rows as seat indices (None for the aisle)."""
    labels = tuple(label for row in rows for label in row if label != AISLE)
    seat_index = {label: i for i, label in enumerate(labels)}
    return labels, seat_index, tuple(tuple(seat_index.get(label) for label in row) for row in rows)


@functools.lru_cache(maxsize=1024)
def _stop_index(codes: tuple[str, ...]) -> dict[str, int]:
    return {code: i for i, code in enumerate(codes)}


def timetable_end_ms(spec: TripSpec) -> int:
    """When a trip reaches its last stop by the timetable (a delay only makes it later)."""
    return spec.departs_at_ms + spec.stops[-1].offset_min * 60_000


@dataclass(slots=True)
class ShardState:
    trips: dict[str, Trip] = field(default_factory=dict)
    # buyer account -> their order ids on this owner's trips (Orders/ListOrders sorts them)
    orders_by_buyer: dict[str, set[str]] = field(default_factory=dict)
    # (expires_at_ms, trip_id, hold_id), lazily cleaned: entries for holds already gone are skipped.
    expiry: list[tuple[int, str, str]] = field(default_factory=list)
    # (timetable_end_ms, trip_id) of every trip held, earliest first: what to archive next.
    ends: list[tuple[int, str]] = field(default_factory=list)
    archived: set[str] = field(default_factory=set)  # ids of the trips archived: never scheduled again
    # ticket id -> its trip id, for every ticket a rebooking holds (Ticket.moving, an old ticket;
    # Ticket.pending_move, a new one): what the gateway's sweep of interrupted moves asks for
    # (ListMoves), without walking every ticket.
    moving: dict[str, str] = field(default_factory=dict)


def evolve(state: ShardState, event: TripEvent) -> None:
    """Apply one event to the state."""
    match event:  # the events of every sale first
        case HoldPlaced():
            _place_hold(state, event)
        case TicketsIssued():
            _issue(state.trips[event.trip_id], event)
            if event.move_pending:
                state.moving.update((issued.ticket_id, event.trip_id) for issued in event.tickets)
            _trim_expiry(state)
        case HoldReleased(trip_id, hold_id) | HoldExpired(trip_id, hold_id):
            hold = _drop_hold(state.trips[trip_id], hold_id)
            if isinstance(event, HoldExpired):
                state.trips[trip_id].expired_holds[hold_id] = hold.expires_at_ms
            _trim_expiry(state)
        case TripScheduled(spec):
            state.trips[spec.trip_id] = Trip.new(spec)
            heapq.heappush(state.ends, (timetable_end_ms(spec), spec.trip_id))
        case TripArchived(trip_id, _):
            _archive(state, state.trips.pop(trip_id))
        case TicketRefunded(trip_id, ticket_id, fee_fen, refund_fen, at_ms):
            trip = state.trips[trip_id]
            ticket = _change(
                trip.tickets,
                ticket_id,
                status=TicketStatus.REFUNDED,
                refund_fee_fen=fee_fen,
                refunded_fen=refund_fen,
                refunded_at_ms=at_ms,
                refund_shift=event.shift_id,
            )
            trip.occupied[ticket.seat] &= ~legs_mask(ticket.from_stop, ticket.to_stop)
            trip.revoked.append(Revocation(ticket_id, "refunded", at_ms))
        case TicketChanged(trip_id, ticket_id, new_ticket_id, at_ms):
            trip = state.trips[trip_id]
            ticket = _change(trip.tickets, ticket_id, status=TicketStatus.CHANGED, changed_to=new_ticket_id)
            trip.revoked.append(Revocation(ticket_id, "changed", at_ms))
            trip.occupied[ticket.seat] &= ~legs_mask(ticket.from_stop, ticket.to_stop)
            state.moving.pop(ticket_id, None)
            order = trip.orders.get(ticket.order_id)
            if order is not None and all(trip.tickets[t].status is TicketStatus.CHANGED for t in order.ticket_ids):
                _order_status(trip, order.order_id, OrderStatus.CHANGED, at_ms)
        case ChangeBegun(trip_id, ticket_id, saga, new_trip_id, at_ms):
            _change(state.trips[trip_id].tickets, ticket_id, move=Move(saga, new_trip_id, at_ms))
            state.moving[ticket_id] = trip_id
        case ChangeAborted(trip_id, ticket_id, _, _):
            tickets = state.trips[trip_id].tickets
            _change(
                tickets, ticket_id, move=msgspec.structs.replace(cast("Move", tickets[ticket_id].move), aborted=True)
            )
        case ChangeCleared(trip_id, ticket_id, _, _):
            _change(state.trips[trip_id].tickets, ticket_id, move=None)
            state.moving.pop(ticket_id, None)
        case MoveUndone(trip_id, saga, _):
            state.trips[trip_id].undone_moves.add(saga)
        case MoveSettled(trip_id, ticket_id, _, _):
            _change(state.trips[trip_id].tickets, ticket_id, move_pending=False)
            state.moving.pop(ticket_id, None)
        case TicketVoided(trip_id, ticket_id, at_ms):
            trip = state.trips[trip_id]
            ticket = _change(trip.tickets, ticket_id, status=TicketStatus.VOID)
            trip.revoked.append(Revocation(ticket_id, "void", at_ms))
            state.moving.pop(ticket_id, None)
            trip.occupied[ticket.seat] &= ~legs_mask(ticket.from_stop, ticket.to_stop)
        case TicketCheckedIn(trip_id, ticket_id, gate_id, at_ms):
            _change(
                state.trips[trip_id].tickets,
                ticket_id,
                status=TicketStatus.CHECKED_IN,
                checked_in_at_ms=at_ms,
                gate_id=gate_id,
            )
        case ScanConflicted(
            trip_id, ticket_id, gate_id, scanned_at_ms, reason, first_gate_id, first_at_ms, at_ms, other_ticket_id
        ):
            state.trips[trip_id].conflicts.append(
                Conflict(ticket_id, gate_id, scanned_at_ms, reason, first_gate_id, first_at_ms, at_ms, other_ticket_id)
            )
        case TripDeparted(trip_id, at_ms, staff, note):
            trip = state.trips[trip_id]
            trip.departed_at_ms = at_ms
            trip.departure_staff, trip.departure_note = staff, note
        case TripCancelled(trip_id, at_ms):
            state.trips[trip_id].cancelled_at_ms = at_ms
            state.trips[trip_id].revoked.append(Revocation("", "trip_cancelled", at_ms))
        case TripDelayed(trip_id, delay_ms, _):
            trip = state.trips[trip_id]
            trip.delay_ms = delay_ms
            trip.view_cache.clear()  # stop times changed
        case GateAssigned(trip_id, gate, _, _):
            trip = state.trips[trip_id]
            trip.gate = gate
            trip.view_cache.clear()  # trip views show the gate
        case CrewRecorded(trip_id, vehicle_id, plate, driver_id, at_ms):
            trip = state.trips[trip_id]
            trip.crew = Crew(vehicle_id, plate, driver_id, at_ms)
            trip.view_cache.clear()  # trip views show the plate
        case SafetyChecked(trip_id, passed, items, inspector, note, at_ms):
            trip = state.trips[trip_id]
            trip.safety = SafetyCheck(passed, items, inspector, note, at_ms)
            trip.view_cache.clear()  # trip views show whether it passed
        case OrderCreated(
            trip_id,
            order_id,
            hold_id,
            buyer,
            method,
            amount_fen,
            pay_by_ms,
            at_ms,
            seats,
            from_stop,
            to_stop,
            fare_fen,
            holders,
            fares,
        ):
            trip = state.trips[trip_id]
            trip.orders[order_id] = Order(
                order_id,
                hold_id,
                buyer,
                method,
                amount_fen,
                pay_by_ms,
                at_ms,
                seats=seats,
                from_stop=from_stop,
                to_stop=to_stop,
                fare_fen=fare_fen,
                holders=holders,
                history=((OrderStatus.PENDING_PAYMENT.value, at_ms),),
                fares=fares,
                shift_id=event.shift_id,
            )
            trip.orders_placed += 1
            trip.order_of_hold[hold_id] = order_id
            if buyer:
                state.orders_by_buyer.setdefault(buyer, set()).add(order_id)
        case PaymentRecorded(trip_id, order_id, payment):
            orders = state.trips[trip_id].orders
            _change(orders, order_id, payments=orders[order_id].payments + (payment,))
        case OrderTicketed(trip_id, order_id, ticket_ids, at_ms, provider_txn_id):
            trip = state.trips[trip_id]
            order = _change(trip.orders, order_id, ticket_ids=ticket_ids, paid_by=provider_txn_id)
            trip.order_of_hold.pop(order.hold_id, None)
            for ticket_id in ticket_ids:
                _change(trip.tickets, ticket_id, order_id=order_id)
            _order_status(trip, order_id, OrderStatus.PAID, at_ms)
            _order_status(trip, order_id, OrderStatus.TICKETED, at_ms)
        case OrderExpired(trip_id, order_id, at_ms) | OrderCancelled(trip_id, order_id, at_ms):
            trip = state.trips[trip_id]
            trip.order_of_hold.pop(trip.orders[order_id].hold_id, None)
            _order_status(
                trip, order_id, OrderStatus.EXPIRED if isinstance(event, OrderExpired) else OrderStatus.CANCELLED, at_ms
            )
        case RefundRequested(trip_id, order_id, refund):
            trip = state.trips[trip_id]
            order = _change(trip.orders, order_id, refunds=trip.orders[order_id].refunds + (refund,))
            if refund.ticket_ids:
                done = all(trip.tickets[t].status is TicketStatus.REFUNDED for t in order.ticket_ids)
                _order_status(
                    trip,
                    order_id,
                    OrderStatus.REFUNDED if done else OrderStatus.PARTIALLY_REFUNDED,
                    refund.requested_at_ms,
                )
        case RefundSettled(trip_id, order_id, refund_no, provider_refund_id, at_ms):
            orders = state.trips[trip_id].orders
            _change(orders, order_id, settled=orders[order_id].settled + ((refund_no, provider_refund_id, at_ms),))
        case TicketsPrinted(trip_id, ticket_ids, by, request_id, at_ms):
            tickets = state.trips[trip_id].tickets
            for ticket_id in ticket_ids:
                _change(tickets, ticket_id, printed_at_ms=at_ms, printed_by=by, printed_request=request_id)
        case AllotmentLent():
            _lend(state.trips[event.trip_id], event)
        case AllotmentSettled():
            _settle_allotment(state.trips[event.trip_id], event)
        case SeatQuotaSet() | SeatQuotaCleared() | SeatsBlocked() | SeatsUnblocked() | ExtraRunAdded():
            _plan_seats(state.trips[event.trip_id], event)
        case VehicleChanged():
            _change_vehicle(state.trips[event.trip_id], event)
        case _:
            raise AssertionError(f"unknown event {event!r}")


def _change(records: dict[str, Any], key: str, **fields: Any) -> Any:
    """Replace a hold, ticket or order with a changed copy; return the copy.

    They are frozen, never changed in place: a snapshot being written on another thread may still
    hold the old one (persistence/store.py).
    """
    record = records[key] = msgspec.structs.replace(records[key], **fields)
    return record


def _order_status(trip: Trip, order_id: str, status: OrderStatus, at_ms: int) -> None:
    order = trip.orders[order_id]
    _change(trip.orders, order_id, status=status, history=order.history + ((status.value, at_ms),))


def _place_hold(state: ShardState, event: HoldPlaced) -> None:
    trip = state.trips[event.trip_id]
    mask = legs_mask(event.from_stop, event.to_stop)
    for seat in event.seats:
        assert trip.occupied[seat] & mask == 0, "a seat-leg is never held or sold twice"
        trip.occupied[seat] |= mask
    trip.holds[event.hold_id] = Hold(
        event.hold_id,
        event.seats,
        event.from_stop,
        event.to_stop,
        event.fare_fen,
        event.expires_at_ms,
        event.buyer,
        event.holders,
        event.for_move,
        event.fares,
    )
    trip.holds_placed += 1
    heapq.heappush(state.expiry, (event.expires_at_ms, event.trip_id, event.hold_id))
    if event.holders or event.fares:
        _index_documents(trip, event.hold_id, mask, event.holders, event.fares)


def _plan_seats(
    trip: Trip, event: SeatQuotaSet | SeatQuotaCleared | SeatsBlocked | SeatsUnblocked | ExtraRunAdded
) -> None:
    """Dispatch's seat plan: quotas for stops, blocked seats, and the extra-run mark."""
    all_legs = legs_mask(0, len(trip.spec.stops) - 1)
    match event:
        case SeatQuotaSet():
            trip.quotas[event.stop] = SeatQuota(
                event.stop, event.seats, event.release_at_ms, event.release_before_min, event.shared, event.at_ms
            )
        case SeatQuotaCleared():
            trip.quotas.pop(event.stop, None)
        case SeatsBlocked():
            for seat in event.seats:
                assert trip.occupied[seat] == 0, "a seat is blocked only when nothing is on it"
                trip.occupied[seat] = all_legs
                trip.blocked[seat] = event.reason
        case SeatsUnblocked():
            for seat in event.seats:
                del trip.blocked[seat]
                trip.occupied[seat] = 0
        case ExtraRunAdded():
            trip.extra_of = event.source_trip_id


# Why a seat the coach does not have is blocked (VehicleChanged).
NO_SUCH_SEAT = "vehicle"


def _change_vehicle(trip: Trip, event: VehicleChanged) -> None:
    """Move the reseated tickets, then block the seats beyond the new coach's count (nothing is
    left on them) and give back those within it that a smaller coach had blocked.  The seats
    blocked "vehicle" are thus exactly those beyond the count: the trip's seats are the rest."""
    for ticket_id, _, seat in event.reseated:
        ticket = trip.tickets[ticket_id]
        mask = legs_mask(ticket.from_stop, ticket.to_stop)
        assert trip.occupied[seat] & mask == 0, "a seat-leg is never held or sold twice"
        trip.occupied[ticket.seat] &= ~mask
        trip.occupied[seat] |= mask
        _change(trip.tickets, ticket_id, seat=seat)
    all_legs = legs_mask(0, len(trip.spec.stops) - 1)
    for seat in range(len(trip.seat_labels)):
        if seat >= event.seat_count:
            # A seat blocked already (crew, broken) was the old coach's: now it is not there at all.
            if seat not in trip.blocked:
                assert trip.occupied[seat] == 0, "a seat the coach lacks is blocked only when nothing is on it"
                trip.occupied[seat] = all_legs
            trip.blocked[seat] = NO_SUCH_SEAT
        elif seat < event.seat_count and trip.blocked.get(seat) == NO_SUCH_SEAT:
            del trip.blocked[seat]
            trip.occupied[seat] = 0
    trip.view_cache.clear()  # trip views show the seats the coach has


def vehicle_lacks(trip: Trip) -> int:
    """How many of the layout's seats the coach running the trip does not have."""
    return sum(1 for why in trip.blocked.values() if why == NO_SUCH_SEAT)


def _lend(trip: Trip, event: AllotmentLent) -> None:
    mask = legs_mask(event.from_stop, event.to_stop)
    for seat in event.seats:
        assert trip.occupied[seat] & mask == 0, "a seat-leg is never held or sold twice"
        trip.occupied[seat] |= mask
    trip.allotments[event.allotment_id] = Allotment(
        event.allotment_id, event.device, event.seats, event.from_stop, event.to_stop, event.at_ms
    )


def _settle_allotment(trip: Trip, event: AllotmentSettled) -> None:
    """Give every seat-leg of the allotment back; the TicketsIssued events after this take the
    sold ones again, as tickets."""
    allotment = trip.allotments[event.allotment_id]
    mask = legs_mask(allotment.from_stop, allotment.to_stop)
    for seat in allotment.seats:
        trip.occupied[seat] &= ~mask
    _change(trip.allotments, event.allotment_id, settled_at_ms=event.at_ms, sales=allotment.sales + event.sales)


def _drop_hold(trip: Trip, hold_id: str) -> Hold:
    hold = trip.holds.pop(hold_id)
    mask = legs_mask(hold.from_stop, hold.to_stop)
    for seat in hold.seats:
        trip.occupied[seat] &= ~mask
    return hold


def _archive(state: ShardState, trip: Trip) -> None:
    """What is left of an archived trip here: its id, so it is never scheduled again."""
    state.archived.add(trip.spec.trip_id)
    for ticket_id in trip.tickets:
        state.moving.pop(ticket_id, None)
    for order in trip.orders.values():
        if order.buyer:
            state.orders_by_buyer[order.buyer].discard(order.order_id)
            if not state.orders_by_buyer[order.buyer]:
                del state.orders_by_buyer[order.buyer]
    while state.ends and state.ends[0][1] not in state.trips:
        heapq.heappop(state.ends)


def _trim_expiry(state: ShardState) -> None:
    """Drop index entries of holds that have ended, so the earliest entry is always a live hold."""
    heap = state.expiry
    while heap:
        expires_at_ms, trip_id, hold_id = heap[0]
        trip = state.trips.get(trip_id)  # an archived trip has no holds left
        hold = trip.holds.get(hold_id) if trip is not None else None
        if hold is not None and hold.expires_at_ms == expires_at_ms:
            return
        heapq.heappop(heap)


def _issue(trip: Trip, event: TicketsIssued) -> None:
    mask = legs_mask(event.from_stop, event.to_stop)
    for_move = _drop_hold(trip, event.hold_id).for_move if event.hold_id else ""
    for issued in event.tickets:
        assert trip.occupied[issued.seat] & mask == 0, "a seat-leg is never held or sold twice"
        trip.occupied[issued.seat] |= mask
        trip.tickets[issued.ticket_id] = Ticket(  # positional, in field order: quicker than keywords
            issued.ticket_id,
            issued.seat,
            event.from_stop,
            event.to_stop,
            issued.price_fen,
            event.at_ms,
            TicketStatus.ISSUED,
            0,
            "",
            0,
            0,
            0,
            event.buyer,
            issued.holder,
            event.changed_from,
            "",
            "",
            None,
            for_move,
            event.move_pending,
            issued.fare,
            event.counter,
        )
    trip.tickets_issued += len(event.tickets)
    for issued in event.tickets:
        if issued.holder is not None or issued.fare is not None:
            fares = (issued.fare,) if issued.fare is not None else ()
            _index_documents(trip, issued.ticket_id, mask, (issued.holder,) if issued.holder else (), fares)


def _index_documents(
    trip: Trip, owner_id: str, legs: int, holders: tuple[Holder, ...], fares: tuple[Fare, ...]
) -> None:
    """Index the documents of a hold's or ticket's passengers and free children (Trip.documents)."""
    children = tuple(fare.free_child for fare in fares if fare.free_child is not None)
    for holder in (*holders, *children):
        if holder.document_index:
            trip.documents.setdefault(holder.document_index, {})[owner_id] = legs


def check_invariants(state: ShardState) -> None:
    """Held + sold + free = capacity on every leg, and no seat-leg is held or sold twice."""
    for trip in state.trips.values():
        claimed = [0] * len(trip.seat_labels)
        claims = [(h.seats, h.from_stop, h.to_stop) for h in trip.holds.values()]
        claims += [((t.seat,), t.from_stop, t.to_stop) for t in trip.tickets.values() if t.status not in RELEASED]
        claims += [(a.seats, a.from_stop, a.to_stop) for a in trip.allotments.values() if not a.settled_at_ms]
        claims += [((seat,), 0, len(trip.spec.stops) - 1) for seat in trip.blocked]
        for seats, from_stop, to_stop in claims:
            mask = legs_mask(from_stop, to_stop)
            for seat in seats:
                assert claimed[seat] & mask == 0, f"{trip.spec.trip_id}: seat {seat} claimed twice"
                claimed[seat] |= mask
        assert claimed == trip.occupied, f"{trip.spec.trip_id}: occupancy does not match holds and tickets"
        assert trip.holds_placed >= len(trip.holds) and trip.tickets_issued == len(trip.tickets)
        _check_quotas(trip)
        for order in trip.orders.values():
            paid = sum(p.amount_fen for p in order.payments)
            assert sum(r.amount_fen for r in order.refunds) <= paid, f"{order.order_id}: refunds exceed payments"
        # A revoked credential's ticket never boards again, and a trip is revoked whole only once cancelled.
        for revocation in trip.revoked:
            if revocation.ticket_id:
                status = trip.tickets[revocation.ticket_id].status
                assert status in RELEASED, f"{revocation.ticket_id}: revoked, but {status.value}"
            else:
                assert trip.cancelled_at_ms, f"{trip.spec.trip_id}: revoked whole, but not cancelled"


def _check_quotas(trip: Trip) -> None:
    """Quota seats are neither blocked nor in two quotas; held + sold + blocked + kept for a
    quota stays within the coach on every leg; and a ticket boarding at a stop a quota does not
    serve took a quota seat's reserved legs only after its release time."""
    in_quota: dict[int, SeatQuota] = {}
    for quota in trip.quotas.values():
        for seat in quota.seats:
            assert seat not in trip.blocked, f"{trip.spec.trip_id}: seat {seat} is blocked and in a quota"
            assert seat not in in_quota, f"{trip.spec.trip_id}: seat {seat} is in two quotas"
            in_quota[seat] = quota
    last = len(trip.spec.stops) - 1
    for leg in range(last):
        bit = 1 << leg
        taken = sum(1 for bits in trip.occupied if bits & bit)
        kept = sum(1 for seat, quota in in_quota.items() if quota.stop <= leg and not trip.occupied[seat] & bit)
        assert taken + kept <= len(trip.seat_labels), f"{trip.spec.trip_id}: leg {leg} is oversold"
    for ticket in trip.tickets.values():
        quota = in_quota.get(ticket.seat)
        if quota is None or ticket.status in RELEASED or ticket.from_stop == quota.stop:
            continue
        if quota.shared and ticket.from_stop > quota.stop:
            continue
        if not legs_mask(ticket.from_stop, ticket.to_stop) & legs_mask(quota.stop, last):
            continue
        if ticket.issued_at_ms < quota.set_at_ms:
            continue  # sold before the quota was set: a quota is set only on seats free from its stop
        # The earliest the quota can have released its seats: a delay only makes it later.
        earliest = quota.release_at_ms or (
            trip.timetable_ms[quota.stop] - quota.release_before_min * 60_000 if quota.release_before_min else 0
        )
        assert earliest and ticket.issued_at_ms >= earliest, (
            f"{trip.spec.trip_id}: ticket {ticket.ticket_id} took a seat kept for stop {quota.stop} before its release"
        )


class TripRecord(Value):
    """Everything about a trip that is not derived from its spec, for snapshots: a Trip's record
    form (its caches and indexes are rebuilt from it).

    Nothing in it changes afterwards (holds, tickets and orders are frozen; the rest is copied),
    so a snapshot can be written from it on another thread while the owner goes on.
    """

    spec: TripSpec
    occupied: tuple[int, ...]
    holds: tuple[Hold, ...]
    tickets: tuple[Ticket, ...]
    expired_holds: dict[str, int]
    departed_at_ms: int
    cancelled_at_ms: int
    holds_placed: int
    tickets_issued: int
    orders: tuple[Order, ...]
    orders_placed: int
    delay_ms: int
    undone_moves: tuple[str, ...]
    revoked: tuple[Revocation, ...] = ()
    allotments: tuple[Allotment, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    gate: str = ""
    quotas: tuple[SeatQuota, ...] = ()
    blocked: tuple[tuple[int, str], ...] = ()
    extra_of: str = ""
    crew: Crew | None = None
    safety: SafetyCheck | None = None
    departure_staff: tuple[StaffOnBoard, ...] = ()
    departure_note: str = ""


def trip_record(trip: Trip) -> TripRecord:
    return TripRecord(
        trip.spec,
        tuple(trip.occupied),
        tuple(trip.holds.values()),
        tuple(trip.tickets.values()),
        dict(trip.expired_holds),
        trip.departed_at_ms,
        trip.cancelled_at_ms,
        trip.holds_placed,
        trip.tickets_issued,
        tuple(trip.orders.values()),
        trip.orders_placed,
        trip.delay_ms,
        tuple(sorted(trip.undone_moves)),
        tuple(trip.revoked),
        tuple(trip.allotments.values()),
        tuple(trip.conflicts),
        trip.gate,
        tuple(trip.quotas.values()),
        tuple(sorted(trip.blocked.items())),
        trip.extra_of,
        trip.crew,
        trip.safety,
        trip.departure_staff,
        trip.departure_note,
    )


def state_of(record: TripRecord) -> ShardState:
    """A state holding only the trip of one record: an archived trip, read again."""
    state = ShardState()
    restore_trip(state, record)
    return state


def record_buyers(record: TripRecord) -> set[str]:
    """The accounts that made orders on a trip, from its record."""
    return {order.buyer for order in record.orders if order.buyer}


def restore_trip(state: ShardState, record: TripRecord) -> None:
    """Put a trip back from its snapshot record (the inverse of trip_record)."""
    (
        spec,
        occupied,
        holds,
        tickets,
        expired_holds,
        departed_at_ms,
        cancelled_at_ms,
        holds_placed,
        tickets_issued,
        orders,
        orders_placed,
        delay_ms,
        undone_moves,
        revoked,
        allotments,
        conflicts,
        gate,
        quotas,
        blocked,
        extra_of,
        crew,
        safety,
        departure_staff,
        departure_note,
    ) = msgspec.structs.astuple(record)
    trip = Trip.new(spec)
    trip.occupied = list(occupied)
    trip.holds = {hold.hold_id: hold for hold in holds}
    trip.tickets = {ticket.ticket_id: ticket for ticket in tickets}
    trip.expired_holds = dict(expired_holds)
    trip.departed_at_ms, trip.cancelled_at_ms = departed_at_ms, cancelled_at_ms
    trip.holds_placed, trip.tickets_issued = holds_placed, tickets_issued
    trip.orders, trip.orders_placed, trip.delay_ms = (
        {order.order_id: order for order in orders},
        orders_placed,
        delay_ms,
    )
    trip.undone_moves = set(undone_moves)
    trip.revoked = list(revoked)
    trip.allotments = {allotment.allotment_id: allotment for allotment in allotments}
    trip.conflicts = list(conflicts)
    trip.gate = gate
    trip.quotas = {quota.stop: quota for quota in quotas}
    trip.blocked = dict(blocked)
    trip.extra_of = extra_of
    trip.crew, trip.safety = crew, safety
    trip.departure_staff, trip.departure_note = departure_staff, departure_note
    state.moving.update(
        (ticket.ticket_id, spec.trip_id) for ticket in tickets if ticket.moving() or ticket.pending_move()
    )
    for order in orders:
        if order.status is OrderStatus.PENDING_PAYMENT:
            trip.order_of_hold[order.hold_id] = order.order_id
        if order.buyer:
            state.orders_by_buyer.setdefault(order.buyer, set()).add(order.order_id)
    for hold in holds:
        _index_documents(trip, hold.hold_id, legs_mask(hold.from_stop, hold.to_stop), hold.holders, hold.fares)
    for ticket in tickets:
        if ticket.holder is not None or ticket.fare is not None:
            _index_documents(
                trip,
                ticket.ticket_id,
                legs_mask(ticket.from_stop, ticket.to_stop),
                (ticket.holder,) if ticket.holder else (),
                (ticket.fare,) if ticket.fare is not None else (),
            )
    state.trips[spec.trip_id] = trip
    heapq.heappush(state.ends, (timetable_end_ms(spec), spec.trip_id))
    for hold in holds:
        heapq.heappush(state.expiry, (hold.expires_at_ms, spec.trip_id, hold.hold_id))
