"""Credentials: password hashes (argon2id), signed session tokens (Ed25519), TOTP second factors.

Everything here is a primitive the accounts owner and the permission interceptor build on; none of
it logs, and no exception message or repr carries a password, token, key or TOTP secret.

Tokens are `k1.<base64url(JSON claims)>.<base64url(Ed25519 signature)>`.  The signature covers
everything before the last dot, version prefix included, so neither the version nor a claim can
be changed.  Ed25519 keeps tokens short (a 64-byte signature) and verification cheap enough to
run on every RPC without a cache; no JWT library is needed for one fixed algorithm, and having
none removes JWT's algorithm-confusion pitfalls ("alg": "none", HMAC with a public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass, fields, replace
from typing import Protocol
from urllib.parse import quote, urlencode

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keyun.engine.identity import MAX_PASSWORD_CHARS
from keyun.engine.reasons import Reason, Rejection, reject


class StationKeys(Protocol):
    """The station's keys as the gateway uses them.  The server is assembled with the keyring of
    keyun.persistence.keyring (keyun.app.server); the gateway never opens key files itself."""

    @property
    def signing_key(self) -> Ed25519PrivateKey: ...

    @property
    def verify_key(self) -> Ed25519PublicKey: ...

    def encrypt(self, plaintext: str, context: str) -> bytes: ...

    def decrypt(self, blob: bytes, context: str) -> str: ...

    def blind_index(self, value: str, context: str) -> bytes: ...


# -- passwords --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost parameters."""

    time_cost: int  # passes over memory
    memory_cost_kib: int
    parallelism: int  # lanes (threads)


# OWASP's password storage cheat sheet: argon2id with 19 MiB, 2 passes, 1 lane.  RFC 9106's
# second recommended option (t=3, 64 MiB, p=4) took about 0.45 s per verify on this project's
# 2-core reference machine and would let a burst of logins starve the gateway; these parameters
# take about 30 ms there, keep per-guess memory high enough to blunt GPU cracking, and use one
# lane so one login never occupies both cores.  Raising them later is safe: needs_rehash() tells
# the login path to rehash a password with the new parameters the next time it is typed.
PRODUCTION_PARAMS = HashParams(time_cost=2, memory_cost_kib=19 * 1024, parallelism=1)
# For tests only: the smallest parameters argon2 accepts (8 KiB per lane), about 0.1 ms a hash.
# Never use them for real accounts: they offer almost no resistance to guessing offline.
FAST_TEST_PARAMS = HashParams(time_cost=1, memory_cost_kib=8, parallelism=1)
HASH_BYTES = 32
SALT_BYTES = 16


class PasswordHasher:
    """argon2id password hashes.  Build one per process: construction hashes a random password
    once, so dummy_verify() later costs exactly what a real verify costs."""

    def __init__(self, params: HashParams = PRODUCTION_PARAMS):
        self.params = params
        self._argon2 = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=HASH_BYTES,
            salt_len=SALT_BYTES,
            type=argon2.Type.ID,
        )
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    def __repr__(self) -> str:
        return f"PasswordHasher({self.params!r})"

    def hash_password(self, password: str) -> str:
        """An encoded argon2id hash ($argon2id$v=19$m=...) with a fresh random salt.

        Check the password with engine.identity.check_password first; a password over
        MAX_PASSWORD_CHARS is refused here too, since hashing cost grows with its length.
        """
        if len(password) > MAX_PASSWORD_CHARS:
            raise ValueError(f"a password may have at most {MAX_PASSWORD_CHARS} characters")
        return self._argon2.hash(_prepared(password))

    def verify_password(self, stored: str, password: str) -> bool:
        """Whether `password` matches the stored hash.  False, never an exception, on a mismatch,
        an over-long password, or a stored hash that is not an argon2 hash."""
        if len(password) > MAX_PASSWORD_CHARS:
            self.dummy_verify()  # such a password was never set; take a verify's time all the same
            return False
        try:
            return self._argon2.verify(stored, _prepared(password))
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when the stored hash used other parameters (or is not an argon2 hash): hash the
        password again with these parameters after a successful login."""
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str = "") -> bool:
        """Spend one real verify's time and return False.  Call it when the account named at login
        does not exist, so response times do not reveal which account names exist."""
        try:
            self._argon2.verify(self._dummy_hash, _prepared(password[:MAX_PASSWORD_CHARS]))
        except VerificationError:
            pass  # the expected outcome: nobody knows the random dummy password
        return False


def _prepared(password: str) -> str:
    """NFC-normalized, so a password typed as composed or decomposed characters (different
    input methods, keyboards or platforms) hashes the same (RFC 8265's OpaqueString does this)."""
    return unicodedata.normalize("NFC", password)


# -- tokens -----------------------------------------------------------------------------------

TOKEN_VERSION = "k1"
ACCESS, REFRESH = "access", "refresh"
TOKEN_KINDS = (ACCESS, REFRESH)

# Every RPC checks the access token's signature and, through the gateway's session cache, that its
# session is still alive (gateway/auth.py), so logout and revocation do not wait for expiry.  The
# short lifetime limits what a copied token is worth; 15 minutes means a counter clerk's client
# refreshes only a few dozen times in a shift.
ACCESS_TOKEN_TTL_MS = 15 * 60 * 1000
# Refresh tokens are checked against the session at the accounts owner on every use, so they can
# live longer: 7 days covers a week of shifts on a kiosk or handheld without a new login, and a
# refresh token unused for a week is dead.
REFRESH_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000

# Tokens travel in gRPC metadata, whose default limit is 8 KiB for all headers of a call together.
MAX_TOKEN_CHARS = 4096
# Ids inside claims (account, session, device, station and operator codes, roles).
MAX_CLAIM_ID_CHARS = 128
# Roles, stations or operators in one token; a person working at more stations than this should
# be given a role that covers all stations instead of a list.
MAX_CLAIM_ITEMS = 64
TOKEN_ID_BYTES = 16
SIGNATURE_BYTES = 64
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token says about its bearer.  `issue` fills in the times, and the token id if empty."""

    subject: str  # the account id
    session_id: str
    kind: str  # ACCESS or REFRESH
    roles: tuple[str, ...] = ()
    stations: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    device_id: str = ""
    issued_at_ms: int = 0
    expires_at_ms: int = 0
    token_id: str = ""

    def __post_init__(self) -> None:
        problem = _claims_problem(self)
        if problem:
            raise ValueError(f"bad token claims: {problem}")


def _claims_problem(claims: Claims) -> str | None:
    if claims.kind not in TOKEN_KINDS:
        return "kind must be access or refresh"
    for name in ("subject", "session_id"):
        if not _is_id(getattr(claims, name)) or not getattr(claims, name):
            return f"{name} must be a non-empty string of at most {MAX_CLAIM_ID_CHARS} characters"
    for name in ("device_id", "token_id"):
        if not _is_id(getattr(claims, name)):
            return f"{name} must be a string of at most {MAX_CLAIM_ID_CHARS} characters"
    for name in ("roles", "stations", "operators"):
        items = getattr(claims, name)
        if (
            not isinstance(items, tuple)
            or len(items) > MAX_CLAIM_ITEMS
            or not all(_is_id(item) and item for item in items)
        ):
            return f"{name} must be a tuple of at most {MAX_CLAIM_ITEMS} non-empty strings"
    for name in ("issued_at_ms", "expires_at_ms"):
        if type(getattr(claims, name)) is not int or getattr(claims, name) < 0:
            return f"{name} must be a non-negative int"
    return None


def _is_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_CLAIM_ID_CHARS


# Short JSON keys keep tokens small: they ride along on every RPC.
CLAIM_KEYS = {
    "subject": "sub",
    "session_id": "sid",
    "kind": "knd",
    "roles": "rol",
    "stations": "stn",
    "operators": "opr",
    "device_id": "dev",
    "issued_at_ms": "iat",
    "expires_at_ms": "exp",
    "token_id": "jti",
}
assert set(CLAIM_KEYS) == {f.name for f in fields(Claims)}, "every claim has a JSON key"
LIST_CLAIMS = ("roles", "stations", "operators")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies tokens with one Ed25519 key pair (Keyring.signing_key / verify_key).

    A process that only checks tokens can pass `signing_key=None`.
    """

    def __init__(self, signing_key: Ed25519PrivateKey | None, verify_key: Ed25519PublicKey):
        self._signing_key = signing_key
        self._verify_key = verify_key

    def __repr__(self) -> str:
        return f"TokenSigner(can_issue={self._signing_key is not None})"

    def issue(self, claims: Claims, now_ms: int, ttl_ms: int) -> str:
        """A token for `claims`, issued at `now_ms` and valid for `ttl_ms`."""
        return self.issue_with_claims(claims, now_ms, ttl_ms)[0]

    def issue_with_claims(self, claims: Claims, now_ms: int, ttl_ms: int) -> tuple[str, Claims]:
        """The token and the claims it carries (with times and token id filled in), for callers
        that record the token id (a session remembers its current refresh token)."""
        if self._signing_key is None:
            raise ValueError("this TokenSigner has no signing key; it can only verify")
        if ttl_ms <= 0:
            raise ValueError("ttl_ms must be positive")
        token_id = claims.token_id or _b64encode(secrets.token_bytes(TOKEN_ID_BYTES))
        claims = replace(claims, issued_at_ms=now_ms, expires_at_ms=now_ms + ttl_ms, token_id=token_id)
        payload = {
            key: list(getattr(claims, name)) if name in LIST_CLAIMS else getattr(claims, name)
            for name, key in CLAIM_KEYS.items()
        }
        signed = f"{TOKEN_VERSION}.{_b64encode(json.dumps(payload, separators=(',', ':')).encode('utf-8'))}"
        token = f"{signed}.{_b64encode(self._signing_key.sign(signed.encode('ascii')))}"
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError(
                f"the token would have {len(token)} characters, over the {MAX_TOKEN_CHARS} limit: too many roles, "
                "stations or operators"
            )
        return token, claims

    def verify(self, token: str, now_ms: int, kind: str | None = None) -> Claims | Rejection:
        """The token's claims if it is well-formed, signed by this key pair and not expired at
        `now_ms` (and of `kind`, when given); otherwise NOT_AUTHENTICATED or TOKEN_EXPIRED."""
        claims = self._authentic_claims(token)
        if claims is None:
            return reject(Reason.NOT_AUTHENTICATED, "the token is malformed or not signed by this deployment")
        if kind is not None and claims.kind != kind:
            return reject(
                Reason.NOT_AUTHENTICATED, f"a {claims.kind} token cannot be used here; a {kind} token is needed"
            )
        if now_ms >= claims.expires_at_ms:
            return reject(Reason.TOKEN_EXPIRED, f"the {claims.kind} token has expired", kind=claims.kind)
        return claims

    def _authentic_claims(self, token: object) -> Claims | None:
        """The claims of a well-formed token with a good signature, else None."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            return None
        try:
            signature = _b64decode(parts[2])
            if len(signature) != SIGNATURE_BYTES or _b64encode(signature) != parts[2]:
                return None
            self._verify_key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
            payload = json.loads(_b64decode(parts[1]))
            return _claims_from(payload)
        except (ValueError, TypeError, InvalidSignature, binascii.Error):
            return None

    @property
    def verify_key(self) -> Ed25519PublicKey:
        return self._verify_key


def _claims_from(payload: object) -> Claims | None:
    """Claims from a verified payload.  The signature says we wrote it, but a token from another
    version of Keyun may still not fit these claims: then it is refused, not a crash."""
    if not isinstance(payload, dict) or set(payload) != set(CLAIM_KEYS.values()):
        return None
    values = {name: payload[key] for name, key in CLAIM_KEYS.items()}
    for name in LIST_CLAIMS:
        if not isinstance(values[name], list):
            return None
        values[name] = tuple(values[name])
    return Claims(**values)  # raises ValueError for wrong types, caught by the caller


# -- TOTP (RFC 6238) --------------------------------------------------------------------------

# RFC 6238's defaults, which every authenticator app implements: HMAC-SHA1, 30 s, 6 digits.
TOTP_STEP_MS = 30 * 1000
TOTP_DIGITS = 6
# RFC 4226 recommends 160-bit shared secrets (the length of an HMAC-SHA1 output).
TOTP_SECRET_BYTES = 20
# Steps of clock drift accepted either side of now; RFC 6238 section 5.2 recommends at most one.
# The bound keeps a caller from turning a 6-digit code into a wide, guessable window.
MAX_TOTP_WINDOW_STEPS = 2
# A stored secret is 32 base32 characters; longer input is not a secret of ours.
MAX_TOTP_SECRET_CHARS = 128


def new_totp_secret() -> str:
    """A fresh random 160-bit secret, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode("ascii").rstrip("=")


def _totp_key(secret_b32: str) -> bytes:
    text = secret_b32.replace(" ", "").upper()
    if not text or len(text) > MAX_TOTP_SECRET_CHARS:
        raise ValueError("a TOTP secret must have 1 to 128 base32 characters")
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error:
        raise ValueError("a TOTP secret is not valid base32") from None


def totp_step(at_ms: int) -> int:
    """The RFC 6238 time step (T) of a moment: 30-second steps since the Unix epoch."""
    if at_ms < 0:
        raise ValueError("TOTP time must not be before the Unix epoch")
    return at_ms // TOTP_STEP_MS


def _hotp(key: bytes, counter: int, digits: int) -> str:
    """RFC 4226 HOTP: HMAC-SHA1 of the counter, dynamically truncated to `digits` digits."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_code(secret_b32: str, at_ms: int, digits: int = TOTP_DIGITS) -> str:
    """The code an authenticator app shows at `at_ms`."""
    if not 6 <= digits <= 8:
        raise ValueError("TOTP codes have 6 to 8 digits")
    return _hotp(_totp_key(secret_b32), totp_step(at_ms), digits)


def verify_totp(
    secret_b32: str,
    code: str,
    now_ms: int,
    window_steps: int = 1,
    *,
    last_used_step: int | None = None,
    digits: int = TOTP_DIGITS,
) -> int | None:
    """The time step whose code matches `code` within `window_steps` of now, or None.

    Store the returned step and pass it back as `last_used_step`: steps up to it are refused, so a
    code seen over a shoulder or replayed from a captured request cannot log in a second time.
    """
    if not 0 <= window_steps <= MAX_TOTP_WINDOW_STEPS:
        raise ValueError(f"window_steps must be 0 to {MAX_TOTP_WINDOW_STEPS}")
    if not 6 <= digits <= 8:
        raise ValueError("TOTP codes have 6 to 8 digits")
    code = code.replace(" ", "")
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    key, now_step, matched = _totp_key(secret_b32), totp_step(now_ms), None
    for step in range(max(0, now_step - window_steps), now_step + window_steps + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(_hotp(key, step, digits), code):
            matched = step  # keep looking: every step costs the same, whichever matches
    return matched


def provisioning_uri(secret: str, account: str, issuer: str = "Keyun") -> str:
    """The otpauth:// URI an authenticator app scans as a QR code (Google's Key URI Format)."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": TOTP_DIGITS,
            "period": TOTP_STEP_MS // 1000,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


# -- setup tokens and comparison --------------------------------------------------------------

SETUP_TOKEN_BYTES = 32


def new_setup_token() -> str:
    """A one-time token (256 bits, URL-safe) that lets the first administrator be created.

    Never starting with "-": `keyun setup --token -x…` would read it as an option, and fail one
    start in 64.
    """
    while (token := secrets.token_urlsafe(SETUP_TOKEN_BYTES)).startswith("-"):
        pass
    return token


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    """Compare secrets without revealing, through timing, how long a prefix matched."""
    a_bytes = a.encode("utf-8") if isinstance(a, str) else a
    b_bytes = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)
