"""The browser's session: a sealed cookie, and the CSRF check of every form.

The cookie holds the passenger's access and refresh tokens, the page language and the session's
CSRF token, sealed with AES-256-GCM under a key only the web process has: the browser can neither
read nor alter it, and the web process keeps nothing per visitor.  It is HttpOnly and SameSite=Lax,
and Secure whenever the pages are served anywhere but loopback.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

COOKIE = "keyun_session"
SESSION_KEY = web.AppKey("session_sealer", "Sealer")
# Forms name the token `csrf`; scripts send it in this header.
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LANGUAGES = ("zh", "en")


@dataclass
class Session:
    access: str = ""
    refresh: str = ""
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lang: str = "zh"
    # Shown in the page header: the account's masked login name or display name.
    who: str = ""
    changed: bool = False
    # Which part's login the tokens are: "" for the passenger site, "reports" for a staff login
    # to the report pages (reports.py), which checks it before it shows a number.
    part: str = ""

    def keep(self, access: str, refresh: str) -> None:
        """New tokens from a login or a refresh (the gateway's Tokens protocol)."""
        self.access, self.refresh, self.changed = access, refresh, True

    def login(self, access: str, refresh: str, who: str, part: str = "") -> None:
        self.keep(access, refresh)
        self.who, self.part = who, part
        # A new CSRF token at every login: one learnt before it is worth nothing after.
        self.csrf = secrets.token_urlsafe(24)

    def clear(self) -> None:
        lang = self.lang
        self.__init__()  # type: ignore[misc]
        self.lang, self.changed = lang, True

    @property
    def logged_in(self) -> bool:
        return bool(self.access)

    def to_json(self) -> bytes:
        fields = {"a": self.access, "r": self.refresh, "c": self.csrf, "l": self.lang, "w": self.who, "p": self.part}
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        fields = json.loads(raw)
        return cls(fields["a"], fields["r"], fields["c"], fields["l"], fields["w"], part=fields.get("p", ""))


class Sealer:
    """AES-256-GCM over the session's JSON; the cookie is nonce + ciphertext, base64url."""

    def __init__(self, key: bytes):
        self.aead = AESGCM(key)

    def seal(self, session: Session) -> str:
        nonce = os.urandom(12)
        return base64.urlsafe_b64encode(nonce + self.aead.encrypt(nonce, session.to_json(), COOKIE.encode())).decode()

    def open(self, cookie: str | None) -> Session:
        """The session in `cookie`; a fresh one when there is none or it was altered or is stale."""
        if not cookie:
            return Session(changed=True)
        try:
            sealed = base64.urlsafe_b64decode(cookie.encode())
            return Session.from_json(self.aead.decrypt(sealed[:12], sealed[12:], COOKIE.encode()))
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
            return Session(changed=True)


def load_key(path: Path) -> bytes:
    """The cookie key in `path`, made (32 random bytes, owner-only) on the first start.  Keeping it
    keeps visitors logged in across restarts of the web process."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ValueError(f"{path}: a cookie key is 32 bytes, this file has {len(key)}")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    return key


def get_session(request: web.Request) -> Session:
    session: Session = request["session"]
    return session


async def csrf_ok(request: web.Request, session: Session) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    return bool(sent) and hmac.compare_digest(sent, session.csrf)


def session_middleware(secure_cookies: bool):
    @web.middleware
    async def middleware(request: web.Request, handler):
        sealer: Sealer = request.app[SESSION_KEY]
        session = sealer.open(request.cookies.get(COOKIE))
        request["session"] = session
        if (lang := request.query.get("lang")) in LANGUAGES and lang != session.lang:
            session.lang, session.changed = lang, True
        if request.method not in SAFE_METHODS and not await csrf_ok(request, session):
            raise web.HTTPForbidden(text="The form was stale or came from another site: reload the page and try again.")
        response = await handler(request)
        if session.changed:
            response.set_cookie(
                COOKIE, sealer.seal(session), httponly=True, samesite="Lax", secure=secure_cookies, path="/"
            )
        return response

    return middleware
