"""`keyun backup`, `keyun restore`, `keyun upgrade`, `keyun wal verify|dump`, `keyun archive list|show` and
`keyun audit verify|tail`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from pathlib import Path

import lmdb

from keyun.engine.audit import HASH_BYTES, TEXT_FIELDS, AuditRecord

from . import admin, layout, legacy, upgrade
from .audit_store import MAX_AUDIT_PAGE, AuditLogDamaged
from .keyring import Keyring, KeyringError
from .wal import WalCorruption

# `keyun audit verify` prints a progress line this often while it walks a long log.
AUDIT_PROGRESS_EVERY_S = 1.0


def add_verbs(verbs) -> None:
    p = verbs.add_parser("backup", help="copy a data directory consistently, also while Keyun serves")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--to", type=Path, required=True, help="a new or empty directory for the backup")
    p.set_defaults(run=_backup)

    p = verbs.add_parser("restore", help="check a backup and restore it into a new data directory")
    p.add_argument("--from", dest="source", type=Path, required=True, help="a directory made by keyun backup")
    p.add_argument("--data-dir", type=Path, required=True, help="a new or empty directory")
    p.add_argument(
        "--key-dir",
        type=Path,
        help="where the backed-up station's keys are on this host (default: where that station had them)",
    )
    p.set_defaults(run=_restore)

    p = verbs.add_parser(
        "upgrade",
        help="rewrite a data directory of an earlier Keyun in the current data format, once (stop Keyun)",
    )
    p.add_argument("--data-dir", type=Path, required=True)
    p.set_defaults(run=_upgrade)

    wal = verbs.add_parser("wal", help="inspect the write-ahead logs of a data directory").add_subparsers(
        dest="action", required=True
    )
    p = wal.add_parser("verify", help="check every record's frame, checksum and order")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=_verify)
    p = wal.add_parser("dump", help="print every logged command and its events, oldest first")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--shard", help="only this owner's log: a shard number (e.g. 0), or accounts")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_dump)

    archive = verbs.add_parser(
        "archive", help="read the trips the owners archived (also while Keyun serves)"
    ).add_subparsers(dest="action", required=True)
    p = archive.add_parser("list", help="every archived trip: tickets, boardings, fares and refunds")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_archive_list)
    p = archive.add_parser("show", help="one archived trip with its tickets and orders")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--trip", required=True, help="the trip id, e.g. B1-20300102")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=_archive_show)

    add_audit_verbs(verbs)


def add_audit_verbs(verbs) -> None:
    audit = verbs.add_parser(
        "audit", help="check or read the audit log of a data directory (also while Keyun serves)"
    ).add_subparsers(dest="action", required=True)
    p = audit.add_parser("verify", help="walk the hash chain; exit 1 on any altered, removed or reordered record")
    p.add_argument("--data-dir", type=Path, required=True, help="a Keyun data directory (its audit log is DIR/audit)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument(
        "--expect-head",
        type=_head,
        metavar="SEQ:HEXHASH",
        help="a head printed by an earlier verify: also detects records removed from the end, or a rewritten chain",
    )
    p.set_defaults(run=_audit_verify)
    p = audit.add_parser("tail", help="print the newest records, oldest of them first")
    p.add_argument("--data-dir", type=Path, required=True, help="a Keyun data directory (its audit log is DIR/audit)")
    p.add_argument("-n", type=_tail_count, default=20, help=f"how many records (default 20, at most {MAX_AUDIT_PAGE})")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_audit_tail)


# `keyun report` actions run here, on a data directory, rather than asked of a server.
REPORT_ACTIONS = {"rebuild", "export", "prune-archive"}
REBUILD_PROGRESS_EVERY_S = 1.0


def add_report_actions(report) -> None:
    p = report.add_parser(
        "rebuild", help="project every owner's whole log into the reporting store again (stop Keyun first)"
    )
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--key-dir", type=Path, help="the station's keys (default: DATA_DIR-keys beside it)")
    p.set_defaults(run=_rebuild)
    p = report.add_parser("export", help="write the reporting store's tables as Parquet files (stop Keyun first)")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--to", type=Path, required=True, help="a directory for the .parquet files")
    p.set_defaults(run=_export)
    p = report.add_parser(
        "prune-archive",
        help="delete archived log segments the reports no longer need (projected, and settled or past --before; "
        "stop Keyun first)",
    )
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument(
        "--before",
        type=_local_date,
        help="retention: trips departing before this local date (YYYY-MM-DD), and accounts records written "
        "before it, may go even unlocked",
    )
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    p.set_defaults(run=_prune_archive)


def _local_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _prune_archive(args) -> None:
    from .report_archive import prune
    from .reports import ReportStoreError, store_path

    if not store_path(args.data_dir).exists():
        raise ReportStoreError(f"{args.data_dir} has no reporting store: nothing is known to be projected")
    verdicts = prune(args.data_dir, args.before, args.dry_run)
    for v in verdicts:
        action = ("would delete" if args.dry_run else "deleted") if v.delete else "kept"
        where = v.path.relative_to(args.data_dir)
        print(f"{action} {where} (records {v.first_lsn}..{v.last_lsn}, {v.bytes} bytes): {v.why}")
    gone = [v for v in verdicts if v.delete]
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{verb} {len(gone)} archived segments ({sum(v.bytes for v in gone)} bytes), "
        f"kept {len(verdicts) - len(gone)} ({sum(v.bytes for v in verdicts if not v.delete)} bytes)"
    )


def _rebuild(args) -> None:
    from .reports import ReportStore, store_path  # DuckDB loads for these verbs only

    keyring = Keyring.open(args.key_dir or layout.default_key_dir(args.data_dir))
    store = ReportStore(args.data_dir, keyring)
    started = last = time.monotonic()

    def progress(owner: str, lsn: int) -> None:
        nonlocal last
        if time.monotonic() - last >= REBUILD_PROGRESS_EVERY_S:
            last = time.monotonic()
            print(f"rebuilding: {owner} at record {lsn}", flush=True)

    try:
        done = store.rebuild(progress)
        gaps = sum(p.gaps for p in store.positions.values())
    finally:
        store.close()
    missing = f"; {gaps} records were retired before they could be projected (see docs/reporting.md)" if gaps else ""
    print(
        f"rebuilt {store_path(args.data_dir)}: {done.records} log records, {done.events} events "
        f"in {time.monotonic() - started:.1f} s{missing}"
    )


def _export(args) -> None:
    from .reports import ReportStore, ReportStoreError, store_path

    if not store_path(args.data_dir).exists():
        raise ReportStoreError(
            f"{args.data_dir} has no reporting store yet (start keyun serve, or keyun report rebuild)"
        )
    store = ReportStore(args.data_dir, None, read_only=True)
    try:
        written = store.export(args.to)
    finally:
        store.close()
    print(f"exported {len(written)} tables to {args.to}: " + ", ".join(p.name for p in written))


class _NoReports(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    reports_error: type[Exception] = _NoReports
    if args.verb == "report":
        from .reports import ReportStoreError as reports_error
    try:
        return args.run(args) or 0
    except (reports_error, KeyringError) as error:
        print(f"keyun {args.verb}: {error}", file=sys.stderr)
        return 1
    except (admin.AdminError, upgrade.UpgradeError, legacy.LegacyDataError, WalCorruption) as error:
        print(f"keyun {args.verb}: {error}", file=sys.stderr)
        return 1
    except (lmdb.Error, AuditLogDamaged) as error:
        print(f"keyun {args.verb}: cannot read the audit log: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `keyun wal dump | head`
        return 0


def _backup(args) -> None:
    summary = admin.backup(args.data_dir, args.to)
    audit = f" and the audit log up to record {summary['audit']['head_seq']}" if summary["audit"] else ""
    print(
        f"backup of {summary['shards']} shards{audit} written to {args.to} ({summary['bytes']} bytes, "
        f"{len(summary['files'])} files)"
    )
    print(f"archived log segments: {summary['archive_bytes']} bytes")
    store = summary["reports"]
    if store is None:
        print("reporting store: none yet")
    elif store["copied"]:
        print(f"reporting store: copied ({store['bytes']} bytes, by the {store['by']})")
    else:
        print(f"reporting store: not copied: {store['why']}")


def _restore(args) -> None:
    reports = admin.restore(args.source, args.data_dir)
    trips = sum(r["trips"] for r in reports)
    audit = admin.audit_status(args.data_dir)
    verified = f", audit log verified up to record {audit['head_seq']}" if audit else ""
    key_dir, missing = admin.restored_key_dir(args.source, args.data_dir, args.key_dir)
    print(f"restored {len(reports)} shards into {args.data_dir}: {trips} trips{verified}")
    print(f"reporting store: {admin.restored_reports(args.data_dir)}")
    if missing:
        print(f"first: {missing}")
    serve = [
        "keyun",
        "serve",
        "--data-dir",
        str(args.data_dir),
        "--shards",
        str(len(reports)),
        "--key-dir",
        str(key_dir),
    ]
    print(f"start it with its keys:\n    {shlex.join(serve)}")


def _upgrade(args) -> None:
    summary = upgrade.upgrade(args.data_dir)
    accounts = " and the accounts" if summary["accounts"] else ""
    records = summary["log_records"]
    shards = f"{summary['shards']} shards{accounts}"
    print(f"upgraded {args.data_dir} to format {summary['format']}: {shards}, {records} log records")
    print(f"the format-1 files are kept in {summary['kept']}: delete them once Keyun serves the upgraded directory")


def _verify(args) -> None:
    reports = admin.verify_logs(args.data_dir)
    if args.json:
        print(json.dumps([r.__dict__ for r in reports], indent=2))
        return
    for r in reports:
        print(
            f"shard {r.shard}: ok, snapshot at LSN {r.snapshot_lsn}, log LSN {r.first_lsn}..{r.last_lsn}, {r.records} "
            f"records, {r.events} events"
        )


def _dump(args) -> None:
    for row in admin.dump_logs(args.data_dir, args.shard):
        print(json.dumps(row, ensure_ascii=False) if args.json else admin.describe(row))


def _archive_list(args) -> None:
    for row in admin.archived_trips(args.data_dir):
        print(json.dumps(row, ensure_ascii=False) if args.json else admin.describe_archived(row))


def _archive_show(args) -> None:
    trip = admin.archived_trip(args.data_dir, args.trip)
    if args.json:
        print(json.dumps(trip, ensure_ascii=False, indent=2))
        return
    print(admin.describe_archived(trip))
    for t in trip["tickets"]:
        print(
            f"  {t['ticket_id']:<24} seat {t['seat']:<4} {t['from']}→{t['to']} {t['status']:<10} "
            f"{t['price_fen'] / 100:.2f} yuan {t['holder']}"
        )
    for o in trip["orders"]:
        print(
            f"  order {o['order_id']:<22} {o['status']:<18} {o['method']:<6} paid {o['paid_fen'] / 100:.2f}, refunded "
            f"{o['refunded_fen'] / 100:.2f}"
        )


def _head(text: str) -> tuple[int, bytes]:
    seq, _, digest = text.partition(":")
    try:
        head = int(seq), bytes.fromhex(digest)
    except ValueError:
        head = None
    if head is None or head[0] < 0 or len(head[1]) != HASH_BYTES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not SEQ:HEXHASH (a sequence number and a {2 * HASH_BYTES}-digit hash)"
        )
    return head


def _tail_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_AUDIT_PAGE:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to {MAX_AUDIT_PAGE}")
    return count


class _EverySecond:
    """verify's progress: one line on stderr at most every AUDIT_PROGRESS_EVERY_S, so a long walk
    shows it is alive on a terminal and in a log file alike, and a short one prints nothing."""

    def __init__(self) -> None:
        self.printed_at = time.monotonic()

    def __call__(self, checked: int, total: int) -> None:
        if time.monotonic() - self.printed_at >= AUDIT_PROGRESS_EVERY_S:
            self.printed_at = time.monotonic()
            print(f"audit verify: {checked}/{total} records checked", file=sys.stderr, flush=True)


def _audit_verify(args) -> int:
    store = admin.open_audit(args.data_dir)
    try:
        report = store.verify(progress=_EverySecond(), expect_head=args.expect_head)
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    head = f"head {report.head_seq}:{report.head_hash.hex()}"
    if not report.ok:
        print(
            f"audit log: {report.problem.value} at record {report.at_seq}: {report.message} ({report.checked} records "
            f"verified before it, {head})"
        )
        return 1
    print(f"audit log: ok, {report.checked} records checked after the purge anchor {report.anchor_seq}, {head}")
    if args.expect_head is not None:
        noted = (
            "matches the head noted earlier"
            if report.expected_head_checked
            else "the head noted earlier was purged since and could not be checked"
        )
        print(f"audit log: {noted}")
    return 0


def _audit_tail(args) -> None:
    store = admin.open_audit(args.data_dir)
    try:
        rows = store.tail(args.n)
    finally:
        store.close()
    for seq, record in rows:
        print(json.dumps(_audit_row(seq, record), ensure_ascii=False) if args.json else _describe_audit(seq, record))


def _audit_row(seq: int, record: AuditRecord | None) -> dict:
    if record is None:
        return {"seq": seq, "unreadable": True}
    at = dt.datetime.fromtimestamp(record.at_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")
    return {"seq": seq, "at": at, **dict(zip(("at_ms", *TEXT_FIELDS), record.values(), strict=True))}


def _describe_audit(seq: int, record: AuditRecord | None) -> str:
    row = _audit_row(seq, record)
    if record is None:
        return f"{seq:>10} unreadable: run keyun audit verify"
    who = " ".join(f"{name}={row[name] or '-'}" for name in ("actor", "role", "device", "station", "source"))
    line = f"{seq:>10} {row['at']} {record.outcome:<20} {record.action} {record.target or '-'} {who}"
    return f"{line} {record.detail}" if record.detail else line
