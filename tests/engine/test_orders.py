"""Orders inside the trip owner: pay and ticket atomically, expire, late and duplicate payments,
cancellation, refunds back the way the money came, and the national fee schedule's minimums."""

from __future__ import annotations

from keyun.engine import commands as c
from keyun.engine.policy import HOUR_MS, MINUTE_MS, Policy
from keyun.engine.reasons import Reason
from keyun.engine.state import OrderStatus, check_invariants

from .conftest import FARE, NOW, TRIP, A, C, D

BUYER = "A000009"
TTL_MS = 10 * MINUTE_MS


def order_for(
    desk, seats: int = 2, method: c.PayMethod = c.PayMethod.WEPAY, frm: str = A, to: str = C, buyer: str = BUYER
):
    hold = desk.ok(c.PlaceHold(desk.rid(), TRIP, frm, to, seat_count=seats, buyer=buyer))
    return hold, desk.ok(c.CreateOrder(desk.rid(), hold.hold_id, method, buyer))


def pay(
    desk,
    order,
    txn: str = "wx-1",
    amount: int | None = None,
    method: c.PayMethod = c.PayMethod.WEPAY,
    now: int | None = None,
):
    return c.RecordPayment(
        desk.rid(),
        order.order_id,
        method,
        txn,
        order.amount_fen if amount is None else amount,
        NOW if now is None else now,
    )


def test_an_order_is_paid_and_ticketed_in_one_step(desk):
    hold, order = order_for(desk)
    assert (order.status, order.amount_fen, order.pay_by_ms) == (
        OrderStatus.PENDING_PAYMENT,
        2 * FARE[(A, C)],
        hold.expires_at_ms,
    )
    paid = desk.ok(pay(desk, order))
    assert paid.status is OrderStatus.TICKETED and len(paid.tickets) == 2
    assert [s for s, _ in paid.history] == ["pending_payment", "paid", "ticketed"]
    check_invariants(desk.engine.state)


def test_duplicate_notifications_change_nothing_and_a_wrong_amount_is_refused(desk):
    _, order = order_for(desk)
    desk.refused(pay(desk, order, amount=order.amount_fen - 1), Reason.PAYMENT_MISMATCH)
    desk.refused(pay(desk, order, method=c.PayMethod.ALIPAY), Reason.PAYMENT_MISMATCH)
    first = desk.ok(pay(desk, order, txn="wx-7"))
    again = desk.ok(pay(desk, order, txn="wx-7"))  # the provider delivered it twice
    assert again.tickets == first.tickets and len(again.payments) == 1


def test_a_second_different_payment_is_owed_back_whole(desk):
    _, order = order_for(desk)
    desk.ok(pay(desk, order, txn="wx-1"))
    twice = desk.ok(pay(desk, order, txn="wx-2"))
    (refund,) = twice.refunds
    assert (refund.provider_txn_id, refund.amount_fen, refund.fee_fen, refund.ticket_ids) == (
        "wx-2",
        order.amount_fen,
        0,
        (),
    )
    assert twice.status is OrderStatus.TICKETED


def test_an_unpaid_order_expires_with_its_hold_and_a_late_payment_still_tickets_free_seats(desk):
    hold, order = order_for(desk)
    later = NOW + TTL_MS + 1
    assert desk.ok(c.GetOrder(order.order_id), later).status is OrderStatus.EXPIRED
    assert len(desk.free_seats(A, C, now=later)) == 13  # the seats went back
    late = desk.ok(pay(desk, order, now=later), later)
    assert late.status is OrderStatus.TICKETED and [t.seat_label for t in late.tickets] == list(hold.seat_labels)
    check_invariants(desk.engine.state)


def test_a_late_payment_for_seats_sold_meanwhile_is_refunded(desk):
    hold, order = order_for(desk)
    later = NOW + TTL_MS + 1
    desk.ok(desk.sell(A, D, seats=hold.seat_labels[:1]), later)
    late = desk.ok(pay(desk, order, now=later), later)
    assert late.status is OrderStatus.EXPIRED and not late.tickets
    assert late.refunds[0].amount_fen == order.amount_fen and "seats were gone" in late.refunds[0].why


def test_cancelling_releases_the_seats_and_a_payment_after_it_is_refunded(desk):
    _, order = order_for(desk)
    desk.refused(c.CancelOrder(desk.rid(), order.order_id, buyer="A000001"), Reason.UNKNOWN_ORDER)  # someone else's
    cancelled = desk.ok(c.CancelOrder(desk.rid(), order.order_id, buyer=BUYER))
    assert cancelled.status is OrderStatus.CANCELLED and len(desk.free_seats(A, C)) == 13
    paid = desk.ok(pay(desk, order))
    assert paid.status is OrderStatus.CANCELLED and paid.refunds[0].why == "paid for a cancelled order"


def test_the_hold_of_an_order_is_paid_through_the_order_only(desk):
    hold, order = order_for(desk)
    desk.refused(desk.confirm(hold.hold_id), Reason.HOLD_HAS_ORDER)
    desk.refused(desk.release(hold.hold_id), Reason.HOLD_HAS_ORDER)
    desk.refused(c.CreateOrder(desk.rid(), hold.hold_id, c.PayMethod.CASH), Reason.HOLD_HAS_ORDER)


def test_refunding_part_of_an_order_then_the_rest_goes_back_through_the_payment(desk):
    _, order = order_for(desk)
    tickets = desk.ok(pay(desk, order, txn="wx-9")).tickets
    part = desk.ok(c.RefundOrder(desk.rid(), order.order_id, (tickets[0].ticket_id,), BUYER))
    assert part.status is OrderStatus.PARTIALLY_REFUNDED
    (first,) = part.refunds
    fee = (FARE[(A, C)] * 1000 + 5000) // 10_000  # a day out: 10 %
    assert (first.provider_txn_id, first.amount_fen, first.fee_fen) == ("wx-9", FARE[(A, C)] - fee, fee)
    desk.refused(desk.refund(tickets[1].ticket_id), Reason.ORDER_CLOSED)  # not around the payer
    rest = desk.ok(c.RefundOrder(desk.rid(), order.order_id, (), BUYER))
    assert rest.status is OrderStatus.REFUNDED and rest.refunds[1].ticket_ids == (tickets[1].ticket_id,)
    settled = desk.ok(c.SettleRefund(desk.rid(), order.order_id, first.refund_no, "wx-refund-1"))
    assert settled.settled[0][:2] == (first.refund_no, "wx-refund-1")
    desk.refused(c.SettleRefund(desk.rid(), order.order_id, "nope-R9", "x"), Reason.UNKNOWN_REFUND)
    check_invariants(desk.engine.state)


def test_orders_are_listed_per_buyer_and_hidden_from_others(desk):
    _, first = order_for(desk, seats=1)
    _, second = order_for(desk, seats=1, frm=C, to=D)
    listed = desk.ok(c.ListOrders(BUYER)).orders
    assert [o.order_id for o in listed] == [first.order_id, second.order_id]
    assert desk.ok(c.ListOrders("A000001")).orders == ()
    desk.refused(c.GetOrder(first.order_id, viewer="A000001"), Reason.UNKNOWN_ORDER)


def test_the_fee_schedule_has_minimums_and_never_exceeds_the_fare():
    policy = Policy()
    assert policy.refund_fee_fen(300, 3 * HOUR_MS) == 50  # 10 % is 30 fen: the 0.5 yuan minimum
    assert policy.refund_fee_fen(300, HOUR_MS) == 100  # 20 % is 60 fen: the 1 yuan minimum
    assert policy.refund_fee_fen(80, HOUR_MS) == 80  # never more than the fare
    assert policy.refund_fee_fen(4200, 3 * HOUR_MS) == 420
    assert policy.refund_fee_fen(4200, -1) is None


def test_orders_survive_snapshots(desk):
    from keyun.engine.shard import ShardEngine
    from keyun.engine.state import restore_trip, trip_record

    _, order = order_for(desk)
    desk.ok(pay(desk, order))
    copy = ShardEngine()
    for trip in desk.engine.state.trips.values():
        restore_trip(copy.state, trip_record(trip))
    assert (
        copy.state.trips == desk.engine.state.trips and copy.state.orders_by_buyer == desk.engine.state.orders_by_buyer
    )


def test_a_delay_moves_the_timetable_and_waives_refund_fees(desk):
    ticket = desk.ok(desk.sell(A, C, count=1)).tickets[0]
    delayed = desk.ok(c.DelayTrip(desk.rid(), TRIP, 30))
    assert delayed.stops[0].departs_at_ms == ticket.trip.stops[0].departs_at_ms + 30 * MINUTE_MS
    desk.refused(c.DelayTrip(desk.rid(), TRIP, 10), Reason.INVALID_FIELD)  # a delay only grows
    refunded = desk.ok(desk.refund(ticket.ticket_id))
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (0, FARE[(A, C)])
