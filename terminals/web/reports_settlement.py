"""The settlement page (/reports/settlement): one operator's settlement sheet for a period
(docs/settlement.md) as a waterfall from revenue to the amount payable, the sheet's figures, its
lock and adjustments, and its ticket lines a page at a time (all of them in the CSV).

Every settlement call needs the permission `settlement` at the gateway: a report reader without
it gets the refusal page with the gateway's reason.  reports.py imports this module, so the page
joins its index and navigation ("Adding a report page" in docs/web.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from markupsafe import Markup

from keyun.terminals import printing
from keyun.v1 import reports_pb2

from . import i18n
from .app import gateway
from .charts import Step, Table, waterfall_chart
from .reports import CHINA, Figure, ReportContent, money, period, report_page, yuan_number
from .session import Session

# Ticket lines on one page of the HTML table (the CSV has every line).
LINES_SHOWN = 100
# Ticket lines the CSV reads at most: a month of a big operator's tickets, with room to spare.
MAX_CSV_LINES = 200_000
# The waterfall's changes after the revenue, in the order of payable_fen's formula (reports.proto,
# SettlementFigures): each is taken away from the operator's share.
TAKEN_AWAY = (
    "refund_fen",
    "changed_fen",
    "voided_fen",
    "station_service_fee_fen",
    "insurance_held_fen",
    "agency_fee_fen",
    "refund_fee_station_fen",
    "refund_retained_fen",
    "no_show_station_fen",
    "trip_cancelled_fen",
)
FIGURE_NAMES = tuple(field.name for field in reports_pb2.SettlementFigures.DESCRIPTOR.fields)
TICKET_STATES = {
    reports_pb2.SETTLEMENT_TICKET_STATE_SOLD: "sold",
    reports_pb2.SETTLEMENT_TICKET_STATE_CHECKED_IN: "checked_in",
    reports_pb2.SETTLEMENT_TICKET_STATE_NO_SHOW: "no_show",
    reports_pb2.SETTLEMENT_TICKET_STATE_REFUNDED: "refunded",
    reports_pb2.SETTLEMENT_TICKET_STATE_CHANGED: "changed",
    reports_pb2.SETTLEMENT_TICKET_STATE_VOIDED: "voided",
    reports_pb2.SETTLEMENT_TICKET_STATE_TRIP_CANCELLED: "trip_cancelled",
}


def waterfall_steps(sheet: reports_pb2.SettlementSheetResponse) -> list[tuple[str, int, bool]]:
    """The sheet as a sum: (figure, fen, is a total), from the revenue to the amount payable.
    The running total after the last change before each total equals that total (the test checks)."""
    totals = sheet.totals
    steps = [("revenue_fen", totals.revenue_fen, True)]
    steps += [(name, -getattr(totals, name), False) for name in TAKEN_AWAY]
    steps += [
        ("payable_fen", totals.payable_fen, True),
        ("deductions_fen", -sheet.deductions_fen, False),
        ("adjustments_fen", sheet.adjustments_fen, False),
        ("amount_payable_fen", sheet.amount_payable_fen, True),
    ]
    return steps


def figure_name(_, name: str) -> str:
    return _(f"reports.settlement.f.{name}")


@report_page("/reports/settlement", "reports.settlement.title", "reports.settlement.blurb")
async def settlement(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    span = period(request)
    gw = gateway(request)
    listed = await gw.call(gw.reports.ListContracts, reports_pb2.ListContractsRequest(), session)
    operators = sorted({contract.operator_id for contract in listed.contracts})
    chosen = request.query.get("operator", "")
    if chosen not in operators:
        chosen = operators[0] if operators else ""
    context: dict[str, Any] = {"period": span, "operators": operators, "chosen": chosen}
    if not chosen:
        return ReportContent([], context)
    first, last = span.first.isoformat(), span.last.isoformat()
    sheet = await gw.call(
        gw.reports.SettlementSheet,
        reports_pb2.SettlementSheetRequest(operator_id=chosen, from_date=first, to_date=last),
        session,
    )
    lines, total_lines, next_token = await _ticket_lines(request, session, chosen, first, last)
    figures = [_waterfall(_, sheet), _lines(_, lines)]
    context |= {
        "sheet_amount": _signed(sheet.amount_payable_fen),
        "sheet_rows": [(figure_name(_, name), _shown(name, getattr(sheet.totals, name))) for name in FIGURE_NAMES],
        "lock": _lock(sheet.lock) if sheet.lock.lock_id else None,
        "adjustments": [_adjustment(_, one) for one in sheet.adjustments],
        "contract": sheet.contract,
        "deductions": [(one.name, printing.yuan(one.fen)) for one in sheet.deductions],
        "total_lines": total_lines,
        "next_lines": next_token,
        "paged": bool(request.query.get("lines")),
    }
    return ReportContent(figures, context)


def _shown(name: str, value: int) -> str | int:
    """A figure as the sheet shows it: counts as they are, fen as yuan."""
    return _signed(value) if name.endswith("_fen") else value


async def _ticket_lines(
    request: web.Request, session: Session, operator: str, first: str, last: str
) -> tuple[list[reports_pb2.SettlementTicketLine], int, str]:
    """The ticket lines: for the page, the one page its `lines` token names (LINES_SHOWN of them);
    for the CSV download, every line, page after page.  Also the count of all and the next token."""
    gw = gateway(request)
    query = reports_pb2.SettlementLinesRequest(operator_id=operator, from_date=first, to_date=last)
    if not request.path.endswith(".csv"):
        query.page_size, query.page_token = LINES_SHOWN, request.query.get("lines", "")
        reply = await gw.call(gw.reports.SettlementLines, query, session)
        return list(reply.lines), reply.total_lines, reply.next_page_token
    query.page_size = 1000
    lines: list[reports_pb2.SettlementTicketLine] = []
    while True:
        reply = await gw.call(gw.reports.SettlementLines, query, session)
        lines.extend(reply.lines)
        query.page_token = reply.next_page_token
        if not reply.next_page_token or len(lines) >= MAX_CSV_LINES:
            return lines, reply.total_lines, ""


def _waterfall(_, sheet: reports_pb2.SettlementSheetResponse) -> Figure:
    steps = waterfall_steps(sheet)
    title = _("reports.settlement.waterfall")
    chart = waterfall_chart(
        title,
        _("reports.settlement.waterfall.desc"),
        [Step(figure_name(_, name), yuan_number(fen), total) for name, fen, total in steps],
        money,
    )
    rows, running = [], 0
    for name, fen, total in steps:
        running = fen if total else running + fen
        rows.append((figure_name(_, name), _signed(fen), _signed(running)))
    headers = (_("reports.settlement.step"), _("reports.settlement.amount"), _("reports.settlement.running"))
    return Figure("waterfall", title, chart, Table(headers, tuple(rows)))


def _lines(_, lines: list[reports_pb2.SettlementTicketLine]) -> Figure:
    """The ticket lines as a table (no chart: the one above draws them by trip)."""
    headers = (
        _("reports.settlement.ticket"),
        _("reports.group.trip"),
        _("reports.group.service_date"),
        _("reports.settlement.state"),
        _("reports.group.ticket_type"),
        *(figure_name(_, name) for name in FIGURE_NAMES),
    )
    rows = tuple(
        (
            line.ticket_id,
            line.trip_id,
            line.service_date,
            _(f"reports.settlement.state.{TICKET_STATES.get(line.state, 'unknown')}"),
            line.ticket_type,
            *(_shown(name, getattr(line.figures, name)) for name in FIGURE_NAMES),
        )
        for line in lines
    )
    return Figure("lines", _("reports.settlement.lines"), Markup(""), Table(headers, rows))


def _signed(fen: int) -> str:
    return printing.yuan(fen) if fen >= 0 else "-" + printing.yuan(-fen)


def _stamp(ms: int) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)")


def _lock(lock: reports_pb2.SettlementLockInfo) -> dict[str, str]:
    return {
        "lock_id": lock.lock_id,
        "locked_by": lock.locked_by,
        "locked_at": _stamp(lock.locked_at_ms),
        "as_of": _stamp(lock.as_of_ms),
        "amount_payable": _signed(lock.amount_payable_fen),
    }


def _adjustment(_, one: reports_pb2.SettlementAdjustment) -> tuple[str, ...]:
    kind = "late" if one.kind == reports_pb2.SETTLEMENT_ADJUSTMENT_KIND_LATE else "manual"
    return (
        _(f"reports.settlement.adjustment.{kind}"),
        one.adjustment_id or "-",
        one.reason or ", ".join(one.ticket_ids),
        _signed(one.amount_fen),
        one.added_by or "-",
        _stamp(one.added_at_ms),
    )
