"""Audit records journaled by an owner with the calls they describe, until the audit owner has them.

The gateway sends an audited call as `Audited`: the call, and its audit record as the values of an
AuditRecord with the outcome the call has if the owner applies it ("OK", or BAD_CREDENTIALS for a
failed login).  The owner answers the call, fills in the outcome (the reason of a rejection), and
journals the record with the batch (`AuditNote`), in the same log record and fsync as the call's
own events.  The call and its record are therefore durable together or not at all.  The record
then waits in the owner's `AuditOutbox` (kept in its log and snapshots) until the owner's shell
reports that the audit owner has stored it (actors/audit_forwarder.py).

Trip owners (engine/shard.py) and the accounts owner (engine/accounts.py) share this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast, final

from .audit import TEXT_FIELDS
from .limits import MAX_AUDIT_OUTBOX
from .reasons import Rejection
from .values import Call, Journaled, Reply, Value

if TYPE_CHECKING:
    from .commands import TripCommand, TripQuery

# Where AuditRecord.values() keeps these fields (at_ms comes first).
RECORD_ID_AT = 1 + TEXT_FIELDS.index("record_id")
ACTOR_AT = 1 + TEXT_FIELDS.index("actor")
ROLE_AT = 1 + TEXT_FIELDS.index("role")
DEVICE_AT = 1 + TEXT_FIELDS.index("device")
TARGET_AT = 1 + TEXT_FIELDS.index("target")
OUTCOME_AT = 1 + TEXT_FIELDS.index("outcome")
DETAIL_AT = 1 + TEXT_FIELDS.index("detail")


@final
class Audited(Value, Call):
    """A call to audit with its answer: the gateway's record of who asks what, as the values of an
    AuditRecord (AuditRecord.values(): plain values encode, journal and send on for a fraction of
    the cost), with the outcome the call has if applied, for the owner to change to the reason of
    a rejection.

    `from_reply`: the record is completed from the owner's reply (the engine's `complete`): a call
    that makes its target (a new account or passenger) is named in it, a failed login that locked
    its account says so, a renewed session names its account."""

    item: Call
    record: tuple[Any, ...]
    from_reply: bool = False

    @property
    def trip_id(self) -> str:  # where the gateway routes a trip owner's call (one that names its trip)
        return cast("TripCommand | TripQuery", self.item).trip_id


@final
class AuditNote(Value, Journaled):
    """A journal entry: the audit record of a call this owner answered.  `record` holds
    AuditRecord.values()."""

    record: tuple[Any, ...]
    events = ()  # not a field: an audit note changes nothing


class AuditBacklog(Value, Reply):
    """The reply to an audited call while the outbox is full: the call was not applied."""

    outbox: int


def with_value(record: tuple[Any, ...], at: int, value: str) -> tuple[Any, ...]:
    """The record's values with the one at `at` replaced."""
    return (*record[:at], value, *record[at + 1 :])


class AuditOutbox:
    """The records journaled here that the audit owner may not have yet, by record id, oldest first."""

    def __init__(self, records: Iterable[tuple[Any, ...]] = ()) -> None:
        self.records: dict[str, tuple[Any, ...]] = {record[RECORD_ID_AT]: record for record in records}

    def __len__(self) -> int:
        return len(self.records)

    def values(self) -> list[tuple[Any, ...]]:
        return list(self.records.values())

    def answer(
        self,
        audited: Audited,
        apply: Callable[[Any], Any],
        entries: list[Any],
        complete: Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None = None,
    ) -> Any:
        """Answer the call with `apply`, and journal its record, outcome filled in, with the batch.
        `complete(record, reply)` fills in what the reply tells, for calls sent `from_reply`.
        While the outbox is full the call is not applied, and the answer is AuditBacklog."""
        if len(self.records) >= MAX_AUDIT_OUTBOX:
            return AuditBacklog(len(self.records))
        reply = apply(audited.item)
        record = audited.record  # with the outcome of an applied call
        if isinstance(reply, Rejection):
            record = with_value(record, OUTCOME_AT, reply.reason.name)
        elif audited.from_reply and complete is not None:
            record = complete(record, reply)
        entries.append(AuditNote(record))
        self.records[record[RECORD_ID_AT]] = record
        return reply

    def replay(self, note: AuditNote) -> None:
        """A journaled record, read back after a restart: it may not have arrived."""
        self.records[note.record[RECORD_ID_AT]] = note.record

    def delivered(self, record_ids: Iterable[str]) -> None:
        """The audit owner has stored these records: they leave the outbox."""
        for record_id in record_ids:
            self.records.pop(record_id, None)
