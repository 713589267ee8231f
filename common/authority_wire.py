"""What Keyun and the transport authority's platform (`keyun sandbox-authority`, or a provincial
platform behind the same API) share: the signed request, the endpoints, the account file
(docs/authority.md).

Every request is signed with the station's shared key: HMAC-SHA256 over
"METHOD\\nPATH\\nSTATION\\nTIMESTAMP_MS\\nNONCE\\nBODY", sent in the headers below.  The platform
refuses a wrong signature, a timestamp more than MAX_SKEW_MS from its clock, and a nonce it has
seen inside that window (a replayed request).  Inside the window a replay would still be harmless:
batches are idempotent by batch id.

The account file (`authority.json`, mode 0600) names the platform's base URL, the station's id,
the shared key (hex) and, for https to a platform with a private CA, that CA's certificate file.
The key is never logged and never shown in a repr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomically

CONFIG_FILE = "authority.json"
PING_PATH = "/v1/ping"  # the connectivity test (连通性测试)
BATCH_PATH = "/v1/batches"  # near-real-time record batches
FILE_PATH = "/v1/files"  # the daily file with its SHA-256
RECONCILE_PATH = "/v1/reconcile"  # the daily reconciliation (对账)
STATION_HEADER = "X-Authority-Station"
TIMESTAMP_HEADER = "X-Authority-Timestamp"
NONCE_HEADER = "X-Authority-Nonce"
SIGNATURE_HEADER = "X-Authority-Signature"
MAX_SKEW_MS = 5 * 60_000
CONFIG_MODE = 0o600
# Record types per category, and what counts in the reconciliation (every transaction type).
TRANSACTION_TYPES = ("sale", "refund", "change", "void", "checkin")


def signature(secret: bytes, method: str, path: str, station: str, timestamp_ms: int, nonce: str, body: bytes) -> str:
    message = f"{method}\n{path}\n{station}\n{timestamp_ms}\n{nonce}\n".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_ok(
    secret: bytes, method: str, path: str, station: str, timestamp_ms: int, nonce: str, body: bytes, given: str
) -> bool:
    return hmac.compare_digest(signature(secret, method, path, station, timestamp_ms, nonce, body), given)


def signed_headers(config: AuthorityConfig, method: str, path: str, body: bytes, now_ms: int) -> dict[str, str]:
    nonce = secrets.token_hex(12)
    return {
        "Content-Type": "application/json",
        STATION_HEADER: config.station_id,
        TIMESTAMP_HEADER: str(now_ms),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(config.secret, method, path, config.station_id, now_ms, nonce, body),
    }


def canonical(document: object) -> bytes:
    """The bytes sent for a document: sorted keys, no spaces, UTF-8 (the same document, the same bytes)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class AuthorityConfig:
    """How Keyun reaches the authority's platform.  `secret` never goes into a log or a repr."""

    base_url: str
    station_id: str
    secret: bytes
    ca_file: str = ""  # for https: the CA that signed the platform's certificate (default: the system's)

    def __repr__(self) -> str:
        return (
            f"AuthorityConfig(base_url={self.base_url!r}, station_id={self.station_id!r}, ca_file={self.ca_file!r}, "
            "secret=<hidden>)"
        )


class AuthorityConfigError(Exception):
    pass


def write_config(directory: Path, config: AuthorityConfig) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    document = {"base_url": config.base_url, "station_id": config.station_id, "secret": config.secret.hex()}
    if config.ca_file:
        document["ca_file"] = config.ca_file
    write_atomically(path, json.dumps(document, indent=2).encode(), CONFIG_MODE)
    return path


def read_config(path: Path, base_url: str = "") -> AuthorityConfig:
    """The account in `path` (authority.json, or a key file with station_id and secret); `base_url`
    given overrides the file's."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        url = (base_url or str(document.get("base_url", ""))).rstrip("/")
        config = AuthorityConfig(
            url, str(document["station_id"]), bytes.fromhex(document["secret"]), str(document.get("ca_file", ""))
        )
    except OSError as error:
        raise AuthorityConfigError(f"{path}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AuthorityConfigError(f"{path}: not an authority key file (station_id, secret in hex, base_url)") from None
    if not config.base_url.startswith(("http://", "https://")):
        raise AuthorityConfigError(f"{path}: no platform URL (give --authority-url)")
    if len(config.secret) < 16:
        raise AuthorityConfigError(f"{path}: the shared key is shorter than 16 bytes")
    return config
