"""Orders through gRPC against the real server: counter cash, a passenger's order paid at the
counter, following it on WatchOrder, expiry and a late payment, refunds back the way they came."""

from __future__ import annotations

import datetime as dt
import threading

import grpc
import pytest

from keyun.common.clock import ManualClock
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, common_pb2, orders_pb2, orders_pb2_grpc, sales_pb2

from .conftest import ServerThread, logged_in, schedule_trip
from .waiting import wait_until

STRONG = "Order-Passw0rd"


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("orders"), shards=2, clock=ManualClock())
    master = logged_in(KeyunClient(server.target, attempts=1), clock=server.clock)
    passenger = KeyunClient(server.target, attempts=1)
    passenger.call(
        passenger.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-orders", phone="13011112222", password=STRONG),
    )
    passenger.login("13011112222", STRONG)
    pid = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="add-orders",
            name="吴乘客",
            document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
            document_number="11010519491231002X",
        ),
    ).passenger.passenger_id
    yield server, master, passenger, pid
    server.stop()


def orders(client: KeyunClient):
    return orders_pb2_grpc.OrdersStub(client.channel)


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def test_a_counter_order_paid_in_cash_then_partly_refunded_in_cash(station):
    _, master, _, _ = station
    trip_id = schedule_trip(master, "ORD1", dt.timedelta(hours=6))
    hold = master.hold(trip_id, "AAA", "CCC", seat_count=2)
    stub = orders(master)
    created = master.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="o1", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    assert created.status == orders_pb2.ORDER_STATUS_PENDING_PAYMENT and created.amount_fen == 6000
    paid = master.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="p1", order_id=created.order_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    assert (
        paid.status == orders_pb2.ORDER_STATUS_TICKETED
        and len(paid.tickets) == 2
        and paid.payments[0].amount_fen == 6000
    )
    again = master.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="p1", order_id=created.order_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    assert len(again.payments) == 1  # the counter's retry is the same payment
    refunded = master.call(
        stub.RefundOrder,
        orders_pb2.RefundOrderRequest(
            request_id="r1", order_id=created.order_id, ticket_ids=[paid.tickets[0].ticket_id]
        ),
    ).order
    assert refunded.status == orders_pb2.ORDER_STATUS_PARTIALLY_REFUNDED
    (refund,) = refunded.refunds
    assert (refund.amount_fen, refund.fee_fen, refund.provider_refund_id) == (2700, 300, f"cash-{refund.refund_no}")
    assert refused(lambda: master.refund(paid.tickets[1].ticket_id)).reason == "ORDER_CLOSED"  # through the order only
    wallet = orders_pb2.CreateOrderRequest(
        request_id="o2",
        hold_id=master.hold(trip_id, "AAA", "BBB", seat_count=1).hold_id,
        method=orders_pb2.PAY_METHOD_WEPAY,
    )
    assert (
        refused(lambda: master.call(stub.CreateOrder, wallet)).code is grpc.StatusCode.INVALID_ARGUMENT
    )  # no wallet set up here


def test_a_passenger_orders_online_is_followed_on_watch_and_pays_at_the_counter(station):
    _, master, passenger, pid = station
    trip_id = schedule_trip(master, "ORD2", dt.timedelta(hours=6))
    hold = passenger.call(
        passenger.sales.Hold,
        sales_pb2.HoldRequest(
            request_id="ph",
            trip_id=trip_id,
            from_station="AAA",
            to_station="DDD",
            seat_count=1,
            passenger_ids=[pid],
        ),
    ).hold
    mine = orders(passenger)
    order = passenger.call(
        mine.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="po", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    seen = []

    def watch() -> None:
        call = mine.WatchOrder(orders_pb2.WatchOrderRequest(order_id=order.order_id), timeout=10)
        for response in call:
            seen.append(response.order.status)
            if response.order.status == orders_pb2.ORDER_STATUS_TICKETED:
                call.cancel()  # the watcher has what it waited for
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    wait_until(lambda: seen, 10, "the watch sent the order as it is")
    assert (
        refused(
            lambda: passenger.call(
                mine.PayAtCounter,
                orders_pb2.PayAtCounterRequest(
                    request_id="self-pay", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CASH
                ),
            )
        ).code
        is grpc.StatusCode.PERMISSION_DENIED
    )
    paid = master.call(
        orders(master).PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="pc", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    assert paid.tickets[0].holder.name == "吴**"
    watcher.join(timeout=5)
    assert seen == [orders_pb2.ORDER_STATUS_PENDING_PAYMENT, orders_pb2.ORDER_STATUS_TICKETED]
    assert [h.status for h in paid.history] == [
        orders_pb2.ORDER_STATUS_PENDING_PAYMENT,
        orders_pb2.ORDER_STATUS_PAID,
        orders_pb2.ORDER_STATUS_TICKETED,
    ]
    # A watch ends with its session.
    watcher_client = KeyunClient(station[0].target, attempts=1)
    watcher_client.login("13011112222", STRONG)
    stream = orders(watcher_client).WatchOrder(orders_pb2.WatchOrderRequest(order_id=order.order_id), timeout=10)
    assert next(iter(stream)).order.status == orders_pb2.ORDER_STATUS_TICKETED
    watcher_client.logout()
    with pytest.raises(grpc.RpcError) as ended:
        for _ in stream:
            pass
    assert ended.value.code() is grpc.StatusCode.UNAUTHENTICATED
    listed = passenger.call(mine.ListOrders, orders_pb2.ListOrdersRequest()).orders
    assert order.order_id in [o.order_id for o in listed]
    assert (
        refused(
            lambda: passenger.call(
                mine.RefundOrder, orders_pb2.RefundOrderRequest(request_id="pr", order_id=order.order_id)
            )
        ).reason
        == "ORDER_CLOSED"
    )  # cash: at a counter
    stranger = logged_in(KeyunClient(station[0].target, attempts=1), "seller")
    assert (
        stranger.call(orders(stranger).GetOrder, orders_pb2.GetOrderRequest(order_id=order.order_id)).order.order_id
        == order.order_id
    )  # staff see it
    other = KeyunClient(station[0].target, attempts=1)
    other.login("13800138000", "Keyun-demo-2026")  # the demo passenger
    assert (
        refused(lambda: other.call(orders(other).GetOrder, orders_pb2.GetOrderRequest(order_id=order.order_id))).reason
        == "UNKNOWN_ORDER"
    )


def test_an_unpaid_order_expires_and_a_late_payment_is_ticketed_while_the_seats_are_free(station):
    server, master, _, _ = station
    trip_id = schedule_trip(master, "ORD3", dt.timedelta(hours=6))
    hold = master.hold(trip_id, "BBB", "DDD", seat_count=1, ttl_seconds=1)
    # The owner's time is the gateway clock's stamp.
    assert hold.expires_at.ToMilliseconds() == server.clock.now_ms() + 1000
    stub = orders(master)
    order = master.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="eo", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    server.clock.advance(999)
    pending = master.call(stub.GetOrder, orders_pb2.GetOrderRequest(order_id=order.order_id)).order
    assert pending.status == orders_pb2.ORDER_STATUS_PENDING_PAYMENT
    server.clock.advance(501)
    assert (
        master.call(stub.GetOrder, orders_pb2.GetOrderRequest(order_id=order.order_id)).order.status
        == orders_pb2.ORDER_STATUS_EXPIRED
    )
    late = master.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="late", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    assert late.status == orders_pb2.ORDER_STATUS_TICKETED and late.tickets[0].seat_number == hold.seat_numbers[0]
    cancelled = master.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(
            request_id="co",
            hold_id=master.hold(trip_id, "AAA", "BBB", seat_count=1).hold_id,
            method=orders_pb2.PAY_METHOD_CASH,
        ),
    ).order
    master.call(stub.CancelOrder, orders_pb2.CancelOrderRequest(request_id="cx", order_id=cancelled.order_id))
    after = master.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="cp", order_id=cancelled.order_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    assert after.status == orders_pb2.ORDER_STATUS_CANCELLED and after.refunds[0].provider_refund_id.startswith("cash-")


def test_a_delayed_trip_refunds_without_a_fee(station):
    from keyun.v1 import dispatch_pb2

    _, master, _, _ = station
    trip_id = schedule_trip(master, "ORD4", dt.timedelta(hours=1, minutes=30))  # within 2 h: 20 % normally
    stub = orders(master)
    hold = master.hold(trip_id, "AAA", "BBB", seat_count=1)
    order = master.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="do", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    master.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="dp", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CASH),
    )
    delayed = master.call(
        master.dispatch.DelayTrip, dispatch_pb2.DelayTripRequest(request_id="dd", trip_id=trip_id, delay_minutes=45)
    ).trip
    assert delayed.stops[0].departs_at.ToMilliseconds() - hold.from_stop.departs_at.ToMilliseconds() == 45 * 60_000
    refunded = master.call(
        stub.RefundOrder, orders_pb2.RefundOrderRequest(request_id="dr", order_id=order.order_id)
    ).order
    assert (refunded.refunds[0].fee_fen, refunded.refunds[0].amount_fen) == (0, order.amount_fen)
