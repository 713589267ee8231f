"""Operator tasks on a data directory: backup, restore, log verify and dump, and opening the audit log.

A backup can be taken while Keyun serves: each owner's directory is copied log first, snapshot
second (see store.backup_owner), the audit log by LMDB's hot copy, and every file is listed with
its SHA-256 in backup.json so a restore can tell a damaged backup from a good one.  A restore
refuses a data directory that is in use or not empty, upgrades a backup made by an earlier Keyun
(upgrade.py), recovers every owner from the restored files and verifies the audit log's hash chain
up to the head the backup recorded before it reports success.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from keyun.engine.accounts import AccountsEngine
from keyun.engine.audit import TEXT_FIELDS
from keyun.engine.outbox import AuditNote
from keyun.engine.policy import Policy
from keyun.engine.shard import Refusal, ShardEngine, events_in
from keyun.engine.state import TicketStatus, Trip, state_of

from . import legacy
from .audit_store import AuditStore, is_audit_directory
from .keyring import MANIFEST as KEYRING_MANIFEST
from .keyring import Keyring, KeyringError
from .layout import (
    MANIFEST,
    DataDirError,
    check_format,
    default_key_dir,
    read_manifest,
    recorded_keys,
    shard_directories,
)
from .lock import is_locked
from .progress import Progress
from .report_backup import backup_store
from .reports import store_path
from .small_store import SmallStore, backup_small_owner, snapshot_position
from .snapshot import SnapshotStore
from .store import OwnerStore, backup_owner
from .upgrade import upgrade
from .wal import ARCHIVE_DIR, WalCorruption, copy_segments, scan, segments

BACKUP_MANIFEST = "backup.json"
HASH_CHUNK_BYTES = 1024 * 1024
ACCOUNTS_DIR = "accounts"  # the accounts owner's log and snapshot (actors/account_shard.py)
AUDIT_DIR = "audit"  # the audit owner's LMDB environment (actors/audit_log.py)
LMDB_LOCK_FILE = "lock.mdb"  # readers' table of a live environment: never part of a copy


class AdminError(Exception):
    pass


def _require_data_dir(data_dir: Path) -> dict:
    manifest = read_manifest(data_dir)
    if manifest is None:
        raise AdminError(f"{data_dir} is not a Keyun data directory (no {MANIFEST})")
    return manifest


def _require_readable(data_dir: Path) -> None:
    """A data directory whose logs this Keyun can decode (a backup copies any format)."""
    try:
        check_format(data_dir, _require_data_dir(data_dir))
    except DataDirError as error:
        raise AdminError(str(error)) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.name not in {BACKUP_MANIFEST, LMDB_LOCK_FILE, "owner.lock"}
    )


def backup(data_dir: Path, target: Path) -> dict:
    """Copy a data directory, running or not, into `target`; return the backup manifest."""
    manifest = _require_data_dir(data_dir)
    if target.exists() and any(target.iterdir()):
        raise AdminError(f"{target} is not empty")
    shards = shard_directories(data_dir)
    progress = Progress("backup", len(shards), " shards")
    # The reporting store first: its positions then never pass the copied logs, so that after a
    # restore the projector goes on from them (a store copied after the logs could have counted
    # records the copy lacks, and would be rebuilt).
    reports = backup_store(data_dir, target / store_path(data_dir).relative_to(data_dir))
    copied = reports.get("bytes", 0) if reports else 0
    archived = 0
    for shard in shards:
        copied += backup_owner(shard, target / "shards" / shard.name)
        archived += _backup_archive(shard, target / "shards" / shard.name)
        progress.advance(note=f"{copied / 1e6:.1f} MB")
    if (data_dir / ACCOUNTS_DIR).exists():
        copied += backup_small_owner(data_dir / ACCOUNTS_DIR, target / ACCOUNTS_DIR)
        archived += _backup_archive(data_dir / ACCOUNTS_DIR, target / ACCOUNTS_DIR)
    copied += archived
    audit = _backup_audit(data_dir / AUDIT_DIR, target / AUDIT_DIR)
    if audit is not None:
        copied += audit.pop("bytes")
    shutil.copyfile(data_dir / MANIFEST, target / MANIFEST)
    files = {str(p.relative_to(target)).replace("\\", "/"): _sha256(p) for p in _files(target)}
    summary = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "source": str(data_dir.resolve()),
        "shards": manifest["shards"],
        "bytes": copied,
        "audit": audit,
        "archive_bytes": archived,
        "reports": reports,
        "files": files,
    }
    (target / BACKUP_MANIFEST).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    progress.finish(note=f"{copied / 1e6:.1f} MB, {len(files)} files")
    return summary


def _backup_archive(owner: Path, target: Path) -> int:
    """Copy an owner's archived log segments (wal-archive/, kept for the reports), after its live log
    and snapshot: a segment retired while those were copied is then in the copy too.  Archived
    segments are never written again, so a plain copy is consistent; return the bytes copied."""
    if not (owner / ARCHIVE_DIR).is_dir():
        return 0
    return copy_segments(owner / ARCHIVE_DIR, target / ARCHIVE_DIR)


def _backup_audit(source: Path, target: Path) -> dict | None:
    """Copy the audit log (a consistent LMDB copy, also while its owner appends); return the
    copy's head and size, or None when this data directory has no audit log yet."""
    if not is_audit_directory(source):
        return None
    store = AuditStore(source, readonly=True)
    try:
        store.copy_to(target)
    finally:
        store.close()
    head_seq, head_hash = _audit_head(target)
    return {
        "head_seq": head_seq,
        "head_hash": head_hash.hex(),
        "bytes": sum(p.stat().st_size for p in target.iterdir()),
    }


def _audit_head(directory: Path) -> tuple[int, bytes]:
    copy = AuditStore(directory, readonly=True)
    try:
        return copy.head()
    finally:
        copy.close()
        (directory / LMDB_LOCK_FILE).unlink(missing_ok=True)  # made by this read; a copy holds data only


def restore(source: Path, data_dir: Path) -> list[dict]:
    """Check a backup, copy it into an empty data directory (upgrading a copy of format 1), recover
    every owner from it and verify the audit log's chain."""
    summary = _verify_backup(source)
    earlier = _require_data_dir(source).get("format") == legacy.FORMAT_VERSION  # upgraded once copied
    if not earlier:
        _require_readable(source)
    if data_dir.exists() and any(data_dir.iterdir()):
        if any(
            is_locked(owner) for owner in [*shard_directories(data_dir), data_dir / ACCOUNTS_DIR, data_dir / AUDIT_DIR]
        ):
            raise AdminError(f"{data_dir} is in use by a running Keyun; stop it first")
        raise AdminError(f"{data_dir} is not empty; restore into a new directory")
    shutil.copytree(
        source, data_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(BACKUP_MANIFEST, LMDB_LOCK_FILE)
    )
    if earlier:
        upgrade(data_dir, keep_old=False)
    shards = shard_directories(data_dir)
    if len(shards) != summary["shards"]:
        raise AdminError(f"the backup lists {summary['shards']} shards but holds {len(shards)}")
    progress = Progress("restore", len(shards), " shards")
    reports = []
    for shard in shards:
        store = OwnerStore(shard, wait_for_lock_s=0)
        try:
            report = store.recover(ShardEngine(Policy()))
        finally:
            store.close()
        reports.append({"shard": shard.name, "trips": report.trips, "events_replayed": report.events_replayed})
        progress.advance(note=f"shard {shard.name}: {report.trips} trips")
    accounts = _recover_accounts(data_dir / ACCOUNTS_DIR) if (data_dir / ACCOUNTS_DIR).exists() else 0
    progress.finish(note=f"and {accounts} accounts")
    if summary.get("audit"):
        _verify_restored_audit(data_dir, summary["audit"])
    return reports


def restored_reports(data_dir: Path) -> str:
    """What the restored data directory's reports start from, said for the operator."""
    path = store_path(data_dir)
    if not path.exists():
        return "not in the backup: the report projector builds it from the logs at the first start"
    db = duckdb.connect(str(path), read_only=True)
    try:
        owners, records = db.execute("SELECT count(*), coalesce(sum(records), 0) FROM positions").fetchone()
    finally:
        db.close()
    return f"restored, {records} log records of {owners} owners projected; the projector goes on from there"


def restored_key_dir(source: Path, data_dir: Path, key_dir: Path | None = None) -> tuple[Path, str]:
    """The key directory a restored data directory starts with (`key_dir`, else where the backed-up
    station had its keys), and what to do first if the keys it is encrypted with are not there ("")."""
    recorded = recorded_keys(data_dir)
    if key_dir is None:
        backed_up = json.loads((source / BACKUP_MANIFEST).read_text(encoding="utf-8"))["source"]
        key_dir = Path(recorded["dir"]) if recorded else default_key_dir(Path(backed_up))
    if not (key_dir / KEYRING_MANIFEST).exists():
        return (
            key_dir,
            f"{key_dir} holds no keys: copy the backed-up station's key directory there from your key backup",
        )
    try:
        same = recorded is None or Keyring.open(key_dir).verify_key_fingerprint() == recorded["fingerprint"]
    except KeyringError as error:
        return key_dir, str(error)
    return key_dir, "" if same else f"the keys in {key_dir} are not the ones this backup is encrypted with"


def _recover_accounts(directory: Path) -> int:
    """Load the restored accounts owner as it will at start (snapshot, then its log); return how
    many accounts it holds.  A damaged log or snapshot raises WalCorruption, failing the restore."""
    store = SmallStore(directory, wait_for_lock_s=0)
    try:
        engine = AccountsEngine()
        store.recover(engine)
    finally:
        store.close()
    return len(engine.state.accounts)


def _verify_restored_audit(data_dir: Path, backed_up: dict) -> None:
    """The restored audit log must verify and end exactly at the head the backup recorded."""
    store = open_audit(data_dir)
    try:
        progress = Progress("verify audit", store.count(), " records")
        report = store.verify(progress=lambda checked, _total: progress.advance(checked - progress.done))
        progress.finish(note=f"head {report.head_seq}")
    finally:
        store.close()
    if not report.ok:
        raise AdminError(
            f"the restored audit log does not verify: {report.problem.value} at record {report.at_seq}: "
            f"{report.message}"
        )
    if (report.head_seq, report.head_hash.hex()) != (backed_up["head_seq"], backed_up["head_hash"]):
        raise AdminError(
            f"the restored audit log ends at record {report.head_seq}, but the backup recorded head "
            f"{backed_up['head_seq']}"
        )


def open_audit(data_dir: Path) -> AuditStore:
    """The audit log of a data directory, read-only (safe while Keyun serves)."""
    _require_data_dir(data_dir)
    directory = data_dir / AUDIT_DIR
    if not is_audit_directory(directory):
        raise AdminError(f"{data_dir} has no audit log yet (no {AUDIT_DIR}/data.mdb)")
    return AuditStore(directory, readonly=True)


def audit_status(data_dir: Path) -> dict | None:
    """Records and head of a data directory's audit log; None when it has none."""
    if not is_audit_directory(data_dir / AUDIT_DIR):
        return None
    store = open_audit(data_dir)
    try:
        head_seq, head_hash = store.head()
        return {"records": store.count(), "head_seq": head_seq, "head_hash": head_hash.hex()}
    finally:
        store.close()


def _verify_backup(source: Path) -> dict:
    path = source / BACKUP_MANIFEST
    if not path.exists():
        raise AdminError(f"{source} is not a Keyun backup (no {BACKUP_MANIFEST})")
    summary = json.loads(path.read_text(encoding="utf-8"))
    listed = summary["files"]
    present = {str(p.relative_to(source)).replace("\\", "/") for p in _files(source)}
    if present != set(listed):
        raise AdminError(
            f"the backup's files differ from its list: missing {sorted(set(listed) - present)[:5]}, extra "
            f"{sorted(present - set(listed))[:5]}"
        )
    progress = Progress("verify", len(listed), " files")
    for name, digest in listed.items():
        if _sha256(source / name) != digest:
            raise AdminError(f"{source / name} is damaged (checksum differs from the backup's list)")
        progress.advance()
    progress.finish()
    return summary


@dataclass
class ShardLogReport:
    shard: str
    snapshot_lsn: int
    first_lsn: int
    last_lsn: int
    records: int
    events: int


def verify_logs(data_dir: Path) -> list[ShardLogReport]:
    """Read every log record of every owner, checking frames, checksums and LSN order.

    Safe while Keyun serves.  Raises WalCorruption naming the file and offset of the first damage.
    """
    _require_readable(data_dir)
    owners = _logged_owners(data_dir)
    progress = Progress("verify", sum(len(segments(owner / "wal")) for owner, _ in owners), " log segments")
    reports = [
        _verify_log(
            owner, name, snapshot_position(owner) if name == ACCOUNTS_DIR else _snapshot_position(owner), progress
        )
        for owner, name in owners
    ]
    progress.finish(note=f"{sum(r.records for r in reports)} records")
    return reports


def _logged_owners(data_dir: Path) -> list[tuple[Path, str]]:
    """Every owner directory that keeps a log, with its name: the trip shards, then the accounts owner."""
    owners = [(shard, shard.name) for shard in shard_directories(data_dir)]
    if (data_dir / ACCOUNTS_DIR / "wal").exists():
        owners.append((data_dir / ACCOUNTS_DIR, ACCOUNTS_DIR))
    return owners


def _verify_log(owner: Path, name: str, snapshot_lsn: int, progress: Progress) -> ShardLogReport:
    first = last = records = events = 0
    for path, offset, record in _counting_segments(scan(owner / "wal"), progress):
        if last and record.lsn != last + 1:
            raise WalCorruption(path, offset, f"expected LSN {last + 1}, found {record.lsn}")
        first = first or record.lsn
        last, records, events = record.lsn, records + 1, events + events_in(record.entries)
    if first > snapshot_lsn + 1:
        raise WalCorruption(
            owner / "wal", 0, f"the log starts at LSN {first} but the snapshot covers only up to {snapshot_lsn}"
        )
    return ShardLogReport(name, snapshot_lsn, first, last, records, events)


def _counting_segments(scanned: Iterator[tuple[Path, int, Any]], progress: Progress) -> Iterator[tuple[Path, int, Any]]:
    """The records of a scan, advancing `progress` by one as each segment is done."""
    current = None
    for path, offset, record in scanned:
        if current is not None and path != current:
            progress.advance(note=_segment_name(current))
        current = path
        yield path, offset, record
    if current is not None:
        progress.advance(note=_segment_name(current))


def _segment_name(segment: Path) -> str:
    return f"{segment.parent.parent.name}/{segment.name}"


@contextmanager
def _snapshot_of(shard: Path) -> Iterator[SnapshotStore | None]:
    """A trip owner's snapshot, read-only (safe while it writes); None if it never wrote one."""
    if not (shard / "snapshot" / "data.mdb").exists():
        yield None
        return
    store = SnapshotStore(shard / "snapshot", readonly=True)
    try:
        yield store
    finally:
        store.close()


def _snapshot_position(shard: Path) -> int:
    with _snapshot_of(shard) as store:
        return store.position() if store is not None else 0


# What a dump of the accounts owner's log never prints: secrets (password hashes, session and
# refresh token ids, the setup token's hash), keyed digests (blind indexes, fingerprints), and
# display names, which logs from before their encryption hold as text.  Ciphertexts, like any
# bytes, show only their length.
SECRET_FIELDS = frozenset(
    {
        "password_hash",
        "token_hash",
        "session_id",
        "refresh_id",
        "new_refresh_id",
        "login_key",
        "fingerprint",
        "document_index",
        "display_name_cipher",
    }
)
REDACTED = "[redacted]"


def dump_logs(data_dir: Path, shard_name: str | None = None) -> Iterator[dict]:
    """Every log record as plain data, oldest first: what happened, in words an operator can read.
    The trip owners' logs, then the accounts owner's (`shard_name` "accounts" for it alone)."""
    _require_readable(data_dir)
    for directory, name in _logged_owners(data_dir):
        if shard_name is not None and name != shard_name.zfill(4):
            continue
        hide = SECRET_FIELDS if name == ACCOUNTS_DIR else frozenset()
        for _, _, record in scan(directory / "wal"):
            at = dt.datetime.fromtimestamp(record.now_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
            for entry in record.entries:
                if type(entry) is AuditNote:  # the audit record of a call, on its way to the audit log
                    yield {
                        "shard": name,
                        "lsn": record.lsn,
                        "at": at,
                        "audit": dict(zip(("at_ms", *TEXT_FIELDS), entry.record)),
                    }
                    continue
                row = {
                    "shard": name,
                    "lsn": record.lsn,
                    "at": at,
                    "request_id": getattr(
                        entry.command, "request_id", ""
                    ),  # an account command may have none (a login)
                    "command": type(entry.command).__name__,
                    "events": [plain(event, hide) for event in entry.events],
                }
                if type(entry) is Refusal:  # refused: journaled so that a retry is refused the same way
                    row["refused"] = entry.rejection.reason.name
                yield row


def plain(value, hide: frozenset[str] = frozenset()):
    """Engine values as JSON-ready data; trip specs shortened to their id, the fields named in
    `hide` redacted, and bytes (ciphertexts) shown by their length."""
    if isinstance(value, msgspec.Struct):
        if type(value).__name__ == "TripSpec":
            return {"trip_id": value.trip_id, "departs_at_ms": value.departs_at_ms}
        return {
            "type": type(value).__name__,
            **{
                f.name: REDACTED if f.name in hide else plain(getattr(value, f.name), hide)
                for f in msgspec.structs.fields(value)
            },
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [plain(v, hide) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def describe(row: dict) -> str:
    """One dump row as a line of text."""
    if "audit" in row:  # an audit record journaled with the call, on its way to the audit log
        record = row["audit"]
        return (
            f"{row['shard']} LSN {row['lsn']:>8} {row['at']} {'audit':<12} {record['action']} {record['target']} "
            f"{record['outcome']} by {record['actor'] or '-'} ({record['record_id']})"
        )
    events = "; ".join(
        f"{e['type']}(" + ", ".join(f"{k}={v}" for k, v in e.items() if k not in {"type", "trip_id"}) + ")"
        for e in row["events"]
    )
    subject = next(
        (e.get("trip_id") or e.get("account_id") or e.get("spec", {}).get("trip_id") or "" for e in row["events"]), ""
    )  # a trip or an account
    if "refused" in row:
        events = f"refused: {row['refused']}"
    return (
        f"{row['shard']} LSN {row['lsn']:>8} {row['at']} {row['command']:<12} {subject:<16} "
        f"{row['request_id'] or '-':<34} {events}"
    )


def archived_trips(data_dir: Path) -> Iterator[dict]:
    """Every archived trip of every shard, summed up: what it carried and took in.  Safe while
    Keyun serves (read-only snapshots)."""
    _require_readable(data_dir)
    for shard in shard_directories(data_dir):
        for record in _archive_of(shard):
            yield _trip_summary(shard.name, _trip_of(record))


def archived_trip(data_dir: Path, trip_id: str) -> dict:
    """One archived trip with its tickets and orders; AdminError if no shard archived it."""
    _require_readable(data_dir)
    for shard in shard_directories(data_dir):
        record = _archived_record(shard, trip_id)
        if record is not None:
            trip = _trip_of(record)
            return {
                **_trip_summary(shard.name, trip),
                "tickets": [_ticket_row(trip, ticket) for ticket in trip.tickets.values()],
                "orders": [
                    {
                        "order_id": o.order_id,
                        "status": o.status.value,
                        "method": o.method,
                        "amount_fen": o.amount_fen,
                        "buyer": o.buyer,
                        "paid_fen": sum(p.amount_fen for p in o.payments),
                        "refunded_fen": sum(r.amount_fen for r in o.refunds),
                    }
                    for o in trip.orders.values()
                ],
            }
    raise AdminError(f"no shard of {data_dir} has archived trip {trip_id}")


def _archive_of(shard: Path) -> Iterator[tuple]:
    with _snapshot_of(shard) as store:
        if store is not None:
            yield from store.archived_trips()


def _archived_record(shard: Path, trip_id: str) -> tuple | None:
    with _snapshot_of(shard) as store:
        return store.archived_trip(trip_id) if store is not None else None


def _trip_of(record: tuple) -> Trip:
    return next(iter(state_of(record).trips.values()))


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="minutes") if ms else ""


def _trip_summary(shard: str, trip: Trip) -> dict:
    tickets = list(trip.tickets.values())
    kept = [t for t in tickets if t.status in (TicketStatus.ISSUED, TicketStatus.CHECKED_IN)]
    return {
        "shard": shard,
        "trip_id": trip.spec.trip_id,
        "route": trip.spec.route_name,
        "departs_at": _iso(trip.departs_at_ms(0)),
        "departed_at": _iso(trip.departed_at_ms),
        "cancelled_at": _iso(trip.cancelled_at_ms),
        "tickets_issued": len(tickets),
        "tickets_kept": len(kept),
        "checked_in": sum(t.status is TicketStatus.CHECKED_IN for t in tickets),
        "fares_fen": sum(t.price_fen for t in tickets),
        "refunded_fen": sum(t.refunded_fen for t in tickets),
        "orders": len(trip.orders),
    }


def _ticket_row(trip: Trip, ticket) -> dict:
    stops = trip.spec.stops
    return {
        "ticket_id": ticket.ticket_id,
        "seat": trip.seat_labels[ticket.seat],
        "from": stops[ticket.from_stop].code,
        "to": stops[ticket.to_stop].code,
        "status": ticket.status.value,
        "price_fen": ticket.price_fen,
        "refunded_fen": ticket.refunded_fen,
        "issued_at": _iso(ticket.issued_at_ms),
        "checked_in_at": _iso(ticket.checked_in_at_ms),
        "holder": ticket.holder.name_masked if ticket.holder is not None else "",
        "order_id": ticket.order_id,
        "changed_to": ticket.changed_to,
    }


def describe_archived(row: dict) -> str:
    """One archived trip as a line of text."""
    state = (
        f"cancelled {row['cancelled_at']}"
        if row["cancelled_at"]
        else f"left {row['departed_at'] or 'by the timetable'}"
    )
    return (
        f"{row['shard']} {row['trip_id']:<20} {row['departs_at']} {row['route']}, {state}: {row['tickets_kept']} of "
        f"{row['tickets_issued']} tickets kept, "
        f"{row['checked_in']} boarded, fares {row['fares_fen'] / 100:.2f} yuan, refunded "
        f"{row['refunded_fen'] / 100:.2f}, {row['orders']} orders"
    )
