"""`keyun sandbox-authority`: a separate process that plays the provincial transport authority's
platform (省级联网售票平台), for tests and demos (docs/authority.md).

A SANDBOX: nothing reaches an authority.  Keyun uploads to it exactly as to a real platform behind
the same API (keyun.common.authority_wire): signed requests (HMAC-SHA256 with the station's shared
key, a timestamp and a nonce; a bad signature, a stale timestamp or a reused nonce is refused with
401), record batches acknowledged with their batch id, the daily file with its SHA-256, the
connectivity test and the daily reconciliation.  It is idempotent: a batch id seen before is
acknowledged again and counted once, and each record counts once by its record id.  On start it
writes the account Keyun uses (base URL, station id, shared key) to DIR/authority.json; the key is
made on the first start and kept.  It speaks http, or https with --tls-cert, --tls-key and --tls-ca
(the CA goes into authority.json for Keyun to trust).

For people: `GET /received` shows what it received.  For tests (JSON, no authentication: it
listens on loopback): `GET /received.json`; `POST /sandbox/fail` {"count": N} answers the next N
uploads 503; `POST /sandbox/down` {"down": true|false} answers every upload 503 until brought up;
`POST /sandbox/delay-next` {"ms": N} takes the next upload but answers N ms late (the sender's
timeout); `POST /sandbox/forget` {"record_ids": [...]} drops records it had (a platform that
lost data, for a reconciliation mismatch).  `--fail-rate F` answers that share of uploads 503 at
random.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import hashlib
import html
import json
import random
import secrets
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from keyun.common.authority_wire import (
    BATCH_PATH,
    CONFIG_FILE,
    FILE_PATH,
    MAX_SKEW_MS,
    NONCE_HEADER,
    PING_PATH,
    RECONCILE_PATH,
    SIGNATURE_HEADER,
    STATION_HEADER,
    TIMESTAMP_HEADER,
    TRANSACTION_TYPES,
    AuthorityConfig,
    AuthorityConfigError,
    read_config,
    signature_ok,
    write_config,
)
from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.files import write_atomically
from keyun.common.platform import on_stop_signals

DEFAULT_DIR = Path("sandbox-authority")
MAX_BODY_BYTES = 64 * 1024 * 1024  # a daily file of a big station
PAGE_ROWS = 200
UTC_OFFSET_MS = 8 * 3_600_000


def local_date(at_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime((at_ms + UTC_OFFSET_MS) // 1000))


class AuthoritySandbox:
    def __init__(self, config: AuthorityConfig, state_path: Path | None, fail_rate: float = 0.0):
        self.config = config
        self.fail_rate = fail_rate
        self.state_path = state_path
        # What is kept (and saved): batches by id, records by id, files by id, reconciliations.
        self.batches: dict[str, dict] = {}
        self.records: dict[str, dict] = {}
        self.files: dict[str, dict] = {}
        self.reconciliations: list[dict] = []
        self.pings = 0
        self.refused: list[dict] = []  # bad signatures and the like (not saved)
        self.failures: list[dict] = []  # uploads failed on purpose (not saved)
        self.fail_next = 0
        self.down = False
        self.delay_next_ms = 0
        self.nonces: dict[str, int] = {}
        self.stopping = asyncio.Event()
        self.runner: web.AppRunner | None = None
        if state_path is not None and state_path.exists():
            kept = json.loads(state_path.read_text(encoding="utf-8"))
            self.batches, self.records, self.files = kept["batches"], kept["records"], kept["files"]
            self.reconciliations = kept["reconciliations"]

    def _save(self) -> None:
        if self.state_path is not None:
            document = {
                "batches": self.batches,
                "records": self.records,
                "files": self.files,
                "reconciliations": self.reconciliations,
            }
            write_atomically(self.state_path, json.dumps(document, ensure_ascii=False).encode())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(PING_PATH, self.ping)
        app.router.add_post(BATCH_PATH, self.batch)
        app.router.add_post(FILE_PATH, self.file)
        app.router.add_post(RECONCILE_PATH, self.reconcile)
        app.router.add_get("/received", self.page)
        app.router.add_get("/received.json", self.listing)
        app.router.add_post("/sandbox/fail", self.set_fail)
        app.router.add_post("/sandbox/down", self.set_down)
        app.router.add_post("/sandbox/delay-next", self.set_delay_next)
        app.router.add_post("/sandbox/forget", self.forget)
        return app

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, ssl_context=tls)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.stopping.set()
        if self.runner is not None:
            await self.runner.cleanup()

    # -- the platform's API ---------------------------------------------------------------------

    async def _accept(self, request: web.Request, upload: bool) -> tuple[dict | None, web.Response | None]:
        """The request's JSON document, or the refusal to answer: a bad signature (401), a failure
        asked for by a test (503, uploads only), a body that is not JSON (400)."""
        body = await request.read()
        refusal = self._authentication_refusal(request, body)
        if refusal is not None:
            self.refused.append({"path": request.path, "at_ms": SYSTEM_CLOCK.now_ms(), "why": refusal[0]})
            return None, _error(401, refusal[0], refusal[1])
        if upload and (why := self._failure()):
            self.failures.append({"path": request.path, "at_ms": SYSTEM_CLOCK.now_ms(), "why": why})
            return None, _error(503, "PLATFORM_UNAVAILABLE", why)
        try:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError
        except ValueError:
            return None, _error(400, "BAD_REQUEST", "a JSON object")
        return document, None

    def _authentication_refusal(self, request: web.Request, body: bytes) -> tuple[str, str] | None:
        if request.headers.get(STATION_HEADER) != self.config.station_id:
            return "UNKNOWN_STATION", "unknown station id"
        try:
            timestamp_ms = int(request.headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            return "BAD_TIMESTAMP", "a timestamp in epoch milliseconds"
        now = SYSTEM_CLOCK.now_ms()
        if abs(now - timestamp_ms) > MAX_SKEW_MS:
            return "STALE_REQUEST", "the timestamp is too far from the platform's clock"
        nonce = request.headers.get(NONCE_HEADER, "")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not 8 <= len(nonce) <= 64 or not signature_ok(
            self.config.secret, request.method, request.path, self.config.station_id, timestamp_ms, nonce, body, given
        ):
            return "BAD_SIGNATURE", "the signature does not match"
        self.nonces = {n: at for n, at in self.nonces.items() if now - at <= 2 * MAX_SKEW_MS}
        if nonce in self.nonces:
            return "REPLAYED", "this nonce was used already"
        self.nonces[nonce] = now
        return None

    def _failure(self) -> str:
        if self.down:
            return "the platform is down (sandbox down)"
        if self.fail_next > 0:
            self.fail_next -= 1
            return "the platform failed (sandbox fail)"
        if self.fail_rate and random.random() < self.fail_rate:
            return "the platform failed (sandbox --fail-rate)"
        return ""

    async def _late(self) -> None:
        """A slow platform: what was received is kept, the answer comes late (or never, at a stop)."""
        if self.delay_next_ms:
            delay_ms, self.delay_next_ms = self.delay_next_ms, 0
            try:
                await asyncio.wait_for(self.stopping.wait(), delay_ms / 1000)
            except TimeoutError:
                pass

    async def ping(self, request: web.Request) -> web.Response:
        document, refusal = await self._accept(request, upload=False)
        if refusal is not None:
            return refusal
        self.pings += 1
        return web.json_response({"ok": True, "station_id": self.config.station_id, "at_ms": SYSTEM_CLOCK.now_ms()})

    async def batch(self, request: web.Request) -> web.Response:
        document, refusal = await self._accept(request, upload=True)
        if refusal is not None:
            return refusal
        assert document is not None
        batch_id, records = document.get("batch_id"), document.get("records")
        if not isinstance(batch_id, str) or not batch_id or not isinstance(records, list):
            return _error(400, "BAD_BATCH", "a batch_id and a list of records")
        if not all(isinstance(r, dict) and isinstance(r.get("record_id"), str) for r in records):
            return _error(400, "BAD_RECORD", "every record has a record_id")
        seen = self.batches.get(batch_id)
        if seen is not None:  # the same batch again: acknowledged, counted once
            seen["repeats"] += 1
            self._save()
            await self._late()
            return web.json_response({"batch_id": batch_id, "accepted": seen["new_records"], "duplicate": True})
        new = [r for r in records if r["record_id"] not in self.records]
        for record in new:
            self.records[record["record_id"]] = record | {"batch_id": batch_id}
        self.batches[batch_id] = {
            "batch_id": batch_id,
            "category": str(document.get("category", "")),
            "records": len(records),
            "new_records": len(new),
            "received_ms": SYSTEM_CLOCK.now_ms(),
            "repeats": 0,
        }
        self._save()
        await self._late()
        return web.json_response({"batch_id": batch_id, "accepted": len(new), "duplicate": False})

    async def file(self, request: web.Request) -> web.Response:
        document, refusal = await self._accept(request, upload=True)
        if refusal is not None:
            return refusal
        assert document is not None
        file_id, content, checksum = document.get("file_id"), document.get("content"), document.get("sha256")
        if not all(isinstance(v, str) and v for v in (file_id, checksum)) or not isinstance(content, str):
            return _error(400, "BAD_FILE", "a file_id, the content and its sha256")
        assert isinstance(file_id, str)
        if hashlib.sha256(content.encode()).hexdigest() != checksum:
            return _error(400, "BAD_CHECKSUM", "the content does not have this SHA-256")
        seen = self.files.get(file_id)
        if seen is not None:
            seen["repeats"] += 1
            self._save()
            return web.json_response({"file_id": file_id, "records": seen["records"], "duplicate": True})
        lines = [line for line in content.splitlines() if line]
        self.files[file_id] = {
            "file_id": file_id,
            "date": str(document.get("date", "")),
            "sha256": checksum,
            "records": len(lines),
            "bytes": len(content.encode()),
            "received_ms": SYSTEM_CLOCK.now_ms(),
            "repeats": 0,
        }
        self._save()
        return web.json_response({"file_id": file_id, "records": len(lines), "duplicate": False})

    def totals(self, day: str) -> dict[str, dict[str, int]]:
        """The platform's own counts and amounts for a day, from the records it holds."""
        counts = dict.fromkeys(TRANSACTION_TYPES, 0)
        amounts = dict.fromkeys(TRANSACTION_TYPES, 0)
        for record in self.records.values():
            if record.get("type") in counts and record.get("day") == day:
                counts[record["type"]] += 1
                amounts[record["type"]] += int(record.get("amount_fen", 0))
        return {"counts": counts, "amounts": amounts}

    async def reconcile(self, request: web.Request) -> web.Response:
        document, refusal = await self._accept(request, upload=False)
        if refusal is not None:
            return refusal
        assert document is not None
        day = document.get("date")
        if not isinstance(day, str) or len(day) != 10:
            return _error(400, "BAD_DATE", "date: YYYY-MM-DD")
        theirs = {"counts": document.get("counts", {}), "amounts": document.get("amounts", {})}
        ours = self.totals(day)
        differences = {
            f"{part}.{kind}": {"station": theirs[part].get(kind, 0), "platform": ours[part][kind]}
            for part in ("counts", "amounts")
            for kind in TRANSACTION_TYPES
            if theirs[part].get(kind, 0) != ours[part][kind]
        }
        result = {"date": day, "match": not differences, "platform": ours, "differences": differences}
        self.reconciliations.append(result | {"at_ms": SYSTEM_CLOCK.now_ms()})
        self._save()
        return web.json_response(result)

    # -- what people and tests read ---------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        days = sorted({str(r.get("day")) for r in self.records.values() if r.get("type") in TRANSACTION_TYPES})
        return {
            "batches": list(self.batches.values()),
            "records": list(self.records.values()),
            "files": list(self.files.values()),
            "reconciliations": self.reconciliations,
            "days": {day: self.totals(day) for day in days},
            "pings": self.pings,
            "refused": self.refused,
            "failures": self.failures,
        }

    async def listing(self, request: web.Request) -> web.Response:
        return web.json_response(self.summary())

    async def page(self, request: web.Request) -> web.Response:
        summary = self.summary()
        day_rows = "".join(
            f"<tr><td>{html.escape(day)}</td>"
            + "".join(
                f"<td>{totals['counts'][kind]} / {totals['amounts'][kind] / 100:.2f}</td>" for kind in TRANSACTION_TYPES
            )
            + "</tr>"
            for day, totals in summary["days"].items()
        )
        batch_rows = "".join(
            f"<tr><td>{html.escape(b['batch_id'])}</td><td>{html.escape(b['category'])}</td><td>{b['records']}</td>"
            f"<td>{b['new_records']}</td><td>{b['repeats']}</td><td>{b['received_ms']}</td></tr>"
            for b in list(reversed(summary["batches"]))[:PAGE_ROWS]
        )
        file_rows = "".join(
            f"<tr><td>{html.escape(f['file_id'])}</td><td>{html.escape(f['date'])}</td><td>{f['records']}</td>"
            f"<td><code>{html.escape(f['sha256'])}</code></td></tr>"
            for f in reversed(summary["files"])
        )
        reconciliation_rows = "".join(
            f"<tr><td>{html.escape(r['date'])}</td><td>{'match' if r['match'] else 'MISMATCH'}</td>"
            f"<td>{html.escape(json.dumps(r['differences'], ensure_ascii=False))}</td></tr>"
            for r in list(reversed(summary["reconciliations"]))[:PAGE_ROWS]
        )
        kinds = "".join(f"<th>{kind} (count / yuan)</th>" for kind in TRANSACTION_TYPES)
        text = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Transport authority sandbox</title>"
            "<h1>Transport authority sandbox: what the station uploaded</h1>"
            f"<p>A sandbox: nothing reached an authority. Station {html.escape(self.config.station_id)}; "
            f"{len(summary['records'])} records in {len(summary['batches'])} batches; {summary['pings']} "
            f"connectivity tests; {len(summary['refused'])} requests refused (bad signature and the like); "
            f"{len(summary['failures'])} failed on purpose.</p>"
            f"<h2>Per day</h2><table><thead><tr><th>day</th>{kinds}</tr></thead><tbody>{day_rows}</tbody></table>"
            "<h2>Batches (newest first)</h2><table><thead><tr><th>batch id</th><th>category</th><th>records</th>"
            f"<th>new</th><th>repeats</th><th>received (epoch ms)</th></tr></thead><tbody>{batch_rows}</tbody></table>"
            "<h2>Daily files</h2><table><thead><tr><th>file id</th><th>date</th><th>records</th><th>SHA-256</th>"
            f"</tr></thead><tbody>{file_rows}</tbody></table>"
            "<h2>Reconciliations</h2><table><thead><tr><th>date</th><th>result</th><th>differences</th></tr></thead>"
            f"<tbody>{reconciliation_rows}</tbody></table></html>"
        )
        return web.Response(text=text, content_type="text/html")

    # -- the control API ----------------------------------------------------------------------------

    async def set_fail(self, request: web.Request) -> web.Response:
        try:
            self.fail_next = max(0, int((await request.json())["count"]))
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", '{"count": N}')
        return web.json_response({"fail_next": self.fail_next})

    async def set_down(self, request: web.Request) -> web.Response:
        try:
            self.down = bool((await request.json())["down"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", '{"down": true|false}')
        return web.json_response({"down": self.down})

    async def set_delay_next(self, request: web.Request) -> web.Response:
        try:
            self.delay_next_ms = min(max(0, int((await request.json())["ms"])), 120_000)
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", '{"ms": N}')
        return web.json_response({"delay_next_ms": self.delay_next_ms})

    async def forget(self, request: web.Request) -> web.Response:
        try:
            record_ids = [str(r) for r in (await request.json())["record_ids"]]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BAD_REQUEST", '{"record_ids": [...]}')
        forgotten = []
        for record_id in record_ids:
            record = self.records.pop(record_id, None)
            if record is not None:  # as if its batch had never brought it
                forgotten.append(record_id)
                if record.get("batch_id") in self.batches:
                    self.batches[record["batch_id"]]["new_records"] -= 1
        self._save()
        return web.json_response({"forgotten": forgotten})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def account_for(directory: Path, host: str, port: int, station_id: str, ca_file: str = "") -> AuthorityConfig:
    """The account Keyun uses: the key kept from an earlier start, the URL of this one (https with
    a certificate, and the CA Keyun is to trust for it)."""
    url = f"{'https' if ca_file else 'http'}://{host}:{port}"
    try:
        kept = read_config(directory / CONFIG_FILE, url)
        return AuthorityConfig(url, station_id or kept.station_id, kept.secret, ca_file)
    except AuthorityConfigError:
        return AuthorityConfig(url, station_id or "keyun-station", secrets.token_bytes(32), ca_file)


DESCRIPTION = (
    "Run the transport authority sandbox: a separate process that plays the provincial platform stations upload "
    "their ticketing data to (JT/T 979-style; nothing reaches an authority). It writes the account Keyun uploads "
    "with to DIR/authority.json; give Keyun that file (keyun serve --authority-key-file DIR/authority.json "
    "--authority-url URL), or start it with keyun serve --sandbox-authority."
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
        help=f"where {CONFIG_FILE} (URL, station id, shared key) is written (default {DEFAULT_DIR})",
    )
    parser.add_argument("--station-id", default="", help="the station's id on the platform (default keyun-station)")
    parser.add_argument("--state", type=Path, help="keep what was received in this JSON file, across restarts")
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        help="answer this share of uploads (0..1) 503 at random, to show retries",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve https with this certificate (PEM; with --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument(
        "--tls-ca", type=Path, help="the CA that signed --tls-cert: written to authority.json for Keyun to trust"
    )


def add_verbs(verbs) -> None:
    parser = verbs.add_parser(
        "sandbox-authority",
        help="run the transport authority sandbox (plays the provincial platform uploads go to)",
        description=DESCRIPTION,
    )
    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.fail_rate <= 1.0:
        print("keyun sandbox-authority: --fail-rate must be between 0 and 1", file=sys.stderr)
        return 2
    if (args.tls_cert, args.tls_key, args.tls_ca) != (None, None, None) and None in (
        args.tls_cert,
        args.tls_key,
        args.tls_ca,
    ):
        print("keyun sandbox-authority: https needs --tls-cert, --tls-key and --tls-ca together", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"keyun sandbox-authority: port {args.port} on {args.host} is in use", file=sys.stderr)
            return 2
        print(f"keyun sandbox-authority: {error.strerror or error}", file=sys.stderr)
        return 1
    except ssl.SSLError as error:
        print(f"keyun sandbox-authority: TLS: {error}", file=sys.stderr)
        return 2
    except (ValueError, KeyError) as error:
        print(f"keyun sandbox-authority: {args.state}: not a sandbox state file ({error})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(args: argparse.Namespace) -> None:
    tls = None
    ca_file = ""
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        ca_file = str(args.tls_ca.resolve())
    sandbox = AuthoritySandbox(
        account_for(args.dir, args.host, args.port, args.station_id, ca_file), args.state, args.fail_rate
    )
    port = await sandbox.start(args.host, args.port, tls)
    sandbox.config = account_for(args.dir, args.host, port, args.station_id, ca_file)
    write_config(args.dir, sandbox.config)
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)
    print(f"sandbox-authority listening on {args.host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keyun sandbox-authority", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
