"""Seller shifts, paper ticket stock and voids at the gateway (docs/shifts.md).

The shift book lives with the accounts owner (engine/shifts.py); a shift's tickets live with
their trips' owners (engine/counter_sales.py).  `CounterDesk` is what the sales handlers ask
before and after a counter seller's sale; `ShiftsService` serves the Shifts RPCs.
"""

from __future__ import annotations

from typing import Any

import grpc
import msgspec

from keyun.engine import accounts as ac
from keyun.engine import commands as cmd
from keyun.engine import counter_sales as cs
from keyun.engine import shifts as sh
from keyun.engine.events import CounterSale
from keyun.engine.permissions import Permission, Role
from keyun.engine.reasons import Reason, Rejected, Rejection, invalid, reject
from keyun.v1 import orders_pb2, shifts_pb2, shifts_pb2_grpc

from . import convert
from .auth import CALLER, Principal, caller
from .errors import OUTCOME, abort, owner_errors
from .owners import Batcher
from .services import Gateway, PageWindow
from .slip_pdf import slip_pdf

COUNTER_METHODS = {
    orders_pb2.PAY_METHOD_UNSPECIFIED: "cash",
    orders_pb2.PAY_METHOD_CASH: "cash",
    orders_pb2.PAY_METHOD_CARD: "card",
}


def audit_target(target: str) -> str:
    """Name the call's audit record's target (a shift, a batch): the request may not name it."""
    note = OUTCOME.get()
    if note is not None and target:
        note["target"] = target
    return target


def works_in_shifts(principal: Principal | None) -> bool:
    """A counter seller: their sales, refunds and voids need an open shift."""
    return principal is not None and Permission.SHIFT_WORK in principal.allowed


class CounterDesk:
    """The accounts owner's shift book, as the sales handlers use it."""

    def __init__(self, gateway: Gateway, accounts: Batcher):
        self.gateway = gateway
        self.accounts = accounts
        # Tests stand in for a gateway that dies between a sale and its paper numbers: each
        # exception here is raised once, after the trip owner sold and before RecordSale.
        self.faults: list[Exception] = []

    async def ask(self, context: grpc.aio.ServicerContext, item: Any) -> Any:
        async with owner_errors(context):
            reply = await self.accounts.submit(item)
        if isinstance(reply, Rejection):
            await abort(context, reply)
        return reply

    async def open_shift(self, context: grpc.aio.ServicerContext) -> sh.ShiftView:
        return await self.ask(context, sh.CurrentShift(caller().account_id))

    async def sale(self, context: grpc.aio.ServicerContext, pay_method: int, count: int) -> CounterSale | None:
        """Before a sale: None for callers who sell without shifts (kiosks, passengers, duty
        managers); for a counter seller, the shift the sale counts in, once it is open and the
        seller has paper numbers for `count` tickets.  Refused otherwise, before anything changes."""
        if not works_in_shifts(CALLER.get()):
            return None
        method = COUNTER_METHODS.get(pay_method)
        if method is None:
            await abort(
                context,
                reject(Reason.INVALID_FIELD, "pay_method: a counter sale takes CASH or CARD", field="pay_method"),
            )
        return CounterSale((await self.shift_with_numbers(context, count)).shift_id, method)

    async def shift_with_numbers(self, context: grpc.aio.ServicerContext, count: int) -> sh.ShiftView:
        """The caller's open shift, if it has paper numbers for `count` tickets; refused otherwise."""
        shift = await self.open_shift(context)
        if shift.numbers_left < max(count, 1):
            await abort(
                context,
                reject(
                    Reason.NO_PAPER_NUMBERS,
                    f"{max(count, 1)} paper ticket number(s) needed, {shift.numbers_left} left: "
                    "ask the stock keeper for more (`keyun stock issue`)",
                    numbers_left=shift.numbers_left,
                ),
            )
        return shift

    async def caller_shift(self, context: grpc.aio.ServicerContext) -> str:
        """A counter seller's open shift, which their refunds are paid from (refused without one); "" for others."""
        if not works_in_shifts(CALLER.get()):
            return ""
        return (await self.open_shift(context)).shift_id

    async def numbers(
        self, context: grpc.aio.ServicerContext, counter: CounterSale | None, request_id: str, tickets: Any
    ) -> list[shifts_pb2.PaperNumber]:
        """After a sale in a shift: the paper numbers of its tickets, taken once per sale.  If this
        step never happens (the gateway dies), the ticket still counts in its shift, and the slip
        lists it as sold without a number (engine.shifts.handover)."""
        if counter is None:
            return []
        if self.faults:
            raise self.faults.pop(0)
        return await self.number_tickets(context, counter.shift_id, request_id, tickets)

    async def number_tickets(
        self, context: grpc.aio.ServicerContext, shift_id: str, request_id: str, tickets: Any
    ) -> list[shifts_pb2.PaperNumber]:
        """The paper numbers of a sale's tickets (RecordSale, once per sale's request id)."""
        ticket_ids = tuple(ticket.ticket_id for ticket in tickets)
        taken = await self.ask(context, sh.RecordSale(request_id, shift_id, request_id, ticket_ids))
        return [shifts_pb2.PaperNumber(ticket_id=t, number=n) for t, n in taken.numbers]


def shift_message(view: sh.ShiftView) -> shifts_pb2.Shift:
    return shifts_pb2.Shift(
        shift_id=view.shift_id,
        account_id=view.account_id,
        counter_id=view.counter_id,
        status=shifts_pb2.ShiftStatus.Value(f"SHIFT_STATUS_{view.status.name}"),
        opened_at=convert.timestamp(view.opened_at_ms),
        closed_at=convert.timestamp(view.closed_at_ms),
        numbers=[
            shifts_pb2.NumberUse(
                number=u.number, ticket_id=u.ticket_id, spoiled=u.spoiled, at=convert.timestamp(u.at_ms)
            )
            for u in view.numbers
        ],
        numbers_left=view.numbers_left,
        next_number=view.next_number,
        slip=slip_message(view.slip) if view.slip is not None else None,
        deposited_at=convert.timestamp(view.deposited_at_ms),
        deposited_by=view.deposited_by,
        deposit_fen=view.deposit_fen,
    )


def slip_message(slip: sh.Slip) -> shifts_pb2.Slip:
    return shifts_pb2.Slip(
        sold_count=slip.sold_count,
        sold_fen=slip.sold_fen,
        refunded_count=slip.refunded_count,
        refunded_fen=slip.refunded_fen,
        refund_fees_fen=slip.refund_fees_fen,
        voided_count=slip.voided_count,
        voided_fen=slip.voided_fen,
        reprinted_count=slip.reprinted_count,
        methods=[
            shifts_pb2.MethodTotal(
                method=orders_pb2.PayMethod.Value(f"PAY_METHOD_{m.method.upper()}"),
                sold_fen=m.sold_fen,
                voided_fen=m.voided_fen,
                refunded_fen=m.refunded_fen,
                net_fen=m.net_fen,
                changed_fen=m.changed_fen,
            )
            for m in slip.methods
        ],
        numbers_used=list(slip.numbers_used),
        spoiled=[shifts_pb2.SpoiledNumber(number=n, reason=r) for n, r in slip.spoiled],
        unnumbered_ticket_ids=list(slip.unnumbered),
        expected_cash_fen=slip.expected_cash_fen,
        counted_cash_fen=slip.counted_cash_fen,
        over_short_fen=slip.over_short_fen,
        changed_count=slip.changed_count,
        changed_fen=slip.changed_fen,
    )


def stock_message(page: sh.StockPage, next_token: str = "") -> shifts_pb2.StockPage:
    batches = {b.batch_id: b for b in page.batches}
    return shifts_pb2.StockPage(
        batches=[
            shifts_pb2.StockBatch(
                batch_id=b.batch_id,
                batch_code=b.batch_code,
                first=b.label(b.first),
                last=b.label(b.last),
                received_at=convert.timestamp(b.received_at_ms),
                received_by=b.received_by,
                unissued=(b.last - b.first + 1) - sum(high - low + 1 for low, high in b.issued),
            )
            for b in page.batches
        ],
        ranges=[_range_message(r, batches.get(r.batch_id)) for r in page.ranges],
        next_page_token=next_token,
    )


def _range_message(issued: sh.IssuedRange, batch: sh.StockBatch | None) -> shifts_pb2.StockRange:
    def label(number: int) -> str:
        return batch.label(number) if batch is not None else str(number)

    return shifts_pb2.StockRange(
        range_id=issued.range_id,
        batch_id=issued.batch_id,
        account_id=issued.account_id,
        first=label(issued.first),
        last=label(issued.last),
        next=label(issued.next) if issued.left() > 0 else "",
        left=issued.left(),
        issued_at=convert.timestamp(issued.issued_at_ms),
    )


def _paper_number(field_name: str, text: str) -> tuple[int, int]:
    """A printed number as (value, width): digits only, as the stock's printer prints them."""
    if not text.isascii() or not text.isdigit() or not sh.MIN_DIGITS <= len(text) <= sh.MAX_DIGITS:
        raise invalid(field_name, f"{sh.MIN_DIGITS} to {sh.MAX_DIGITS} digits, as printed on the paper")
    return int(text), len(text)


class ShiftsService(shifts_pb2_grpc.ShiftsServicer):
    def __init__(self, desk: CounterDesk, utc_offset_min: int = 480):
        self.desk = desk
        self.gateway = desk.gateway
        self.utc_offset_min = utc_offset_min

    async def _build(self, context: grpc.aio.ServicerContext, make: Any) -> Any:
        try:
            return make()
        except Rejected as rejected:
            await abort(context, rejected.rejection)

    async def _shift(self, context: grpc.aio.ServicerContext, shift_id: str) -> sh.ShiftView:
        """A shift the caller may see: their own, or any with SHIFT_READ."""
        principal = caller()
        if not shift_id:
            return await self.desk.open_shift(context)
        view = await self.desk.ask(context, await self._build(context, lambda: sh.GetShift(shift_id)))
        if principal.own_only and view.account_id != principal.account_id:
            await abort(context, reject(Reason.UNKNOWN_SHIFT, f"no shift {shift_id} of yours", shift_id=shift_id))
        return view

    async def OpenShift(self, request, context):
        item = await self._build(
            context, lambda: sh.OpenShift(request.request_id, caller().account_id, request.counter_id)
        )
        view = await self.desk.ask(context, item)
        audit_target(view.shift_id)
        return shifts_pb2.OpenShiftResponse(shift=shift_message(view))

    async def GetShift(self, request, context):
        view = await self._shift(context, request.shift_id)
        shift = shift_message(view)
        if view.status is sh.ShiftStatus.OPEN:
            running = await self.desk.ask(context, sh.RunningSlip(view.shift_id, await self._tickets(context, view)))
            shift.running.CopyFrom(slip_message(running.slip))
        return shifts_pb2.GetShiftResponse(shift=shift)

    async def _tickets(self, context: grpc.aio.ServicerContext, shift: sh.ShiftView) -> tuple[sh.ShiftTicket, ...]:
        """Every trip owner's tickets of the shift: the money's source of truth."""
        async with owner_errors(context):
            replies = await self.gateway.pool.ask_all(cs.ShiftTickets(shift.shift_id))
        refusal = next((reply for reply in replies if isinstance(reply, Rejection)), None)
        if refusal is not None:
            await abort(context, refusal)
        return tuple([await self._with_old_fare(context, t) for reply in replies for t in reply.tickets])

    async def ListShifts(self, request, context):
        principal = caller()
        account_id = principal.account_id if principal.own_only else request.account_id
        try:
            if account_id:
                ac.check_account_id(account_id)
            window = PageWindow.of(request.page_size, request.page_token, f"shifts|{account_id}")
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        page = await self.desk.ask(context, sh.ListShifts(0, window.end + 1, account_id))
        views, next_token = window.cut(list(page.shifts))
        return shifts_pb2.ListShiftsResponse(shifts=[shift_message(v) for v in views], next_page_token=next_token)

    async def CloseShift(self, request, context):
        principal = caller()
        await self._build(context, lambda: sh.CloseShift(request.request_id, principal.account_id, "S000001", 0))
        # A retry of a close that was made (its reply lost) finds no open shift: answer it the same.
        async with owner_errors(context):
            remembered = await self.desk.accounts.submit(ac.Recall(request.request_id, b""))
        if (
            isinstance(remembered, ac.Remembered)
            and isinstance(remembered.command, sh.CloseShift)
            and remembered.command.account_id == principal.account_id
        ):
            audit_target(remembered.command.shift_id)
            return shifts_pb2.CloseShiftResponse(shift=shift_message(remembered.reply))
        shift = await self.desk.open_shift(context)
        # The trip owners are the source of truth for the shift's money: every ticket sold,
        # refunded or voided in it, whatever happened to the gateway between sale and number.
        tickets = await self._tickets(context, shift)
        item = await self._build(
            context,
            lambda: sh.CloseShift(
                request.request_id, principal.account_id, shift.shift_id, request.counted_cash_fen, tickets
            ),
        )
        audit_target(shift.shift_id)
        return shifts_pb2.CloseShiftResponse(shift=shift_message(await self.desk.ask(context, item)))

    async def _with_old_fare(self, context: grpc.aio.ServicerContext, ticket: sh.ShiftTicket) -> sh.ShiftTicket:
        """A rebooked ticket of the shift with the fare of the ticket it replaced, from that
        ticket's owner: only the difference changed hands at the counter."""
        if not (ticket.sold_in_shift and ticket.changed_from):
            return ticket
        old = await self.gateway.ask(context, lambda: cmd.GetTicket(ticket.changed_from))
        return msgspec.structs.replace(ticket, changed_from_fen=old.price_fen)

    async def GetSlipPdf(self, request, context):
        view = await self._shift(context, request.shift_id)
        if view.slip is None:
            await abort(
                context,
                reject(Reason.SHIFT_CLOSED, f"shift {view.shift_id} is open: its slip is made when it closes"),
            )
        login = await self._login_of(view.account_id)
        return shifts_pb2.GetSlipPdfResponse(
            pdf=slip_pdf(view, login, self.utc_offset_min), file_name=f"slip-{view.shift_id}.pdf"
        )

    async def _login_of(self, account_id: str) -> str:
        found = await self.desk.accounts.submit(ac.GetAccount(account_id))
        return found.login_name if isinstance(found, ac.AccountView) else account_id

    async def ConfirmDeposit(self, request, context):
        item = await self._build(
            context,
            lambda: sh.ConfirmDeposit(request.request_id, request.shift_id, caller().account_id, request.amount_fen),
        )
        audit_target(request.shift_id)
        return shifts_pb2.ConfirmDepositResponse(shift=shift_message(await self.desk.ask(context, item)))

    async def VoidTicket(self, request, context):
        void = await self._build(context, lambda: cs.VoidSale(request.request_id, request.ticket_id, "S000001"))
        shift = await self.desk.open_shift(context)
        view = await self.gateway.ask(
            context, lambda: cs.VoidSale(void.request_id, void.ticket_id, shift.shift_id), audited=True
        )
        after = await self.desk.ask(context, sh.RecordVoid(request.request_id, shift.shift_id, request.ticket_id))
        spoiled = next(
            (u.number for u in after.numbers if u.ticket_id == request.ticket_id and u.spoiled == "void"), ""
        )
        return shifts_pb2.VoidTicketResponse(ticket=convert.ticket(view), spoiled_number=spoiled)

    async def Reprint(self, request, context):
        item = await self._build(
            context,
            lambda: sh.Reprint(request.request_id, caller().account_id, request.ticket_id, request.reason or "reprint"),
        )
        view = await self.desk.ask(context, item)
        uses = [u for u in view.numbers if u.ticket_id == request.ticket_id]
        current = next((u.number for u in reversed(uses) if not u.spoiled), "")
        spoiled = next((u.number for u in reversed(uses) if u.spoiled.startswith("reprint")), "")
        return shifts_pb2.ReprintResponse(
            paper_number=shifts_pb2.PaperNumber(ticket_id=request.ticket_id, number=current), spoiled_number=spoiled
        )

    async def SpoilNumber(self, request, context):
        item = await self._build(
            context, lambda: sh.SpoilNumber(request.request_id, caller().account_id, request.reason)
        )
        view = await self.desk.ask(context, item)
        audit_target(view.numbers[-1].number if view.numbers else view.shift_id)
        return shifts_pb2.SpoilNumberResponse(shift=shift_message(view))

    async def ReceiveStock(self, request, context):
        def build() -> sh.ReceiveStock:
            first, width = _paper_number("first", request.first)
            last, last_width = _paper_number("last", request.last)
            if last_width != width:
                raise invalid("last", "first and last are printed with the same number of digits")
            return sh.ReceiveStock(request.request_id, caller().account_id, request.batch_code, first, last, width)

        item = await self._build(context, build)
        page = await self.desk.ask(context, item)
        audit_target(page.batches[0].batch_id)
        return shifts_pb2.ReceiveStockResponse(stock=stock_message(page))

    async def IssueStock(self, request, context):
        await self._build(context, lambda: _paper_number("first", request.first))
        await self._build(context, lambda: _paper_number("last", request.last))
        seller = await self._seller(context, request.seller)
        item = await self._build(
            context,
            lambda: sh.IssueStock(
                request.request_id,
                caller().account_id,
                request.batch_id,
                seller,
                int(request.first),
                int(request.last),
            ),
        )
        page = await self.desk.ask(context, item)
        audit_target(page.ranges[0].range_id)
        return shifts_pb2.IssueStockResponse(stock=stock_message(page))

    async def _seller(self, context: grpc.aio.ServicerContext, login_name: str) -> str:
        """The account id of a counter seller named by login name."""
        try:
            ac.check_login_name(login_name)
        except Rejected as rejected:
            await abort(context, reject(Reason.INVALID_FIELD, f"seller: {rejected.rejection.message}", field="seller"))
        found = await self.desk.accounts.submit(ac.FindLogin("name:" + login_name))
        if not isinstance(found, ac.LoginView) or Role.COUNTER_SELLER.value not in found.account.roles:
            await abort(
                context,
                reject(Reason.UNKNOWN_ACCOUNT, f"no counter seller {login_name}", field="seller"),
            )
        return found.account.account_id

    async def ListStock(self, request, context):
        try:
            window = PageWindow.of(request.page_size, request.page_token, "stock")
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        page = await self.desk.ask(context, sh.ListStock(0, window.end + 1))
        batches, next_token = window.cut(list(page.batches))
        kept = {b.batch_id for b in batches}
        return shifts_pb2.ListStockResponse(
            stock=stock_message(
                sh.StockPage(tuple(batches), tuple(r for r in page.ranges if r.batch_id in kept), 0), next_token
            )
        )
