"""The two wallet clients: WePay (WeChat Pay API v3's flow) and AliPay (Alipay open API's flow).

Both sign every request with the merchant's RSA key and verify every answer and notification with
the provider's public key before reading a field of it.

WePay: JSON bodies; an `Authorization: WECHATPAY2-SHA256-RSA2048 ...` header signed over
"METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n"; answers and notifications carry Wechatpay-Timestamp,
-Nonce, -Signature and -Serial, signed over "TIMESTAMP\\nNONCE\\nBODY\\n"; a notification's
`resource` is AES-256-GCM encrypted with the API v3 key.

AliPay: one gateway endpoint taking form parameters (`method=alipay.trade.precreate` ...) signed
RSA2 over the sorted `k=v&k=v` string; answers are JSON whose `<method>_response` text is signed;
notifications are signed form posts, acknowledged by the plain text `success`.

parse_notification returns the amount the provider says was paid.  Whether that is the order's
amount is the caller's question, since only the caller knows the order: it must call
`check_amount(notification, order_amount_fen)` (base.py) before treating the order as paid.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import date

import aiohttp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import (
    ALIPAY_BILL_HEADER,
    ALIPAY_TIME,
    CLOSED,
    MAX_NOTIFICATION_SKEW_MS,
    NOTPAY,
    PAID,
    REFUNDED,
    WEPAY_BILL_HEADER,
    WEPAY_BILL_SUMMARY,
    WEPAY_SCHEMA,
    Method,
    check_amount_fen,
    check_merchant_no,
    china_time,
    day_bounds_ms,
    fen_to_yuan,
    parse_china_time,
    parse_rfc3339,
    rfc3339,
    yuan_to_fen,
)
from keyun.common.payments_wire.keys import ProviderConfig, rsa_sign, rsa_verify, sorted_params

from .base import (
    BAD_SIGNATURE,
    MALFORMED,
    MAX_PROVIDER_ID_CHARS,
    PAY,
    REFUND,
    REFUND_PROCESSING,
    REFUND_SUCCESS,
    STALE,
    UNKNOWN_PROVIDER,
    BadNotification,
    Notification,
    PaymentStart,
    PaymentStatus,
    ProviderRefused,
    ProviderUnavailable,
    RefundResult,
    StatementLine,
    recordable,
)
from .transport import HttpClient

# WeChat Pay's `description` and Alipay's `subject` hold at most 127 and 256 characters.
MAX_SUBJECT_CHARS = 127
NONCE_BYTES = 16


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _check_create(merchant_order_no: str, amount_fen: int, subject: str, notify_url: str) -> None:
    check_merchant_no("merchant_order_no", merchant_order_no)
    check_amount_fen("amount_fen", amount_fen)
    if not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise ValueError(f"subject: 1 to {MAX_SUBJECT_CHARS} characters")
    if urllib.parse.urlsplit(notify_url).scheme not in ("http", "https"):
        raise ValueError("notify_url: an http(s) URL")


def _check_refund(merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int) -> None:
    check_merchant_no("merchant_order_no", merchant_order_no)
    check_merchant_no("merchant_refund_no", merchant_refund_no)
    check_amount_fen("amount_fen", amount_fen)
    check_amount_fen("total_fen", total_fen)
    if amount_fen > total_fen:
        raise ValueError(f"amount_fen: a refund of {amount_fen} fen is more than the {total_fen} fen paid")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _check_fresh(timestamp_ms: int, now_ms: int) -> None:
    if abs(now_ms - timestamp_ms) > MAX_NOTIFICATION_SKEW_MS:
        raise BadNotification(
            STALE,
            f"timestamp {(now_ms - timestamp_ms) // 1000} s from now, more than {MAX_NOTIFICATION_SKEW_MS // 1000} s",
        )


# --- WePay ------------------------------------------------------------------------------------

WEPAY_STATES = {
    "SUCCESS": PAID,
    "NOTPAY": NOTPAY,
    "USERPAYING": NOTPAY,
    "CLOSED": CLOSED,
    "REVOKED": CLOSED,
    "PAYERROR": CLOSED,
    "REFUND": REFUNDED,
}


class WePay(HttpClient):
    """A WeChat Pay v3 style wallet: native (QR code) payments."""

    method = Method.WALLET_A

    def __init__(
        self,
        config: ProviderConfig,
        session: aiohttp.ClientSession | None = None,
        clock_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ):
        super().__init__(session)
        assert config.api_v3_key, "WePay needs the API v3 key"
        self.config = config
        self.clock_ms = clock_ms

    def __repr__(self) -> str:
        return f"WePay(mchid={self.config.merchant_id}, base_url={self.config.base_url})"

    # -- requests

    def authorization(self, http_method: str, url_path: str, body: str) -> str:
        timestamp, nonce = str(self.clock_ms() // 1000), secrets.token_hex(NONCE_BYTES)
        message = f"{http_method}\n{url_path}\n{timestamp}\n{nonce}\n{body}\n".encode()
        signature = rsa_sign(self.config.merchant_private_key, message)
        fields = {
            "mchid": self.config.merchant_id,
            "nonce_str": nonce,
            "timestamp": timestamp,
            "serial_no": self.config.merchant_serial_no,
            "signature": signature,
        }
        return f"{WEPAY_SCHEMA} " + ",".join(f'{k}="{v}"' for k, v in fields.items())

    async def _call(self, http_method: str, url_path: str, payload: dict | None = None) -> tuple[int, dict]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
        headers = {"Authorization": self.authorization(http_method, url_path, body), "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        status, response_headers, raw = await self.send(
            http_method, self.config.base_url + url_path, body.encode(), headers
        )
        self._verify_response(response_headers, raw, url_path)
        document = self._json(raw, url_path) if raw else {}
        if status >= 500:
            raise ProviderUnavailable(
                document.get("code", f"HTTP_{status}"), f"{url_path}: {document.get('message', '')}"
            )
        if status >= 400:
            raise ProviderRefused(document.get("code", f"HTTP_{status}"), f"{url_path}: {document.get('message', '')}")
        return status, document

    def _verify_response(self, headers: Mapping[str, str], raw: bytes, url_path: str) -> None:
        lower = _lower(headers)
        timestamp, nonce = lower.get("wechatpay-timestamp", ""), lower.get("wechatpay-nonce", "")
        serial, signature = lower.get("wechatpay-serial", ""), lower.get("wechatpay-signature", "")
        message = f"{timestamp}\n{nonce}\n".encode() + raw + b"\n"
        if serial != self.config.provider_serial_no or not rsa_verify(
            self.config.provider_public_key, message, signature
        ):
            raise ProviderUnavailable(
                "BAD_RESPONSE_SIGNATURE", f"{url_path}: the answer is not signed by the platform key"
            )

    @staticmethod
    def _json(raw: bytes, url_path: str) -> dict:
        try:
            document = json.loads(raw)
        except ValueError:
            raise ProviderUnavailable("BAD_RESPONSE", f"{url_path}: not JSON") from None
        if not isinstance(document, dict):
            raise ProviderUnavailable("BAD_RESPONSE", f"{url_path}: not a JSON object")
        return document

    # -- the provider interface

    async def create(
        self, merchant_order_no: str, amount_fen: int, subject: str, notify_url: str, expires_at_ms: int
    ) -> PaymentStart:
        _check_create(merchant_order_no, amount_fen, subject, notify_url)
        payload = {
            "appid": self.config.app_id,
            "mchid": self.config.merchant_id,
            "description": subject,
            "out_trade_no": merchant_order_no,
            "time_expire": rfc3339(expires_at_ms),
            "notify_url": notify_url,
            "amount": {"total": amount_fen, "currency": "CNY"},
        }
        _, document = await self._call("POST", "/v3/pay/transactions/native", payload)
        try:
            code_url = document["code_url"]
            return PaymentStart(
                self.method,
                merchant_order_no,
                document.get("prepay_id", ""),
                document.get("h5_url", code_url),
                code_url,
                expires_at_ms,
            )
        except (KeyError, TypeError):
            raise ProviderUnavailable("BAD_RESPONSE", "create: no code_url") from None

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now_ms: int) -> Notification:
        lower = _lower(headers)
        try:
            timestamp_s = int(lower["wechatpay-timestamp"])
            nonce, signature, serial = lower["wechatpay-nonce"], lower["wechatpay-signature"], lower["wechatpay-serial"]
        except (KeyError, ValueError):
            raise BadNotification(MALFORMED, "missing or bad Wechatpay-* headers") from None
        if serial != self.config.provider_serial_no:
            raise BadNotification(
                UNKNOWN_PROVIDER, "signed by a platform key this Keyun does not have (Wechatpay-Serial)"
            )
        if not rsa_verify(
            self.config.provider_public_key, f"{timestamp_s}\n{nonce}\n".encode() + body + b"\n", signature
        ):
            raise BadNotification(BAD_SIGNATURE, "Wechatpay-Signature does not verify")
        _check_fresh(timestamp_s * 1000, now_ms)
        transaction = self._decrypt(self._envelope(body))
        if transaction.get("mchid") != self.config.merchant_id or transaction.get("appid") != self.config.app_id:
            raise BadNotification(UNKNOWN_PROVIDER, "a payment to another merchant")
        try:
            if transaction["trade_state"] != "SUCCESS":
                raise BadNotification(MALFORMED, f"trade_state {transaction['trade_state']!r} is not a payment")
            amount_fen = transaction["amount"]["total"]
            txn_id, order_no = transaction["transaction_id"], transaction["out_trade_no"]
            paid_at_ms = parse_rfc3339(transaction["success_time"])
        except (KeyError, TypeError, ValueError):
            raise BadNotification(MALFORMED, "the transaction lacks a field") from None
        if not (
            type(amount_fen) is int
            and isinstance(txn_id, str)
            and isinstance(order_no, str)
            and recordable(order_no, txn_id)
        ):
            raise BadNotification(MALFORMED, "the transaction's ids or amount are not of their kind")
        return Notification(self.method, txn_id, order_no, amount_fen, paid_at_ms, _digest(body))

    @staticmethod
    def _envelope(body: bytes) -> dict:
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            kind = (envelope["event_type"], envelope["resource_type"], resource["algorithm"])
        except (ValueError, KeyError, TypeError):
            raise BadNotification(MALFORMED, "not a WePay notification") from None
        if kind != ("TRANSACTION.SUCCESS", "encrypt-resource", "AEAD_AES_256_GCM"):
            raise BadNotification(MALFORMED, f"event {kind[0]!r} is not a payment success")
        return resource

    def _decrypt(self, resource: dict) -> dict:
        try:
            ciphertext = base64.b64decode(resource["ciphertext"], validate=True)
            nonce, associated = resource["nonce"].encode(), resource.get("associated_data", "").encode()
        except (KeyError, ValueError, AttributeError, TypeError):
            raise BadNotification(MALFORMED, "the resource lacks ciphertext or nonce") from None
        try:
            plaintext = AESGCM(self.config.api_v3_key).decrypt(nonce, ciphertext, associated)
        except (InvalidTag, ValueError):
            raise BadNotification(BAD_SIGNATURE, "the resource does not decrypt with the API v3 key") from None
        try:
            transaction = json.loads(plaintext)
        except ValueError:
            raise BadNotification(MALFORMED, "the resource is not JSON") from None
        if not isinstance(transaction, dict):
            raise BadNotification(MALFORMED, "the resource is not a JSON object")
        return transaction

    def notification_ack(self) -> tuple[int, bytes, str]:
        return 200, json.dumps({"code": "SUCCESS", "message": "成功"}, ensure_ascii=False).encode(), "application/json"

    async def query(self, merchant_order_no: str) -> PaymentStatus:
        check_merchant_no("merchant_order_no", merchant_order_no)
        _, document = await self._call(
            "GET", f"/v3/pay/transactions/out-trade-no/{merchant_order_no}?mchid={self.config.merchant_id}"
        )
        try:
            state = WEPAY_STATES[document["trade_state"]]
            paid_at_ms = parse_rfc3339(document["success_time"]) if document.get("success_time") else 0
            return PaymentStatus(
                self.method,
                document["out_trade_no"],
                state,
                document["amount"]["total"],
                document.get("transaction_id", ""),
                paid_at_ms,
            )
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("BAD_RESPONSE", "query: an answer without trade_state or amount") from None

    async def refund(
        self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        _check_refund(merchant_order_no, merchant_refund_no, amount_fen, total_fen)
        payload = {
            "out_trade_no": merchant_order_no,
            "out_refund_no": merchant_refund_no,
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
        }
        _, document = await self._call("POST", "/v3/refund/domestic/refunds", payload)
        try:
            state = REFUND_SUCCESS if document["status"] == "SUCCESS" else REFUND_PROCESSING
            return RefundResult(
                self.method, document["out_refund_no"], document["refund_id"], document["amount"]["refund"], state
            )
        except (KeyError, TypeError):
            raise ProviderUnavailable("BAD_RESPONSE", "refund: an answer without refund_id or status") from None

    async def close(self, merchant_order_no: str) -> None:
        check_merchant_no("merchant_order_no", merchant_order_no)
        await self._call(
            "POST", f"/v3/pay/transactions/out-trade-no/{merchant_order_no}/close", {"mchid": self.config.merchant_id}
        )

    async def statement(self, day: date) -> list[StatementLine]:
        _, document = await self._call("GET", f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL")
        try:
            url, hash_type, hash_value = document["download_url"], document["hash_type"], document["hash_value"]
        except KeyError:
            raise ProviderUnavailable("BAD_RESPONSE", "tradebill: no download_url") from None
        url_path = urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl()
        status, _, raw = await self.send("GET", url, headers={"Authorization": self.authorization("GET", url_path, "")})
        if status != 200:
            raise ProviderUnavailable(f"HTTP_{status}", "the bill download failed")
        # The download is not signed; the signed tradebill answer carries its hash instead.
        if hash_type != "SHA1" or hashlib.sha1(raw).hexdigest() != hash_value.lower():
            raise ProviderUnavailable("BAD_RESPONSE_SIGNATURE", "the bill does not match the hash in the signed answer")
        return parse_wepay_bill(raw.decode("utf-8"), day)


def parse_wepay_bill(text: str, day: date) -> list[StatementLine]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != WEPAY_BILL_HEADER:
        raise ProviderUnavailable("BAD_RESPONSE", "not a WePay trade bill")
    start_ms, end_ms = day_bounds_ms(day)
    lines = []
    for row in rows[1:]:
        if row == WEPAY_BILL_SUMMARY:
            break
        fields = [f.removeprefix("`") for f in row]
        try:
            at, _appid, _mchid, txn_id, order_no, state, amount, _refund_id, _refund_no, refund_amount = fields
            at_ms = parse_china_time(at, ALIPAY_TIME)
            line = (
                StatementLine(Method.WALLET_A, txn_id, order_no, yuan_to_fen(amount), PAY, at_ms)
                if state == "SUCCESS"
                else StatementLine(Method.WALLET_A, txn_id, order_no, yuan_to_fen(refund_amount), REFUND, at_ms)
            )
        except ValueError:
            raise ProviderUnavailable("BAD_RESPONSE", "a bill line that cannot be read") from None
        if not start_ms <= at_ms < end_ms:
            raise ProviderUnavailable("BAD_RESPONSE", "a bill line from another day")
        lines.append(line)
    return lines


# --- AliPay -------------------------------------------------------------------------------------

ALIPAY_OK = "10000"
# Alipay's trade numbers are 28 digits; 16 hex digits of a digest keep a trade's refunds apart.
MIN_REFUND_DIGEST_CHARS = 16
ALIPAY_UNAVAILABLE = "20000"
ALIPAY_STATES = {"WAIT_BUYER_PAY": NOTPAY, "TRADE_SUCCESS": PAID, "TRADE_FINISHED": PAID, "TRADE_CLOSED": CLOSED}
# Both mean the money arrived: TRADE_FINISHED follows once the trade can no longer be refunded.
ALIPAY_PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")


class AliPay(HttpClient):
    """An Alipay open API style wallet: precreate (QR code) payments."""

    method = Method.WALLET_B

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
        return f"AliPay(app_id={self.config.app_id}, base_url={self.config.base_url})"

    @property
    def gateway_url(self) -> str:
        return self.config.base_url + "/gateway.do"

    def signed_params(self, api_method: str, biz: dict, notify_url: str = "") -> dict[str, str]:
        params = {
            "app_id": self.config.app_id,
            "method": api_method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": china_time(self.clock_ms()).strftime(ALIPAY_TIME),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        if notify_url:
            params["notify_url"] = notify_url
        # Requests sign sign_type too; only notifications leave it out.
        params["sign"] = rsa_sign(self.config.merchant_private_key, sorted_params(params, exclude=("sign",)).encode())
        return params

    async def _call(self, api_method: str, biz: dict, notify_url: str = "") -> dict:
        body = urllib.parse.urlencode(self.signed_params(api_method, biz, notify_url)).encode()
        status, _, raw = await self.send(
            "POST", self.gateway_url, body, {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
        )
        if status != 200:
            raise ProviderUnavailable(f"HTTP_{status}", f"{api_method}: the gateway answered {status}")
        response = self._verified_response(raw, api_method.replace(".", "_") + "_response")
        code = response.get("code")
        if code == ALIPAY_OK:
            return response
        detail = response.get("sub_code") or response.get("msg") or "refused"
        error = ProviderUnavailable if code == ALIPAY_UNAVAILABLE else ProviderRefused
        raise error(detail, f"{api_method}: {response.get('sub_msg') or response.get('msg', '')}")

    def _verified_response(self, raw: bytes, key: str) -> dict:
        """Alipay signs the exact text of the `<method>_response` value: cut it out unparsed."""
        text = raw.decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
            start = text.index(f'"{key}"')
            start = text.index(":", start + len(key) + 2) + 1
            while text[start] in " \t\r\n":
                start += 1
            _, end = json.JSONDecoder().raw_decode(text, start)
        except (ValueError, IndexError):
            raise ProviderUnavailable("BAD_RESPONSE", f"{key}: not an Alipay answer") from None
        if not isinstance(document, dict) or not isinstance(document.get(key), dict):
            raise ProviderUnavailable("BAD_RESPONSE", f"{key}: not an Alipay answer")
        if not rsa_verify(self.config.provider_public_key, text[start:end].encode(), document.get("sign", "")):
            raise ProviderUnavailable("BAD_RESPONSE_SIGNATURE", f"{key}: the answer is not signed by Alipay's key")
        return document[key]

    async def create(
        self, merchant_order_no: str, amount_fen: int, subject: str, notify_url: str, expires_at_ms: int
    ) -> PaymentStart:
        _check_create(merchant_order_no, amount_fen, subject, notify_url)
        biz = {
            "out_trade_no": merchant_order_no,
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject,
            "time_expire": china_time(expires_at_ms).strftime(ALIPAY_TIME),
        }
        response = await self._call("alipay.trade.precreate", biz, notify_url)
        qr_code = response.get("qr_code")
        if not isinstance(qr_code, str) or not qr_code:
            raise ProviderUnavailable("BAD_RESPONSE", "precreate: no qr_code")
        # Alipay names a precreated trade by the merchant's number until it is paid; the QR code is
        # itself a URL the payer's phone opens.
        return PaymentStart(self.method, merchant_order_no, merchant_order_no, qr_code, qr_code, expires_at_ms)

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now_ms: int) -> Notification:
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise BadNotification(MALFORMED, "not a form body") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            raise BadNotification(MALFORMED, "a parameter given twice")
        if params.get("sign_type") != "RSA2" or not params.get("sign"):
            raise BadNotification(MALFORMED, "no RSA2 sign")
        if not rsa_verify(
            self.config.provider_public_key,
            sorted_params(params, exclude=("sign", "sign_type")).encode(),
            params["sign"],
        ):
            raise BadNotification(BAD_SIGNATURE, "sign does not verify")
        if params.get("app_id") != self.config.app_id:
            raise BadNotification(UNKNOWN_PROVIDER, "a notification for another app_id")
        try:
            _check_fresh(parse_china_time(params["notify_time"], ALIPAY_TIME), now_ms)
            if params["trade_status"] not in ALIPAY_PAID:
                raise BadNotification(MALFORMED, f"trade_status {params['trade_status']!r} is not a payment")
            amount_fen = yuan_to_fen(params["total_amount"])
            paid_at_ms = parse_china_time(params["gmt_payment"], ALIPAY_TIME)
            txn_id, order_no = params["trade_no"], params["out_trade_no"]
        except (KeyError, ValueError):
            raise BadNotification(MALFORMED, "a field is missing or unreadable") from None
        if not (recordable(order_no, txn_id) and params.get("notify_id")):
            raise BadNotification(MALFORMED, "trade_no, out_trade_no or notify_id missing or not of their kind")
        return Notification(self.method, txn_id, order_no, amount_fen, paid_at_ms, _digest(body))

    def notification_ack(self) -> tuple[int, bytes, str]:
        return 200, b"success", "text/plain"

    async def query(self, merchant_order_no: str) -> PaymentStatus:
        check_merchant_no("merchant_order_no", merchant_order_no)
        response = await self._call("alipay.trade.query", {"out_trade_no": merchant_order_no})
        try:
            paid_at_ms = (
                parse_china_time(response["send_pay_date"], ALIPAY_TIME) if response.get("send_pay_date") else 0
            )
            state = ALIPAY_STATES[response["trade_status"]]
            # A closed trade that had been paid was closed by refunding all of it.
            state = REFUNDED if state == CLOSED and paid_at_ms else state
            return PaymentStatus(
                self.method,
                response["out_trade_no"],
                state,
                yuan_to_fen(response["total_amount"]),
                response.get("trade_no", "") if paid_at_ms else "",
                paid_at_ms,
            )
        except (KeyError, ValueError):
            raise ProviderUnavailable("BAD_RESPONSE", "query: an answer without trade_status or total_amount") from None

    async def refund(
        self, merchant_order_no: str, merchant_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        _check_refund(merchant_order_no, merchant_refund_no, amount_fen, total_fen)
        biz = {
            "out_trade_no": merchant_order_no,
            "refund_amount": fen_to_yuan(amount_fen),
            "out_request_no": merchant_refund_no,
        }
        response = await self._call("alipay.trade.refund", biz)
        trade_no = response.get("trade_no")
        if not trade_no:
            raise ProviderUnavailable("BAD_RESPONSE", "refund: no trade_no")
        # Alipay refunds synchronously: code 10000 means done (a repeated request answers fund_change
        # N, "no money moved this time", for a refund that was made already).  It names a refund by
        # its trade and the merchant's request number.
        return RefundResult(
            self.method, merchant_refund_no, alipay_refund_id(trade_no, merchant_refund_no), amount_fen, REFUND_SUCCESS
        )

    async def close(self, merchant_order_no: str) -> None:
        check_merchant_no("merchant_order_no", merchant_order_no)
        await self._call("alipay.trade.close", {"out_trade_no": merchant_order_no})

    async def statement(self, day: date) -> list[StatementLine]:
        response = await self._call(
            "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": day.isoformat()}
        )
        url = response.get("bill_download_url")
        if not url:
            raise ProviderUnavailable("BAD_RESPONSE", "no bill_download_url")
        # The download URL is short-lived and came in a signed answer: that is the bill's integrity.
        status, _, raw = await self.send("GET", url)
        if status != 200:
            raise ProviderUnavailable(f"HTTP_{status}", "the bill download failed")
        return parse_alipay_bill(raw.decode("utf-8"), day)


def alipay_refund_id(trade_no: str, merchant_refund_no: str) -> str:
    """`trade_no:refund_no`, the pair Alipay knows a refund by.  Keyun keeps provider ids to 64
    characters; a pair longer than that keeps the trade and a digest of the refund number."""
    whole = f"{trade_no}:{merchant_refund_no}"
    if len(whole) <= MAX_PROVIDER_ID_CHARS:
        return whole
    digest_chars = MAX_PROVIDER_ID_CHARS - len(trade_no) - 1
    if digest_chars < MIN_REFUND_DIGEST_CHARS:
        raise ProviderUnavailable("BAD_RESPONSE", "refund: a trade_no too long to name the refund by")
    return f"{trade_no}:{hashlib.sha256(merchant_refund_no.encode()).hexdigest()[:digest_chars]}"


def parse_alipay_bill(text: str, day: date) -> list[StatementLine]:
    """Alipay's trade bill: one line per payment (业务类型 交易) or refund (退款, negative amount),
    between `#` comment lines."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row and not row[0].startswith("#")]
    if not rows or rows[0] != ALIPAY_BILL_HEADER:
        raise ProviderUnavailable("BAD_RESPONSE", "not an Alipay trade bill")
    start_ms, end_ms = day_bounds_ms(day)
    lines = []
    for row in rows[1:]:
        try:
            trade_no, order_no, kind, _subject, at, amount, _request_no = (f.strip() for f in row)
            at_ms = parse_china_time(at, ALIPAY_TIME)
            if kind == "交易":
                line = StatementLine(Method.WALLET_B, trade_no, order_no, yuan_to_fen(amount), PAY, at_ms)
            elif kind == "退款" and amount.startswith("-"):
                line = StatementLine(Method.WALLET_B, trade_no, order_no, yuan_to_fen(amount[1:]), REFUND, at_ms)
            else:
                raise ValueError(kind)
        except ValueError:
            raise ProviderUnavailable("BAD_RESPONSE", "a bill line that cannot be read") from None
        if not start_ms <= at_ms < end_ms:
            raise ProviderUnavailable("BAD_RESPONSE", "a bill line from another day")
        lines.append(line)
    return lines
