"""Wallet payments end to end: the real server, the real `keyun sandbox-pay` process playing the
wallets, signed notifications over HTTP into Keyun, and money back through the provider."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from keyun.common.payments_wire.formats import DECLINE_REASONS
from keyun.terminals.client import KeyunClient, KeyunError, audit_outcome
from keyun.v1 import (
    accounts_pb2,
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    orders_pb2,
    orders_pb2_grpc,
    sales_pb2,
    staff_pb2,
)

from .conftest import ServerThread, logged_in, schedule_trip
from .payments.conftest import start_sandbox, stop_sandbox
from .waiting import wait_until

STRONG = "Wallet-Passw0rd"
WAIT_S = 20


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wallets")
    sandbox = start_sandbox(directory / "pay-keys", directory / "pay-state.json")
    server = ServerThread(directory / "data", shards=2, payments_dir=sandbox.keys_dir)
    master = logged_in(KeyunClient(server.target, attempts=1), clock=server.clock)
    passenger = KeyunClient(server.target, attempts=1)
    passenger.call(
        passenger.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-wallet", phone="13599990000", password=STRONG),
    )
    passenger.login("13599990000", STRONG)
    pid = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="add-wallet",
            name="钱包客",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number="E77778888",
        ),
    ).passenger.passenger_id
    yield server, sandbox, master, passenger, pid
    server.stop()
    stop_sandbox(sandbox)


def control(sandbox, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{sandbox.base_url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def order_for(station, method: int, trip_id: str, ttl_seconds: int = 0):
    _, _, _, passenger, pid = station
    hold = passenger.call(
        passenger.sales.Hold,
        sales_pb2.HoldRequest(
            request_id=f"h-{trip_id}-{method}-{ttl_seconds}",
            trip_id=trip_id,
            from_station="AAA",
            to_station="CCC",
            seat_count=1,
            passenger_ids=[pid],
            ttl_seconds=ttl_seconds,
        ),
    ).hold
    stub = orders_pb2_grpc.OrdersStub(passenger.channel)
    return hold, passenger.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id=f"o-{hold.hold_id}", hold_id=hold.hold_id, method=method),
    )


def get(passenger: KeyunClient, order_id: str) -> orders_pb2.Order:
    return passenger.call(
        orders_pb2_grpc.OrdersStub(passenger.channel).GetOrder, orders_pb2.GetOrderRequest(order_id=order_id)
    ).order


def wait_for(passenger: KeyunClient, order_id: str, done) -> orders_pb2.Order:
    """The order once `done` says so; the providers' notifications reach it in their own time."""

    def reached() -> orders_pb2.Order | None:
        order = get(passenger, order_id)
        return order if done(order) else None

    return wait_until(reached, WAIT_S, f"order {order_id} reached the state awaited", poll_s=0.2)


def deliveries_settled(sandbox, provider: str, order_id: str, kind: str, count: int) -> list[dict]:
    """Wait until the sandbox has `count` deliveries of `kind` ("first", "duplicate", "replay")
    of an order's notification acknowledged or given up; return them."""

    def settled() -> list[dict] | None:
        (payment,) = control(sandbox, f"/sandbox/payments?provider={provider}&merchant_order_no={order_id}")["payments"]
        done = [d for d in payment["deliveries"] if d["kind"] == kind and (d["acked"] or d.get("gave_up"))]
        return done if len(done) >= count else None

    return wait_until(settled, WAIT_S, f"{count} {kind} deliveries for {order_id} answered", poll_s=0.2)


@pytest.mark.parametrize(
    "method,provider", [(orders_pb2.PAY_METHOD_WEPAY, "wepay"), (orders_pb2.PAY_METHOD_ALIPAY, "alipay")]
)
def test_a_wallet_payment_tickets_the_order_once_however_often_it_is_notified(station, method, provider):
    server, sandbox, master, passenger, _ = station
    trip_id = schedule_trip(master, f"W{provider[:2].upper()}", dt.timedelta(hours=6))
    _, created = order_for(station, method, trip_id)
    assert created.pay_url.startswith(sandbox.base_url) and created.qr_text
    control(
        sandbox,
        "/sandbox/pay",
        {"provider": provider, "merchant_order_no": created.order.order_id, "duplicates": 2, "out_of_order": True},
    )
    order = wait_for(passenger, created.order.order_id, lambda o: o.status == orders_pb2.ORDER_STATUS_TICKETED)
    assert order.status == orders_pb2.ORDER_STATUS_TICKETED and len(order.payments) == 1 and len(order.tickets) == 1
    duplicates = deliveries_settled(sandbox, provider, created.order.order_id, "duplicate", 2)
    assert all(d["acked"] for d in duplicates)  # Keyun acknowledged both...
    assert len(get(passenger, created.order.order_id).payments) == 1  # ...and still has one payment
    # Refunds go back through the wallet.
    refunded = passenger.call(
        orders_pb2_grpc.OrdersStub(passenger.channel).RefundOrder,
        orders_pb2.RefundOrderRequest(request_id=f"r-{provider}", order_id=order.order_id),
    ).order
    assert refunded.status == orders_pb2.ORDER_STATUS_REFUNDED and refunded.refunds[0].provider_refund_id
    (payment,) = control(sandbox, f"/sandbox/payments?provider={provider}&merchant_order_no={order.order_id}")[
        "payments"
    ]
    assert [r["amount_fen"] for r in payment["refunds"]] == [refunded.refunds[0].amount_fen]  # the wallet paid it back


AUDITORS: dict[str, KeyunClient] = {}


def audit_admin(server) -> KeyunClient:
    """The demo audit administrator, logged in once per server (each TOTP code works once)."""
    if server.target not in AUDITORS:
        AUDITORS[server.target] = logged_in(KeyunClient(server.target, attempts=1), "auditor")
    return AUDITORS[server.target]


def refusals(server, reason: str) -> float:
    """How many notifications Keyun's receiver refused for `reason` (its Prometheus counter)."""
    samples = [s for family in server.server.receiver.notifications.collect() for s in family.samples]
    return sum(s.value for s in samples if s.labels.get("outcome") == reason and s.name.endswith("_total"))


def test_a_refund_the_wallet_cannot_pay_out_yet_is_owed_audited_twice_and_paid_on_retry(station):
    server, sandbox, master, passenger, _ = station
    trip_id = schedule_trip(master, "WTOUT", dt.timedelta(hours=6))
    _, created = order_for(station, orders_pb2.PAY_METHOD_WEPAY, trip_id)
    control(sandbox, "/sandbox/pay", {"provider": "wepay", "merchant_order_no": created.order.order_id})
    order = wait_for(passenger, created.order.order_id, lambda o: o.status == orders_pb2.ORDER_STATUS_TICKETED)
    assert order.status == orders_pb2.ORDER_STATUS_TICKETED
    stub = orders_pb2_grpc.OrdersStub(passenger.channel)
    refund = orders_pb2.RefundOrderRequest(request_id="r-outage", order_id=order.order_id)
    control(sandbox, "/sandbox/outage", {"provider": "wepay", "calls": 1})
    with pytest.raises(KeyunError) as failed:
        passenger.call(stub.RefundOrder, refund)
    assert failed.value.code.name == "UNAVAILABLE" and failed.value.reason == "PROVIDER_UNAVAILABLE"
    owed = get(passenger, order.order_id)
    assert (
        owed.status == orders_pb2.ORDER_STATUS_REFUNDED and owed.refunds and not owed.refunds[0].provider_refund_id
    )  # applied, not paid out

    # The owner journaled the refund's record with the refund; the gateway adds how the call ended.
    auditor = audit_admin(server)
    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    records = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Orders/RefundOrder", target=order.order_id)
    ).records
    assert sorted(audit_outcome(r) for r in records) == ["OK", "PROVIDER_UNAVAILABLE"]
    failure = next(r for r in records if audit_outcome(r) == "PROVIDER_UNAVAILABLE")
    assert failure.detail.startswith("applied by its owner") and failure.actor == passenger.account.account_id

    # The retry is answered from the owner's window and pays the refund out.
    paid = passenger.call(stub.RefundOrder, refund).order
    assert paid.status == orders_pb2.ORDER_STATUS_REFUNDED and paid.refunds[0].provider_refund_id
    (payment,) = control(sandbox, f"/sandbox/payments?provider=wepay&merchant_order_no={order.order_id}")["payments"]
    assert [r["amount_fen"] for r in payment["refunds"]] == [paid.refunds[0].amount_fen]
    records = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Orders/RefundOrder", target=order.order_id)
    ).records
    assert sorted(audit_outcome(r) for r in records) == ["OK", "OK", "PROVIDER_UNAVAILABLE"]


def test_a_badly_signed_notification_is_refused_and_the_wallet_sends_a_good_one_later(station):
    server, sandbox, master, passenger, _ = station
    trip_id = schedule_trip(master, "WTSIG", dt.timedelta(hours=6))
    _, created = order_for(station, orders_pb2.PAY_METHOD_WEPAY, trip_id)
    before = refusals(server, "BAD_SIGNATURE")
    control(
        sandbox,
        "/sandbox/pay",
        {"provider": "wepay", "merchant_order_no": created.order.order_id, "tamper": "signature"},
    )
    order = wait_for(passenger, created.order.order_id, lambda o: o.status == orders_pb2.ORDER_STATUS_TICKETED)
    assert refusals(server, "BAD_SIGNATURE") > before  # the forged one was turned away...
    assert (
        order.status == orders_pb2.ORDER_STATUS_TICKETED and len(order.payments) == 1
    )  # ...the genuine resend counted once
    auditor = audit_admin(server)
    records = auditor.call(
        audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
        audit_pb2.ListRecordsRequest(action="payment-notification", reason="BAD_SIGNATURE"),
    ).records
    assert records and records[0].source == "provider:wepay"
    # A replay of the genuine notification later changes nothing either.
    control(sandbox, "/sandbox/replay", {"provider": "wepay", "merchant_order_no": created.order.order_id})
    (replayed,) = deliveries_settled(sandbox, "wepay", created.order.order_id, "replay", 1)
    assert replayed["acked"]
    assert len(get(passenger, created.order.order_id).payments) == 1


def test_a_signed_notification_for_the_wrong_amount_is_refused_and_audited(station):
    server, sandbox, master, passenger, _ = station
    trip_id = schedule_trip(master, "WTAMT", dt.timedelta(hours=6))
    _, created = order_for(station, orders_pb2.PAY_METHOD_WEPAY, trip_id)
    control(
        sandbox, "/sandbox/pay", {"provider": "wepay", "merchant_order_no": created.order.order_id, "tamper": "amount"}
    )
    auditor = audit_admin(server)
    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    listed = audit_pb2.ListRecordsRequest(action="payment-notification", target=created.order.order_id)
    records = wait_until(
        lambda: auditor.call(audit.ListRecords, listed).records,
        WAIT_S,
        "the refused notification's audit record",
        poll_s=0.2,
    )
    assert audit_outcome(records[-1]) == "PAYMENT_MISMATCH"  # the forged amount reached the owner, which refused it
    order = wait_for(passenger, created.order.order_id, lambda o: o.status == orders_pb2.ORDER_STATUS_TICKETED)
    assert order.status == orders_pb2.ORDER_STATUS_TICKETED and [p.amount_fen for p in order.payments] == [
        order.amount_fen
    ]  # the genuine resend


def test_a_late_payment_whose_seat_is_gone_goes_back_to_the_wallet(station):
    server, sandbox, master, passenger, _ = station
    trip_id = schedule_trip(master, "WLATE", dt.timedelta(hours=6))
    hold, created = order_for(station, orders_pb2.PAY_METHOD_ALIPAY, trip_id, ttl_seconds=2)
    # Paid in time, but the notification is held up past the order's expiry...
    control(
        sandbox, "/sandbox/pay", {"provider": "alipay", "merchant_order_no": created.order.order_id, "delay_ms": 5000}
    )
    server.clock.advance_s(2.5)
    assert get(passenger, created.order.order_id).status == orders_pb2.ORDER_STATUS_EXPIRED
    master.sell(
        trip_id, "AAA", "CCC", seat_numbers=tuple(hold.seat_numbers)
    )  # ...and someone else took the seat meanwhile
    order = wait_for(
        passenger, created.order.order_id, lambda o: bool(o.refunds) and bool(o.refunds[0].provider_refund_id)
    )
    assert order.status == orders_pb2.ORDER_STATUS_EXPIRED and not order.tickets
    assert order.refunds[0].amount_fen == order.amount_fen and order.refunds[0].provider_refund_id


def test_a_card_on_the_counter_terminal_pays_and_is_refunded_through_the_acquirer(station):
    server, sandbox, master, _, _ = station
    trip_id = schedule_trip(master, "WCARD", dt.timedelta(hours=6))
    stub = orders_pb2_grpc.OrdersStub(master.channel)
    hold = master.hold(trip_id, "AAA", "DDD", seat_count=2)
    order = master.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="card-o", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CARD),
    ).order
    control(sandbox, "/sandbox/card/decline-next", {"reason": DECLINE_REASONS[0]})
    with pytest.raises(KeyunError) as declined:
        master.call(
            stub.PayAtCounter,
            orders_pb2.PayAtCounterRequest(
                request_id="card-d", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CARD, terminal_id="POS01"
            ),
        )
    assert declined.value.reason == "PAYMENT_REFUSED"
    assert (
        master.call(stub.GetOrder, orders_pb2.GetOrderRequest(order_id=order.order_id)).order.status
        == orders_pb2.ORDER_STATUS_PENDING_PAYMENT
    )
    paid = master.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(
            request_id="card-p", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CARD, terminal_id="POS01"
        ),
    ).order
    assert paid.status == orders_pb2.ORDER_STATUS_TICKETED and paid.payments[0].method == orders_pb2.PAY_METHOD_CARD
    refunded = master.call(
        stub.RefundOrder,
        orders_pb2.RefundOrderRequest(
            request_id="card-r", order_id=order.order_id, ticket_ids=[paid.tickets[0].ticket_id]
        ),
    ).order
    assert refunded.status == orders_pb2.ORDER_STATUS_PARTIALLY_REFUNDED and refunded.refunds[0].provider_refund_id
    (card,) = control(sandbox, f"/sandbox/payments?provider=card&merchant_order_no={order.order_id}")["payments"]
    assert [r["amount_fen"] for r in card["refunds"]] == [refunded.refunds[0].amount_fen]


@pytest.mark.parametrize("method", [orders_pb2.PAY_METHOD_WEPAY, orders_pb2.PAY_METHOD_CARD])
def test_finance_reconciles_the_providers_bill_with_what_keyun_recorded(station, method):
    server, sandbox, master, _, _ = station
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    finance = logged_in(KeyunClient(server.target, attempts=1), "finance")
    stub = orders_pb2_grpc.OrdersStub(finance.channel)
    report = finance.call(stub.Reconcile, orders_pb2.ReconcileRequest(date=today, method=method))
    assert report.matched >= 1 and list(report.discrepancies) == []  # the tests above paid and refunded today
    assert (report.provider_paid_fen, report.provider_refunded_fen) == (
        report.keyun_paid_fen,
        report.keyun_refunded_fen,
    )
    seller = logged_in(KeyunClient(server.target, attempts=1), "seller")
    with pytest.raises(KeyunError) as refused:
        seller.call(
            orders_pb2_grpc.OrdersStub(seller.channel).Reconcile, orders_pb2.ReconcileRequest(date=today, method=method)
        )
    assert refused.value.code.name == "PERMISSION_DENIED"


def test_reconciliation_names_every_kind_of_difference():
    from keyun.gateway.order_services import reconcile

    theirs = [("PAY", "t1", "O1", 100), ("PAY", "t2", "O2", 200), ("PAY", "t3", "O3", 300), ("REFUND", "t1", "O1", 50)]
    ours = [
        ("PAY", "t1", "O1", 100),
        ("PAY", "t2", "O2", 250),
        ("PAY", "t4", "O4", 400),
        ("REFUND", "t1", "O1", 20),
        ("REFUND", "t1", "O1", 30),
    ]
    report = reconcile(theirs, ours)
    found = {(line.kind, line.provider_txn_id): line.discrepancy for line in report.discrepancies}
    assert report.matched == 2  # t1's payment, and t1's refunds summed
    assert found == {
        (orders_pb2.RECONCILE_LINE_KIND_PAY, "t2"): orders_pb2.DISCREPANCY_AMOUNT_DIFFERS,
        (orders_pb2.RECONCILE_LINE_KIND_PAY, "t3"): orders_pb2.DISCREPANCY_MISSING_IN_KEYUN,
        (orders_pb2.RECONCILE_LINE_KIND_PAY, "t4"): orders_pb2.DISCREPANCY_MISSING_AT_PROVIDER,
    }


def test_a_late_payment_still_tickets_the_seats_if_nobody_took_them(station):
    server, sandbox, master, passenger, _ = station
    trip_id = schedule_trip(master, "WLATE2", dt.timedelta(hours=6))
    hold, created = order_for(station, orders_pb2.PAY_METHOD_WEPAY, trip_id, ttl_seconds=2)
    control(
        sandbox, "/sandbox/pay", {"provider": "wepay", "merchant_order_no": created.order.order_id, "delay_ms": 4000}
    )
    server.clock.advance_s(2.5)
    assert get(passenger, created.order.order_id).status == orders_pb2.ORDER_STATUS_EXPIRED
    order = wait_for(passenger, created.order.order_id, lambda o: o.status == orders_pb2.ORDER_STATUS_TICKETED)
    assert order.status == orders_pb2.ORDER_STATUS_TICKETED and [t.seat_number for t in order.tickets] == list(
        hold.seat_numbers
    )
    assert [h.status for h in order.history][-3:] == [
        orders_pb2.ORDER_STATUS_EXPIRED,
        orders_pb2.ORDER_STATUS_PAID,
        orders_pb2.ORDER_STATUS_TICKETED,
    ]


def refusal(call) -> KeyunError:
    with pytest.raises(KeyunError) as refused:
        call()
    return refused.value


def test_a_kiosk_without_a_cash_acceptor_sells_only_through_orders_paid_by_card_or_wallet(station):
    """A stolen kiosk secret must not print free tickets: no Sell, no Confirm, no cash; card and wallet orders work."""
    server, sandbox, master, _, _ = station
    trip_id = schedule_trip(master, "WKIOSK", dt.timedelta(hours=6))
    kiosk = logged_in(KeyunClient(server.target, attempts=1), "kiosk1")
    stub = orders_pb2_grpc.OrdersStub(kiosk.channel)
    seats_before = master.seat_map(trip_id, "AAA", "DDD")

    sold = refusal(lambda: kiosk.sell(trip_id, "AAA", "CCC", seat_count=1))
    assert (sold.code.name, sold.reason, sold.reason_code) == ("PERMISSION_DENIED", "CASH_NOT_ACCEPTED", 4020)
    assert "no cash acceptor" in sold.message and "card or wallet" in sold.message
    hold = kiosk.hold(trip_id, "AAA", "CCC", seat_count=1)
    confirmed = refusal(lambda: kiosk.confirm(hold.hold_id))
    assert (confirmed.code.name, confirmed.reason) == ("PERMISSION_DENIED", "CASH_NOT_ACCEPTED")
    cash_order = kiosk.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(
            request_id="kiosk-cash-o", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH
        ),
    ).order
    paid_in_cash = refusal(
        lambda: kiosk.call(
            stub.PayAtCounter,
            orders_pb2.PayAtCounterRequest(
                request_id="kiosk-cash-p", order_id=cash_order.order_id, method=orders_pb2.PAY_METHOD_CASH
            ),
        )
    )
    assert (paid_in_cash.code.name, paid_in_cash.reason) == ("PERMISSION_DENIED", "CASH_NOT_ACCEPTED")
    assert (
        kiosk.call(stub.GetOrder, orders_pb2.GetOrderRequest(order_id=cash_order.order_id)).order.status
        == orders_pb2.ORDER_STATUS_PENDING_PAYMENT
    )
    kiosk.call(stub.CancelOrder, orders_pb2.CancelOrderRequest(request_id="kiosk-cash-c", order_id=cash_order.order_id))
    assert master.seat_map(trip_id, "AAA", "DDD") == seats_before  # nothing sold, nothing left held

    # A card on the kiosk's own POS terminal, and a wallet's QR code, still sell.
    card_hold = kiosk.hold(trip_id, "AAA", "CCC", seat_count=1)
    card_order = kiosk.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(
            request_id="kiosk-card-o", hold_id=card_hold.hold_id, method=orders_pb2.PAY_METHOD_CARD
        ),
    ).order
    by_card = kiosk.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(
            request_id="kiosk-card-p",
            order_id=card_order.order_id,
            method=orders_pb2.PAY_METHOD_CARD,
            terminal_id="POSK1",
        ),
    ).order
    assert by_card.status == orders_pb2.ORDER_STATUS_TICKETED and len(by_card.tickets) == 1
    wallet_hold = kiosk.hold(trip_id, "AAA", "CCC", seat_count=1)
    created = kiosk.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(
            request_id="kiosk-wallet-o", hold_id=wallet_hold.hold_id, method=orders_pb2.PAY_METHOD_ALIPAY
        ),
    )
    assert created.qr_text
    control(sandbox, "/sandbox/pay", {"provider": "alipay", "merchant_order_no": created.order.order_id})
    assert (
        wait_for(kiosk, created.order.order_id, lambda o: o.status == orders_pb2.ORDER_STATUS_TICKETED).status
        == orders_pb2.ORDER_STATUS_TICKETED
    )


def test_a_kiosk_declared_with_a_cash_acceptor_takes_cash_and_the_declaration_is_listed_and_audited(station):
    server, _, master, _, _ = station
    trip_id = schedule_trip(master, "WKCASH", dt.timedelta(hours=6))
    sysadmin, secadmin = (
        logged_in(KeyunClient(server.target, attempts=1), "sysadmin"),
        logged_in(KeyunClient(server.target, attempts=1), "secadmin"),
    )
    created = sysadmin.call(
        sysadmin.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id="kiosk-cash-new",
            kind=accounts_pb2.ACCOUNT_KIND_DEVICE,
            login_name="kiosk-cash",
            display_name="自助售票机 (收现)",
        ),
    )
    account_id = created.account.account_id
    grant = staff_pb2.GrantRolesRequest(
        request_id="kiosk-cash-grant", account_id=account_id, roles=["kiosk_device"], stations=["*"], cash_acceptor=True
    )

    # Only a kiosk has a cash acceptor: the same grant for a gate device is refused and changes nothing.
    bad = refusal(
        lambda: secadmin.call(
            secadmin.staff.GrantRoles,
            staff_pb2.GrantRolesRequest(
                request_id="kiosk-cash-bad",
                account_id=account_id,
                roles=["gate_device"],
                stations=["*"],
                cash_acceptor=True,
            ),
        )
    )
    assert (bad.code.name, bad.reason, bad.facts.get("field")) == ("INVALID_ARGUMENT", "INVALID_FIELD", "cash_acceptor")
    granted = secadmin.call(secadmin.staff.GrantRoles, grant).account
    assert granted.cash_acceptor and list(granted.roles) == ["kiosk_device"]
    listed = sysadmin.call(sysadmin.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500)).accounts
    assert {a.login_name: a.cash_acceptor for a in listed if a.login_name in ("kiosk-cash", "kiosk1")} == {
        "kiosk-cash": True,
        "kiosk1": False,
    }
    audit = audit_pb2_grpc.AuditStub(audit_admin(server).channel)
    records = (
        audit_admin(server)
        .call(audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Staff/GrantRoles", target=account_id))
        .records
    )
    assert sorted(audit_outcome(r) for r in records) == ["INVALID_FIELD", "OK"]
    assert "cash_acceptor=yes" in next(r for r in records if audit_outcome(r) == "OK").detail

    kiosk = KeyunClient(server.target, attempts=1)
    kiosk.login("kiosk-cash", created.device_secret)
    assert len(kiosk.sell(trip_id, "AAA", "CCC", seat_count=1).tickets) == 1
    stub = orders_pb2_grpc.OrdersStub(kiosk.channel)
    hold = kiosk.hold(trip_id, "AAA", "CCC", seat_count=1)
    order = kiosk.call(
        stub.CreateOrder,
        orders_pb2.CreateOrderRequest(
            request_id="kiosk-cash2-o", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH
        ),
    ).order
    paid = kiosk.call(
        stub.PayAtCounter,
        orders_pb2.PayAtCounterRequest(
            request_id="kiosk-cash2-p", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CASH
        ),
    ).order
    assert paid.status == orders_pb2.ORDER_STATUS_TICKETED and paid.payments[0].method == orders_pb2.PAY_METHOD_CASH
