"""What Keyun and an SMS gateway (`keyun sandbox-sms`, or a real provider behind the same API) share:
the signed request, the config file a provider is described by, and masking a number for a log.

A send is `POST /v1/messages` with a JSON body {"to", "text", "idempotency_key"}.  It is signed with
the account's shared secret: HMAC-SHA256 over "METHOD\\nPATH\\nTIMESTAMP_MS\\nBODY", sent in the
headers below with the account's key id.  The gateway refuses a signature that is wrong, or a
timestamp more than MAX_SKEW_MS from its clock (a replayed request is useless after that, and
inside it the idempotency key makes it the same message).

The config file (`sms.json`, mode 0600) names the gateway's base URL, the key id and the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomically

CONFIG_FILE = "sms.json"
SEND_PATH = "/v1/messages"
KEY_HEADER = "X-Sms-Key-Id"
TIMESTAMP_HEADER = "X-Sms-Timestamp"
SIGNATURE_HEADER = "X-Sms-Signature"
MAX_SKEW_MS = 5 * 60_000
# One SMS is at most 70 Chinese characters; providers join up to a few parts.  Keyun's notices fit in 4.
MAX_TEXT_CHARS = 280
MAX_KEY_CHARS = 128
CONFIG_MODE = 0o600


def signature(secret: bytes, method: str, path: str, timestamp_ms: int, body: bytes) -> str:
    message = f"{method}\n{path}\n{timestamp_ms}\n".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, method: str, path: str, timestamp_ms: int, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(secret, method, path, timestamp_ms, body), given)


@dataclass(frozen=True)
class SmsConfig:
    """How Keyun reaches its SMS gateway.  `secret` never goes into a log or a repr."""

    base_url: str
    key_id: str
    secret: bytes

    def __repr__(self) -> str:
        return f"SmsConfig(base_url={self.base_url!r}, key_id={self.key_id!r}, secret=<hidden>)"


class SmsConfigError(Exception):
    pass


def write_config(directory: Path, config: SmsConfig) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    document = {"base_url": config.base_url, "key_id": config.key_id, "secret": config.secret.hex()}
    write_atomically(path, json.dumps(document, indent=2).encode(), CONFIG_MODE)
    return path


def read_config(directory: Path) -> SmsConfig:
    path = directory / CONFIG_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return SmsConfig(
            str(document["base_url"]).rstrip("/"), str(document["key_id"]), bytes.fromhex(document["secret"])
        )
    except OSError as error:
        raise SmsConfigError(f"{path}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError):
        raise SmsConfigError(f"{path}: not an SMS provider file (base_url, key_id, secret in hex)") from None


def mask_number(phone: str) -> str:
    """138****5678: what a log may say of a number."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"
