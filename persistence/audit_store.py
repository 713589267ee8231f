"""The audit log on disk: one LMDB environment, append-only and hash-chained.

Named databases:
    records     8-byte big-endian seq → msgpack [seq, at_ms, record_id, actor, …, detail, hash]
    ids         record id → seq, so a resent batch is stored once
    meta        b"head" → [seq, hash] of the newest record; b"anchor" → [seq, hash] of the last purged

Every write is one LMDB transaction committed with sync, so what `append` returned is on disk.
There is no update or delete path except `purge`, which removes only from the start of the chain,
only records older than the retention, and moves the anchor in the same transaction.

The environment starts small and doubles when full (on Windows LMDB allocates the whole map size
up front, so a fixed 64 GiB map would mean a 64 GiB file on day one).  Readers in the same process
may run on another thread (the owner actor verifies and queries concurrently with appends), so a
resize waits until no read transaction is open, as LMDB requires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import lmdb
import msgpack

from keyun.engine.audit import (
    GENESIS,
    HASH_BYTES,
    MIN_RETENTION_DAYS,
    OK,
    AuditRecord,
    ChainReport,
    chain_hash,
    check_retention,
    verify_chain,
)
from keyun.engine.reasons import Rejected, Rejection, invalid

from .lock import DirectoryLock

RECORDS, IDS, META = b"records", b"ids", b"meta"
HEAD, ANCHOR = b"head", b"anchor"

# The map starts here and doubles whenever a write finds it full, up to the maximum.  A record takes
# about 400 bytes with its index entries, so 180 days at 100,000 records a day is about 7 GB.
INITIAL_MAP_SIZE_BYTES = 64 * 1024**2
MAX_MAP_SIZE_BYTES = 1024**4

# One `append` is one transaction; the gateway sends at most MAX_BATCH (512) records at a time, and
# this bound keeps a confused caller from holding the write lock for long.
MAX_AUDIT_BATCH = 10_000

# Query pages (AIP-158): the default and the most one page returns.
DEFAULT_AUDIT_PAGE = 100
MAX_AUDIT_PAGE = 500

# Records one query call may read before it returns what it found with a continuation, so a
# selective filter over 18 million records answers in a few tens of milliseconds per call.
MAX_AUDIT_SCAN = 20_000

# Records are stored in arrival order and stamped by the gateway that saw the operation, so times
# are only nearly in order: a batch waits in a gateway queue and may be resent for up to 30 s while
# an owner restarts, and gateways' clocks differ a little.  Time filters assume no record arrives
# more than this much later than one stamped after it, to stop scanning (or skip ahead) early.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

# A purge removes at most this many records per transaction, so a first purge after a long time
# never holds the write lock for long; the owner repeats it until nothing is left to remove.
MAX_PURGE_RECORDS = 100_000

# verify() reports progress after this many records.
PROGRESS_EVERY_RECORDS = 10_000

DAY_MS = 24 * 60 * 60 * 1000

__all__ = [
    "AuditLogDamaged",
    "AuditStore",
    "DEFAULT_AUDIT_PAGE",
    "MAX_AUDIT_PAGE",
    "MAX_AUDIT_SCAN",
    "MAX_PURGE_RECORDS",
    "MIN_RETENTION_DAYS",
    "is_audit_directory",
]

# (seq, record, stored hash); the record is None when the stored bytes are not a record.
Entry = tuple[int, AuditRecord | None, bytes]


def _key(seq: int) -> bytes:
    return seq.to_bytes(8, "big")


def _seq(key: bytes) -> int:
    return int.from_bytes(key, "big")


def _pack(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _encode(seq: int, record: AuditRecord, hash_: bytes) -> bytes:
    return _pack([seq, *record.values(), hash_])


def _decode(key: bytes, value: bytes) -> Entry:
    """A stored record as (seq, record, hash); the record is None when the bytes are not a valid
    record any more (tampered with or damaged), which verification reports as altered."""
    try:
        seq, *values, hash_ = msgpack.unpackb(value, raw=False)
        if type(seq) is not int or not isinstance(hash_, bytes):
            raise ValueError("not a record")
        return seq, AuditRecord.from_values(values), hash_
    except (ValueError, TypeError, Rejected, msgpack.UnpackException):
        return _seq(key), None, b""


class AuditLogDamaged(Exception):
    """The log's own bookkeeping (its head or anchor) cannot be read: nothing can be chained to it."""


def _position(raw: bytes | None) -> tuple[int, bytes]:
    """A stored head or anchor: (seq, hash)."""
    if raw is None:
        return 0, GENESIS
    try:
        seq, hash_ = msgpack.unpackb(raw, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException):
        seq = hash_ = None
    if type(seq) is not int or seq < 0 or not isinstance(hash_, bytes) or len(hash_) != HASH_BYTES:
        raise AuditLogDamaged("the audit log's stored head or purge anchor is damaged")
    return seq, hash_


class _ReadGate:
    """Lets read transactions on other threads run freely, and makes a map resize wait for them."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.readers = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self.condition:
            self.readers += 1
        try:
            yield
        finally:
            with self.condition:
                self.readers -= 1
                self.condition.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self.condition:
            self.condition.wait_for(lambda: self.readers == 0)
            yield


class AuditStore:
    def __init__(
        self,
        directory: Path,
        readonly: bool = False,
        map_size: int = INITIAL_MAP_SIZE_BYTES,
        wait_for_lock_s: float = 30.0,
    ):
        self.directory = directory
        self.readonly = readonly
        # A writer takes the directory's lock, like a trip owner, so a restore can tell that the log
        # is in use.  Readers (keyun audit, keyun backup) need no lock: LMDB gives them a snapshot.
        self.lock = None if readonly else DirectoryLock(directory, wait_for_lock_s)
        if not readonly:
            directory.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(directory),
            map_size=map_size,
            max_dbs=3,
            subdir=True,
            readonly=readonly,
            sync=True,
            metasync=True,
            lock=True,
            meminit=False,
        )
        self.records = self.env.open_db(RECORDS, create=not readonly)
        self.ids = self.env.open_db(IDS, create=not readonly)
        self.meta = self.env.open_db(META, create=not readonly)
        self.gate = _ReadGate()

    # Writing.

    def append(self, records: list[AuditRecord]) -> list[int]:
        """Store the records in order, chained; durable on return.  A record whose record_id is
        already stored keeps its first seq, which is returned for it instead."""
        assert not self.readonly, "a read-only audit store cannot append"
        assert len(records) <= MAX_AUDIT_BATCH, f"at most {MAX_AUDIT_BATCH} records per append"
        assert all(isinstance(record, AuditRecord) for record in records), "append takes AuditRecords"
        return self._write(self._append, records)

    def _write(self, write: Callable, *args):
        """Run one write transaction, growing the map and running it again when it was full."""
        while True:
            try:
                return write(*args)
            except lmdb.MapFullError:
                self._grow()  # the transaction was aborted: nothing was written

    def _append(self, records: list[AuditRecord]) -> list[int]:
        seqs = []
        with self.env.begin(write=True) as txn:
            head_seq, head_hash = _position(txn.get(HEAD, db=self.meta))
            seq, hash_ = head_seq, head_hash
            for record in records:
                record_id = record.record_id.encode("utf-8")
                known = txn.get(record_id, db=self.ids)
                if known is not None:
                    seqs.append(_seq(known))
                    continue
                seq += 1
                hash_ = chain_hash(hash_, seq, record)
                # append=True refuses any key not above the last one: nothing is ever overwritten.
                txn.put(_key(seq), _encode(seq, record, hash_), db=self.records, append=True)
                txn.put(record_id, _key(seq), db=self.ids)
                seqs.append(seq)
            if seq != head_seq:
                txn.put(HEAD, _pack([seq, hash_]), db=self.meta)
        return seqs

    def purge(self, now_ms: int, retention_days: int, limit: int = MAX_PURGE_RECORDS) -> int | Rejection:
        """Remove the oldest records, from the start of the chain, while they are older than
        `retention_days`; return how many.  Stops at the first younger record, so a younger record
        is never removed, and at any record that does not verify, so a purge never destroys the
        evidence of tampering.  The anchor moves in the same transaction."""
        assert not self.readonly, "a read-only audit store cannot purge"
        rejection = check_retention(retention_days)
        if rejection is not None:
            return rejection
        return self._write(self._purge, now_ms - retention_days * DAY_MS, limit)

    def _purge(self, cutoff_ms: int, limit: int) -> int:
        removed = 0
        with self.env.begin(write=True) as txn:
            anchor = _position(txn.get(ANCHOR, db=self.meta))
            cursor = txn.cursor(db=self.records)
            positioned = cursor.first()
            while positioned and removed < limit:
                seq, record, hash_ = _decode(cursor.key(), cursor.value())
                if (
                    record is None
                    or record.at_ms >= cutoff_ms
                    or seq != anchor[0] + 1
                    or chain_hash(anchor[1], seq, record) != hash_
                ):
                    break
                txn.delete(record.record_id.encode("utf-8"), db=self.ids)
                cursor.delete()  # moves to the next record
                positioned = bool(cursor.key())
                anchor = (seq, hash_)
                removed += 1
            if removed:
                txn.put(ANCHOR, _pack(list(anchor)), db=self.meta)
        return removed

    def _grow(self) -> None:
        size = self.env.info()["map_size"]
        if size >= MAX_MAP_SIZE_BYTES:
            raise lmdb.MapFullError(f"the audit log reached {MAX_MAP_SIZE_BYTES} bytes")
        with self.gate.exclusive():
            self.env.set_mapsize(min(size * 2, MAX_MAP_SIZE_BYTES))

    # Reading.

    @contextmanager
    def _reading(self) -> Iterator[lmdb.Transaction]:
        """A read transaction.  If a writer in another process grew the map past ours, adopt its
        size (which needs no transaction open in this process) and begin again."""
        for _ in range(2):
            with self.gate.reading():
                try:
                    txn = self.env.begin()
                except lmdb.MapResizedError:
                    txn = None
                if txn is not None:
                    try:
                        yield txn
                    finally:
                        txn.abort()
                    return
            with self.gate.exclusive():
                self.env.set_mapsize(0)
        raise lmdb.MapResizedError("the audit log's map kept growing while opening a read transaction")

    def head(self) -> tuple[int, bytes]:
        """(seq, hash) of the newest record; (anchor seq, anchor hash) when none is left."""
        with self._reading() as txn:
            head = _position(txn.get(HEAD, db=self.meta))
        return head

    def anchor(self) -> tuple[int, bytes]:
        """(seq, hash) of the last purged record; (0, GENESIS) when nothing was purged."""
        with self._reading() as txn:
            anchor = _position(txn.get(ANCHOR, db=self.meta))
        return anchor

    def count(self) -> int:
        """Records stored now (after purges)."""
        with self._reading() as txn:
            entries = txn.stat(self.records)["entries"]
        return entries

    def query(
        self,
        since_ms: int = 0,
        until_ms: int | None = None,
        actor: str = "",
        action: str = "",
        outcome: str = "",
        target: str = "",
        page_size: int = DEFAULT_AUDIT_PAGE,
        before_seq: int | None = None,
        refused_only: bool = False,
    ) -> tuple[list[tuple[int, AuditRecord]], int | None]:
        """Records matching every given filter (since_ms <= at_ms < until_ms, equal strings, an
        outcome other than OK with `refused_only`), newest first.

        Returns at most `page_size` rows and the `before_seq` to continue from, or None when the
        log holds no more candidates.  A call reads at most MAX_AUDIT_SCAN records, so a page may
        come back short, or empty, with a continuation: keep asking until it is None.
        """
        page_size = _page_size(page_size)
        if before_seq is not None and before_seq < 1:
            raise invalid("before_seq", f"{before_seq} is not a sequence number")
        wanted = {
            name: value
            for name, value in (("actor", actor), ("action", action), ("outcome", outcome), ("target", target))
            if value
        }
        with self._reading() as txn:
            cursor = txn.cursor(db=self.records)
            start = before_seq
            if until_ms is not None:
                newer = self._first_stamped_after(txn, until_ms + MAX_CLOCK_SKEW_MS)
                start = newer if start is None else min(start, newer)
            positioned = _before(cursor, start)
            rows: list[tuple[int, AuditRecord]] = []
            scanned = 0
            while positioned:
                seq, record, _ = _decode(cursor.key(), cursor.value())
                scanned += 1
                # Undecodable records are skipped here; `verify` reports them.
                if record is not None:
                    if record.at_ms < since_ms - MAX_CLOCK_SKEW_MS:
                        return rows, None
                    if _matches(record, since_ms, until_ms, wanted) and not (refused_only and record.outcome == OK):
                        rows.append((seq, record))
                positioned = cursor.prev()
                if len(rows) == page_size or scanned >= MAX_AUDIT_SCAN:
                    return rows, (seq if positioned else None)
        return rows, None

    def _first_stamped_after(self, txn: lmdb.Transaction, at_ms: int) -> int:
        """A seq whose record is stamped at or after `at_ms` with every record before it stamped
        earlier: a binary search over seqs, since stamps rise with seqs up to MAX_CLOCK_SKEW_MS.
        The head's seq + 1 when no record is that new."""
        low = _position(txn.get(ANCHOR, db=self.meta))[0] + 1
        high = _position(txn.get(HEAD, db=self.meta))[0] + 1
        while low < high:
            middle = (low + high) // 2
            raw = txn.get(_key(middle), db=self.records)
            record = None if raw is None else _decode(_key(middle), raw)[1]
            if record is None:
                return _position(txn.get(HEAD, db=self.meta))[0] + 1  # a damaged log: do not skip anything
            if record.at_ms >= at_ms:
                high = middle
            else:
                low = middle + 1
        return low

    def verify(
        self, progress: Callable[[int, int], None] | None = None, expect_head: tuple[int, bytes] | None = None
    ) -> ChainReport:
        """Walk the whole chain on disk from the anchor; the stored head must match where it ends.
        `progress(checked, total)` is called every PROGRESS_EVERY_RECORDS records and at the end."""
        with self._reading() as txn:
            anchor = _position(txn.get(ANCHOR, db=self.meta))
            head = _position(txn.get(HEAD, db=self.meta))
            total = txn.stat(self.records)["entries"]

            def entries() -> Iterator[Entry]:
                for walked, (key, value) in enumerate(txn.cursor(db=self.records), 1):
                    yield _decode(key, value)
                    if progress is not None and walked % PROGRESS_EVERY_RECORDS == 0:
                        progress(walked, total)

            report = verify_chain(entries(), anchor, expect_head, stored_head=head)
        if progress is not None:
            progress(report.checked, total)
        return report

    def tail(self, count: int) -> list[tuple[int, AuditRecord | None]]:
        """The newest `count` records (at most MAX_AUDIT_PAGE), oldest first; None for an undecodable one."""
        count = _page_size(count)
        rows = []
        with self._reading() as txn:
            cursor = txn.cursor(db=self.records)
            positioned = cursor.last()
            while positioned and len(rows) < count:
                seq, record, _ = _decode(cursor.key(), cursor.value())
                rows.append((seq, record))
                positioned = cursor.prev()
        return rows[::-1]

    def copy_to(self, directory: Path) -> None:
        """A consistent, compacted copy for backups, taken while appends go on (LMDB's hot copy)."""
        directory.mkdir(parents=True, exist_ok=True)
        with self.gate.reading():
            self.env.copy(str(directory), compact=True)

    def close(self) -> None:
        self.env.close()
        if self.lock is not None:
            self.lock.release()


def _page_size(page_size: int) -> int:
    if type(page_size) is not int or page_size < 0:
        raise invalid("page_size", f"{page_size!r} is not a page size")
    if page_size == 0:
        return DEFAULT_AUDIT_PAGE  # AIP-158: unset means the default
    return min(page_size, MAX_AUDIT_PAGE)


def _before(cursor: lmdb.Cursor, before_seq: int | None) -> bool:
    """Put the cursor on the newest record below `before_seq` (the newest of all when None)."""
    if before_seq is None:
        return cursor.last()
    if cursor.set_range(_key(before_seq)):
        return cursor.prev()
    return cursor.last()


def _matches(record: AuditRecord, since_ms: int, until_ms: int | None, wanted: dict[str, str]) -> bool:
    if record.at_ms < since_ms or (until_ms is not None and record.at_ms >= until_ms):
        return False
    return all(getattr(record, name) == value for name, value in wanted.items())


def is_audit_directory(directory: Path) -> bool:
    """True when `directory` holds an audit log (a writer has opened it at least once)."""
    return (directory / "data.mdb").exists()
