"""The `keyun` command: `keyun serve` here; the other verbs from the layers that own them (terminals,
persistence, gateway TLS, the payment sandbox)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import os
import socket
import sys
import tomllib
from pathlib import Path

from keyun.actors.ray_runtime import RayExposed, cluster_address, start_ray
from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.gc_pauses import observe_collections
from keyun.common.platform import SHARED_PORTS, install_event_loop_policy, on_stop_signals
from keyun.engine.accounts import AccountRules
from keyun.engine.policy import Policy, PolicyError, parse_account_rules, parse_policy
from keyun.gateway import credentials, tls
from keyun.gateway.connection_limits import (
    CONNECTION_AGE_MS,
    CONNECTION_IDLE_MS,
    HANDSHAKE_TIMEOUT_MS,
    ConnectionLimits,
)
from keyun.gateway.owners import ShardCountMismatch
from keyun.gateway.shared_answers import SEARCH_CACHE_S
from keyun.persistence import cli as persistence_cli
from keyun.persistence import keyring_cli, layout
from keyun.persistence.keyring import KeyringError
from keyun.sandboxes.payments import server as sandbox
from keyun.terminals import admin_cli, dispatch_cli, orders_cli, passenger_cli, shifts_cli
from keyun.terminals import cli as terminal_cli

from .server import check_keys, create_server, default_key_dir

log = logging.getLogger("keyun")

# Young collections every 50,000 net allocations instead of 700 (the owners use 100,000).
GATEWAY_GC_THRESHOLDS = (50_000, 20, 100)


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
    dispatch_cli.add_verbs(verbs)
    sandbox.add_verbs(verbs)
    add_totp(verbs)
    args = parser.parse_args(argv)
    if args.verb == "serve":
        return serve(args)
    if args.verb == "certs":
        return tls.run(args)
    if args.verb == "keys":
        return keyring_cli.run(args)
    if args.verb == "totp":
        return show_totp(args)
    if args.verb == "sandbox-pay":
        return sandbox.run(args)
    if args.verb in {"backup", "restore", "upgrade", "wal", "audit"}:
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
        "--sandbox-pay",
        action="store_true",
        help="start `keyun sandbox-pay` beside the server and take payments through it (demos; no real money)",
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


def default_shards(data_dir: Path) -> int:
    """The data directory's shard count (fixed when it was created), else one per CPUS_PER_SHARD CPUs."""
    return layout.recorded_shards(data_dir) or max(1, (os.cpu_count() or 1) // CPUS_PER_SHARD)


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.shards is None:
        try:
            args.shards = default_shards(args.data_dir)
        except layout.DataDirError as error:
            print(f"keyun serve: {error}", file=sys.stderr)
            return 2
    if args.shards < 1 or args.workers < 1:
        print("--shards and --workers must be at least 1", file=sys.stderr)
        return 2
    if args.search_cache_ms < 0:
        print("--search-cache-ms must not be negative", file=sys.stderr)
        return 2
    if args.workers > 1 and not SHARED_PORTS:
        print("--workers needs SO_REUSEPORT, which Windows does not have; run one gateway per port", file=sys.stderr)
        return 2
    try:
        args.station_policy, args.account_rules = (
            read_policy(args.policy) if args.policy else (Policy(), AccountRules())
        )
    except (OSError, tomllib.TOMLDecodeError, PolicyError) as error:
        print(f"keyun serve: {args.policy}: {error}", file=sys.stderr)
        return 2
    try:
        args.connection_limits = ConnectionLimits(
            args.handshake_timeout_ms, args.connection_idle_ms, args.connection_age_ms
        )
    except ValueError as error:
        print(f"keyun serve: {error}", file=sys.stderr)
        return 2
    try:
        install_event_loop_policy()
    except ValueError as error:
        print(f"keyun serve: {error}", file=sys.stderr)
        return 2
    if not args.gateway_only and (busy := port_in_use(args.host, args.port)):
        print(f"keyun serve: {busy}", file=sys.stderr)
        return 2
    try:  # before anything is made (keys, the Ray token, TLS certificates, the data directory)
        check_keys(args.data_dir, args.key_dir or default_key_dir(args.data_dir))
    except KeyringError as error:
        print(f"keyun serve: {error}", file=sys.stderr)
        return 2
    if (status := _resolve_tls(args)) != 0:
        return status
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except StartFailed as error:
        print(f"keyun serve: {error}", file=sys.stderr)
        return 2
    return 0


class StartFailed(Exception):
    """The server cannot start, for a reason its operator can fix (said in one line, no traceback)."""


def port_in_use(host: str, port: int) -> str:
    """Why `keyun serve` cannot listen on host:port ("" if it can): checked before anything starts,
    so a second `make run` fails at once and leaves nothing behind."""
    if port == 0:
        return ""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"cannot listen on {host}: {error.strerror}"
    failures = []
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as grpc does: TIME_WAIT is no obstacle
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return f"port {port} on {host} is in use (another keyun serve?): stop it, or choose another --port"
                failures.append(error)
    # grpc serves when it can bind one of the addresses (localhost without IPv6, say).
    return f"cannot listen on port {port} of {host}: {failures[0].strerror}" if len(failures) == len(addresses) else ""


async def _serve(args: argparse.Namespace) -> None:
    pay_process = await _start_sandbox_pay(args) if args.sandbox_pay and not args.gateway_only else None
    try:
        await _serve_with(args)
    finally:  # also when the start fails: never leave the sandbox running on its own
        if pay_process is not None and pay_process.returncode is None:
            pay_process.terminate()
            await pay_process.wait()


async def _serve_with(args: argparse.Namespace) -> None:
    log.info("starting Ray (%s)", args.ray_address or "embedded, on loopback")
    key_dir = args.key_dir or default_key_dir(args.data_dir)
    try:
        start_ray(key_dir, args.ray_address)
    except (KeyringError, RayExposed) as error:
        raise StartFailed(error) from None
    try:
        server = create_server(
            "keyun",
            args.data_dir,
            args.shards,
            args.station_policy,
            detached=bool(args.ray_address),
            owner_resource=args.owner_resource,
            tls=args.tls,
            key_dir=args.key_dir,
            demo_accounts=args.demo,
            demo_network=args.demo,
            account_rules=args.account_rules,
            payments_dir=args.payments_dir,
            search_cache_s=args.search_cache_ms / 1000,
            connection_limits=args.connection_limits,
        )
    except (layout.DataDirError, KeyringError) as error:
        raise StartFailed(error) from None
    server.notify_port, server.notify_url = args.notify_port, args.notify_url
    server.receive_notifications = not args.gateway_only
    try:
        port = await server.start(
            args.host, args.port, reuse_port=args.workers > 1 or args.gateway_only, primary=not args.gateway_only
        )
    except ShardCountMismatch as error:
        raise StartFailed(error) from None
    except RuntimeError as error:  # grpc's "Failed to bind": the port was taken while Ray started
        await server.stop()
        raise StartFailed(port_in_use(args.host, args.port) or error) from None
    if server.setup_token:
        # Printed once, to the terminal that started the server, never to the log.
        print(
            "\nNo administrators yet.  Create the three of them once with this one-time setup token\n"
            "(keyun setup --token TOKEN --system-admin NAME --security-admin NAME --audit-admin NAME;\n"
            f"a new token replaces it at the next start until setup is done):\n\n    {server.setup_token}\n",
            flush=True,
        )
    if args.metrics_port is not None:
        metrics_port = server.metrics.serve(args.host, args.metrics_port)
        print(f"keyun metrics on http://{args.host}:{metrics_port}/metrics", flush=True)
    workers = await _start_workers(args, port, getattr(server.orders.payments, "notify_base_url", ""))
    # Everything made so far (Ray, gRPC, the services, caches) lives as long as the process: keep it
    # out of the collector's scans, and collect young objects less often.  Under load the default
    # thresholds ran about 30 young collections a second and full ones of up to 90 ms.
    gc.freeze()
    gc.set_threshold(*GATEWAY_GC_THRESHOLDS)
    observe_collections(server.metrics.gc_seconds)
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)  # before the line: a script may stop it right after
    # Tests and scripts read this line to find the port when started with --port 0.
    print(
        f"keyun listening on {args.host}:{port}" + (f" ({args.workers} gateway processes)" if workers else ""),
        flush=True,
    )
    await stop.wait()
    log.info("stopping")
    for worker in workers:
        worker.terminate()
    await asyncio.gather(*(worker.wait() for worker in workers))
    await server.stop()


async def _start_sandbox_pay(args: argparse.Namespace) -> asyncio.subprocess.Process:
    """`keyun sandbox-pay` as a child process, its keys beside the data directory; payments go
    through it.  Waits until it listens."""
    keys_dir = args.data_dir.resolve().parent / f"{args.data_dir.resolve().name}-pay"
    # --port 0: its first start picks a free one, later starts keep it, so earlier pay links work.
    command = [
        sys.executable,
        "-m",
        "keyun.sandboxes.payments.server",
        "--port",
        "0",
        "--keys-dir",
        str(keys_dir),
        "--state",
        str(keys_dir / "state.json"),
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    line = (await asyncio.wait_for(process.stdout.readline(), SANDBOX_START_S)).decode().strip()
    if not line.startswith("sandbox-pay listening on "):
        await process.wait()
        raise StartFailed("the payment sandbox did not start (its error is above)")
    args.payments_dir = keys_dir
    log.warning(
        "payments through the sandbox at %s (no real money); pay pages are listed at its address",
        line.removeprefix("sandbox-pay listening on "),
    )
    return process


# The sandbox makes RSA keys on its first start.
SANDBOX_START_S = 60


async def _start_workers(
    args: argparse.Namespace, port: int, payments_url: str = ""
) -> list[asyncio.subprocess.Process]:
    """Start --workers - 1 more gateway processes on the same port, joined to this Ray.

    They find the owners by name, so every gateway talks to the same owners; the kernel spreads
    incoming connections over the processes (SO_REUSEPORT).
    """
    workers = []
    for n in range(1, args.workers):
        command = [
            sys.executable,
            "-m",
            "keyun.app.cli",
            "serve",
            "--gateway-only",
            "--ray-address",
            cluster_address(),
            "--host",
            args.host,
            "--port",
            str(port),
            "--data-dir",
            str(args.data_dir),
            "--shards",
            str(args.shards),
            "--log-level",
            args.log_level,
            "--search-cache-ms",
            str(args.search_cache_ms),
            "--handshake-timeout-ms",
            str(args.handshake_timeout_ms),
            "--connection-idle-ms",
            str(args.connection_idle_ms),
            "--connection-age-ms",
            str(args.connection_age_ms),
        ]
        if args.key_dir:
            command += ["--key-dir", str(args.key_dir)]
        if args.payments_dir:  # the same providers; their notifications come to this process
            command += ["--payments-dir", str(args.payments_dir), "--notify-url", payments_url]
        if args.metrics_port:
            command += ["--metrics-port", str(args.metrics_port + n)]
        if args.tls is not None:  # the same certificates, already made: workers never make their own
            command += ["--tls-dir", str(args.tls.directory)] + (
                ["--require-client-cert"] if args.tls.require_client_cert else []
            )
        worker = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        while not (line := (await worker.stdout.readline()).decode()).startswith("keyun listening on "):
            if not line:
                raise SystemExit(f"gateway worker {n} did not start")
        workers.append(worker)
        log.info("gateway worker %d serving on port %d (pid %d)", n, port, worker.pid)
    return workers


def _resolve_tls(args: argparse.Namespace) -> int:
    """Set args.tls (plain text only on loopback); make the station certificates on first start."""
    try:
        args.tls, created = tls.serving_tls(
            args.host, args.tls_dir, args.require_client_cert, args.key_dir or default_key_dir(args.data_dir)
        )
    except (tls.TlsError, OSError) as error:
        print(f"keyun serve: TLS: {error}", file=sys.stderr)
        return 2
    if created is not None:
        log.warning(
            "made a station CA and server certificate in %s; give terminals %s (keyun certs client --dir %s issues "
            "device certificates)",
            created.directory,
            created.ca_cert,
            created.directory,
        )
    return 0


def read_policy(path: Path) -> tuple[Policy, AccountRules]:
    with open(path, "rb") as file:
        doc = tomllib.load(file)
    return parse_policy(doc), parse_account_rules(doc)


if __name__ == "__main__":
    sys.exit(main())
