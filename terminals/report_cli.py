"""`keyun report sales|load|shifts|funnel|behaviour|status|settlement|contract`: reports asked of a
running server (docs/reporting.md, docs/settlement.md).  `keyun report rebuild|export` work on a
stopped server's data directory (persistence/cli.py)."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from decimal import Decimal, InvalidOperation

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
    add_settlement_actions(report, today)


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


# --- operator settlement (docs/settlement.md) -------------------------------------------------

FIGURES = [field.name for field in reports_pb2.SettlementFigures.DESCRIPTOR.fields]
# The sheet's lines in reading order: (figure, sign in the amount payable, label).
SHEET_LINES = (
    ("revenue_fen", "+", "ticket revenue"),
    ("base_fen", " ", "  base fare"),
    ("service_fee_fen", " ", "  station service fee (站务费)"),
    ("fuel_surcharge_fen", " ", "  fuel surcharge"),
    ("insurance_fen", " ", "  insurance (乘意险)"),
    ("refund_fen", "-", "refunds paid back"),
    ("changed_fen", "-", "changed away (改签)"),
    ("voided_fen", "-", "voided (废票)"),
    ("station_service_fee_fen", "-", "station service fee kept"),
    ("insurance_held_fen", "-", "insurance, to the insurer"),
    ("agency_fee_fen", "-", "agency fee (客运代理费)"),
    ("refund_fee_station_fen", "-", "refund fees, station's share"),
    ("refund_retained_fen", "-", "refunds' non-refundable parts"),
    ("no_show_station_fen", "-", "no-shows (漏乘), station's share"),
    ("trip_cancelled_fen", "-", "cancelled trips, held for refunds"),
    ("payable_fen", "=", "payable for the tickets"),
)


def add_settlement_actions(report, today: str) -> None:
    """`report settlement show|lines|lock|adjust` and `report contract set|show`."""
    settlement = report.add_parser("settlement", help="operator settlement (结算): sheet, ticket lines, lock, adjust")
    verbs = settlement.add_subparsers(dest="settlement_action", required=True)
    for name, run, helptext in (
        ("show", _settlement_show, "an operator's settlement sheet for a period"),
        ("lines", _settlement_lines, "the sheet's tickets, each with its share of every figure"),
        ("lock", _settlement_lock, "close and lock the period (its totals are never edited after)"),
    ):
        p = verbs.add_parser(name, help=helptext)
        _period_arguments(p, today)
        if name != "lock":
            p.add_argument("--format", choices=("table", "csv", "json"), default="table")
        _common(p)
        p.set_defaults(run=run)
    p = verbs.add_parser("adjust", help="a manual adjustment to a locked period")
    p.add_argument("--lock", required=True, dest="lock_id", help="the lock's id (L000001)")
    p.add_argument("--amount", required=True, help="yuan, e.g. -12.50 (+ pays the operator more)")
    p.add_argument("--reason", required=True)
    _common(p)
    p.set_defaults(run=_settlement_adjust)

    contract = report.add_parser("contract", help="operator settlement contracts: set, show")
    verbs = contract.add_subparsers(dest="contract_action", required=True)
    p = verbs.add_parser("set", help="set an operator's contract from a date on")
    p.add_argument("--operator", required=True)
    p.add_argument("--from", dest="effective_from", default=today, help="effective from this local day (default today)")
    p.add_argument("--agency-fee", required=True, help="percent of the transport fare, e.g. 8.5")
    p.add_argument(
        "--operator-keeps-service-fee", action="store_true", help="the operator, not the station, gets the 站务费"
    )
    p.add_argument("--refund-fees", default="station", help="station, operator, or the station's percent (e.g. 50)")
    p.add_argument("--no-shows", default="operator", help="station, operator, or the station's percent")
    p.add_argument("--deduction", action="append", default=[], help="NAME=YUAN, deducted once per period (repeat)")
    _common(p)
    p.set_defaults(run=_contract_set)
    p = verbs.add_parser("show", help="contracts, locks and adjustments")
    p.add_argument("--operator", default="", help="one operator's (default: every operator's)")
    _common(p)
    p.set_defaults(run=_contract_show)


def _period_arguments(p: argparse.ArgumentParser, today: str) -> None:
    p.add_argument("--operator", required=True, help="the operator's id")
    p.add_argument("--from", dest="from_date", default=today, help="first trip departure day (default today)")
    p.add_argument("--to", dest="to_date", default=None, help="last departure day, inclusive (default: --from)")


def fen_of(yuan: str, what: str) -> int:
    """Yuan as written (12.5, -3) in fen, exactly."""
    try:
        fen = Decimal(yuan) * 100
    except InvalidOperation:
        raise SystemExit(f"{what}: {yuan!r} is not an amount in yuan") from None
    if fen != fen.to_integral_value():
        raise SystemExit(f"{what}: {yuan!r} has more than two decimals")
    return int(fen)


def basis_points(text: str, what: str) -> int:
    """station / operator / a percent, as the station's share in basis points."""
    named = {"station": 10_000, "operator": 0}
    if text in named:
        return named[text]
    return fen_of(text.rstrip("%"), what)  # a percent with two decimals is basis points as yuan is fen


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


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


def kind_name(kind: int) -> str:
    return reports_pb2.SettlementAdjustmentKind.Name(kind).removeprefix("SETTLEMENT_ADJUSTMENT_KIND_").lower()


def _figures(message) -> dict[str, int]:
    return {name: getattr(message, name) for name in FIGURES}


def _settlement_show(args: argparse.Namespace) -> None:
    sheet = _client(args).settlement_sheet(args.operator, args.from_date, args.to_date or args.from_date)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        value = {
            "operator_id": sheet.operator_id,
            "from_date": sheet.from_date,
            "to_date": sheet.to_date,
            "totals": _figures(sheet.totals),
            "deductions": {d.name: d.fen for d in sheet.deductions},
            "deductions_fen": sheet.deductions_fen,
            "lock_id": sheet.lock.lock_id,
            "adjustments": [
                {
                    "kind": kind_name(a.kind),
                    "reason": a.reason,
                    "amount_fen": a.amount_fen,
                    "ticket_ids": list(a.ticket_ids),
                }
                for a in sheet.adjustments
            ],
            "adjustments_fen": sheet.adjustments_fen,
            "amount_payable_fen": sheet.amount_payable_fen,
        }
        print(json.dumps(value, ensure_ascii=False, indent=2))
        return
    rows = [[label, sign, getattr(sheet.totals, name)] for name, sign, label in SHEET_LINES]
    rows += [[f"deduction: {d.name}", "-", d.fen] for d in sheet.deductions]
    rows += [[f"adjustment ({kind_name(a.kind)}): {a.reason}", "+", a.amount_fen] for a in sheet.adjustments]
    rows.append(["amount payable", "=", sheet.amount_payable_fen])
    if fmt == "table":
        rows = [[label, sign, yuan(fen)] for label, sign, fen in rows]
        state = f"locked ({sheet.lock.lock_id})" if sheet.lock.lock_id else "open"
        c = sheet.contract
        print(f"{sheet.operator_id} {sheet.from_date}..{sheet.to_date}, {state}; contract from {c.effective_from}")
    _print(fmt, ["line", "sign", "fen" if fmt == "csv" else "yuan"], rows, "")


def _settlement_lines(args: argparse.Namespace) -> None:
    lines = _client(args).all_settlement_lines(args.operator, args.from_date, args.to_date or args.from_date)
    headers = ["ticket_id", "trip_id", "service_date", "state", "ticket_type", *FIGURES]
    rows = [
        [
            line.ticket_id,
            line.trip_id,
            line.service_date,
            line.state,
            line.ticket_type,
            *_figures(line.figures).values(),
        ]
        for line in lines
    ]
    _print("json" if args.json else args.format, headers, rows, "no tickets in the period")


def _settlement_lock(args: argparse.Namespace) -> None:
    lock = _client(args).lock_settlement(args.operator, args.from_date, args.to_date or args.from_date)
    period = f"{lock.from_date}..{lock.to_date}"
    print(f"locked {lock.lock_id}: {lock.operator_id} {period}, payable {yuan(lock.amount_payable_fen)}")


def _settlement_adjust(args: argparse.Namespace) -> None:
    adjustment = _client(args).add_adjustment(args.lock_id, args.reason, fen_of(args.amount, "--amount"))
    print(f"adjustment {adjustment.adjustment_id} to {adjustment.lock_id}: {yuan(adjustment.amount_fen)}")


def _contract_set(args: argparse.Namespace) -> None:
    deductions = []
    for text in args.deduction:
        name, _, amount = text.partition("=")
        deductions.append(reports_pb2.Deduction(name=name, fen=fen_of(amount, f"--deduction {name}")))
    contract = reports_pb2.OperatorContract(
        operator_id=args.operator,
        effective_from=args.effective_from,
        agency_fee_bp=basis_points(args.agency_fee, "--agency-fee"),
        operator_keeps_service_fee=args.operator_keeps_service_fee,
        refund_fee_station_bp=basis_points(args.refund_fees, "--refund-fees"),
        no_show_station_bp=basis_points(args.no_shows, "--no-shows"),
        deductions=deductions,
    )
    saved = _client(args).set_contract(contract)
    print(f"contract of {saved.operator_id} from {saved.effective_from}: agency fee {saved.agency_fee_bp / 100:g} %")


def _contract_show(args: argparse.Namespace) -> None:
    found = _client(args).contracts(args.operator)
    headers = ["operator", "from", "agency_fee_bp", "service_fee_to", "refund_fee_station_bp", "no_show_station_bp"]
    headers.append("deductions")
    rows = [
        [
            c.operator_id,
            c.effective_from,
            c.agency_fee_bp,
            "operator" if c.operator_keeps_service_fee else "station",
            c.refund_fee_station_bp,
            c.no_show_station_bp,
            "; ".join(f"{d.name} {yuan(d.fen)}" for d in c.deductions),
        ]
        for c in found.contracts
    ]
    if args.json:
        locks = [
            {"lock_id": k.lock_id, "operator_id": k.operator_id, "from_date": k.from_date, "to_date": k.to_date}
            for k in found.locks
        ]
        print(json.dumps({"contracts": [dict(zip(headers, row)) for row in rows], "locks": locks}, ensure_ascii=False))
        return
    print(table(headers, rows, empty="no contracts"))
    for k in found.locks:
        print(f"locked {k.lock_id}: {k.operator_id} {k.from_date}..{k.to_date}, payable {yuan(k.amount_payable_fen)}")
    for a in found.adjustments:
        print(f"adjustment {a.adjustment_id} to {a.lock_id}: {yuan(a.amount_fen)} ({a.reason})")
