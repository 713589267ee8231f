"""`keyun web`: serve the station's web pages, a gRPC client of the gateway like any terminal."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from pathlib import Path

from aiohttp import web

from keyun.common.platform import install_event_loop_policy, on_stop_signals, port_in_use

from .app import WebSettings, build_app
from .gateway import DeviceLogin

DEFAULT_SERVER = "127.0.0.1:50051"


def add_verbs(verbs) -> None:
    p = verbs.add_parser(
        "web",
        help="serve the departure board, the passenger site, the kiosk and the report pages (a client of the gateway)",
    )
    add_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        default=os.environ.get("KEYUN_SERVER") or DEFAULT_SERVER,
        help=f"Keyun gateway address (env KEYUN_SERVER; default {DEFAULT_SERVER})",
    )
    p.add_argument(
        "--ca",
        type=Path,
        default=os.environ.get("KEYUN_CA") or None,
        help="the station CA certificate: reach the gateway over TLS (env KEYUN_CA)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve the pages on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to serve the pages on (default 8080; 0 picks one)")
    p.add_argument(
        "--cookie-key",
        type=Path,
        default=Path(".keyun-web/cookie.key"),
        help="the key that seals visitors' session cookies, made on the first start (default .keyun-web/cookie.key)",
    )
    p.add_argument(
        "--device",
        nargs=3,
        action="append",
        default=[],
        metavar=("PART", "LOGIN", "PASSWORD_FILE"),
        help="log the PART's pages (board, kiosk) in as the device account LOGIN, its password in PASSWORD_FILE "
        "(repeatable)",
    )
    p.add_argument(
        "--kiosk-idle",
        type=int,
        default=60,
        metavar="SECONDS",
        help="a kiosk screen goes back to its start after this long without input (default 60)",
    )
    p.add_argument(
        "--kiosk-clients",
        type=ipaddress.ip_network,
        action="append",
        default=[],
        metavar="NETWORK",
        help="besides loopback, the address or network (CIDR) of the kiosk's screen (repeatable); the kiosk's "
        "pages act with the kiosk's device login, so nobody else may reach them",
    )
    p.add_argument(
        "--kiosk-no-autoprint",
        action="store_true",
        help="the kiosk's tickets screen shows the tickets' PDF without calling print() (headless browsers)",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.port and (busy := port_in_use(args.host, args.port)):
        print(f"keyun web: {busy}", file=sys.stderr)
        return 2
    try:
        devices = {part: DeviceLogin(login, Path(file).read_text().strip()) for part, login, file in args.device}
        if args.kiosk_idle < 1:
            raise ValueError("--kiosk-idle: at least 1 second")
        settings = WebSettings(
            args.server,
            args.ca,
            args.host,
            args.port,
            args.cookie_key,
            devices,
            kiosk_idle_s=args.kiosk_idle,
            kiosk_autoprint=not args.kiosk_no_autoprint,
            kiosk_clients=tuple(args.kiosk_clients),
        )
        app = build_app(settings)
    except (OSError, ValueError) as error:
        print(f"keyun web: {error}", file=sys.stderr)
        return 2
    install_event_loop_policy()
    asyncio.run(_serve(app, settings))
    return 0


async def _serve(app: web.Application, settings: WebSettings) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = runner.addresses[0][1]
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)
    # Scripts and tests read this line to find the port when started with --port 0.
    print(f"keyun web on http://{settings.host}:{port}/ (gateway {settings.server})", flush=True)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keyun web", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
