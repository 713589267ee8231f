"""The station's payment providers behind the Orders service: wallets, the card acquirer, and the
notification endpoint that turns a provider's signed notification into a payment on the order.

The owner decides what a payment means (ticket, re-ticket, or owe it back); this desk only moves
money and reports it.  A notification is answered with the provider's acknowledgement only once
the payment is journaled by the order's owner, so a crash makes the provider send it again, and
the owner ignores a transaction it has already recorded.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from pathlib import Path

import aiohttp

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.common.payments_wire.keys import ProviderKeys
from keyun.engine.audit import MAX_DETAIL_CHARS, AuditRecord, fit
from keyun.engine.commands import PayMethod
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.views import OrderView

from .payments.base import BadNotification, Method, Notification, WalletProvider
from .payments.card import CardAcquirer
from .payments.receiver import NotificationReceiver
from .payments.wallets import AliPay, WePay

log = logging.getLogger("keyun.payments")

METHOD_OF = {
    Method.WALLET_A: PayMethod.WEPAY,
    Method.WALLET_B: PayMethod.ALIPAY,
    Method.CARD: PayMethod.CARD,
    Method.CASH: PayMethod.CASH,
}
PROVIDER_OF = {pay_method: method for method, pay_method in METHOD_OF.items()}


# Refusals `handle` writes to the audit trail itself, with the order they name; the receiver's
# `refused` callback leaves these alone.
AUDITED_REFUSALS = {
    Reason.PAYMENT_MISMATCH: "BAD_AMOUNT",
    Reason.UNKNOWN_ORDER: "UNKNOWN_ORDER",
    Reason.INVALID_FIELD: "BAD_ORDER",
}


class ProviderDesk:
    """PaymentDesk (gateway/order_services.py) over real provider clients."""

    def __init__(
        self,
        wallets: dict[PayMethod, WalletProvider],
        acquirer: CardAcquirer | None,
        notify_base_url: str,
        sandbox: bool,
    ):
        self.wallets = wallets
        self.acquirer = acquirer
        self.notify_base_url = notify_base_url.rstrip("/")
        self.sandbox = sandbox
        self.receiver: NotificationReceiver | None = None

    @classmethod
    def from_key_dir(cls, directory: Path, notify_base_url: str, clock: Clock = SYSTEM_CLOCK) -> ProviderDesk:
        """The providers a merchant.json names (made by `keyun sandbox-pay --keys-dir`, or by hand),
        stamping their requests with `clock`."""
        keys = ProviderKeys.load(directory)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PROVIDER_TIMEOUT_S))
        wallets: dict[PayMethod, WalletProvider] = {}
        if "wepay" in keys.providers:
            wallets[PayMethod.WEPAY] = WePay(keys["wepay"], session, clock.now_ms)
        if "alipay" in keys.providers:
            wallets[PayMethod.ALIPAY] = AliPay(keys["alipay"], session, clock.now_ms)
        acquirer = CardAcquirer(keys["card"], session, clock.now_ms) if "card" in keys.providers else None
        return cls(wallets, acquirer, notify_base_url, keys.sandbox)

    def offers(self, method: PayMethod) -> bool:
        return (
            method is PayMethod.CASH
            or method in self.wallets
            or (method is PayMethod.CARD and self.acquirer is not None)
        )

    async def start(self, order: OrderView) -> tuple[str, str]:
        wallet = self.wallets[PayMethod(order.method)]
        subject = f"{order.trip.route_name} {order.from_stop.code}→{order.to_stop.code} ×{len(order.seat_labels)}"
        started = await wallet.create(
            order.order_id, order.amount_fen, subject, f"{self.notify_base_url}/notify/{order.method}", order.pay_by_ms
        )
        return started.pay_url, started.qr_text

    async def authorize_card(self, terminal_id: str, order: OrderView) -> str:
        assert self.acquirer is not None, "offers() said no card"
        approval = await self.acquirer.authorize(terminal_id, order.order_id, order.amount_fen)
        return approval.provider_txn_id

    async def pay_out(self, order: OrderView, refund_no: str, amount_fen: int) -> str:
        provider = self.acquirer if order.method == PayMethod.CARD.value else self.wallets[PayMethod(order.method)]
        paid = sum(p.amount_fen for p in order.payments)
        result = await provider.refund(order.order_id, refund_no, amount_fen, paid)
        return result.provider_refund_id

    async def close(self, order: OrderView) -> None:
        await self.wallets[PayMethod(order.method)].close(order.order_id)

    async def statement(self, method: PayMethod, day: date) -> list:
        """The provider's bill for a day: what it says was paid and refunded."""
        provider = self.acquirer if method is PayMethod.CARD else self.wallets[method]
        return await provider.statement(day)


# A provider call the counter or a passenger waits on: longer than any sandbox round trip, short
# enough that a hung provider turns into a clear error.
PROVIDER_TIMEOUT_S = 10.0


class NotificationDesk:
    """What a verified notification does: record the payment with the order's owner, pay out
    whatever the owner says is owed (a late or duplicate payment), and leave an audit record."""

    def __init__(self, orders, audit_submit, clock: Clock = SYSTEM_CLOCK):
        self.orders = orders  # OrderDesk
        self.audit_submit = audit_submit
        self.clock = clock

    async def handle(self, notification: Notification) -> None:
        method = METHOD_OF[notification.method]
        recorded = await self.orders.record_payment(
            method,
            notification.merchant_order_no,
            notification.provider_txn_id,
            notification.amount_fen,
            notification.paid_at_ms,
        )
        if isinstance(recorded, Rejection):
            await self._audit(notification, recorded.reason.name, recorded.message)
            if recorded.reason in (Reason.PAYMENT_MISMATCH, Reason.UNKNOWN_ORDER, Reason.INVALID_FIELD):
                raise BadNotification(AUDITED_REFUSALS[recorded.reason], recorded.message)
            raise RuntimeError(f"the order's owner refused the payment: {recorded.reason.name}")
        await self.orders.settle_owed(recorded)
        await self._audit(notification, "OK", f"order {recorded.status.value}")

    async def refused(self, provider: str, reason: str, body_digest: str) -> None:
        """A notification the receiver turned away (bad signature, stale, malformed).  Those the
        order's owner refused (a wrong amount) were recorded by `handle`, with their order."""
        if reason in AUDITED_REFUSALS.values():
            return
        await self.audit_submit(
            AuditRecord(
                record_id=uuid.uuid4().hex,
                at_ms=self.clock.now_ms(),
                actor="",
                role="",
                device="",
                station="",
                source=f"provider:{provider}",
                action="payment-notification",
                target="",
                outcome=reason,
                detail=f"refused before reaching an order; body sha256 {body_digest}",
            )
        )

    async def _audit(self, notification: Notification, outcome: str, detail: str) -> None:
        await self.audit_submit(
            AuditRecord(
                record_id=uuid.uuid4().hex,
                at_ms=self.clock.now_ms(),
                actor="",
                role="",
                device="",
                station="",
                source=f"provider:{notification.method.value}",
                action="payment-notification",
                target=fit(notification.merchant_order_no, 200),
                outcome=outcome,
                detail=fit(
                    f"txn {notification.provider_txn_id}, {notification.amount_fen} fen: {detail}", MAX_DETAIL_CHARS
                ),
            )
        )


def receiver_for(desk: ProviderDesk, notifications: NotificationDesk, registry=None) -> NotificationReceiver:
    """Checks notifications' freshness by the notification desk's clock."""
    wallets = {PROVIDER_OF[method]: wallet for method, wallet in desk.wallets.items()}
    return NotificationReceiver(
        wallets,
        notifications.handle,
        registry=registry,
        now_ms=notifications.clock.now_ms,
        refused=notifications.refused,
    )
