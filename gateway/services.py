"""gRPC servicers: proto request -> engine command -> owner -> view -> proto response.

Every handler follows the same path (`_ask`): build the command (its constructor validates every
field), send it to the owner of its trip through that owner's batcher, and turn a rejection into a
gRPC status with details.  The servicers hold no state of their own, apart from the search
answers the Catalog shares for a moment (`shared_answers.py`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import msgspec

from keyun.common import eticket
from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine import commands as cmd
from keyun.engine import seat_plan
from keyun.engine.accounts import check_passenger_id
from keyun.engine.decide import TripStatus
from keyun.engine.events import Holder
from keyun.engine.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SEATS_PER_HOLD
from keyun.engine.permissions import Permission
from keyun.engine.policy import Policy
from keyun.engine.reasons import Reason, Rejected, Rejection, at_path, element, invalid, reject
from keyun.engine.state import TicketStatus
from keyun.engine.views import ConflictedScanView, TicketView, TripView
from keyun.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    dispatch_pb2,
    dispatch_pb2_grpc,
    gate_pb2,
    gate_pb2_grpc,
    sales_pb2,
    sales_pb2_grpc,
)

from . import convert, dispatch_seats, etickets, flow_lines, trip_sheet, walk_in
from .auth import CALLER, caller
from .connection_limits import MAX_WATCH_S
from .errors import abort, note_audit, owner_errors, recorded_by_owner, with_audit_record
from .etickets import Issuer
from .merge_runs import TripMerge, mark_missed
from .network_loader import effective_date, load_network, local_today, parse_for_server
from .owners import OWNER_RESTART_WAIT_S, OwnerFailed, OwnerPool, OwnerUnavailable
from .pickup import PickUpDesk
from .rules import RULES
from .shared_answers import SharedAnswers
from .vehicle_change import change_vehicle

log = logging.getLogger("keyun.gateway")

# A rebooking older than this by its old ticket's owner's clock, and not settled, was interrupted:
# its saga is gone (each step gives up on an owner after OWNER_RESTART_WAIT_S, and four steps follow
# the one that marks the ticket), so a call that finds the ticket held finishes or undoes the move
# (Gateway.resolve_move) and carries on.  Younger
# moves are waited for: the call is answered CHANGE_IN_PROGRESS with a retry hint.
MOVE_STALE_MS = int(4 * OWNER_RESTART_WAIT_S * 1000)
# How often a revocation watch asks the watched trips' owners for news: a refund reaches the gates
# within about this long, at one small query per watched trip each time.
REVOCATION_POLL_S = 0.5
# A watch looks at its session at least this often while nothing is revoked.
SESSION_CHECK_S = 5.0
# The trips a gate boards, by default: those leaving in the next three hours.
DEFAULT_BOARDING_WINDOW_MS = 3 * 60 * 60 * 1000
# Interrupted moves resolved per owner per sweep (Gateway.resolve_interrupted_moves), so one sweep stays
# a short burst of owner calls however many sagas a crash cut off.
MAX_MOVES_SWEPT = 100


def without_saga(rejection: Rejection) -> Rejection:
    """A rejection as the client sees it: a rebooking's saga id is another client's request id."""
    return msgspec.structs.replace(rejection, facts=tuple((k, v) for k, v in rejection.facts if k != "saga"))


class Gateway:
    """What every servicer shares: the owner pool, the station's UTC offset, and how to find the
    caller's frequent passengers (the account services set it)."""

    def __init__(
        self,
        pool: OwnerPool,
        utc_offset_min: int,
        resolve_holders: Callable[[str, tuple[str, ...]], Awaitable[Any]] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.pool = pool
        self.utc_offset_min = utc_offset_min
        self.clock = clock  # what "today" is when a network is loaded without a first date
        self.resolve_holders = resolve_holders
        # The session cache (the server sets it): long calls check their session is still alive.
        self.sessions: Any = None
        # Pays out what an order's owner says is owed (the Orders service sets it): a rebooking to
        # a cheaper trip gives the difference back this way.
        self.settle_order: Callable[[grpc.aio.ServicerContext, Any], Awaitable[Any]] | None = None
        # Tests inject a failure at a rebooking step by name ("hold", "issue", "change"): a
        # Rejection (the owner refuses), an exception (the owner is gone), or a coroutine function
        # (another call racing the saga: it runs, then the step does); each is used once.
        self.saga_faults: dict[str, Rejection | Exception | Callable[[], Awaitable[Any]]] = {}
        # When a rebooking counts as interrupted (MOVE_STALE_MS); tests that race calls against a
        # rebooking set 0, so that every move a call finds is undone.
        self.move_stale_ms = MOVE_STALE_MS
        # Signs tickets' boarding credentials (the server sets it: gateway/etickets.py).
        self.issuer: Issuer | None = None
        # The station's field keys (the server sets them): walk-in passengers' documents are
        # encrypted and blind-indexed with them before a sale reaches its owner.
        self.keys: Any = None
        # Counter sellers' shifts and paper numbers (shift_services.CounterDesk; the server sets it).
        self.counter: Any = None
        # The station's policy (the server sets it): gates get its boarding rules.
        self.policy = Policy()
        # Notices to passengers (gateway/notices.py NoticeDesk; the server sets it): a trip change
        # is told to its ticket holders.
        self.notices: Any = None
        # The kept network and its daily roll (gateway/timetable.py; the server sets it).
        self.timetable: Any = None
        # The station rules in force now, with the changes scheduled at runtime (the server sets
        # it: gateway/station_rules_services.py); without it, `policy`.
        self.rules_in_force: Callable[[], Awaitable[Policy]] | None = None

    async def notify_trip_changed(self, kind: str, trip: TripView, request_id: str) -> None:
        """Tell the trip's ticket holders (gateway/notices.py TRIP_CHANGE_TEXT names the kinds).
        The change is applied already: a notice that cannot be recorded is logged, not refused."""
        if self.notices is None:
            return
        try:
            await self.notices.trip_changed(kind, trip, request_id)
        except (OwnerUnavailable, OwnerFailed) as error:
            # A retry of the same request records it (the notice id comes from the request id).
            log.error("notice %s of trip %s not recorded: %s", kind, trip.trip_id, error)

    def credential(self, view: TicketView) -> str:
        """A ticket's boarding credential, "" if it may not board (or no issuer is set)."""
        return self.issuer.credential(view) if self.issuer is not None else ""

    def ticket(self, view: TicketView) -> common_pb2.Ticket:
        """A ticket as clients see it, with its boarding credential."""
        return convert.ticket(view, self.credential(view))

    async def buyer_and_holders(
        self, context: grpc.aio.ServicerContext, passenger_ids
    ) -> tuple[str, tuple[Holder, ...]]:
        """Who buys and for whom: a passenger account buys for the passengers it names (it must
        name them); staff may name their own account's passengers too."""
        principal = CALLER.get()
        own = principal is not None and principal.own_only
        if own and not passenger_ids:
            await abort(
                context,
                reject(
                    Reason.MISSING_FIELD,
                    "passenger_ids: name who travels (Accounts/AddPassenger adds them)",
                    field="passenger_ids",
                ),
            )
        if not passenger_ids:
            return "", ()
        try:
            ids = tuple(passenger_ids)
            if len(ids) > MAX_SEATS_PER_HOLD:
                raise invalid("passenger_ids", f"at most {MAX_SEATS_PER_HOLD} passengers")
            for index, passenger_id in enumerate(ids):
                try:
                    check_passenger_id(passenger_id)
                except Rejected as rejected:
                    raise Rejected(at_path(rejected.rejection, element("passenger_ids", index))) from None
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        holders = await self.resolve_holders(principal.account_id, ids)
        if isinstance(holders, Rejection):
            await abort(context, holders)
        return (principal.account_id if own else ""), holders

    async def sale_passengers(
        self, context: grpc.aio.ServicerContext, request: Any
    ) -> tuple[str, tuple[Holder, ...], tuple[cmd.TicketRequest, ...], int]:
        """Who buys, for whom, what each seat is sold as, and how many seats (`seat_count`) a Hold or
        Sell takes: the caller's frequent passengers (`passenger_ids`, full fares) or walk-in
        passengers (`passengers`, by ticket type; walk_in.py)."""
        if not request.passengers:
            buyer, holders = await self.buyer_and_holders(context, request.passenger_ids)
            return buyer, holders, (), request.seat_count
        try:
            principal = CALLER.get()
            if principal is not None and principal.own_only:
                raise Rejected(
                    reject(
                        Reason.PERMISSION_DENIED,
                        "passengers: a passenger account names its saved passengers (passenger_ids)",
                        field="passengers",
                    )
                )
            if request.passenger_ids:
                raise invalid("passengers", "give passenger_ids or passengers, not both")
            walk_ins = walk_in.parse(request.passengers)
            seats = walk_in.seats_of(walk_ins)
            asked = len(request.seat_numbers) or request.seat_count
            if asked and asked != seats:
                raise invalid("passengers", f"{seats} seated passengers for {asked} seats: name one per seat")
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        if walk_in.needs_travel_date(walk_ins):
            trip = await self.ask(context, lambda: cmd.GetTrip(request.trip_id))
            date = walk_in.travel_date(trip.stops, request.from_station, self.utc_offset_min)
            if date is not None:
                try:
                    walk_in.check_ages(walk_ins, date)
                except Rejected as rejected:
                    await abort(context, rejected.rejection)
        try:
            sealed = walk_in.seal(self.keys, walk_ins, self.issuer.document_digest if self.issuer else None)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        return "", sealed.holders, sealed.tickets, 0 if request.seat_numbers else seats

    def own_account(self) -> str:
        """The caller's account when the call is allowed only for their own things, else ""."""
        principal = CALLER.get()
        return principal.account_id if principal is not None and principal.own_only else ""

    async def ask(
        self,
        context: grpc.aio.ServicerContext,
        build: Callable[[], Any],
        fan_out: bool = False,
        audited: bool = False,
        from_reply: bool = False,
    ) -> Any:
        """Validate, route, and return the owner's reply; abort the call on any rejection.

        `audited`: the call's audit record goes along, and the owner journals it with the call
        (engine.outbox.Audited), for handlers whose call this one owner call applies; `from_reply`:
        the owner completes the record from its reply (engine.shard.complete_record).
        """
        reply = await self._ask_once(context, build, fan_out, audited, from_reply)
        if not fan_out and self.interrupted(reply):
            async with owner_errors(context):
                await self.resolve_move(reply.fact("old_ticket_id"), reply.fact("saga"), reply.fact("new_trip_id"))
            # The call again: its first refusal was not remembered (engine.reasons.TRANSIENT).
            reply = await self._ask_once(context, build, fan_out, audited, from_reply)
        replies = reply if fan_out else [reply]
        for each in replies:
            if isinstance(each, Rejection):
                await abort(context, without_saga(each))
        return reply

    async def _ask_once(
        self,
        context: grpc.aio.ServicerContext,
        build: Callable[[], Any],
        fan_out: bool,
        audited: bool,
        from_reply: bool,
    ) -> Any:
        try:
            item = build()
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        note = None
        if audited:
            item, note = with_audit_record(item, from_reply)
        async with owner_errors(context):
            reply = await (self.pool.ask_all(item) if fan_out else self.pool.submit(item))
            recorded_by_owner(note, reply)
        return reply

    def interrupted(self, reply: Any) -> bool:
        """A refusal because a rebooking holds the ticket, and one old enough to count as cut off."""
        return (
            type(reply) is Rejection
            and reply.reason is Reason.CHANGE_IN_PROGRESS
            and int(reply.fact("age_ms")) >= self.move_stale_ms
        )

    async def undo_move(self, ticket_id: str, saga: str, new_trip_id: str) -> Rejection | None:
        """Undo a rebooking's move, whoever runs it: the saga itself after a refusal, a call that
        found it interrupted, or the sweep.  The old ticket's owner decides first (AbortChange:
        refused, TICKET_CHANGED, if the move was made, and then nothing is undone); the new
        trip's owner releases the saga's hold and voids its new ticket; the old owner then frees
        the ticket.  Every request id derives from the saga's, so any number of undos of one move,
        in any order, come to one.  Returns None once undone, else the refusal."""
        aborted = await self.pool.submit(cmd.AbortChange(f"{saga}-abort", ticket_id, saga))
        if isinstance(aborted, Rejection):
            return aborted
        undone = await self.pool.submit(cmd.UndoMove(f"{saga}-undo", new_trip_id, ticket_id, saga))
        if (
            isinstance(undone, Rejection) and undone.reason is not Reason.TRIP_ARCHIVED
        ):  # an archived trip holds no seat
            return undone
        cleared = await self.pool.submit(cmd.ClearChange(f"{saga}-clear", ticket_id, saga))
        return cleared if isinstance(cleared, Rejection) else None

    async def settle_move(self, new_ticket_id: str, saga: str) -> Rejection | None:
        """A rebooking's last step, at the new trip's owner, once the old ticket was given up: the
        new ticket is no longer pending its move.  Its request id derives from the saga's, so the
        saga and anyone resolving its move for it settle it once.  Returns None, or the refusal."""
        settled = await self.pool.submit(cmd.SettleMove(f"{saga}-settle", new_ticket_id, saga))
        return settled if isinstance(settled, Rejection) else None

    async def resolve_move(self, ticket_id: str, saga: str, new_trip_id: str) -> Rejection | None:
        """Finish or undo an interrupted rebooking of `ticket_id` (the old ticket), as its owner
        decides: if the move was made there (AbortChange refused TICKET_CHANGED, naming the new
        ticket), settle the new ticket; otherwise undo the move.  Found from either end: a call
        on the old or the new ticket, or the sweep.  Returns None once resolved, else the refusal."""
        refused = await self.undo_move(ticket_id, saga, new_trip_id)
        if refused is not None and refused.reason is Reason.TICKET_CHANGED and refused.fact("changed_to"):
            return await self.settle_move(refused.fact("changed_to"), saga)
        return refused

    async def resolve_interrupted_moves(self) -> int:
        """Finish or undo the moves every owner finds interrupted (older than move_stale_ms, or
        aborted and not cleared, or new tickets pending a move that old), so a saga cut off keeps
        no seat or hold, nor a new ticket that cannot be used, even if nobody asks for its tickets
        again.  The server runs this every MOVE_SWEEP_S; returns how many moves it resolved."""
        replies = await self.pool.ask_all(cmd.ListMoves(self.move_stale_ms, MAX_MOVES_SWEPT))
        # A move may be found at both of its ends: resolve it once.
        moves = {move[1]: move for reply in replies if not isinstance(reply, Rejection) for move in reply.moves}
        for ticket_id, saga, new_trip_id in moves.values():
            refused = await self.resolve_move(ticket_id, saga, new_trip_id)
            if refused is not None:
                log.warning("an interrupted rebooking of %s could not be resolved: %s", ticket_id, refused.message)
        return len(moves)

    def day_window_ms(self, date_text: str) -> tuple[int, int]:
        """[start, end) in epoch ms of a local date at the station's UTC offset."""
        day = cmd.parse_date("date", date_text)
        midnight = dt.datetime(
            day.year, day.month, day.day, tzinfo=dt.timezone(dt.timedelta(minutes=self.utc_offset_min))
        )
        start_ms = int(midnight.timestamp() * 1000)
        return start_ms, start_ms + 86_400_000


@dataclass(frozen=True)
class PageWindow:
    """Where one page starts and ends in a query's whole result (AIP-158), and the query it is for."""

    offset: int
    end: int
    key: int

    @classmethod
    def of(cls, page_size: int, page_token: str, query_key: str) -> PageWindow:
        if page_size < 0:
            raise invalid("page_size", "must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        key = zlib.crc32(query_key.encode())
        offset = 0
        if page_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(page_token.encode()))
                offset, token_key = int(token["o"]), int(token["k"])
            except (ValueError, KeyError, TypeError):
                raise Rejected(
                    reject(Reason.BAD_PAGE_TOKEN, "page_token is not one this server issued", field="page_token")
                ) from None
            if token_key != key or offset < 0:
                raise Rejected(
                    reject(Reason.BAD_PAGE_TOKEN, "page_token belongs to a different query", field="page_token")
                )
        return cls(offset, offset + size, key)

    def cut(self, items: list) -> tuple[list, str]:
        """This page of `items` (the whole result, or at least its first end + 1) and the next page's token."""
        more = self.end < len(items)
        next_token = (
            base64.urlsafe_b64encode(json.dumps({"o": self.end, "k": self.key}).encode()).decode() if more else ""
        )
        return items[self.offset : self.end], next_token


def page(items: list, page_size: int, page_token: str, query_key: str) -> tuple[list, str]:
    """One page of `items` and the token of the next (AIP-158); the token is bound to the query."""
    return PageWindow.of(page_size, page_token, query_key).cut(items)


async def paged(context: grpc.aio.ServicerContext, items: list, request: Any, query_key: str) -> tuple[list, str]:
    try:
        return page(items, request.page_size, request.page_token, query_key)
    except Rejected as rejected:
        await abort(context, rejected.rejection)


class CatalogService(catalog_pb2_grpc.CatalogServicer):
    def __init__(self, gateway: Gateway, searches: SharedAnswers | None = None, funnel: Any = None):
        self.gateway = gateway
        self.searches = searches or SharedAnswers(0)  # not shared unless the server says so
        self.funnel = funnel  # gateway/funnel.py: searches and seat maps for behaviour analysis

    async def SearchTrips(self, request, context):
        try:
            start_ms, end_ms = self.gateway.day_window_ms(request.date)
            window = PageWindow.of(
                request.page_size, request.page_token, f"{request.from_station}|{request.to_station}|{request.date}"
            )
            # Each owner sends only its first end + 1 offers: enough for this page and to tell
            # whether another follows.
            query = cmd.SearchTrips(request.from_station, request.to_station, start_ms, end_ms, window.end + 1)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        async with owner_errors(context):
            answer = await self.searches.answer((query, window), lambda: self._search(query, window))
        if isinstance(answer, Rejection):
            await abort(context, answer)
        if self.funnel is not None:
            self.funnel.searched(context, request, answer.offers)
        return answer

    async def _search(self, query: cmd.SearchTrips, window: PageWindow) -> catalog_pb2.SearchTripsResponse | Rejection:
        """One page of a search, asked of every owner; the answer may be shared (SharedAnswers)."""
        replies = await self.gateway.pool.ask_all(query)
        rejection = next((reply for reply in replies if isinstance(reply, Rejection)), None)
        if rejection is not None:
            return rejection
        for field_name, code in (("from_station", query.from_station), ("to_station", query.to_station)):
            if not any(code in reply.stations_known for reply in replies):
                return reject(Reason.UNKNOWN_STATION, f"no trip serves station {code}", field=field_name, station=code)
        offers = sorted(
            flow_lines.one_offer_per_line(o for reply in replies for o in reply.offers),
            key=lambda o: (o.from_stop.departs_at_ms, o.trip.trip_id),
        )
        offers, next_token = window.cut(offers)
        return catalog_pb2.SearchTripsResponse(offers=[convert.offer(o) for o in offers], next_page_token=next_token)

    async def GetTrip(self, request, context):
        view = await self.gateway.ask(context, lambda: cmd.GetTrip(request.trip_id))
        return catalog_pb2.GetTripResponse(trip=convert.trip(view))

    async def GetSeatMap(self, request, context):
        view = await self.gateway.ask(
            context, lambda: cmd.GetSeatMap(request.trip_id, request.from_station, request.to_station)
        )
        if self.funnel is not None:
            self.funnel.seat_map(context, request)
        return convert.seat_map(view)

    async def ListStations(self, request, context):
        replies = await self.gateway.ask(context, cmd.ListStations, fan_out=True)
        stations = sorted({code: name for reply in replies for code, name in reply.stations}.items())
        return catalog_pb2.ListStationsResponse(stations=[catalog_pb2.Station(code=c, name=n) for c, n in stations])


def _seat_request(request, seat_count: int) -> tuple:
    """The fields HoldRequest and SellRequest share, in the order PlaceHold and Sell take them
    (`seat_count` as Gateway.sale_passengers works it out)."""
    return (
        request.request_id,
        request.trip_id,
        request.from_station,
        request.to_station,
        tuple(request.seat_numbers),
        seat_count,
    )


class SalesService(sales_pb2_grpc.SalesServicer):
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.pick_ups = PickUpDesk(gateway)

    async def Hold(self, request, context):
        buyer, holders, tickets, seats = await self.gateway.sale_passengers(context, request)

        def hold(trip_id: str, request_id: str) -> cmd.PlaceHold:
            fields = (request_id, trip_id, *_seat_request(request, seats)[2:])
            return cmd.PlaceHold(*fields, request.ttl_seconds * 1000, buyer, holders, "", tickets)

        view = await self._on_trip(context, request, seats, hold)
        return sales_pb2.HoldResponse(hold=convert.hold(view))

    async def _on_trip(self, context, request, seats: int, build: Callable[[str, str], Any]) -> Any:
        """A hold or sale on the trip asked for; on a departure-when-full line's coach without seat
        numbers, on the next coach with room when that one is full or gone (gateway/flow_lines.py)."""
        if flow_lines.is_coach(request.trip_id) and not request.seat_numbers:
            return await flow_lines.sell(self.gateway, context, request.trip_id, request.request_id, seats, build)
        return await self.gateway.ask(context, lambda: build(request.trip_id, request.request_id), audited=True)

    async def Confirm(self, request, context):
        counter = await self.gateway.counter.sale(context, request.pay_method, 1)
        view = await self.gateway.ask(
            context,
            lambda: cmd.ConfirmHold(request.request_id, request.hold_id, counter=counter),
            audited=True,
        )
        numbers = await self.gateway.counter.numbers(context, counter, request.request_id, view.tickets)
        return sales_pb2.ConfirmResponse(
            tickets=[self.gateway.ticket(t) for t in view.tickets], total_fen=view.total_fen, paper_numbers=numbers
        )

    async def Release(self, request, context):
        await self.gateway.ask(
            context,
            lambda: cmd.ReleaseHold(request.request_id, request.hold_id, self.gateway.own_account()),
            audited=True,
        )
        return sales_pb2.ReleaseResponse()

    async def Sell(self, request, context):
        buyer, holders, tickets, seats = await self.gateway.sale_passengers(context, request)
        # A counter seller sells only in an open shift, with paper numbers left (docs/shifts.md).
        counter = await self.gateway.counter.sale(context, request.pay_method, len(request.seat_numbers) or seats)

        def sell(trip_id: str, request_id: str) -> cmd.Sell:
            fields = (request_id, trip_id, *_seat_request(request, seats)[2:])
            return cmd.Sell(*fields, buyer, holders, tickets, counter)

        view = await self._on_trip(context, request, seats, sell)
        numbers = await self.gateway.counter.numbers(context, counter, request.request_id, view.tickets)
        return sales_pb2.SellResponse(
            tickets=[self.gateway.ticket(t) for t in view.tickets], total_fen=view.total_fen, paper_numbers=numbers
        )

    async def Refund(self, request, context):
        shift_id = await self.gateway.counter.caller_shift(context)
        view = await self.gateway.ask(
            context, lambda: cmd.Refund(request.request_id, request.ticket_id, shift_id), audited=True
        )
        return sales_pb2.RefundResponse(ticket=self.gateway.ticket(view))

    async def ChangeTicket(self, request, context):
        rebooking = Rebooking(self.gateway, context, request)
        old, new = await rebooking.run()
        return sales_pb2.ChangeTicketResponse(
            old_ticket=self.gateway.ticket(old),
            new_ticket=self.gateway.ticket(new),
            fare_difference_fen=new.price_fen - old.price_fen,
            paper_numbers=rebooking.paper_numbers,
        )

    async def GetTicket(self, request, context):
        view = await self.gateway.ask(context, lambda: cmd.GetTicket(request.ticket_id, self.gateway.own_account()))
        return sales_pb2.GetTicketResponse(ticket=self.gateway.ticket(view))

    async def QuoteChange(self, request, context):
        """What ChangeTicket would charge now, and its refusal if it would refuse: changes nothing."""
        old, hold = await Rebooking(self.gateway, context, request).quote()
        new_price = new_ticket_price(hold)
        return sales_pb2.QuoteChangeResponse(
            ticket_id=old.ticket_id,
            new_trip_id=hold.trip_id,
            old_price_fen=old.price_fen,
            old_fare=convert.fare(old.fare, old.price_fen),
            new_price_fen=new_price,
            new_fare=convert.fare(hold.fares[0] if hold.fares else None, new_price),
            fare_difference_fen=new_price - old.price_fen,
            fee_fen=0,  # a ticket is rebooked once, free of charge: only the fares' difference changes hands
        )

    async def QuoteRefund(self, request, context):
        view = await self.gateway.ask(context, lambda: cmd.QuoteRefund(request.ticket_id, self.gateway.own_account()))
        return sales_pb2.QuoteRefundResponse(ticket_id=view.ticket_id, fee_fen=view.fee_fen, refund_fen=view.refund_fen)

    async def FindPassengerTickets(self, request, context):
        """A passenger's tickets by document or phone, through the blind index: the look-up is
        audited with its purpose and the masked document or phone, never the number itself."""
        try:
            purpose = walk_in.purpose(request.purpose)
            size = request.page_size or walk_in.DEFAULT_TRACE_PAGE
            if not 0 < size <= walk_in.MAX_TRACE_PAGE:
                raise invalid("page_size", f"must be 1..{walk_in.MAX_TRACE_PAGE}")
            document_index, phone_index, shown = walk_in.trace_key(self.gateway.keys, request)
            query = cmd.FindTickets(document_index, phone_index, size)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        note_audit(target=shown, detail=f"passenger ticket look-up: {purpose}")
        replies = await self.gateway.ask(context, lambda: query, fan_out=True)
        views = sorted(
            (t for reply in replies for t in reply.tickets), key=lambda t: (t.issued_at_ms, t.ticket_id), reverse=True
        )
        return sales_pb2.FindPassengerTicketsResponse(tickets=[self.gateway.ticket(t) for t in views[:size]])

    async def PickUpTickets(self, request, context):
        """取票: a kiosk's or counter's pick-up of tickets bought online (gateway/pickup.py)."""
        tickets = await self.pick_ups.pick_up(context, request)
        return sales_pb2.PickUpTicketsResponse(tickets=[self.gateway.ticket(t) for t in tickets])


def new_ticket_price(hold: Any) -> int:
    """The price of the ticket a rebooking's one-seat hold becomes (ConfirmHold issues it at its
    fare's total): what ChangeTicket charges, and what QuoteChange quotes."""
    return hold.total_fen


def new_seat_terms(old: TicketView, new_trip_id: str, seat_number: str) -> dict[str, Any]:
    """What a rebooking asks of the new trip: one seat of the old ticket's segment (the one named,
    or any), for whoever bought the old ticket, of its type with its insurance and free child."""
    seats = (seat_number,) if seat_number else ()
    return {
        "trip_id": new_trip_id,
        "from_station": old.from_stop.code,
        "to_station": old.to_stop.code,
        "seat_numbers": seats,
        "seat_count": 0 if seats else 1,
        "buyer": old.buyer,
        "holders": (old.holder,) if old.holder is not None else (),  # the new ticket belongs to the old one's buyer
        "tickets": _same_terms(old.fare),
    }


def dearer_refusal(own: str, new_trip_id: str, difference_fen: int) -> Rejection | None:
    """Whoever cannot collect the difference in hand (a passenger, a kiosk without a cash acceptor)
    would otherwise issue the dearer ticket for the cheaper fare."""
    if difference_fen <= 0 or not (own or Permission.TAKE_CASH not in CALLER.get().allowed):
        return None
    return reject(
        Reason.CHANGE_NOT_ALLOWED,
        f"trip {new_trip_id} costs {difference_fen} fen more: change at a counter, which collects the difference",
        field="new_trip_id",
    )


def _same_terms(fare: Any) -> tuple[cmd.TicketRequest, ...]:
    """A rebooked ticket's type, insurance and free child, for its new ticket; () for a ticket sold
    before ticket types (a full fare)."""
    if fare is None:
        return ()
    return (cmd.TicketRequest(fare.ticket_type, bool(fare.insurance_fen), fare.free_child),)


# The steps' own field paths that stand for a ChangeTicket request's field: its seat is the
# hold's only seat.
REBOOKING_PATHS = {"seat_numbers[0]": "seat_number"}
# A saga's id (saga_id): 48 bits of digest, out of reach of two requests of one station colliding,
# after a readable prefix of the request id; 40 + 1 + 12 + 7 (the longest step suffix) <= 64.
SAGA_DIGEST_CHARS = 12
SAGA_PREFIX_CHARS = 40


def _at_request_path(refusal: Rejection) -> Rejection:
    """A step's refusal, naming the request's field where the step's stands for one."""
    field = refusal.fact("field")
    return at_path(refusal, REBOOKING_PATHS[field]) if field in REBOOKING_PATHS else refusal


def saga_id(request_id: str, ticket_id: str) -> str:
    """A rebooking's id, which every step's request id starts with: the same for a retry of the
    same request, and another for the same request id on another ticket.  Step ids are remembered
    by the owner of each trip the saga touches, not only by the old ticket's owner, so a request id
    that a client reused for another ticket would otherwise replay that other rebooking's steps on a
    trip they share, and its undo would void that rebooking's new ticket.  The id keeps a readable
    prefix and leaves room for the step suffixes ("-change") within MAX_REQUEST_ID_CHARS."""
    digest = hashlib.sha256(f"{request_id}\n{ticket_id}".encode()).hexdigest()[:SAGA_DIGEST_CHARS]
    return f"{request_id[:SAGA_PREFIX_CHARS]}.{digest}"


class Rebooking:
    """改签 as a saga over two owners; every step's request id derives from the client's, so a
    retry replays the steps that ran (each owner answers from its idempotency window) and
    continues, and a refused call retried gets its first refusal again.

        0. mark the old ticket moving           (old trip; refused: nothing happened)
        1. hold a seat on the new trip          (refused: undo the move)
        2. issue the new ticket from that hold  (refused: undo the move)
        3. give up the old ticket               (refused: undo the move)
        4. settle the new ticket                (new trip; the move is made: never undone)

    The old seat is released last, so the passenger holds a seat throughout: two for a moment,
    never none, and exactly one when the call returns, whichever step failed.  From step 0 until
    the move is made or undone, the old ticket's owner refuses to refund, board or rebook the
    ticket (CHANGE_IN_PROGRESS), and from step 2 until step 4 the new trip's owner refuses the
    same for the new ticket, so neither ticket is used while the other may still be kept.  A saga
    cut off is finished or undone, as the old ticket's owner decides, by the next call on either
    ticket once it counts as interrupted, or by the sweep (Gateway.resolve_move, MOVE_STALE_MS).
    """

    def __init__(self, gateway: Gateway, context: grpc.aio.ServicerContext, request: Any):
        self.gateway, self.context, self.request = gateway, context, request
        # A quote (QuoteChange) has no request id: it runs no step.
        self.step = saga_id(getattr(request, "request_id", ""), request.ticket_id)
        self.paper_numbers: list = []  # a counter seller's change: the new ticket's paper number

    async def quote(self) -> tuple[Any, Any]:
        """The old ticket and the hold the rebooking would place, by the same checks and the same
        pricing as run()'s, asked of both owners as queries: refused as run() would be refused
        before it changed anything, and changing nothing (Sales/QuoteChange)."""
        gateway, request, own = self.gateway, self.request, self.gateway.own_account()
        await self._check_seat()
        await gateway.counter.sale(self.context, 0, 1)  # a counter seller changes tickets in an open shift
        new_trip = await gateway.ask(self.context, lambda: cmd.GetTrip(request.new_trip_id))
        old = await gateway.ask(
            self.context, lambda: cmd.CheckChange(request.ticket_id, new_trip.trip_id, new_trip.route_id, own)
        )
        query = cmd.QuoteHold(**new_seat_terms(old, new_trip.trip_id, request.seat_number))  # valid: checked above
        async with owner_errors(self.context):
            hold = await gateway.pool.submit(query)
        if isinstance(hold, Rejection):
            await abort(self.context, _at_request_path(hold))  # a seat refused as ChangeTicket's is
        refusal = dearer_refusal(own, new_trip.trip_id, new_ticket_price(hold) - old.price_fen)
        if refusal is not None:
            await abort(self.context, refusal)
        return old, hold

    async def _check_seat(self) -> None:
        try:
            if self.request.seat_number:  # checked here: the hold on the new trip would name it seat_numbers[0]
                cmd.check_seat_number("seat_number", self.request.seat_number)
        except Rejected as rejected:
            await abort(self.context, rejected.rejection)

    async def run(self) -> tuple[Any, Any]:
        gateway, request, own = self.gateway, self.request, self.gateway.own_account()
        try:
            cmd.check_request_id(request.request_id)
        except Rejected as rejected:
            await abort(self.context, rejected.rejection)
        await self._check_seat()
        # A counter seller changes tickets only in an open shift: the difference counts there.
        counter = await gateway.counter.sale(self.context, 0, 1)
        new_trip = await gateway.ask(self.context, lambda: cmd.GetTrip(request.new_trip_id))
        # The old owner checks the move and remembers its answer, so a retry hears it again.
        old = await gateway.ask(
            self.context,
            lambda: cmd.BeginChange(
                f"{self.step}-begin",
                request.ticket_id,
                self.step,
                new_trip.trip_id,
                new_trip.route_id,
                own,
            ),
        )
        terms = new_seat_terms(old, new_trip.trip_id, request.seat_number)
        hold = await self._do("hold", lambda: cmd.PlaceHold(f"{self.step}-hold", **terms, for_move=self.step))
        # The new ticket's price, its fare's total (not the segment's full fare: a child's ticket
        # stays a child's, with its insurance and the station's fees).
        new_price = new_ticket_price(hold)
        dearer = dearer_refusal(own, new_trip.trip_id, new_price - old.price_fen)
        if dearer is not None:
            await self._undo()
            await abort(self.context, dearer)
        issued = await self._do(
            "issue",
            lambda: cmd.ConfirmHold(
                f"{self.step}-issue", hold.hold_id, changed_from=old.ticket_id, for_move=self.step, counter=counter
            ),
        )
        new = issued.tickets[0]
        # The step that makes the change: the old ticket's owner journals the call's audit record with it.
        changed = await self._do(
            "change",
            lambda: cmd.ChangeTicket(f"{self.step}-change", old.ticket_id, new.ticket_id, own, new_price, self.step),
            audited=True,
        )
        # The move is made: the new ticket stops pending it, before the client hears of it.
        settled = await self._step("settle", lambda: self.gateway.settle_move(new.ticket_id, self.step))
        if settled is not None:
            await abort(self.context, settled)  # a bug: only a move made is settled, and it was made
        if changed.order_id and new.price_fen < old.price_fen and self.gateway.settle_order is not None:
            order = await gateway.ask(self.context, lambda: cmd.GetOrder(changed.order_id))
            await self.gateway.settle_order(self.context, order)  # the difference goes back to the payer
        self.paper_numbers = await gateway.counter.numbers(self.context, counter, request.request_id, (new,))
        return changed, new

    async def _do(self, name: str, build: Callable[[], Any], audited: bool = False) -> Any:
        """One step after the first; when the owner refuses it, undo the move and report why.
        `audited`: the call's audit record goes along, and the owner journals it with the step."""

        async def submit() -> Any:
            item, note = with_audit_record(build()) if audited else (build(), None)
            reply = await self.gateway.pool.submit(item)
            recorded_by_owner(note, reply)
            return reply

        reply = await self._step(name, submit)
        if isinstance(reply, Rejection):
            await self._undo()
            await abort(self.context, _at_request_path(reply))
        return reply

    async def _step(self, name: str, run: Callable[[], Awaitable[Any]]) -> Any:
        """Run a step, or the fault a test injected at it (saga_faults)."""
        fault = self.gateway.saga_faults.pop(name, None)
        if callable(fault):
            fault = await fault()  # a racing call (tests); the step itself runs as usual
        async with owner_errors(self.context):
            if isinstance(fault, Exception):
                raise fault  # as if the owner died here: the client's retry continues the saga
            if fault is not None:
                return fault  # a refusal the test made up: no owner journaled anything
            return await run()

    async def _undo(self) -> None:
        async with owner_errors(self.context):
            refused = await self.gateway.undo_move(self.request.ticket_id, self.step, self.request.new_trip_id)
        # Only the saga makes its move, and it is undoing it instead: a refusal here is a bug.
        assert refused is None, f"a rebooking could not undo its own move: {refused!r}"


def _scan_conflict(trip_id: str, conflict: Any, scanned_at_ms: int, recorded_at_ms: int = 0) -> gate_pb2.ScanConflict:
    message = gate_pb2.ScanConflict(
        trip_id=trip_id,
        ticket_id=conflict.ticket_id,
        gate_id=conflict.gate_id,
        reason=conflict.reason,
        first_gate_id=conflict.first_gate_id,
        other_ticket_id=getattr(conflict, "other_ticket_id", ""),  # a settled sale's (ConflictedScanView has none)
    )
    message.scanned_at.FromMilliseconds(scanned_at_ms)
    if conflict.first_at_ms:
        message.first_checked_in_at.FromMilliseconds(conflict.first_at_ms)
    if recorded_at_ms:
        message.recorded_at.FromMilliseconds(recorded_at_ms)
    return message


class GateService(gate_pb2_grpc.GateServicer):
    def __init__(self, gateway: Gateway, auth: Any = None):
        self.gateway = gateway
        self.auth = auth  # checks the scope of every trip a revocation watch names
        self.feed = etickets.RevocationFeed(gateway.pool.submit, REVOCATION_POLL_S)

    @property
    def issuer(self) -> Issuer:
        assert self.gateway.issuer is not None, "the server sets the credential issuer"
        return self.gateway.issuer

    async def CheckIn(self, request, context):
        ticket_id = request.ticket_id
        if request.credential:
            if ticket_id:
                await abort(
                    context, reject(Reason.INVALID_FIELD, "give ticket_id or credential, not both", field="credential")
                )
            try:
                ticket_id = self.issuer.verify(request.credential, self.gateway.clock.now_ms()).ticket_id
            except Rejected as rejected:
                await abort(context, rejected.rejection)
        if flow_lines.is_coach(flow_lines.ticket_trip(ticket_id)) and not request.HasField("scanned_at"):
            ticket_id = await self._flow_ticket(context, request, ticket_id)
        view = await self.gateway.ask(
            context,
            lambda: cmd.CheckIn(
                request.request_id,
                ticket_id,
                request.gate_id,
                convert.millis(request, "scanned_at"),  # a bad Timestamp is INVALID_FIELD
            ),
            audited=True,
            from_reply=True,  # an upload that conflicts says so in its audit record
        )
        if isinstance(view, ConflictedScanView):
            return gate_pb2.CheckInResponse(conflict=_scan_conflict(view.trip_id, view, view.scanned_at_ms))
        return gate_pb2.CheckInResponse(ticket=self.gateway.ticket(view))

    async def _flow_ticket(self, context, request, ticket_id: str) -> str:
        """The ticket that boards for a flow coach's ticket: itself, unless its coach left without
        it (a no-show), when it is moved to the line's open coach first (gateway/flow_lines.py)."""
        ticket = await self.gateway.ask(context, lambda: cmd.GetTicket(ticket_id))
        if ticket.status is TicketStatus.CHANGED and flow_lines.is_coach(flow_lines.ticket_trip(ticket.changed_to)):
            return str(ticket.changed_to)  # moved by an earlier scan: the new ticket boards
        if ticket.status is not TicketStatus.ISSUED or ticket.trip.status is not TripStatus.DEPARTED:
            return ticket_id
        return await flow_lines.board_no_show(self.gateway, context, ticket_id)

    async def ListConflicts(self, request, context):
        view = await self.gateway.ask(context, lambda: cmd.ListConflicts(request.trip_id))
        return gate_pb2.ListConflictsResponse(
            conflicts=[_scan_conflict(view.trip_id, c, c.scanned_at_ms, c.at_ms) for c in view.conflicts]
        )

    async def GetManifest(self, request, context):
        view = await self.gateway.ask(context, lambda: cmd.GetManifest(request.trip_id))
        tickets, next_token = await paged(context, list(view.tickets), request, request.trip_id)
        return gate_pb2.GetManifestResponse(
            trip=convert.trip(view.trip),
            tickets=[convert.ticket(t) for t in tickets],
            next_page_token=next_token,
            tickets_issued=len(view.tickets),
            tickets_checked_in=view.count(TicketStatus.CHECKED_IN),
            tickets_refunded=view.count(TicketStatus.REFUNDED),
        )

    async def GetCredentialKeys(self, request, context):
        keys = self.issuer.keys
        keys.reload()  # a rotation by `keyun keys rotate-credential` while the server runs
        return gate_pb2.GetCredentialKeysResponse(
            keys=[
                gate_pb2.CredentialKey(
                    key_id=info.key_id,
                    public_key=info.public_key,
                    created_at=convert.timestamp(info.created_at_ms),
                    retired_at=convert.timestamp(info.retired_at_ms),
                )
                for info in keys.keys()
            ],
            current_key_id=keys.current_key_id,
            format_version=eticket.FORMAT_VERSION,
            document_digest_key=keys.digest_key,
        )

    async def ListBoardingTrips(self, request, context):
        start_ms = convert.millis(request, "start_time", self.gateway.clock.now_ms())
        end_ms = convert.millis(request, "end_time", start_ms + DEFAULT_BOARDING_WINDOW_MS)
        replies = await self.gateway.ask(
            context, lambda: cmd.ListBoardingTrips(request.from_station, start_ms, end_ms), fan_out=True
        )
        found = sorted((pair for reply in replies for pair in reply.trips), key=lambda pair: (pair[0], pair[1].trip_id))
        async with owner_errors(context):
            policy = await self.gateway.rules_in_force() if self.gateway.rules_in_force else self.gateway.policy
        return gate_pb2.ListBoardingTripsResponse(
            trips=[
                gate_pb2.BoardingTrip(trip=convert.trip(view), departs_at=convert.timestamp(departs))
                for departs, view in found
            ],
            policy=gate_pb2.BoardingPolicy(
                require_document_match=policy.require_document_match,
                boarding_opens_minutes=policy.boarding_opens_ms // 60_000,
                boarding_closes_minutes=policy.boarding_closes_ms // 60_000,
            ),
        )

    async def GetBoardingSet(self, request, context):
        # The position first: a revocation between the two reads is then sent again by the watch
        # (harmless: revoking twice is revoking), never missed.
        revocations = await self.gateway.ask(context, lambda: cmd.GetRevocations(request.trip_id))
        view = await self.gateway.ask(context, lambda: cmd.GetManifest(request.trip_id))
        return gate_pb2.GetBoardingSetResponse(
            trip=convert.trip(view.trip),
            entries=[boarding_entry(t) for t in view.tickets],
            revocation_position=revocations.position,
            position=etickets.format_position({request.trip_id: revocations.position}),
        )

    async def WatchRevocations(self, request, context):
        trip_ids, counts = await self._watched(context, request)
        principal = CALLER.get()
        stop_at = asyncio.get_running_loop().time() + MAX_WATCH_S
        revoked, counts, trip_ids = await self._revoked_since(context, trip_ids, counts, first=True)
        yield gate_pb2.WatchRevocationsResponse(
            revocations=revoked, position=etickets.format_position(counts), caught_up=True
        )
        with self.feed.watch(counts):
            while trip_ids and asyncio.get_running_loop().time() < stop_at:
                woken = self.feed.changed  # taken before looking, so a change after the look wakes it
                moved = self.feed.moved(counts)
                if moved:
                    revoked, newer, _ = await self._revoked_since(context, moved, counts, first=False)
                    counts = {**counts, **newer}
                    if revoked:
                        yield gate_pb2.WatchRevocationsResponse(
                            revocations=revoked, position=etickets.format_position(counts), caught_up=True
                        )
                trip_ids = [t for t in trip_ids if t not in self.feed.departed]
                try:
                    await asyncio.wait_for(woken.wait(), SESSION_CHECK_S)
                except TimeoutError:
                    pass
                # A watch lasts as long as its session: logging out or being disabled ends it too.
                if (
                    self.gateway.sessions is not None
                    and await self.gateway.sessions.account(principal.session_id) is None
                ):
                    await abort(
                        context, reject(Reason.SESSION_ENDED, "the session has ended; log in again to keep watching")
                    )
        # Every trip gone, or long enough: the gate reconnects from its position.

    async def _watched(self, context, request) -> tuple[list[str], dict[str, int]]:
        """The trips a watch names, checked (in the caller's scope), and where it starts in each."""
        try:
            trip_ids = list(dict.fromkeys(request.trip_ids))
            if not 1 <= len(trip_ids) <= etickets.MAX_WATCHED_TRIPS:
                raise invalid("trip_ids", f"name 1 to {etickets.MAX_WATCHED_TRIPS} trips")
            for index, trip_id in enumerate(trip_ids):
                try:
                    cmd.check_trip_id(trip_id)
                except Rejected as rejected:
                    raise Rejected(at_path(rejected.rejection, element("trip_ids", index))) from None
            counts = etickets.parse_position(request.position)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        principal = CALLER.get()
        rule = RULES["/keyun.v1.Gate/WatchRevocations"]
        for trip_id in trip_ids:
            if self.auth is not None and not await self.auth.in_scope(rule, _TripNamed(trip_id), principal):
                await abort(context, reject(Reason.PERMISSION_DENIED, f"trip {trip_id} is outside your scope"))
        return trip_ids, {trip_id: counts.get(trip_id, 0) for trip_id in trip_ids}

    async def _revoked_since(
        self, context, trip_ids: list[str], counts: dict[str, int], first: bool
    ) -> tuple[list[gate_pb2.Revocation], dict[str, int], list[str]]:
        """Every watched trip's revocations after its count, the counts after them, and the trips
        still worth watching (an archived or departed trip boards nobody more)."""
        async with owner_errors(context):
            replies = await asyncio.gather(
                *(self.gateway.pool.submit(cmd.GetRevocations(t, counts[t])) for t in trip_ids)
            )
        revoked, watching = [], []
        for trip_id, reply in zip(trip_ids, replies):
            if isinstance(reply, Rejection):
                if first or reply.reason is not Reason.TRIP_ARCHIVED:
                    await abort(context, reply)
                continue
            revoked.extend(
                gate_pb2.Revocation(
                    trip_id=trip_id,
                    ticket_id=r.ticket_id,
                    reason=r.why,
                    revoked_at=convert.timestamp(r.at_ms),
                )
                for r in reply.revoked
            )
            counts = {**counts, trip_id: reply.position}
            if not reply.departed:
                watching.append(trip_id)
        return revoked, counts, watching


@dataclass(frozen=True)
class _TripNamed:
    """A request naming one trip, for the scope check of each trip a watch names."""

    trip_id: str


def boarding_entry(view: TicketView) -> gate_pb2.BoardingEntry:
    holder = view.holder
    return gate_pb2.BoardingEntry(
        ticket_id=view.ticket_id,
        seat_number=view.seat_label,
        status=convert.TICKET_STATUS[view.status],
        from_stop=view.from_stop.code,
        to_stop=view.to_stop.code,
        holder_name=holder.name_masked if holder is not None else "",
        document_digest=holder.document_digest if holder is not None else b"",
        ticket_type=etickets.ticket_type(view),
        checked_in_at=convert.timestamp(view.checked_in_at_ms),
        gate_id=view.gate_id,
    )


class DispatchService(dispatch_pb2_grpc.DispatchServicer):
    def __init__(self, gateway: Gateway, auth: Any = None, desk: Any = None):
        self.gateway = gateway
        self.auth = auth  # checks the scope of the trip an extra run named by its schedule copies
        self.desk = desk  # the accounts owner's desk: drivers' masked names for the trip sheet

    async def LoadNetwork(self, request, context):
        try:
            async with owner_errors(context):
                result = await load_network(
                    self.gateway,
                    request.request_id,
                    request.network_toml,
                    request.first_date,
                    request.days,
                    request.effective_from,
                    caller().account_id,
                )
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        return dispatch_pb2.LoadNetworkResponse(
            trips_created=result.created,
            trips_unchanged=result.unchanged,
            stations=result.stations,
            schedules=result.schedules,
            trips_replaced=result.replaced,
            trips_left_sold=result.left_sold,
            trips_retired=result.retired,
            effective_from=result.effective_from,
        )

    async def DiffNetwork(self, request, context):
        try:
            async with owner_errors(context):
                network = parse_for_server(self.gateway, request.network_toml)
                today = local_today(self.gateway.utc_offset_min, self.gateway.clock.now_ms())
                effective = effective_date(self.gateway, request.effective_from) or today
                plan = await self.gateway.timetable.plan(network, effective)
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        return dispatch_pb2.DiffNetworkResponse(
            schedules_added=plan.added,
            schedules_removed=plan.removed,
            schedules_changed=[dispatch_pb2.ScheduleChange(schedule_id=s, fields=f) for s, f in plan.changed],
            stations_renamed=[
                dispatch_pb2.StationRename(code=code, old_name=old, new_name=new) for code, old, new in plan.renamed
            ],
            trips_to_create=[s.trip_id for s in plan.create],
            trips_to_replace=[s.trip_id for s in plan.replace],
            trips_left_sold=plan.sold,
            trips_to_retire=plan.retire,
            trips_unchanged=plan.unchanged,
            effective_from=effective.isoformat(),
            nothing_kept=plan.nothing_kept,
        )

    async def DepartTrip(self, request, context):
        # With the crew on board and a note for the trip sheet (gateway/trip_sheet.py).
        view = await self.gateway.ask(context, lambda: trip_sheet.depart_command(request), audited=True)
        await flow_lines.departed(self.gateway, context, view)  # a flow line's next coach opens
        return dispatch_pb2.DepartTripResponse(trip=convert.trip(view))

    async def CancelTrip(self, request, context):
        view = await self.gateway.ask(
            context, lambda: cmd.CancelTrip(request.request_id, request.trip_id), audited=True
        )
        await self.gateway.notify_trip_changed("trip_cancelled", view, request.request_id)
        return dispatch_pb2.CancelTripResponse(trip=convert.trip(view))

    async def DelayTrip(self, request, context):
        view = await self.gateway.ask(
            context, lambda: cmd.DelayTrip(request.request_id, request.trip_id, request.delay_minutes), audited=True
        )
        await self.gateway.notify_trip_changed("trip_delayed", view, request.request_id)
        return dispatch_pb2.DelayTripResponse(trip=convert.trip(view))

    async def AssignGate(self, request, context):
        view = await self.gateway.ask(
            context, lambda: cmd.AssignGate(request.request_id, request.trip_id, request.gate), audited=True
        )
        await self.gateway.notify_trip_changed("trip_gate_changed", view, request.request_id)
        return dispatch_pb2.AssignGateResponse(trip=convert.trip(view))

    # Seat quotas for stops, blocked seats and extra runs (gateway/dispatch_seats.py, docs/dispatch.md).

    async def SetSeatQuota(self, request, context):
        view = await self.gateway.ask(context, lambda: dispatch_seats.set_quota(request), audited=True)
        return dispatch_pb2.SetSeatQuotaResponse(plan=dispatch_seats.plan(view))

    async def ClearSeatQuota(self, request, context):
        view = await self.gateway.ask(
            context,
            lambda: seat_plan.ClearSeatQuota(request.request_id, request.trip_id, request.stop),
            audited=True,
        )
        return dispatch_pb2.ClearSeatQuotaResponse(plan=dispatch_seats.plan(view))

    async def BlockSeats(self, request, context):
        view = await self.gateway.ask(context, lambda: dispatch_seats.block(request), audited=True)
        return dispatch_pb2.BlockSeatsResponse(plan=dispatch_seats.plan(view))

    async def UnblockSeats(self, request, context):
        view = await self.gateway.ask(
            context,
            lambda: seat_plan.UnblockSeats(request.request_id, request.trip_id, tuple(request.seat_numbers)),
            audited=True,
        )
        return dispatch_pb2.UnblockSeatsResponse(plan=dispatch_seats.plan(view))

    async def _in_scope(self, trip_id: str) -> bool:
        if self.auth is None:
            return True
        rule = RULES["/keyun.v1.Dispatch/AddExtraRun"]
        return bool(await self.auth.in_scope(rule, _TripNamed(trip_id), CALLER.get()))

    async def GetSeatPlan(self, request, context):
        view = await self.gateway.ask(context, lambda: seat_plan.GetSeatPlan(request.trip_id))
        return dispatch_pb2.GetSeatPlanResponse(plan=dispatch_seats.plan(view))

    async def AddExtraRun(self, request, context):
        view = await dispatch_seats.add_extra_run(self.gateway, context, request, self._in_scope)
        return dispatch_pb2.AddExtraRunResponse(plan=dispatch_seats.plan(view))

    async def _refuse_target_out_of_scope(self, context, into_trip_id: str) -> None:
        """The interceptor checked the trip given up (`trip_id`); the trip its passengers move to
        must be within the caller's stations as well."""
        if into_trip_id and not await self._in_scope(into_trip_id):
            await abort(
                context,
                reject(
                    Reason.PERMISSION_DENIED,
                    f"trip {into_trip_id[:40]} is outside your scope",
                    field="into_trip_id",
                ),
            )

    async def MergeTrips(self, request, context):
        """并班 (gateway/merge_runs.py): every live ticket of the trip moves to the other."""
        await self._refuse_target_out_of_scope(context, request.into_trip_id)
        return await TripMerge(self.gateway, context, request).run()

    async def MarkMissed(self, request, context):
        """脱班: the coach did not come (gateway/merge_runs.py mark_missed)."""
        view = await mark_missed(self.gateway, context, request)
        return dispatch_pb2.MarkMissedResponse(trip=convert.trip(view))

    async def GetTripSheet(self, request, context):
        """路单 (gateway/trip_sheet.py): the departed trip's coach, crew, passengers and revenue."""
        return await trip_sheet.get_trip_sheet(self.gateway, self.desk, context, request.trip_id)

    async def ChangeVehicle(self, request, context):
        """换车 (gateway/vehicle_change.py): a coach with fewer or more of the layout's seats."""
        await self._refuse_target_out_of_scope(context, request.into_trip_id)
        return await change_vehicle(self.gateway, context, request)


# Echo answers are bounded like any other message.
MAX_ECHO_BYTES = 64 * 1024


class DiagnosticsService(diagnostics_pb2_grpc.DiagnosticsServicer):
    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    async def Echo(self, request, context):
        if len(request.payload) > MAX_ECHO_BYTES:
            await abort(
                context, reject(Reason.INVALID_FIELD, f"payload: at most {MAX_ECHO_BYTES} bytes", field="payload")
            )
        if not 0 <= request.response_bytes <= MAX_ECHO_BYTES:
            await abort(
                context,
                reject(Reason.INVALID_FIELD, f"response_bytes: must be 0..{MAX_ECHO_BYTES}", field="response_bytes"),
            )
        if request.via_owner:
            await self.gateway.ask(context, cmd.Ping)
        payload = bytes(request.response_bytes) if request.response_bytes else request.payload
        return diagnostics_pb2.EchoResponse(payload=payload)
