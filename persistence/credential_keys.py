"""The boarding-credential keys: Ed25519 keys that sign e-tickets, and the document-digest key.

They live in the station's key directory beside the keyring (keyring.py) but apart from the
token-signing key: gates hold the credential public keys and the digest key, never anything that
could sign a session token.  Created on the server's first start with them (an older key
directory gets them on its next start), in the same files' discipline (0600, atomic writes, the
manifest written last):

    credential-keys.json     manifest: format, the current key id, every key's id and times
    credential-<id>.pem      one credential signing key (PKCS#8 PEM, Ed25519)
    document-digest.key      the HMAC-SHA256 key of documents' digests (32 raw bytes); gates get it

Rotation (`keyun keys rotate-credential`) adds a new current key and marks the old one retired;
retired keys keep verifying, so credentials signed before a rotation stay valid until their trips
have gone.  The digest key does not rotate: every ticket's digest was made with it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keyun.common.eticket import key_id_of, raw_public_key
from keyun.common.files import write_atomically

from .keyring import KeyringError, _read_key_file, _read_private_file, check_private
from .lock import DirectoryLock

CREDENTIAL_MANIFEST = "credential-keys.json"
DIGEST_KEY_FILE = "document-digest.key"
DIGEST_KEY_BYTES = 32
CREDENTIAL_MANIFEST_FORMAT = 1
MAX_CREDENTIAL_KEYS = 1000
ROTATE_LOCK_WAIT_S = 10.0


def credential_key_file(key_id: str) -> str:
    return f"credential-{key_id}.pem"


@dataclass(frozen=True, slots=True)
class CredentialKeyInfo:
    """A credential key as gates see it: never its private half."""

    key_id: str
    public_key: bytes  # raw Ed25519, 32 bytes
    created_at_ms: int
    retired_at_ms: int  # 0 while it is the current key

    @property
    def current(self) -> bool:
        return self.retired_at_ms == 0


class CredentialKeys:
    """The credential keys of one key directory, loaded.  Build with `open_or_create` or `open`."""

    def __init__(self, key_dir: Path):
        self.key_dir = key_dir
        self.reload()

    def __repr__(self) -> str:
        return f"CredentialKeys({str(self.key_dir)!r}, current={self.current_key_id!r})"

    @classmethod
    def open(cls, key_dir: Path) -> CredentialKeys:
        return cls(key_dir)

    @classmethod
    def open_or_create(cls, key_dir: Path) -> CredentialKeys:
        """The credential keys of `key_dir`, made there first if it has none yet (a new station, or
        a key directory from before credentials)."""
        if not (key_dir / CREDENTIAL_MANIFEST).exists():
            lock = DirectoryLock(key_dir, wait_s=ROTATE_LOCK_WAIT_S)
            try:
                if not (key_dir / CREDENTIAL_MANIFEST).exists():
                    if not (key_dir / DIGEST_KEY_FILE).exists():
                        write_atomically(key_dir / DIGEST_KEY_FILE, secrets.token_bytes(DIGEST_KEY_BYTES))
                    _add_key(key_dir, [])
            finally:
                lock.release()
        return cls(key_dir)

    def reload_if_changed(self) -> bool:
        """Read the keys again if the manifest changed since (a rotation by another process)."""
        try:
            stamp = (self.key_dir / CREDENTIAL_MANIFEST).stat().st_mtime_ns
        except OSError:
            return False  # reload would say what is wrong; the keys in memory still sign and verify
        if stamp == self._manifest_stamp:
            return False
        self.reload()
        return True

    def reload(self) -> None:
        try:  # before the contents: a rotation in between is read again at the next look
            self._manifest_stamp = (self.key_dir / CREDENTIAL_MANIFEST).stat().st_mtime_ns
        except OSError:
            self._manifest_stamp = 0
        check_private(self.key_dir, "chmod 700")
        entries = _read_manifest(self.key_dir / CREDENTIAL_MANIFEST)
        self._private: dict[str, Ed25519PrivateKey] = {}
        infos = []
        for entry in entries:
            key = _read_private_key(self.key_dir / credential_key_file(entry["id"]))
            if key_id_of(key.public_key()) != entry["id"]:
                raise KeyringError(f"{self.key_dir / credential_key_file(entry['id'])} does not hold key {entry['id']}")
            self._private[entry["id"]] = key
            infos.append(
                CredentialKeyInfo(
                    entry["id"], raw_public_key(key.public_key()), entry["created_at_ms"], entry["retired_at_ms"]
                )
            )
        self._infos = tuple(infos)
        self.digest_key = _read_key_file(self.key_dir / DIGEST_KEY_FILE, DIGEST_KEY_BYTES)

    def rotate(self) -> str:
        """Add a new current key and retire the current one (it goes on verifying); return the new id."""
        lock = DirectoryLock(self.key_dir, wait_s=ROTATE_LOCK_WAIT_S)
        try:
            self.reload()
            key_id = _add_key(self.key_dir, _read_manifest(self.key_dir / CREDENTIAL_MANIFEST))
        finally:
            lock.release()
        self.reload()
        return key_id

    @property
    def current_key_id(self) -> str:
        return next(info.key_id for info in self._infos if info.current)

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return self._private[self.current_key_id]

    def keys(self) -> tuple[CredentialKeyInfo, ...]:
        return self._infos

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {key_id: key.public_key() for key_id, key in self._private.items()}


def _now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def _add_key(key_dir: Path, entries: list[dict]) -> str:
    """Write a new key file, then the manifest naming it current (and retiring the others)."""
    if len(entries) >= MAX_CREDENTIAL_KEYS:
        raise KeyringError(f"{key_dir / CREDENTIAL_MANIFEST} already lists {MAX_CREDENTIAL_KEYS} credential keys")
    key = Ed25519PrivateKey.generate()
    key_id = key_id_of(key.public_key())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_atomically(key_dir / credential_key_file(key_id), pem)
    now = _now_ms()
    entries = [{**entry, "retired_at_ms": entry["retired_at_ms"] or now} for entry in entries]
    entries.append({"id": key_id, "created_at_ms": now, "retired_at_ms": 0})
    manifest = {"format": CREDENTIAL_MANIFEST_FORMAT, "keys": entries}
    write_atomically(key_dir / CREDENTIAL_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return key_id


def _read_manifest(path: Path) -> list[dict]:
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise KeyringError(f"{path} is missing: the server makes it on its first start") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise KeyringError(f"{path} is unreadable or not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != CREDENTIAL_MANIFEST_FORMAT:
        raise KeyringError(f"{path} is damaged: not format {CREDENTIAL_MANIFEST_FORMAT}")
    entries = manifest.get("keys")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_CREDENTIAL_KEYS:
        raise KeyringError(f"{path} is damaged: keys must list 1 to {MAX_CREDENTIAL_KEYS} keys")
    for entry in entries:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("id"), str)
            and isinstance(entry.get("created_at_ms"), int)
            and isinstance(entry.get("retired_at_ms"), int)
        ):
            raise KeyringError(f"{path} is damaged: a key entry lacks its id or times")
    if sum(1 for entry in entries if entry["retired_at_ms"] == 0) != 1:
        raise KeyringError(f"{path} is damaged: exactly one key must be current")
    return entries


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    pem = _read_private_file(path)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise KeyringError(f"{path} is damaged: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError(f"{path} is not an Ed25519 private key")
    return key


def public_key(info: CredentialKeyInfo) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(info.public_key)
