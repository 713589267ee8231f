"""`keyun sandbox-sms`: a separate process that plays an SMS gateway, for tests and demos.

A SANDBOX: no text message reaches a phone.  Keyun sends through it exactly as through a real
provider (keyun.gateway.sms.HttpSmsProvider, the wire in keyun.common.sms_wire): signed requests,
an idempotency key per message (a resend with the same key is the same message, never a second
one), a message id in the answer.  On start it writes the account Keyun uses (base URL, key id,
secret) to DIR/sms.json; the secret is made on the first start and kept.

For people: `GET /messages` lists the messages "delivered", newest first (the phones' inboxes).
For tests (JSON, no authentication: it listens on loopback): `GET /messages.json` the same list
and the refused attempts; `POST /sandbox/fail-next` {"count": N} refuses the next N sends (503, as
an operator outage); `POST /sandbox/fail-numbers` {"numbers": [...]} refuses every send to these
numbers until cleared with an empty list.  `--fail-rate F` refuses that share of sends at random.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import html
import json
import random
import re
import secrets
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from aiohttp import web

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.files import write_atomically
from keyun.common.platform import on_stop_signals
from keyun.common.sms_wire import (
    CONFIG_FILE,
    KEY_HEADER,
    MAX_KEY_CHARS,
    MAX_SKEW_MS,
    MAX_TEXT_CHARS,
    SEND_PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SmsConfig,
    SmsConfigError,
    read_config,
    signature_ok,
    write_config,
)

DEFAULT_DIR = Path("sandbox-sms")
PHONE = re.compile(r"\+?[0-9]{5,20}")
MAX_BODY_BYTES = 16 * 1024
# The page shows this many messages; the JSON list has them all.
PAGE_MESSAGES = 500


@dataclass
class Message:
    message_id: str
    to: str
    text: str
    idempotency_key: str
    at_ms: int


@dataclass
class Failure:
    to: str
    idempotency_key: str
    at_ms: int
    why: str


class SmsSandbox:
    def __init__(self, config: SmsConfig, state_path: Path | None, fail_rate: float = 0.0):
        self.config = config
        self.state_path = state_path
        self.fail_rate = fail_rate
        self.fail_next = 0
        self.fail_numbers: set[str] = set()
        self.messages: list[Message] = []
        self.by_key: dict[str, Message] = {}
        self.failures: list[Failure] = []
        self.runner: web.AppRunner | None = None
        if state_path is not None and state_path.exists():
            for item in json.loads(state_path.read_text(encoding="utf-8"))["messages"]:
                self._keep(Message(**item))

    def _keep(self, message: Message) -> None:
        self.messages.append(message)
        self.by_key[message.idempotency_key] = message

    def _save(self) -> None:
        if self.state_path is not None:
            document = {"messages": [asdict(m) for m in self.messages]}
            write_atomically(self.state_path, json.dumps(document, ensure_ascii=False).encode())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(SEND_PATH, self.send)
        app.router.add_get("/messages", self.page)
        app.router.add_get("/messages.json", self.listing)
        app.router.add_post("/sandbox/fail-next", self.set_fail_next)
        app.router.add_post("/sandbox/fail-numbers", self.set_fail_numbers)
        return app

    async def start(self, host: str, port: int) -> int:
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # -- the provider's API ---------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        body = await request.read()
        refusal = self._authentication_refusal(request, body)
        if refusal is not None:
            return refusal
        try:
            document = json.loads(body)
            to, text, key = str(document["to"]), str(document["text"]), str(document["idempotency_key"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", "a JSON body with to, text and idempotency_key")
        if not PHONE.fullmatch(to):
            return _error(400, "BAD_NUMBER", "to: a phone number")
        if not text or len(text) > MAX_TEXT_CHARS:
            return _error(400, "BAD_TEXT", f"text: 1 to {MAX_TEXT_CHARS} characters")
        if not key or len(key) > MAX_KEY_CHARS:
            return _error(400, "BAD_KEY", f"idempotency_key: 1 to {MAX_KEY_CHARS} characters")
        sent = self.by_key.get(key)
        if sent is not None:  # the same message again: the first one's answer, nothing sent
            return web.json_response({"message_id": sent.message_id, "duplicate": True})
        why = self._failure(to)
        if why:
            self.failures.append(Failure(to, key, SYSTEM_CLOCK.now_ms(), why))
            return _error(503, "DELIVERY_FAILED", why)
        message = Message("m" + secrets.token_hex(8), to, text, key, SYSTEM_CLOCK.now_ms())
        self._keep(message)
        self._save()
        return web.json_response({"message_id": message.message_id, "duplicate": False})

    def _authentication_refusal(self, request: web.Request, body: bytes) -> web.Response | None:
        if request.headers.get(KEY_HEADER) != self.config.key_id:
            return _error(401, "UNKNOWN_KEY", "unknown key id")
        try:
            timestamp_ms = int(request.headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            return _error(401, "BAD_TIMESTAMP", "a timestamp in epoch milliseconds")
        if abs(SYSTEM_CLOCK.now_ms() - timestamp_ms) > MAX_SKEW_MS:
            return _error(401, "STALE_REQUEST", "the timestamp is too far from the gateway's clock")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not signature_ok(self.config.secret, request.method, request.path, timestamp_ms, body, given):
            return _error(401, "BAD_SIGNATURE", "the signature does not match")
        return None

    def _failure(self, to: str) -> str:
        if to in self.fail_numbers:
            return "this number always fails (sandbox fail-numbers)"
        if self.fail_next > 0:
            self.fail_next -= 1
            return "operator outage (sandbox fail-next)"
        if self.fail_rate and random.random() < self.fail_rate:
            return "operator outage (sandbox --fail-rate)"
        return ""

    # -- what people and tests read ---------------------------------------------------------------

    async def listing(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "messages": [asdict(m) for m in reversed(self.messages)],
                "failures": [asdict(f) for f in reversed(self.failures)],
            }
        )

    async def page(self, request: web.Request) -> web.Response:
        rows = "\n".join(
            f"<tr><td>{m.at_ms}</td><td>{html.escape(m.to)}</td><td>{html.escape(m.text)}</td>"
            f"<td>{html.escape(m.message_id)}</td></tr>"
            for m in list(reversed(self.messages))[:PAGE_MESSAGES]
        )
        text = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>SMS sandbox</title>"
            "<h1>SMS sandbox: messages sent (newest first)</h1>"
            "<p>A sandbox: nothing reached a phone.</p>"
            "<table><thead><tr><th>at (epoch ms)</th><th>to</th><th>text</th><th>message id</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></html>"
        )
        return web.Response(text=text, content_type="text/html")

    # -- the control API ----------------------------------------------------------------------------

    async def set_fail_next(self, request: web.Request) -> web.Response:
        try:
            count = int((await request.json())["count"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", '{"count": N}')
        self.fail_next = max(0, count)
        return web.json_response({"fail_next": self.fail_next})

    async def set_fail_numbers(self, request: web.Request) -> web.Response:
        try:
            numbers = [str(n) for n in (await request.json())["numbers"]]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", '{"numbers": [...]}')
        self.fail_numbers = set(numbers)
        return web.json_response({"fail_numbers": sorted(self.fail_numbers)})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def account_for(directory: Path, host: str, port: int) -> SmsConfig:
    """The account Keyun uses: the secret kept from an earlier start, the URL of this one."""
    try:
        kept = read_config(directory)
        key_id, secret = kept.key_id, kept.secret
    except SmsConfigError:
        key_id, secret = "keyun-" + secrets.token_hex(4), secrets.token_bytes(32)
    return SmsConfig(f"http://{host}:{port}", key_id, secret)


DESCRIPTION = (
    "Run the SMS sandbox: a separate process that plays an SMS gateway for tests and demos (nothing reaches a phone). "
    "It writes the account Keyun sends with to DIR/sms.json; give Keyun that directory (keyun serve --sms-dir DIR)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; the control API has no authentication)",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free one)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"where {CONFIG_FILE} (URL, key id, secret) is written (default {DEFAULT_DIR})",
    )
    parser.add_argument("--state", type=Path, help="keep the messages in this JSON file, so a restart remembers them")
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="refuse this share of sends (0..1) at random, to test retries"
    )


def add_verbs(verbs) -> None:
    parser = verbs.add_parser(
        "sandbox-sms",
        help="run the SMS sandbox (plays an SMS gateway; nothing reaches a phone)",
        description=DESCRIPTION,
    )
    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.fail_rate <= 1.0:
        print("keyun sandbox-sms: --fail-rate must be between 0 and 1", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"keyun sandbox-sms: port {args.port} on {args.host} is in use: give another --port", file=sys.stderr)
            return 2
        print(f"keyun sandbox-sms: {error.strerror or error}", file=sys.stderr)
        return 1
    except (ValueError, KeyError) as error:
        print(f"keyun sandbox-sms: {args.state}: not a sandbox state file ({error})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(args: argparse.Namespace) -> None:
    provisional = account_for(args.dir, args.host, args.port)
    sandbox = SmsSandbox(provisional, args.state, args.fail_rate)
    port = await sandbox.start(args.host, args.port)
    sandbox.config = account_for(args.dir, args.host, port)
    write_config(args.dir, sandbox.config)
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)
    print(f"sandbox-sms listening on {args.host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keyun sandbox-sms", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
