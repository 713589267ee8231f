"""The web terminal's application: settings, the gateway connection, pages and their guards.

Each part of the site is a module with `setup(app)` that adds its routes (listed in PARTS) and a
`Part` entry for the start page.  Templates live in templates/PART/, extend base.html, and are
rendered with `render`, which gives them the page language's `_`, the session and `csrf_field()`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import grpc
import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from keyun.terminals.client import KeyunError

from . import i18n
from .gateway import DeviceLogin, WebGateway
from .session import CSRF_FIELD, SESSION_KEY, Sealer, Session, get_session, load_key, session_middleware

log = logging.getLogger("keyun.web")

HERE = Path(__file__).parent


@dataclass(frozen=True)
class WebSettings:
    # The Keyun gateway, and the station CA when it speaks TLS.
    server: str
    ca_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    cookie_key_file: Path = Path(".keyun-web/cookie.key")
    # Device logins of the web process itself (board, kiosk): part name -> its login.
    devices: dict[str, DeviceLogin] = field(default_factory=dict)
    # The kiosk's screens go back to their start after this many seconds without input (kiosk.py).
    kiosk_idle_s: int = 60
    # The kiosk's tickets screen calls print() on the tickets' PDF (off: headless browsers, tests).
    kiosk_autoprint: bool = True
    # Who may use the kiosk's pages besides loopback: they act with the kiosk device's login (a
    # pick-up marks tickets printed), so only the kiosk's own screen may reach them.
    kiosk_clients: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies everywhere but loopback, where browsers keep them on plain HTTP anyway
        and a station tries the pages out."""
        return not _loopback(self.host)


@dataclass(frozen=True)
class Part:
    """A part of the site, as the start page lists it."""

    name_key: str
    path: str
    blurb_key: str


SETTINGS = web.AppKey("settings", WebSettings)
GATEWAY = web.AppKey("gateway", WebGateway)
PARTS_KEY = web.AppKey("parts", list)
TEMPLATES = web.AppKey("templates", jinja2.Environment)

# The modules that add pages: each has setup(app).  Listed here so that the start page and the
# tests see one list.
PARTS: list[Callable[[web.Application], None]] = []

# What a refusal's gRPC status means for the page's HTTP status.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.CONFLICT,
    grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.SERVICE_UNAVAILABLE,
}

# Pages carry personal data and tokens' effects: never cached, never framed by another site, no
# script or style from anywhere but this server.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
}


def build_app(settings: WebSettings) -> web.Application:
    app = web.Application(middlewares=[kiosk_guard, session_middleware(settings.secure_cookies), error_middleware])
    app[SETTINGS] = settings
    app[SESSION_KEY] = Sealer(load_key(settings.cookie_key_file))
    app[PARTS_KEY] = []
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    app.cleanup_ctx.append(_gateway_connection)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", home)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", HERE / "static", name="static")
    for setup in PARTS:
        setup(app)
    return app


async def _gateway_connection(app: web.Application):
    settings = app[SETTINGS]
    app[GATEWAY] = WebGateway(settings.server, settings.ca_file)
    yield
    await app[GATEWAY].close()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def gateway(request: web.Request) -> WebGateway:
    return request.app[GATEWAY]


async def device_tokens(request: web.Request, part: str) -> DeviceLogin:
    """The web process's device login for `part` ("board", "kiosk"), logged in; KeyunError
    NOT_AUTHENTICATED when `keyun web` was started without one."""
    login = request.app[SETTINGS].devices.get(part)
    if login is None:
        raise KeyunError(
            grpc.StatusCode.UNAUTHENTICATED,
            f"this web terminal has no {part} device login: start it with --device {part} LOGIN PASSWORD_FILE",
            reason="NOT_AUTHENTICATED",
        )
    return await login.tokens(request.app[GATEWAY])


def add_part(app: web.Application, part: Part) -> None:
    app[PARTS_KEY].append(part)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session = get_session(request)
    page = request.app[TEMPLATES].get_template(template)
    html = page.render(
        _=i18n.translator(session.lang),
        lang=session.lang,
        session=session,
        request=request,
        csrf_field=lambda: Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(session.csrf)}">'),
        other_lang="en" if session.lang == "zh" else "zh",
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, status: int, message: str, reason: str = "") -> web.Response:
    return render(request, "error.html", status=status, message=message, reason=reason)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """A refusal from the gateway as a page in the visitor's language with its reason code; an
    unexpected failure as a plain apology, its traceback in the log only."""
    try:
        return await handler(request)
    except KeyunError as error:
        session: Session = request["session"]
        status = HTTP_STATUS.get(error.code, HTTPStatus.INTERNAL_SERVER_ERROR)
        return error_page(request, status, i18n.reason_text(error.reason, session.lang, error.message), error.reason)
    except web.HTTPNotFound:
        return error_page(request, 404, i18n.translator(request["session"].lang)("error.not_found"))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_page(request, 500, i18n.translator(request["session"].lang)("error.internal"))


def kiosk_client(remote: str | None, allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    """Whether a client at `remote` may use the kiosk's pages: loopback, or an allowed network."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    return address.is_loopback or any(address in network for network in allowed)


@web.middleware
async def kiosk_guard(request: web.Request, handler):
    """The kiosk's pages answer only its own screen (keyun web --kiosk-clients for others)."""
    if request.path == "/kiosk" or request.path.startswith("/kiosk/"):
        if not kiosk_client(request.remote, request.app[SETTINGS].kiosk_clients):
            log.warning("kiosk pages refused to %s (not in --kiosk-clients)", request.remote)
            raise web.HTTPForbidden(text="The kiosk's pages are served to the kiosk's own screen only.")
    return await handler(request)


async def home(request: web.Request) -> web.Response:
    return render(request, "home.html", parts=request.app[PARTS_KEY])


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The parts, one line each; imported last, as they build on this module.
from . import board, kiosk, reports, site  # noqa: E402

PARTS.append(site.setup)
PARTS.append(kiosk.setup)
PARTS.append(board.setup)
PARTS.append(reports.setup)
