"""AuditLog: the Ray actor that owns the audit log, durably.

Synchronous, like TripShard, so appends and purges run one at a time in arrival order and the hash
chain has one writer.  Each call carries a whole batch of records, committed in one LMDB write
transaction (synced) before the call returns.  A restart by Ray reruns __init__, which reopens the
store: everything acknowledged is on disk, and the chain continues from the stored head.

Reading the whole log (verify, backup) can take minutes at 18 million records, so those methods
and queries run in their own concurrency group: on a second thread of the same process, each in its
own LMDB read transaction, while appends go on in the default group.

Its time is the stamp each batch comes with (the gateway's clock, or for records other owners
forward, their last now; see actors/trip_shard.py), never earlier than the last: it decides when
the automatic purge runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import ray

from keyun.common.clock import SYSTEM_CLOCK
from keyun.engine import codec
from keyun.engine.audit import MALFORMED, MIN_RETENTION_DAYS, AuditRecord, ChainReport, salvaged
from keyun.engine.reasons import Rejected, Rejection
from keyun.persistence.audit_store import MAX_AUDIT_BATCH, MAX_PURGE_RECORDS, AuditStore

from .packed import PackedBatches
from .ray_runtime import RAY_NAMESPACE

log = logging.getLogger("keyun.audit")

# The minimum, and the default.
DEFAULT_RETENTION_DAYS = MIN_RETENTION_DAYS

# The automatic purge runs at most this often.  When it stopped at MAX_PURGE_RECORDS it runs again
# at the next batch, so a backlog shrinks by that many records per batch without stalling any.
PURGE_EVERY_MS = 24 * 60 * 60 * 1000

# Whole-log reads run here, beside appends (see the module docstring).  One at a time is enough: a
# second verify or backup waits for the first instead of doubling the disk reads.
READ_GROUP = "read"


def audit_directory(data_dir: Path) -> Path:
    return data_dir / "audit"


def _check_retention_days(retention_days: int) -> None:
    if type(retention_days) is not int or retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"audit retention must be at least {MIN_RETENTION_DAYS} days, not {retention_days!r}")


class AuditLog(PackedBatches):
    unpack_calls = codec.decoder(list[AuditRecord])

    def __init__(self, data_dir: str, retention_days: int = DEFAULT_RETENTION_DAYS):
        _check_retention_days(retention_days)
        self.retention_days = retention_days
        self.store = AuditStore(audit_directory(Path(data_dir)))
        self.next_purge_at_ms = 0  # purge at the first batch after a start
        self.last_now_ms = 0
        head_seq, head_hash = self.store.head()
        log.warning("audit log opened: %d records, head %d %s", self.store.count(), head_seq, head_hash.hex()[:16])

    def apply(self, batch: list[AuditRecord], now_ms: int | None = None) -> list[int]:
        """Store a batch stamped `now_ms`; return each record's seq (the first one's for a resent
        record_id)."""
        # A malformed batch is the caller's bug and changes nothing: refuse it without dying, or Ray
        # would restart the owner each time the batch is resent.
        if len(batch) > MAX_AUDIT_BATCH or not all(isinstance(record, AuditRecord) for record in batch):
            raise ValueError(f"apply takes at most {MAX_AUDIT_BATCH} AuditRecords")
        return self._apply(batch, self._now(now_ms))

    def apply_values(self, blob: bytes, now_ms: int | None = None) -> list[int]:
        """Store a packed batch of AuditRecord values: the records owners journaled with the calls
        they answered (actors/audit_forwarder.py), sent on as plain values.  Values that make no
        valid record are stored as one that says so (engine.audit.salvaged), never refused."""
        now_ms = self._now(now_ms)
        return self.apply([_record(values, now_ms) for values in codec.decoder(list[tuple])(blob)], now_ms)

    def _now(self, stamp: int | None) -> int:
        """The batch's stamp, or this process's real time without one; never before the last."""
        self.last_now_ms = max(self.last_now_ms, SYSTEM_CLOCK.now_ms() if stamp is None else stamp)
        return self.last_now_ms

    def _apply(self, batch: list[AuditRecord], now_ms: int) -> list[int]:
        try:
            seqs = self.store.append(batch)
            if now_ms >= self.next_purge_at_ms:
                self._purge_due(now_ms)
        except BaseException:
            # The disk failed or the log is damaged: this process may not answer another call.
            # Dying makes Ray restart the owner, which reopens the log from what is on disk.
            log.exception("audit log failed applying a batch; restarting from disk")
            os._exit(1)
        return seqs

    def _purge_due(self, now_ms: int) -> None:
        removed = self.store.purge(now_ms, self.retention_days)
        assert not isinstance(removed, Rejection), "the retention was checked at construction"
        if removed:
            log.warning("audit log purged %d records older than %d days", removed, self.retention_days)
        self.next_purge_at_ms = now_ms if removed >= MAX_PURGE_RECORDS else now_ms + PURGE_EVERY_MS

    def purge(self, now_ms: int, retention_days: int) -> int | Rejection:
        """An operator's purge: the count removed, or RETENTION_TOO_SHORT."""
        return self.store.purge(now_ms, retention_days)

    def head(self) -> tuple[int, bytes]:
        return self.store.head()

    def ready(self) -> dict:
        """Answered once the store is open (calls queue behind __init__)."""
        head_seq, head_hash = self.store.head()
        return {
            "head_seq": head_seq,
            "head_hash": head_hash.hex(),
            "records": self.store.count(),
            "retention_days": self.retention_days,
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
        }

    @ray.method(concurrency_group=READ_GROUP)
    def query(self, **filters: Any) -> tuple[list[tuple[int, AuditRecord]], int | None]:
        """See AuditStore.query; raises Rejected for a bad page size or before_seq."""
        return self.store.query(**filters)

    @ray.method(concurrency_group=READ_GROUP)
    def verify(self, expect_head: tuple[int, bytes] | None = None) -> ChainReport:
        return self.store.verify(expect_head=expect_head)

    @ray.method(concurrency_group=READ_GROUP)
    def backup_to(self, directory: str) -> int:
        """Copy the log into `directory` (new or empty) consistently; return the copy's head seq."""
        target = Path(directory)
        self.store.copy_to(target)
        copy = AuditStore(target, readonly=True)
        try:
            return copy.head()[0]
        finally:
            copy.close()


# Never wait for a CPU slot (DESIGN: "Ray facts"); Ray restarts a crashed owner and never retries a
# call itself: the gateway resends a batch, which record ids make harmless.
RemoteAuditLog = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, concurrency_groups={READ_GROUP: 1})(
    AuditLog
)


def _record(values: Any, now_ms: int) -> AuditRecord:
    try:
        return AuditRecord.from_values(values)
    except (ValueError, TypeError, Rejected) as error:  # a bug upstream: see salvaged()
        record = salvaged(values, error, now_ms)
        log.error(
            "an owner sent a malformed audit record: stored as %s, record id %s: %s", MALFORMED, record.record_id, error
        )
        return record


def audit_actor_name(instance: str) -> str:
    """The audit owner's name in Ray: trip owners find it by this name to send their records on."""
    return f"{instance}-audit-log"


def audit_actor(
    instance: str,
    data_dir: Path,
    detached: bool = False,
    owner_resource: str | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> Any:
    """Create, or find when another gateway already did, the audit owner of `instance`."""
    _check_retention_days(retention_days)  # here too, so a bad setting fails in the caller, not in Ray
    options: dict[str, Any] = {"name": audit_actor_name(instance), "namespace": RAY_NAMESPACE, "get_if_exists": True}
    if detached:
        options["lifetime"] = "detached"
    if owner_resource:
        # The audit owner runs where the data directory is, like the trip owners.
        options["resources"] = {owner_resource: 1}
    return RemoteAuditLog.options(**options).remote(str(data_dir.resolve()), retention_days)
