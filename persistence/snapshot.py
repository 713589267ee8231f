"""LMDB snapshots of one owner: its trips and idempotency window as of one log position.

Snapshots are incremental: each one writes only the trips and remembered requests that changed
since the last, in one LMDB write transaction.  The owner prepares one between two batches and a
thread of its own writes it (persistence/store.py), so taking one costs little time away from
sales.
The environment is opened with an explicit map size, synchronous commits, and is never shared
across fork: each owner process opens its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb

from keyun.engine.shard import Changes

from . import codec

# Each owner's snapshot may grow to this; the file is sparse on Linux and grows as needed.
# 10,000 trips of 53 seats with their tickets take a few hundred MB at most.
MAP_SIZE_BYTES = 2 * 1024**3

META, TRIPS, REQUESTS = b"meta", b"trips", b"requests"


@dataclass
class PreparedSnapshot:
    """An incremental snapshot ready to be written from any thread.

    The trip records are encoded already: their holds, tickets and orders are mutable and keep
    changing on the owner's thread.  The idempotency receipts are immutable, so the writer encodes
    them, which is most of the work.
    """

    lsn: int
    now_ms: int
    trips: list[tuple[bytes, bytes]]  # (trip id, encoded record)
    requests_evicted: list[str]
    requests_added: list[tuple[int, str, Any]]  # (sequence, request id, receipt)


def prepare(lsn: int, now_ms: int, changes: Changes) -> PreparedSnapshot:
    """Take what a snapshot needs of `changes` now, on the owner's thread."""
    trips = [(record[0].trip_id.encode(), codec.encode(record)) for record in changes.trips]
    return PreparedSnapshot(lsn, now_ms, trips, changes.requests_evicted, changes.requests_added)


@dataclass
class Snapshot:
    lsn: int  # the last log record the snapshot covers; 0 for none
    now_ms: int
    trips: list[Any]  # trip records, see engine.state.Trip.to_record
    requests: list[tuple[int, str, Any]]  # (sequence, request id, receipt), oldest first


class SnapshotStore:
    def __init__(self, directory: Path, map_size: int = MAP_SIZE_BYTES, readonly: bool = False):
        directory.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(directory), map_size=map_size, max_dbs=3, subdir=True, readonly=readonly, sync=True, metasync=True, lock=True, meminit=False)
        self.meta = self.env.open_db(META, create=not readonly)
        self.trips = self.env.open_db(TRIPS, create=not readonly)
        self.requests = self.env.open_db(REQUESTS, create=not readonly)

    def load(self) -> Snapshot:
        with self.env.begin() as txn:
            meta = txn.get(b"position", db=self.meta)
            lsn, now_ms = codec.decode(meta) if meta else (0, 0)
            trips = [codec.decode(value) for _, value in txn.cursor(db=self.trips)]
            requests = sorted((codec.decode(value) + (key.decode(),) for key, value in txn.cursor(db=self.requests)), key=lambda r: r[0])
        return Snapshot(lsn, now_ms, trips, [(sequence, rid, receipt) for sequence, receipt, rid in requests])

    def save(self, lsn: int, now_ms: int, changes: Changes) -> None:
        """Write the changes and the new position in one transaction (atomic and durable on commit)."""
        self.write(prepare(lsn, now_ms, changes))

    def write(self, snapshot: PreparedSnapshot) -> None:
        """save(), for a snapshot prepared earlier: may run on a thread of its own (one at a time)."""
        with self.env.begin(write=True) as txn:
            for trip_id, record in snapshot.trips:
                txn.put(trip_id, record, db=self.trips)
            for rid in snapshot.requests_evicted:
                txn.delete(rid.encode(), db=self.requests)
            for sequence, rid, receipt in snapshot.requests_added:
                txn.put(rid.encode(), codec.encode([sequence, receipt]), db=self.requests)
            txn.put(b"position", codec.encode([snapshot.lsn, snapshot.now_ms]), db=self.meta)

    def position(self) -> int:
        with self.env.begin() as txn:
            meta = txn.get(b"position", db=self.meta)
        return codec.decode(meta)[0] if meta else 0

    def copy_to(self, directory: Path) -> None:
        """A consistent copy, taken while the owner keeps writing (LMDB's own hot copy)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.env.copy(str(directory), compact=True)

    def close(self) -> None:
        self.env.close()
