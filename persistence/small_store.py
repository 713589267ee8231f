"""The durable store of a small owner (accounts): its write-ahead log and whole-state snapshots.

Trip shards hold millions of objects and snapshot incrementally into LMDB (store.py).  The
accounts owner holds thousands, so a snapshot is simply its whole state in one file, written to a
temporary name, fsynced and renamed over the old one: a crash leaves either the old or the new
snapshot, never half of one.

Layout of the directory:
    owner.lock      held while an owner process uses the directory
    wal/            log segments (see wal.py)
    wal-archive/    segments retired after a snapshot, kept for the reports (docs/reporting.md)
    snapshot.bin    crc32 (u32 LE) | [lsn, now_ms, AccountsSnapshot] (engine/codec.py)
"""

from __future__ import annotations

import os
import shutil
import struct
import time
import zlib
from pathlib import Path
from typing import Protocol

from keyun.common.platform import fsync_directory
from keyun.engine import codec
from keyun.engine.accounts import AccountsSnapshot

from .lock import DirectoryLock
from .wal import ARCHIVE_DIR, WalCorruption, WriteAheadLog, copy_segments

SNAPSHOT_FILE = "snapshot.bin"
# The small owner is the accounts owner: its snapshot is the accounts engine's.
decode_snapshot = codec.decoder(tuple[int, int, AccountsSnapshot])
CRC = struct.Struct("<I")

# Accounts change rarely (logins, profile edits): snapshot after this many log records or seconds,
# which keeps recovery to a short replay.
SNAPSHOT_EVERY_RECORDS = 10_000
SNAPSHOT_EVERY_S = 300.0


class SmallEngine(Protocol):
    last_now: int

    def replay(self, now_ms: int, entries) -> None: ...

    def snapshot(self) -> object: ...

    def restore(self, now_ms: int, snapshot: object) -> None: ...


class SmallStore:
    def __init__(self, directory: Path, wait_for_lock_s: float = 30.0):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.lock = DirectoryLock(directory, wait_for_lock_s)
        self.wal = WriteAheadLog(directory / "wal", archive=directory / ARCHIVE_DIR)
        self.last_lsn = 0
        self.snapshot_lsn = 0
        self.snapshot_at = time.monotonic()

    def recover(self, engine: SmallEngine) -> int:
        """Load the snapshot, replay the log after it; return the records replayed."""
        path = self.directory / SNAPSHOT_FILE
        if path.exists():
            lsn, now_ms, state = read_snapshot(path)
            engine.restore(now_ms, state)
            self.snapshot_lsn = self.last_lsn = lsn
        replayed = 0
        for record in self.wal.recover(self.snapshot_lsn):
            engine.replay(record.now_ms, record.entries)
            self.last_lsn = record.lsn
            replayed += 1
        return replayed

    def commit(self, now_ms: int, entries: list) -> None:
        if entries:
            self.last_lsn, _ = self.wal.append(now_ms, entries)

    def snapshot_due(self) -> bool:
        if self.last_lsn == self.snapshot_lsn:
            return False
        return (
            self.last_lsn - self.snapshot_lsn >= SNAPSHOT_EVERY_RECORDS
            or time.monotonic() - self.snapshot_at >= SNAPSHOT_EVERY_S
        )

    def snapshot(self, engine: SmallEngine) -> None:
        write_snapshot(self.directory, self.last_lsn, engine.last_now, engine.snapshot())
        self.snapshot_lsn = self.last_lsn
        self.snapshot_at = time.monotonic()
        self.wal.retire(self.snapshot_lsn)

    def compact(self, engine: SmallEngine) -> None:
        """Snapshot and delete the whole log before it, the segment being written included: for
        records that must not stay on disk (display names logged as text before they were encrypted):
        the archived segments too (the reports then count a gap in this log, docs/reporting.md)."""
        self.wal.next_segment()
        write_snapshot(self.directory, self.last_lsn, engine.last_now, engine.snapshot())
        self.snapshot_lsn = self.last_lsn
        self.snapshot_at = time.monotonic()
        self.wal.retire(self.snapshot_lsn, delete=True)
        self.wal.purge_archive()

    def close(self) -> None:
        self.wal.close()
        self.lock.release()


def backup_small_owner(source: Path, target: Path) -> int:
    """Copy a small owner's directory while it runs: the log first, then the snapshot (as
    store.backup_owner does, and for the same reason); return the bytes copied."""
    copied = copy_segments(source / "wal", target / "wal")
    if (source / SNAPSHOT_FILE).exists():
        shutil.copyfile(source / SNAPSHOT_FILE, target / SNAPSHOT_FILE)
        copied += (target / SNAPSHOT_FILE).stat().st_size
    return copied


def write_snapshot(directory: Path, lsn: int, now_ms: int, state: object) -> None:
    """Replace the snapshot in `directory` by `state` as of log record `lsn`, atomically."""
    payload = codec.encode([lsn, now_ms, state])
    temporary = directory / (SNAPSHOT_FILE + ".tmp")
    with open(temporary, "wb") as file:
        file.write(CRC.pack(zlib.crc32(payload)) + payload)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, directory / SNAPSHOT_FILE)
    fsync_directory(directory)


def snapshot_position(directory: Path) -> int:
    path = directory / SNAPSHOT_FILE
    return read_snapshot(path)[0] if path.exists() else 0


def read_snapshot(path: Path) -> tuple[int, int, AccountsSnapshot]:
    data = path.read_bytes()
    if len(data) < CRC.size or CRC.unpack_from(data)[0] != zlib.crc32(data[CRC.size :]):
        raise WalCorruption(path, 0, "snapshot checksum mismatch")
    lsn, now_ms, state = decode_snapshot(data[CRC.size :])
    return lsn, now_ms, state
