"""Dispatch's seat plan for a trip: seat quotas for stops (配载), blocked seats, and extra runs (加班).

The commands, their decisions and their replies (docs/dispatch.md).  What a sale may take once a
quota or a block is set is engine/quotas.py; the events are in engine/events.py and `evolve` in
engine/state.py applies them like any other, so they are journaled and replayed with the trip.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .commands import (
    GATE_NAME_CHARS,
    TripCommand,
    TripQuery,
    _require,
    _trip_id,
    check_request_id,
)
from .decide import _SCHEDULES, TripStatus, _sales_open, archived, segment_status
from .events import (
    ExtraRunAdded,
    GateAssigned,
    RefundPart,
    RefundRequested,
    SeatQuotaCleared,
    SeatQuotaSet,
    SeatsBlocked,
    SeatsUnblocked,
    TicketRefunded,
    TripEvent,
    TripScheduled,
    VehicleChanged,
)
from .limits import MAX_SEATS_PER_TRIP
from .network import SEAT_LABEL, STATION_CODE, TripSpec
from .policy import Policy
from .quotas import NEVER, release_at_ms
from .reasons import Reason, Rejected, Rejection, element, first_repeat, invalid, reject
from .seats import choose_seats
from .state import NO_SUCH_SEAT, RELEASED, ShardState, Ticket, Trip, legs_mask
from .values import Reply, Value
from .views import TicketView, TripView, ticket_view, trip_view

BLOCK_REASONS = ("crew", "broken", "other")
MAX_RELEASE_BEFORE_MIN = 24 * 60

Outcome = tuple[TripEvent, ...] | Rejection


# --- commands and queries -------------------------------------------------------------------------


def _seat_labels(field_name: str, labels: tuple[str, ...], required: bool = True) -> None:
    if required and not labels:
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name} is required", field=field_name))
    if len(labels) > MAX_SEATS_PER_TRIP:
        raise invalid(field_name, f"at most {MAX_SEATS_PER_TRIP} seats")
    for index, label in enumerate(labels):
        _require(element(field_name, index), label, SEAT_LABEL, 4)
    repeat = first_repeat(labels)
    if repeat is not None:
        raise Rejected(
            reject(Reason.DUPLICATE_SEAT, f"seat {labels[repeat]} is named twice", field=element(field_name, repeat))
        )


class SetSeatQuota(Value, TripCommand):
    """Keep seats for passengers boarding at `stop` (配载): a number of them, or the seats named.
    Replaces the stop's quota if it has one."""

    request_id: str
    trip_id: str
    stop: str  # the boarding stop's station code
    seat_count: int = 0
    seat_numbers: tuple[str, ...] = ()
    release_at_ms: int = 0  # back to the general pool at this time; or
    release_before_min: int = 0  # this many minutes before the stop's departure; neither: kept until it leaves
    shared: bool = False  # stops after `stop` may sell them too

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _require("stop", self.stop, STATION_CODE, 8)
        _seat_labels("seat_numbers", self.seat_numbers, required=False)
        if self.seat_numbers and self.seat_count:
            raise invalid("seat_count", "give seat_numbers or seat_count, not both")
        if not self.seat_numbers and not 0 < self.seat_count <= MAX_SEATS_PER_TRIP:
            if self.seat_count == 0:
                raise Rejected(
                    reject(Reason.MISSING_FIELD, "seat_numbers or seat_count is required", field="seat_count")
                )
            raise invalid("seat_count", f"must be 1..{MAX_SEATS_PER_TRIP}")
        if self.release_at_ms and self.release_before_min:
            raise invalid("release_before_minutes", "give a release time or minutes before departure, not both")
        if self.release_at_ms < 0:
            raise invalid("release_at", "must not be before 1970")
        if not 0 <= self.release_before_min <= MAX_RELEASE_BEFORE_MIN:
            raise invalid("release_before_minutes", f"must be 0..{MAX_RELEASE_BEFORE_MIN}")


class ClearSeatQuota(Value, TripCommand):
    request_id: str
    trip_id: str
    stop: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _require("stop", self.stop, STATION_CODE, 8)


class BlockSeats(Value, TripCommand):
    """Take seats out of sale on every leg: for the crew, broken, or another reason."""

    request_id: str
    trip_id: str
    seat_numbers: tuple[str, ...]
    reason: str = "other"

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _seat_labels("seat_numbers", self.seat_numbers)
        if self.reason not in BLOCK_REASONS:
            raise invalid("reason", f"must be one of {', '.join(BLOCK_REASONS)}")


class UnblockSeats(Value, TripCommand):
    request_id: str
    trip_id: str
    seat_numbers: tuple[str, ...]

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _seat_labels("seat_numbers", self.seat_numbers)


class AddExtraRun(Value, TripCommand):
    """Schedule an extra run (加班): a new trip (its spec made by the gateway from the route of
    `source_trip_id`), open for sale at once, at the owner of its own id."""

    request_id: str
    spec: TripSpec
    source_trip_id: str
    gate: str = ""

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.spec.trip_id)
        _trip_id(self.source_trip_id, "source_trip_id")
        if len(self.gate) > GATE_NAME_CHARS or (self.gate and not all(ch.isalnum() or ch in "-_." for ch in self.gate)):
            raise invalid("gate", f"at most {GATE_NAME_CHARS} letters, digits, '-', '_' or '.'")

    @property
    def trip_id(self) -> str:
        return self.spec.trip_id


class GetSeatPlan(Value, TripQuery):
    trip_id: str

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)


class GetTripSpec(Value, TripQuery):
    """A trip's whole definition: what an extra run copies its route from."""

    trip_id: str

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)


MAX_VEHICLE_NAME_CHARS = 40


def _check_vehicle(seat_count: int, vehicle_name: str) -> None:
    if not 0 < seat_count <= MAX_SEATS_PER_TRIP:
        if seat_count == 0:
            raise Rejected(reject(Reason.MISSING_FIELD, "seat_count is required", field="seat_count"))
        raise invalid("seat_count", f"must be 1..{MAX_SEATS_PER_TRIP}")
    if len(vehicle_name) > MAX_VEHICLE_NAME_CHARS or any(not ch.isprintable() for ch in vehicle_name):
        raise invalid("vehicle_name", f"at most {MAX_VEHICLE_NAME_CHARS} printable characters")


class ChangeVehicle(Value, TripCommand):
    """Another coach runs the trip: the layout's first `seat_count` seats (docs/dispatch.md).
    The gateway asks PlanVehicleChange first and sends its plan back: `reseated` and `refund`
    must be what the owner would decide now, else VEHICLE_PLAN_CHANGED (a sale came between)."""

    request_id: str
    trip_id: str
    seat_count: int
    vehicle_name: str = ""
    reseated: tuple[tuple[str, int, int], ...] = ()  # (ticket id, old seat, new seat), as planned
    refund: tuple[str, ...] = ()  # the tickets that do not fit, refunded in full; empty: refuse if any

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _check_vehicle(self.seat_count, self.vehicle_name)

    def without_ciphers(self) -> ChangeVehicle:
        """What a retry must repeat (commands.same_request): not the plan, which is the owner's
        own answer and differs once the change is made."""
        return msgspec.structs.replace(self, reseated=(), refund=())


class PlanVehicleChange(Value, TripQuery):
    """What ChangeVehicle would do now: who moves to which seat, who does not fit."""

    trip_id: str
    seat_count: int

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)
        _check_vehicle(self.seat_count, "")


# --- replies ----------------------------------------------------------------------------------


class QuotaView(Value):
    stop: str  # station code
    seats: tuple[str, ...]  # labels
    seats_unsold: int  # of them, free from the stop on
    release_at_ms: int  # when they go back to the pool (with any delay), 0: kept until the stop's departure
    release_before_min: int
    shared: bool
    released: bool  # the release time has passed


class BlockedSeatView(Value):
    seat: str
    reason: str


class SeatPlanView(Value, Reply):
    trip: TripView
    quotas: tuple[QuotaView, ...]
    blocked: tuple[BlockedSeatView, ...]
    extra_of: str  # an extra run: the trip whose route it runs, "" otherwise


class TripSpecView(Value, Reply):
    spec: TripSpec
    extra_of: str = ""


class Reseat(Value):
    ticket_id: str
    old_seat: str
    new_seat: str
    from_station: str
    to_station: str


class VehicleChangeView(Value, Reply):
    """A vehicle change planned (PlanVehicleChange) or made (ChangeVehicle's reply)."""

    trip: TripView
    seat_count: int
    reseated: tuple[Reseat, ...]
    unfit: tuple[TicketView, ...]  # planned: no seat for them; made: refunded in full
    moves: tuple[tuple[str, int, int], ...] = ()  # `reseated` as (ticket id, old, new seat index), to send back


def seat_plan_view(trip: Trip, now: int, policy: Policy) -> SeatPlanView:
    labels, stops = trip.seat_labels, trip.spec.stops
    quotas = []
    for quota in sorted(trip.quotas.values(), key=lambda q: q.stop):
        kept = legs_mask(quota.stop, len(stops) - 1)
        release = release_at_ms(trip, quota)
        quotas.append(
            QuotaView(
                stop=stops[quota.stop].code,
                seats=tuple(labels[seat] for seat in quota.seats),
                seats_unsold=sum(1 for seat in quota.seats if not trip.occupied[seat] & kept),
                release_at_ms=0 if release == NEVER else release,
                release_before_min=quota.release_before_min,
                shared=quota.shared,
                released=now >= release,
            )
        )
    blocked = tuple(BlockedSeatView(labels[seat], why) for seat, why in sorted(trip.blocked.items()))
    return SeatPlanView(trip_view(trip, now, policy), tuple(quotas), blocked, trip.extra_of)


# --- decisions ---------------------------------------------------------------------------------


def decide_plan(trip: Trip, command: TripCommand, now: int, policy: Policy) -> Outcome | None:
    """The decision on a seat-plan command, or None if `command` is not one."""
    match command:
        case SetSeatQuota():
            return _set_quota(trip, command, now, policy)
        case ClearSeatQuota():
            stop = _boarding_stop(trip, command.stop)
            if isinstance(stop, Rejection):
                return stop
            if stop not in trip.quotas:
                return reject(Reason.NO_QUOTA, f"no quota for {command.stop} on {trip.spec.trip_id}", stop=command.stop)
            return (SeatQuotaCleared(trip.spec.trip_id, stop, now),)
        case BlockSeats():
            return _block(trip, command, now, policy)
        case UnblockSeats():
            seats = _seats_named(trip, command.seat_numbers)
            if isinstance(seats, Rejection):
                return seats
            for seat in seats:
                label = trip.seat_labels[seat]
                if seat not in trip.blocked:
                    return reject(Reason.SEAT_NOT_BLOCKED, f"seat {label} is not blocked", seat=label)
                if trip.blocked[seat] == NO_SUCH_SEAT:  # only a larger coach gives it back
                    return reject(Reason.SEAT_BLOCKED, f"the coach has no seat {label}: change the vehicle", seat=label)
            return (SeatsUnblocked(trip.spec.trip_id, seats, now),)
        case ChangeVehicle():
            return _change_vehicle(trip, command, now, policy)
    return None


def _add_extra_run(state: ShardState, command: AddExtraRun, now: int, policy: Policy) -> Outcome:
    spec = command.spec
    if spec.trip_id in state.archived:
        return archived(spec.trip_id)
    if spec.trip_id in state.trips:
        return reject(Reason.TRIP_CONFLICT, f"trip {spec.trip_id} exists already", trip_id=spec.trip_id)
    events: tuple[TripEvent, ...] = (TripScheduled(spec), ExtraRunAdded(spec.trip_id, command.source_trip_id, now))
    if command.gate:
        events += (GateAssigned(spec.trip_id, command.gate, "", now),)
    return events


_SCHEDULES[AddExtraRun] = _add_extra_run  # decided before any trip is looked up: it makes its trip


def _open(trip: Trip, now: int, policy: Policy) -> Rejection | None:
    if trip.cancelled_at_ms:
        return reject(Reason.TRIP_CANCELLED, f"trip {trip.spec.trip_id} is cancelled")
    if trip.departed_at_ms or segment_status(trip, 0, now, policy) is TripStatus.DEPARTED:
        return reject(Reason.TRIP_DEPARTED, f"trip {trip.spec.trip_id} has left")
    return None


def _boarding_stop(trip: Trip, code: str) -> int | Rejection:
    stop = trip.stop_index.get(code)
    if stop is None or stop == len(trip.spec.stops) - 1:
        stops = "→".join(s.code for s in trip.spec.stops)
        return reject(Reason.BAD_SEGMENT, f"{code} is not a boarding stop of {stops}", field="stop")
    return stop


def _seats_named(trip: Trip, labels: tuple[str, ...]) -> tuple[int, ...] | Rejection:
    seats = []
    for index, label in enumerate(labels):
        seat = trip.seat_index.get(label)
        if seat is None:
            return reject(
                Reason.UNKNOWN_SEAT, f"no seat {label} on this coach", field=element("seat_numbers", index), seat=label
            )
        seats.append(seat)
    return tuple(seats)


def _on_seat(trip: Trip, seat: int, legs: int) -> str:
    """What is on a seat's legs: a live ticket, a hold or a handheld's allotment, by id."""
    for ticket in trip.tickets.values():
        if ticket.seat == seat and ticket.status not in RELEASED:
            if legs_mask(ticket.from_stop, ticket.to_stop) & legs:
                return f"ticket {ticket.ticket_id}"
    for hold in trip.holds.values():
        if seat in hold.seats and legs_mask(hold.from_stop, hold.to_stop) & legs:
            return f"hold {hold.hold_id}"
    for allotment in trip.allotments.values():
        if not allotment.settled_at_ms and seat in allotment.seats:
            return f"allotment {allotment.allotment_id}"
    return "a sale"


def _in_use(trip: Trip, seat: int, legs: int) -> Rejection:
    label, what = trip.seat_labels[seat], _on_seat(trip, seat, legs)
    return reject(Reason.SEAT_IN_USE, f"seat {label} is in use: {what}", seat=label, held_by=what)


def _quota_of(trip: Trip, seat: int) -> int | None:
    return next((quota.stop for quota in trip.quotas.values() if seat in quota.seats), None)


def _set_quota(trip: Trip, command: SetSeatQuota, now: int, policy: Policy) -> Outcome:
    stop = _boarding_stop(trip, command.stop)
    if isinstance(stop, Rejection):
        return stop
    closed = _open(trip, now, policy) or _sales_open(trip, stop, now, policy)
    if closed is not None:
        return closed
    departs = trip.departs_at_ms(stop)
    release = command.release_at_ms or (
        departs - command.release_before_min * 60_000 if command.release_before_min else 0
    )
    if release and not now < release <= departs:
        return reject(
            Reason.RELEASE_PASSED,
            f"the release time must be after now and not after {command.stop}'s departure",
            field="release_at" if command.release_at_ms else "release_before_minutes",
        )
    kept = legs_mask(stop, len(trip.spec.stops) - 1)
    if command.seat_numbers:
        seats = _seats_named(trip, command.seat_numbers)
        if isinstance(seats, Rejection):
            return seats
        for seat in seats:
            refusal = _not_for_quota(trip, seat, stop, kept)
            if refusal is not None:
                return refusal
    else:
        # Seats of other stops' quotas are not to be had; the stop's own old quota is replaced.
        taken = list(trip.occupied)
        for other in trip.quotas.values():
            if other.stop != stop:
                for seat in other.seats:
                    taken[seat] |= kept
        chosen = choose_seats(trip, kept, command.seat_count, taken)
        if chosen is None:
            free = sum(1 for bits in taken if not bits & kept)
            return reject(
                Reason.QUOTA_TOO_LARGE,
                f"only {free} seats are free from {command.stop} on",
                seats_free=free,
                field="seat_count",
            )
        seats = tuple(sorted(chosen))
    return (
        SeatQuotaSet(
            trip.spec.trip_id,
            stop,
            seats,
            command.release_at_ms,
            command.release_before_min,
            command.shared,
            now,
        ),
    )


def _not_for_quota(trip: Trip, seat: int, stop: int, kept: int) -> Rejection | None:
    label = trip.seat_labels[seat]
    if seat in trip.blocked:
        return reject(Reason.SEAT_BLOCKED, f"seat {label} is blocked ({trip.blocked[seat]})", seat=label)
    other = _quota_of(trip, seat)
    if other is not None and other != stop:
        code = trip.spec.stops[other].code
        return reject(Reason.SEAT_IN_QUOTA, f"seat {label} is in the quota for {code}", seat=label, stop=code)
    if trip.occupied[seat] & kept:
        return _in_use(trip, seat, kept)
    return None


def _block(trip: Trip, command: BlockSeats, now: int, policy: Policy) -> Outcome:
    closed = _open(trip, now, policy)
    if closed is not None:
        return closed
    seats = _seats_named(trip, command.seat_numbers)
    if isinstance(seats, Rejection):
        return seats
    every_leg = legs_mask(0, len(trip.spec.stops) - 1)
    for seat in seats:
        label = trip.seat_labels[seat]
        if seat in trip.blocked:
            return reject(Reason.SEAT_BLOCKED, f"seat {label} is blocked already", seat=label)
        stop = _quota_of(trip, seat)
        if stop is not None:
            code = trip.spec.stops[stop].code
            return reject(Reason.SEAT_IN_QUOTA, f"seat {label} is in the quota for {code}", seat=label, stop=code)
        if trip.occupied[seat]:
            return _in_use(trip, seat, every_leg)
    return (SeatsBlocked(trip.spec.trip_id, seats, command.reason, now),)


# --- vehicle change ---------------------------------------------------------------------------


Moves = tuple[tuple[str, int, int], ...]


def plan_vehicle(trip: Trip, seat_count: int) -> tuple[Moves, tuple[Ticket, ...]] | Rejection:
    """Who moves to which seat of a coach with the layout's first `seat_count` seats, and who does
    not fit.  Holds, handheld allotments and quotas on the seats it lacks refuse the change: they
    are short-lived or dispatch's own, so they are released first rather than moved."""
    if seat_count > len(trip.seat_labels):
        return reject(
            Reason.VEHICLE_LAYOUT_TOO_SMALL,
            f"trip {trip.spec.trip_id}'s seat layout has {len(trip.seat_labels)} seats, not {seat_count}",
            field="seat_count",
            layout_seats=str(len(trip.seat_labels)),
        )
    for hold in trip.holds.values():
        if any(seat >= seat_count for seat in hold.seats):
            return _held_seat(f"hold {hold.hold_id}")
    for allotment in trip.allotments.values():
        if not allotment.settled_at_ms and any(seat >= seat_count for seat in allotment.seats):
            return _held_seat(f"allotment {allotment.allotment_id}")
    for quota in trip.quotas.values():
        if any(seat >= seat_count for seat in quota.seats):
            code = trip.spec.stops[quota.stop].code
            return reject(
                Reason.SEAT_IN_QUOTA, f"the quota for {code} keeps seats the coach lacks: clear it first", stop=code
            )
    lost = sorted(
        (t for t in trip.tickets.values() if t.seat >= seat_count and t.status not in RELEASED),
        key=lambda t: (t.from_stop, t.to_stop, t.ticket_id),
    )
    kept = {seat for quota in trip.quotas.values() for seat in quota.seats}  # not ours to give
    taken = list(trip.occupied)
    moves, unfit = [], []
    for ticket in lost:
        if ticket.moving():
            return reject(
                Reason.CHANGE_IN_PROGRESS, f"ticket {ticket.ticket_id} is being moved", ticket_id=ticket.ticket_id
            )
        mask = legs_mask(ticket.from_stop, ticket.to_stop)
        free = next((s for s in range(seat_count) if s not in kept and not taken[s] & mask), None)
        if free is None:
            unfit.append(ticket)
            continue
        taken[free] |= mask
        moves.append((ticket.ticket_id, ticket.seat, free))
    return tuple(moves), tuple(unfit)


def _held_seat(what: str) -> Rejection:
    return reject(Reason.VEHICLE_SEATS_HELD, f"{what} is on a seat the coach lacks: release it first", held_by=what)


def _change_vehicle(trip: Trip, command: ChangeVehicle, now: int, policy: Policy) -> Outcome:
    closed = _open(trip, now, policy)
    if closed is not None:
        return closed
    plan = plan_vehicle(trip, command.seat_count)
    if isinstance(plan, Rejection):
        return plan
    moves, unfit = plan
    unfit_ids = tuple(t.ticket_id for t in unfit)
    if unfit and not command.refund:
        return reject(
            Reason.VEHICLE_TOO_SMALL,
            f"{len(unfit)} tickets have no seat in a coach of {command.seat_count}: {', '.join(unfit_ids)}",
            field="choice",
            unfit=",".join(unfit_ids),
        )
    if moves != command.reseated or unfit_ids != command.refund:
        return reject(Reason.VEHICLE_PLAN_CHANGED, f"trip {trip.spec.trip_id} changed since the plan: plan again")
    trip_id = trip.spec.trip_id
    return (
        *_refund_in_full(trip, unfit, now),
        VehicleChanged(trip_id, command.seat_count, moves, command.vehicle_name, now),
    )


def _refund_in_full(trip: Trip, tickets: tuple[Ticket, ...], now: int) -> tuple[TripEvent, ...]:
    """The station's refund of tickets it has no seat for: everything back, no fee.  Money paid
    through an order goes back the way it came (one refund per order, paid out by the gateway);
    a counter ticket's refund is owed to its holder at a counter."""
    events: list[TripEvent] = [TicketRefunded(trip.spec.trip_id, t.ticket_id, 0, t.price_fen, now) for t in tickets]
    by_order: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        if ticket.order_id:
            by_order.setdefault(ticket.order_id, []).append(ticket)
    for order_id, paid in sorted(by_order.items()):
        order = trip.orders[order_id]
        payment = next(p for p in order.payments if p.provider_txn_id == order.paid_by)
        part = RefundPart(
            f"{order_id}-R{len(order.refunds) + 1}",
            payment.method,
            payment.provider_txn_id,
            tuple(t.ticket_id for t in paid),
            sum(t.price_fen for t in paid),
            0,
            now,
            "refund requested",
        )
        events.append(RefundRequested(trip.spec.trip_id, order_id, part))
    return tuple(events)


def vehicle_change_view(
    trip: Trip, seat_count: int, moves: Moves, unfit: tuple[Ticket, ...], now: int, policy: Policy
) -> VehicleChangeView:
    labels, stops = trip.seat_labels, trip.spec.stops
    reseated = []
    for ticket_id, old, new in moves:
        ticket = trip.tickets[ticket_id]
        reseated.append(
            Reseat(ticket_id, labels[old], labels[new], stops[ticket.from_stop].code, stops[ticket.to_stop].code)
        )
    unfit_views = tuple(ticket_view(trip, t, now, policy) for t in unfit)
    return VehicleChangeView(trip_view(trip, now, policy), seat_count, tuple(reseated), unfit_views, moves)


# --- replies and queries ------------------------------------------------------------------------


def render_plan(state: ShardState, command: TripCommand, now: int, policy: Policy) -> Reply | None:
    """The reply to a seat-plan command (the plan as it stands), or None if `command` is not one."""
    if isinstance(command, SetSeatQuota | ClearSeatQuota | BlockSeats | UnblockSeats | AddExtraRun):
        return seat_plan_view(state.trips[command.trip_id], now, policy)
    if isinstance(command, ChangeVehicle):
        trip = state.trips[command.trip_id]
        refunded = tuple(trip.tickets[ticket_id] for ticket_id in command.refund)
        return vehicle_change_view(trip, command.seat_count, command.reseated, refunded, now, policy)
    return None


def answer_plan(trip: Trip, query: Any, now: int, policy: Policy) -> Reply | None:
    match query:
        case GetSeatPlan():
            return seat_plan_view(trip, now, policy)
        case GetTripSpec():
            return TripSpecView(trip.spec, trip.extra_of)
        case PlanVehicleChange():
            plan = plan_vehicle(trip, query.seat_count)
            if isinstance(plan, Rejection):
                return plan
            return vehicle_change_view(trip, query.seat_count, *plan, now, policy)
    return None
