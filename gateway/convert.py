"""Engine views to protobuf messages.  Nothing here decides anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from keyun.engine.commands import PayMethod
from keyun.engine.decide import TripStatus
from keyun.engine.events import Fare, Holder
from keyun.engine.fares import TicketType
from keyun.engine.reasons import invalid
from keyun.engine.state import OrderStatus, TicketStatus
from keyun.engine.views import HoldView, OfferView, OrderView, SeatMapView, StopView, TicketView, TripView
from keyun.v1 import catalog_pb2, common_pb2, orders_pb2, sales_pb2

TRIP_STATUS = {
    TripStatus.ON_SALE: common_pb2.TRIP_STATUS_ON_SALE,
    TripStatus.CHECKING_IN: common_pb2.TRIP_STATUS_CHECKING_IN,
    TripStatus.DEPARTED: common_pb2.TRIP_STATUS_DEPARTED,
    TripStatus.CANCELLED: common_pb2.TRIP_STATUS_CANCELLED,
}
TICKET_STATUS = {
    TicketStatus.ISSUED: common_pb2.TICKET_STATUS_ISSUED,
    TicketStatus.CHECKED_IN: common_pb2.TICKET_STATUS_CHECKED_IN,
    TicketStatus.REFUNDED: common_pb2.TICKET_STATUS_REFUNDED,
    TicketStatus.CHANGED: common_pb2.TICKET_STATUS_CHANGED,
    TicketStatus.VOID: common_pb2.TICKET_STATUS_VOID,
}


def timestamp(ms: int) -> Timestamp | None:
    """A Timestamp, or None (field left unset) for 0, which the engine uses for "not yet"."""
    if not ms:
        return None
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def millis(request: Any, field_name: str, default: int | None = 0) -> int | None:
    """A request's Timestamp field in epoch milliseconds, `default` when unset; a value outside the
    Timestamp's range (or nanos outside 0..999,999,999) is refused as INVALID_FIELD."""
    if not request.HasField(field_name):
        return default
    try:
        return getattr(request, field_name).ToMilliseconds()
    except ValueError:
        raise invalid(field_name, "not a valid timestamp") from None


def stop(view: StopView) -> common_pb2.Stop:
    return common_pb2.Stop(code=view.code, name=view.name, departs_at=timestamp(view.departs_at_ms))


# Every ticket carries its trip, stops and all; building that message is most of the cost of a
# reply, and a trip's view only changes with its status.  Keyed by the whole (frozen, hashable)
# view, so a cached message can never be stale, even with several servers in one process.
# Assigning a cached message to a field copies it, so sharing is safe.  Bounded: cleared when it
# grows past a busy week's trips.
_TRIPS: dict[TripView, common_pb2.Trip] = {}
MAX_CACHED_TRIPS = 50_000


def trip(view: TripView) -> common_pb2.Trip:
    key = view
    message = _TRIPS.get(key)
    if message is None:
        if len(_TRIPS) >= MAX_CACHED_TRIPS:
            _TRIPS.clear()
        message = _TRIPS[key] = _trip(view)
    return message


def _trip(view: TripView) -> common_pb2.Trip:
    return common_pb2.Trip(
        trip_id=view.trip_id,
        schedule_id=view.schedule_id,
        route_id=view.route_id,
        route_name=view.route_name,
        operator_name=view.operator_name,
        vehicle_name=view.vehicle_name,
        stops=[stop(s) for s in view.stops],
        status=TRIP_STATUS[view.status],
        seats_total=view.seats_total,
        gate=view.gate,
        plate=view.plate,
        safety_check=view.safety_check,
        flow_max_wait_minutes=view.flow_max_wait_min,
    )


def ticket(view: TicketView, credential: str = "") -> common_pb2.Ticket:
    """A ticket as clients see it, with its boarding credential if the caller signed one."""
    return common_pb2.Ticket(
        ticket_id=view.ticket_id,
        trip=trip(view.trip),
        from_stop=stop(view.from_stop),
        to_stop=stop(view.to_stop),
        seat_number=view.seat_label,
        price_fen=view.price_fen,
        status=TICKET_STATUS[view.status],
        issued_at=timestamp(view.issued_at_ms),
        checked_in_at=timestamp(view.checked_in_at_ms),
        gate_id=view.gate_id,
        refund_fee_fen=view.refund_fee_fen,
        refunded_fen=view.refunded_fen,
        refunded_at=timestamp(view.refunded_at_ms),
        holder=holder(view.holder) if view.holder is not None else None,
        changed_from=view.changed_from,
        changed_to=view.changed_to,
        credential=credential,
        fare=fare(view.fare, view.price_fen),
        free_child=holder(view.fare.free_child) if view.fare is not None and view.fare.free_child else None,
        printed_at=timestamp(view.printed_at_ms),
    )


TICKET_TYPE = {kind.value: getattr(common_pb2, f"TICKET_TYPE_{kind.name}") for kind in TicketType}
TICKET_TYPE_OF_PROTO = {number: value for value, number in TICKET_TYPE.items()}


_PLAIN_FARES: dict[int, common_pb2.FareComponents] = {}


def fare(view: Fare | None, price_fen: int) -> common_pb2.FareComponents:
    """A ticket's components; a ticket sold before ticket types is a full fare of its price."""
    if view is None:  # most tickets: one message per price, made once (a field assignment copies it)
        message = _PLAIN_FARES.get(price_fen)
        if message is None:
            if len(_PLAIN_FARES) >= MAX_CACHED_TRIPS:
                _PLAIN_FARES.clear()
            message = _PLAIN_FARES[price_fen] = common_pb2.FareComponents(
                ticket_type=common_pb2.TICKET_TYPE_FULL, base_fen=price_fen, total_fen=price_fen
            )
        return message
    return common_pb2.FareComponents(
        ticket_type=TICKET_TYPE[view.ticket_type],
        base_fen=view.base_fen,
        service_fee_fen=view.service_fee_fen,
        fuel_surcharge_fen=view.fuel_surcharge_fen,
        insurance_fen=view.insurance_fen,
        total_fen=view.total_fen,
    )


def holder(view: Holder) -> common_pb2.TicketHolder:
    """Already masked by the gateway when the ticket was bought: printed as is (the ciphers and
    the blind index a walk-in passenger's holder carries never leave the server)."""
    return common_pb2.TicketHolder(
        passenger_id=view.passenger_id,
        account_id=view.account_id,
        name=view.name_masked,
        document_type=getattr(common_pb2, f"DOCUMENT_TYPE_{view.document_type}"),
        document_number=view.document_masked,
        proof_type=view.proof_type,
        proof_number=view.proof_masked,
    )


def offer(view: OfferView) -> catalog_pb2.Offer:
    return catalog_pb2.Offer(
        trip=trip(view.trip),
        from_stop=stop(view.from_stop),
        to_stop=stop(view.to_stop),
        fare_fen=view.fare_fen,
        seats_free=view.seats_free,
        status=TRIP_STATUS[view.status],
    )


def seat_map(view: SeatMapView) -> catalog_pb2.GetSeatMapResponse:
    return catalog_pb2.GetSeatMapResponse(
        trip_id=view.trip_id,
        from_stop=stop(view.from_stop),
        to_stop=stop(view.to_stop),
        fare_fen=view.fare_fen,
        seats_free=view.seats_free,
        rows=[
            catalog_pb2.SeatRow(seats=[catalog_pb2.Seat(seat_number=s.label, free=s.free) for s in row])
            for row in view.rows
        ],
    )


def hold(view: HoldView) -> sales_pb2.Hold:
    return sales_pb2.Hold(
        hold_id=view.hold_id,
        trip_id=view.trip_id,
        from_stop=stop(view.from_stop),
        to_stop=stop(view.to_stop),
        seat_numbers=list(view.seat_labels),
        fare_fen=view.fare_fen,
        total_fen=view.total_fen,
        expires_at=timestamp(view.expires_at_ms),
        holders=[holder(h) for h in view.holders],
        fares=[fare(f, f.total_fen) for f in view.fares] or [fare(None, view.fare_fen) for _ in view.seat_labels],
        free_children=[holder(f.free_child) for f in view.fares if f.free_child is not None],
    )


ORDER_STATUS = {status: getattr(orders_pb2, f"ORDER_STATUS_{status.name}") for status in OrderStatus}
PAY_METHOD = {method.value: getattr(orders_pb2, f"PAY_METHOD_{method.name}") for method in PayMethod}
METHOD_OF_PROTO = {number: PayMethod(value) for value, number in PAY_METHOD.items()}


def order(view: OrderView, credential: Callable[[TicketView], str] | None = None) -> orders_pb2.Order:
    """An order; `credential` signs each of its tickets' boarding credentials (gateway.etickets)."""
    settled = {refund_no: (provider_id, at_ms) for refund_no, provider_id, at_ms in view.settled}
    return orders_pb2.Order(
        order_id=view.order_id,
        trip=trip(view.trip),
        status=ORDER_STATUS[view.status],
        method=PAY_METHOD[view.method],
        amount_fen=view.amount_fen,
        pay_by=timestamp(view.pay_by_ms),
        created_at=timestamp(view.created_at_ms),
        from_stop=stop(view.from_stop),
        to_stop=stop(view.to_stop),
        seat_numbers=list(view.seat_labels),
        holders=[holder(h) for h in view.holders],
        tickets=[ticket(t, credential(t) if credential else "") for t in view.tickets],
        payments=[
            orders_pb2.OrderPayment(
                method=PAY_METHOD[p.method],
                provider_txn_id=p.provider_txn_id,
                amount_fen=p.amount_fen,
                paid_at=timestamp(p.paid_at_ms),
            )
            for p in view.payments
        ],
        refunds=[
            orders_pb2.OrderRefund(
                refund_no=r.refund_no,
                method=PAY_METHOD[r.method],
                ticket_ids=list(r.ticket_ids),
                amount_fen=r.amount_fen,
                fee_fen=r.fee_fen,
                requested_at=timestamp(r.requested_at_ms),
                reason=r.why,
                provider_refund_id=settled.get(r.refund_no, ("", 0))[0],
                settled_at=timestamp(settled.get(r.refund_no, ("", 0))[1]),
            )
            for r in view.refunds
        ],
        history=[
            orders_pb2.OrderStatusChange(status=ORDER_STATUS[OrderStatus(s)], at=timestamp(at))
            for s, at in view.history
        ],
        fares=[fare(f, f.total_fen) for f in view.fares] or [fare(None, view.fare_fen) for _ in view.seat_labels],
    )
