"""Signed boarding credentials (电子客票 / 乘车凭证): the format, signing and verification.

Server and gates share this module: the gateway signs a credential for every ticket it shows, and
a gate (a client in keyun.terminals, or a program of its own) checks one offline with nothing but
the station's credential public keys (Gate/GetCredentialKeys).  docs/boarding.md describes the
format for implementers in other languages; in short, a credential is the text

    KY1 + base64url(payload || signature)          (no padding; about 300 characters)

- `payload` is a msgpack array (MessagePack, as msgspec writes an array_like struct) of the
  fields of `BoardingPass` below, in order, the first being the format version (1);
- `signature` is the 64-byte Ed25519 signature of SIGNED_LABEL + payload, by the credential key
  named in the payload (`key_id`), a key kept apart from the token-signing key.

A credential carries no readable personal data: the holder's name masked as printed (张*) and a
keyed digest of the document number (HMAC-SHA256 under the station's document-digest key, first
16 bytes), so that a gate holding that key can match a scanned identity document to the ticket
without the number.  Verification refuses with a stable reason (CredentialRefused.reason).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keyun.engine.reasons import Reason

PREFIX = "KY1"
FORMAT_VERSION = 1
# Domain separation: a credential signature can never be replayed as anything else these keys sign.
SIGNED_LABEL = b"keyun.credential.v1\x00"
SIGNATURE_BYTES = 64
DIGEST_BYTES = 16
# A QR code of version 40 at level L holds 2953 bytes; a credential is far below this, and a bound
# keeps a hostile scan from making a gate decode megabytes.
MAX_CREDENTIAL_CHARS = 1200


class BoardingPass(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What a credential says, signed.  Times are epoch seconds (UTC)."""

    version: int
    key_id: str  # which credential key signed it (see key_id_of)
    ticket_id: str
    trip_id: str
    travel_date: str  # YYYY-MM-DD, the local date the coach leaves the boarding stop
    from_stop: str  # station codes: boarding and alighting
    to_stop: str
    seat: str
    ticket_type: str  # "full" (全票); the fare types of the counter come later
    departs_at_s: int  # when the coach leaves the boarding stop, by the timetable when signed
    valid_from_s: int
    valid_until_s: int
    holder_name: str = ""  # masked as printed (张*), "" for an anonymous ticket
    document_digest: bytes = b""  # document_digest(key, type, number), b"" for an anonymous ticket


class CredentialRefused(Exception):
    """A credential that must not board, with a stable reason code and a message for the display."""

    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(BoardingPass)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A credential key's id: "c" and the first 10 hex digits of SHA-256 of the raw public key.
    Derived from the key, so two stations' keys never share an id by accident, and a credential
    signed by another station's key is refused as CREDENTIAL_UNKNOWN_KEY."""
    return "c" + hashlib.sha256(raw_public_key(public_key)).hexdigest()[:10]


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def document_digest(key: bytes, document_type: str, number: str) -> bytes:
    """The keyed digest of an identity document that credentials and boarding sets carry: HMAC-
    SHA256 of "type:NUMBER" (upper-cased, spaces removed) under the station's document-digest key,
    cut to 16 bytes.  A gate computes it from a scanned card to find the ticket."""
    normalized = f"{document_type}:{''.join(number.split()).upper()}"
    # hmac.digest: the one-shot form of hmac.new(...).digest(), without an HMAC object per call.
    return hmac.digest(key, normalized.encode("utf-8"), "sha256")[:DIGEST_BYTES]


def sign(boarding_pass: BoardingPass, private_key: Ed25519PrivateKey) -> str:
    """The credential text of a boarding pass, signed with `private_key` (whose id it must name)."""
    payload = _ENCODER.encode(boarding_pass)
    signature = private_key.sign(SIGNED_LABEL + payload)
    return PREFIX + base64.urlsafe_b64encode(payload + signature).rstrip(b"=").decode("ascii")


def parse(text: str) -> tuple[BoardingPass, bytes, bytes]:
    """The boarding pass, payload bytes and signature of a credential, NOT verified; refuses a text
    that is not a credential (CREDENTIAL_MALFORMED)."""
    text = text.strip()
    if not text.startswith(PREFIX) or len(text) > MAX_CREDENTIAL_CHARS:
        raise CredentialRefused(Reason.CREDENTIAL_MALFORMED, f"not a Keyun boarding credential ({PREFIX}...)")
    body = text[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise CredentialRefused(Reason.CREDENTIAL_MALFORMED, "the credential is not valid base64url") from None
    if len(raw) <= SIGNATURE_BYTES:
        raise CredentialRefused(Reason.CREDENTIAL_MALFORMED, "the credential is truncated")
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    try:
        boarding_pass = _DECODER.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        # A damaged payload may also be a tampered one; either way it does not board.
        raise CredentialRefused(Reason.CREDENTIAL_BAD_SIGNATURE, "the credential's contents are damaged") from None
    if boarding_pass.version != FORMAT_VERSION:
        raise CredentialRefused(
            Reason.CREDENTIAL_MALFORMED, f"credential format {boarding_pass.version}, this gate reads {FORMAT_VERSION}"
        )
    return boarding_pass, payload, signature


def verify(text: str, public_keys: Mapping[str, Ed25519PublicKey], now_s: int) -> BoardingPass:
    """The boarding pass of a credential whose signature, key and validity window hold at `now_s`;
    CredentialRefused otherwise.  Revocations and boarding times are the gate's checks after this."""
    boarding_pass, payload, signature = parse(text)
    key = public_keys.get(boarding_pass.key_id)
    if key is None:
        raise CredentialRefused(
            Reason.CREDENTIAL_UNKNOWN_KEY,
            f"signed with key {boarding_pass.key_id}, which is not one of this station's credential keys",
        )
    try:
        key.verify(signature, SIGNED_LABEL + payload)
    except InvalidSignature:
        raise CredentialRefused(Reason.CREDENTIAL_BAD_SIGNATURE, "the credential's signature does not match") from None
    if now_s < boarding_pass.valid_from_s:
        raise CredentialRefused(Reason.CREDENTIAL_NOT_YET_VALID, "the credential is not valid yet")
    if now_s > boarding_pass.valid_until_s:
        raise CredentialRefused(Reason.CREDENTIAL_EXPIRED, "the credential has expired")
    return boarding_pass


def ticket_id_of(text: str) -> str:
    """The ticket id a credential names, unverified ("" for anything else): what the gateway's
    permission check reads to find the trip before the handler verifies the credential."""
    try:
        return parse(text)[0].ticket_id
    except CredentialRefused:
        return ""
