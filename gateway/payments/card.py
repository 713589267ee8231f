"""Bank cards at the counter: the POS terminal takes the card, a UnionPay-style acquirer approves.

Keyun asks the acquirer's back-end (`/gateway/api/backTransReq.do`) with form parameters in the
shape of UnionPay's 5.1 interface: txnType 01 is a purchase (consume), 04 a refund, 76 the daily
settlement file; amounts are fen (txnAmt); times are China local (txnTime yyyyMMddHHmmss).  Every
request and answer is signed as UnionPay does it: RSA-SHA256 over the SHA-256 hex digest of the
sorted `k=v&k=v` string (signMethod 01), the key named by certId.

A decline comes back as the issuer's ISO 8583 response code (51 insufficient funds, 55 wrong
PIN, ...) and is raised as CardDeclined with its reason.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import urllib.parse
from collections.abc import Callable
from datetime import date

import aiohttp

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import (
    BACK_PATH,
    CARD_FILE_HEADER,
    DECLINE_CODES,
    TXN_CONSUME,
    TXN_FILE,
    TXN_REFUND,
    UNIONPAY_TIME,
    Method,
    check_amount_fen,
    check_merchant_no,
    china_time,
    day_bounds_ms,
    parse_china_time,
    sign_unionpay,
    verify_unionpay,
)
from keyun.common.payments_wire.keys import ProviderConfig

from .base import (
    PAY,
    REFUND,
    REFUND_SUCCESS,
    CardApproval,
    CardDeclined,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    StatementLine,
)
from .transport import HttpClient

APPROVED = "00"
REASON_OF_CODE = {code: reason for reason, code in DECLINE_CODES.items()}
# UnionPay's own "system busy, try later" codes: the request did not go through, try again.
BUSY_CODES = ("03", "04", "06", "96")
# A POS terminal id as acquirers issue them (UnionPay's are 8 characters).
TERMINAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def _fen(text: str) -> int:
    """txnAmt: fen as plain digits (int() would also take "+1", "1_0" or " 1")."""
    if not re.fullmatch(r"[0-9]{1,12}", text):
        raise ValueError("not an amount in fen")
    return int(text)


class CardAcquirer(HttpClient):
    """The acquirer behind the counters' POS terminals."""

    method = Method.CARD

    def __init__(
        self,
        config: ProviderConfig,
        session: aiohttp.ClientSession | None = None,
        clock_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ):
        super().__init__(session)
        self.config = config
        self.clock_ms = clock_ms

    def __repr__(self) -> str:
        return f"CardAcquirer(merId={self.config.merchant_id}, base_url={self.config.base_url})"

    async def _call(self, fields: dict[str, str]) -> dict[str, str]:
        params = {
            "version": "5.1.0",
            "encoding": "UTF-8",
            "signMethod": "01",
            "certId": self.config.merchant_serial_no,
            "accessType": "0",
            "channelType": "08",
            "merId": self.config.merchant_id,
            "txnTime": china_time(self.clock_ms()).strftime(UNIONPAY_TIME),
            **fields,
        }
        params["signature"] = sign_unionpay(self.config.merchant_private_key, params)
        status, _, raw = await self.send(
            "POST",
            self.config.base_url + BACK_PATH,
            urllib.parse.urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        if status != 200:
            raise ProviderUnavailable(f"HTTP_{status}", f"txnType {fields['txnType']}: the acquirer answered {status}")
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise ProviderUnavailable("BAD_RESPONSE", "not a form answer") from None
        answer = dict(pairs)
        if answer.get("certId") != self.config.provider_serial_no or not verify_unionpay(
            self.config.provider_public_key, answer
        ):
            raise ProviderUnavailable("BAD_RESPONSE_SIGNATURE", "the answer is not signed by the acquirer's key")
        code = answer.get("respCode", "")
        if code == APPROVED:
            return answer
        message = answer.get("respMsg", "")
        if code in REASON_OF_CODE:
            raise CardDeclined(REASON_OF_CODE[code], code, f"declined: {message}")
        raise (ProviderUnavailable if code in BUSY_CODES else ProviderRefused)(code or "NO_CODE", message)

    async def authorize(self, terminal_id: str, merchant_order_no: str, amount_fen: int) -> CardApproval:
        """The card on `terminal_id` pays `amount_fen` for the order, or CardDeclined says why not."""
        if not TERMINAL_ID.fullmatch(terminal_id):
            raise ValueError(f"terminal_id: {terminal_id!r} is not a POS terminal id")
        check_merchant_no("merchant_order_no", merchant_order_no)
        check_amount_fen("amount_fen", amount_fen)
        answer = await self._call(
            {
                "txnType": TXN_CONSUME,
                "txnSubType": "01",
                "bizType": "000000",
                "termId": terminal_id,
                "orderId": merchant_order_no,
                "txnAmt": str(amount_fen),
                "currencyCode": "156",
            }
        )
        try:
            return CardApproval(
                answer["authCode"],
                answer["queryId"],
                _fen(answer["txnAmt"]),
                parse_china_time(answer["txnTime"], UNIONPAY_TIME),
            )
        except (KeyError, ValueError):
            raise ProviderUnavailable("BAD_RESPONSE", "an approval without authCode, queryId or amount") from None

    async def refund(
        self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        check_merchant_no("merchant_order_no", merchant_order_no)
        check_merchant_no("merchant_refund_no", merchant_refund_no)
        check_amount_fen("amount_fen", amount_fen)
        if amount_fen > total_fen:
            raise ValueError(f"amount_fen: a refund of {amount_fen} fen is more than the {total_fen} fen paid")
        answer = await self._call(
            {
                "txnType": TXN_REFUND,
                "txnSubType": "00",
                "bizType": "000000",
                "orderId": merchant_refund_no,
                "origOrderId": merchant_order_no,
                "txnAmt": str(amount_fen),
                "currencyCode": "156",
            }
        )
        if not answer.get("queryId"):
            raise ProviderUnavailable("BAD_RESPONSE", "a refund without queryId")
        return RefundResult(self.method, merchant_refund_no, answer["queryId"], amount_fen, REFUND_SUCCESS)

    async def statement(self, day: date) -> list[StatementLine]:
        answer = await self._call(
            {
                "txnType": TXN_FILE,
                "txnSubType": "01",
                "bizType": "000000",
                "fileType": "00",
                "settleDate": day.strftime("%Y%m%d"),
            }
        )
        try:
            text = base64.b64decode(answer["fileContent"], validate=True).decode("utf-8")
        except (KeyError, ValueError):
            raise ProviderUnavailable("BAD_RESPONSE", "a settlement answer without a readable file") from None
        return parse_card_file(text, day)


def parse_card_file(text: str, day: date) -> list[StatementLine]:
    """The acquirer's settlement file: purchases (01) and refunds (04) in fen; a refund names the
    purchase it returns money from (origQryId, origOrderId), which is what a line reports."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != CARD_FILE_HEADER:
        raise ProviderUnavailable("BAD_RESPONSE", "not a settlement file")
    start_ms, end_ms = day_bounds_ms(day)
    lines = []
    for row in rows[1:]:
        try:
            query_id, order_id, txn_type, amount, at, orig_query_id, orig_order_id = row
            at_ms = parse_china_time(at, UNIONPAY_TIME)
            kind = {TXN_CONSUME: PAY, TXN_REFUND: REFUND}[txn_type]
            txn_id, order_no = (query_id, order_id) if kind == PAY else (orig_query_id, orig_order_id)
            lines.append(StatementLine(Method.CARD, txn_id, order_no, _fen(amount), kind, at_ms))
        except (KeyError, ValueError):
            raise ProviderUnavailable("BAD_RESPONSE", "a settlement line that cannot be read") from None
        if not start_ms <= at_ms < end_ms:
            raise ProviderUnavailable("BAD_RESPONSE", "a settlement line from another day")
    return lines
