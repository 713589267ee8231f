"""`keyun serve`: start the owners (an embedded Ray unless --ray-address) and the gateway on one port.

Loaded only for `keyun serve`: every other verb of app/cli.py is a small client and must not pay
for Ray and the gateway at start, and a busy port is reported before either is loaded."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import logging
import os
import sys
import tomllib
from pathlib import Path

from keyun.actors.ray_runtime import RayExposed, cluster_address, start_ray
from keyun.common.clock import CHINA, SYSTEM_CLOCK, TEST_SHIFT_ENV, test_shift_ms
from keyun.common.gc_pauses import observe_collections
from keyun.common.platform import SHARED_PORTS, install_event_loop_policy, on_stop_signals, port_in_use
from keyun.common.sms_wire import SmsConfigError
from keyun.engine.accounts import AccountRules
from keyun.engine.policy import Policy, PolicyError, parse_account_rules, parse_policy
from keyun.gateway import tls
from keyun.gateway.connection_limits import ConnectionLimits
from keyun.gateway.owners import ShardCountMismatch
from keyun.persistence import layout
from keyun.persistence.keyring import KeyringError

from .cli import CPUS_PER_SHARD
from .server import check_keys, create_server, default_key_dir

log = logging.getLogger("keyun")

# Young collections every 50,000 net allocations instead of 700 (the owners use 100,000).
GATEWAY_GC_THRESHOLDS = (50_000, 20, 100)


def default_shards(data_dir: Path) -> int:
    """The data directory's shard count (fixed when it was created), else one per CPUS_PER_SHARD CPUs."""
    return layout.recorded_shards(data_dir) or max(1, (os.cpu_count() or 1) // CPUS_PER_SHARD)


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if shift_ms := test_shift_ms():
        now = dt.datetime.fromtimestamp(SYSTEM_CLOCK.now_ms() / 1000, CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)")
        print(
            f"keyun serve: WARNING: {TEST_SHIFT_ENV}={shift_ms} moves this server's clock (tests only): it reads {now}",
            file=sys.stderr,
        )
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


async def _serve(args: argparse.Namespace) -> None:
    pay_process = await _start_sandbox_pay(args) if args.sandbox_pay and not args.gateway_only else None
    sms_process = None
    try:
        sms_process = await _start_sandbox_sms(args) if args.sandbox_sms and not args.gateway_only else None
        await _serve_with(args)
    finally:  # also when the start fails: never leave a sandbox running on its own
        for process in (pay_process, sms_process):
            if process is not None and process.returncode is None:
                process.terminate()
                await process.wait()


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
            sms_dir=args.sms_dir,
            account_rules=args.account_rules,
            payments_dir=args.payments_dir,
            search_cache_s=args.search_cache_ms / 1000,
            connection_limits=args.connection_limits,
            reports=args.reports,
            funnel_sample=args.funnel_sample,
        )
    except (layout.DataDirError, KeyringError, SmsConfigError) as error:
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
    # The web pages: a child process stopped with the server, as the extra gateways are.
    children = [await _start_web(args, port)] if args.web is not None and not args.gateway_only else []
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
    for child in [*workers, *children]:
        child.terminate()
    await asyncio.gather(*(child.wait() for child in [*workers, *children]))
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


async def _start_sandbox_sms(args: argparse.Namespace) -> asyncio.subprocess.Process:
    """`keyun sandbox-sms` as a child process, its account file beside the data directory; codes
    and notices go through it.  Waits until it listens."""
    sms_dir = args.data_dir.resolve().parent / f"{args.data_dir.resolve().name}-sms"
    command = [
        sys.executable,
        "-m",
        "keyun.sandboxes.sms.server",
        "--port",
        "0",
        "--dir",
        str(sms_dir),
        "--state",
        str(sms_dir / "state.json"),
    ]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    line = (await asyncio.wait_for(process.stdout.readline(), SANDBOX_START_S)).decode().strip()
    if not line.startswith("sandbox-sms listening on "):
        await process.wait()
        raise StartFailed("the SMS sandbox did not start (its error is above)")
    args.sms_dir = sms_dir
    log.warning(
        "text messages through the SMS sandbox (nothing reaches a phone); read them at http://%s/messages",
        line.removeprefix("sandbox-sms listening on "),
    )
    return process


async def _start_web(args: argparse.Namespace, port: int) -> asyncio.subprocess.Process:
    """`keyun web` as a child process on port `args.web`, a client of this server on loopback (its
    cookie key beside the data directory).  Stopped with the server, like the extra gateways."""
    if args.tls is not None:
        raise StartFailed("--web starts the pages on loopback only: with TLS, run `keyun web --ca CA` yourself")
    cookie_key = args.data_dir.resolve().parent / f"{args.data_dir.resolve().name}-web" / "cookie.key"
    command = [sys.executable, "-m", "keyun.terminals.web.cli", "--server", f"127.0.0.1:{port}"]
    command += ["--port", str(args.web), "--cookie-key", str(cookie_key)]
    if args.demo:  # the demo's kiosk screen logs in as the demo kiosk (docs/kiosk.md)
        command += ["--device", "kiosk", "kiosk1", str(_demo_password_file(cookie_key.parent))]
        command += ["--device", "board", "board1", str(_demo_password_file(cookie_key.parent))]  # docs/board.md
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    line = (await asyncio.wait_for(process.stdout.readline(), SANDBOX_START_S)).decode().strip()
    if not line.startswith("keyun web on "):
        await process.wait()
        raise StartFailed("keyun web did not start (its error is above)")
    print(line.split(" (gateway")[0], flush=True)
    return process


def _demo_password_file(directory: Path) -> Path:
    """The demo accounts' password (printed in the README) in a file of the owner's only, for the
    web process's device logins."""
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    path = directory / "demo-device.password"
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(DEMO_PASSWORD)
    return path


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
            "--funnel-sample",
            str(args.funnel_sample),
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
        if args.sms_dir:  # the same SMS provider: codes are sent by whichever process takes the call
            command += ["--sms-dir", str(args.sms_dir)]
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
