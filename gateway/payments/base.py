"""What every payment provider looks like to Keyun: plain values, the refusals, and the interfaces.

Money is integer fen here as everywhere in Keyun.  A provider that speaks yuan (Alipay's
"12.34") is converted exactly, by string, at its edge (`yuan_to_fen`, `fen_to_yuan`).

Cash needs no provider.  A bank card goes through a `CardAcquirer` (card.py) behind the counter's
POS terminal; the two wallets (wallets.py) are reached over HTTP and notify Keyun asynchronously
(receiver.py).  Method values equal keyun.engine.commands.PayMethod's, so `PayMethod(m.value)`
converts between the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Protocol

from keyun.engine.commands import MAX_PROVIDER_ID_CHARS, PROVIDER_ID


class Method(Enum):
    CASH = "cash"  # at the counter
    CARD = "card"  # a bank card on the counter's POS terminal, approved by the acquirer
    WALLET_A = "wepay"  # modelled on WeChat Pay API v3
    WALLET_B = "alipay"  # modelled on Alipay's open API


WALLETS = (Method.WALLET_A, Method.WALLET_B)

# Payment states as Keyun sees them, whatever the provider calls them.
NOTPAY, PAID, CLOSED, REFUNDED = "NOTPAY", "PAID", "CLOSED", "REFUNDED"
PAYMENT_STATES = (NOTPAY, PAID, CLOSED, REFUNDED)
REFUND_PROCESSING, REFUND_SUCCESS = "PROCESSING", "SUCCESS"
PAY, REFUND = "PAY", "REFUND"

# Merchant order and refund numbers as the wallets accept them (WeChat Pay allows [A-Za-z0-9_-|*]
# up to 32 characters, Alipay up to 64); Keyun's order ids are of the same alphabet.
MERCHANT_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MAX_MERCHANT_NO_CHARS = 64
# One payment's ceiling: no bus ticket order comes near 1,000,000 yuan, and a bound keeps every
# amount inside what each provider's field can carry.
MAX_AMOUNT_FEN = 100_000_000


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


# ISO 8583 response codes that UnionPay-style acquirers pass back from the issuer.
DECLINE_CODES = {
    "DO_NOT_HONOUR": "05",
    "INSUFFICIENT_FUNDS": "51",
    "EXPIRED_CARD": "54",
    "WRONG_PIN": "55",
    "EXCEEDS_LIMIT": "61",
}
DECLINE_REASONS = tuple(DECLINE_CODES)


def check_amount(notification: Notification, expected_fen: int) -> None:
    """The caller's step after parse_notification: the amount paid must be the order's amount.

    The provider's signature proves the provider said it, not that it is what Keyun asked for (a
    payment created with another amount, or a merchant-side mistake)."""
    if notification.amount_fen != expected_fen:
        raise BadNotification(BAD_AMOUNT, f"order {notification.merchant_order_no}: paid {notification.amount_fen} fen, expected {expected_fen} fen")


def recordable(merchant_order_no: str, provider_txn_id: str) -> bool:
    """A notification's ids are ones an order's owner can record (see RecordPayment)."""
    return bool(
        merchant_order_no and len(merchant_order_no) <= MAX_MERCHANT_NO_CHARS and MERCHANT_NO.fullmatch(merchant_order_no)
        and provider_txn_id and len(provider_txn_id) <= MAX_PROVIDER_ID_CHARS and PROVIDER_ID.fullmatch(provider_txn_id)
    )


def check_merchant_no(field_name: str, value: str) -> None:
    if not (value and len(value) <= MAX_MERCHANT_NO_CHARS and MERCHANT_NO.fullmatch(value)):
        raise ValueError(f"{field_name}: {value!r} is not a merchant number (letters, digits, _ and -, at most {MAX_MERCHANT_NO_CHARS})")


def check_amount_fen(field_name: str, value: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_AMOUNT_FEN):
        raise ValueError(f"{field_name}: {value!r} is not an amount in fen between 1 and {MAX_AMOUNT_FEN}")


# --- yuan at the edge -----------------------------------------------------------------------------

# Yuan as providers write it: digits, and at most two decimals ("12", "12.3", "12.30").
YUAN = re.compile(r"(0|[1-9][0-9]{0,9})(?:\.([0-9]{1,2}))?")


def yuan_to_fen(text: str) -> int:
    """"12.34" → 1234, exactly: by string, never through a float."""
    match = YUAN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an amount in yuan")
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def fen_to_yuan(fen: int) -> str:
    """1234 → "12.34" (always two decimals, as Alipay writes amounts)."""
    assert fen >= 0, fen
    return f"{fen // 100}.{fen % 100:02d}"


# --- the interfaces ---------------------------------------------------------------------------------


class WalletProvider(Protocol):
    """A third-party wallet: create a payment, learn of it by a signed notification, query,
    refund, close, and fetch the daily bill.  Errors: ProviderRefused, ProviderUnavailable."""

    method: Method

    async def create(self, merchant_order_no: str, amount_fen: int, subject: str, notify_url: str, expires_at_ms: int) -> PaymentStart: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now_ms: int) -> Notification:
        """Verify the signature (and decrypt, where the flavour encrypts); raise BadNotification."""
        ...

    def notification_ack(self) -> tuple[int, bytes, str]:
        """(HTTP status, body, content type) that tells the provider to stop resending."""
        ...

    async def query(self, merchant_order_no: str) -> PaymentStatus: ...

    async def refund(self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int) -> RefundResult: ...

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

    async def refund(self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int) -> RefundResult: ...

    async def statement(self, day: date) -> list[StatementLine]: ...

    async def aclose(self) -> None:
        """Close the client's HTTP connections."""
        ...
