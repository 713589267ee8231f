"""store.backup_owner: a copy of a running owner's directory recovers to the state it had when copied.

The owner runs in this process; the backup runs in another, as `keyun backup` does (LMDB refuses a
second handle on an environment inside one process).
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

from keyun.engine import commands as c
from keyun.engine.shard import ShardEngine
from keyun.persistence import wal
from keyun.persistence.store import OwnerStore, backup_owner

from .conftest import (
    DEPARTS_MS,
    MINUTE_MS,
    NEXT_DAY_TRIP,
    NOW,
    PM_TRIP,
    TRIP,
    A,
    B,
    C,
    D,
    Owner,
    assert_same_trips,
    schedule_batch,
)

BACKUP = """
import sys
from pathlib import Path
from keyun.persistence.store import backup_owner
print(backup_owner(Path(sys.argv[1]), Path(sys.argv[2])))
"""


def backup_elsewhere(source: Path, target: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", BACKUP, str(source), str(target)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def recover(directory: Path) -> tuple[ShardEngine, object]:
    store = OwnerStore(directory, wait_for_lock_s=0)
    try:
        engine = ShardEngine(check=True)
        return engine, store.recover(engine)
    finally:
        store.close()


def busy_owner(directory: Path) -> Owner:
    """An owner with trips, sales, holds and a snapshot, whose log spans several segments."""
    owner = Owner(directory, segment_bytes=1500)
    owner.run(schedule_batch(), NOW)
    for n in range(8):
        owner.run([c.Sell(f"s{n}", (TRIP, PM_TRIP)[n % 2], A, (B, C, D)[n % 3], seat_count=1 + n % 2)], NOW + n * 1000)
    owner.snapshot()
    for n in range(8, 16):
        owner.run([c.PlaceHold(f"h{n}", NEXT_DAY_TRIP, B, D, seat_count=1, ttl_ms=10 * MINUTE_MS)], NOW + n * 1000)
    owner.run([c.Refund("rf1", f"{TRIP}-0001"), c.ConfirmHold("c1", f"{NEXT_DAY_TRIP}-H1")], NOW + 20_000)
    assert len(wal.segments(directory / "wal")) >= 2
    return owner


def keep_selling(owner: Owner) -> None:
    """The owner goes on after the copy: none of this may show in the backup."""
    owner.run([c.Sell("later1", NEXT_DAY_TRIP, A, D, seat_count=3)], NOW + 60_000)
    owner.run([c.CancelTrip("later2", PM_TRIP)], NOW + 61_000)
    owner.snapshot()
    owner.run([c.Sell("later3", TRIP, C, D, seat_count=2)], NOW + 62_000)


def test_a_backup_of_a_running_owner_recovers_its_state(tmp_path):
    owner = busy_owner(tmp_path / "owner")
    try:
        trips = copy.deepcopy(owner.engine.state.trips)
        reference = ShardEngine()
        reference.state.trips = trips
        journaled = {e.command.request_id for _, entries in owner.committed for e in entries}
        window = {rid: receipt for rid, receipt in owner.engine.recent.items() if rid in journaled}

        copied = backup_elsewhere(owner.directory, tmp_path / "backup")
        files = [p for p in (tmp_path / "backup").rglob("*") if p.is_file()]
        assert copied == sum(p.stat().st_size for p in files)
        assert not (tmp_path / "backup" / "owner.lock").exists()
        assert [p.name for p in wal.segments(tmp_path / "backup" / "wal")] == [
            p.name for p in wal.segments(owner.directory / "wal")
        ]

        keep_selling(owner)
        assert owner.engine.state.trips != trips

        engine, report = recover(tmp_path / "backup")
        assert_same_trips(engine, reference)
        assert report.snapshot_lsn > 0 and report.records_replayed > 0
        assert {rid: engine.recent[rid] for rid in journaled} == window
        assert not {"later1", "later2", "later3"} & set(engine.recent)

        # The source is untouched by the backup and recovers to its own, later state.
        latest = owner.engine
        owner.crash()
        assert_same_trips(owner.engine, latest)
    finally:
        owner.close()


def test_a_backup_of_an_owner_without_a_snapshot(tmp_path):
    owner = Owner(tmp_path / "owner")
    try:
        owner.run(schedule_batch(), NOW)
        owner.run([c.Sell("s1", TRIP, A, D, seat_count=2)], NOW + 1000)
        backup_elsewhere(owner.directory, tmp_path / "backup")
        engine, report = recover(tmp_path / "backup")
        assert report.snapshot_lsn == 0 and report.records_replayed == 2
        assert_same_trips(engine, owner.engine)
    finally:
        owner.close()


def test_a_snapshot_taken_during_the_backup_still_gives_a_recoverable_copy(tmp_path):
    """The log is copied first; if a snapshot moves on and retires segments before the snapshot is
    copied, the copy holds a snapshot newer than its log, which recovery accepts."""
    owner = busy_owner(tmp_path / "owner")
    try:
        (tmp_path / "backup").mkdir()
        shutil.copytree(owner.directory / "wal", tmp_path / "backup" / "wal")  # backup_owner's first step
        keep_selling(owner)  # meanwhile: more sales and a snapshot that retires the copied segments
        owner.snapshot()
        retired = int(wal.segments(tmp_path / "backup" / "wal")[0].stem)
        assert int(wal.segments(owner.directory / "wal")[0].stem) > retired  # gone from the source
        at_snapshot = copy.deepcopy(owner.engine.state.trips)
        backup_elsewhere(owner.directory, tmp_path / "full")
        shutil.copytree(tmp_path / "full" / "snapshot", tmp_path / "backup" / "snapshot")  # its second step

        engine, report = recover(tmp_path / "backup")
        assert report.records_replayed == 0 and report.snapshot_lsn == owner.store.snapshot_lsn
        reference = ShardEngine()
        reference.state.trips = at_snapshot
        assert_same_trips(engine, reference)
    finally:
        owner.close()


def test_a_backup_of_a_stopped_owner_in_this_process(tmp_path):
    owner = busy_owner(tmp_path / "owner")
    latest = owner.engine
    owner.close()
    copied = backup_owner(owner.directory, tmp_path / "backup")
    assert copied > 0
    engine, _ = recover(tmp_path / "backup")
    assert_same_trips(engine, latest)
    # Appending to the restored copy continues its log.
    store = OwnerStore(tmp_path / "backup", wait_for_lock_s=0)
    try:
        engine = ShardEngine(check=True)
        store.recover(engine)
        replies, entries = engine.execute([c.Sell("new", TRIP, B, C, seat_count=1)], DEPARTS_MS - 2 * 60 * MINUTE_MS)
        store.commit(engine.last_now, entries)
        assert store.last_lsn == len(owner.committed) + 1
    finally:
        store.close()
