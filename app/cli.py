"""The `keyun` command: its verbs and their arguments.  `keyun serve` runs in app/serve.py, loaded
only for that verb; the other verbs come from the layers that own them (terminals, persistence,
gateway TLS, the payment sandbox) and stay small clients."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.platform import port_in_use
from keyun.gateway import credentials, tls
from keyun.gateway.connection_limits import CONNECTION_AGE_MS, CONNECTION_IDLE_MS, HANDSHAKE_TIMEOUT_MS
from keyun.gateway.shared_answers import SEARCH_CACHE_S
from keyun.persistence import cli as persistence_cli
from keyun.persistence import keyring_cli
from keyun.sandboxes.authority import server as authority_sandbox
from keyun.sandboxes.payments import server as sandbox
from keyun.sandboxes.sms import server as sms_sandbox
from keyun.terminals import (
    admin_cli,
    board_cli,
    devices_cli,
    dispatch_cli,
    handheld_cli,
    orders_cli,
    passenger_cli,
    report_cli,
    shifts_cli,
)
from keyun.terminals import cli as terminal_cli
from keyun.terminals.web import cli as web_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keyun", description="Keyun: ticketing for intercity bus stations.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    add_serve(verbs)
    terminal_cli.add_counter(verbs)
    terminal_cli.add_gate(verbs)
    terminal_cli.add_network(verbs)
    terminal_cli.add_session(verbs)
    persistence_cli.add_verbs(verbs)
    tls.add_verbs(verbs)
    keyring_cli.add_verbs(verbs)
    admin_cli.add_verbs(verbs)
    orders_cli.add_verbs(verbs)
    shifts_cli.add_verbs(verbs)  # after orders_cli: it adds `finance deposit`
    passenger_cli.add_verbs(verbs)
    passenger_cli.add_notices_verbs(verbs)
    dispatch_cli.add_verbs(verbs)
    board_cli.add_verbs(verbs)
    devices_cli.add_verbs(verbs)
    handheld_cli.add_verbs(verbs)
    sandbox.add_verbs(verbs)
    sms_sandbox.add_verbs(verbs)
    authority_sandbox.add_verbs(verbs)
    web_cli.add_verbs(verbs)
    add_totp(verbs)
    add_report(verbs)
    args = parser.parse_args(argv)
    if args.verb == "serve":
        # A busy port fails at once, before Ray and the gateway load (for this verb only).
        if not args.gateway_only and (busy := port_in_use(args.host, args.port)):
            print(f"keyun serve: {busy}", file=sys.stderr)
            return 2
        from . import serve

        return serve.serve(args)
    if args.verb == "certs":
        return tls.run(args)
    if args.verb == "keys":
        return keyring_cli.run(args)
    if args.verb == "totp":
        return show_totp(args)
    if args.verb == "sandbox-sms":
        return sms_sandbox.run(args)
    if args.verb == "sandbox-authority":
        return authority_sandbox.run(args)
    if args.verb == "sandbox-pay":
        return sandbox.run(args)
    if args.verb == "web":
        return web_cli.run(args)
    if args.verb in {"backup", "restore", "upgrade", "wal", "audit"} or (
        args.verb == "report" and args.action in persistence_cli.REPORT_ACTIONS
    ):
        return persistence_cli.run(args)
    return terminal_cli.run(args)


def add_serve(verbs) -> None:
    p = verbs.add_parser("serve", help="start the gateway and the trip owners (an embedded Ray unless --ray-address)")
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where this station's data lives (default ./data)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=50051, help="port to bind; 0 picks a free one (default 50051)")
    p.add_argument(
        "--shards",
        type=int,
        default=None,
        help="trip owner actors (default: as many as the data directory was created with; for a new one, one per "
        f"{CPUS_PER_SHARD} CPUs, at least one)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics on this port (0 picks one); worker i of --workers uses PORT+i",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway processes sharing the port through SO_REUSEPORT (Linux; default 1)",
    )
    p.add_argument(
        "--owner-resource",
        help="in a Ray cluster: run owners only on nodes advertising this custom resource (where --data-dir is)",
    )
    p.add_argument("--gateway-only", action="store_true", help=argparse.SUPPRESS)  # a worker started by --workers
    p.add_argument("--ray-address", help="join this Ray cluster instead of starting an embedded one")
    p.add_argument(
        "--demo",
        action="store_true",
        help="demo accounts, and the Hebei demo network scheduled for today and the next 6 days, every day",
    )
    p.add_argument(
        "--no-reports",
        dest="reports",
        action="store_false",
        help="run without the report projector (docs/reporting.md): no Reports service; it catches up at the next "
        "start with reports",
    )
    p.add_argument(
        "--search-cache-ms",
        type=int,
        default=int(SEARCH_CACHE_S * 1000),
        help="share a search's answer with identical searches for this long; its seat counts may be that old (default "
        "1000; 0: every search asks the owners)",
    )
    p.add_argument(
        "--policy",
        type=Path,
        help="station rules file: hold lifetime, boarding window, refund fees (docs/operations.md)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument(
        "--tls-dir",
        type=Path,
        help="serve TLS with the certificates made by keyun certs init in DIR (default: KEY_DIR/tls, made on first "
        "start, off loopback)",
    )
    p.add_argument(
        "--require-client-cert",
        action="store_true",
        help="mTLS: only devices with a certificate from the station CA connect (keyun certs client)",
    )
    p.add_argument(
        "--payments-dir",
        type=Path,
        help="take wallet and card payments through the providers in DIR/merchant.json (docs/payments.md)",
    )
    p.add_argument(
        "--web",
        type=int,
        metavar="PORT",
        help="also serve the web pages (keyun web) on 127.0.0.1:PORT, stopped with the server",
    )
    p.add_argument(
        "--sandbox-pay",
        action="store_true",
        help="start `keyun sandbox-pay` beside the server and take payments through it (demos; no real money)",
    )
    p.add_argument(
        "--sms-dir",
        type=Path,
        default=Path(os.environ["KEYUN_SMS_DIR"]) if os.environ.get("KEYUN_SMS_DIR") else None,
        help="send SMS codes and notices through the provider described in DIR/sms.json (docs/notices.md; env "
        "KEYUN_SMS_DIR); without one, notices are recorded but not sent and Register needs no code",
    )
    p.add_argument(
        "--sandbox-sms",
        action="store_true",
        help="start `keyun sandbox-sms` beside the server and send text messages through it (demos; nothing reaches a "
        "phone)",
    )
    p.add_argument(
        "--authority-url",
        default=os.environ.get("KEYUN_AUTHORITY_URL", ""),
        help="upload ticketing data to the transport authority's platform at this URL (docs/authority.md; env "
        "KEYUN_AUTHORITY_URL); needs --authority-key-file and reports",
    )
    p.add_argument(
        "--authority-key-file",
        type=Path,
        default=Path(os.environ["KEYUN_AUTHORITY_KEY_FILE"]) if os.environ.get("KEYUN_AUTHORITY_KEY_FILE") else None,
        help="the station's id and shared key for the platform, a JSON file of the owner's only (env "
        "KEYUN_AUTHORITY_KEY_FILE; the key is never logged)",
    )
    p.add_argument(
        "--sandbox-authority",
        action="store_true",
        help="start `keyun sandbox-authority` beside the server and upload to it (demos; nothing reaches an authority)",
    )
    p.add_argument(
        "--notify-port",
        type=int,
        default=0,
        help="port for the providers' payment notifications (default: any free one; give a fixed one for real "
        "providers)",
    )
    p.add_argument(
        "--notify-url",
        default="",
        help="the public base URL providers reach that port at, e.g. https://pay.station.example (default http://HOST:PORT)",
    )
    p.add_argument(
        "--key-dir",
        type=Path,
        help="the station's keys (personal-data encryption, token signing, the embedded Ray's token), outside the data "
        "dir (default: DATA_DIR-keys beside it, made on first start)",
    )
    p.add_argument(
        "--handshake-timeout-ms",
        type=int,
        default=HANDSHAKE_TIMEOUT_MS,
        help="close a connection that has not finished TCP, TLS and HTTP/2 set-up in this time (default "
        f"{HANDSHAKE_TIMEOUT_MS})",
    )
    p.add_argument(
        "--connection-idle-ms",
        type=int,
        default=CONNECTION_IDLE_MS,
        help="close a connection without calls for this long; clients reconnect at their next call (default "
        f"{CONNECTION_IDLE_MS})",
    )
    p.add_argument(
        "--connection-age-ms",
        type=int,
        default=CONNECTION_AGE_MS,
        help=f"close every connection at this age, after its calls finish (default {CONNECTION_AGE_MS})",
    )


def add_report(verbs) -> None:
    """`keyun report`: sales and status from a running server; rebuild and export of a stopped
    server's reporting store (docs/reporting.md)."""
    report = verbs.add_parser("report", help="reports (统计): sales, projector status, rebuild, Parquet export")
    actions = report.add_subparsers(dest="action", required=True)
    report_cli.add_actions(actions)
    persistence_cli.add_report_actions(actions)


def add_totp(verbs) -> None:
    p = verbs.add_parser(
        "totp", help="print the current TOTP code for a base32 secret (the demo administrators' second factor)"
    )
    p.add_argument("secret", help="base32 secret, e.g. the demo one in the README")


def show_totp(args: argparse.Namespace) -> int:
    try:
        print(credentials.totp_code(args.secret, SYSTEM_CLOCK.now_ms()))
    except ValueError as error:
        print(f"keyun totp: {error}", file=sys.stderr)
        return 2
    return 0


# A new data directory gets one trip owner per this many CPUs, and at least one.  One owner applies
# about 28,000 commands a second (bench/engine.py), more than one gateway process can send it
# (about 5,000 calls a second on the 2-core machine of BENCHMARKS.md), and each owner process costs
# CPU for every batch (a Ray call, a log write and its fsync) and makes the batches of the others
# smaller.  On 2 cores, a second owner lowered sell by 20-30 % side by side (BENCHMARKS.md).
CPUS_PER_SHARD = 4


if __name__ == "__main__":
    sys.exit(main())
