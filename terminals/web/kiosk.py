"""The self-service kiosk (自助售取票, JT/T 979 parts 10 and 11): touch-first pages at /kiosk.

The web process logs in as the kiosk's device account (`keyun web --device kiosk LOGIN FILE`) and
every page calls the gateway with that login: SearchTrips, Hold with walk-in passengers (the
counter's real-name rules), CreateOrder paid by a wallet's QR code, WatchOrder until the order is
ticketed, and PickUpTickets, which marks the tickets printed so that they print once.  Tickets are
printed through the counter's renderer (terminals/ticket_print.py) as a PDF the kiosk's browser
prints.

One passenger's journey is a *flow*: what they chose, kept in this process's memory under a random
id in an HttpOnly cookie, never in a URL.  After `kiosk_idle_s` without input every page goes back
to the start screen (static/kiosk.js), the flow is dropped (an unpaid order is cancelled, its seats
back on sale), and the browser's history holds nothing but pages that answer with the start
screen.  docs/kiosk.md describes the flows, the rules and the device's setup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import segno
from aiohttp import web

from keyun.terminals import printing, ticket_print
from keyun.terminals.client import KeyunError
from keyun.v1 import accounts_pb2, catalog_pb2, common_pb2, orders_pb2, sales_pb2

from . import i18n
from .app import GATEWAY, SETTINGS, Part, add_part, device_tokens, gateway, render
from .session import get_session

log = logging.getLogger("keyun.web.kiosk")

COOKIE = "keyun_kiosk"
# Paying takes a phone out of a pocket: the payment screen waits this many times longer.
PAY_IDLE_FACTOR = 5
# Walk-in passengers one purchase takes at a kiosk (a party at the counter takes more).
MAX_PASSENGERS = 3
CHINA = dt.timezone(dt.timedelta(hours=8))

DOCUMENT_TYPES = ("RESIDENT_ID", "PASSPORT", "HK_MACAU_PERMIT", "TAIWAN_PERMIT", "HMT_RESIDENCE_PERMIT")
# Concession and student tickets need their proof checked by a person: they are sold at a counter.
TICKET_TYPES = ("FULL", "CHILD", "FREE_CHILD")
WALLETS = {"wepay": orders_pb2.PAY_METHOD_WEPAY, "alipay": orders_pb2.PAY_METHOD_ALIPAY}

MESSAGES = {
    "kiosk.name": ("自助售取票", "Self-service kiosk"),
    "kiosk.blurb": ("购票、取票，触屏自助办理", "Buy tickets or pick up tickets bought online"),
    "kiosk.welcome": ("欢迎使用自助售取票机", "Welcome"),
    "kiosk.buy": ("购票", "Buy tickets"),
    "kiosk.buy.hint": ("实名购票，扫码支付", "Real-name tickets, pay by wallet QR code"),
    "kiosk.pickup": ("取票", "Pick up tickets"),
    "kiosk.pickup.hint": ("网上购票，凭订单号或证件取纸质票", "Bought online? Print them with your order code or ID"),
    "kiosk.start_over": ("返回首页", "Start over"),
    "kiosk.idle": ("无操作 {seconds} 秒后自动返回首页", "Returns to the start after {seconds} s without input"),
    "kiosk.from": ("出发站", "From"),
    "kiosk.to": ("到达站", "To"),
    "kiosk.date": ("乘车日期", "Travel date"),
    "kiosk.today": ("今天", "Today"),
    "kiosk.tomorrow": ("明天", "Tomorrow"),
    "kiosk.search": ("查询车次", "Find coaches"),
    "kiosk.trips": ("选择车次", "Choose a coach"),
    "kiosk.no_trips": ("没有可售车次。", "No coach is on sale for this journey."),
    "kiosk.departs": ("发车", "Departs"),
    "kiosk.fare": ("票价", "Fare"),
    "kiosk.seats_free": ("余票", "Seats left"),
    "kiosk.passengers": ("乘车人（实名）", "Passengers (real name)"),
    "kiosk.passenger": ("乘车人 {n}", "Passenger {n}"),
    "kiosk.passengers.hint": (
        "每位乘车人一张票；免票儿童须有同行成人。优待票、学生票请到人工窗口办理。",
        "One ticket each; a free child travels with an adult. Concession and student tickets are sold at a counter.",
    ),
    "kiosk.document_type": ("证件类型", "Document"),
    "kiosk.document_number": ("证件号码", "Document number"),
    "kiosk.name_label": ("姓名", "Name"),
    "kiosk.ticket_type": ("票种", "Ticket type"),
    "kiosk.pay_wepay": ("微信支付", "Pay with WePay"),
    "kiosk.pay_alipay": ("支付宝支付", "Pay with AliPay"),
    "kiosk.pay": ("请扫码支付", "Scan to pay"),
    "kiosk.order": ("订单号", "Order"),
    "kiosk.amount": ("金额", "Amount"),
    "kiosk.pay_by": ("请在此时间前支付", "Pay before"),
    "kiosk.waiting": ("等待支付结果……", "Waiting for the payment…"),
    "kiosk.closed": ("订单已关闭，未出票。", "The order was closed; no ticket was issued."),
    "kiosk.printing": ("正在打印车票，请取票", "Printing your tickets: please take them"),
    "kiosk.printed_note": (
        "每张车票只打印一次；遗失请到人工窗口补打。",
        "Each ticket prints once; a lost one is reprinted at a counter.",
    ),
    "kiosk.done": ("完成", "Done"),
    "kiosk.pickup.title": ("取票", "Pick up tickets"),
    "kiosk.order_code": ("订单号（可不填）", "Order code (optional)"),
    "kiosk.order_code.hint": (
        "填写订单号：打印整个订单的车票；只填证件：打印该证件的车票。",
        "With an order code: the order's tickets; with a document alone: that document's tickets.",
    ),
    "kiosk.pickup.submit": ("取票", "Pick up"),
    "kiosk.ticket": ("车票", "Ticket"),
    "kiosk.seat": ("座位", "Seat"),
    "kiosk.passenger_masked": ("乘车人", "Passenger"),
    "kiosk.no_device": (
        "本机未配置自助终端账号，请联系车站。",
        "This kiosk has no device account set up: please ask the station staff.",
    ),
    "kiosk.doc.RESIDENT_ID": ("居民身份证", "Resident ID"),
    "kiosk.doc.PASSPORT": ("护照", "Passport"),
    "kiosk.doc.HK_MACAU_PERMIT": ("港澳居民来往内地通行证", "HK/Macau permit"),
    "kiosk.doc.TAIWAN_PERMIT": ("台湾居民来往大陆通行证", "Taiwan permit"),
    "kiosk.doc.HMT_RESIDENCE_PERMIT": ("港澳台居民居住证", "HK/Macau/Taiwan residence permit"),
    "kiosk.type.FULL": ("全票", "Full fare"),
    "kiosk.type.CHILD": ("儿童票", "Child"),
    "kiosk.type.FREE_CHILD": ("免票儿童", "Free child (under 6)"),
    "reason.TICKET_ALREADY_PRINTED": (
        "该车票已取过，不能重复取票。遗失请到人工窗口补打。",
        "This ticket was picked up already. A lost ticket is reprinted at a counter.",
    ),
    "reason.NOTHING_TO_PICK_UP": (
        "没有可取的车票：请核对订单号和证件号码。",
        "No ticket to pick up: check the order code and the document number.",
    ),
    "kiosk.reason.DOCUMENT_HAS_TICKET": (
        "该证件在本车次已有车票。",
        "This document already has a ticket on this coach.",
    ),
    "kiosk.reason.INVALID_FIELD": ("填写有误，请检查。", "Something is filled in wrongly: please check."),
    "kiosk.reason.MISSING_FIELD": ("请填写必填项。", "Please fill in what is required."),
    "kiosk.reason.AGE_NOT_CHILD": ("儿童票限 6 至 14 周岁以下。", "A child ticket is for ages 6 to under 14."),
    "kiosk.reason.AGE_NOT_FREE_CHILD": (
        "免票儿童限 6 周岁以下，请购儿童票。",
        "A free child is under 6: buy a child ticket.",
    ),
    "kiosk.reason.FREE_CHILD_NEEDS_ADULT": (
        "免票儿童须由购全票的成人携带。",
        "A free child travels with a fare-paying adult.",
    ),
    "kiosk.reason.NOT_ENOUGH_SEATS": ("余票不足。", "Not enough seats left."),
    "kiosk.reason.SALES_CLOSED": ("该车次已停止售票。", "Sales for this coach have closed."),
}
i18n.register(MESSAGES)


@dataclass
class Flow:
    """One passenger's journey at the kiosk: in memory only, dropped at the start screen, when
    done, or after the idle time."""

    flow_id: str
    seen: float
    origins: list[tuple[str, str]] = field(default_factory=list)  # where the kiosk sells from
    stations: list[tuple[str, str]] = field(default_factory=list)  # where to
    offers: list[Any] = field(default_factory=list)  # catalog_pb2.TripOffer
    offer: Any = None
    passengers: list[Any] = field(default_factory=list)  # sales_pb2.WalkInPassenger, plain text
    order: Any = None  # orders_pb2.Order
    qr_text: str = ""
    tickets: list[Any] = field(default_factory=list)  # common_pb2.Ticket, masked, to print
    # Request ids chosen once per flow: a page reloaded or a call retried is the same request.
    hold_request: str = field(default_factory=lambda: secrets.token_hex(12))
    order_request: str = field(default_factory=lambda: secrets.token_hex(12))
    print_request: str = field(default_factory=lambda: secrets.token_hex(12))


class Flows:
    """Every kiosk screen's flow, by the id in its cookie; flows idle longer than `idle_s` (or
    `idle_s * PAY_IDLE_FACTOR` while an order waits for payment) are dropped."""

    def __init__(self, idle_s: int):
        self.idle_s = idle_s
        self.flows: dict[str, Flow] = {}

    def _limit(self, flow: Flow) -> float:
        waiting = flow.order is not None and flow.order.status == orders_pb2.ORDER_STATUS_PENDING_PAYMENT
        return self.idle_s * (PAY_IDLE_FACTOR if waiting else 1)

    def sweep(self) -> list[Flow]:
        """Drop every idle flow; return them (their unpaid orders are cancelled)."""
        now = time.monotonic()
        idle = [f for f in self.flows.values() if now - f.seen > self._limit(f)]
        for flow in idle:
            del self.flows[flow.flow_id]
        return idle

    def current(self, request: web.Request) -> Flow | None:
        flow = self.flows.get(request.cookies.get(COOKIE, ""))
        if flow is not None:
            flow.seen = time.monotonic()
        return flow

    def start(self) -> Flow:
        flow = Flow(secrets.token_urlsafe(24), time.monotonic())
        self.flows[flow.flow_id] = flow
        return flow

    def drop(self, request: web.Request) -> Flow | None:
        return self.flows.pop(request.cookies.get(COOKIE, ""), None)


FLOWS = web.AppKey("kiosk_flows", Flows)


def setup(app: web.Application) -> None:
    app[FLOWS] = Flows(app[SETTINGS].kiosk_idle_s)
    app.cleanup_ctx.append(_sweeping)
    add_part(app, Part("kiosk.name", "/kiosk", "kiosk.blurb"))
    app.router.add_get("/kiosk", start)
    app.router.add_post("/kiosk/reset", reset)
    app.router.add_get("/kiosk/buy", buy_form)
    app.router.add_post("/kiosk/buy", buy_search)
    app.router.add_get("/kiosk/buy/trips", trips_page)
    app.router.add_post("/kiosk/buy/trip", choose_trip)
    app.router.add_get("/kiosk/buy/passengers", passengers_form)
    app.router.add_post("/kiosk/buy/passengers", hold_and_order)
    app.router.add_get("/kiosk/buy/pay", pay_page)
    app.router.add_get("/kiosk/buy/watch", watch_order)
    app.router.add_get("/kiosk/buy/print", print_bought)
    app.router.add_get("/kiosk/pickup", pickup_form)
    app.router.add_post("/kiosk/pickup", pick_up)
    app.router.add_get("/kiosk/tickets", tickets_page)
    app.router.add_get("/kiosk/tickets.pdf", tickets_pdf)


# --- the flow's pages ------------------------------------------------------------------------


async def _sweeping(app: web.Application):
    """Drop idle flows every idle period, whether or not their screens ask for anything: a screen
    that lost power or its network keeps nothing of its passenger here either."""

    async def sweep() -> None:
        while True:
            await asyncio.sleep(app[FLOWS].idle_s)
            for flow in app[FLOWS].sweep():
                await _abandon(app, flow)

    task = asyncio.create_task(sweep())
    yield
    task.cancel()


async def _swept(request: web.Request) -> Flows:
    """The flows, after dropping the idle ones (cancelling their unpaid orders)."""
    flows = request.app[FLOWS]
    for flow in flows.sweep():
        await _abandon(request.app, flow)
    return flows


async def _abandon(app: web.Application, flow: Flow) -> None:
    """A flow left before its order was paid: cancel the order, so its seats go back on sale (a
    payment arriving later is owed back whole by the trip owner)."""
    login = app[SETTINGS].devices.get("kiosk")
    if login is None or flow.order is None or flow.order.status != orders_pb2.ORDER_STATUS_PENDING_PAYMENT:
        return
    try:
        gw = app[GATEWAY]
        cancel = orders_pb2.CancelOrderRequest(request_id=f"{flow.order_request}-c", order_id=flow.order.order_id)
        await gw.call(gw.orders.CancelOrder, cancel, await login.tokens(gw))
    except KeyunError as error:  # paid meanwhile, or expired: nothing to give back here
        log.info("an abandoned kiosk order was not cancelled: %s", error.reason or error.code.name)


async def _flow(request: web.Request) -> Flow:
    """The screen's flow; a screen without one (idle, done, or a page from history) goes to the start."""
    flow = (await _swept(request)).current(request)
    if flow is None:
        raise web.HTTPSeeOther("/kiosk")
    return flow


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    flows = request.app[FLOWS]
    context.setdefault("error", None)
    context.setdefault("at_start", False)
    return render(
        request,
        f"kiosk/{template}",
        status=status,
        idle_s=flows.idle_s,
        pay_idle_s=flows.idle_s * PAY_IDLE_FACTOR,
        **context,
    )


def _with_flow(response: web.StreamResponse, flow: Flow) -> web.StreamResponse:
    response.set_cookie(COOKIE, flow.flow_id, httponly=True, samesite="Strict", path="/kiosk")
    return response


async def start(request: web.Request) -> web.Response:
    """The start screen: whoever stood here before is gone, and so is their flow."""
    flows = await _swept(request)
    flow = flows.drop(request)
    if flow is not None:
        await _abandon(request.app, flow)
    response = _page(request, "start.html", at_start=True)
    response.del_cookie(COOKIE, path="/kiosk")
    return response


async def reset(request: web.Request) -> web.Response:
    """The idle timer's (or the Start over button's) reset: drop the flow, back to the start."""
    flow = request.app[FLOWS].drop(request)
    if flow is not None:
        await _abandon(request.app, flow)
    response = web.HTTPSeeOther("/kiosk")
    response.del_cookie(COOKIE, path="/kiosk")
    raise response


async def _tokens(request: web.Request):
    return await device_tokens(request, "kiosk")


async def _stations(request: web.Request) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Where the kiosk sells from (its account's stations; every station for a kiosk of "*"), and
    every station served, to travel to."""
    gw, tokens = gateway(request), await _tokens(request)
    reply = await gw.call(gw.catalog.ListStations, catalog_pb2.ListStationsRequest(), tokens)
    served = [(s.code, s.name) for s in reply.stations]
    profile = await gw.call(gw.accounts.GetProfile, accounts_pb2.GetProfileRequest(), tokens)
    own = set(profile.account.stations)
    origins = served if "*" in own else [(code, name) for code, name in served if code in own]
    return origins or served, served


def _dates() -> list[tuple[str, str]]:
    today = dt.datetime.now(CHINA).date()
    return [("kiosk.today", today.isoformat()), ("kiosk.tomorrow", (today + dt.timedelta(days=1)).isoformat())]


async def buy_form(request: web.Request) -> web.StreamResponse:
    flows = await _swept(request)
    flow = flows.current(request) or flows.start()
    if not flow.stations:
        flow.origins, flow.stations = await _stations(request)
    return _with_flow(_buy_page(request, flow), flow)


def _buy_page(request: web.Request, flow: Flow, status: int = 200, error: Any = None) -> web.Response:
    return _page(
        request, "buy.html", status=status, origins=flow.origins, stations=flow.stations, dates=_dates(), error=error
    )


async def buy_search(request: web.Request) -> web.StreamResponse:
    flow = await _flow(request)
    form = await request.post()
    date = str(form.get("date", ""))
    search = catalog_pb2.SearchTripsRequest(
        from_station=str(form.get("from", "")), to_station=str(form.get("to", "")), date=date, page_size=20
    )
    gw = gateway(request)
    try:
        reply = await gw.call(gw.catalog.SearchTrips, search, await _tokens(request))
    except KeyunError as error:
        return _buy_page(request, flow, 400, _refusal(request, error))
    flow.offers = [o for o in reply.offers if o.status == common_pb2.TRIP_STATUS_ON_SALE and o.seats_free > 0]
    raise web.HTTPSeeOther("/kiosk/buy/trips")


async def trips_page(request: web.Request) -> web.Response:
    flow = await _flow(request)
    return _page(request, "trips.html", offers=flow.offers, when=_when, yuan=printing.yuan)


async def choose_trip(request: web.Request) -> web.Response:
    flow = await _flow(request)
    form = await request.post()
    try:
        flow.offer = flow.offers[int(str(form.get("offer", "")))]
    except (ValueError, IndexError):
        raise web.HTTPSeeOther("/kiosk/buy/trips") from None
    raise web.HTTPSeeOther("/kiosk/buy/passengers")


def _passengers_page(request: web.Request, flow: Flow, status: int = 200, error: Any = None) -> web.Response:
    return _page(
        request,
        "passengers.html",
        status=status,
        offer=flow.offer,
        rows=range(1, MAX_PASSENGERS + 1),
        document_types=DOCUMENT_TYPES,
        ticket_types=TICKET_TYPES,
        when=_when,
        yuan=printing.yuan,
        error=error,
    )


async def passengers_form(request: web.Request) -> web.Response:
    flow = await _flow(request)
    if flow.offer is None:
        raise web.HTTPSeeOther("/kiosk/buy")
    return _passengers_page(request, flow)


def _walk_ins(form: Any) -> list[sales_pb2.WalkInPassenger]:
    """The rows filled in; a row without a document number is left out."""
    walk_ins = []
    for n in range(1, MAX_PASSENGERS + 1):
        number = str(form.get(f"number{n}", "")).strip()
        if not number:
            continue
        document_type = str(form.get(f"doc{n}", "RESIDENT_ID"))
        ticket_type = str(form.get(f"type{n}", "FULL"))
        walk_ins.append(
            sales_pb2.WalkInPassenger(
                document_type=getattr(common_pb2, f"DOCUMENT_TYPE_{document_type}", 0)
                if document_type in DOCUMENT_TYPES
                else 0,
                document_number=number,
                name=str(form.get(f"name{n}", "")).strip(),
                ticket_type=getattr(common_pb2, f"TICKET_TYPE_{ticket_type}", 0) if ticket_type in TICKET_TYPES else 0,
            )
        )
    return walk_ins


async def hold_and_order(request: web.Request) -> web.Response:
    """Hold seats for the walk-in passengers and make a wallet order of the hold: the QR code next."""
    flow = await _flow(request)
    if flow.offer is None:
        raise web.HTTPSeeOther("/kiosk/buy")
    form = await request.post()
    walk_ins = _walk_ins(form)
    if not walk_ins:
        missing = KeyunError(grpc.StatusCode.INVALID_ARGUMENT, "name at least one passenger", reason="MISSING_FIELD")
        return _passengers_page(request, flow, 400, _refusal(request, missing))
    method = WALLETS.get(str(form.get("wallet", "")), orders_pb2.PAY_METHOD_WEPAY)
    offer, gw, tokens = flow.offer, gateway(request), await _tokens(request)
    # A new set of passengers is a new request: the ids of one set are reused only by its retries.
    flow.hold_request, flow.order_request = secrets.token_hex(12), secrets.token_hex(12)
    try:
        hold = (
            await gw.call(
                gw.sales.Hold,
                sales_pb2.HoldRequest(
                    request_id=flow.hold_request,
                    trip_id=offer.trip.trip_id,
                    from_station=offer.from_stop.code,
                    to_station=offer.to_stop.code,
                    passengers=walk_ins,
                ),
                tokens,
            )
        ).hold
        created = await gw.call(
            gw.orders.CreateOrder,
            orders_pb2.CreateOrderRequest(request_id=flow.order_request, hold_id=hold.hold_id, method=method),
            tokens,
        )
    except KeyunError as error:
        return _passengers_page(request, flow, 400, _refusal(request, error))
    flow.passengers, flow.order, flow.qr_text = walk_ins, created.order, created.qr_text
    raise web.HTTPSeeOther("/kiosk/buy/pay")


async def pay_page(request: web.Request) -> web.Response:
    flow = await _flow(request)
    if flow.order is None:
        raise web.HTTPSeeOther("/kiosk/buy")
    data_uri = segno.make_qr(flow.qr_text, error="m").svg_data_uri(scale=8, border=2)
    return _page(request, "pay.html", order=flow.order, qr=data_uri, yuan=printing.yuan, when=_when)


async def watch_order(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `ticketed` once the order has its tickets (WatchOrder), `closed` if it
    expired or was cancelled."""
    flow = await _flow(request)
    if flow.order is None:
        raise web.HTTPSeeOther("/kiosk/buy")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    gw, tokens = gateway(request), await _tokens(request)
    watch = orders_pb2.WatchOrderRequest(order_id=flow.order.order_id)
    try:
        async for update in gw.stream(gw.orders.WatchOrder, watch, tokens):
            flow.order, flow.seen = update.order, time.monotonic()
            if update.order.status == orders_pb2.ORDER_STATUS_TICKETED:
                await response.write(b"event: ticketed\ndata: {}\n\n")
                break
            if update.order.status in (orders_pb2.ORDER_STATUS_EXPIRED, orders_pb2.ORDER_STATUS_CANCELLED):
                await response.write(b"event: closed\ndata: {}\n\n")
                break
    except KeyunError as error:
        body = json.dumps({"reason": error.reason}).encode()
        await response.write(b"event: failed\ndata: " + body + b"\n\n")
    except ConnectionResetError:
        pass  # the screen went elsewhere
    return response


async def print_bought(request: web.Request) -> web.Response:
    """The order is ticketed: pick its tickets up (marked printed, once) and print them."""
    flow = await _flow(request)
    if flow.order is None or not flow.passengers:
        raise web.HTTPSeeOther("/kiosk/buy")
    first = flow.passengers[0]
    pick = sales_pb2.PickUpTicketsRequest(
        request_id=flow.print_request,
        order_id=flow.order.order_id,
        document_type=first.document_type,
        document_number=first.document_number,
    )
    gw = gateway(request)
    flow.tickets = list((await gw.call(gw.sales.PickUpTickets, pick, await _tokens(request))).tickets)
    flow.passengers = []  # printed: the documents are needed no more
    raise web.HTTPSeeOther("/kiosk/tickets")


async def pickup_form(request: web.Request) -> web.StreamResponse:
    flows = await _swept(request)
    flow = flows.current(request) or flows.start()
    return _with_flow(_page(request, "pickup.html", document_types=DOCUMENT_TYPES, error=None), flow)


async def pick_up(request: web.Request) -> web.Response:
    flow = await _flow(request)
    form = await request.post()
    document_type = str(form.get("doc", "RESIDENT_ID"))
    pick = sales_pb2.PickUpTicketsRequest(
        request_id=secrets.token_hex(12),
        order_id=str(form.get("order", "")).strip().upper(),
        document_type=getattr(common_pb2, f"DOCUMENT_TYPE_{document_type}", 0)
        if document_type in DOCUMENT_TYPES
        else 0,
        document_number=str(form.get("number", "")).strip(),
    )
    gw = gateway(request)
    try:
        reply = await gw.call(gw.sales.PickUpTickets, pick, await _tokens(request))
    except KeyunError as error:
        return _page(request, "pickup.html", status=409, document_types=DOCUMENT_TYPES, error=_refusal(request, error))
    flow.tickets = list(reply.tickets)
    raise web.HTTPSeeOther("/kiosk/tickets")


async def tickets_page(request: web.Request) -> web.Response:
    flow = await _flow(request)
    if not flow.tickets:
        raise web.HTTPSeeOther("/kiosk")
    autoprint = getattr(request.app[SETTINGS], "kiosk_autoprint", True)
    return _page(request, "tickets.html", tickets=flow.tickets, when=_when, autoprint=autoprint)


async def tickets_pdf(request: web.Request) -> web.Response:
    """The flow's tickets as a PDF, one page each, through the counter's renderer."""
    flow = await _flow(request)
    if not flow.tickets:
        raise web.HTTPNotFound()
    station = flow.tickets[0].from_stop.name
    layouts = [ticket_print.layout(t, ticket_print.PrintExtras(station=station, seller="kiosk")) for t in flow.tickets]
    with tempfile.TemporaryDirectory(prefix="keyun-kiosk-") as directory:
        target = Path(directory) / "tickets.pdf"
        title = "Keyun tickets " + " ".join(t.ticket_id for t in flow.tickets)
        ticket_print.pdf_tickets(layouts, target, _cjk_font(), title=title)
        body = target.read_bytes()
    name = flow.tickets[0].ticket_id
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


_FONT: list[Path | None] = []


def _cjk_font() -> Path | None:
    """The Chinese font tickets print with, found once."""
    if not _FONT:
        _FONT.append(ticket_print.find_cjk_font())
    return _FONT[0]


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    text: str
    reason: str
    detail: str  # the gateway's own message (masked data only), for the staff who help


def _refusal(request: web.Request, error: KeyunError) -> Refusal:
    """A refusal for the screen: the kiosk's own words for it (kiosk.reason.CODE, which other
    parts may word otherwise), else the site's (reason.CODE), else the gateway's message."""
    lang = get_session(request).lang
    own = f"kiosk.reason.{error.reason}"
    text = i18n.translator(lang)(own) if own in MESSAGES else i18n.reason_text(error.reason, lang, error.message)
    return Refusal(text, error.reason, error.message)


def _when(stamp: Any) -> str:
    return printing.local(stamp, fmt="%m-%d %H:%M").split(" (")[0]
