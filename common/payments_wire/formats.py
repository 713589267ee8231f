"""What Keyun's provider clients and the payment sandbox must write and read alike: method names,
payment states, amounts, the providers' times, their signed fields and their bill files."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from enum import Enum

import aiohttp

from keyun.common.clock import CHINA

from .keys import rsa_sign, rsa_verify, sorted_params


class Method(Enum):
    CASH = "cash"  # at the counter
    CARD = "card"  # a bank card on the counter's POS terminal, approved by the acquirer
    WALLET_A = "wepay"  # modelled on WeChat Pay API v3
    WALLET_B = "alipay"  # modelled on Alipay's open API


WALLETS = (Method.WALLET_A, Method.WALLET_B)

# Payment states as Keyun sees them, whatever the provider calls them.
NOTPAY, PAID, CLOSED, REFUNDED = "NOTPAY", "PAID", "CLOSED", "REFUNDED"

# --- numbers and amounts --------------------------------------------------------------------------

# Merchant order and refund numbers as the wallets accept them (WeChat Pay allows [A-Za-z0-9_-|*]
# up to 32 characters, Alipay up to 64); Keyun's order ids are of the same alphabet.
MERCHANT_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MAX_MERCHANT_NO_CHARS = 64
# One payment's ceiling: no bus ticket order comes near 1,000,000 yuan, and a bound keeps every
# amount inside what each provider's field can carry.
MAX_AMOUNT_FEN = 100_000_000

# ISO 8583 response codes that UnionPay-style acquirers pass back from the issuer.
DECLINE_CODES = {
    "DO_NOT_HONOUR": "05",
    "INSUFFICIENT_FUNDS": "51",
    "EXPIRED_CARD": "54",
    "WRONG_PIN": "55",
    "EXCEEDS_LIMIT": "61",
}
DECLINE_REASONS = tuple(DECLINE_CODES)


def check_merchant_no(field_name: str, value: str) -> None:
    if not (value and len(value) <= MAX_MERCHANT_NO_CHARS and MERCHANT_NO.fullmatch(value)):
        raise ValueError(
            f"{field_name}: {value!r} is not a merchant number (letters, digits, _ and -, at most "
            f"{MAX_MERCHANT_NO_CHARS})"
        )


def check_amount_fen(field_name: str, value: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_AMOUNT_FEN):
        raise ValueError(f"{field_name}: {value!r} is not an amount in fen between 1 and {MAX_AMOUNT_FEN}")


# Yuan as providers write it: digits, and at most two decimals ("12", "12.3", "12.30").
YUAN = re.compile(r"(0|[1-9][0-9]{0,9})(?:\.([0-9]{1,2}))?")


def yuan_to_fen(text: str) -> int:
    """ "12.34" → 1234, exactly: by string, never through a float."""
    match = YUAN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an amount in yuan")
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def fen_to_yuan(fen: int) -> str:
    """1234 → "12.34" (always two decimals, as Alipay writes amounts)."""
    assert fen >= 0, fen
    return f"{fen // 100}.{fen % 100:02d}"


# --- times ----------------------------------------------------------------------------------------

# China Standard Time (keyun.common.clock.CHINA): the wallets and UnionPay write local times in it.


def china_time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, CHINA).replace(microsecond=0)


def parse_china_time(text: str, pattern: str) -> int:
    """A provider's local time (no zone written) to epoch ms."""
    return int(dt.datetime.strptime(text, pattern).replace(tzinfo=CHINA).timestamp() * 1000)


def rfc3339(ms: int) -> str:
    """WePay's times: 2024-01-31T10:00:00+08:00."""
    return china_time(ms).isoformat()


def parse_rfc3339(text: str) -> int:
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("a time without a zone")
    return int(parsed.timestamp() * 1000)


def day_bounds_ms(day: dt.date) -> tuple[int, int]:
    """A bill day in China time, as [start, end) epoch ms."""
    start = dt.datetime.combine(day, dt.time(), CHINA)
    return int(start.timestamp() * 1000), int((start + dt.timedelta(days=1)).timestamp() * 1000)


async def read_bounded(response: aiohttp.ClientResponse, limit_bytes: int) -> bytes | None:
    """The whole body, or None if it is longer than the limit (read no further than that)."""
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# --- the card acquirer (UnionPay-style) -----------------------------------------------------------

UNIONPAY_TIME = "%Y%m%d%H%M%S"
BACK_PATH = "/gateway/api/backTransReq.do"
TXN_CONSUME, TXN_REFUND, TXN_FILE = "01", "04", "76"
CARD_FILE_HEADER = ["queryId", "orderId", "txnType", "txnAmt", "txnTime", "origQryId", "origOrderId"]


def sign_unionpay(private_key, params: Mapping[str, str]) -> str:
    digest = hashlib.sha256(sorted_params(params, exclude=("signature",)).encode()).hexdigest()
    return rsa_sign(private_key, digest.encode())


def verify_unionpay(public_key, params: Mapping[str, str]) -> bool:
    digest = hashlib.sha256(sorted_params(params, exclude=("signature",)).encode()).hexdigest()
    return rsa_verify(public_key, digest.encode(), params.get("signature", ""))


# --- the wallets (WePay, Alipay) ------------------------------------------------------------------

# A notification whose timestamp is further than this from our clock is refused as STALE: WeChat
# Pay's own SDKs use 5 minutes, which allows for clock drift and blocks replays of old messages.
MAX_NOTIFICATION_SKEW_MS = 5 * 60 * 1000
ALIPAY_TIME = "%Y-%m-%d %H:%M:%S"
WEPAY_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
# WePay's trade bill: a header line, one line per payment or refund with every field written
# after a backtick (so spreadsheets keep long numbers as text), then a summary header and line.
WEPAY_BILL_HEADER = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "微信订单号",
    "商户订单号",
    "交易状态",
    "订单金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
]
WEPAY_BILL_SUMMARY = ["总交易单数", "应结订单总金额", "退款总金额"]
ALIPAY_BILL_HEADER = ["支付宝交易号", "商户订单号", "业务类型", "商品名称", "完成时间", "订单金额（元）", "退款批次号"]
