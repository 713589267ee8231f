"""`keyun report sales|status`: reports asked of a running server (docs/reporting.md).
`keyun report rebuild|export` work on a stopped server's data directory (persistence/cli.py)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys

from keyun.v1 import reports_pb2

from .cli import _client, _common
from .flows import table

CHINA = dt.timezone(dt.timedelta(hours=8))
GROUPS = ("day", "route", "trip", "operator", "seller", "device", "channel", "ticket_type", "service_date")
MEASURES = [field.name for field in reports_pb2.SalesLine.DESCRIPTOR.fields if field.name != "group"]


def add_actions(report) -> None:
    """`report sales` and `report status` on the `keyun report` parser's actions."""
    today = dt.datetime.now(CHINA).date().isoformat()
    p = report.add_parser("sales", help="sales in a period, grouped: tickets, revenue by component, refunds, ...")
    p.add_argument(
        "--by",
        action="append",
        choices=GROUPS,
        default=[],
        help="group by this (repeat for several); none: one line for the period",
    )
    p.add_argument("--from", dest="from_date", default=today, help="first local day YYYY-MM-DD (default today)")
    p.add_argument("--to", dest="to_date", default=None, help="last local day, inclusive (default: --from)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _common(p)
    p.set_defaults(run=_sales)

    p = report.add_parser("status", help="the report projector's position and lag per owner")
    _common(p)
    p.set_defaults(run=_status)


def _sales(args: argparse.Namespace) -> None:
    lines = _client(args).sales_report_lines(args.by, args.from_date, args.to_date or args.from_date)
    headers = [*args.by, *MEASURES]
    rows = [[*line.group, *(getattr(line, m) for m in MEASURES)] for line in lines]
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(json.dumps([dict(zip(headers, row)) for row in rows], ensure_ascii=False, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        print(table(headers, rows, empty="no sales in the period"))


def _status(args: argparse.Namespace) -> None:
    status = _client(args).projection_status()
    rows = [(o.owner, o.lsn, o.records, o.events, o.behind, o.gaps) for o in status.owners]
    if args.json:
        value = {
            "owners": [dict(zip(("owner", "lsn", "records", "events", "behind", "gaps"), row)) for row in rows],
            "behind_seconds": status.behind_seconds,
            "failure": status.failure,
        }
        print(json.dumps(value, ensure_ascii=False, indent=2))
        return
    print(table(("owner", "lsn", "records", "events", "behind", "gaps"), rows, empty="nothing projected yet"))
    print(f"behind for {status.behind_seconds:.1f} s" if status.behind_seconds else "caught up")
    if status.failure:
        print(f"failing: {status.failure}")
