"""The Orders service: orders live in the trip owners; money moves through the payment desk.

The owner decides everything about an order atomically (pay and ticket in one step, late and
duplicate payments, refunds owed).  The gateway's part is talking to the outside: starting a
wallet payment, authorizing a card on the counter's POS terminal, and paying refunds out through
the provider the money came from, then telling the owner they were paid (SettleRefund).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from typing import Any, Protocol

import aiohttp
import grpc

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine import commands as cmd
from keyun.engine.commands import PayMethod
from keyun.engine.permissions import Permission, cash_refusal
from keyun.engine.reasons import Reason, Rejected, Rejection, reject
from keyun.engine.state import OrderStatus
from keyun.engine.views import OrderView
from keyun.v1 import orders_pb2, orders_pb2_grpc

from . import convert
from .auth import caller
from .connection_limits import MAX_WATCH_S
from .errors import (
    RETRY_AFTER_RESTART_S,
    abort,
    abort_unavailable,
    note_audit,
    owner_errors,
    recorded_by_owner,
    with_audit_record,
)
from .owners import OwnerFailed, OwnerUnavailable
from .payments.base import PAY, REFUND, ProviderError, ProviderRefused
from .payments.card import TERMINAL_ID
from .services import Gateway, paged

log = logging.getLogger("keyun.gateway")

# WatchOrder asks the order's owner this often; a status change reaches the watcher within it.
WATCH_POLL_S = 0.5
FINAL = {OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.CHANGED}
WALLETS = {PayMethod.WEPAY, PayMethod.ALIPAY}
LINE_KIND_TO_PROTO = {PAY: orders_pb2.RECONCILE_LINE_KIND_PAY, REFUND: orders_pb2.RECONCILE_LINE_KIND_REFUND}


class PaymentDesk(Protocol):
    """What the Orders service needs from the payment providers (gateway/payments)."""

    def offers(self, method: PayMethod) -> bool: ...

    async def start(self, order: OrderView) -> tuple[str, str]: ...  # (pay URL, QR text)

    async def authorize_card(self, terminal_id: str, order: OrderView) -> str: ...  # the acquirer's transaction id

    async def pay_out(self, order: OrderView, refund_no: str, amount_fen: int) -> str: ...  # the provider's refund id

    async def close(self, order: OrderView) -> None: ...

    async def statement(self, method: PayMethod, day: dt.date) -> list: ...  # the provider's bill of a day


class CounterOnly:
    """Cash alone: what a station without configured providers takes."""

    def offers(self, method: PayMethod) -> bool:
        return method is PayMethod.CASH

    async def start(self, order: OrderView) -> tuple[str, str]:
        raise AssertionError("no wallet is offered")

    async def authorize_card(self, terminal_id: str, order: OrderView) -> str:
        raise AssertionError("no card acquirer is offered")

    async def pay_out(self, order: OrderView, refund_no: str, amount_fen: int) -> str:
        raise AssertionError("only cash is offered, and the cashier pays cash out")

    async def close(self, order: OrderView) -> None:
        return None

    async def statement(self, method: PayMethod, day: dt.date) -> list:
        raise AssertionError("only cash is offered, and cash has no provider bill")


class OrderDesk:
    """Orders through their owners, and money through the payment desk."""

    def __init__(self, gateway: Gateway, payments: PaymentDesk, clock: Clock = SYSTEM_CLOCK):
        self.gateway = gateway
        self.payments = payments
        self.clock = clock  # a counter payment's paid_at
        # Tells the buyer a refund was paid out (gateway/notices.py NoticeDesk; the server sets it).
        self.notices: Any = None

    async def settle(self, context: grpc.aio.ServicerContext, order: OrderView) -> OrderView:
        async with provider_errors(context):
            return await self.settle_owed(order)

    async def settle_owed(self, order: OrderView) -> OrderView:
        """Pay out every refund the owner says is owed and not yet paid, then record it there.
        Safe to repeat: the provider's refund is keyed by the refund number, the record by it too."""
        paid_out = {refund_no for refund_no, _, _ in order.settled}
        for refund in order.refunds:
            if refund.refund_no in paid_out:
                continue
            if refund.method == PayMethod.CASH.value:
                provider_refund_id = f"cash-{refund.refund_no}"  # the cashier hands the money over
            else:
                provider_refund_id = await self.payments.pay_out(order, refund.refund_no, refund.amount_fen)
            settled = await self.gateway.pool.submit(
                cmd.SettleRefund(f"settle-{refund.refund_no}", order.order_id, refund.refund_no, provider_refund_id)
            )
            assert not isinstance(settled, Rejection), f"the owner owes this refund, so it knows it: {settled!r}"
            order = settled
            await self._tell_refund_paid(order, refund.refund_no, refund.amount_fen)
        return order

    async def _tell_refund_paid(self, order: OrderView, refund_no: str, amount_fen: int) -> None:
        """The buyer's notice (gateway/notices.py).  The refund is paid and recorded already, so a
        notice that cannot be recorded (its owner restarting) is logged, not refused."""
        if self.notices is None:
            return
        try:
            await self.notices.refund_paid(order, refund_no, amount_fen)
        except (OwnerUnavailable, OwnerFailed) as error:
            log.error("notice of refund %s not recorded: %s", refund_no, error)

    async def record_payment(
        self, method: PayMethod, order_id: str, provider_txn_id: str, amount_fen: int, paid_at_ms: int
    ) -> OrderView | Rejection:
        """A payment from a provider's notification or the counter; idempotent per transaction.

        At the counter (inside a call) the call's audit record goes along, and the order's owner
        journals it with the payment."""
        # The owner ignores a transaction it has seen, so a counter's retry (a new paid_at) is simply
        # a new request id; a provider's repeated notification is the very same request.
        digest = hashlib.blake2b(
            f"{method.value}|{provider_txn_id}|{amount_fen}|{paid_at_ms}".encode(), digest_size=20
        ).hexdigest()
        command, note = with_audit_record(
            cmd.RecordPayment(f"pay-{digest}", order_id, method, provider_txn_id, amount_fen, paid_at_ms)
        )
        reply = await self.gateway.pool.submit(command)
        recorded_by_owner(note, reply)
        return reply


class OrdersService(orders_pb2_grpc.OrdersServicer):
    def __init__(self, desk: OrderDesk):
        self.desk = desk
        self.gateway = desk.gateway
        self.credential = self.gateway.credential  # signs each ticket's boarding credential

    async def CreateOrder(self, request, context):
        method = await _method(context, request.method)
        if not self.desk.payments.offers(method):
            await abort(
                context,
                reject(Reason.INVALID_FIELD, f"method: this station does not take {method.value}", field="method"),
            )
        note_audit(detail=f"hold {request.hold_id}")  # the owner names the new order as the target
        # A counter seller's order counts in their open shift (docs/shifts.md): refused without one.
        shift_id = await self.gateway.counter.caller_shift(context)
        view = await self.gateway.ask(
            context,
            lambda: cmd.CreateOrder(request.request_id, request.hold_id, method, self.gateway.own_account(), shift_id),
            audited=True,
            from_reply=True,
        )
        pay_url = qr_text = ""
        if method in WALLETS:
            async with provider_errors(context):
                pay_url, qr_text = await self.desk.payments.start(view)
        return orders_pb2.CreateOrderResponse(
            order=convert.order(view, self.credential), pay_url=pay_url, qr_text=qr_text
        )

    async def GetOrder(self, request, context):
        view = await self.gateway.ask(context, lambda: cmd.GetOrder(request.order_id, self.gateway.own_account()))
        return orders_pb2.GetOrderResponse(order=convert.order(view, self.credential))

    async def ListOrders(self, request, context):
        replies = await self.gateway.ask(context, lambda: cmd.ListOrders(caller().account_id), fan_out=True)
        views = sorted(
            (v for reply in replies for v in reply.orders), key=lambda v: (v.created_at_ms, v.order_id), reverse=True
        )
        orders, next_token = await paged(context, views, request, caller().account_id)
        return orders_pb2.ListOrdersResponse(
            orders=[convert.order(v, self.credential) for v in orders], next_page_token=next_token
        )

    async def CancelOrder(self, request, context):
        view = await self.gateway.ask(
            context,
            lambda: cmd.CancelOrder(request.request_id, request.order_id, self.gateway.own_account()),
            audited=True,
        )
        if PayMethod(view.method) in WALLETS:
            async with provider_errors(context):
                await self.desk.payments.close(view)  # so a late scan of the QR code cannot pay it
        return orders_pb2.CancelOrderResponse(order=convert.order(view, self.credential))

    async def PayAtCounter(self, request, context):
        method = await _method(context, request.method)
        if method is PayMethod.CASH and Permission.TAKE_CASH not in caller().allowed:
            await abort(context, cash_refusal("Orders/PayAtCounter with CASH"))
        # A counter seller takes an order's money only in an open shift (docs/shifts.md).  The order
        # counts in the shift of the counter seller who made it (CreateOrder), if one did.
        shift_id = await self.desk.gateway.counter.caller_shift(context)
        if method not in (PayMethod.CASH, PayMethod.CARD) or not self.desk.payments.offers(method):
            await abort(
                context,
                reject(
                    Reason.INVALID_FIELD,
                    "method: the counter takes cash, or a card where a POS terminal is set up",
                    field="method",
                ),
            )
        try:
            cmd.check_request_id(request.request_id)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        order = await self.gateway.ask(context, lambda: cmd.GetOrder(request.order_id))
        if shift_id:
            await self.gateway.counter.shift_with_numbers(context, len(order.seat_labels))
        if order.method != method.value:
            await abort(
                context,
                reject(
                    Reason.PAYMENT_MISMATCH,
                    f"order {order.order_id} is to be paid by {order.method}",
                    method=order.method,
                ),
            )
        if method is PayMethod.CASH:
            txn = f"cash-{request.request_id}"
        else:
            if not request.terminal_id:
                await abort(
                    context,
                    reject(Reason.MISSING_FIELD, "terminal_id: which POS terminal took the card", field="terminal_id"),
                )
            if not TERMINAL_ID.fullmatch(request.terminal_id):
                await abort(
                    context,
                    reject(
                        Reason.INVALID_FIELD,
                        "terminal_id: letters and digits, as printed on the POS terminal",
                        field="terminal_id",
                    ),
                )
            async with provider_errors(context):
                txn = await self.desk.payments.authorize_card(request.terminal_id, order)
        async with owner_errors(context):
            paid = await self.desk.record_payment(
                method, order.order_id, txn, order.amount_fen, self.desk.clock.now_ms()
            )
        if isinstance(paid, Rejection):
            await abort(context, paid)
        settled = await self.desk.settle(context, paid)
        if shift_id:  # the tickets are printed at this counter: they take the seller's paper numbers
            await self.gateway.counter.number_tickets(context, shift_id, request.request_id, settled.tickets)
        return orders_pb2.PayAtCounterResponse(order=convert.order(settled, self.credential))

    async def RefundOrder(self, request, context):
        own = self.gateway.own_account()
        if own:
            order = await self.gateway.ask(context, lambda: cmd.GetOrder(request.order_id, own))
            if order.method == PayMethod.CASH.value:
                await abort(
                    context,
                    reject(
                        Reason.ORDER_CLOSED, "paid in cash: the refund is paid out at a counter", method=order.method
                    ),
                )
        # A counter seller refunds in their open shift: cash goes out of that drawer (docs/shifts.md).
        shift_id = "" if own else await self.gateway.counter.caller_shift(context)
        view = await self.gateway.ask(
            context,
            lambda: cmd.RefundOrder(request.request_id, request.order_id, tuple(request.ticket_ids), own, shift_id),
            audited=True,
        )
        return orders_pb2.RefundOrderResponse(
            order=convert.order(await self.desk.settle(context, view), self.credential)
        )

    async def Reconcile(self, request, context):
        method = await _method(context, request.method)
        if method is PayMethod.CASH or not self.desk.payments.offers(method):
            await abort(
                context,
                reject(
                    Reason.INVALID_FIELD,
                    "method: a provider this station uses (WEPAY, ALIPAY or CARD); cash is counted at the till",
                    field="method",
                ),
            )
        try:
            start_ms, end_ms = self.gateway.day_window_ms(request.date)
            day = dt.date.fromisoformat(request.date)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        async with provider_errors(context):
            bill = await self.desk.payments.statement(method, day)
        owners = await self.gateway.ask(context, lambda: cmd.ListMoney(start_ms, end_ms), fan_out=True)
        ours = [line for reply in owners for line in reply.lines if line.method == method.value]
        return reconcile(
            [(line.kind, line.provider_txn_id, line.merchant_order_no, line.amount_fen) for line in bill],
            [(line.kind, line.provider_txn_id, line.order_id, line.amount_fen) for line in ours],
        )

    async def WatchOrder(self, request, context):
        viewer, principal = self.gateway.own_account(), caller()
        view = await self.gateway.ask(context, lambda: cmd.GetOrder(request.order_id, viewer))
        yield orders_pb2.WatchOrderResponse(order=convert.order(view, self.credential))
        stop_at = asyncio.get_running_loop().time() + MAX_WATCH_S
        while view.status not in FINAL and asyncio.get_running_loop().time() < stop_at:
            await asyncio.sleep(WATCH_POLL_S)
            # A watch lasts as long as its session: logging out or being disabled ends it too.
            if self.gateway.sessions is not None and await self.gateway.sessions.account(principal.session_id) is None:
                await abort(
                    context, reject(Reason.SESSION_ENDED, "the session has ended; log in again to keep watching")
                )
            latest = await self.gateway.ask(context, lambda: cmd.GetOrder(request.order_id, viewer))
            if (latest.history, latest.refunds, latest.settled) != (view.history, view.refunds, view.settled):
                view = latest
                yield orders_pb2.WatchOrderResponse(order=convert.order(view, self.credential))


def reconcile(
    theirs: list[tuple[str, str, str, int]], ours: list[tuple[str, str, str, int]]
) -> orders_pb2.ReconcileResponse:
    """Compare (kind, provider transaction, order, amount) lines, summed per kind and transaction."""

    def totals(lines):
        summed: dict[tuple[str, str], list] = {}
        for kind, txn, order_id, amount_fen in lines:
            entry = summed.setdefault((kind, txn), [order_id, 0])
            entry[1] += amount_fen
        return summed

    provider, keyun = totals(theirs), totals(ours)
    answer = orders_pb2.ReconcileResponse(
        provider_paid_fen=sum(a for k, _, _, a in theirs if k == PAY),
        keyun_paid_fen=sum(a for k, _, _, a in ours if k == PAY),
        provider_refunded_fen=sum(a for k, _, _, a in theirs if k == REFUND),
        keyun_refunded_fen=sum(a for k, _, _, a in ours if k == REFUND),
    )
    for key in sorted(provider.keys() | keyun.keys()):
        (kind, txn), at_provider, at_keyun = key, provider.get(key), keyun.get(key)
        if at_provider is not None and at_keyun is not None and at_provider[1] == at_keyun[1]:
            answer.matched += 1
            continue
        discrepancy = (
            orders_pb2.DISCREPANCY_MISSING_IN_KEYUN
            if at_keyun is None
            else orders_pb2.DISCREPANCY_MISSING_AT_PROVIDER
            if at_provider is None
            else orders_pb2.DISCREPANCY_AMOUNT_DIFFERS
        )
        answer.discrepancies.append(
            orders_pb2.ReconcileLine(
                discrepancy=discrepancy,
                kind=LINE_KIND_TO_PROTO[kind],
                provider_txn_id=txn,
                order_id=(at_provider or at_keyun)[0],
                provider_amount_fen=at_provider[1] if at_provider else 0,
                keyun_amount_fen=at_keyun[1] if at_keyun else 0,
            )
        )
    return answer


@contextlib.asynccontextmanager
async def provider_errors(context: grpc.aio.ServicerContext):
    """A payment provider that refuses or cannot be reached, told apart from Keyun's own errors."""
    async with owner_errors(context):
        try:
            yield
        except ValueError as error:  # the provider's client refused a value before sending it
            await abort(context, reject(Reason.INVALID_FIELD, f"a value the payment provider cannot take: {error}"))
        except ProviderRefused as refused:
            await abort(
                context,
                reject(Reason.PAYMENT_REFUSED, f"the payment provider refused: {refused}", provider_code=refused.code),
            )
        except (TimeoutError, ProviderError, aiohttp.ClientError) as error:
            await abort_unavailable(
                context,
                grpc.StatusCode.UNAVAILABLE,
                "PROVIDER_UNAVAILABLE",
                f"the payment provider did not answer ({type(error).__name__}); retry with the same request_id",
                RETRY_AFTER_RESTART_S,
            )


async def _method(context: grpc.aio.ServicerContext, value: int) -> PayMethod:
    method = convert.METHOD_OF_PROTO.get(value)
    if method is None:
        await abort(
            context,
            reject(
                Reason.MISSING_FIELD if value == 0 else Reason.INVALID_FIELD,
                "method: CASH, CARD, WEPAY or ALIPAY",
                field="method",
            ),
        )
    return method
