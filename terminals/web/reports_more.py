"""The report pages for loads, shifts, the booking funnel and behaviour (docs/reporting.md says what
each number means): each one function and one template, as in reports.py ("Adding a report page"
in docs/web.md).  reports.py imports this module, so the pages join its index and navigation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from keyun.terminals import printing
from keyun.v1 import reports_pb2

from . import i18n
from .app import gateway
from .charts import Series, Table, bar_chart, heat_map, line_chart
from .reports import CHINA, Figure, ReportContent, _channel_name, every_line, money, period, report_page, yuan_number
from .session import Session

# The funnel's steps, in order, and the drop-off each step after the first has (reports.proto).
FUNNEL_STEPS = ("searched", "seat_maps", "held", "ordered", "paid")
# The reply's drop-off after each step but the first (searched -> seat map, seat map -> held, ...).
FUNNEL_DROPS = ("seat_map_drop_pct", "held_drop_pct", "ordered_drop_pct", "paid_drop_pct")
FUNNEL_CHANNELS = ("kiosk", "handheld", "counter", "wallet", "web", "other")
# Origin-destination pairs drawn as bars at most (the table has all the reply's, up to 50).
OD_BARS = 12
HOURS = tuple(range(24))
WEEKDAYS = tuple(range(1, 8))  # 1 Monday .. 7 Sunday, as the reply numbers them


def percent(value: float) -> str:
    return f"{value:.2f}%"


def drop_pct(before: int, after: int) -> float:
    """The share of `before` that did not reach the next step, as the gateway rounds it."""
    return round(100.0 * (before - after) / before, 2) if before else 0.0


# ---- load --------------------------------------------------------------------------------------


@report_page("/reports/load", "reports.load.title", "reports.load.blurb")
async def load(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    span = period(request)

    async def lines(group_by: Sequence[str]) -> list[reports_pb2.LoadLine]:
        query = reports_pb2.LoadReportRequest(
            group_by=list(group_by), from_date=span.first.isoformat(), to_date=span.last.isoformat()
        )
        return await every_line(request, session, gateway(request).reports.LoadReport, query)

    by_trip = await lines(("trip",))
    trips = [line.group[0] for line in by_trip]
    chosen = request.query.get("trip", "")
    if chosen not in trips:
        chosen = trips[0] if trips else ""
    # The chosen trip's legs first: with the trips beside them on a wide screen.
    figures = [_legs(_, chosen, next(line for line in by_trip if line.group[0] == chosen))] if chosen else []
    figures += [_load_by(_, "trip", by_trip), _load_by(_, "route", await lines(("route",)))]
    return ReportContent(figures, {"period": span, "trips": trips, "chosen": chosen})


def _load_by(_, by: str, lines: list[reports_pb2.LoadLine]) -> Figure:
    labels = [line.group[0] or "—" for line in lines]
    group_name = _(f"reports.group.{by}")
    title = _("reports.load.by", group=group_name)
    chart = bar_chart(
        title,
        _("reports.load.by.desc", group=group_name),
        labels,
        [
            Series(_("reports.load.load_factor"), tuple(100 * line.load_factor for line in lines)),
            Series(_("reports.load.tickets_per_seat"), tuple(100 * line.tickets_per_seat for line in lines)),
        ],
        fmt=lambda value: f"{value:.0f}%",
    )
    headers = (
        group_name,
        *(
            _(f"reports.load.{name}")
            for name in ("trips", "seats", "tickets", "checked_in", "no_shows", "no_show_fen", "peak_on_board")
        ),
        _("reports.load.passenger_km"),
        _("reports.load.load_factor"),
        _("reports.load.tickets_per_seat"),
    )
    rows = tuple(
        (
            label,
            line.trips,
            line.seats,
            line.tickets,
            line.checked_in,
            line.no_shows,
            printing.yuan(line.no_show_fen),
            line.peak_on_board,
            line.passenger_km,
            percent(100 * line.load_factor),
            percent(100 * line.tickets_per_seat),
        )
        for label, line in zip(labels, lines, strict=True)
    )
    return Figure(f"by_{by}", title, chart, Table(headers, rows))


def _legs(_, trip_id: str, line: reports_pb2.LoadLine) -> Figure:
    """Passengers on board on each leg of one trip: segment sales make them differ leg by leg."""
    labels = [f"{leg.from_station}→{leg.to_station}" for leg in line.legs]
    title = _("reports.load.legs", trip=trip_id)
    chart = bar_chart(
        title,
        _("reports.load.legs.desc", trip=trip_id, seats=line.seats),
        labels,
        [
            Series(_("reports.load.on_board"), tuple(float(leg.on_board) for leg in line.legs)),
            Series(_("reports.load.checked_in"), tuple(float(leg.checked_in) for leg in line.legs)),
        ],
    )
    headers = (
        _("reports.load.leg"),
        _("reports.load.km"),
        _("reports.load.on_board"),
        _("reports.load.checked_in"),
        _("reports.load.seats"),
    )
    rows = tuple(
        (label, leg.km, leg.on_board, leg.checked_in, line.seats) for label, leg in zip(labels, line.legs, strict=True)
    )
    return Figure("legs", title, chart, Table(headers, rows))


# ---- shifts ------------------------------------------------------------------------------------


def local_time(stamp: Timestamp) -> str:
    if not stamp.seconds:
        return ""
    return dt.datetime.fromtimestamp(stamp.seconds, CHINA).strftime("%m-%d %H:%M")


@report_page("/reports/shifts", "reports.shifts.title", "reports.shifts.blurb")
async def shifts(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    span = period(request)
    query = reports_pb2.ShiftReportRequest(from_date=span.first.isoformat(), to_date=span.last.isoformat())
    lines: list[reports_pb2.ShiftLine] = await every_line(request, session, gateway(request).reports.ShiftReport, query)
    labels = [line.shift_id[-8:] for line in lines]  # the id's end tells shifts apart on the axis
    title = _("reports.shifts.chart")
    chart = bar_chart(
        title,
        _("reports.shifts.chart.desc"),
        labels,
        [
            Series(_("reports.shifts.slip_net"), tuple(yuan_number(line.slip.net_fen) for line in lines)),
            Series(_("reports.shifts.tickets_net"), tuple(yuan_number(line.tickets.net_fen) for line in lines)),
        ],
        fmt=money,
    )
    headers = tuple(
        _(f"reports.shifts.{name}")
        for name in (
            "shift",
            "seller",
            "counter",
            "opened",
            "closed",
            "sold_count",
            "slip_net",
            "tickets_net",
            "difference",
            "reconciled",
            "differences",
        )
    )
    rows = tuple(
        (
            line.shift_id,
            line.seller,
            line.counter_id,
            local_time(line.opened_at),
            local_time(line.closed_at),
            line.slip.sold_count,
            printing.yuan(line.slip.net_fen),
            printing.yuan(line.tickets.net_fen),
            printing.yuan(line.difference_fen),
            _("reports.shifts.yes") if line.reconciled else _("reports.shifts.no"),
            ", ".join(line.differences),
        )
        for line in lines
    )
    figure = Figure("shifts", title, chart, Table(headers, rows))
    # The list above the chart marks each shift reconciled or not (the template colours the row).
    marked = [(row, line.reconciled) for row, line in zip(rows, lines, strict=True)]
    unreconciled = sum(1 for line in lines if not line.reconciled)
    return ReportContent(
        [figure], {"period": span, "shift_rows": marked, "headers": headers, "unreconciled": unreconciled}
    )


# ---- the funnel --------------------------------------------------------------------------------


@report_page("/reports/funnel", "reports.funnel.title", "reports.funnel.blurb")
async def funnel(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    span = period(request)
    channel = request.query.get("channel", "")
    if channel not in FUNNEL_CHANNELS:
        channel = ""
    gw = gateway(request)
    query = reports_pb2.FunnelReportRequest(
        from_date=span.first.isoformat(), to_date=span.last.isoformat(), channel=channel
    )
    reply = await gw.call(gw.reports.FunnelReport, query, session)
    lines = list(reply.lines)
    figures = [_funnel_by_channel(_, lines), _funnel_by_day(_, [d.isoformat() for d in span.days], lines)]
    return ReportContent(
        figures,
        {"period": span, "channel": channel, "channels": FUNNEL_CHANNELS, "sample_rate": reply.sample_rate},
    )


def funnel_sums(lines: Sequence[reports_pb2.FunnelLine]) -> dict[str, dict[str, int]]:
    """Each channel's steps summed over the period's days (and abandoned), channels in order."""
    sums: dict[str, dict[str, int]] = {}
    for line in sorted(lines, key=lambda one: one.channel):
        into = sums.setdefault(line.channel, dict.fromkeys((*FUNNEL_STEPS, "abandoned"), 0))
        for step in (*FUNNEL_STEPS, "abandoned"):
            into[step] += getattr(line, step)
    return sums


def _funnel_by_channel(_, lines: Sequence[reports_pb2.FunnelLine]) -> Figure:
    sums = funnel_sums(lines)
    channels = list(sums)
    series = [
        Series(_(f"reports.funnel.{step}"), tuple(float(sums[c][step]) for c in channels)) for step in FUNNEL_STEPS
    ]
    title = _("reports.funnel.chart")
    chart = bar_chart(title, _("reports.funnel.chart.desc"), [_channel_name(_, c) for c in channels], series)
    drops = FUNNEL_DROPS
    headers = (
        _("reports.group.channel"),
        *(_(f"reports.funnel.{step}") for step in (*FUNNEL_STEPS, "abandoned")),
        *(_(f"reports.funnel.{drop}") for drop in drops),
    )
    rows = tuple(
        (
            _channel_name(_, c),
            *(sums[c][step] for step in (*FUNNEL_STEPS, "abandoned")),
            *(
                percent(drop_pct(sums[c][before], sums[c][after]))
                for before, after in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:], strict=False)
            ),
        )
        for c in channels
    )
    return Figure("by_channel", title, chart, Table(headers, rows))


def _funnel_by_day(_, days: list[str], lines: Sequence[reports_pb2.FunnelLine]) -> Figure:
    """Searched and paid per day, every channel together; the table has the reply's lines as they are."""
    per_day: dict[str, dict[str, int]] = {}
    for line in lines:
        into = per_day.setdefault(line.day, dict.fromkeys(FUNNEL_STEPS, 0))
        for step in FUNNEL_STEPS:
            into[step] += getattr(line, step)
    series = [
        Series(_(f"reports.funnel.{step}"), tuple(float(per_day.get(d, {}).get(step, 0)) for d in days))
        for step in ("searched", "held", "paid")
    ]
    title = _("reports.funnel.by_day")
    chart = line_chart(title, _("reports.funnel.by_day.desc"), [d[5:] for d in days], series)
    drops = FUNNEL_DROPS
    headers = (
        _("reports.group.day"),
        _("reports.group.channel"),
        *(_(f"reports.funnel.{step}") for step in (*FUNNEL_STEPS, "abandoned")),
        *(_(f"reports.funnel.{drop}") for drop in drops),
    )
    rows = tuple(
        (
            line.day,
            _channel_name(_, line.channel),
            *(getattr(line, step) for step in (*FUNNEL_STEPS, "abandoned")),
            *(percent(getattr(line, drop)) for drop in drops),
        )
        for line in sorted(lines, key=lambda one: (one.day, one.channel))
    )
    return Figure("by_day", title, chart, Table(headers, rows))


# ---- behaviour ---------------------------------------------------------------------------------


@report_page("/reports/behaviour", "reports.behaviour.title", "reports.behaviour.blurb")
async def behaviour(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    span = period(request, default_days=30)
    gw = gateway(request)
    query = reports_pb2.BehaviourReportRequest(from_date=span.first.isoformat(), to_date=span.last.isoformat())
    reply = await gw.call(gw.reports.BehaviourReport, query, session)
    figures = [
        _lead_time(_, list(reply.lead_time)),
        _sales_heat_map(_, list(reply.heat_map)),
        _od_demand(_, list(reply.od_demand)),
        _refund_change(_, list(reply.refund_change)),
        _repeat(_, list(reply.repeat)),
    ]
    return ReportContent(figures, {"period": span})


def _lead_time(_, buckets: list[reports_pb2.LeadTimeBucket]) -> Figure:
    labels = [bucket.bucket for bucket in buckets]
    title = _("reports.behaviour.lead_time")
    series = [Series(_("reports.measure.tickets"), tuple(float(b.tickets) for b in buckets))]
    chart = bar_chart(title, _("reports.behaviour.lead_time.desc"), labels, series)
    headers = (_("reports.behaviour.bucket"), _("reports.measure.tickets"))
    return Figure("lead_time", title, chart, Table(headers, tuple((b.bucket, b.tickets) for b in buckets)))


def _sales_heat_map(_, cells: list[reports_pb2.HeatCell]) -> Figure:
    tickets = {(cell.day_of_week, cell.hour): cell.tickets for cell in cells}
    rows = [_(f"reports.behaviour.weekday.{day}") for day in WEEKDAYS]
    values: list[list[float | None]] = [[float(tickets.get((day, hour), 0)) for hour in HOURS] for day in WEEKDAYS]
    title = _("reports.behaviour.heat")
    chart = heat_map(title, _("reports.behaviour.heat.desc"), rows, [str(hour) for hour in HOURS], values)
    headers = (_("reports.behaviour.weekday"), _("reports.behaviour.hour"), _("reports.measure.tickets"))
    table = tuple((_(f"reports.behaviour.weekday.{day}"), hour, n) for (day, hour), n in sorted(tickets.items()) if n)
    return Figure("heat_map", title, chart, Table(headers, table))


def _od_demand(_, pairs: list[reports_pb2.OdDemand]) -> Figure:
    drawn = pairs[:OD_BARS]  # the reply's order: the most searched first
    labels = [f"{p.from_station}→{p.to_station}" for p in drawn]
    series = [
        Series(_(f"reports.behaviour.{name}"), tuple(float(getattr(p, name)) for p in drawn))
        for name in ("searches", "unmet", "tickets")
    ]
    title = _("reports.behaviour.od", most=OD_BARS)
    chart = bar_chart(title, _("reports.behaviour.od.desc"), labels, series)
    headers = (
        _("reports.behaviour.pair"),
        *(_(f"reports.behaviour.{name}") for name in ("searches", "no_results", "sold_out", "unmet", "tickets")),
    )
    rows = tuple(
        (f"{p.from_station}→{p.to_station}", p.searches, p.no_results, p.sold_out, p.unmet, p.tickets) for p in pairs
    )
    return Figure("od_demand", title, chart, Table(headers, rows))


def _refund_change(_, rates: list[reports_pb2.RefundChangeRate]) -> Figure:
    labels = [rate.bucket for rate in rates]
    series = [
        Series(_("reports.behaviour.refund_pct"), tuple(rate.refund_pct for rate in rates)),
        Series(_("reports.behaviour.change_pct"), tuple(rate.change_pct for rate in rates)),
    ]
    title = _("reports.behaviour.refund_change")
    chart = bar_chart(title, _("reports.behaviour.refund_change.desc"), labels, series, fmt=lambda v: f"{v:.0f}%")
    headers = (
        _("reports.behaviour.bucket"),
        _("reports.measure.tickets"),
        _("reports.measure.refunds"),
        _("reports.measure.changes"),
        _("reports.behaviour.refund_pct"),
        _("reports.behaviour.change_pct"),
    )
    rows = tuple(
        (r.bucket, r.tickets, r.refunds, r.changes, percent(r.refund_pct), percent(r.change_pct)) for r in rates
    )
    return Figure("refund_change", title, chart, Table(headers, rows))


def _repeat(_, lines: list[reports_pb2.RepeatTravellers]) -> Figure:
    """Per month, passengers stacked by how many times they travelled in it."""
    months = sorted({line.month for line in lines})
    counts = sorted({line.trips for line in lines})
    passengers: dict[tuple[str, int], int] = {(line.month, line.trips): line.passengers for line in lines}
    series = [
        Series(_("reports.behaviour.times", n=n), tuple(float(passengers.get((m, n), 0)) for m in months))
        for n in counts
    ]
    title = _("reports.behaviour.repeat")
    chart = bar_chart(title, _("reports.behaviour.repeat.desc"), months, series, stacked=True)
    headers = (_("reports.behaviour.month"), _("reports.behaviour.trips"), _("reports.behaviour.passengers"))
    rows: tuple[tuple[Any, ...], ...] = tuple((m, n, p) for (m, n), p in sorted(passengers.items()))
    return Figure("repeat", title, chart, Table(headers, rows))
