"""The `keyun` command: its verbs and their arguments.  `keyun serve` runs in app/serve.py, loaded
only for that verb; the other verbs come from the layers that own them (terminals, persistence,
gateway TLS, the payment sandbox) and stay small clients."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from keyun.common.clock import SYSTEM_CLOCK

# Which module defines each verb's arguments (and runs it): a command imports only its own verb's
# module, so `keyun order pay …` does not load aiohttp, the sandboxes, argon2 and the web pages
# first (it started in a third of the time).  `keyun --help`, or a verb not listed, loads them all.
# Each entry is "module:function", called with the sub-parsers; tests/test_cli_verbs.py checks that
# this table names every verb the full parser has, and no other.
VERBS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("serve",): ("keyun.app.cli:add_serve",),
    ("counter", "gate", "network", "login", "logout"): (
        "keyun.terminals.cli:add_counter",
        "keyun.terminals.cli:add_gate",
        "keyun.terminals.cli:add_network",
        "keyun.terminals.cli:add_session",
    ),
    ("archive", "audit", "backup", "restore", "upgrade", "wal"): ("keyun.persistence.cli:add_verbs",),
    ("certs",): ("keyun.gateway.tls:add_verbs",),
    ("keys",): ("keyun.persistence.keyring_cli:add_verbs",),
    ("setup", "staff"): ("keyun.terminals.admin_cli:add_verbs",),
    # shifts_cli adds `finance deposit` to orders_cli's `keyun finance`
    ("finance", "order", "shift", "stock"): (
        "keyun.terminals.orders_cli:add_verbs",
        "keyun.terminals.shifts_cli:add_verbs",
    ),
    ("passenger", "notices"): (
        "keyun.terminals.passenger_cli:add_verbs",
        "keyun.terminals.passenger_cli:add_notices_verbs",
    ),
    ("dispatch",): ("keyun.terminals.dispatch_cli:add_verbs",),
    ("announce",): ("keyun.terminals.board_cli:add_verbs",),
    ("device",): ("keyun.terminals.devices_cli:add_verbs",),
    ("handheld",): ("keyun.terminals.handheld_cli:add_verbs",),
    ("sandbox-pay",): ("keyun.sandboxes.payments.server:add_verbs",),
    ("sandbox-sms",): ("keyun.sandboxes.sms.server:add_verbs",),
    ("sandbox-authority",): ("keyun.sandboxes.authority.server:add_verbs",),
    ("web",): ("keyun.terminals.web.cli:add_verbs",),
    ("totp",): ("keyun.app.cli:add_totp",),
    ("report",): ("keyun.app.cli:add_report",),
    ("admin",): ("keyun.terminals.rules_cli:add_verbs",),
}


def add_verbs(verbs, verb: str | None) -> None:
    """The sub-parsers of `verb`'s group, or of every verb when it is None or unknown."""
    groups = [adders for names, adders in VERBS.items() if verb in names] or list(VERBS.values())
    for adders in groups:
        for adder in adders:
            module, function = adder.split(":")
            getattr(importlib.import_module(module), function)(verbs)


def first_verb(argv: list[str]) -> str | None:
    """The verb a command line names (`keyun` takes no option before it), or None."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="keyun", description="Keyun: ticketing for intercity bus stations.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    add_verbs(verbs, first_verb(argv))
    args = parser.parse_args(argv)
    if args.verb == "serve":
        from keyun.common.platform import port_in_use

        # A busy port fails at once, before Ray and the gateway load (for this verb only).
        if not args.gateway_only and (busy := port_in_use(args.host, args.port)):
            print(f"keyun serve: {busy}", file=sys.stderr)
            return 2
        from . import serve

        return serve.serve(args)
    if args.verb == "totp":
        return show_totp(args)
    if args.verb in RUNNERS:
        module, function = RUNNERS[args.verb].split(":")
        return getattr(importlib.import_module(module), function)(args)
    from keyun.persistence import cli as persistence_cli

    if args.verb in {"backup", "restore", "upgrade", "wal", "audit"} or (
        args.verb == "report" and args.action in persistence_cli.REPORT_ACTIONS
    ):
        return persistence_cli.run(args)
    from keyun.terminals import cli as terminal_cli

    return terminal_cli.run(args)


# Verbs run by their own module's `run` (the rest are terminal verbs: keyun.terminals.cli.run).
RUNNERS = {
    "certs": "keyun.gateway.tls:run",
    "keys": "keyun.persistence.keyring_cli:run",
    "sandbox-sms": "keyun.sandboxes.sms.server:run",
    "sandbox-authority": "keyun.sandboxes.authority.server:run",
    "sandbox-pay": "keyun.sandboxes.payments.server:run",
    "web": "keyun.terminals.web.cli:run",
}


def add_serve(verbs) -> None:
    from keyun.gateway.connection_limits import CONNECTION_AGE_MS, CONNECTION_IDLE_MS, HANDSHAKE_TIMEOUT_MS
    from keyun.gateway.shared_answers import SEARCH_CACHE_S

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
        "--funnel-sample",
        type=_sample_rate,
        default=1.0,
        metavar="0..1",
        help="the share of sessions whose searches and seat-map views are recorded for behaviour analysis "
        "(docs/reporting.md); default 1.0 (every one, as a station's load allows); 0 records none",
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
    from keyun.persistence import cli as persistence_cli
    from keyun.terminals import report_cli

    report_cli.add_actions(actions)
    persistence_cli.add_report_actions(actions)


def add_totp(verbs) -> None:
    p = verbs.add_parser(
        "totp", help="print the current TOTP code for a base32 secret (the demo administrators' second factor)"
    )
    p.add_argument("secret", help="base32 secret, e.g. the demo one in the README")


def show_totp(args: argparse.Namespace) -> int:
    from keyun.gateway import credentials

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


def _sample_rate(text: str) -> float:
    """`--funnel-sample`: a share of sessions, 0..1."""
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not within 0..1")
    return rate
