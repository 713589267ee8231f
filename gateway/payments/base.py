"""What every payment provider looks like to Keyun: plain values, the refusals, and the interfaces.

Money is integer fen here as everywhere in Keyun.  A provider that speaks yuan (Alipay's
"12.34") is converted exactly, by string, at its edge (`yuan_to_fen`, `fen_to_yuan`).  Methods,
states, amounts and the providers' formats, which the payment sandbox writes too, are in
keyun.common.payments_wire.

Cash needs no provider.  A bank card goes through a `CardAcquirer` (card.py) behind the counter's
POS terminal; the two wallets (wallets.py) are reached over HTTP and notify Keyun asynchronously
(receiver.py).  Method values equal keyun.engine.commands.PayMethod's, so `PayMethod(m.value)`
converts between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from keyun.common.payments_wire.formats import (
    CLOSED,
    MAX_MERCHANT_NO_CHARS,
    MERCHANT_NO,
    NOTPAY,
    PAID,
    REFUNDED,
    Method,
)
from keyun.engine.commands import MAX_PROVIDER_ID_CHARS, PROVIDER_ID

PAYMENT_STATES = (NOTPAY, PAID, CLOSED, REFUNDED)
REFUND_PROCESSING, REFUND_SUCCESS = "PROCESSING", "SUCCESS"
PAY, REFUND = "PAY", "REFUND"


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """A wallet payment was created: show `qr_text` as a QR code, or send the payer to `pay_url`."""

    method: Method
    merchant_order_no: str
    provider_order_no: str  # the provider's handle for the payment (WePay's prepay id, Alipay's order)
    pay_url: str
    qr_text: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified (and decrypted) payment notification.  Its amount is the provider's word: compare
    it with the order's amount with `check_amount` before believing the order is paid."""

    method: Method
    provider_txn_id: str  # the provider's transaction id: the key for deduplication
    merchant_order_no: str
    amount_fen: int
    paid_at_ms: int
    raw_digest: str  # sha256 hex of the raw body, for the audit log (the body itself is not kept)


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    """What a query answered.  REFUNDED follows the provider: WePay says so after any refund,
    Alipay only once the whole amount is refunded and the trade closed."""

    method: Method
    merchant_order_no: str
    state: str  # one of PAYMENT_STATES
    amount_fen: int
    provider_txn_id: str  # "" until paid
    paid_at_ms: int  # 0 until paid


@dataclass(frozen=True, slots=True)
class RefundResult:
    method: Method
    merchant_refund_no: str
    provider_refund_id: str
    amount_fen: int
    state: str  # REFUND_PROCESSING or REFUND_SUCCESS


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of a provider's daily bill: a payment or a refund as the provider booked it."""

    method: Method
    provider_txn_id: str  # the payment's transaction id, for refunds too (their refund id is not needed)
    merchant_order_no: str
    amount_fen: int  # always positive; `kind` says which way the money went
    kind: str  # PAY or REFUND
    at_ms: int


@dataclass(frozen=True, slots=True)
class CardApproval:
    """The acquirer approved a card payment taken on a POS terminal."""

    approval_code: str  # printed on the slip; the cardholder's bank issued it
    provider_txn_id: str  # the acquirer's transaction id (UnionPay's queryId)
    amount_fen: int
    at_ms: int


# --- refusals ---------------------------------------------------------------------------------

BAD_SIGNATURE = "BAD_SIGNATURE"  # the signature (or the AES-GCM tag) does not verify
BAD_AMOUNT = "BAD_AMOUNT"  # the amount is not the order's: only check_amount, the caller's step, says so
MALFORMED = "MALFORMED"  # not a payment notification we can read
UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"  # a provider, merchant or key this Keyun does not have
STALE = "STALE"  # its timestamp is too far from now: a replay, or a clock far off
NOTIFICATION_REASONS = (BAD_SIGNATURE, BAD_AMOUNT, MALFORMED, UNKNOWN_PROVIDER, STALE)


class BadNotification(Exception):
    """A notification that is refused.  `reason` is stable (one of NOTIFICATION_REASONS); the
    message says what was wrong in words and never carries a key or the body."""

    def __init__(self, reason: str, message: str):
        assert reason in NOTIFICATION_REASONS, reason
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class ProviderError(Exception):
    """A call to a provider did not succeed.  `code` is the provider's own error code where it
    gave one (e.g. WePay's "INVALID_REQUEST", Alipay's "ACQ.TRADE_HAS_CLOSE")."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


class ProviderRefused(ProviderError):
    """The provider answered and said no (a refund beyond what was paid, a closed trade...):
    retrying the same request will not help."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, failed, or answered something we cannot trust (a bad
    signature on its response): the request may be retried with the same numbers."""


class CardDeclined(ProviderRefused):
    """The card was declined.  `reason` is one of DECLINE_REASONS (the issuer's words)."""

    def __init__(self, reason: str, code: str, message: str):
        super().__init__(code, message)
        self.reason = reason


def check_amount(notification: Notification, expected_fen: int) -> None:
    """The caller's step after parse_notification: the amount paid must be the order's amount.

    The provider's signature proves the provider said it, not that it is what Keyun asked for (a
    payment created with another amount, or a merchant-side mistake)."""
    if notification.amount_fen != expected_fen:
        raise BadNotification(
            BAD_AMOUNT,
            f"order {notification.merchant_order_no}: paid {notification.amount_fen} fen, expected {expected_fen} fen",
        )


def recordable(merchant_order_no: str, provider_txn_id: str) -> bool:
    """A notification's ids are ones an order's owner can record (see RecordPayment)."""
    return bool(
        merchant_order_no
        and len(merchant_order_no) <= MAX_MERCHANT_NO_CHARS
        and MERCHANT_NO.fullmatch(merchant_order_no)
        and provider_txn_id
        and len(provider_txn_id) <= MAX_PROVIDER_ID_CHARS
        and PROVIDER_ID.fullmatch(provider_txn_id)
    )


# --- the interfaces ---------------------------------------------------------------------------------


class WalletProvider(Protocol):
    """A third-party wallet: create a payment, learn of it by a signed notification, query,
    refund, close, and fetch the daily bill.  Errors: ProviderRefused, ProviderUnavailable."""

    method: Method

    async def create(
        self, merchant_order_no: str, amount_fen: int, subject: str, notify_url: str, expires_at_ms: int
    ) -> PaymentStart: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now_ms: int) -> Notification:
        """Verify the signature (and decrypt, where the flavour encrypts); raise BadNotification."""
        ...

    def notification_ack(self) -> tuple[int, bytes, str]:
        """(HTTP status, body, content type) that tells the provider to stop resending."""
        ...

    async def query(self, merchant_order_no: str) -> PaymentStatus: ...

    async def refund(
        self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult: ...

    async def close(self, merchant_order_no: str) -> None: ...

    async def statement(self, day: date) -> list[StatementLine]: ...

    async def aclose(self) -> None:
        """Close the client's HTTP connections."""
        ...


class CardProvider(Protocol):
    """The acquirer behind the counters' POS terminals (card.CardAcquirer).  Errors: CardDeclined
    (with the issuer's reason), ProviderRefused, ProviderUnavailable."""

    method: Method

    async def authorize(self, terminal_id: str, merchant_order_no: str, amount_fen: int) -> CardApproval: ...

    async def refund(
        self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult: ...

    async def statement(self, day: date) -> list[StatementLine]: ...

    async def aclose(self) -> None:
        """Close the client's HTTP connections."""
        ...
