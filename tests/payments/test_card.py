"""Bank cards at the counter: the sandbox plays the POS terminal and the UnionPay-style acquirer."""

from __future__ import annotations

import datetime as dt

import pytest

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import CHINA
from keyun.gateway.payments.base import PAY, REFUND, REFUND_SUCCESS, CardDeclined, ProviderRefused

from .conftest import order_no, rig, run


def test_a_card_is_approved_then_refunded_in_parts(sandbox):
    async def scenario():
        async with rig(sandbox, receive=False) as r:
            number, before_ms = order_no("C"), SYSTEM_CLOCK.now_ms()
            approval = await r.card.authorize("POS00001", number, 12_345)
            assert approval.amount_fen == 12_345
            assert approval.approval_code.isdigit() and len(approval.approval_code) == 6
            assert len(approval.provider_txn_id) == 21
            assert before_ms // 1000 * 1000 <= approval.at_ms <= SYSTEM_CLOCK.now_ms()
            # The POS lost the answer and asks again: the same approval, not a second charge.
            assert await r.card.authorize("POS00001", number, 12_345) == approval
            with pytest.raises(ProviderRefused) as duplicate:
                await r.card.authorize("POS00001", number, 99)
            assert duplicate.value.code == "12"

            first = await r.card.refund(number, f"{number}-R1", 2_345, 12_345)
            assert (first.amount_fen, first.state) == (2_345, REFUND_SUCCESS)
            await r.card.refund(number, f"{number}-R2", 10_000, 12_345)
            with pytest.raises(ProviderRefused):
                await r.card.refund(number, f"{number}-R3", 1, 12_345)

            day = dt.datetime.fromtimestamp(approval.at_ms / 1000, CHINA).date()
            lines = [line for line in await r.card.statement(day) if line.merchant_order_no == number]
            assert [(line.kind, line.amount_fen, line.provider_txn_id) for line in lines] == [
                (PAY, 12_345, approval.provider_txn_id),
                (REFUND, 2_345, approval.provider_txn_id),
                (REFUND, 10_000, approval.provider_txn_id),
            ]

    run(scenario())


def test_a_declined_card_says_why_and_the_next_is_approved(sandbox):
    async def scenario():
        async with rig(sandbox, receive=False) as r:
            status, _ = await r.post("/sandbox/card/decline-next", {"reason": "INSUFFICIENT_FUNDS"})
            assert status == 200
            number = order_no("C")
            with pytest.raises(CardDeclined) as declined:
                await r.card.authorize("POS00002", number, 5_000)
            assert (declined.value.reason, declined.value.code) == ("INSUFFICIENT_FUNDS", "51")
            # The declined purchase left nothing behind: the next card for the order goes through.
            approval = await r.card.authorize("POS00002", number, 5_000)
            assert approval.amount_fen == 5_000

            status, answer = await r.post("/sandbox/card/decline-next", {"reason": "BECAUSE"})
            assert (status, answer["error"]) == (400, "BAD_REQUEST")

    run(scenario())


def test_bad_card_requests_are_refused_before_they_are_sent(sandbox):
    async def scenario():
        async with rig(sandbox, receive=False) as r:
            with pytest.raises(ValueError):
                await r.card.authorize("POS 1", order_no("C"), 100)
            with pytest.raises(ValueError):
                await r.card.authorize("POS00001", order_no("C"), 0)
            with pytest.raises(ValueError):
                await r.card.refund(order_no("C"), order_no("R"), 200, 100)

    run(scenario())
