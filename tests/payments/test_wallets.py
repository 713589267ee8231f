"""Wallet payments end to end: Keyun's real clients and receiver against `keyun sandbox-pay`.

Every message is really signed (RSA-SHA256) and WePay's notifications really encrypted
(AES-256-GCM); the sandbox is a separate process reached over HTTP.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import CHINA
from keyun.gateway.payments.base import (
    CLOSED,
    NOTPAY,
    PAID,
    PAY,
    REFUND,
    REFUND_SUCCESS,
    REFUNDED,
    Method,
    ProviderRefused,
)
from keyun.sandboxes.payments.server import OUT_OF_ORDER_MAX_WAIT_MS

from .conftest import rig, run

WALLETS = [Method.WALLET_A, Method.WALLET_B]
# The words each wallet refuses an over-refund with.
OVER_REFUND = {Method.WALLET_A: "INVALID_REQUEST", Method.WALLET_B: "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_a_paid_payment_is_notified_verified_and_queried(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            before_ms = SYSTEM_CLOCK.now_ms()
            number, start = await r.create(method, 4_250)
            assert (start.method, start.merchant_order_no) == (method, number)
            assert start.pay_url.startswith(sandbox.base_url) and start.qr_text
            assert (await r.wallet(method).query(number)).state == NOTPAY

            paid = await r.pay(method, number)
            await r.until(lambda: r.received)
            (notification,) = r.received
            assert notification.method is method
            assert notification.merchant_order_no == number
            assert notification.amount_fen == 4_250
            assert notification.provider_txn_id == paid["provider_txn_id"] != ""
            # Providers write times to the second.
            assert before_ms // 1000 * 1000 <= notification.paid_at_ms <= SYSTEM_CLOCK.now_ms()
            assert re.fullmatch(r"[0-9a-f]{64}", notification.raw_digest)

            status = await r.wallet(method).query(number)
            assert (status.state, status.amount_fen, status.provider_txn_id, status.paid_at_ms) == (
                PAID,
                4_250,
                notification.provider_txn_id,
                notification.paid_at_ms,
            )
            (delivery,) = await r.deliveries_settled(method.value, number, 1)
            assert (delivery["status"], delivery["acked"], delivery["attempt"]) == (200, True, 1)

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_duplicates_arrive_with_the_same_transaction_and_are_counted(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(method, 100)
            await r.pay(method, number, duplicates=3)
            await r.until(lambda: len(r.received) == 4)
            assert len({n.provider_txn_id for n in r.received}) == 1
            assert {(n.merchant_order_no, n.amount_fen) for n in r.received} == {(number, 100)}
            assert r.receiver.duplicates_seen == 3
            kinds = [d["kind"] for d in await r.deliveries_settled(method.value, number, 4)]
            assert kinds == ["first", "duplicate", "duplicate", "duplicate"]
            assert r.receiver.notifications.labels(method.value, "duplicate")._value.get() == 3

            # A replay on request is one more duplicate.
            status, _ = await r.post("/sandbox/replay", {"provider": method.value, "merchant_order_no": number})
            assert status == 200
            await r.until(lambda: len(r.received) == 5)
            assert r.receiver.duplicates_seen == 4

    run(scenario())


def test_a_delayed_notification_is_sent_after_the_delay(sandbox):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(Method.WALLET_B, 990)
            paid = await r.pay(Method.WALLET_B, number, delay_ms=400)
            await r.until(lambda: r.received)
            (delivery,) = await r.deliveries_settled("alipay", number, 1)
            assert delivery["at_ms"] - paid["paid_at_ms"] >= 400
            assert r.received[0].provider_txn_id == paid["provider_txn_id"]

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_out_of_order_a_later_payment_is_notified_first(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            early, _ = await r.create(method, 1_000)
            late, _ = await r.create(method, 2_000)
            first_paid = await r.pay(method, early, out_of_order=True)
            second_paid = await r.pay(method, late)
            await r.until(lambda: len(r.received) == 2)
            assert [n.merchant_order_no for n in r.received] == [late, early]
            assert first_paid["paid_at_ms"] <= second_paid["paid_at_ms"]
            assert r.received[1].provider_txn_id == first_paid["provider_txn_id"]

    run(scenario())


def test_a_held_back_notification_goes_anyway_when_no_later_payment_comes(sandbox):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(Method.WALLET_A, 1_500)
            paid = await r.pay(Method.WALLET_A, number, out_of_order=True, duplicates=1)
            await r.until(lambda: len(r.received) == 2)
            first, _ = await r.deliveries_settled("wepay", number, 2)
            assert first["at_ms"] - paid["paid_at_ms"] >= OUT_OF_ORDER_MAX_WAIT_MS

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_a_bad_signature_is_refused_and_the_genuine_retry_accepted(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(method, 3_300)
            await r.pay(method, number, tamper="signature")
            await r.until(lambda: r.received)
            refused, accepted = await r.deliveries_settled(method.value, number, 1)
            assert (refused["status"], refused["acked"], refused["tampered"]) == (401, False, "signature")
            assert (accepted["status"], accepted["acked"], accepted["attempt"]) == (200, True, 2)
            assert r.receiver.notifications.labels(method.value, "BAD_SIGNATURE")._value.get() == 1
            assert r.refused == []  # the handler never saw the forged one
            assert [n.amount_fen for n in r.received] == [3_300]

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_a_wrong_amount_is_caught_by_check_amount(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(method, 5_000)
            await r.pay(method, number, tamper="amount")
            await r.until(lambda: r.received)
            assert r.refused == ["BAD_AMOUNT"]
            refused, accepted = await r.deliveries_settled(method.value, number, 1)
            assert (refused["status"], refused["tampered"], accepted["status"]) == (400, "amount", 200)
            assert [n.amount_fen for n in r.received] == [5_000]

    run(scenario())


def test_the_sandbox_gives_up_when_keyun_never_acknowledges(sandbox):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(Method.WALLET_A, 700)
            r.failing.add(number)
            await r.pay(Method.WALLET_A, number)
            deliveries = await r.deliveries_settled("wepay", number, 1)
            assert [d["status"] for d in deliveries if not d.get("gave_up")] == [500] * 5
            assert deliveries[-1]["gave_up"] is True
            assert r.received == []
            assert r.receiver.notifications.labels("wepay", "handler_failed")._value.get() == 5

            # Keyun learns of the payment by asking, and a replay delivers it once the owner is back.
            assert (await r.wepay.query(number)).state == PAID
            r.failing.clear()
            await r.post("/sandbox/replay", {"provider": "wepay", "merchant_order_no": number})
            await r.until(lambda: r.received)

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_refunds_partial_then_the_rest_then_no_more(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            wallet = r.wallet(method)
            number, _ = await r.create(method, 10_000)
            await r.pay(method, number)
            first = await wallet.refund(number, f"{number}-R1", 3_000, 10_000)
            assert (first.merchant_refund_no, first.amount_fen, first.state) == (f"{number}-R1", 3_000, REFUND_SUCCESS)
            # The same refund asked again is the same refund, not a second one.
            again = await wallet.refund(number, f"{number}-R1", 3_000, 10_000)
            assert again.provider_refund_id == first.provider_refund_id
            assert (await wallet.query(number)).state == (REFUNDED if method is Method.WALLET_A else PAID)

            rest = await wallet.refund(number, f"{number}-R2", 7_000, 10_000)
            assert rest.provider_refund_id != first.provider_refund_id
            assert (await wallet.query(number)).state == REFUNDED
            with pytest.raises(ProviderRefused) as over:
                await wallet.refund(number, f"{number}-R3", 1, 10_000)
            assert over.value.code == OVER_REFUND[method]
            payment = await r.payment(method.value, number)
            assert sum(refund["amount_fen"] for refund in payment["refunds"]) == 10_000

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_closed_and_unpaid_payments_cannot_be_paid_or_refunded(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            wallet = r.wallet(method)
            number, _ = await r.create(method, 800)
            with pytest.raises(ProviderRefused):
                await wallet.refund(number, f"{number}-R1", 800, 800)
            await wallet.close(number)
            assert (await wallet.query(number)).state == CLOSED
            status, answer = await r.post("/sandbox/pay", {"provider": method.value, "merchant_order_no": number})
            assert (status, answer["error"]) == (409, "ORDER_CLOSED")
            with pytest.raises(ProviderRefused):
                await wallet.refund(number, f"{number}-R1", 800, 800)

            paid_number, _ = await r.create(method, 800)
            await r.pay(method, paid_number)
            with pytest.raises(ProviderRefused):
                await wallet.close(paid_number)  # paid: refund it instead
            with pytest.raises(ProviderRefused):
                await wallet.query("T" + "0" * 16)  # never created

    run(scenario())


def test_an_expired_payment_is_closed(sandbox):
    async def scenario():
        async with rig(sandbox) as r:
            number, _ = await r.create(Method.WALLET_B, 800, ttl_ms=2_500)
            for bad in ({"advance_ms": -1}, {"advance_ms": "2500"}, {}):
                assert (await r.post("/sandbox/clock", bad))[0] == 400  # forward only, by a whole number of ms
            status, moved = await r.post("/sandbox/clock", {"advance_ms": 2_500})  # the sandbox's time, past the expiry
            assert status == 200 and moved["ahead_ms"] >= 2_500
            assert (await r.alipay.query(number)).state == CLOSED
            status, answer = await r.post("/sandbox/pay", {"provider": "alipay", "merchant_order_no": number})
            assert (status, answer["error"]) == (409, "ORDER_CLOSED")

    run(scenario())


@pytest.mark.parametrize("method", WALLETS, ids=lambda m: m.value)
def test_the_daily_statement_lists_the_days_payments_and_refunds(sandbox, method):
    async def scenario():
        async with rig(sandbox) as r:
            wallet = r.wallet(method)
            number, _ = await r.create(method, 6_600)
            paid = await r.pay(method, number)
            await wallet.refund(number, f"{number}-R1", 600, 6_600)
            day = dt.datetime.fromtimestamp(paid["paid_at_ms"] / 1000, CHINA).date()
            lines = [line for line in await wallet.statement(day) if line.merchant_order_no == number]
            assert [(line.kind, line.amount_fen, line.provider_txn_id) for line in lines] == [
                (PAY, 6_600, paid["provider_txn_id"]),
                (REFUND, 600, paid["provider_txn_id"]),
            ]
            assert all(line.method is method for line in lines)
            assert lines[0].at_ms == paid["paid_at_ms"] // 1000 * 1000
            assert [
                line for line in await wallet.statement(day - dt.timedelta(days=1)) if line.merchant_order_no == number
            ] == []

    run(scenario())


def test_the_pay_page_shows_the_payment_and_pays_it(sandbox):
    async def scenario():
        async with rig(sandbox) as r:
            number, start = await r.create(Method.WALLET_A, 1_234)
            async with r.control.get(start.pay_url) as response:
                page = await response.text()
            assert response.status == 200
            assert "¥12.34" in page and "no real money" in page and "<button" in page and "甲站→丁站" in page
            async with r.control.post(start.pay_url) as response:
                assert response.status == 200
            await r.until(lambda: r.received)
            assert (r.received[0].merchant_order_no, r.received[0].amount_fen) == (number, 1_234)
            async with r.control.get(start.pay_url) as response:
                assert "<button" not in await response.text()  # paid: nothing left to press
            async with r.control.get(f"{sandbox.base_url}/pay/wepay/NOSUCHORDER") as response:
                assert response.status == 404

    run(scenario())
