"""What owners answer: plain values rendered from state, for commands (`render`) and queries (`answer`).

A command's reply is rendered right after its events are applied, from state and the batch's
`now` alone, so replaying the journal renders the very same replies for the idempotency window.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterable, Iterator

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
    CheckChange,
    CheckIn,
    ClearChange,
    CompareTrip,
    ConfirmHold,
    CreateOrder,
    DelayTrip,
    DepartTrip,
    FindPickUps,
    FindTickets,
    GetManifest,
    GetOrder,
    GetRevocations,
    GetSeatMap,
    GetTicket,
    GetTrip,
    ListBoardingTrips,
    ListConflicts,
    ListDepartures,
    ListFlowCoachesDue,
    ListMoney,
    ListMoves,
    ListOrders,
    ListStations,
    PickUpTickets,
    Ping,
    PlaceHold,
    QuoteHold,
    QuoteRefund,
    RecordPayment,
    Refund,
    RefundOrder,
    ReleaseHold,
    ScheduleTrip,
    SearchTrips,
    Sell,
    SettleMove,
    SettleRefund,
    SweepHolds,
    TripCommand,
    TripOwnerQuery,
    UndoMove,
    VoidTicket,
    order_trip,
)
from .counter_sales import ShiftTickets, VoidSale, shift_tickets
from .crew import RecordCrew, RecordSafetyCheck
from .decide import (
    TripStatus,
    find_order,
    find_segment,
    find_trip,
    hold_terms,
    move_refusal,
    own_ticket,
    refund_ticket,
    segment_status,
)
from .events import (
    Fare,
    Holder,
    HoldExpired,
    HoldPlaced,
    OrderCreated,
    Payment,
    RefundPart,
    ScanConflicted,
    StaffOnBoard,
    TicketCheckedIn,
    TicketRefunded,
    TicketsIssued,
    TripEvent,
)
from .network import AISLE, TripSpec
from .policy import Policy
from .reasons import Reason, Rejection, reject
from .state import (
    Conflict,
    Order,
    OrderStatus,
    Revocation,
    ShardState,
    Ticket,
    TicketStatus,
    Trip,
    TripRecord,
    legs_mask,
    state_of,
    vehicle_lacks,
)
from .values import Reply, Value


class StopView(Value):
    code: str
    name: str
    departs_at_ms: int


class TripView(Value, Reply):
    trip_id: str
    schedule_id: str
    route_id: str
    route_name: str
    operator_name: str
    vehicle_name: str
    stops: tuple[StopView, ...]
    status: TripStatus
    seats_total: int
    operator_id: str = ""  # for operator-scoped staff; not shown to passengers
    gate: str = ""  # the gate or bay it boards at (Dispatch/AssignGate), "" until named
    # The crew reported in (Fleet/ReportIn), "" until then; the driver by id only (their name is
    # personal data, kept by the accounts owner, encrypted).
    vehicle_id: str = ""
    plate: str = ""
    driver_id: str = ""
    safety_check: str = ""  # the last safety check: "passed", "failed", or "" for none yet
    flow_max_wait_min: int = 0  # a departure-when-full coach (流水班): its maximum wait; 0 otherwise


class OfferView(Value):
    """A trip as a search result for one segment."""

    trip: TripView
    from_stop: StopView
    to_stop: StopView
    fare_fen: int
    seats_free: int
    status: TripStatus


class SeatView(Value):
    label: str  # AISLE for the gap between seat groups
    free: bool


class SeatMapView(Value, Reply):
    trip_id: str
    from_stop: StopView
    to_stop: StopView
    fare_fen: int
    seats_free: int
    rows: tuple[tuple[SeatView, ...], ...]


class HoldView(Value, Reply):
    hold_id: str
    trip_id: str
    from_stop: StopView
    to_stop: StopView
    seat_labels: tuple[str, ...]
    fare_fen: int
    expires_at_ms: int
    holders: tuple[Holder, ...] = ()
    fares: tuple[Fare, ...] = ()  # one per seat, when held by ticket type

    @property
    def total_fen(self) -> int:
        return sum(fare.total_fen for fare in self.fares) if self.fares else self.fare_fen * len(self.seat_labels)


class TicketView(Value, Reply):
    ticket_id: str
    trip: TripView
    from_stop: StopView
    to_stop: StopView
    seat_label: str
    price_fen: int
    status: TicketStatus
    issued_at_ms: int
    checked_in_at_ms: int
    gate_id: str
    refund_fee_fen: int
    refunded_fen: int
    refunded_at_ms: int
    holder: Holder | None = None
    changed_from: str = ""
    changed_to: str = ""
    buyer: str = ""  # the passenger account that bought it, if one did (not shown to clients)
    order_id: str = ""
    fare: Fare | None = None  # its components and type; None: a full fare of price_fen
    # Picked up (取票, engine/pickup.py): when, by which account, by which request (not shown to clients).
    printed_at_ms: int = 0
    printed_by: str = ""
    printed_request: str = ""


class TicketsView(Value, Reply):
    tickets: tuple[TicketView, ...]

    @property
    def total_fen(self) -> int:
        return sum(ticket.price_fen for ticket in self.tickets)


class ManifestView(Value, Reply):
    trip: TripView
    tickets: tuple[TicketView, ...]  # every ticket ever issued, refunded ones included, by seat
    # Recorded at departure (Dispatch/DepartTrip): when (0: not yet), the crew on board besides
    # the driver (names masked), and the note; for the trip sheet (engine/trip_sheet.py).
    departed_at_ms: int = 0
    staff: tuple[StaffOnBoard, ...] = ()
    departure_note: str = ""

    def count(self, status: TicketStatus) -> int:
        return sum(1 for ticket in self.tickets if ticket.status is status)


class ConflictedScanView(Value, Reply):
    """The reply to an uploaded offline scan that could not be applied: recorded as a conflict."""

    trip_id: str
    ticket_id: str
    gate_id: str
    scanned_at_ms: int
    reason: str  # ALREADY_CHECKED_IN, ALREADY_REFUNDED or TICKET_CHANGED
    first_gate_id: str
    first_at_ms: int


class ConflictsView(Value, Reply):
    """A trip's conflicts: uploaded offline scans that could not be applied, in order."""

    trip_id: str
    conflicts: tuple[Conflict, ...]


class RevocationsView(Value, Reply):
    """A trip's revocations after a position, and the position after them (their count)."""

    trip_id: str
    revoked: tuple[Revocation, ...]
    position: int
    departed: bool  # the coach has left its first stop: nothing more boards, the gate may drop it


class BoardingTripsView(Value, Reply):
    """Trips leaving a station in a window: (when the coach leaves it, the trip), by time."""

    trips: tuple[tuple[int, TripView], ...]


class ScheduledView(Value, Reply):
    trip_id: str
    created: bool  # False: the same trip was already scheduled


class TripComparison(Value, Reply):
    """What ScheduleTrip(spec, replace_unsold=True) would do now (CompareTrip)."""

    trip_id: str
    # "new"; "same" (that definition, nothing done on it) or "same_used" (sold, held, cancelled...);
    # "replace" (another definition, nothing done on it) or "sold" (another, and it keeps it); "archived".
    verdict: str


class ReleasedView(Value, Reply):
    hold_id: str


class OrderView(Value, Reply):
    order_id: str
    trip: TripView
    status: OrderStatus
    buyer: str
    method: str
    amount_fen: int
    pay_by_ms: int
    created_at_ms: int
    from_stop: StopView
    to_stop: StopView
    seat_labels: tuple[str, ...]
    holders: tuple[Holder, ...]
    tickets: tuple[TicketView, ...]
    payments: tuple[Payment, ...]
    refunds: tuple[RefundPart, ...]
    settled: tuple[tuple[str, str, int], ...]
    history: tuple[tuple[str, int], ...]
    fare_fen: int = 0  # the segment's full fare per seat
    fares: tuple[Fare, ...] = ()  # one per seat, when sold by ticket type


class OrdersView(Value, Reply):
    orders: tuple[OrderView, ...]


class MoneyLine(Value):
    method: str
    provider_txn_id: str  # the payment's; a refund's line names the payment it went back through
    order_id: str
    amount_fen: int
    kind: str  # "PAY" or "REFUND"
    at_ms: int


class MoneyView(Value, Reply):
    lines: tuple[MoneyLine, ...]


class SweptView(Value, Reply):
    hold_ids: tuple[str, ...]


class ArchivedView(Value, Reply):
    trip_ids: tuple[str, ...]


class OffersView(Value, Reply):
    offers: tuple[OfferView, ...]
    stations_known: frozenset[str]  # which of the two searched stations some trip here serves


class RefundQuoteView(Value, Reply):
    """A refund's fee and the amount paid back, were the ticket refunded now (QuoteRefund)."""

    ticket_id: str
    fee_fen: int
    refund_fen: int


class PongView(Value, Reply):
    """The answer to a Ping: nothing."""


class StationsView(Value, Reply):
    stations: tuple[tuple[str, str], ...]  # (code, name)


class FlowCoachesView(Value, Reply):
    trip_ids: tuple[str, ...]


class MovesView(Value, Reply):
    """Rebookings whose saga looks interrupted (ListMoves): what the gateway needs to undo each."""

    moves: tuple[tuple[str, str, str], ...]  # (old ticket id, saga, new trip id)


def stop_views(trip: Trip) -> tuple[StopView, ...]:
    stops = trip.view_cache.get("stops")
    if stops is None:
        stops = trip.view_cache["stops"] = tuple(
            StopView(stop.code, stop.name, trip.departs_at_ms(k)) for k, stop in enumerate(trip.spec.stops)
        )
    return stops


def stop_view(trip: Trip, stop: int) -> StopView:
    return stop_views(trip)[stop]


def trip_view(trip: Trip, now: int, policy: Policy, status: TripStatus | None = None) -> TripView:
    """The trip as of `now` (or with a status given); one value per status, made once."""
    status = status or segment_status(trip, 0, now, policy)
    view = trip.view_cache.get(status)
    if view is None:
        spec = trip.spec
        view = trip.view_cache[status] = TripView(
            trip_id=spec.trip_id,
            schedule_id=spec.schedule_id,
            route_id=spec.route_id,
            route_name=spec.route_name,
            operator_name=spec.operator_name,
            vehicle_name=spec.vehicle_name,
            stops=stop_views(trip),
            status=status,
            seats_total=len(trip.seat_labels) - vehicle_lacks(trip),  # the coach running it (VehicleChanged)
            operator_id=spec.operator_id,
            gate=trip.gate,
            vehicle_id=trip.crew.vehicle_id if trip.crew else "",
            plate=trip.crew.plate if trip.crew else "",
            driver_id=trip.crew.driver_id if trip.crew else "",
            safety_check=("passed" if trip.safety.passed else "failed") if trip.safety else "",
            flow_max_wait_min=spec.flow_max_wait_min,
        )
    return view


def ticket_view(
    trip: Trip, ticket: Ticket, now: int, policy: Policy, trip_status: TripStatus | None = None
) -> TicketView:
    stops = stop_views(trip)
    # Positional, in TicketView's field order: a Struct made with keywords costs twice as much.
    return TicketView(
        ticket.ticket_id,
        trip_view(trip, now, policy, trip_status),
        stops[ticket.from_stop],
        stops[ticket.to_stop],
        trip.seat_labels[ticket.seat],
        ticket.price_fen,
        ticket.status,
        ticket.issued_at_ms,
        ticket.checked_in_at_ms,
        ticket.gate_id,
        ticket.refund_fee_fen,
        ticket.refunded_fen,
        ticket.refunded_at_ms,
        ticket.holder,
        ticket.changed_from,
        ticket.changed_to,
        ticket.buyer,
        ticket.order_id,
        ticket.fare,
        ticket.printed_at_ms,
        ticket.printed_by,
        ticket.printed_request,
    )


def _issued_views(
    trip: Trip, issued: TicketsIssued, now: int, policy: Policy, trip_status: TripStatus | None
) -> TicketsView:
    """`ticket_view` of the tickets as `issued` made them, built straight from the event: every sale
    and confirm renders them, and Ticket records in between would cost about as much again.  Keep it
    in step with ticket_view and with the Ticket that state._issue makes."""
    stops, labels = stop_views(trip), trip.seat_labels
    view = trip_view(trip, now, policy, trip_status)
    from_stop, to_stop = stops[issued.from_stop], stops[issued.to_stop]
    at_ms, changed_from, buyer = issued.at_ms, issued.changed_from, issued.buyer
    return TicketsView(
        tuple(
            [
                TicketView(
                    t.ticket_id,
                    view,
                    from_stop,
                    to_stop,
                    labels[t.seat],
                    t.price_fen,
                    TicketStatus.ISSUED,
                    at_ms,
                    0,
                    "",
                    0,
                    0,
                    0,
                    t.holder,
                    changed_from,
                    "",
                    buyer,
                    "",
                    t.fare,
                )
                for t in issued.tickets
            ]
        )
    )


def render(
    state: ShardState,
    command: TripCommand,
    events: tuple[TripEvent, ...],
    now: int,
    policy: Policy,
    trip_status: TripStatus | None,
) -> Reply:
    """The reply to a command, as it was when its events were applied at `now`.

    Only the events, `now`, the trip's status right after them, and what never changes (trip specs,
    where a ticket sits) are read, so the same reply can be rendered again later for a retry: the
    idempotency window keeps those, not replies.
    """
    match command:  # the commands of every sale first
        case PlaceHold():
            (placed,) = events
            assert isinstance(placed, HoldPlaced)
            trip = state.trips[placed.trip_id]
            stops, labels = stop_views(trip), trip.seat_labels
            return HoldView(
                placed.hold_id,
                placed.trip_id,
                stops[placed.from_stop],
                stops[placed.to_stop],
                tuple([labels[seat] for seat in placed.seats]),  # a list is quicker to make than a generator
                placed.fare_fen,
                placed.expires_at_ms,
                placed.holders,
                placed.fares,
            )
        case Sell() | ConfirmHold():
            (issued,) = events
            assert isinstance(issued, TicketsIssued)
            return _issued_views(state.trips[issued.trip_id], issued, now, policy, trip_status)
        case ScheduleTrip():
            return ScheduledView(command.spec.trip_id, created=bool(events))
        case Refund():
            (refunded,) = events
            assert isinstance(refunded, TicketRefunded)
            trip = state.trips[command.trip_id]
            then = msgspec.structs.replace(
                _as_issued(trip.tickets[command.ticket_id]),
                status=TicketStatus.REFUNDED,
                refund_fee_fen=refunded.fee_fen,
                refunded_fen=refunded.refund_fen,
                refunded_at_ms=refunded.at_ms,
            )
            return ticket_view(trip, then, now, policy, trip_status)
        case CheckIn():
            (checked,) = events
            if isinstance(checked, ScanConflicted):
                return ConflictedScanView(
                    checked.trip_id,
                    checked.ticket_id,
                    checked.gate_id,
                    checked.scanned_at_ms,
                    checked.reason,
                    checked.first_gate_id,
                    checked.first_at_ms,
                )
            assert isinstance(checked, TicketCheckedIn)
            trip = state.trips[command.trip_id]
            then = msgspec.structs.replace(
                _as_issued(trip.tickets[command.ticket_id]),
                status=TicketStatus.CHECKED_IN,
                checked_in_at_ms=checked.at_ms,
                gate_id=checked.gate_id,
            )
            return ticket_view(trip, then, now, policy, trip_status)
        case ReleaseHold():
            return ReleasedView(command.hold_id)
        case DepartTrip() | CancelTrip() | DelayTrip() | AssignGate() | RecordCrew() | RecordSafetyCheck():
            return trip_view(state.trips[command.trip_id], now, policy, trip_status)
        case SweepHolds():
            return SweptView(tuple(event.hold_id for event in events if isinstance(event, HoldExpired)))
        case ArchiveTrips():
            return ArchivedView(tuple(event.trip_id for event in events))
        case UndoMove():
            return trip_view(state.trips[command.trip_id], now, policy, trip_status)
        case ChangeTicket() | VoidTicket() | VoidSale() | BeginChange() | AbortChange() | ClearChange() | SettleMove():
            trip = state.trips[command.trip_id]
            return ticket_view(trip, trip.tickets[command.ticket_id], now, policy, trip_status)
        case CreateOrder() | RecordPayment() | CancelOrder() | RefundOrder() | SettleRefund():
            # The order as it stands now (a retry sees its latest state, which is what a client
            # following an order wants).
            trip = state.trips[command.trip_id]
            return order_view(trip, trip.orders[_order_id(command, events)], now, policy)
        case PickUpTickets():
            from .pickup import picked_up  # late: the pick-up's rules build on this module's

            return picked_up(state.trips[command.trip_id], command, now, policy)
    from .seat_plan import render_plan  # late: the seat plan's views build on this module's

    planned = render_plan(state, command, now, policy)
    if planned is not None:
        return planned
    from .handheld import render_handheld  # late: the handheld's views build on this module's

    return render_handheld(state, command, events, policy)


def _money(state: ShardState, start_ms: int, end_ms: int) -> Iterator[MoneyLine]:
    for trip in state.trips.values():
        for order in trip.orders.values():
            for payment in order.payments:
                if start_ms <= payment.paid_at_ms < end_ms:
                    yield MoneyLine(
                        payment.method,
                        payment.provider_txn_id,
                        order.order_id,
                        payment.amount_fen,
                        "PAY",
                        payment.paid_at_ms,
                    )
            refunds = {refund.refund_no: refund for refund in order.refunds}
            for refund_no, _, at_ms in order.settled:
                if start_ms <= at_ms < end_ms:
                    refund = refunds[refund_no]
                    yield MoneyLine(
                        refund.method, refund.provider_txn_id, order.order_id, refund.amount_fen, "REFUND", at_ms
                    )


def _order_id(
    command: CreateOrder | RecordPayment | CancelOrder | RefundOrder | SettleRefund, events: tuple[TripEvent, ...]
) -> str:
    if isinstance(command, CreateOrder):
        created = next((e for e in events if isinstance(e, OrderCreated)), None)
        if created is not None:
            return created.order_id
        raise AssertionError("CreateOrder always creates")
    return command.order_id


def orders_view(views: Iterable[OrderView]) -> OrdersView:
    """An account's orders, oldest first."""
    return OrdersView(tuple(sorted(views, key=lambda v: (v.created_at_ms, v.order_id))))


def order_view(trip: Trip, order: Order, now: int, policy: Policy) -> OrderView:
    return OrderView(
        order_id=order.order_id,
        trip=trip_view(trip, now, policy),
        status=order.status,
        buyer=order.buyer,
        method=order.method,
        amount_fen=order.amount_fen,
        pay_by_ms=order.pay_by_ms,
        created_at_ms=order.created_at_ms,
        from_stop=stop_view(trip, order.from_stop),
        to_stop=stop_view(trip, order.to_stop),
        seat_labels=tuple(trip.seat_labels[seat] for seat in order.seats),
        holders=order.holders,
        tickets=tuple(ticket_view(trip, trip.tickets[t], now, policy) for t in order.ticket_ids),
        payments=order.payments,
        refunds=order.refunds,
        settled=order.settled,
        history=order.history,
        fare_fen=order.fare_fen,
        fares=order.fares,
    )


def _as_issued(ticket: Ticket) -> Ticket:
    """A copy of the ticket as it was when issued: its seat and price never change, the rest does."""
    return msgspec.structs.replace(
        Ticket(ticket.ticket_id, ticket.seat, ticket.from_stop, ticket.to_stop, ticket.price_fen, ticket.issued_at_ms),
        fare=ticket.fare,
    )


def _flow_coaches_due(state: ShardState, now: int, limit: int) -> list[str]:
    """Flow coaches whose first sale is at least their maximum wait ago, still loading."""
    due = []
    for trip in state.trips.values():
        wait_ms = trip.spec.flow_max_wait_min * 60_000
        if not wait_ms or trip.departed_at_ms or trip.cancelled_at_ms or not trip.tickets:
            continue
        if min(ticket.issued_at_ms for ticket in trip.tickets.values()) + wait_ms <= now:
            due.append(trip.spec.trip_id)
            if len(due) >= limit:
                break
    return due


def answer(state: ShardState, query: TripOwnerQuery, now: int, policy: Policy) -> Reply | Rejection:
    """The reply to a read-only query."""
    match query:
        case SearchTrips():
            wanted = {query.from_station, query.to_station}
            known = frozenset(code for code in wanted if any(code in trip.stop_index for trip in state.trips.values()))
            return OffersView(tuple(_offers(state, query, now, policy)), known)
        case ListBoardingTrips(station, start_ms, end_ms):
            return BoardingTripsView(tuple(_boarding_trips(state, station, start_ms, end_ms, now, policy)))
        case ListDepartures():
            from .board import departures  # late: the board's views build on this module's

            return departures(state, query, now, policy)
        case ListStations():
            stops = {stop.code: stop.name for trip in state.trips.values() for stop in trip.spec.stops}
            return StationsView(tuple(sorted(stops.items())))
        case ListMoney(start_ms, end_ms):
            return MoneyView(tuple(_money(state, start_ms, end_ms)))
        case Ping():
            return PongView()
        case ListFlowCoachesDue(limit):
            return FlowCoachesView(tuple(_flow_coaches_due(state, now, limit)))
        case ListMoves(older_than_ms, limit):
            return MovesView(tuple(_interrupted_moves(state, now - older_than_ms, limit)))
        case FindTickets(document_index, phone_index, limit):
            return TicketsView(tuple(_passenger_tickets(state, document_index, phone_index, limit, now, policy)))
        case ShiftTickets(shift_id):
            return shift_tickets(state, shift_id)
        case FindPickUps(document_index):
            from .pickup import pick_ups  # late: the pick-up's rules build on this module's

            return pick_ups(state, document_index, now, policy)
        case CompareTrip(spec):
            return _compare(state, spec)
        case ListOrders(buyer):
            ids = state.orders_by_buyer.get(buyer, ())
            views = [
                order_view(state.trips[order_trip(i)], state.trips[order_trip(i)].orders[i], now, policy) for i in ids
            ]
            return orders_view(views)
    trip = find_trip(state, query.trip_id)
    if isinstance(trip, Rejection):
        return trip
    match query:
        case GetTrip():
            return trip_view(trip, now, policy)
        case GetOrder(order_id, viewer):
            order = find_order(trip, order_id, viewer)
            return order if isinstance(order, Rejection) else order_view(trip, order, now, policy)
        case GetSeatMap():
            return _seat_map(trip, query, now, policy)
        case GetTicket():
            ticket = trip.tickets.get(query.ticket_id)
            if ticket is None or (query.viewer and ticket.buyer != query.viewer):  # a passenger sees only their own
                return reject(Reason.UNKNOWN_TICKET, f"no ticket {query.ticket_id}", ticket_id=query.ticket_id)
            return ticket_view(trip, ticket, now, policy)
        case QuoteRefund(ticket_id, viewer):
            ticket = trip.tickets.get(ticket_id)
            if ticket is None or (viewer and ticket.buyer != viewer):  # a passenger quotes only their own
                return reject(Reason.UNKNOWN_TICKET, f"no ticket {ticket_id}", ticket_id=ticket_id)
            # Refund's own rule at `now`: a quote can never differ from the refund made at once.
            refunded = refund_ticket(trip, ticket_id, now, policy)
            if isinstance(refunded, Rejection):
                return refunded
            return RefundQuoteView(ticket_id, refunded.fee_fen, refunded.refund_fen)
        case CheckChange(ticket_id, new_trip_id, new_route_id, viewer):
            # BeginChange's own checks at `now`: the quote is refused as the rebooking would be.
            ticket = own_ticket(trip, ticket_id, viewer)
            if isinstance(ticket, Rejection):
                return ticket
            refusal = move_refusal(trip, ticket, new_trip_id, new_route_id, now, policy)
            return refusal if refusal is not None else ticket_view(trip, ticket, now, policy)
        case QuoteHold():
            return _unplaced_hold(trip, query, now, policy)
        case ListConflicts():
            return ConflictsView(trip.spec.trip_id, tuple(trip.conflicts))
        case GetRevocations(_, after):
            return RevocationsView(
                trip.spec.trip_id, tuple(trip.revoked[after:]), len(trip.revoked), bool(trip.departed_at_ms)
            )
        case GetManifest():
            tickets = sorted(trip.tickets.values(), key=lambda t: (t.seat, t.from_stop, t.ticket_id))
            return ManifestView(
                trip_view(trip, now, policy),
                tuple(ticket_view(trip, t, now, policy) for t in tickets),
                trip.departed_at_ms,
                trip.departure_staff,
                trip.departure_note,
            )
    from .seat_plan import answer_plan  # late: the seat plan's views build on this module's

    plan = answer_plan(trip, query, now, policy)
    if plan is not None:
        return plan
    from .handheld import GetAllotment, answer_handheld  # late: the handheld's views build on this module's

    assert isinstance(query, GetAllotment), f"unknown query {query!r}"
    return answer_handheld(trip, query, policy)


def _unplaced_hold(trip: Trip, query: QuoteHold, now: int, policy: Policy) -> HoldView | Rejection:
    """The hold PlaceHold would place now, by its own terms (hold_terms), with no id and no
    expiry: nothing is placed."""
    terms = hold_terms(trip, query, now, policy)
    if isinstance(terms, Rejection):
        return terms
    (i, j), seats, fares = terms
    return HoldView(
        "",
        trip.spec.trip_id,
        stop_view(trip, i),
        stop_view(trip, j),
        tuple([trip.seat_labels[seat] for seat in seats]),
        trip.fares[(i, j)],
        0,
        query.holders,
        fares,
    )


def _boarding_trips(
    state: ShardState, station: str, start_ms: int, end_ms: int, now: int, policy: Policy
) -> list[tuple[int, TripView]]:
    """Trips whose coach leaves `station` (not its last stop) in [start_ms, end_ms), by that time."""
    found = []
    for trip in state.trips.values():
        stop = trip.stop_index.get(station)
        if stop is None or stop == len(trip.spec.stops) - 1:
            continue
        departs = trip.departs_at_ms(stop)
        if start_ms <= departs < end_ms:
            found.append((departs, trip_view(trip, now, policy)))
    return sorted(found, key=lambda pair: (pair[0], pair[1].trip_id))


def _passenger_tickets(
    state: ShardState, document_index: bytes, phone_index: bytes, limit: int, now: int, policy: Policy
) -> list[TicketView]:
    """The tickets whose passenger (or free child) has this document or phone, newest first."""

    def matches(holder: Holder | None) -> bool:
        if holder is None:
            return False
        return holder.document_index == document_index if document_index else holder.phone_index == phone_index

    found = [
        (trip, ticket)
        for trip in state.trips.values()
        for ticket in trip.tickets.values()
        if matches(ticket.holder) or (ticket.fare is not None and matches(ticket.fare.free_child))
    ]
    found.sort(key=lambda pair: (pair[1].issued_at_ms, pair[1].ticket_id), reverse=True)
    return [ticket_view(trip, ticket, now, policy) for trip, ticket in found[:limit]]


def _interrupted_moves(state: ShardState, began_by_ms: int, limit: int) -> list[tuple[str, str, str]]:
    """Moves begun by `began_by_ms`, and aborted ones whatever their age (their undo stopped
    half-way), at most `limit`: old tickets marked moving, and new tickets issued by then and
    still pending their move (its saga stopped after issuing them)."""
    found = []
    for ticket_id, trip_id in state.moving.items():
        ticket = state.trips[trip_id].tickets[ticket_id]
        move = ticket.move
        if move is not None and (move.aborted or move.began_at_ms <= began_by_ms):
            found.append((ticket_id, move.saga, move.new_trip_id))
        elif move is None and ticket.issued_at_ms <= began_by_ms:
            found.append((ticket.changed_from, ticket.for_move, trip_id))
        if len(found) >= limit:
            break
    return found


def _offers(state: ShardState, query: SearchTrips, now: int, policy: Policy) -> list[OfferView]:
    """Offers by departure (then trip id); only the first `limit` when the query sets one, so a
    search for one page does not carry every trip of the day across to the gateway."""
    matches = []
    for trip in state.trips.values():
        i, j = trip.stop_index.get(query.from_station), trip.stop_index.get(query.to_station)
        if i is None or j is None or i >= j:
            continue
        departs = trip.departs_at_ms(i)
        if query.start_ms <= departs < query.end_ms:
            matches.append((departs, trip.spec.trip_id, trip, i, j))
    matches = (
        heapq.nsmallest(query.limit, matches, key=_BY_DEPARTURE) if query.limit else sorted(matches, key=_BY_DEPARTURE)
    )
    return [
        OfferView(
            trip=trip_view(trip, now, policy),
            from_stop=stop_view(trip, i),
            to_stop=stop_view(trip, j),
            fare_fen=trip.fares[(i, j)],
            seats_free=quotas.free_for(trip, i, j, now),
            status=segment_status(trip, i, now, policy),
        )
        for _, _, trip, i, j in matches
    ]


_BY_DEPARTURE = operator.itemgetter(0, 1)


def _seat_map(trip: Trip, query: GetSeatMap, now: int, policy: Policy) -> SeatMapView | Rejection:
    segment = find_segment(trip, query.from_station, query.to_station)
    if isinstance(segment, Rejection):
        return segment
    mask = legs_mask(*segment)
    occupied = quotas.sellable(trip, segment[0], now)  # seats kept for another stop show taken
    rows = tuple(
        tuple(
            SeatView(AISLE, False) if label == AISLE else SeatView(label, occupied[trip.seat_index[label]] & mask == 0)
            for label in row
        )
        for row in trip.spec.rows
    )
    return SeatMapView(
        trip_id=trip.spec.trip_id,
        from_stop=stop_view(trip, segment[0]),
        to_stop=stop_view(trip, segment[1]),
        fare_fen=trip.fares[segment],
        seats_free=sum(1 for row in rows for seat in row if seat.free),
        rows=rows,
    )


# Reads an owner answers from an archived trip's last record (its shell fetches the record): its
# tickets, orders and manifest, and the trip itself, whose stops and operator the gateway's scope
# checks read with GetTrip.
ARCHIVE_READS = (GetTrip, GetTicket, GetOrder, GetManifest)


def answer_archived(
    record: TripRecord, query: GetTrip | GetTicket | GetOrder | GetManifest | ListOrders, now: int, policy: Policy
) -> Reply | Rejection:
    """An archived trip, its manifest, a ticket or order of it, or an account's orders on it, from
    the trip's last record (engine.state.TripRecord), with the same checks as for a trip held (a
    passenger sees only their own)."""
    return answer(state_of(record), query, now, policy)


def _compare(state: ShardState, spec: TripSpec) -> TripComparison:
    from .decide import untouched  # late: decide builds on this module

    if spec.trip_id in state.archived:
        return TripComparison(spec.trip_id, "archived")
    existing = state.trips.get(spec.trip_id)
    if existing is None:
        verdict = "new"
    elif existing.spec == spec:
        verdict = "same" if untouched(existing) else "same_used"
    else:
        verdict = "replace" if untouched(existing) else "sold"
    return TripComparison(spec.trip_id, verdict)
