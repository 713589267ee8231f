"""`keyun upgrade`: rewrite a data directory of format 1 in the current format, once.

Every file of format 1 is read with persistence.legacy and written again by the current writers:
each trip owner's log segments (same names, same records) and its LMDB snapshot (trips, archive
and its buyer index, idempotency receipts, audit outbox, position), and the accounts owner's log
and snapshot.bin.  The audit log (plain msgpack) and the keys are not codec data and stay as they are.

Crash-safe: the new files are written into DIR/upgrade-staging and checked by recovering every
owner from them; then the format-1 `shards/` and `accounts/` move to DIR/format1/, the new ones
take their place, and rewriting keyun.json with the new format commits the upgrade.  Until that
commit the directory is still format 1, and a new run first puts back whatever an interrupted one
moved.  The format-1 files stay in DIR/format1/ for the operator to delete once Keyun serves.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from keyun.engine import codec
from keyun.engine.accounts import AccountsEngine
from keyun.engine.policy import Policy
from keyun.engine.shard import Changes, ShardEngine

from . import legacy
from .layout import MANIFEST, read_manifest, shard_directories
from .lock import DirectoryLock, DirectoryLocked
from .progress import Progress
from .small_store import SNAPSHOT_FILE, SmallStore, write_snapshot
from .snapshot import SnapshotStore
from .store import OwnerStore
from .wal import Record, fsync_directory, write_segment

STAGING = "upgrade-staging"
KEPT = "format1"  # where the format-1 files stay after an upgrade
PARTS = ("shards", "accounts")  # what is rewritten; audit/ is not codec data


class UpgradeError(Exception):
    pass


def upgrade(data_dir: Path, keep_old: bool = True) -> dict:
    """Rewrite a format-1 data directory in the current format; return what was rewritten.  The
    format-1 files stay in DIR/format1 unless not `keep_old` (a restore's copy of a backup)."""
    manifest = read_manifest(data_dir)
    if manifest is None:
        raise UpgradeError(f"{data_dir} is not a Keyun data directory (no {MANIFEST})")
    found = manifest.get("format")
    if found == codec.FORMAT_VERSION:
        shutil.rmtree(data_dir / STAGING, ignore_errors=True)  # left by a run stopped right after its commit
        raise UpgradeError(f"{data_dir} is already format {found}: nothing to upgrade")
    if found != legacy.FORMAT_VERSION:
        raise UpgradeError(
            f"{data_dir} holds format {found}; "
            f"this Keyun upgrades format {legacy.FORMAT_VERSION} to {codec.FORMAT_VERSION}"
        )
    locks = _lock_owners(data_dir)
    try:
        _put_back_interrupted(data_dir)
        staging = data_dir / STAGING
        summary = _rewrite(data_dir, staging)
        _check(staging)
        _swap(data_dir, staging)
        _write_manifest(data_dir, {**manifest, "format": codec.FORMAT_VERSION})
        shutil.rmtree(staging)
        if not keep_old:
            shutil.rmtree(data_dir / KEPT)
    finally:
        for lock in locks:
            lock.release()
    return {**summary, "format": codec.FORMAT_VERSION, "kept": str(data_dir / KEPT) if keep_old else None}


def _lock_owners(data_dir: Path) -> list[DirectoryLock]:
    """Every owner's lock, so no server starts on the directory meanwhile; refuse if one runs."""
    others = [data_dir / name for name in ("accounts", "audit") if (data_dir / name).exists()]
    owners = [*shard_directories(data_dir), *others]
    locks = []
    try:
        for owner in owners:
            locks.append(DirectoryLock(owner, wait_s=0))
    except DirectoryLocked:
        for lock in locks:
            lock.release()
        raise UpgradeError(f"{data_dir} is in use by a running Keyun; stop it first") from None
    return locks


def _put_back_interrupted(data_dir: Path) -> None:
    """Undo what an interrupted run did before its commit: the format-1 parts it moved aside go
    back, replacing new ones already moved in, and its staging directory goes."""
    kept = data_dir / KEPT
    if kept.exists():
        for part in kept.iterdir():
            if (data_dir / part.name).exists():
                shutil.rmtree(data_dir / part.name)
            part.rename(data_dir / part.name)
        kept.rmdir()
    shutil.rmtree(data_dir / STAGING, ignore_errors=True)


def _rewrite(data_dir: Path, staging: Path) -> dict:
    shards = shard_directories(data_dir)
    accounts = data_dir / "accounts"
    logs = [owner / "wal" for owner in [*shards, accounts]]
    files = len(shards) + accounts.exists() + sum(len(legacy.segments(log)) for log in logs)
    progress = Progress("upgrade", files, " files")
    records = 0
    for shard in shards:
        _rewrite_trip_snapshot(shard / "snapshot", staging / "shards" / shard.name / "snapshot")
        progress.advance(note=f"shard {shard.name}")
        records += _rewrite_log(shard / "wal", staging / "shards" / shard.name / "wal", progress)
    if accounts.exists():
        (staging / "accounts").mkdir(parents=True)
        if (accounts / SNAPSHOT_FILE).exists():
            write_snapshot(staging / "accounts", *legacy.read_small_snapshot(accounts / SNAPSHOT_FILE))
        progress.advance(note="accounts")
        records += _rewrite_log(accounts / "wal", staging / "accounts" / "wal", progress)
    progress.finish(note=f"{records} log records")
    return {"shards": len(shards), "accounts": accounts.exists(), "log_records": records}


def _rewrite_trip_snapshot(source: Path, target: Path) -> None:
    old = legacy.read_trip_snapshot(source)
    changes = Changes(
        trips=old.trips,
        requests_added=old.requests,
        audit_outbox=old.audit_outbox,
        archived=old.archived,
    )
    store = SnapshotStore(target)
    try:
        store.save(old.lsn, old.now_ms, changes)
    finally:
        store.close()


def _rewrite_log(source: Path, target: Path, progress: Progress) -> int:
    """Each format-1 segment again under its own name, so the log's LSNs and positions stay."""
    target.mkdir(parents=True, exist_ok=True)
    records = 0
    for path, rows in legacy.read_log(source):
        write_segment(target / path.name, [Record(*row) for row in rows])
        records += len(rows)
        progress.advance(note=f"{path.parent.parent.name}/{path.name}")
    fsync_directory(target)
    return records


def _check(staging: Path) -> None:
    """Recover every owner from the new files with the current code, as a start would."""
    for shard in shard_directories(staging):
        store = OwnerStore(shard, wait_for_lock_s=0)
        try:
            store.recover(ShardEngine(Policy()))
        finally:
            store.close()
    if (staging / "accounts").exists():
        store = SmallStore(staging / "accounts", wait_for_lock_s=0)
        try:
            store.recover(AccountsEngine())
        finally:
            store.close()


def _swap(data_dir: Path, staging: Path) -> None:
    kept = data_dir / KEPT
    kept.mkdir()
    for part in PARTS:
        if (data_dir / part).exists():
            (data_dir / part).rename(kept / part)
        if (staging / part).exists():
            (staging / part).rename(data_dir / part)
    fsync_directory(kept)
    fsync_directory(data_dir)


def _write_manifest(data_dir: Path, manifest: dict) -> None:
    """The commit: the new keyun.json replaces the old one atomically."""
    temporary = data_dir / (MANIFEST + ".tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(json.dumps(manifest, indent=2) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, data_dir / MANIFEST)
    fsync_directory(data_dir)
