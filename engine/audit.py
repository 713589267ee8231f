"""The audit trail as pure values: a record of who did what, and a hash chain that makes it tamper-evident.

Every record is chained to the one before it: its hash covers its sequence number, the previous
record's hash and all of its fields in one canonical encoding.  Changing a field, removing a record
or moving one breaks the chain at that point, and `verify_chain` says where and how.

A purge removes records only from the start of the chain and keeps the last removed record's
sequence number and hash as the anchor, so what remains still verifies on its own.  Records removed
from the end leave a shorter chain that is valid in itself: an operator who noted the head earlier
passes it as `expect_head` to detect that too.

No I/O and no clock here: the store (persistence/audit_store.py) feeds records from disk.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, reject
from .values import Value

# The hash before the first record, and the anchor of a log nothing was purged from.
GENESIS = bytes(32)
HASH_BYTES = 32

# Changing the encoding below changes every hash: bump this with it, so that old and new chains can
# never be confused with each other.
CHAIN_DOMAIN = b"keyun.audit.v1\x00"

# Record ids are client-generated (UUIDs fit easily), like request ids.
MAX_RECORD_ID_CHARS = 64
# Account ids, role names, device ids and station codes are short names chosen by administrators.
MAX_ACTOR_CHARS = 200
MAX_ROLE_CHARS = 200
MAX_DEVICE_CHARS = 200
MAX_STATION_CHARS = 200
# A peer address as gRPC spells it: "ipv6:[…%zone]:port" is the longest, well under this.
MAX_SOURCE_CHARS = 200
# A full gRPC method name ("/keyun.v1.Sales/Sell") or an action word such as "login".
MAX_ACTION_CHARS = 200
# A trip, ticket, hold or account id, or a short list of them.
MAX_TARGET_CHARS = 200
# "OK" or a reason name.
MAX_OUTCOME_CHARS = 200
# A sentence of context for an investigator; anything longer belongs in the event log.
MAX_DETAIL_CHARS = 500

# Milliseconds since the epoch, up to the end of year 9999: at_ms fits the 8 bytes the hash encodes
# it in, and a time in microseconds by mistake is refused instead of stored.
MAX_AT_MS = 253_402_300_799_999

# The issue asks for at least 180 days (six months, as GB/T 22239 does for audit records); a purge
# with a shorter retention is refused.
MIN_RETENTION_DAYS = 180

OUTCOME = re.compile(r"[A-Z][A-Z0-9_]*")
OK = "OK"

# The string fields of a record, in the fixed order the hash and the store encode them.
TEXT_FIELDS = ("record_id", "actor", "role", "device", "station", "source", "action", "target", "outcome", "detail")
MAX_CHARS = {
    "record_id": MAX_RECORD_ID_CHARS,
    "actor": MAX_ACTOR_CHARS,
    "role": MAX_ROLE_CHARS,
    "device": MAX_DEVICE_CHARS,
    "station": MAX_STATION_CHARS,
    "source": MAX_SOURCE_CHARS,
    "action": MAX_ACTION_CHARS,
    "target": MAX_TARGET_CHARS,
    "outcome": MAX_OUTCOME_CHARS,
    "detail": MAX_DETAIL_CHARS,
}
TEXT_LIMITS = tuple(MAX_CHARS[name] for name in TEXT_FIELDS)
_texts = operator.attrgetter(*TEXT_FIELDS)
# These say what happened; a record without them tells an investigator nothing.
REQUIRED = ("record_id", "action", "outcome")


# Control characters (Unicode category Cc), the line and paragraph separators (Zl, Zp) and lone
# surrogates (Cs), as one character class: checking a record must be cheap, because verifying the
# log decodes every record again.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _check_text(field_name: str, value: object) -> None:
    if not isinstance(value, str):
        raise invalid(field_name, f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_CHARS[field_name]:
        raise invalid(field_name, f"longer than {MAX_CHARS[field_name]} characters")
    # Control characters would let a forged line into `keyun audit tail` output; lone surrogates
    # cannot be encoded for the hash.
    if CONTROL.search(value):
        raise invalid(field_name, "contains control characters")


class AuditRecord(Value):
    """One audited operation: when, who (account, role, device, station, address), what, on what, and how it ended."""

    record_id: str  # client-generated and unique: a resent batch is stored once
    at_ms: int
    actor: str  # account id; "" when anonymous (a failed login names the attempted account in target)
    role: str
    device: str
    station: str
    source: str  # peer address
    action: str  # "keyun.v1.Sales/Sell", "login", …
    target: str  # trip, ticket, hold or account id
    outcome: str  # "OK" or a reason name such as "PERMISSION_DENIED"
    detail: str = ""

    def __post_init__(self) -> None:
        texts = _texts(self)
        # One pass over all fields first: records are checked again each time the log is verified.
        if not (
            all(type(text) is str and len(text) <= limit for text, limit in zip(texts, TEXT_LIMITS))
            and not CONTROL.search("".join(texts))
        ):
            for name, text in zip(TEXT_FIELDS, texts):
                _check_text(name, text)
        for name in REQUIRED:
            if not getattr(self, name):
                raise Rejected(reject(Reason.MISSING_FIELD, f"{name} is required", field=name))
        if not OUTCOME.fullmatch(self.outcome):
            raise invalid("outcome", f"{self.outcome!r} is not OK or a reason name")
        if type(self.at_ms) is not int or not 0 <= self.at_ms <= MAX_AT_MS:
            raise invalid("at_ms", f"{self.at_ms!r} is not a time in milliseconds since the epoch")

    def values(self) -> tuple[int | str, ...]:
        """The record as plain values in storage order: at_ms, then TEXT_FIELDS."""
        return (self.at_ms, *_texts(self))

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> AuditRecord:
        """The inverse of values(); raises ValueError for the wrong number of values."""
        at_ms, record_id, *rest = values
        if len(rest) != len(TEXT_FIELDS) - 1:
            raise ValueError(f"an audit record has {len(TEXT_FIELDS) + 1} values")
        return cls(record_id, at_ms, *rest)  # positional: this runs for every record a verify reads


assert [f.name for f in msgspec.structs.fields(AuditRecord)] == ["record_id", "at_ms", *TEXT_FIELDS[1:]], (
    "from_values relies on this order"
)


def fit(text: str, max_chars: int) -> str:
    """Make any text storable in a record field: control characters become U+FFFD, and text over the
    limit is cut, ending in "…" so a reader sees it was cut.  For callers that audit what a client
    sent (a target, a detail): an audit record must never be lost because the input was bad."""
    clean = CONTROL.sub("\ufffd", text)
    return clean if len(clean) <= max_chars else clean[: max_chars - 1] + "…"


# The outcome of a record that arrived malformed from an owner's outbox (see `salvaged`).
MALFORMED = "MALFORMED_RECORD"


def salvaged(values: object, error: Exception, at_ms: int) -> AuditRecord:
    """A valid record standing for values that make none: an owner journaled them, so they cannot
    be refused (the owner would resend them forever, and its outbox would fill until it turned
    calls away), nor dropped.  Each field is kept, fitted (as text if it was not); the outcome says
    the record was malformed, and the detail keeps the error and what the outcome was.  Values of
    the wrong shape go into the detail whole.  A record id that cannot be kept is replaced by one
    derived from the values, the same on every resend.  Only a bug makes such
    values: the gateway fits every field, and the owners fill in reason names."""
    shaped = isinstance(values, (tuple, list)) and len(values) == 1 + len(
        TEXT_FIELDS
    )  # else no field can be told apart
    fields = list(cast("tuple[object, ...] | list[object]", values)) if shaped else []
    texts = [value if isinstance(value, str) else repr(value) for value in fields[1:]] or [""] * len(TEXT_FIELDS)
    named = dict(zip(TEXT_FIELDS, texts))
    record_id = (
        named["record_id"]
        if named["record_id"]
        and not CONTROL.search(named["record_id"])
        and len(named["record_id"]) <= MAX_RECORD_ID_CHARS
        else (
            "malformed-"
            + hashlib.sha256(repr(values).encode("utf-8", "backslashreplace")).hexdigest()[
                :32
            ]  # the same on every resend
        )
    )
    at = fields[0] if fields and type(fields[0]) is int and 0 <= fields[0] <= MAX_AT_MS else at_ms
    detail = (
        f"malformed record ({error}); outcome was {named['outcome']!r}; {named['detail']}"
        if shaped
        else f"malformed record ({error}): {values!r}"
    )
    return AuditRecord(
        record_id=record_id,
        at_ms=at,
        actor=fit(named["actor"], MAX_ACTOR_CHARS),
        role=fit(named["role"], MAX_ROLE_CHARS),
        device=fit(named["device"], MAX_DEVICE_CHARS),
        station=fit(named["station"], MAX_STATION_CHARS),
        source=fit(named["source"], MAX_SOURCE_CHARS),
        action=fit(named["action"], MAX_ACTION_CHARS) or "unknown",
        target=fit(named["target"], MAX_TARGET_CHARS),
        outcome=MALFORMED,
        detail=fit(detail, MAX_DETAIL_CHARS),
    )


def check_retention(retention_days: int) -> Rejection | None:
    """None when records may be purged after `retention_days`; the rejection otherwise."""
    if type(retention_days) is not int or retention_days < MIN_RETENTION_DAYS:
        return reject(
            Reason.RETENTION_TOO_SHORT,
            f"audit records are kept at least {MIN_RETENTION_DAYS} days; {retention_days!r} is too short",
            retention_days=retention_days,
            min_retention_days=MIN_RETENTION_DAYS,
        )
    return None


def _encode(seq: int, prev_hash: bytes, record: AuditRecord) -> bytes:
    """The canonical encoding: fixed-size numbers, then each string with a 4-byte length prefix,
    so no two different records (or sequence numbers, or predecessors) encode alike."""
    parts = [CHAIN_DOMAIN, prev_hash, seq.to_bytes(8, "big"), record.at_ms.to_bytes(8, "big")]
    for text in _texts(record):
        data = text.encode("utf-8")
        parts.append(len(data).to_bytes(4, "big"))
        parts.append(data)
    return b"".join(parts)


def chain_hash(prev_hash: bytes, seq: int, record: AuditRecord) -> bytes:
    """SHA-256 linking `record`, stored as number `seq`, to the record before it."""
    assert len(prev_hash) == HASH_BYTES, "a chain hash is 32 bytes"
    assert 0 < seq < 2**63, "sequence numbers start at 1"
    return hashlib.sha256(_encode(seq, prev_hash, record)).digest()


class ChainProblem(str, Enum):
    ALTERED = "ALTERED"  # a record, or its stored hash, is not what was chained
    MISSING = "MISSING"  # a sequence number is absent: a record was removed
    REORDERED = "REORDERED"  # a record is out of place or repeated


class ChainReport(Value):
    """The outcome of walking a chain: how far it verified, and the first problem if any."""

    checked: int  # records that verified before the walk ended or found the problem
    anchor_seq: int
    head_seq: int  # the last record that verified (the anchor when none did)
    head_hash: bytes
    problem: ChainProblem | None = None
    at_seq: int = 0  # where the problem was found: the position in the chain, not the record's own claim
    message: str = ""
    expected_head_checked: bool = False  # False when no head was expected, or a purge has removed it since

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready data for the CLI and the RPC."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "anchor_seq": self.anchor_seq,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash.hex(),
            "problem": self.problem.value if self.problem else None,
            "at_seq": self.at_seq,
            "message": self.message,
            "expected_head_checked": self.expected_head_checked,
        }


@dataclass
class _Walk:
    """Where a walk has got to; mutable only inside verify_chain."""

    anchor_seq: int
    anchor_hash: bytes
    seq: int
    hash: bytes
    checked: int = 0
    head_checked: bool = False

    def report(self, problem: ChainProblem | None = None, at_seq: int = 0, message: str = "") -> ChainReport:
        return ChainReport(
            self.checked, self.anchor_seq, self.seq, self.hash, problem, at_seq, message, self.head_checked
        )


def verify_chain(
    entries: Iterable[tuple[int, AuditRecord | None, bytes]],
    anchor: tuple[int, bytes],
    expect_head: tuple[int, bytes] | None = None,
    *,
    stored_head: tuple[int, bytes] | None = None,
) -> ChainReport:
    """Walk (seq, record, stored hash) in stored order from just after `anchor`; report the first problem.

    A record of None stands for stored bytes that are no longer a valid record: altered.

    `expect_head` is a head noted earlier: the chain must pass through it (records may have been
    added since).  `stored_head` is the head the store itself keeps: the chain must end exactly there.
    """
    assert anchor[0] >= 0 and len(anchor[1]) == HASH_BYTES, "an anchor is a sequence number and a 32-byte hash"
    walk = _Walk(anchor[0], anchor[1], anchor[0], anchor[1])
    pending = iter(entries)
    entry = next(pending, None)
    while entry is not None:
        following = next(pending, None)
        problem = _step(walk, entry, following, expect_head)
        if problem is not None:
            return problem
        entry = following
    return _check_end(walk, expect_head, stored_head)


def _step(
    walk: _Walk,
    entry: tuple[int, AuditRecord | None, bytes],
    following: tuple[int, AuditRecord | None, bytes] | None,
    expect_head: tuple[int, bytes] | None,
) -> ChainReport | None:
    """Check one entry against the chain so far; advance the walk when it holds."""
    seq, record, stored = entry
    expected = walk.seq + 1
    if seq < expected:
        return walk.report(ChainProblem.REORDERED, expected, f"record {seq} appears where record {expected} belongs")
    if seq > expected:
        # A jump forward is a removal unless the chain then goes backwards: then a record was moved.
        if following is not None and following[0] < seq:
            return walk.report(
                ChainProblem.REORDERED, expected, f"record {seq} appears where record {expected} belongs"
            )
        missing = f"records {expected}..{seq - 1} are" if seq - 1 > expected else f"record {expected} is"
        return walk.report(ChainProblem.MISSING, expected, f"{missing} missing")
    if record is None:
        return walk.report(ChainProblem.ALTERED, seq, f"record {seq} cannot be read as an audit record")
    if chain_hash(walk.hash, seq, record) != stored:
        return walk.report(ChainProblem.ALTERED, seq, f"record {seq} does not match its chain hash")
    if expect_head is not None and seq == expect_head[0]:
        if stored != expect_head[1]:
            return walk.report(
                ChainProblem.ALTERED, seq, f"record {seq} is not the head noted earlier: the chain was rewritten"
            )
        walk.head_checked = True
    walk.seq, walk.hash, walk.checked = seq, stored, walk.checked + 1
    return None


def _check_end(
    walk: _Walk, expect_head: tuple[int, bytes] | None, stored_head: tuple[int, bytes] | None
) -> ChainReport:
    if stored_head is not None and stored_head != (walk.seq, walk.hash):
        if stored_head[0] > walk.seq:
            return walk.report(
                ChainProblem.MISSING,
                walk.seq + 1,
                f"the log's head is record {stored_head[0]} but the chain ends at {walk.seq}",
            )
        return walk.report(
            ChainProblem.ALTERED,
            walk.seq,
            f"the chain ends at record {walk.seq}, which is not the log's head ({stored_head[0]})",
        )
    if expect_head is not None:
        if expect_head[0] > walk.seq:
            return walk.report(
                ChainProblem.MISSING,
                walk.seq + 1,
                f"the head noted earlier is record {expect_head[0]} but the chain ends at {walk.seq}",
            )
        if expect_head[0] == walk.anchor_seq:
            if expect_head[1] != walk.anchor_hash:
                return walk.report(
                    ChainProblem.ALTERED,
                    expect_head[0],
                    f"the purge anchor (record {expect_head[0]}) is not the head noted earlier",
                )
            walk.head_checked = True
        # A head older than the anchor was purged since it was noted: nothing is left to compare it
        # with, which the report says through expected_head_checked.
    return walk.report()
