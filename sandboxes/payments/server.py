"""`keyun sandbox-pay`: a separate process that plays WePay, AliPay and the card acquirer.

A SANDBOX: no real money moves.  It speaks the same signed protocols as Keyun's clients (keyun.gateway.payments:
wallets and card; the formats they share are keyun.common.payments_wire), with keys it makes on first start in
--keys-dir (and a merchant.json for Keyun), so Keyun's real code runs against it unchanged.  Payments live in memory,
and in --state FILE when given, so a restart keeps them (notifications still being delivered then are not resumed).

For people: `GET /pay/{provider}/{order}` shows a payment with a "Pay" button; paying sends the
signed notification to the notify_url given at create, retried with back-off until acknowledged
(NOTIFY_BACKOFF_MS), as real wallets do.

For tests (JSON): `POST /sandbox/pay` {provider, merchant_order_no, duplicates, delay_ms,
out_of_order, tamper} pays and notifies: `duplicates` more deliveries after the first, `delay_ms`
before the first, `out_of_order` holds this notification back until the next payment's of the same
provider was delivered, `tamper` ("signature" or "amount") spoils the first delivery only, as a
corrupted message would be, so the retries after it are genuine.  `POST /sandbox/replay`
{provider, merchant_order_no} resends a paid payment's notification; `POST /sandbox/card/decline-next`
{reason} declines the next card; `POST /sandbox/outage` {provider, calls} makes that provider's
next `calls` API requests answer 503 (as a provider having an outage), doing nothing;
`POST /sandbox/clock` {advance_ms} moves the sandbox's clock that far ahead of real time, for
good (a test of expiry advances it instead of waiting);
`GET /sandbox/payments` lists payments with every delivery and the answer it got.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import errno
import hashlib
import html
import io
import json
import re
import secrets
import sys
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import (
    ALIPAY_BILL_HEADER,
    ALIPAY_TIME,
    BACK_PATH,
    CARD_FILE_HEADER,
    CLOSED,
    DECLINE_CODES,
    DECLINE_REASONS,
    MAX_NOTIFICATION_SKEW_MS,
    NOTPAY,
    PAID,
    REFUNDED,
    TXN_CONSUME,
    TXN_FILE,
    TXN_REFUND,
    UNIONPAY_TIME,
    WALLETS,
    WEPAY_BILL_HEADER,
    WEPAY_BILL_SUMMARY,
    WEPAY_SCHEMA,
    check_amount_fen,
    check_merchant_no,
    china_time,
    day_bounds_ms,
    fen_to_yuan,
    parse_china_time,
    parse_rfc3339,
    read_bounded,
    rfc3339,
    sign_unionpay,
    verify_unionpay,
    yuan_to_fen,
)
from keyun.common.payments_wire.keys import (
    PROVIDERS,
    SANDBOX_IDS,
    KeysError,
    ensure_sandbox_keys,
    key_files,
    key_serial,
    load_private_key,
    load_public_key,
    read_secret,
    rsa_sign,
    rsa_verify,
    sorted_params,
    write_merchant_json,
    write_private,
)
from keyun.common.platform import on_stop_signals

DEFAULT_PORT = 8090
PORT_FILE = "port.json"  # the port of the first start, kept for the next ones
DEFAULT_KEYS_DIR = Path("sandbox-pay-keys")
# Notification tries and the wait before each: 5 tries over about 3 s.  Real wallets retry for a
# day (WeChat Pay 15 times over 24 h); the sandbox compresses that so tests see retries and give-ups.
NOTIFY_BACKOFF_MS = (0, 200, 400, 800, 1600)
NOTIFY_TIMEOUT_S = 5.0
# A notification held back by out_of_order goes anyway after this long if no later payment came
# to overtake it: none waits forever, and a test paying just one order waits seconds, not minutes.
OUT_OF_ORDER_MAX_WAIT_MS = 3_000
# Bounds on what a test may ask for and on what the sandbox keeps.
MAX_DUPLICATES = 20
MAX_DELAY_MS = 60_000
MAX_PAYMENTS = 100_000
MAX_DELIVERIES_KEPT = 50
MAX_BILLS_KEPT = 16
MAX_REQUEST_BYTES = 64 * 1024
MAX_OUTAGE_CALLS = 1000
# The most one /sandbox/clock call moves the clock: a day.
MAX_ADVANCE_MS = 24 * 60 * 60 * 1000
TAMPERS = (None, "signature", "amount")
WALLET_NAMES = tuple(m.value for m in WALLETS)
SANDBOX_NOTE = "SANDBOX: no real money moves.  It plays WePay, AliPay and a card acquirer for tests and demos."


# --- the ledger -----------------------------------------------------------------------------------


@dataclass
class Refund:
    refund_no: str
    provider_refund_id: str
    amount_fen: int
    at_ms: int


@dataclass
class Payment:
    provider: str  # wepay, alipay or card
    merchant_order_no: str
    amount_fen: int
    subject: str
    notify_url: str
    expires_at_ms: int
    created_at_ms: int
    state: str = NOTPAY  # NOTPAY, PAID, CLOSED (unpaid and closed) or REFUNDED (all of it)
    provider_txn_id: str = ""
    paid_at_ms: int = 0
    approval_code: str = ""  # cards
    terminal_id: str = ""  # cards
    prepay_id: str = ""  # WePay
    refunds: list[Refund] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds)

    def view(self) -> dict:
        return asdict(self)


class Ledger:
    """Payments by (provider, merchant order number); saved to a JSON file after every change."""

    def __init__(self, path: Path | None):
        self.path = path
        self.payments: dict[tuple[str, str], Payment] = {}
        self.last_number = 0  # for provider ids: never repeats, across restarts with a state file
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            for record in document["payments"]:
                record["refunds"] = [Refund(**r) for r in record["refunds"]]
                payment = Payment(**record)
                self.payments[(payment.provider, payment.merchant_order_no)] = payment
            self.last_number = int(document["last_number"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StateFileError(
                f"{path}: not a sandbox state file ({type(error).__name__}); move it away to start afresh"
            ) from None

    def get(self, provider: str, order_no: str) -> Payment | None:
        return self.payments.get((provider, order_no))

    def add(self, payment: Payment) -> None:
        if len(self.payments) >= MAX_PAYMENTS:
            raise SandboxError(503, "FULL", f"the sandbox keeps at most {MAX_PAYMENTS} payments: restart it")
        self.payments[(payment.provider, payment.merchant_order_no)] = payment

    def next_number(self) -> int:
        self.last_number += 1
        return self.last_number

    def save(self) -> None:
        if self.path is None:
            return
        document = {"last_number": self.last_number, "payments": [p.view() for p in self.payments.values()]}
        write_private(self.path, json.dumps(document, ensure_ascii=False).encode())

    def of_day(self, provider: str, day: date) -> list[tuple[int, str, Payment, Refund | None]]:
        """(at_ms, kind, payment, refund) of the day in China time, oldest first."""
        start_ms, end_ms = day_bounds_ms(day)
        entries = []
        for payment in self.payments.values():
            if payment.provider != provider or not payment.paid_at_ms:
                continue
            if start_ms <= payment.paid_at_ms < end_ms:
                entries.append((payment.paid_at_ms, "PAY", payment, None))
            entries.extend((r.at_ms, "REFUND", payment, r) for r in payment.refunds if start_ms <= r.at_ms < end_ms)
        return sorted(entries, key=lambda e: e[0])


class StateFileError(Exception):
    """--state names a file the sandbox cannot read back."""


class SandboxError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class Side:
    """One provider as the sandbox plays it: its private key, and the merchant's public key."""

    name: str
    merchant_id: str
    app_id: str
    merchant_serial_no: str
    provider_serial_no: str
    merchant_public_key: rsa.RSAPublicKey = field(repr=False)
    provider_private_key: rsa.RSAPrivateKey = field(repr=False)
    api_v3_key: bytes = field(default=b"", repr=False)


def load_sides(keys_dir: Path) -> dict[str, Side]:
    sides = {}
    for name in PROVIDERS:
        files = key_files(name)
        merchant_public = load_public_key(keys_dir / files["merchant_public_key"])
        provider_private = load_private_key(keys_dir / files["provider_private_key"])
        merchant_id, app_id = SANDBOX_IDS[name]
        api_v3_key = read_secret(keys_dir / files["api_v3_key"]) if "api_v3_key" in files else b""
        sides[name] = Side(
            name,
            merchant_id,
            app_id,
            key_serial(merchant_public),
            key_serial(provider_private.public_key()),
            merchant_public,
            provider_private,
            api_v3_key,
        )
    return sides


def _spoil(signature_b64: str) -> str:
    """The same signature with one bit flipped: well-formed, and wrong."""
    raw = bytearray(base64.b64decode(signature_b64))
    raw[-1] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _tampered_amount(amount_fen: int) -> int:
    return amount_fen - 1 if amount_fen > 1 else amount_fen + 1


def _provider_of_path(path: str) -> str | None:
    """Which provider's API a request is for; None for the sandbox's own pages and controls."""
    if path.startswith("/v3/"):
        return "wepay"
    if path == "/gateway.do" or path.startswith("/alipay/"):
        return "alipay"
    return "card" if path == BACK_PATH else None


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


# --- the sandbox ----------------------------------------------------------------------------------


class Sandbox:
    def __init__(
        self, keys_dir: Path, state_path: Path | None = None, clock_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms
    ):
        self.keys_dir = keys_dir
        ensure_sandbox_keys(keys_dir)
        self.sides = load_sides(keys_dir)
        self.ledger = Ledger(state_path)
        self.clock_ms = clock_ms
        self.ahead_ms = 0  # how far /sandbox/clock moved this sandbox's time past clock_ms
        self.base_url = ""
        self.decline_next: str | None = None
        self.outages: dict[str, int] = {}  # provider: how many more API calls answer 503
        self.parked: dict[str, list[Callable[[], Awaitable[None]]]] = {name: [] for name in WALLET_NAMES}
        self.bills: OrderedDict[str, bytes] = OrderedDict()
        self.tasks: set[asyncio.Task] = set()
        self.http: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.app = self._routes(web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[self._outage]))

    def _routes(self, app: web.Application) -> web.Application:
        add = app.router
        add.add_post("/v3/pay/transactions/native", self._wepay(self.wepay_create))
        add.add_get("/v3/pay/transactions/out-trade-no/{no}", self._wepay(self.wepay_query))
        add.add_post("/v3/pay/transactions/out-trade-no/{no}/close", self._wepay(self.wepay_close))
        add.add_post("/v3/refund/domestic/refunds", self._wepay(self.wepay_refund))
        add.add_get("/v3/bill/tradebill", self._wepay(self.wepay_bill))
        add.add_get("/v3/billdownload/file", self._wepay(self.wepay_bill_file))
        add.add_post("/gateway.do", self.alipay_gateway)
        add.add_get("/alipay/bill/{token}", self.alipay_bill_file)
        add.add_post(BACK_PATH, self.card_back)
        add.add_get("/", self.index_page)
        add.add_post("/demo", self.demo_payment)
        add.add_get("/pay/{provider}/{order}", self.pay_page)
        add.add_post("/pay/{provider}/{order}", self.pay_page_submit)
        add.add_post("/sandbox/pay", self.control_pay)
        add.add_post("/sandbox/replay", self.control_replay)
        add.add_post("/sandbox/card/decline-next", self.control_decline)
        add.add_post("/sandbox/outage", self.control_outage)
        add.add_post("/sandbox/clock", self.control_clock)
        add.add_get("/sandbox/payments", self.control_payments)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0, public_url: str = "") -> int:
        """Listen; write merchant.json with the URL Keyun should use; return the bound port."""
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=NOTIFY_TIMEOUT_S))
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port).start()
        bound = self.runner.addresses[0][1]
        reach = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self.base_url = (public_url or f"http://{reach}:{bound}").rstrip("/")
        write_merchant_json(self.keys_dir, {name: self.base_url for name in PROVIDERS})
        return bound

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        if self.http is not None:
            await self.http.close()
        self.ledger.save()

    def spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def now_ms(self) -> int:
        return self.clock_ms() + self.ahead_ms

    def txn_id(self, prefix: str, digits: int) -> str:
        """Provider-shaped ids: a prefix, the day, a sequence number and random digits."""
        day, sequence = china_time(self.now_ms()).strftime("%Y%m%d"), self.ledger.next_number()
        head = f"{prefix}{day}{sequence:06d}"
        return head + "".join(secrets.choice("0123456789") for _ in range(max(0, digits - len(head))))

    def pay_url(self, provider: str, order_no: str) -> str:
        return f"{self.base_url}/pay/{provider}/{urllib.parse.quote(order_no)}"

    # -- shared rules of payments

    def create(
        self, provider: str, order_no: str, amount_fen: int, subject: str, notify_url: str, expires_at_ms: int
    ) -> Payment:
        try:
            check_merchant_no("out_trade_no", order_no)
            check_amount_fen("amount", amount_fen)
        except ValueError as error:
            raise SandboxError(400, "PARAM_ERROR", str(error)) from None
        existing = self.ledger.get(provider, order_no)
        if existing is not None:
            # Real wallets answer a repeated create with the same payment, and refuse a changed one.
            if (existing.amount_fen, existing.notify_url) != (amount_fen, notify_url):
                raise SandboxError(400, "ORDER_NO_USED", f"{order_no} was created with other details")
            return existing
        if expires_at_ms <= self.now_ms():
            raise SandboxError(400, "PARAM_ERROR", "time_expire is in the past")
        payment = Payment(provider, order_no, amount_fen, subject, notify_url, expires_at_ms, self.now_ms())
        self.ledger.add(payment)
        self.ledger.save()
        return payment

    def found(self, provider: str, order_no: str) -> Payment:
        payment = self.ledger.get(provider, order_no)
        if payment is None:
            raise SandboxError(404, "ORDER_NOT_EXIST", f"no payment {order_no}")
        if payment.state == NOTPAY and payment.expires_at_ms <= self.now_ms():
            payment.state = CLOSED  # unpaid past its time: wallets close it
        return payment

    def mark_paid(self, payment: Payment) -> None:
        if payment.state != NOTPAY:
            raise SandboxError(
                409,
                "ORDER_" + payment.state,
                f"{payment.merchant_order_no} is {payment.state}, not waiting for payment",
            )
        prefix = {"wepay": "4200", "alipay": "", "card": ""}[payment.provider]
        payment.provider_txn_id = self.txn_id(prefix, 28 if payment.provider != "card" else 21)
        payment.paid_at_ms = self.now_ms()
        payment.state = PAID

    def refund(self, payment: Payment, refund_no: str, amount_fen: int, prefix: str) -> tuple[Refund, bool]:
        """A refund, or the one made already under this number; (refund, made now)."""
        done = next((r for r in payment.refunds if r.refund_no == refund_no), None)
        if done is not None:
            if done.amount_fen != amount_fen:
                raise SandboxError(400, "INVALID_REQUEST", f"refund {refund_no} was made for another amount")
            return done, False
        if payment.state not in (PAID, REFUNDED):
            raise SandboxError(
                400, "TRADE_STATUS_ERROR", f"{payment.merchant_order_no} is {payment.state}: nothing to refund"
            )
        if amount_fen <= 0 or payment.refunded_fen + amount_fen > payment.amount_fen:
            raise SandboxError(
                400,
                "REFUND_EXCEEDED",
                f"refunds would be {payment.refunded_fen + amount_fen} fen of {payment.amount_fen} fen paid",
            )
        refund = Refund(refund_no, self.txn_id(prefix, 29), amount_fen, self.now_ms())
        payment.refunds.append(refund)
        if payment.refunded_fen == payment.amount_fen:
            payment.state = REFUNDED
        self.ledger.save()
        return refund, True

    # -- WePay: signed JSON

    def _wepay(self, action: Callable[[web.Request, Side, bytes], Awaitable[tuple[int, dict | None]]]):
        async def endpoint(request: web.Request) -> web.Response:
            side = self.sides["wepay"]
            body = await request.read()
            try:
                self._wepay_authenticate(request, side, body)
                status, document = await action(request, side, body)
            except SandboxError as error:
                status, document = error.status, {"code": error.code, "message": error.message}
            if isinstance(document, bytes):  # a bill file: not signed, its hash was
                return web.Response(status=status, body=document, content_type="text/csv", charset="utf-8")
            raw = json.dumps(document, ensure_ascii=False).encode() if document is not None else b""
            return web.Response(
                status=status,
                body=raw,
                headers=self._wepay_signature(side, raw),
                content_type="application/json" if raw else None,
            )

        return endpoint

    def _wepay_authenticate(self, request: web.Request, side: Side, body: bytes) -> None:
        header = request.headers.get("Authorization", "")
        schema, _, rest = header.partition(" ")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if (
            schema != WEPAY_SCHEMA
            or fields.get("mchid") != side.merchant_id
            or fields.get("serial_no") != side.merchant_serial_no
        ):
            raise SandboxError(401, "SIGN_ERROR", "no WECHATPAY2-SHA256-RSA2048 authorization for this merchant")
        try:
            skew_ms = abs(self.now_ms() - int(fields["timestamp"]) * 1000)
        except (KeyError, ValueError):
            raise SandboxError(401, "SIGN_ERROR", "no timestamp") from None
        message = (
            f"{request.method}\n{request.raw_path}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n".encode()
            + body
            + b"\n"
        )
        if skew_ms > MAX_NOTIFICATION_SKEW_MS or not rsa_verify(
            side.merchant_public_key, message, fields.get("signature", "")
        ):
            raise SandboxError(401, "SIGN_ERROR", "the signature does not verify")

    def _wepay_signature(self, side: Side, body: bytes, spoil: bool = False) -> dict[str, str]:
        timestamp, nonce = str(self.now_ms() // 1000), secrets.token_hex(16)
        signature = rsa_sign(side.provider_private_key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _spoil(signature) if spoil else signature,
            "Wechatpay-Serial": side.provider_serial_no,
        }

    async def wepay_create(self, request: web.Request, side: Side, body: bytes) -> tuple[int, dict]:
        try:
            order = json.loads(body)
            if (order["appid"], order["mchid"]) != (side.app_id, side.merchant_id) or order["amount"].get(
                "currency", "CNY"
            ) != "CNY":
                raise SandboxError(400, "PARAM_ERROR", "appid, mchid or currency is not this merchant's")
            args = (
                order["out_trade_no"],
                order["amount"]["total"],
                order["description"],
                order["notify_url"],
                parse_rfc3339(order["time_expire"]),
            )
        except (ValueError, KeyError, TypeError):
            raise SandboxError(400, "PARAM_ERROR", "a field is missing or malformed") from None
        payment = self.create("wepay", *args)
        payment.prepay_id = payment.prepay_id or "wx" + china_time(self.now_ms()).strftime(
            "%Y%m%d%H%M%S"
        ) + secrets.token_hex(9)
        url = self.pay_url("wepay", payment.merchant_order_no)
        # A real code_url is weixin://...; the sandbox's opens its own page, so a phone can scan it.
        return 200, {"code_url": url, "h5_url": url, "prepay_id": payment.prepay_id}

    async def wepay_query(self, request: web.Request, side: Side, body: bytes) -> tuple[int, dict]:
        payment = self.found("wepay", request.match_info["no"])
        state = {
            NOTPAY: "NOTPAY",
            PAID: "REFUND" if payment.refunds else "SUCCESS",
            CLOSED: "CLOSED",
            REFUNDED: "REFUND",
        }[payment.state]
        document = {
            "appid": side.app_id,
            "mchid": side.merchant_id,
            "out_trade_no": payment.merchant_order_no,
            "trade_state": state,
            "trade_type": "NATIVE",
            "amount": {"total": payment.amount_fen, "currency": "CNY"},
        }
        if payment.paid_at_ms:
            document |= {"transaction_id": payment.provider_txn_id, "success_time": rfc3339(payment.paid_at_ms)}
        return 200, document

    async def wepay_close(self, request: web.Request, side: Side, body: bytes) -> tuple[int, None]:
        payment = self.found("wepay", request.match_info["no"])
        if payment.state != NOTPAY and payment.state != CLOSED:
            raise SandboxError(400, "ORDERPAID", f"{payment.merchant_order_no} is paid: refund it instead")
        payment.state = CLOSED
        self.ledger.save()
        return 204, None

    async def wepay_refund(self, request: web.Request, side: Side, body: bytes) -> tuple[int, dict]:
        try:
            asked = json.loads(body)
            order_no, refund_no = asked["out_trade_no"], asked["out_refund_no"]
            amount_fen, total_fen = asked["amount"]["refund"], asked["amount"]["total"]
        except (ValueError, KeyError, TypeError):
            raise SandboxError(400, "PARAM_ERROR", "a field is missing or malformed") from None
        payment = self.ledger.get("wepay", order_no)
        if payment is None:
            raise SandboxError(404, "RESOURCE_NOT_EXISTS", f"no payment {order_no}")
        if total_fen != payment.amount_fen:
            raise SandboxError(400, "PARAM_ERROR", "amount.total is not the payment's amount")
        try:
            refund, _ = self.refund(payment, refund_no, amount_fen, "50")
        except SandboxError as error:
            raise SandboxError(error.status, "INVALID_REQUEST", error.message) from None
        return 200, {
            "refund_id": refund.provider_refund_id,
            "out_refund_no": refund.refund_no,
            "transaction_id": payment.provider_txn_id,
            "out_trade_no": order_no,
            "status": "SUCCESS",
            "success_time": rfc3339(refund.at_ms),
            "amount": {"refund": refund.amount_fen, "total": payment.amount_fen, "currency": "CNY"},
        }

    async def wepay_bill(self, request: web.Request, side: Side, body: bytes) -> tuple[int, dict]:
        try:
            day = date.fromisoformat(request.query["bill_date"])
        except (KeyError, ValueError):
            raise SandboxError(400, "PARAM_ERROR", "bill_date: YYYY-MM-DD") from None
        content = self.wepay_bill_text(side, day).encode()
        token = self.keep_bill(content)
        return 200, {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(content).hexdigest(),
            "download_url": f"{self.base_url}/v3/billdownload/file?token={token}",
        }

    async def wepay_bill_file(self, request: web.Request, side: Side, body: bytes) -> tuple[int, bytes]:
        content = self.bills.get(request.query.get("token", ""))
        if content is None:
            raise SandboxError(404, "RESOURCE_NOT_EXISTS", "no such bill (expired?)")
        return 200, content

    def wepay_bill_text(self, side: Side, day: date) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(WEPAY_BILL_HEADER)
        paid = refunded = 0
        for at_ms, kind, payment, refund in self.ledger.of_day("wepay", day):
            when = china_time(at_ms).strftime(ALIPAY_TIME)
            if kind == "PAY":
                paid += payment.amount_fen
                row = [
                    when,
                    side.app_id,
                    side.merchant_id,
                    payment.provider_txn_id,
                    payment.merchant_order_no,
                    "SUCCESS",
                    fen_to_yuan(payment.amount_fen),
                    "0",
                    "0",
                    "0.00",
                ]
            else:
                refunded += refund.amount_fen
                row = [
                    when,
                    side.app_id,
                    side.merchant_id,
                    payment.provider_txn_id,
                    payment.merchant_order_no,
                    "REFUND",
                    "0.00",
                    refund.provider_refund_id,
                    refund.refund_no,
                    fen_to_yuan(refund.amount_fen),
                ]
            writer.writerow([f"`{value}" for value in row])
        writer.writerow(WEPAY_BILL_SUMMARY)
        writer.writerow(
            [f"`{len(self.ledger.of_day('wepay', day))}", f"`{fen_to_yuan(paid)}", f"`{fen_to_yuan(refunded)}"]
        )
        return out.getvalue()

    def keep_bill(self, content: bytes) -> str:
        token = secrets.token_urlsafe(16)
        self.bills[token] = content
        while len(self.bills) > MAX_BILLS_KEPT:
            self.bills.popitem(last=False)
        return token

    # -- AliPay: one signed gateway

    async def alipay_gateway(self, request: web.Request) -> web.Response:
        side = self.sides["alipay"]
        params = dict(
            urllib.parse.parse_qsl((await request.read()).decode("utf-8", errors="replace"), keep_blank_values=True)
        )
        api_method = params.get("method", "")
        key = api_method.replace(".", "_") + "_response"
        handlers = {
            "alipay.trade.precreate": self.alipay_precreate,
            "alipay.trade.query": self.alipay_query,
            "alipay.trade.refund": self.alipay_refund,
            "alipay.trade.close": self.alipay_close,
            "alipay.data.dataservice.bill.downloadurl.query": self.alipay_bill,
        }
        if (
            params.get("app_id") != side.app_id
            or params.get("sign_type") != "RSA2"
            or not rsa_verify(
                side.merchant_public_key, sorted_params(params, exclude=("sign",)).encode(), params.get("sign", "")
            )
        ):
            answer = {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
                "sub_msg": "验签出错",
            }
        elif api_method not in handlers:
            answer = {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-method",
                "sub_msg": "no such method",
            }
        else:
            try:
                biz = json.loads(params.get("biz_content", ""))
                answer = {"code": "10000", "msg": "Success"} | handlers[api_method](side, params, biz)
            except SandboxError as error:
                answer = {"code": "40004", "msg": "Business Failed", "sub_code": error.code, "sub_msg": error.message}
            except (ValueError, KeyError, TypeError):
                answer = {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.missing-or-invalid-parameter",
                    "sub_msg": "biz_content",
                }
        inner = json.dumps(answer, ensure_ascii=False)
        signature = rsa_sign(side.provider_private_key, inner.encode())
        return web.Response(text=f'{{"{key}":{inner},"sign":"{signature}"}}', content_type="application/json")

    def alipay_precreate(self, side: Side, params: dict, biz: dict) -> dict:
        expires_at_ms = parse_china_time(biz["time_expire"], ALIPAY_TIME)
        payment = self._alipay_errors(
            lambda: self.create(
                "alipay",
                biz["out_trade_no"],
                yuan_to_fen(biz["total_amount"]),
                biz["subject"],
                params.get("notify_url", ""),
                expires_at_ms,
            )
        )
        return {"out_trade_no": payment.merchant_order_no, "qr_code": self.pay_url("alipay", payment.merchant_order_no)}

    def alipay_query(self, side: Side, params: dict, biz: dict) -> dict:
        payment = self._alipay_errors(lambda: self.found("alipay", biz["out_trade_no"]))
        status = {NOTPAY: "WAIT_BUYER_PAY", PAID: "TRADE_SUCCESS", CLOSED: "TRADE_CLOSED", REFUNDED: "TRADE_CLOSED"}[
            payment.state
        ]
        answer = {
            "out_trade_no": payment.merchant_order_no,
            "trade_status": status,
            "total_amount": fen_to_yuan(payment.amount_fen),
        }
        if payment.paid_at_ms:
            answer |= {
                "trade_no": payment.provider_txn_id,
                "send_pay_date": china_time(payment.paid_at_ms).strftime(ALIPAY_TIME),
            }
        return answer

    def alipay_refund(self, side: Side, params: dict, biz: dict) -> dict:
        payment = self._alipay_errors(lambda: self.found("alipay", biz["out_trade_no"]))
        refund, made = self._alipay_errors(
            lambda: self.refund(payment, biz["out_request_no"], yuan_to_fen(biz["refund_amount"]), "AR")
        )
        return {
            "trade_no": payment.provider_txn_id,
            "out_trade_no": payment.merchant_order_no,
            "refund_fee": fen_to_yuan(payment.refunded_fen),
            "fund_change": "Y" if made else "N",
            "gmt_refund_pay": china_time(refund.at_ms).strftime(ALIPAY_TIME),
        }

    def alipay_close(self, side: Side, params: dict, biz: dict) -> dict:
        payment = self._alipay_errors(lambda: self.found("alipay", biz["out_trade_no"]))
        if payment.state not in (NOTPAY, CLOSED):
            raise SandboxError(400, "ACQ.TRADE_STATUS_ERROR", f"{payment.merchant_order_no} is paid: refund it instead")
        payment.state = CLOSED
        self.ledger.save()
        return {"out_trade_no": payment.merchant_order_no}

    def alipay_bill(self, side: Side, params: dict, biz: dict) -> dict:
        day = date.fromisoformat(biz["bill_date"])
        out = io.StringIO()
        out.write(f"#支付宝业务明细查询\n#账号：[{side.merchant_id}]\n#起始日期：[{day} 00:00:00]\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ALIPAY_BILL_HEADER)
        for at_ms, kind, payment, refund in self.ledger.of_day("alipay", day):
            when = china_time(at_ms).strftime(ALIPAY_TIME)
            if kind == "PAY":
                writer.writerow(
                    [
                        payment.provider_txn_id,
                        payment.merchant_order_no,
                        "交易",
                        payment.subject,
                        when,
                        fen_to_yuan(payment.amount_fen),
                        "",
                    ]
                )
            else:
                writer.writerow(
                    [
                        payment.provider_txn_id,
                        payment.merchant_order_no,
                        "退款",
                        payment.subject,
                        when,
                        "-" + fen_to_yuan(refund.amount_fen),
                        refund.refund_no,
                    ]
                )
        out.write("#业务明细列表结束\n")
        return {"bill_download_url": f"{self.base_url}/alipay/bill/{self.keep_bill(out.getvalue().encode())}"}

    async def alipay_bill_file(self, request: web.Request) -> web.Response:
        content = self.bills.get(request.match_info["token"])
        if content is None:
            return web.Response(status=404, text="no such bill (expired?)")
        return web.Response(body=content, content_type="text/csv", charset="utf-8")

    @staticmethod
    def _alipay_errors(action):
        """The shared rules' refusals in Alipay's words."""
        try:
            return action()
        except SandboxError as error:
            code = {
                "ORDER_NOT_EXIST": "ACQ.TRADE_NOT_EXIST",
                "REFUND_EXCEEDED": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                "TRADE_STATUS_ERROR": "ACQ.TRADE_STATUS_ERROR",
                "ORDER_NO_USED": "ACQ.CONTEXT_INCONSISTENT",
            }.get(error.code, "ACQ.INVALID_PARAMETER")
            raise SandboxError(error.status, code, error.message) from None

    # -- the card acquirer

    async def card_back(self, request: web.Request) -> web.Response:
        side = self.sides["card"]
        params = dict(
            urllib.parse.parse_qsl((await request.read()).decode("utf-8", errors="replace"), keep_blank_values=True)
        )
        answer = {
            k: params.get(k, "")
            for k in (
                "version",
                "encoding",
                "signMethod",
                "txnType",
                "txnSubType",
                "bizType",
                "accessType",
                "merId",
                "orderId",
                "txnTime",
                "txnAmt",
            )
        }
        if (
            params.get("certId") != side.merchant_serial_no
            or params.get("merId") != side.merchant_id
            or not verify_unionpay(side.merchant_public_key, params)
        ):
            answer |= {"respCode": "11", "respMsg": "验证签名失败"}
        else:
            try:
                answer |= {"respCode": "00", "respMsg": "成功[0000000]"} | self.card_transaction(side, params)
            except SandboxError as error:
                answer |= {"respCode": error.code, "respMsg": error.message}
            except (KeyError, ValueError):
                answer |= {"respCode": "30", "respMsg": "报文格式错误"}
        answer["certId"] = side.provider_serial_no
        answer["signature"] = sign_unionpay(side.provider_private_key, answer)
        return web.Response(text=urllib.parse.urlencode(answer), content_type="application/x-www-form-urlencoded")

    def card_transaction(self, side: Side, params: dict) -> dict:
        kind = params["txnType"]
        if kind == TXN_CONSUME:
            return self.card_consume(params)
        if kind == TXN_REFUND:
            payment = self.ledger.get("card", params["origOrderId"])
            if payment is None:
                raise SandboxError(404, "35", "原交易不存在")
            try:
                refund, _ = self.refund(payment, params["orderId"], int(params["txnAmt"]), "")
            except SandboxError as error:
                raise SandboxError(error.status, "12", error.message) from None
            return {"queryId": refund.provider_refund_id, "origQryId": payment.provider_txn_id}
        if kind == TXN_FILE:
            day = date(int(params["settleDate"][:4]), int(params["settleDate"][4:6]), int(params["settleDate"][6:]))
            return {
                "fileType": "00",
                "settleDate": params["settleDate"],
                "fileName": f"INN{params['settleDate']}.csv",
                "fileContent": base64.b64encode(self.card_file(day).encode()).decode(),
            }
        raise SandboxError(400, "40", f"txnType {kind} is not offered")

    def card_consume(self, params: dict) -> dict:
        order_no, amount_fen, terminal_id = params["orderId"], int(params["txnAmt"]), params["termId"]
        payment = self.ledger.get("card", order_no)
        if payment is not None:
            # The same purchase asked again (the POS lost the answer): the same approval.  Anything
            # else under this order number is a duplicate transaction.
            if payment.state == PAID and (payment.amount_fen, payment.terminal_id) == (amount_fen, terminal_id):
                return self.card_approval(payment)
            raise SandboxError(409, "12", "重复交易")
        if self.decline_next is not None:
            reason, self.decline_next = self.decline_next, None
            raise SandboxError(402, DECLINE_CODES[reason], reason.replace("_", " ").lower())
        payment = Payment("card", order_no, amount_fen, "", "", 0, self.now_ms(), terminal_id=terminal_id)
        self.ledger.add(payment)
        self.mark_paid(payment)
        payment.approval_code = f"{secrets.randbelow(10**6):06d}"
        self.ledger.save()
        return self.card_approval(payment)

    @staticmethod
    def card_approval(payment: Payment) -> dict:
        return {
            "queryId": payment.provider_txn_id,
            "authCode": payment.approval_code,
            "termId": payment.terminal_id,
            "txnAmt": str(payment.amount_fen),
            "txnTime": china_time(payment.paid_at_ms).strftime(UNIONPAY_TIME),
        }

    def card_file(self, day: date) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CARD_FILE_HEADER)
        for at_ms, kind, payment, refund in self.ledger.of_day("card", day):
            when = china_time(at_ms).strftime(UNIONPAY_TIME)
            if kind == "PAY":
                writer.writerow(
                    [payment.provider_txn_id, payment.merchant_order_no, TXN_CONSUME, payment.amount_fen, when, "", ""]
                )
            else:
                writer.writerow(
                    [
                        refund.provider_refund_id,
                        refund.refund_no,
                        TXN_REFUND,
                        refund.amount_fen,
                        when,
                        payment.provider_txn_id,
                        payment.merchant_order_no,
                    ]
                )
        return out.getvalue()

    # -- notifications

    def notification(self, payment: Payment, tamper: str | None) -> tuple[dict[str, str], bytes]:
        """A freshly signed notification of a paid payment (each delivery is signed anew)."""
        amount_fen = _tampered_amount(payment.amount_fen) if tamper == "amount" else payment.amount_fen
        if payment.provider == "wepay":
            return self.wepay_notification(payment, amount_fen, tamper == "signature")
        return self.alipay_notification(payment, amount_fen, tamper == "signature")

    def wepay_notification(self, payment: Payment, amount_fen: int, spoil: bool) -> tuple[dict[str, str], bytes]:
        side = self.sides["wepay"]
        transaction = {
            "mchid": side.merchant_id,
            "appid": side.app_id,
            "out_trade_no": payment.merchant_order_no,
            "transaction_id": payment.provider_txn_id,
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": rfc3339(payment.paid_at_ms),
            "payer": {"openid": "oSandboxPayer" + hashlib.sha256(payment.merchant_order_no.encode()).hexdigest()[:15]},
            "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
        }
        nonce = secrets.token_urlsafe(9)[:12]
        ciphertext = AESGCM(side.api_v3_key).encrypt(
            nonce.encode(), json.dumps(transaction, ensure_ascii=False).encode(), b"transaction"
        )
        envelope = {
            "id": "EV-" + secrets.token_hex(10),
            "create_time": rfc3339(self.now_ms()),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return {"Content-Type": "application/json"} | self._wepay_signature(side, body, spoil), body

    def alipay_notification(self, payment: Payment, amount_fen: int, spoil: bool) -> tuple[dict[str, str], bytes]:
        side = self.sides["alipay"]
        yuan = fen_to_yuan(amount_fen)
        params = {
            "notify_time": china_time(self.now_ms()).strftime(ALIPAY_TIME),
            "notify_type": "trade_status_sync",
            "notify_id": hashlib.sha256(f"{payment.provider_txn_id}|notify".encode()).hexdigest()[:34],
            "app_id": side.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": payment.provider_txn_id,
            "out_trade_no": payment.merchant_order_no,
            "seller_id": side.merchant_id,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": yuan,
            "receipt_amount": yuan,
            "buyer_pay_amount": yuan,
            "subject": payment.subject,
            "gmt_create": china_time(payment.created_at_ms).strftime(ALIPAY_TIME),
            "gmt_payment": china_time(payment.paid_at_ms).strftime(ALIPAY_TIME),
        }
        signature = rsa_sign(side.provider_private_key, sorted_params(params, exclude=("sign", "sign_type")).encode())
        params |= {"sign_type": "RSA2", "sign": _spoil(signature) if spoil else signature}
        return {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}, urllib.parse.urlencode(
            params
        ).encode()

    @staticmethod
    def acknowledged(provider: str, status: int, body: bytes) -> bool:
        if provider == "wepay":
            return status in (200, 204)
        return status == 200 and body.strip() == b"success"

    async def deliver(self, payment: Payment, kind: str, tamper: str | None = None) -> bool:
        """Send the notification until acknowledged or out of tries; record every attempt."""
        for attempt, wait_ms in enumerate(NOTIFY_BACKOFF_MS, start=1):
            await asyncio.sleep(wait_ms / 1000)
            spoiled = tamper if attempt == 1 else None
            headers, body = self.notification(payment, spoiled)
            status, answer = await self._post(payment.notify_url, headers, body)
            acked = self.acknowledged(payment.provider, status, answer)
            self._record(
                payment,
                {
                    "kind": kind,
                    "attempt": attempt,
                    "status": status,
                    "acked": acked,
                    "tampered": spoiled,
                    "at_ms": self.now_ms(),
                },
            )
            if acked:
                return True
        self._record(
            payment,
            {
                "kind": kind,
                "attempt": len(NOTIFY_BACKOFF_MS),
                "status": 0,
                "acked": False,
                "tampered": None,
                "gave_up": True,
                "at_ms": self.now_ms(),
            },
        )
        return False

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        try:
            async with self.http.post(url, data=body, headers=headers, allow_redirects=False) as response:
                return response.status, await read_bounded(response, MAX_REQUEST_BYTES) or b""
        except (TimeoutError, aiohttp.ClientError):
            return 0, b""  # no answer: like a refusal, the notification is sent again

    def _record(self, payment: Payment, delivery: dict) -> None:
        payment.deliveries.append(delivery)
        del payment.deliveries[:-MAX_DELIVERIES_KEPT]
        self.ledger.save()

    async def notify_chain(self, payment: Payment, duplicates: int, delay_ms: int, tamper: str | None) -> None:
        if not payment.notify_url:
            return  # a demo payment started on the home page: no merchant to tell
        await asyncio.sleep(delay_ms / 1000)
        await self.deliver(payment, "first", tamper)
        for _ in range(duplicates):
            await self.deliver(payment, "duplicate")

    def pay_and_notify(
        self,
        payment: Payment,
        duplicates: int = 0,
        delay_ms: int = 0,
        out_of_order: bool = False,
        tamper: str | None = None,
    ) -> None:
        self.mark_paid(payment)
        self.ledger.save()
        chain = lambda: self.notify_chain(payment, duplicates, delay_ms, tamper)  # noqa: E731
        parked = self.parked[payment.provider]
        if out_of_order:
            parked.append(chain)
            self.spawn(self._release_late(payment.provider, chain))
            return
        held, parked[:] = list(parked), []
        self.spawn(self._in_order(chain, *held))

    async def _in_order(self, *chains: Callable[[], Awaitable[None]]) -> None:
        for chain in chains:
            await chain()

    async def _release_late(self, provider: str, chain: Callable[[], Awaitable[None]]) -> None:
        await asyncio.sleep(OUT_OF_ORDER_MAX_WAIT_MS / 1000)
        if chain in self.parked[provider]:
            self.parked[provider].remove(chain)
            await chain()

    # -- the test control API

    async def _control(self, request: web.Request, action) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
            return web.json_response(action(body))
        except SandboxError as error:
            return _json_error(error.status, error.code, error.message)
        except (ValueError, KeyError, TypeError) as error:
            return _json_error(400, "BAD_REQUEST", f"{type(error).__name__}: {error}")

    def _wallet_payment(self, body: dict) -> Payment:
        if body.get("provider") not in WALLET_NAMES:
            raise SandboxError(400, "BAD_REQUEST", f"provider: one of {', '.join(WALLET_NAMES)}")
        return self.found(body["provider"], str(body["merchant_order_no"]))

    async def control_pay(self, request: web.Request) -> web.Response:
        def pay(body: dict) -> dict:
            payment = self._wallet_payment(body)
            duplicates, delay_ms = int(body.get("duplicates", 0)), int(body.get("delay_ms", 0))
            tamper, out_of_order = body.get("tamper"), body.get("out_of_order", False)
            if not (
                0 <= duplicates <= MAX_DUPLICATES
                and 0 <= delay_ms <= MAX_DELAY_MS
                and tamper in TAMPERS
                and isinstance(out_of_order, bool)
            ):
                raise SandboxError(
                    400,
                    "BAD_REQUEST",
                    f"duplicates 0..{MAX_DUPLICATES}, delay_ms 0..{MAX_DELAY_MS}, tamper signature|amount|null, "
                    "out_of_order a boolean",
                )
            self.pay_and_notify(payment, duplicates, delay_ms, out_of_order, tamper)
            return payment.view()

        return await self._control(request, pay)

    async def control_replay(self, request: web.Request) -> web.Response:
        def replay(body: dict) -> dict:
            payment = self._wallet_payment(body)
            if not payment.paid_at_ms:
                raise SandboxError(409, "NOT_PAID", f"{payment.merchant_order_no} was never paid: nothing to resend")
            self.spawn(self.deliver(payment, "replay"))
            return payment.view()

        return await self._control(request, replay)

    async def control_decline(self, request: web.Request) -> web.Response:
        def decline(body: dict) -> dict:
            if body.get("reason") not in DECLINE_REASONS:
                raise SandboxError(400, "BAD_REQUEST", f"reason: one of {', '.join(DECLINE_REASONS)}")
            self.decline_next = body["reason"]
            return {"decline_next": self.decline_next}

        return await self._control(request, decline)

    async def control_outage(self, request: web.Request) -> web.Response:
        def outage(body: dict) -> dict:
            calls = body.get("calls")
            if body.get("provider") not in PROVIDERS or type(calls) is not int or not 0 <= calls <= MAX_OUTAGE_CALLS:
                raise SandboxError(
                    400, "BAD_REQUEST", f"provider: one of {', '.join(PROVIDERS)}; calls: 0 to {MAX_OUTAGE_CALLS}"
                )
            self.outages[body["provider"]] = calls
            return {"provider": body["provider"], "calls": calls}

        return await self._control(request, outage)

    async def control_clock(self, request: web.Request) -> web.Response:
        def advance(body: dict) -> dict:
            advance_ms = body.get("advance_ms")
            if type(advance_ms) is not int or not 0 <= advance_ms <= MAX_ADVANCE_MS:
                raise SandboxError(400, "BAD_REQUEST", f"advance_ms: 0 to {MAX_ADVANCE_MS}")
            self.ahead_ms += advance_ms
            return {"now_ms": self.now_ms(), "ahead_ms": self.ahead_ms}

        return await self._control(request, advance)

    @web.middleware
    async def _outage(self, request: web.Request, handler) -> web.StreamResponse:
        """While a provider has an outage (`/sandbox/outage`), its API answers 503 and does nothing."""
        provider = _provider_of_path(request.path)
        if provider is not None and self.outages.get(provider, 0) > 0:
            self.outages[provider] -= 1
            return web.Response(status=503, text="sandbox outage")
        return await handler(request)

    async def control_payments(self, request: web.Request) -> web.Response:
        provider, order_no = request.query.get("provider"), request.query.get("merchant_order_no")
        payments = [
            p.view()
            for p in self.ledger.payments.values()
            if provider in (None, p.provider) and order_no in (None, p.merchant_order_no)
        ]
        return web.json_response({"sandbox": True, "note": SANDBOX_NOTE, "payments": payments})

    # -- pages for people

    async def index_page(self, request: web.Request) -> web.Response:
        rows = "".join(
            f"<tr><td>{html.escape(p.provider)}</td>"
            f"<td><a href='/pay/{html.escape(p.provider)}/{html.escape(urllib.parse.quote(p.merchant_order_no))}'>"
            f"{html.escape(p.merchant_order_no)}</a></td>"
            f"<td>¥{fen_to_yuan(p.amount_fen)}</td><td>{html.escape(p.state)}</td></tr>"
            for p in list(self.ledger.payments.values())[-100:]
            if p.provider in WALLET_NAMES
        )
        demo = (
            "<form method='post' action='/demo'><p>Try paying without Keyun: "
            "<select name='provider'><option>wepay</option><option>alipay</option></select> "
            "¥<input name='yuan' value='1.00' size='6'> "
            "<button type='submit'>Start a demo payment</button></p></form>"
            "<p>Keyun's own payments appear below when a passenger orders with a wallet "
            "(<code>keyun passenger pay</code>).</p>"
        )
        return _page(
            "keyun sandbox-pay",
            demo + f"<table><tr><th>provider</th><th>order</th><th>amount</th><th>state</th></tr>{rows}</table>",
        )

    async def demo_payment(self, request: web.Request) -> web.Response:
        """A payment of the home page's own, with nobody to notify: to see the pay page and its QR
        code before Keyun asks for one."""
        form = await request.post()
        provider = str(form.get("provider", "wepay"))
        try:
            if provider not in WALLET_NAMES:
                raise SandboxError(400, "PARAM_ERROR", f"{provider!r} is not a wallet")
            amount_fen = yuan_to_fen(str(form.get("yuan", "1.00")))
            order_no = f"DEMO{secrets.token_hex(6)}"
            self.create(provider, order_no, amount_fen, "demo payment", "", self.now_ms() + DEMO_PAYMENT_MS)
        except (SandboxError, ValueError) as error:
            message = error.message if isinstance(error, SandboxError) else str(error)
            return _page("No demo payment", f"<p>{html.escape(message)}</p>", status=400)
        raise web.HTTPSeeOther(f"/pay/{provider}/{order_no}")

    async def pay_page(self, request: web.Request) -> web.Response:
        provider, order_no = request.match_info["provider"], request.match_info["order"]
        payment = self.ledger.get(provider, order_no) if provider in WALLET_NAMES else None
        if payment is None:
            return _page("No such payment", "<p>The sandbox has no such payment.</p>", status=404)
        payment = self.found(provider, order_no)
        url = self.pay_url(provider, order_no)
        button = (
            "<form method='post'><button type='submit'>Pay</button></form>"
            if payment.state == NOTPAY
            else f"<p>This payment is {html.escape(payment.state)}.</p>"
        )
        content = (
            f"<p>{html.escape(provider)} · order {html.escape(order_no)}</p>"
            f"<p class='amount'>¥{fen_to_yuan(payment.amount_fen)}</p><p>{html.escape(payment.subject)}</p>"
            f"<pre class='qr'>{qr_block(url)}</pre><p class='url'>{html.escape(url)}</p>{button}"
        )
        return _page(f"Pay ¥{fen_to_yuan(payment.amount_fen)}", content)

    async def pay_page_submit(self, request: web.Request) -> web.Response:
        provider, order_no = request.match_info["provider"], request.match_info["order"]
        try:
            if provider not in WALLET_NAMES:
                raise SandboxError(404, "ORDER_NOT_EXIST", "no such payment")
            self.pay_and_notify(self.found(provider, order_no))
        except SandboxError as error:
            return _page("Not paid", f"<p>{html.escape(error.message)}</p>", status=error.status)
        return _page("Paid", "<p>Paid. The sandbox is telling the merchant now.</p>")


# How long a demo payment from the home page may be paid.
DEMO_PAYMENT_MS = 15 * 60 * 1000


def qr_block(text: str) -> str:
    """A QR-looking block drawn from the text's hash, with the three finder squares: decoration
    only (the URL under it is what a real QR code would carry)."""
    size, bits = 21, int.from_bytes(hashlib.sha512(text.encode()).digest(), "big")

    def finder(r: int, c: int) -> bool | None:
        for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
            if top <= r < top + 7 and left <= c < left + 7:
                rr, cc = r - top, c - left
                return rr in (0, 6) or cc in (0, 6) or (2 <= rr <= 4 and 2 <= cc <= 4)
        return None

    lines = []
    for r in range(size):
        cells = []
        for c in range(size):
            dark = finder(r, c)
            cells.append("██" if (dark if dark is not None else bits >> ((r * size + c) % 512) & 1) else "  ")
        lines.append("".join(cells))
    return "\n".join(lines)


def _page(title: str, content: str, status: int = 200) -> web.Response:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}"
        ".banner{background:#fd0;padding:.5em;font-weight:bold}.amount{font-size:2em}.qr{line-height:1;font-size:8px}"
        "button{font-size:1.5em;padding:.3em 2em}</style></head><body>"
        f"<p class='banner'>{html.escape(SANDBOX_NOTE)}</p><h1>{html.escape(title)}</h1>{content}</body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html")


# --- the command line ------------------------------------------------------------------------------

DESCRIPTION = (
    "Run the payment sandbox: a separate process that plays WePay, AliPay and a card acquirer with "
    "their signed protocols, for tests and demos.  It is a SANDBOX: no real money moves.  On first "
    "start it makes its keys and the merchant's in --keys-dir, and it writes merchant.json there "
    "(ids, base URL, which keys are Keyun's) on every start."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; the control API has no authentication)",
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"port to listen on (default: the one of its first start, kept in KEYS_DIR/{PORT_FILE} so earlier pay "
        f"links keep working; {DEFAULT_PORT} at the first start); 0: any free one at the first start, kept after",
    )
    parser.add_argument(
        "--keys-dir",
        type=Path,
        default=DEFAULT_KEYS_DIR,
        help=f"the sandbox's and the merchant's keys and merchant.json (default {DEFAULT_KEYS_DIR})",
    )
    parser.add_argument("--state", type=Path, help="keep payments in this JSON file, so a restart remembers them")
    parser.add_argument(
        "--public-url",
        default="",
        help="the base URL Keyun and phones reach the sandbox at, written to merchant.json (default http://HOST:PORT)",
    )


def add_verbs(verbs) -> None:
    parser = verbs.add_parser(
        "sandbox-pay",
        help="run the payment sandbox (plays WePay, AliPay and a card acquirer; no real money)",
        description=DESCRIPTION,
    )
    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_serve(args))
    except (KeysError, StateFileError) as error:
        print(f"keyun sandbox-pay: {error}", file=sys.stderr)
        return 1
    except PortInUse as error:
        print(f"keyun sandbox-pay: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"keyun sandbox-pay: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


class PortInUse(Exception):
    pass


def kept_port(keys_dir: Path) -> int | None:
    """The port an earlier start listened on (its pay links name it), if any."""
    try:
        port = json.loads((keys_dir / PORT_FILE).read_text(encoding="utf-8"))["port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


async def _serve(args: argparse.Namespace) -> None:
    sandbox = Sandbox(args.keys_dir, args.state)
    kept = kept_port(args.keys_dir)
    port = args.port or kept or (DEFAULT_PORT if args.port is None else 0)
    try:
        port = await sandbox.start(args.host, port, args.public_url)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        await sandbox.stop()
        kept_note = f" (kept in {args.keys_dir / PORT_FILE}, so earlier pay links keep working)" if port == kept else ""
        raise PortInUse(
            f"port {port} on {args.host}{kept_note} is in use (another keyun sandbox-pay?): stop it, or give --port"
        ) from None
    if port != kept:
        write_private(args.keys_dir / PORT_FILE, json.dumps({"port": port}).encode())
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)  # before the line: a script may stop it right after
    print(f"sandbox-pay listening on {args.host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keyun sandbox-pay", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
