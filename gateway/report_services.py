"""The Reports service: the sales report, the projector's status and operator settlement, asked of
the report projector (settlement's contracts, locks and adjustments are the accounts owner's).

The gateway holds no DuckDB connection: the projector (actors/report_projector.py) runs the query
in its own process, and the gateway awaits the answer without blocking its event loop.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine import accounts as ac
from keyun.engine import settlement as st
from keyun.engine.channels import CHANNELS
from keyun.engine.reasons import Reason, Rejection, reject
from keyun.v1 import orders_pb2, reports_pb2, reports_pb2_grpc, shifts_pb2

from .auth import caller
from .convert import timestamp
from .errors import abort, note_audit
from .owners import ask_reports

LOAD_GROUPS = ("trip", "route", "operator", "day")  # persistence/load_reports.LOAD_GROUPS
GROUPS = ("day", "route", "trip", "operator", "seller", "device", "channel", "ticket_type", "service_date")
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_DAYS = 366 * 3  # a report spans at most three years
MAX_BEHAVIOUR_DAYS = 366  # funnel and behaviour reports: at most a year
SECTIONS = ("lead_time", "heat_map", "od_demand", "refund_change", "repeat")


class ReportsService(reports_pb2_grpc.ReportsServicer):
    def __init__(
        self,
        projector: Any,
        utc_offset_min: int = 8 * 60,
        funnel_sample: float = 1.0,
        desk: Any = None,
        clock: Clock = SYSTEM_CLOCK,
    ):
        """`projector`: the report projector's handle, None when reports are off; `desk`: the
        accounts owner's (gateway.account_services.AccountDesk), for settlement."""
        self.projector = projector
        self.utc_offset_min = utc_offset_min
        self.funnel_sample = funnel_sample
        self.desk = desk
        self.clock = clock

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

    async def _period(
        self,
        context: grpc.aio.ServicerContext,
        from_date: str,
        to_date: str,
        longest_days: int = MAX_DAYS + 1,
        reason: Reason = Reason.INVALID_FIELD,
    ) -> tuple[dt.date, dt.date]:
        """The local days from_date..to_date, inclusive, at most `longest_days` of them."""
        first = await self._date(context, "from_date", from_date)
        last = await self._date(context, "to_date", to_date)
        if last < first or (last - first).days >= longest_days:
            await abort(
                context,
                reject(
                    reason,
                    f"to_date must be on or after from_date, and the period at most {longest_days} days",
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
        first, last = await self._period(context, from_date, to_date, MAX_BEHAVIOUR_DAYS, Reason.BEHAVIOUR_BAD_PERIOD)
        return self._ms(first), self._ms(last + dt.timedelta(days=1))

    # --- operator settlement (docs/settlement.md) ---------------------------------------------

    async def SetContract(self, request, context):
        principal = caller()
        c = request.contract

        def build() -> st.SetContract:
            contract = st.Contract(
                c.operator_id,
                c.effective_from,
                c.agency_fee_bp,
                c.operator_keeps_service_fee,
                c.refund_fee_station_bp,
                c.no_show_station_bp,
                tuple(st.Deduction(d.name, d.fen) for d in c.deductions),
                principal.account_id,
            )
            return st.SetContract(request.request_id, contract)

        command = await self.desk.build(context, build, within="contract")
        note_audit(target=c.operator_id, detail=f"from {c.effective_from}, agency fee {c.agency_fee_bp} bp")
        terms = await self.desk.ask(context, command, audited=True)
        return reports_pb2.SetContractResponse(contract=contract_message(terms.contracts[0]))

    async def ListContracts(self, request, context):
        query = await self.desk.build(context, lambda: st.GetSettlementTerms(request.operator_id))
        terms = await self.desk.ask(context, query)
        return reports_pb2.ListContractsResponse(
            contracts=[contract_message(c) for c in terms.contracts],
            locks=[lock_message(lock) for lock in terms.locks],
            adjustments=[manual_adjustment(a) for a in terms.adjustments],
        )

    async def SettlementSheet(self, request, context):
        projector = await self._projector(context)
        await self._settlement_period(context, request.operator_id, request.from_date, request.to_date)
        sheet = await self._sheet(context, projector, request.operator_id, request.from_date, request.to_date)
        return sheet_message(sheet)

    async def SettlementLines(self, request, context):
        projector = await self._projector(context)
        await self._settlement_period(context, request.operator_id, request.from_date, request.to_date)
        if not 0 <= request.page_size <= MAX_PAGE:
            await abort(context, reject(Reason.INVALID_FIELD, f"page_size: 0..{MAX_PAGE}", field="page_size"))
        offset = await self._offset(context, request.page_token)
        answer = await ask_reports(
            projector,
            "settlement_lines",
            request.operator_id,
            request.from_date,
            request.to_date,
            offset,
            request.page_size or DEFAULT_PAGE,
        )
        await self._no_contract(context, answer)
        lines = [
            reports_pb2.SettlementTicketLine(
                **{k: v for k, v in line.items() if k not in ("figures", "state")},
                state=enum_value("SETTLEMENT_TICKET_STATE_", line["state"]),
                figures=figures_message(line["figures"]),
            )
            for line in answer["lines"]
        ]
        following = offset + len(lines)
        total = answer["total"]
        return reports_pb2.SettlementLinesResponse(
            lines=lines, next_page_token=str(following) if following < total else "", total_lines=total
        )

    async def LockSettlement(self, request, context):
        projector = await self._projector(context)
        principal = caller()
        operator_id, first_day, last_day = request.operator_id, request.from_date, request.to_date
        await self.desk.build(
            context,
            lambda: st.LockSettlement(
                request.request_id, operator_id, first_day, last_day, 0, (), 0, 0, principal.account_id
            ),
        )
        # A retry of a lock that was made (its reply lost) is answered the same: its sheet would be
        # taken at another time, and the owner would see another request under the same id.
        remembered = await self.desk.ask(context, ac.Recall(request.request_id, b""))
        if isinstance(remembered, ac.Remembered):
            first = remembered.command
            if isinstance(first, st.LockSettlement) and (first.operator_id, first.from_date, first.to_date) == (
                operator_id,
                first_day,
                last_day,
            ):
                if isinstance(remembered.reply, Rejection):
                    await abort(context, remembered.reply)
                return reports_pb2.LockSettlementResponse(lock=lock_message(remembered.reply.locks[0]))
        # The sheet as the tickets' movements up to now make it: the projector first projects
        # everything on disk, so every movement acknowledged before now is counted.
        as_of_ms = self.clock.now_ms()
        sheet = await self._sheet(context, projector, operator_id, first_day, last_day, as_of_ms)
        command = st.LockSettlement(
            request.request_id,
            operator_id,
            first_day,
            last_day,
            as_of_ms,
            tuple(sheet["totals"].items()),
            sheet["deductions_fen"],
            sheet["amount_payable_fen"],
            principal.account_id,
        )
        note_audit(target=operator_id, detail=f"{first_day}..{last_day}: payable {sheet['amount_payable_fen']} fen")
        terms = await self.desk.ask(context, command, audited=True)
        return reports_pb2.LockSettlementResponse(lock=lock_message(terms.locks[0]))

    async def AddAdjustment(self, request, context):
        principal = caller()
        command = await self.desk.build(
            context,
            lambda: st.AddAdjustment(
                request.request_id, request.lock_id, request.reason, request.amount_fen, principal.account_id
            ),
        )
        note_audit(target=request.lock_id, detail=f"{request.amount_fen} fen")
        terms = await self.desk.ask(context, command, audited=True)
        return reports_pb2.AddAdjustmentResponse(adjustment=manual_adjustment(terms.adjustments[0]))

    async def _settlement_period(
        self, context: grpc.aio.ServicerContext, operator_id: str, first: str, last: str
    ) -> None:
        await self.desk.build(context, lambda: (st.check_operator(operator_id), st.check_period(first, last)))

    async def _sheet(
        self,
        context: grpc.aio.ServicerContext,
        projector: Any,
        operator_id: str,
        first: str,
        last: str,
        as_of_ms: int | None = None,
    ) -> dict:
        sheet = await ask_reports(projector, "settlement_sheet", operator_id, first, last, as_of_ms)
        await self._no_contract(context, sheet)
        return sheet

    async def _no_contract(self, context: grpc.aio.ServicerContext, answer: dict) -> None:
        if "no_contract" in answer:
            await abort(context, reject(Reason.SETTLEMENT_NO_CONTRACT, answer["no_contract"]))

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


def enum_value(prefix: str, name: str) -> Any:
    """The proto enum value for the store's name of it (persistence/settlement.py): no_show ->
    SETTLEMENT_TICKET_STATE_NO_SHOW."""
    return getattr(reports_pb2, prefix + name.upper())


def contract_message(c: st.Contract) -> reports_pb2.OperatorContract:
    return reports_pb2.OperatorContract(
        operator_id=c.operator_id,
        effective_from=c.effective_from,
        agency_fee_bp=c.agency_fee_bp,
        operator_keeps_service_fee=c.operator_keeps_service_fee,
        refund_fee_station_bp=c.refund_fee_station_bp,
        no_show_station_bp=c.no_show_station_bp,
        deductions=[reports_pb2.Deduction(name=d.name, fen=d.fen) for d in c.deductions],
        set_by=c.set_by,
        set_at_ms=c.set_at_ms,
    )


def figures_message(figures: dict[str, int] | None) -> reports_pb2.SettlementFigures | None:
    return None if figures is None else reports_pb2.SettlementFigures(**figures)


def lock_message(lock: st.SettlementLock) -> reports_pb2.SettlementLockInfo:
    return reports_pb2.SettlementLockInfo(
        lock_id=lock.lock_id,
        operator_id=lock.operator_id,
        from_date=lock.from_date,
        to_date=lock.to_date,
        as_of_ms=lock.as_of_ms,
        totals=figures_message(dict(lock.totals)),
        deductions_fen=lock.deductions_fen,
        amount_payable_fen=lock.amount_payable_fen,
        locked_by=lock.locked_by,
        locked_at_ms=lock.locked_at_ms,
    )


def manual_adjustment(a: st.Adjustment) -> reports_pb2.SettlementAdjustment:
    return reports_pb2.SettlementAdjustment(
        kind=reports_pb2.SETTLEMENT_ADJUSTMENT_KIND_MANUAL,
        adjustment_id=a.adjustment_id,
        reason=a.reason,
        amount_fen=a.amount_fen,
        added_by=a.added_by,
        added_at_ms=a.added_at_ms,
        lock_id=a.lock_id,
    )


def sheet_message(sheet: dict) -> reports_pb2.SettlementSheetResponse:
    """The projector's sheet (persistence/settlement.sheet) as its reply."""
    c = sheet["contract"]
    lock = sheet["lock"]
    return reports_pb2.SettlementSheetResponse(
        operator_id=sheet["operator_id"],
        from_date=sheet["from_date"],
        to_date=sheet["to_date"],
        contract=reports_pb2.OperatorContract(
            **{k: v for k, v in c.items() if k != "deductions"},
            deductions=[reports_pb2.Deduction(name=name, fen=fen) for name, fen in c["deductions"]],
        ),
        totals=figures_message(sheet["totals"]),
        deductions=[reports_pb2.Deduction(name=name, fen=fen) for name, fen in sheet["deductions"]],
        deductions_fen=sheet["deductions_fen"],
        lock=None
        if lock is None
        else reports_pb2.SettlementLockInfo(
            **{k: v for k, v in lock.items() if k != "totals"}, totals=figures_message(lock["totals"])
        ),
        adjustments=[
            reports_pb2.SettlementAdjustment(
                **{k: v for k, v in a.items() if k not in ("figures", "kind")},
                kind=enum_value("SETTLEMENT_ADJUSTMENT_KIND_", a["kind"]),
                figures=figures_message(a["figures"]),
            )
            for a in sheet["adjustments"]
        ],
        adjustments_fen=sheet["adjustments_fen"],
        amount_payable_fen=sheet["amount_payable_fen"],
    )
