"""The Reports service: the sales report and the projector's status, asked of the report projector.

The gateway holds no DuckDB connection: the projector (actors/report_projector.py) runs the query
in its own process, and the gateway awaits the answer without blocking its event loop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc

from keyun.engine.channels import CHANNELS
from keyun.engine.reasons import Reason, reject
from keyun.v1 import orders_pb2, reports_pb2, reports_pb2_grpc, shifts_pb2

from .convert import timestamp
from .errors import abort
from .owners import ask_reports

LOAD_GROUPS = ("trip", "route", "operator", "day")  # persistence/load_reports.LOAD_GROUPS
GROUPS = ("day", "route", "trip", "operator", "seller", "device", "channel", "ticket_type", "service_date")
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_DAYS = 366 * 3  # a report spans at most three years
MAX_BEHAVIOUR_DAYS = 366  # funnel and behaviour reports: at most a year
SECTIONS = ("lead_time", "heat_map", "od_demand", "refund_change", "repeat")


class ReportsService(reports_pb2_grpc.ReportsServicer):
    def __init__(self, projector: Any, utc_offset_min: int = 8 * 60, funnel_sample: float = 1.0):
        """`projector`: the report projector's handle, None when reports are off."""
        self.projector = projector
        self.utc_offset_min = utc_offset_min
        self.funnel_sample = funnel_sample

    async def _projector(self, context: grpc.aio.ServicerContext) -> Any:
        if self.projector is None:
            await abort(
                context,
                reject(Reason.REPORTS_OFF, "this server runs without reports: start keyun serve without --no-reports"),
            )
        return self.projector

    async def SalesReport(self, request, context):
        projector = await self._projector(context)
        group_by = await self._groups(context, request.group_by, GROUPS)
        first, last = await self._period(context, request.from_date, request.to_date)
        offset, limit = await self._page(context, request.page_size, request.page_token)
        rows, total = await ask_reports(
            projector, "sales", group_by, self._ms(first), self._ms(last + dt.timedelta(days=1)), offset, limit
        )
        lines = [
            reports_pb2.SalesLine(
                group=[row["group"][name] for name in group_by],
                **{key: value for key, value in row.items() if key != "group"},
            )
            for row in rows
        ]
        return reports_pb2.SalesReportResponse(
            lines=lines, next_page_token=_next_token(offset, len(lines), total), total_lines=total
        )

    async def ProjectionStatus(self, request, context):
        projector = await self._projector(context)
        status = await ask_reports(projector, "status")
        return reports_pb2.ProjectionStatusResponse(
            owners=[reports_pb2.OwnerPosition(**owner) for owner in status["owners"]],
            behind_seconds=status["behind_seconds"],
            failure=status["failure"][:500],
        )

    async def LoadReport(self, request, context):
        projector = await self._projector(context)
        group_by = await self._groups(context, request.group_by, LOAD_GROUPS)
        first, last = await self._period(context, request.from_date, request.to_date)
        offset, limit = await self._page(context, request.page_size, request.page_token)
        rows, total = await ask_reports(projector, "load", group_by, first.isoformat(), last.isoformat(), offset, limit)
        lines = [
            reports_pb2.LoadLine(
                group=[row["group"][name] for name in group_by],
                legs=[reports_pb2.LegLoad(**leg) for leg in row["legs"]],
                **{key: value for key, value in row.items() if key not in ("group", "legs")},
            )
            for row in rows
        ]
        return reports_pb2.LoadReportResponse(
            lines=lines, next_page_token=_next_token(offset, len(lines), total), total_lines=total
        )

    async def ShiftReport(self, request, context):
        projector = await self._projector(context)
        first, last = await self._period(context, request.from_date, request.to_date)
        offset, limit = await self._page(context, request.page_size, request.page_token)
        rows, total = await ask_reports(
            projector, "shifts", self._ms(first), self._ms(last + dt.timedelta(days=1)), offset, limit
        )
        lines = [
            reports_pb2.ShiftLine(
                shift_id=row["shift_id"],
                seller=row["seller"],
                counter_id=row["counter_id"],
                opened_at=timestamp(row["opened_ms"]),
                closed_at=timestamp(row["closed_ms"]),
                slip=_totals(row["slip"], row["slip_methods"]),
                tickets=_totals(row["tickets"], row["ticket_methods"]),
                reconciled=row["reconciled"],
                differences=row["differences"],
                difference_fen=row["difference_fen"],
            )
            for row in rows
        ]
        return reports_pb2.ShiftReportResponse(
            lines=lines, next_page_token=_next_token(offset, len(lines), total), total_lines=total
        )

    async def _groups(self, context: grpc.aio.ServicerContext, names: Any, known: tuple[str, ...]) -> tuple[str, ...]:
        group_by = tuple(names)
        for n, name in enumerate(group_by):
            if name not in known:
                await abort(
                    context,
                    reject(
                        Reason.INVALID_FIELD,
                        f"group_by[{n}]: {name[:40]!r} is not one of {', '.join(known)}",
                        field=f"group_by[{n}]",
                    ),
                )
        if len(set(group_by)) != len(group_by):
            await abort(context, reject(Reason.INVALID_FIELD, "group_by: a group is named twice", field="group_by"))
        return group_by

    async def _period(self, context: grpc.aio.ServicerContext, from_date: str, to_date: str) -> tuple[dt.date, dt.date]:
        first = await self._date(context, "from_date", from_date)
        last = await self._date(context, "to_date", to_date)
        if last < first or (last - first).days > MAX_DAYS:
            await abort(
                context,
                reject(
                    Reason.INVALID_FIELD,
                    f"to_date must be on or after from_date, at most {MAX_DAYS} days later",
                    field="to_date",
                ),
            )
        return first, last

    async def _page(self, context: grpc.aio.ServicerContext, page_size: int, token: str) -> tuple[int, int]:
        """(offset, limit) of the page asked for."""
        if not 0 <= page_size <= MAX_PAGE:
            await abort(context, reject(Reason.INVALID_FIELD, f"page_size: 0..{MAX_PAGE}", field="page_size"))
        return await self._offset(context, token), page_size or DEFAULT_PAGE

    async def FunnelReport(self, request, context):
        projector = await self._projector(context)
        start_ms, end_ms = await self._behaviour_period(context, request.from_date, request.to_date)
        if request.channel and request.channel not in CHANNELS:
            await abort(
                context,
                reject(
                    Reason.BEHAVIOUR_UNKNOWN_CHANNEL,
                    f"channel: {request.channel[:40]!r} is not one of {', '.join(CHANNELS)}",
                    field="channel",
                ),
            )
        rows = await ask_reports(projector, "funnel", start_ms, end_ms, self.utc_offset_min * 60_000, request.channel)
        lines = [reports_pb2.FunnelLine(seat_maps=row.pop("seat_map"), **row) for row in rows]
        return reports_pb2.FunnelReportResponse(lines=lines, sample_rate=self.funnel_sample)

    async def BehaviourReport(self, request, context):
        projector = await self._projector(context)
        start_ms, end_ms = await self._behaviour_period(context, request.from_date, request.to_date)
        sections = tuple(request.sections)
        for n, name in enumerate(sections):
            if name not in SECTIONS:
                await abort(
                    context,
                    reject(
                        Reason.BEHAVIOUR_UNKNOWN_SECTION,
                        f"sections[{n}]: {name[:40]!r} is not one of {', '.join(SECTIONS)}",
                        field=f"sections[{n}]",
                    ),
                )
        answer = await ask_reports(projector, "behaviour", start_ms, end_ms, self.utc_offset_min * 60_000, sections)
        return reports_pb2.BehaviourReportResponse(
            lead_time=[reports_pb2.LeadTimeBucket(**row) for row in answer.get("lead_time", ())],
            heat_map=[reports_pb2.HeatCell(**row) for row in answer.get("heat_map", ())],
            od_demand=[reports_pb2.OdDemand(**row) for row in answer.get("od_demand", ())],
            refund_change=[reports_pb2.RefundChangeRate(**row) for row in answer.get("refund_change", ())],
            repeat=[reports_pb2.RepeatTravellers(**row) for row in answer.get("repeat", ())],
        )

    async def _behaviour_period(
        self, context: grpc.aio.ServicerContext, from_date: str, to_date: str
    ) -> tuple[int, int]:
        """[start, end) in epoch ms of the local days from_date..to_date, inclusive."""
        first = await self._date(context, "from_date", from_date)
        last = await self._date(context, "to_date", to_date)
        if last < first or (last - first).days >= MAX_BEHAVIOUR_DAYS:
            await abort(
                context,
                reject(
                    Reason.BEHAVIOUR_BAD_PERIOD,
                    f"to_date must be on or after from_date, and the period at most {MAX_BEHAVIOUR_DAYS} days",
                    field="to_date",
                ),
            )
        return self._ms(first), self._ms(last + dt.timedelta(days=1))

    async def _date(self, context: grpc.aio.ServicerContext, name: str, text: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            await abort(
                context, reject(Reason.INVALID_FIELD, f"{name}: {text[:40]!r} is not a date YYYY-MM-DD", field=name)
            )
            raise AssertionError("abort raises") from None

    async def _offset(self, context: grpc.aio.ServicerContext, token: str) -> int:
        if not token:
            return 0
        if not token.isdigit() or len(token) > 9:
            await abort(
                context, reject(Reason.BAD_PAGE_TOKEN, "page_token is not one this server gave", field="page_token")
            )
        return int(token)

    def _ms(self, day: dt.date) -> int:
        """Local midnight of `day` (the station's time) in epoch milliseconds."""
        zone = dt.timezone(dt.timedelta(minutes=self.utc_offset_min))
        return int(dt.datetime.combine(day, dt.time(), zone).timestamp() * 1000)


def _next_token(offset: int, count: int, total: int) -> str:
    following = offset + count
    return str(following) if following < total else ""


def _totals(totals: dict[str, int], methods: dict[str, dict[str, int]]) -> reports_pb2.ShiftTotals:
    return reports_pb2.ShiftTotals(
        **totals,
        methods=[shifts_pb2.MethodTotal(method=_pay_method(name), **by) for name, by in sorted(methods.items())],
    )


def _pay_method(name: str) -> int:
    """A pay method's enum value by its engine name (cash, card, wepay, alipay)."""
    try:
        return orders_pb2.PayMethod.Value(f"PAY_METHOD_{name.upper()}")
    except ValueError:
        return orders_pb2.PAY_METHOD_UNSPECIFIED
