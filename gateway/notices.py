"""Notices to passengers and SMS codes, at the gateway: who is told, the sender, and the RPCs.

What to say when a trip changes is TRIP_CHANGE_TEXT, one line per kind of change; a Dispatch
handler that changes a trip calls `NoticeDesk.trip_changed(kind, trip, request_id)` after the trip
owner applied it.  A new kind (a gate change) is a line in TRIP_CHANGE_TEXT and that call in its
handler.  Refunds paid out call `refund_paid` (gateway/order_services.py, settle_owed).

A notice is journaled by the accounts owner before anything is sent (engine/notices.py); its id
comes from the change's request id, so a retried request records nothing new.  The sender (one
task, in the first gateway process) asks the owner for deliveries due, sends each through the
SMS provider with the idempotency key "notice id/recipient", and records the outcome there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Iterable

import grpc
from prometheus_client import CollectorRegistry, Counter

from keyun.common.clock import CHINA, Clock
from keyun.common.sms_wire import mask_number
from keyun.engine import accounts as ac
from keyun.engine import commands as cmd
from keyun.engine import identity
from keyun.engine import notices as nt
from keyun.engine.reasons import Rejection
from keyun.engine.state import RELEASED
from keyun.engine.views import ManifestView, OrderView, TicketView, TripView
from keyun.v1 import notices_pb2, notices_pb2_grpc

from . import walk_in
from .account_services import PHONE_CONTEXT, AccountDesk, passenger_context, timestamp
from .auth import caller
from .errors import abort
from .sms import SmsFailed, SmsProvider

log = logging.getLogger("keyun.notices")

NOTICE_PHONE_CONTEXT = "notice.phone"
RECIPIENT_CONTEXT = "notice.recipient"
SIGNATURE = "【客运站】"

# What passengers are told when a trip changes: one line per kind of change (docs/notices.md).
# {route}, {date}, {time} are the trip's route and its first stop's (new) departure, local time.
TRIP_CHANGE_TEXT: dict[str, str] = {
    "trip_delayed": SIGNATURE + "您{date}乘坐的{route}班次延误，新的发车时间为{time}。退票免收手续费。",
    "trip_cancelled": SIGNATURE + "您{date} {time}乘坐的{route}班次已取消，可全额退票或改签。",
    "trip_gate_changed": SIGNATURE + "您{date} {time}乘坐的{route}班次检票口为{gate}，请到该检票口候车。",
    "trip_missed": SIGNATURE + "您{date} {time}乘坐的{route}班次脱班，车站将为您安排改乘，或可全额退票。",
}
# A ticket the station moved to another trip (并班, Dispatch/MergeTrips): one notice per ticket.
TICKET_MOVED_TEXT = SIGNATURE + "您{date} {old_time}乘坐的{route}班次已并入{time}班次，座位号{seat}，车票{ticket}。"

# A vehicle change (换车, Dispatch/ChangeVehicle): a ticket given another seat, or refunded in full
# because the smaller coach has no seat for it.  One notice per ticket.
TICKET_RESEATED_TEXT = (
    SIGNATURE + "您{date} {time}乘坐的{route}班次已换车，座位号由{old_seat}改为{seat}，车票{ticket}。"
)
TICKET_UNSEATED_TEXT = (
    SIGNATURE + "您{date} {time}乘坐的{route}班次已换乘小型车辆，无法保留您的座位，车票{ticket}已全额退款{yuan}元。"
)

REFUND_TEXT = SIGNATURE + "您的订单{order}已退款{yuan}元，请注意查收。"
CODE_TEXT = SIGNATURE + "验证码{code}，{minutes}分钟内有效，请勿告诉他人。"

# The sender looks for deliveries due at least this often (sooner when a notice is recorded).
SENDER_INTERVAL_S = 0.5


class NoticeDesk:
    """Records notices (with their recipients' phones, encrypted) and sends them."""

    def __init__(
        self,
        desk: AccountDesk,
        trips,
        provider: SmsProvider | None,
        registry: CollectorRegistry,
        clock: Clock,
        utc_offset_min: int = 8 * 60,
    ):
        """`trips`: submits a trip owner's query (OwnerPool.submit)."""
        self.desk = desk
        self.trips = trips
        self.provider = provider
        self.clock = clock
        self.utc_offset_min = utc_offset_min
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.sms = Counter(
            "keyun_sms_total",
            "Text messages to the SMS provider, by purpose (code, notice) and outcome (sent, retry, failed)",
            ["purpose", "outcome"],
            registry=registry,
        )
        for purpose, outcome in (
            ("code", "sent"),
            ("code", "failed"),
            *(("notice", o) for o in ("sent", "retry", "failed")),
        ):
            self.sms.labels(purpose=purpose, outcome=outcome)  # served at 0 from the start: alerts see them

    @property
    def keys(self):
        return self.desk.secrets.keyring

    # -- recording ----------------------------------------------------------------------------

    async def trip_changed(self, kind: str, trip: TripView, request_id: str) -> None:
        """Tell everyone holding a live ticket on the trip; `kind` is a key of TRIP_CHANGE_TEXT."""
        first = trip.stops[0]
        local = dt.datetime.fromtimestamp(first.departs_at_ms / 1000, CHINA)
        text = TRIP_CHANGE_TEXT[kind].format(
            route=trip.route_name, date=local.strftime("%m月%d日"), time=local.strftime("%H:%M"), gate=trip.gate
        )
        manifest = await self.trips(cmd.GetManifest(trip.trip_id))
        if isinstance(manifest, Rejection):
            log.warning("no notice for trip %s: %s", trip.trip_id, manifest.message)
            return
        assert isinstance(manifest, ManifestView)
        live = [t for t in manifest.tickets if t.status not in RELEASED]
        deliveries = await self._deliveries(await self._ticket_phones(live))
        await self._record(f"{kind}:{trip.trip_id}:{request_id}", kind, trip.trip_id, text, deliveries)

    async def ticket_moved(self, old_trip: TripView, new_ticket: TicketView, request_id: str) -> None:
        """Tell the holder of a ticket the station moved (并班) where they now travel."""
        old_local = dt.datetime.fromtimestamp(old_trip.stops[0].departs_at_ms / 1000, CHINA)
        local = dt.datetime.fromtimestamp(new_ticket.from_stop.departs_at_ms / 1000, CHINA)
        text = TICKET_MOVED_TEXT.format(
            route=old_trip.route_name,
            date=local.strftime("%m月%d日"),
            old_time=old_local.strftime("%H:%M"),
            time=local.strftime("%H:%M"),
            seat=new_ticket.seat_label,
            ticket=new_ticket.ticket_id,
        )
        deliveries = await self._deliveries(await self._ticket_phones([new_ticket]))
        notice_id = f"ticket_moved:{new_ticket.ticket_id}:{request_id}"
        await self._record(notice_id, "ticket_moved", new_ticket.trip.trip_id, text, deliveries)

    async def ticket_reseated(self, ticket: TicketView, old_seat: str, request_id: str) -> None:
        """Tell the holder of a ticket a vehicle change gave another seat its new seat number."""
        local = dt.datetime.fromtimestamp(ticket.from_stop.departs_at_ms / 1000, CHINA)
        text = TICKET_RESEATED_TEXT.format(
            route=ticket.trip.route_name,
            date=local.strftime("%m月%d日"),
            time=local.strftime("%H:%M"),
            old_seat=old_seat,
            seat=ticket.seat_label,
            ticket=ticket.ticket_id,
        )
        deliveries = await self._deliveries(await self._ticket_phones([ticket]))
        notice_id = f"ticket_reseated:{ticket.ticket_id}:{request_id}"
        await self._record(notice_id, "ticket_reseated", ticket.trip.trip_id, text, deliveries)

    async def ticket_unseated(self, ticket: TicketView, request_id: str) -> None:
        """Tell the holder of a ticket a smaller coach had no seat for that it was refunded in full."""
        local = dt.datetime.fromtimestamp(ticket.from_stop.departs_at_ms / 1000, CHINA)
        text = TICKET_UNSEATED_TEXT.format(
            route=ticket.trip.route_name,
            date=local.strftime("%m月%d日"),
            time=local.strftime("%H:%M"),
            ticket=ticket.ticket_id,
            yuan=f"{ticket.refunded_fen / 100:.2f}",
        )
        deliveries = await self._deliveries(await self._ticket_phones([ticket]))
        notice_id = f"ticket_unseated:{ticket.ticket_id}:{request_id}"
        await self._record(notice_id, "ticket_unseated", ticket.trip.trip_id, text, deliveries)

    async def refund_paid(self, order: OrderView, refund_no: str, amount_fen: int) -> None:
        """Tell the buyer of the order that a refund was paid out."""
        if not order.buyer:
            return  # sold at a counter without an account: the passenger had the money in hand
        text = REFUND_TEXT.format(order=order.order_id, yuan=f"{amount_fen / 100:.2f}")
        deliveries = await self._deliveries(await self._account_phones([order.buyer]))
        await self._record(f"refund_paid:{refund_no}", "refund_paid", order.order_id, text, deliveries)

    async def _ticket_phones(self, tickets: Iterable[TicketView]) -> list[tuple[str, str]]:
        """(account id, phone) for each ticket: the passenger's own phone if recorded, else the
        buying account's.  The accounts are asked all at once (the owner's batcher joins the calls)."""
        tickets = list(tickets)
        travellers = {
            t.holder.account_id
            for t in tickets
            if t.holder is not None and not t.holder.phone_cipher and t.holder.account_id and t.holder.passenger_id
        }
        passenger_phones = dict(zip(travellers, await asyncio.gather(*map(self._passenger_phones, travellers))))
        found: list[tuple[str, str]] = []
        fallback: list[str] = []
        for ticket in tickets:
            holder = ticket.holder
            account_id = ticket.buyer or (holder.account_id if holder is not None else "")
            if holder is not None and holder.phone_cipher:  # a walk-in passenger's, on the ticket
                found.append((account_id, self.keys.decrypt(holder.phone_cipher, walk_in.PHONE_CONTEXT)))
            elif holder is not None and (phone := passenger_phones.get(holder.account_id, {}).get(holder.passenger_id)):
                found.append((account_id, phone))
            elif account_id:
                fallback.append(account_id)
        return found + await self._account_phones(fallback)

    async def _passenger_phones(self, account_id: str) -> dict[str, str]:
        """The phones of an account's frequent passengers that have one, by passenger id."""
        listed = await self.desk.accounts.submit(ac.ListPassengers(account_id))
        if isinstance(listed, Rejection):
            return {}
        context = passenger_context("phone", account_id)
        return {p.passenger_id: self.keys.decrypt(p.phone_cipher, context) for p in listed.passengers if p.phone_cipher}

    async def _account_phones(self, account_ids: Iterable[str]) -> list[tuple[str, str]]:
        unique = list(dict.fromkeys(account_ids))
        views = await asyncio.gather(*(self.desk.accounts.submit(ac.GetAccount(a)) for a in unique))
        return [
            (account_id, self.keys.decrypt(view.phone_cipher, PHONE_CONTEXT))
            for account_id, view in zip(unique, views)
            if not isinstance(view, Rejection) and view.phone_cipher
        ]

    async def _deliveries(self, phones: Iterable[tuple[str, str]]) -> tuple[nt.NewDelivery, ...]:
        """One delivery per phone number, however many tickets it stands for."""
        chosen: dict[str, nt.NewDelivery] = {}
        for account_id, phone in phones:
            recipient = self.keys.blind_index(phone, RECIPIENT_CONTEXT).hex()[:32]
            if recipient not in chosen:
                chosen[recipient] = nt.NewDelivery(
                    recipient, account_id, self.keys.encrypt(phone, NOTICE_PHONE_CONTEXT)
                )
        return tuple(chosen.values())

    async def _record(
        self, notice_id: str, kind: str, subject: str, text: str, deliveries: tuple[nt.NewDelivery, ...]
    ) -> None:
        reply = await self.desk.accounts.submit(nt.RecordNotice(notice_id, kind, subject, text, deliveries))
        if isinstance(reply, Rejection):
            log.error("notice %s not recorded: %s", notice_id, reply.message)
            return
        log.info("notice %s recorded for %d recipients", notice_id, len(deliveries))
        self.wake.set()

    # -- sending ------------------------------------------------------------------------------

    def start(self) -> None:
        if self.provider is not None and self.task is None:
            self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None
        if self.provider is not None:
            await self.provider.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # an owner restarting: try again at the next round
                log.exception("the notice sender failed a round; trying again")
            try:
                await asyncio.wait_for(self.wake.wait(), SENDER_INTERVAL_S)
            except TimeoutError:
                pass
            self.wake.clear()

    async def send_due(self) -> int:
        """Send every delivery due now; return how many were tried."""
        assert self.provider is not None
        due = await self.desk.accounts.submit(nt.DueDeliveries())
        if isinstance(due, Rejection):
            return 0
        for delivery in due.deliveries:
            phone = self.keys.decrypt(delivery.phone_cipher, NOTICE_PHONE_CONTEXT)
            key = f"{delivery.notice_id}/{delivery.recipient}"
            try:
                message_id = await self.provider.send(phone, delivery.text, key)
            except SmsFailed as failed:
                final = not failed.retryable
                outcome = "failed" if final or delivery.attempts + 1 >= nt.MAX_DELIVERY_ATTEMPTS else "retry"
                self.sms.labels(purpose="notice", outcome=outcome).inc()
                log.warning(
                    "notice %s to %s not sent (try %d): %s",
                    delivery.notice_id,
                    mask_number(phone),
                    delivery.attempts + 1,
                    failed.code,
                )
                record = nt.RecordDelivery(delivery.notice_id, delivery.recipient, False, "", failed.code, final)
            else:
                self.sms.labels(purpose="notice", outcome="sent").inc()
                record = nt.RecordDelivery(delivery.notice_id, delivery.recipient, True, message_id)
            await self.desk.accounts.submit(record)
        return len(due.deliveries)

    async def send_code(self, phone: str, code: str) -> bool:
        """A verification code, sent at once (a passenger waits for it); whether it went."""
        assert self.provider is not None
        text = CODE_TEXT.format(code=code, minutes=nt.CODE_TTL_MS // 60_000)
        try:
            await self.provider.send(phone, text, "code-" + secrets.token_hex(12))
        except SmsFailed as failed:
            self.sms.labels(purpose="code", outcome="failed").inc()
            log.warning("verification code to %s not sent: %s", mask_number(phone), failed.code)
            return False
        self.sms.labels(purpose="code", outcome="sent").inc()
        return True


DELIVERY_STATUS_TO_PROTO = {
    nt.DeliveryStatus.PENDING: notices_pb2.DELIVERY_STATUS_PENDING,
    nt.DeliveryStatus.SENT: notices_pb2.DELIVERY_STATUS_SENT,
    nt.DeliveryStatus.FAILED: notices_pb2.DELIVERY_STATUS_FAILED,
}


def kind_to_proto(kind: str) -> int:
    """ "trip_delayed" -> NOTICE_KIND_TRIP_DELAYED (UNSPECIFIED for a kind this release does not name)."""
    try:
        return notices_pb2.NoticeKind.Value("NOTICE_KIND_" + kind.upper())
    except ValueError:
        return notices_pb2.NOTICE_KIND_UNSPECIFIED


DEFAULT_PAGE = 50
MAX_PAGE = 200


class NoticesService(notices_pb2_grpc.NoticesServicer):
    def __init__(self, notices: NoticeDesk):
        self.notices = notices

    async def ListMyNotices(self, request, context):
        page = await self._page(context, request, caller().account_id, False)
        return notices_pb2.ListMyNoticesResponse(notices=page[0], next_page_token=page[1])

    async def ListNotices(self, request, context):
        page = await self._page(context, request, "", request.failed_only, request.subject)
        return notices_pb2.ListNoticesResponse(notices=page[0], next_page_token=page[1])

    async def _page(
        self, context: grpc.aio.ServicerContext, request, account_id: str, failed_only: bool, subject: str = ""
    ):
        from keyun.engine.reasons import Reason, reject

        try:
            offset = int(request.page_token or "0")
        except ValueError:
            offset = -1
        size = request.page_size or DEFAULT_PAGE
        if offset < 0 or not 1 <= size <= MAX_PAGE:
            await abort(
                context,
                reject(Reason.BAD_PAGE_TOKEN, f"page_token from an earlier answer; page_size 1 to {MAX_PAGE}"),
            )
        query = await self.notices.desk.build(
            context, lambda: nt.ListNotices(account_id, offset, size, failed_only, subject)
        )
        reply = await self.notices.desk.ask(context, query)
        return [self._notice(n) for n in reply.notices], str(reply.next_offset) if reply.next_offset else ""

    def _notice(self, notice: nt.Notice) -> notices_pb2.Notice:
        keys = self.notices.keys
        return notices_pb2.Notice(
            notice_id=notice.notice_id,
            kind=kind_to_proto(notice.kind),
            subject=notice.subject,
            text=notice.text,
            created_at=timestamp(notice.created_at_ms),
            deliveries=[
                notices_pb2.NoticeDelivery(
                    phone=identity.mask_phone(keys.decrypt(d.phone_cipher, NOTICE_PHONE_CONTEXT)),
                    status=DELIVERY_STATUS_TO_PROTO[d.status],
                    attempts=d.attempts,
                    error=d.error,
                    updated_at=timestamp(d.updated_at_ms) if d.updated_at_ms else None,
                    message_id=d.message_id,
                )
                for d in notice.deliveries.values()
            ],
        )
