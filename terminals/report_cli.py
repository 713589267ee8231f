"""`keyun report sales|load|shifts|funnel|behaviour|status`: reports asked of a running server (docs/reporting.md).
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
CHANNELS = ("kiosk", "handheld", "counter", "wallet", "web", "other")
SECTION_ROWS = {
    "lead_time": reports_pb2.LeadTimeBucket,
    "heat_map": reports_pb2.HeatCell,
    "od_demand": reports_pb2.OdDemand,
    "refund_change": reports_pb2.RefundChangeRate,
    "repeat": reports_pb2.RepeatTravellers,
}
SECTIONS = tuple(SECTION_ROWS)
MEASURES = [field.name for field in reports_pb2.SalesLine.DESCRIPTOR.fields if field.name != "group"]
LOAD_GROUPS = ("trip", "route", "operator", "day")
LOAD_MEASURES = [f.name for f in reports_pb2.LoadLine.DESCRIPTOR.fields if f.name not in ("group", "legs")]
SHIFT_TOTALS = [f.name for f in reports_pb2.ShiftTotals.DESCRIPTOR.fields if f.name != "methods"]


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

    p = report.add_parser(
        "load", help="load factor of the trips departing in a period, with passengers on board by leg"
    )
    p.add_argument("--by", action="append", choices=LOAD_GROUPS, default=[], help="group by this (repeatable)")
    p.add_argument("--from", dest="from_date", default=today, help="first departure day YYYY-MM-DD (default today)")
    p.add_argument("--to", dest="to_date", default=None, help="last departure day, inclusive (default: --from)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _common(p)
    p.set_defaults(run=_load)

    p = report.add_parser("shifts", help="closed counter shifts: each slip reconciled against its tickets")
    p.add_argument("--from", dest="from_date", default=today, help="first day shifts closed YYYY-MM-DD (default today)")
    p.add_argument("--to", dest="to_date", default=None, help="last day, inclusive (default: --from)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _common(p)
    p.set_defaults(run=_shifts)

    p = report.add_parser("status", help="the report projector's position and lag per owner")
    _common(p)
    p.set_defaults(run=_status)
    add_upload_actions(report, today)


def add_upload_actions(report, today: str) -> None:
    """`report upload status|resend|reconcile`: uploads to the transport authority (docs/authority.md)."""
    upload = report.add_parser(
        "upload", help="uploads to the transport authority (数据上报): status, resend, reconcile"
    )
    actions = upload.add_subparsers(dest="upload_action", required=True)
    p = actions.add_parser("status", help="what waits for the platform, what it acknowledged, reconciliations")
    _common(p)
    p.set_defaults(run=_upload_status)
    p = actions.add_parser("resend", help="retry what waits now; with --date, send that day's transactions again")
    p.add_argument("--date", default="", help="local day YYYY-MM-DD to send again (after a reconciliation mismatch)")
    _common(p)
    p.set_defaults(run=_upload_resend)
    p = actions.add_parser("reconcile", help="send what waits and the day's file, then compare counts and amounts")
    p.add_argument("--date", default=today, help="local day YYYY-MM-DD (default today)")
    _common(p)
    p.set_defaults(run=_upload_reconcile)

    p = report.add_parser("funnel", help="the booking funnel by day and channel: searched to paid, with drop-off")
    p.add_argument("--from", dest="from_date", default=today, help="first local day YYYY-MM-DD (default today)")
    p.add_argument("--to", dest="to_date", default=None, help="last local day, inclusive (default: --from)")
    p.add_argument("--channel", default="", choices=("", *CHANNELS), help="only this channel")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _common(p)
    p.set_defaults(run=_funnel)

    p = report.add_parser(
        "behaviour", help="lead times, sales heat map, unmet demand by OD pair, refund/change rates, repeat travellers"
    )
    p.add_argument("--from", dest="from_date", default=today, help="first local day YYYY-MM-DD (default today)")
    p.add_argument("--to", dest="to_date", default=None, help="last local day, inclusive (default: --from)")
    p.add_argument(
        "--section", action="append", choices=SECTIONS, default=[], help="only this section (repeat); default all"
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="csv: one --section")
    _common(p)
    p.set_defaults(run=_behaviour)


def _sales(args: argparse.Namespace) -> None:
    lines = _client(args).sales_report_lines(args.by, args.from_date, args.to_date or args.from_date)
    headers = [*args.by, *MEASURES]
    rows = [[*line.group, *(getattr(line, m) for m in MEASURES)] for line in lines]
    _print(_format(args), headers, rows, "no sales in the period")


def _load(args: argparse.Namespace) -> None:
    lines = _client(args).load_report_lines(args.by, args.from_date, args.to_date or args.from_date)
    headers = [*args.by, *LOAD_MEASURES]
    rows = [[*line.group, *(_rounded(getattr(line, m)) for m in LOAD_MEASURES)] for line in lines]
    fmt = _format(args)
    if fmt == "json":  # with each trip's legs
        value = [dict(zip(headers, row)) | {"legs": [_leg(leg) for leg in line.legs]} for line, row in zip(lines, rows)]
        print(json.dumps(value, ensure_ascii=False, indent=2))
        return
    _print(_format(args), headers, rows, "no trips departing in the period")
    if fmt == "table":
        for line in lines:
            if line.legs:
                legs = [(leg.from_station, leg.to_station, leg.km, leg.on_board, leg.checked_in) for leg in line.legs]
                print(f"\n{line.group[args.by.index('trip')]}: on board by leg")
                print(table(("from", "to", "km", "on_board", "checked_in"), legs))


def _leg(leg) -> dict:
    return {f.name: getattr(leg, f.name) for f in leg.DESCRIPTOR.fields}


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


def _shifts(args: argparse.Namespace) -> None:
    lines = _client(args).shift_report_lines(args.from_date, args.to_date or args.from_date)
    headers = ["shift_id", "seller", "counter_id", "reconciled", "difference_fen"]
    headers += [f"slip_{t}" for t in SHIFT_TOTALS] + [f"tickets_{t}" for t in SHIFT_TOTALS] + ["differences"]
    rows = [
        [
            line.shift_id,
            line.seller,
            line.counter_id,
            line.reconciled,
            line.difference_fen,
            *(getattr(line.slip, t) for t in SHIFT_TOTALS),
            *(getattr(line.tickets, t) for t in SHIFT_TOTALS),
            " ".join(line.differences),
        ]
        for line in lines
    ]
    if (args.format == "table") and not args.json:  # the table: the totals that matter, side by side
        brief = [
            [*row[:5], line.slip.net_fen, line.tickets.net_fen, " ".join(line.differences)]
            for line, row in zip(lines, rows)
        ]
        short = [*headers[:5], "slip_net_fen", "tickets_net_fen", "differences"]
        print(table(short, brief, empty="no shift closed in the period"))
        return
    _print(_format(args), headers, rows, "no shift closed in the period")


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


def _print(fmt: str, headers: list[str], rows: list[list], empty: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(headers, row)) for row in rows], ensure_ascii=False, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        print(table(headers, rows, empty=empty))


def _format(args: argparse.Namespace) -> str:
    return "json" if args.json else args.format


def _fields(message) -> list[str]:
    return [field.name for field in message.DESCRIPTOR.fields]


def _funnel(args: argparse.Namespace) -> None:
    reply = _client(args).funnel_report(args.from_date, args.to_date or args.from_date, args.channel)
    headers = _fields(reports_pb2.FunnelLine)
    rows = [[getattr(line, name) for name in headers] for line in reply.lines]
    fmt = _format(args)
    _print(fmt, headers, rows, "no funnel events in the period")
    if fmt == "table" and reply.sample_rate < 1:
        print(f"searches and seat maps sampled at {reply.sample_rate:g} and scaled back")


def _behaviour(args: argparse.Namespace) -> None:
    fmt = _format(args)
    if fmt == "csv" and len(args.section) != 1:
        raise SystemExit("keyun report behaviour --format csv: name exactly one --section")
    reply = _client(args).behaviour_report(args.from_date, args.to_date or args.from_date, args.section)
    sections = args.section or list(SECTIONS)
    if fmt == "json":
        value = {
            name: [{f: getattr(row, f) for f in _fields(row)} for row in getattr(reply, name)] for name in sections
        }
        print(json.dumps(value, ensure_ascii=False, indent=2))
        return
    for name in sections:
        rows = list(getattr(reply, name))
        headers = _fields(SECTION_ROWS[name])
        if fmt == "table":
            print(f"{name}:")
        _print(fmt, headers, [[getattr(row, h) for h in headers] for row in rows], "nothing in the period")


def _upload_status(args: argparse.Namespace) -> None:
    from google.protobuf.json_format import MessageToDict

    status = _client(args).upload_status()
    if args.json:
        print(json.dumps(MessageToDict(status, preserving_proto_field_name=True), ensure_ascii=False, indent=2))
        return
    print(
        f"platform {status.platform_url} as {status.station_id}: {'connected' if status.connected else 'NOT connected'}"
    )
    print(f"acknowledged: {status.acked_batches} batches, {status.acked_records} records")
    if status.waiting_batches:
        print(
            f"WAITING: {status.waiting_batches} batches, {status.waiting_records} records, the oldest for "
            f"{status.oldest_waiting_seconds:.0f} s"
        )
        rows = [
            (b.batch_id, b.category, b.records, b.attempts, f"{b.age_seconds:.0f}", b.last_error)
            for b in status.waiting
        ]
        print(table(("batch", "category", "records", "attempts", "age s", "last error"), rows))
    else:
        print("nothing waiting")
    if status.last_error:
        print(f"last error: {status.last_error}")
    for r in status.reconciliations:
        print(f"reconciled {r.date}: {'match' if r.match else 'MISMATCH ' + r.differences}")


def _upload_resend(args: argparse.Namespace) -> None:
    answer = _client(args).resend_uploads(args.date)
    if args.json:
        print(json.dumps({"queued": list(answer.queued_batch_ids), "waiting": answer.waiting_batches}))
        return
    print(f"{len(answer.queued_batch_ids)} batches queued again; {answer.waiting_batches} waiting, retried now")


def _upload_reconcile(args: argparse.Namespace) -> None:
    answer = _client(args).reconcile_uploads(args.date)
    if args.json:
        from google.protobuf.json_format import MessageToDict

        print(json.dumps(MessageToDict(answer, preserving_proto_field_name=True), ensure_ascii=False, indent=2))
    elif not answer.reachable:
        print(f"{answer.date}: the platform did not answer: {answer.error}")
    elif answer.match:
        print(f"{answer.date}: match ({dict(answer.station.counts)})")
    else:
        print(f"{answer.date}: MISMATCH {answer.differences}; keyun report upload resend --date {answer.date}")
