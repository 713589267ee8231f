"""`keyun backup`, `keyun restore` and `keyun wal verify|dump`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import admin
from .wal import WalCorruption


def add_verbs(verbs) -> None:
    p = verbs.add_parser("backup", help="copy a data directory consistently, also while Keyun serves")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--to", type=Path, required=True, help="a new or empty directory for the backup")
    p.set_defaults(run=_backup)

    p = verbs.add_parser("restore", help="check a backup and restore it into a new data directory")
    p.add_argument("--from", dest="source", type=Path, required=True, help="a directory made by keyun backup")
    p.add_argument("--data-dir", type=Path, required=True, help="a new or empty directory")
    p.set_defaults(run=_restore)

    wal = verbs.add_parser("wal", help="inspect the write-ahead logs of a data directory").add_subparsers(dest="action", required=True)
    p = wal.add_parser("verify", help="check every record's frame, checksum and order")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=_verify)
    p = wal.add_parser("dump", help="print every logged command and its events, oldest first")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--shard", help="only this shard (e.g. 0)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_dump)


def run(args: argparse.Namespace) -> int:
    try:
        args.run(args)
    except (admin.AdminError, WalCorruption) as error:
        print(f"keyun {args.verb}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `keyun wal dump | head`
        pass
    return 0


def _backup(args) -> None:
    summary = admin.backup(args.data_dir, args.to)
    print(f"backup of {summary['shards']} shards written to {args.to} ({summary['bytes']} bytes, {len(summary['files'])} files)")


def _restore(args) -> None:
    reports = admin.restore(args.source, args.data_dir)
    trips = sum(r["trips"] for r in reports)
    print(f"restored {len(reports)} shards into {args.data_dir}: {trips} trips; start it with keyun serve --data-dir {args.data_dir} --shards {len(reports)}")


def _verify(args) -> None:
    reports = admin.verify_logs(args.data_dir)
    if args.json:
        print(json.dumps([r.__dict__ for r in reports], indent=2))
        return
    for r in reports:
        print(f"shard {r.shard}: ok, snapshot at LSN {r.snapshot_lsn}, log LSN {r.first_lsn}..{r.last_lsn}, {r.records} records, {r.events} events")


def _dump(args) -> None:
    for row in admin.dump_logs(args.data_dir, args.shard):
        print(json.dumps(row, ensure_ascii=False) if args.json else admin.describe(row))
