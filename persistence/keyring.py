"""Field encryption with rotating keys, a blind index, and the token-signing key.

Personal data (document numbers, phone numbers, TOTP secrets) is encrypted field by field before
it reaches a log or a snapshot, under keys that live in a key directory outside the data
directory: a copied data directory or a backup alone reveals nothing.

The key directory (`keyun keys init --key-dir DIR`, mode 0700; every file 0600):

    keyring.json      manifest: format, the current field key, and every field key's id,
                      algorithm and creation time (never key bytes)
    field-<id>.key    one field-encryption key, raw bytes (32 for AES-256-GCM, 16 for SM4-GCM)
    index.key         the HMAC-SHA256 key of the blind index, 32 raw bytes
    signing.pem       the Ed25519 private key that signs session tokens (PKCS#8 PEM)
    owner.lock        taken while a rotation writes, so two rotations never pick the same id

The manifest is written last, so a directory with a manifest is complete; every file is written
atomically (temp file, fsync, rename, fsync of the directory).

An encrypted field (a blob) is

    version (1 byte) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext+tag

and the header plus a caller-given context ("passenger.document:<account id>") are the AEAD's
associated data, so a blob copied to another field or another owner, or relabelled with another
key id, fails to decrypt instead of revealing someone else's data.  Rotation adds a new current key;
old keys stay to decrypt what they encrypted until a re-encryption job has moved every blob.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyun.common.files import write_atomically
from keyun.common.keys import KeysUnusable
from keyun.common.platform import FILE_MODES

from .lock import DirectoryLock

MANIFEST = "keyring.json"
INDEX_KEY_FILE = "index.key"
SIGNING_KEY_FILE = "signing.pem"
MANIFEST_FORMAT = 1

AES_256_GCM = "AES-256-GCM"
SM4_GCM = "SM4-GCM"
DEFAULT_ALGORITHM = AES_256_GCM
# Key bytes per algorithm.  SM4 (GB/T 32907) is the national standard block cipher that
# GB/T 22239 audits may ask for; AES-256-GCM is the default because every platform has it fast.
KEY_BYTES = {AES_256_GCM: 32, SM4_GCM: 16}
ALGORITHMS = tuple(KEY_BYTES)

BLOB_VERSION = 1
# 96-bit random nonces: NIST SP 800-38D allows 2**32 encryptions per key with random nonces; at a
# million field encryptions a day that is over ten thousand years per key, so rotation is for
# policy and compromise, not nonce exhaustion.
NONCE_BYTES = 12
TAG_BYTES = 16
INDEX_KEY_BYTES = 32
# Domain separation: the associated data starts with this label, so a field blob can never be
# confused with anything else these keys might one day protect.
AAD_LABEL = b"keyun.field\x00"
# Fields are names, phone and document numbers, TOTP secrets: a bound catches misuse (a whole
# document or photo passed as a "field") before it bloats every log record that carries it.
MAX_PLAINTEXT_BYTES = 64 * 1024
# Contexts name a field and an owner ("passenger.document:<account id>"); they are hashed into
# every blind index and bound into every blob, so keep them short.
MAX_CONTEXT_BYTES = 256
# One key per rotation; a yearly rotation for a century stays far below this.  The bound keeps a
# damaged or hostile manifest from making open() read thousands of files.
MAX_FIELD_KEYS = 1000
KEY_ID = re.compile(r"k[1-9][0-9]{0,5}")
# Another process holding the rotation lock longer than this has hung; the operator should look.
ROTATE_LOCK_WAIT_S = 10.0


class KeyringError(KeysUnusable):
    """The key directory is missing, damaged or misused, or a blob does not decrypt.  Messages
    name files and key ids, never key bytes or plaintext."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What `keyun keys list` shows about a field key: never its bytes."""

    key_id: str
    algorithm: str
    created_at: str  # ISO 8601, UTC
    current: bool


@dataclass(frozen=True, slots=True)
class _FieldKey:
    key_id: str
    algorithm: str
    created_at: str
    secret: bytes = field(repr=False)


def field_key_file(key_id: str) -> str:
    return f"field-{key_id}.key"


def init_key_dir(path: Path) -> Path:
    """Create the key directory (and parents) with mode 0700 where the platform has modes."""
    path.mkdir(parents=True, exist_ok=True)
    if FILE_MODES:
        os.chmod(path, 0o700)
    return path


def refuse_inside(key_dir: Path, data_dir: Path) -> None:
    """Raise KeyringError if `key_dir` is `data_dir` or inside it: keys must live elsewhere, so
    that a copy of the data directory (or a backup of it) alone reveals nothing."""
    keys, data = _comparable(key_dir), _comparable(data_dir)
    if keys == data or data in keys.parents:
        raise KeyringError(
            f"the key directory {key_dir} is inside the data directory {data_dir}; keep keys elsewhere, so a copy or "
            "backup of the data reveals nothing"
        )


def _comparable(path: Path) -> Path:
    """The absolute path with symlinks resolved, case-folded where the file system ignores case."""
    return Path(os.path.normcase(path.resolve()))


class Keyring:
    """The keys of one key directory, loaded in memory.  Build with `open` or `init`."""

    def __init__(
        self,
        key_dir: Path,
        current: str,
        field_keys: dict[str, _FieldKey],
        index_key: bytes,
        signing_key: Ed25519PrivateKey,
    ):
        self.key_dir = key_dir
        self._current = current
        self._field_keys = field_keys
        self._index_key = index_key
        self._signing_key = signing_key
        self._ciphers = {key_id: _cipher(key) for key_id, key in field_keys.items()}

    def __repr__(self) -> str:
        return f"Keyring({str(self.key_dir)!r}, current={self._current!r}, keys={list(self._field_keys)!r})"

    # -- building -------------------------------------------------------------------------

    @classmethod
    def open(cls, key_dir: Path) -> Keyring:
        """Load a key directory made by `init`; KeyringError names the missing or damaged file."""
        return cls(key_dir, *_load(key_dir))

    @classmethod
    def init(cls, key_dir: Path, algorithm: str = DEFAULT_ALGORITHM) -> Keyring:
        """Create a new key directory with one field key, the index key and the signing key.

        Refuses a directory that already holds a keyring: new keys would leave every field
        encrypted under the old ones unreadable.
        """
        _check_algorithm(algorithm)
        init_key_dir(key_dir)
        if (key_dir / MANIFEST).exists():
            raise KeyringError(f"{key_dir / MANIFEST} exists: {key_dir} already holds a keyring (rotate it instead)")
        signing_key = Ed25519PrivateKey.generate()
        pem = signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomically(key_dir / INDEX_KEY_FILE, secrets.token_bytes(INDEX_KEY_BYTES))
        write_atomically(key_dir / SIGNING_KEY_FILE, pem)
        first = _new_field_key("k1", algorithm)
        write_atomically(key_dir / field_key_file(first.key_id), first.secret)
        _write_manifest(key_dir, first.key_id, [first])
        return cls.open(key_dir)

    def reload(self) -> None:
        """Read the key directory again (after another process rotated it)."""
        current, field_keys, index_key, signing_key = _load(self.key_dir)
        self._current, self._field_keys, self._index_key, self._signing_key = (
            current,
            field_keys,
            index_key,
            signing_key,
        )
        self._ciphers = {key_id: _cipher(key) for key_id, key in field_keys.items()}

    def rotate(self, algorithm: str | None = None) -> str:
        """Add a new current field key (same algorithm as the current one unless given); return its id.

        Old keys stay, so everything they encrypted still decrypts.  A lock in the key directory
        keeps two rotations from choosing the same id, and the directory is read again under it so
        a rotation by another process is never overwritten.
        """
        if algorithm is not None:
            _check_algorithm(algorithm)
        lock = DirectoryLock(self.key_dir, wait_s=ROTATE_LOCK_WAIT_S)
        try:
            self.reload()
            if len(self._field_keys) >= MAX_FIELD_KEYS:
                raise KeyringError(f"{self.key_dir / MANIFEST} already lists {MAX_FIELD_KEYS} field keys")
            key_id = f"k{max(int(known[1:]) for known in self._field_keys) + 1}"
            if not KEY_ID.fullmatch(key_id):
                raise KeyringError(f"{self.key_dir / MANIFEST} has used up the key ids")
            key = _new_field_key(key_id, algorithm or self._field_keys[self._current].algorithm)
            write_atomically(self.key_dir / field_key_file(key.key_id), key.secret)
            _write_manifest(self.key_dir, key.key_id, [*self._field_keys.values(), key])
        finally:
            lock.release()
        self.reload()
        return key.key_id

    # -- what is inside -------------------------------------------------------------------

    @property
    def current_key_id(self) -> str:
        return self._current

    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._field_keys)

    def keys(self) -> tuple[KeyInfo, ...]:
        return tuple(
            KeyInfo(k.key_id, k.algorithm, k.created_at, k.key_id == self._current) for k in self._field_keys.values()
        )

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return self._signing_key

    @property
    def verify_key(self) -> Ed25519PublicKey:
        return self._signing_key.public_key()

    def verify_key_fingerprint(self) -> str:
        """SHA-256 of the raw public key, hex: tells operators whether two hosts share a key."""
        raw = self.verify_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    # -- fields ---------------------------------------------------------------------------

    def encrypt(self, plaintext: str, context: str) -> bytes:
        """A blob holding `plaintext` under the current key, bound to `context`."""
        data = plaintext.encode("utf-8")
        if len(data) > MAX_PLAINTEXT_BYTES:
            raise KeyringError(f"a field of {len(data)} bytes is over the {MAX_PLAINTEXT_BYTES}-byte limit")
        header, associated = _header_and_associated(self._current, context)
        nonce = os.urandom(NONCE_BYTES)  # what secrets.token_bytes returns, one call fewer
        return header + nonce + self._ciphers[self._current].seal(nonce, data, associated)

    def decrypt(self, blob: bytes, context: str) -> str:
        """The plaintext of a blob made by `encrypt` with the same context; KeyringError if the
        blob was damaged, moved to another context, or made with a key this keyring lacks."""
        key_id = self.key_id_of(blob)
        header = _header(key_id)
        if key_id not in self._ciphers:
            self.reload()  # another process may have rotated since this keyring was loaded
            if key_id not in self._ciphers:
                raise KeyringError(
                    f"a field is encrypted with key {key_id!r}, which {self.key_dir / MANIFEST} does not list"
                )
        body = bytes(blob[len(header) :])
        if len(body) < NONCE_BYTES + TAG_BYTES:
            raise KeyringError("an encrypted field is truncated")
        try:
            data = self._ciphers[key_id].open(body[:NONCE_BYTES], body[NONCE_BYTES:], _associated(header, context))
        except InvalidTag as error:  # chained: InvalidTag carries no key or plaintext
            raise KeyringError(
                f"an encrypted field did not decrypt with key {key_id!r}: it was damaged, or belongs to another field "
                "or owner"
            ) from error
        return data.decode("utf-8")

    def key_id_of(self, blob: bytes) -> str:
        """The id of the key a blob was encrypted with (a rotation job re-encrypts the others)."""
        if len(blob) < 2 or blob[0] != BLOB_VERSION:
            raise KeyringError(f"an encrypted field is not of blob version {BLOB_VERSION}")
        end = 2 + blob[1]
        key_id = bytes(blob[2:end]).decode("ascii", errors="replace")
        if len(blob) < end or not KEY_ID.fullmatch(key_id):  # also refuses a key id cut short
            raise KeyringError("an encrypted field has a malformed key id")
        return key_id

    def reencrypt(self, blob: bytes, context: str) -> bytes:
        """The same plaintext under the current key; a blob already under it comes back as is."""
        if self.key_id_of(blob) == self._current:
            self.decrypt(blob, context)  # still check it: a rotation job must not carry damage along
            return bytes(blob)
        return self.encrypt(self.decrypt(blob, context), context)

    def blind_index(self, value: str, context: str) -> bytes:
        """HMAC-SHA256 of the context (length-prefixed, so no two (context, value) pairs collide
        by concatenation) and the value: 32 bytes to look a record up by without decrypting.

        Normalize the value first (normalize_document, normalize_phone): the index matches bytes.
        The index key never rotates, since every stored index would have to be recomputed.
        """
        # hmac.digest: OpenSSL's one-shot HMAC, the same digest as hmac.new(...).digest() without
        # building an HMAC object per call (a walk-in sale indexes every passenger's document).
        return hmac.digest(self._index_key, _index_prefix(context) + value.encode("utf-8"), "sha256")


# -- ciphers ----------------------------------------------------------------------------------


class _Aes:
    def __init__(self, secret: bytes):
        self.aead = AESGCM(secret)

    def seal(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
        return self.aead.encrypt(nonce, data, associated)

    def open(self, nonce: bytes, sealed: bytes, associated: bytes) -> bytes:
        return self.aead.decrypt(nonce, sealed, associated)


class _Sm4:
    """SM4 in GCM mode through cryptography's Cipher API (it has no one-shot SM4 AEAD class)."""

    def __init__(self, secret: bytes):
        self.algorithm = algorithms.SM4(secret)

    def seal(self, nonce: bytes, data: bytes, associated: bytes) -> bytes:
        encryptor = Cipher(self.algorithm, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(associated)
        return encryptor.update(data) + encryptor.finalize() + encryptor.tag

    def open(self, nonce: bytes, sealed: bytes, associated: bytes) -> bytes:
        decryptor = Cipher(self.algorithm, modes.GCM(nonce, sealed[-TAG_BYTES:])).decryptor()
        decryptor.authenticate_additional_data(associated)
        return decryptor.update(sealed[:-TAG_BYTES]) + decryptor.finalize()


def _cipher(key: _FieldKey) -> _Aes | _Sm4:
    return _Aes(key.secret) if key.algorithm == AES_256_GCM else _Sm4(key.secret)


@functools.lru_cache(maxsize=256)
def _header_and_associated(key_id: str, context: str) -> tuple[bytes, bytes]:
    """A blob's header and its associated data for a key and context, made once per pair: a sale
    encrypts each walk-in passenger's name and document under the same few."""
    header = _header(key_id)
    return header, _associated(header, context)


@functools.lru_cache(maxsize=64)
def _index_prefix(context: str) -> bytes:
    """What a blind index hashes before the value: the context, length-prefixed."""
    data = _context_bytes(context)
    return len(data).to_bytes(2, "big") + data


def _header(key_id: str) -> bytes:
    return bytes([BLOB_VERSION, len(key_id)]) + key_id.encode("ascii")


def _context_bytes(context: str) -> bytes:
    data = context.encode("utf-8")
    if not data or len(data) > MAX_CONTEXT_BYTES:
        raise KeyringError(f"a context must have 1 to {MAX_CONTEXT_BYTES} bytes")
    return data


def _associated(header: bytes, context: str) -> bytes:
    return AAD_LABEL + header + _context_bytes(context)


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in KEY_BYTES:
        raise KeyringError(f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    if algorithm == SM4_GCM:
        try:
            Cipher(algorithms.SM4(bytes(16)), modes.GCM(bytes(NONCE_BYTES))).encryptor()
        except UnsupportedAlgorithm:
            raise KeyringError("this build of OpenSSL has no SM4-GCM; use AES-256-GCM") from None


def _new_field_key(key_id: str, algorithm: str) -> _FieldKey:
    created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return _FieldKey(key_id, algorithm, created_at, secrets.token_bytes(KEY_BYTES[algorithm]))


# -- the manifest and key files ---------------------------------------------------------------


def _write_manifest(key_dir: Path, current: str, keys: list[_FieldKey]) -> None:
    manifest = {
        "format": MANIFEST_FORMAT,
        "current": current,
        "field_keys": [{"id": k.key_id, "algorithm": k.algorithm, "created_at": k.created_at} for k in keys],
    }
    write_atomically(key_dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))


def _load(key_dir: Path) -> tuple[str, dict[str, _FieldKey], bytes, Ed25519PrivateKey]:
    if not key_dir.is_dir():
        raise KeyringError(f"{key_dir} is not a key directory (create one with keyun keys init --key-dir {key_dir})")
    check_private(key_dir, "chmod 700")
    manifest = _read_manifest(key_dir / MANIFEST)
    field_keys = {}
    for entry in manifest["field_keys"]:
        key_id, algorithm = entry["id"], entry["algorithm"]
        _check_algorithm(algorithm)
        secret = _read_key_file(key_dir / field_key_file(key_id), KEY_BYTES[algorithm])
        field_keys[key_id] = _FieldKey(key_id, algorithm, entry["created_at"], secret)
    index_key = _read_key_file(key_dir / INDEX_KEY_FILE, INDEX_KEY_BYTES)
    return manifest["current"], field_keys, index_key, _read_signing_key(key_dir / SIGNING_KEY_FILE)


def _read_manifest(path: Path) -> dict:
    """The manifest, checked field by field; KeyringError names the file and what is wrong."""
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise KeyringError(
            f"{path} is missing: not a key directory, or an incomplete one (create one with keyun keys init)"
        ) from None
    except OSError as error:
        raise KeyringError(f"{path} is unreadable: {error.strerror}") from None
    except (UnicodeDecodeError, ValueError) as error:
        where = f" at line {error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise KeyringError(f"{path} is damaged: not valid JSON{where}") from None
    problem = _manifest_problem(manifest)
    if problem:
        raise KeyringError(f"{path} is damaged: {problem}")
    return manifest


def _manifest_problem(manifest: object) -> str | None:
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"format {manifest.get('format')!r}, this Keyun reads format {MANIFEST_FORMAT}"
    entries = manifest.get("field_keys")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_FIELD_KEYS:
        return f"field_keys must list 1 to {MAX_FIELD_KEYS} keys"
    ids = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not KEY_ID.fullmatch(entry["id"]):
            return "a field key has no valid id (k1, k2, ...)"
        if entry.get("algorithm") not in KEY_BYTES:
            return f"key {entry['id']} has an unknown algorithm"
        if not isinstance(entry.get("created_at"), str):
            return f"key {entry['id']} has no created_at"
        ids.append(entry["id"])
    if len(set(ids)) != len(ids):
        return "a field key id is listed twice"
    if manifest.get("current") not in ids:
        return "current does not name a listed field key"
    return None


def check_private(path: Path, fix: str) -> None:
    """Refuse keys that other users of the machine can read or change, as OpenSSH does."""
    if not FILE_MODES:
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o007:
        raise KeyringError(f"{path} is accessible to every user of this machine (mode {mode:o}); {fix} {path}")


# A PEM Ed25519 private key is 119 bytes; a "key file" far larger than that is not one.
MAX_KEY_FILE_BYTES = 4096


def _read_private_file(path: Path) -> bytes:
    """The bytes of a key file, which must exist, be private, and be small."""
    try:
        check_private(path, "chmod 600")
        with open(path, "rb") as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyringError(f"{path} is missing from the key directory") from None
    except OSError as error:
        raise KeyringError(f"{path} is unreadable: {error.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyringError(f"{path} is damaged: larger than {MAX_KEY_FILE_BYTES} bytes")
    return data


def _read_key_file(path: Path, expected_bytes: int) -> bytes:
    secret = _read_private_file(path)
    if len(secret) != expected_bytes:
        raise KeyringError(f"{path} is damaged: expected {expected_bytes} bytes of key, found {len(secret)}")
    return secret


def _read_signing_key(path: Path) -> Ed25519PrivateKey:
    pem = _read_private_file(path)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyringError(f"{path} is damaged: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError(f"{path} is not an Ed25519 private key")
    return key
