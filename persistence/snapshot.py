"""LMDB snapshots of one owner: its trips, idempotency window and audit outbox as of one log position.

Snapshots are incremental: each one writes only the trips and remembered requests that changed
since the last, in one LMDB write transaction.  The owner takes the changes between two batches
and a thread of its own writes them (persistence/store.py), so taking one costs little time away
from sales.
The environment is opened with an explicit map size, synchronous commits, and is never shared
across fork: each owner process opens its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lmdb

from keyun.engine import codec
from keyun.engine.shard import Changes, Receipt
from keyun.engine.state import TripRecord, record_buyers, timetable_end_ms

# Each owner's snapshot starts with room for this; the file is sparse on Linux and grows as needed.
# 10,000 trips of 53 seats with their tickets take a few hundred MB at most.  A snapshot that does
# not fit doubles the room, up to MAX_MAP_SIZE_BYTES: an owner keeps every trip it was given, so a
# station that runs for months outgrows any fixed size, and a snapshot that cannot be written
# would stop the owner at every restart.
MAP_SIZE_BYTES = 2 * 1024**3
MAX_MAP_SIZE_BYTES = 1024**4

META, TRIPS, REQUESTS, ARCHIVE = b"meta", b"trips", b"requests", b"archive"
# Which archived trips hold orders of which account, keyed "buyer NUL end NUL trip id" (end: when
# the trip reached its last stop, as 16 hex digits), so that an account's order history (ListOrders)
# reaches its most recent archived orders without reading every archived trip.
ARCHIVED_BUYERS = b"archived_buyers"
BUYERS_INDEXED = b"archived_buyers_indexed"  # meta key: the index covers every archived trip

log = logging.getLogger("keyun.owner")

# What each kind of key holds (engine/codec.py): trips and archived trips their TripRecord,
# requests [sequence, Receipt], meta's position [lsn, now_ms] and audit_outbox AuditRecord values.
decode_trip = codec.decoder(TripRecord)
decode_request = codec.decoder(tuple[int, Receipt])
decode_position = codec.decoder(tuple[int, int])
decode_outbox = codec.decoder(tuple[tuple, ...])


@dataclass
class Snapshot:
    lsn: int  # the last log record the snapshot covers; 0 for none
    now_ms: int
    trips: list[TripRecord]
    requests: list[tuple[int, str, Receipt]]  # (sequence, request id, receipt), oldest first
    audit_outbox: list[tuple]  # audit records' values the audit owner may not have yet, oldest first
    archived: list[str]  # ids of the trips archived (their records are in the archive, not in `trips`)


class SnapshotStore:
    def __init__(self, directory: Path, map_size: int = MAP_SIZE_BYTES, readonly: bool = False):
        directory.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(directory),
            map_size=map_size,
            max_dbs=5,
            subdir=True,
            readonly=readonly,
            sync=True,
            metasync=True,
            lock=True,
            meminit=False,
        )
        self.meta = self.env.open_db(META, create=not readonly)
        self.trips = self.env.open_db(TRIPS, create=not readonly)
        self.requests = self.env.open_db(REQUESTS, create=not readonly)
        # None in a read-only snapshot written before trips were archived (it has no archive), or
        # before the archive was indexed by buyer.
        self.archive = self._optional_db(ARCHIVE, readonly)
        self.buyers = self._optional_db(ARCHIVED_BUYERS, readonly)
        # The map may only grow while no transaction of this process is open: the writer thread
        # grows it, and the owner's own thread reads archived trips (archived_trip).
        self.resizing = threading.Lock()
        if not readonly:
            self._retrying_when_full(self._index_buyers)

    def _optional_db(self, name: bytes, readonly: bool):
        try:
            return self.env.open_db(name, create=not readonly)
        except lmdb.NotFoundError:
            return None

    def _index_buyers(self) -> None:
        """Index an archive written before the buyer index existed, once, when it is opened."""
        with self.env.begin(write=True) as txn:
            if txn.get(BUYERS_INDEXED, db=self.meta) is not None:
                return
            trips = 0
            for _, value in txn.cursor(db=self.archive):
                _put_buyers(txn, self.buyers, decode_trip(value))
                trips += 1
            txn.put(BUYERS_INDEXED, b"1", db=self.meta)
        if trips:
            log.warning("indexed %d archived trips in %s by the accounts that ordered on them", trips, self.env.path())

    def load(self) -> Snapshot:
        with self.env.begin() as txn:
            meta = txn.get(b"position", db=self.meta)
            lsn, now_ms = decode_position(meta) if meta else (0, 0)
            trips = [decode_trip(value) for _, value in txn.cursor(db=self.trips)]
            requests = sorted(
                (decode_request(value) + (key.decode(),) for key, value in txn.cursor(db=self.requests)),
                key=lambda r: r[0],
            )
            outbox = txn.get(b"audit_outbox", db=self.meta)
            archived = (
                [key.decode() for key in txn.cursor(db=self.archive).iternext(keys=True, values=False)]
                if self.archive is not None
                else []
            )
        return Snapshot(
            lsn,
            now_ms,
            trips,
            [(sequence, rid, receipt) for sequence, receipt, rid in requests],
            list(decode_outbox(outbox)) if outbox else [],
            archived,
        )

    def save(self, lsn: int, now_ms: int, changes: Changes) -> None:
        """Write the changes and the new position in one transaction (atomic and durable on commit).

        May run on a thread of its own, one save at a time: trip records and receipts never change
        once taken (engine.state.trip_record), whatever the owner does meanwhile.  Nothing else of
        this process uses the environment meanwhile, so the map may grow here.
        """
        self._retrying_when_full(self._save, lsn, now_ms, changes)

    def _retrying_when_full(self, write, *args) -> None:
        while True:
            try:
                return write(*args)
            except lmdb.MapFullError:  # the transaction was aborted: nothing was written
                self._grow()

    def _grow(self) -> None:
        size = self.env.info()["map_size"]
        if size >= MAX_MAP_SIZE_BYTES:
            raise lmdb.MapFullError(f"the snapshot in {self.env.path()} reached {MAX_MAP_SIZE_BYTES} bytes")
        with self.resizing:
            self.env.set_mapsize(min(size * 2, MAX_MAP_SIZE_BYTES))
        log.warning(
            "the snapshot in %s outgrew %d MiB: it may now grow to %d MiB",
            self.env.path(),
            size // 2**20,
            min(size * 2, MAX_MAP_SIZE_BYTES) // 2**20,
        )

    def _save(self, lsn: int, now_ms: int, changes: Changes) -> None:
        with self.env.begin(write=True) as txn:
            for record in changes.trips:
                txn.put(record.spec.trip_id.encode(), codec.encode(record), db=self.trips)
            for record in changes.archived:  # out of the trips, into the archive, in one transaction
                key = record.spec.trip_id.encode()
                txn.put(key, codec.encode(record), db=self.archive)
                txn.delete(key, db=self.trips)
                _put_buyers(txn, self.buyers, record)
            for rid in sorted(changes.requests_evicted):
                txn.delete(rid.encode(), db=self.requests)
            for rid, (sequence, receipt) in changes.requests_added.items():
                txn.put(rid.encode(), codec.encode([sequence, receipt]), db=self.requests)
            txn.put(b"audit_outbox", codec.encode(changes.audit_outbox), db=self.meta)
            txn.put(b"position", codec.encode([lsn, now_ms]), db=self.meta)

    def position(self) -> int:
        with self.env.begin() as txn:
            meta = txn.get(b"position", db=self.meta)
        return decode_position(meta)[0] if meta else 0

    def copy_to(self, directory: Path) -> None:
        """A consistent copy, taken while the owner keeps writing (LMDB's own hot copy)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.env.copy(str(directory), compact=True)

    def close(self) -> None:
        self.env.close()

    def archived_trips(self) -> Iterator[TripRecord]:
        """The archived trips' records, in trip id order."""
        if self.archive is None:
            return
        with self.env.begin() as txn:
            for _, value in txn.cursor(db=self.archive):
                yield decode_trip(value)

    def archived_trips_of(self, buyer: str, limit: int) -> list[TripRecord]:
        """The records of the `limit` archived trips that ended last among those holding orders of
        `buyer`, the latest first; safe from another thread than the writer's."""
        if self.buyers is None or not buyer:
            return []
        prefix = f"{buyer}\0".encode()
        with self.resizing, self.env.begin() as txn:
            cursor = txn.cursor(db=self.buyers)
            # From just past the buyer's last key, backwards.
            moved = cursor.prev() if cursor.set_range(f"{buyer}\1".encode()) else cursor.last()
            trip_ids = []
            while moved and len(trip_ids) < limit and cursor.key().startswith(prefix):
                trip_ids.append(cursor.key().rpartition(b"\0")[2])
                moved = cursor.prev()
            values = [txn.get(trip_id, db=self.archive) for trip_id in trip_ids]
        return [decode_trip(value) for value in values if value is not None]

    def archived_trip(self, trip_id: str) -> TripRecord | None:
        """One archived trip's record, or None; safe from another thread than the writer's."""
        if self.archive is None:
            return None
        with self.resizing, self.env.begin() as txn:
            value = txn.get(trip_id.encode(), db=self.archive)
        return decode_trip(value) if value is not None else None


def _put_buyers(txn, db, record: TripRecord) -> None:
    spec = record.spec
    for buyer in record_buyers(record):
        txn.put(f"{buyer}\0{timetable_end_ms(spec):016x}\0{spec.trip_id}".encode(), b"", db=db)
