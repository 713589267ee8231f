"""The passenger site (网站 / H5, JT/T 979 part 7) at /site: register, log in, frequent passengers,
search, a seat map, hold and pay by wallet, watch the order become tickets, e-ticket QR codes,
refund and rebook with the fee shown first, and the order history.

Every step is an RPC of the gateway made with the passenger's own token, kept in the sealed
session cookie; the site keeps no state of its own.  Forms that carry a document number are
POSTs, and no page echoes one back: the gateway masks what it returns.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import grpc
import segno
from aiohttp import web

from keyun.terminals import printing
from keyun.terminals.client import KeyunError
from keyun.v1 import accounts_pb2, catalog_pb2, common_pb2, notices_pb2, orders_pb2, sales_pb2

from . import i18n
from .app import Part, add_part, gateway, render
from .limits import AddressLimiter
from .session import Session, get_session
from .site_messages import MESSAGES

i18n.register(MESSAGES)

CHINA = dt.timezone(dt.timedelta(hours=8))
ORDERS_PAGE = 10
# Sign-up, SMS code, password reset and login POSTs from one client address, per minute, before
# the web process itself refuses (the gateway limits logins per account and codes per number and
# address as well; this stops one address hammering it).
SIGN_IN_LIMIT = 20
SIGN_IN_WINDOW_S = 60.0
DOCUMENT_TYPES = {
    "resident_id": common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
    "passport": common_pb2.DOCUMENT_TYPE_PASSPORT,
    "hk_macau_permit": common_pb2.DOCUMENT_TYPE_HK_MACAU_PERMIT,
    "taiwan_permit": common_pb2.DOCUMENT_TYPE_TAIWAN_PERMIT,
}
WALLETS = {"wepay": orders_pb2.PAY_METHOD_WEPAY, "alipay": orders_pb2.PAY_METHOD_ALIPAY}
# Orders whose tickets may be refunded or rebooked from the site.
LIVE_ORDER = {orders_pb2.ORDER_STATUS_TICKETED, orders_pb2.ORDER_STATUS_PARTIALLY_REFUNDED}
PENDING = orders_pb2.ORDER_STATUS_PENDING_PAYMENT


LIMITER = web.AppKey("site_limiter", AddressLimiter)


def setup(app: web.Application) -> None:
    app[LIMITER] = AddressLimiter(SIGN_IN_LIMIT, SIGN_IN_WINDOW_S)
    add_part(app, Part("site.part", "/site", "site.blurb"))
    routes = app.router
    routes.add_get("/site", index)
    routes.add_get("/site/register", register_form)
    routes.add_post("/site/register", register)
    routes.add_get("/site/reset", reset_form)
    routes.add_post("/site/reset", reset)
    routes.add_get("/site/notices", notices)
    routes.add_get("/site/login", login_form)
    routes.add_post("/site/login", login)
    routes.add_post("/site/logout", logout)
    routes.add_get("/site/passengers", passengers)
    routes.add_post("/site/passengers/add", add_passenger)
    routes.add_post("/site/passengers/remove", remove_passenger)
    routes.add_get("/site/search", search)
    routes.add_get("/site/trip/{trip_id}", seat_choice)
    routes.add_post("/site/hold", hold)
    routes.add_post("/site/order", create_order)
    routes.add_get("/site/orders", orders)
    routes.add_get("/site/orders/{order_id}", order_detail)
    routes.add_get("/site/orders/{order_id}/events", order_events)
    routes.add_post("/site/refund/quote", refund_quote)
    routes.add_post("/site/refund", refund)
    routes.add_get("/site/change/{order_id}/{ticket_id}", change_choice)
    routes.add_post("/site/change/quote", change_quote)
    routes.add_post("/site/change", change)
    # A POST's page asked for again by GET (the language switch, a reload after a restart): the
    # page the step started from, rather than 405.
    for path, start in POST_ONLY_PAGES.items():
        routes.add_get(path, _start_again(start))


# ---- helpers -------------------------------------------------------------------------------


POST_ONLY_PAGES = {
    "/site/hold": "/site",
    "/site/order": "/site/orders",
    "/site/refund/quote": "/site/orders",
    "/site/refund": "/site/orders",
    "/site/change/quote": "/site/orders",
    "/site/change": "/site/orders",
    "/site/passengers/add": "/site/passengers",
    "/site/passengers/remove": "/site/passengers",
    "/site/logout": "/site",
}


def _start_again(path: str):
    async def handler(request: web.Request) -> web.Response:
        return see_other(path + (f"?lang={request.query['lang']}" if "lang" in request.query else ""))

    return handler


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """A site page, with the formatting helpers every site template uses.  Each page gets a fresh
    request id for its forms, so a form sent twice (a double click, a reload) is applied once."""
    context.setdefault("error", "")
    context.setdefault("notice", "")
    return render(
        request,
        f"site/{template}",
        status=status,
        yuan=printing.yuan,
        local=printing.local,
        status_key=lambda name: f"site.status.{name}",
        order_status=orders_pb2.OrderStatus.Name,
        ticket_status=common_pb2.TicketStatus.Name,
        doc_key=_document_key,
        request_id=uuid.uuid4().hex,
        **context,
    )


def _document_key(document_type: int) -> str:
    for key, value in DOCUMENT_TYPES.items():
        if value == document_type:
            return f"site.doc.{key}"
    return "site.document_type"


def passenger(request: web.Request) -> Session:
    """The logged-in passenger's session; a visitor who is not logged in goes to the login page."""
    session = get_session(request)
    if not session.logged_in or session.part:  # a staff login to the report pages is no passenger's
        raise web.HTTPSeeOther("/site/login")
    return session


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {key: str(value).strip() for key, value in data.items()}


def refusal(request: web.Request, error: KeyunError) -> str:
    """A gateway refusal in the page's language, with how long to wait when it says."""
    lang = get_session(request).lang
    text = i18n.reason_text(error.reason, lang, error.message)
    if wait_s := retry_after_s(error):
        text += " " + i18n.translator(lang)("site.retry_after", seconds=max(1, round(wait_s)))
    return text


def retry_after_s(error: KeyunError) -> float:
    """How long the gateway says to wait: its RetryInfo, or the refusal's `retry_at_ms` fact (a
    login's back-off, an SMS code's gap); 0 when it says nothing."""
    if error.retry_after_s:
        return error.retry_after_s
    try:
        retry_at_ms = int(error.facts.get("retry_at_ms", "0"))
    except ValueError:
        return 0.0
    return max(0.0, retry_at_ms / 1000 - time.time()) if retry_at_ms else 0.0


def too_many(request: web.Request, template: str, wait_s: float, **context: Any) -> web.Response:
    _ = i18n.translator(get_session(request).lang)
    message = _("site.too_many") + " " + _("site.retry_after", seconds=max(1, round(wait_s)))
    response = page(request, template, status=429, error=message, **context)
    response.headers["Retry-After"] = str(max(1, round(wait_s)))
    return response


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def qr_svg(text: str) -> str:
    """The QR code of `text` as an SVG data URI (the page's CSP allows img data:)."""
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2)


def _station_day(stamp) -> str:
    """The Beijing date of a protobuf Timestamp, as SearchTrips takes it."""
    return stamp.ToDatetime(tzinfo=dt.UTC).astimezone(CHINA).date().isoformat()


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


async def stations(request: web.Request) -> list[catalog_pb2.Station]:
    gw = gateway(request)
    return list((await gw.call(gw.catalog.ListStations, catalog_pb2.ListStationsRequest())).stations)


async def frequent_passengers(request: web.Request, session: Session) -> list[accounts_pb2.Passenger]:
    gw = gateway(request)
    return list((await gw.call(gw.accounts.ListPassengers, accounts_pb2.ListPassengersRequest(), session)).passengers)


async def get_order(request: web.Request, session: Session, order_id: str) -> orders_pb2.Order:
    gw = gateway(request)
    return (await gw.call(gw.orders.GetOrder, orders_pb2.GetOrderRequest(order_id=order_id), session)).order


def see_other(path: str) -> web.Response:
    """A redirect after a POST, returned rather than raised: the session middleware seals the
    session into the cookie only on a response the handler returns."""
    return web.Response(status=303, headers={"Location": path})


# ---- account -------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    return page(request, "index.html", stations=await stations(request), date=today())


async def register_form(request: web.Request) -> web.Response:
    return page(request, "register.html", phone="", sent="")


async def register(request: web.Request) -> web.Response:
    """Sign up: "send code" asks the gateway for an SMS code to the number (Accounts.RequestSmsCode);
    "sign up" registers with the code and logs in."""
    data = await form(request)
    phone = data.get("phone", "")
    if wait_s := request.app[LIMITER].retry_after(request.remote or ""):
        return too_many(request, "register.html", wait_s, phone=phone, sent="")
    if data.get("action") == "code":
        return await _send_code(request, "register.html", phone, accounts_pb2.SMS_CODE_PURPOSE_REGISTER)
    _ = i18n.translator(get_session(request).lang)
    if data.get("password", "") != data.get("password2", ""):
        return page(request, "register.html", status=400, error=_("site.passwords_differ"), phone=phone, sent="")
    gw = gateway(request)
    try:
        await gw.call(
            gw.accounts.Register,
            accounts_pb2.RegisterRequest(
                request_id=data.get("request_id") or uuid.uuid4().hex,
                phone=phone,
                password=data.get("password", ""),
                display_name=data.get("display_name", ""),
                sms_code=data.get("sms_code", ""),
            ),
        )
        reply = await gw.call(
            gw.accounts.Login, accounts_pb2.LoginRequest(login_name=phone, password=data.get("password", ""))
        )
    except KeyunError as error:
        return page(request, "register.html", status=400, error=refusal(request, error), phone=phone, sent="")
    get_session(request).login(reply.access_token, reply.refresh_token, mask_phone(phone))
    return see_other("/site/passengers")


async def _send_code(request: web.Request, template: str, phone: str, purpose: int) -> web.Response:
    """An SMS code to `phone`; the same form again, saying until when the code works."""
    gw = gateway(request)
    try:
        reply = await gw.call(
            gw.accounts.RequestSmsCode, accounts_pb2.RequestSmsCodeRequest(phone=phone, purpose=purpose)
        )
    except KeyunError as error:
        status = 429 if retry_after_s(error) else 400
        return page(request, template, status=status, error=refusal(request, error), phone=phone, sent="")
    return page(request, template, phone=phone, sent=printing.local(reply.expires_at, fmt="%H:%M"))


async def reset_form(request: web.Request) -> web.Response:
    return page(request, "reset.html", phone="", sent="")


async def reset(request: web.Request) -> web.Response:
    """A forgotten password: an SMS code to the account's number, then a new password
    (Accounts.ResetPassword; every session of the account ends)."""
    data = await form(request)
    phone = data.get("phone", "")
    if wait_s := request.app[LIMITER].retry_after(request.remote or ""):
        return too_many(request, "reset.html", wait_s, phone=phone, sent="")
    if data.get("action") == "code":
        return await _send_code(request, "reset.html", phone, accounts_pb2.SMS_CODE_PURPOSE_RESET_PASSWORD)
    _ = i18n.translator(get_session(request).lang)
    if data.get("password", "") != data.get("password2", ""):
        return page(request, "reset.html", status=400, error=_("site.passwords_differ"), phone=phone, sent="")
    gw = gateway(request)
    try:
        await gw.call(
            gw.accounts.ResetPassword,
            accounts_pb2.ResetPasswordRequest(
                request_id=data.get("request_id") or uuid.uuid4().hex,
                phone=phone,
                sms_code=data.get("sms_code", ""),
                new_password=data.get("password", ""),
            ),
        )
    except KeyunError as error:
        return page(request, "reset.html", status=400, error=refusal(request, error), phone=phone, sent="")
    return page(request, "login.html", phone=phone, notice=_("site.reset.done"))


async def login_form(request: web.Request) -> web.Response:
    return page(request, "login.html", phone="")


async def login(request: web.Request) -> web.Response:
    data = await form(request)
    phone = data.get("phone", "")
    if wait_s := request.app[LIMITER].retry_after(request.remote or ""):
        return too_many(request, "login.html", wait_s, phone=phone)
    gw = gateway(request)
    try:
        reply = await gw.call(
            gw.accounts.Login, accounts_pb2.LoginRequest(login_name=phone, password=data.get("password", ""))
        )
    except KeyunError as error:
        status = 429 if error.reason in ("LOGIN_THROTTLED", "TOO_MANY_LOGIN_ATTEMPTS") else 401
        return page(request, "login.html", status=status, error=refusal(request, error), phone=phone)
    get_session(request).login(reply.access_token, reply.refresh_token, mask_phone(phone))
    return see_other("/site")


async def logout(request: web.Request) -> web.Response:
    session = get_session(request)
    if session.logged_in:
        gw = gateway(request)
        try:
            await gw.call(gw.accounts.Logout, accounts_pb2.LogoutRequest(), session)
        except KeyunError:
            pass  # an expired or revoked session: forgetting the cookie's tokens is all that is left
    session.clear()
    return see_other("/site")


async def passengers(request: web.Request) -> web.Response:
    session = passenger(request)
    return page(request, "passengers.html", passengers=await frequent_passengers(request, session), error="", name="")


async def add_passenger(request: web.Request) -> web.Response:
    session = passenger(request)
    data = await form(request)
    gw = gateway(request)
    try:
        document_type = DOCUMENT_TYPES.get(data.get("document_type", ""), common_pb2.DOCUMENT_TYPE_UNSPECIFIED)
        await gw.call(
            gw.accounts.AddPassenger,
            accounts_pb2.AddPassengerRequest(
                request_id=data.get("request_id") or uuid.uuid4().hex,
                name=data.get("name", ""),
                document_type=document_type,
                document_number=data.get("document_number", ""),
                phone=data.get("phone", ""),
            ),
            session,
        )
    except KeyunError as error:
        # The name goes back into the form; the document number never does.
        return page(
            request,
            "passengers.html",
            status=400,
            passengers=await frequent_passengers(request, session),
            error=refusal(request, error),
            name=data.get("name", ""),
        )
    return see_other("/site/passengers")


async def remove_passenger(request: web.Request) -> web.Response:
    session = passenger(request)
    data = await form(request)
    gw = gateway(request)
    await gw.call(
        gw.accounts.RemovePassenger,
        accounts_pb2.RemovePassengerRequest(
            request_id=data.get("request_id") or uuid.uuid4().hex, passenger_id=data.get("passenger_id", "")
        ),
        session,
    )
    return see_other("/site/passengers")


# ---- search, seats, hold, order --------------------------------------------------------------


async def search(request: web.Request) -> web.Response:
    query = request.query
    origin, destination, date = query.get("from", ""), query.get("to", ""), query.get("date", "") or today()
    gw = gateway(request)
    reply = await gw.call(
        gw.catalog.SearchTrips,
        catalog_pb2.SearchTripsRequest(
            from_station=origin, to_station=destination, date=date, page_size=50, page_token=query.get("page", "")
        ),
    )
    return page(
        request,
        "search.html",
        stations=await stations(request),
        offers=reply.offers,
        next_page=reply.next_page_token,
        origin=origin,
        destination=destination,
        date=date,
    )


async def seat_choice(request: web.Request) -> web.Response:
    session = passenger(request)
    trip_id = request.match_info["trip_id"]
    origin, destination = request.query.get("from", ""), request.query.get("to", "")
    gw = gateway(request)
    seat_map = await gw.call(
        gw.catalog.GetSeatMap,
        catalog_pb2.GetSeatMapRequest(trip_id=trip_id, from_station=origin, to_station=destination),
    )
    return page(
        request,
        "seats.html",
        seat_map=seat_map,
        passengers=await frequent_passengers(request, session),
        origin=origin,
        destination=destination,
        error="",
    )


async def hold(request: web.Request) -> web.Response:
    """Hold the chosen seats for the chosen frequent passengers; show the fare and how to pay."""
    session = passenger(request)
    data = await request.post()
    seats = [str(s) for s in data.getall("seat", [])]
    passenger_ids = [str(p) for p in data.getall("passenger", [])]
    trip_id, origin, destination = str(data.get("trip_id", "")), str(data.get("from", "")), str(data.get("to", ""))
    _ = i18n.translator(session.lang)
    error = ""
    if not passenger_ids:
        error = _("site.choose_passengers")
    elif seats and len(seats) != len(passenger_ids):
        error = _("site.seats_match_passengers", seats=len(seats), passengers=len(passenger_ids))
    gw = gateway(request)
    if not error:
        try:
            reply = await gw.call(
                gw.sales.Hold,
                sales_pb2.HoldRequest(
                    request_id=str(data.get("request_id", "")) or uuid.uuid4().hex,
                    trip_id=trip_id,
                    from_station=origin,
                    to_station=destination,
                    seat_numbers=seats,
                    seat_count=0 if seats else len(passenger_ids),
                    passenger_ids=passenger_ids,
                ),
                session,
            )
        except KeyunError as refused:
            error = refusal(request, refused)
        else:
            return page(request, "hold.html", hold=reply.hold)
    seat_map = await gw.call(
        gw.catalog.GetSeatMap,
        catalog_pb2.GetSeatMapRequest(trip_id=trip_id, from_station=origin, to_station=destination),
    )
    return page(
        request,
        "seats.html",
        status=409,
        seat_map=seat_map,
        passengers=await frequent_passengers(request, session),
        origin=origin,
        destination=destination,
        error=error,
    )


async def create_order(request: web.Request) -> web.Response:
    """The order for a hold, paid by wallet: a QR code on this page, or off to the wallet's page."""
    session = passenger(request)
    data = await form(request)
    method = data.get("method", "wepay")
    gw = gateway(request)
    hold_id = data.get("hold_id", "")
    if data.get("action") == "release":
        await gw.call(gw.sales.Release, sales_pb2.ReleaseRequest(request_id=uuid.uuid4().hex, hold_id=hold_id), session)
        return see_other("/site")
    try:
        created = await gw.call(
            gw.orders.CreateOrder,
            orders_pb2.CreateOrderRequest(
                request_id=data.get("request_id") or uuid.uuid4().hex,
                hold_id=hold_id,
                method=WALLETS.get(method, orders_pb2.PAY_METHOD_WEPAY),
            ),
            session,
        )
    except KeyunError:
        # The seats go back on sale at once, not when the hold expires (as the CLI does).
        await gw.call(gw.sales.Release, sales_pb2.ReleaseRequest(request_id=uuid.uuid4().hex, hold_id=hold_id), session)
        raise
    if data.get("redirect") == "yes":
        return see_other(created.pay_url)
    return page(
        request, "pay.html", order=created.order, pay_url=created.pay_url, qr=qr_svg(created.qr_text or created.pay_url)
    )


# ---- orders ---------------------------------------------------------------------------------


async def orders(request: web.Request) -> web.Response:
    session = passenger(request)
    gw = gateway(request)
    reply = await gw.call(
        gw.orders.ListOrders,
        orders_pb2.ListOrdersRequest(page_size=ORDERS_PAGE, page_token=request.query.get("page", "")),
        session,
    )
    return page(request, "orders.html", orders=reply.orders, next_page=reply.next_page_token)


async def notices(request: web.Request) -> web.Response:
    """What the station told the passenger (a delay, a cancellation, a refund paid): the same
    notices it sent by SMS (Notices.ListMyNotices)."""
    session = passenger(request)
    gw = gateway(request)
    reply = await gw.call(
        gw.notices.ListMyNotices,
        notices_pb2.ListMyNoticesRequest(page_size=ORDERS_PAGE, page_token=request.query.get("page", "")),
        session,
    )
    return page(request, "notices.html", notices=reply.notices, next_page=reply.next_page_token)


async def order_detail(request: web.Request) -> web.Response:
    session = passenger(request)
    order = await get_order(request, session, request.match_info["order_id"])
    return page(
        request,
        "order.html",
        order=order,
        pending=order.status == PENDING,
        live=order.status in LIVE_ORDER,
        qr={t.ticket_id: qr_svg(t.credential) for t in order.tickets if t.credential},
        refundable={t.ticket_id for t in order.tickets if t.status == common_pb2.TICKET_STATUS_ISSUED},
    )


async def order_events(request: web.Request) -> web.StreamResponse:
    """The WatchOrder stream relayed as Server-Sent Events: one `status` event per change, the
    order's status name as its data.  The page's script reloads the order once it is paid."""
    session = passenger(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    gw = gateway(request)
    watch = orders_pb2.WatchOrderRequest(order_id=request.match_info["order_id"])
    try:
        async for message in gw.stream(gw.orders.WatchOrder, watch, session):
            status = orders_pb2.OrderStatus.Name(message.order.status)
            await response.write(f"event: status\ndata: {status}\n\n".encode())
            if message.order.status != PENDING:
                break
    except KeyunError as error:
        await response.write(f"event: refused\ndata: {error.reason}\n\n".encode())
    except ConnectionResetError:
        pass  # the page went away
    return response


async def refund_quote(request: web.Request) -> web.Response:
    """The fee a refund of one ticket keeps, before the passenger confirms (Sales.QuoteRefund)."""
    session = passenger(request)
    data = await form(request)
    order = await get_order(request, session, data.get("order_id", ""))
    ticket = _ticket(order, data.get("ticket_id", ""))
    gw = gateway(request)
    quote = await gw.call(gw.sales.QuoteRefund, sales_pb2.QuoteRefundRequest(ticket_id=ticket.ticket_id), session)
    return page(request, "refund.html", order=order, ticket=ticket, quote=quote)


async def refund(request: web.Request) -> web.Response:
    session = passenger(request)
    data = await form(request)
    gw = gateway(request)
    order_id = data.get("order_id", "")
    await gw.call(
        gw.orders.RefundOrder,
        orders_pb2.RefundOrderRequest(
            request_id=data.get("request_id") or uuid.uuid4().hex,
            order_id=order_id,
            ticket_ids=[data.get("ticket_id", "")],
        ),
        session,
    )
    return see_other(f"/site/orders/{order_id}")


def _ticket(order: orders_pb2.Order, ticket_id: str) -> common_pb2.Ticket:
    for ticket in order.tickets:
        if ticket.ticket_id == ticket_id:
            return ticket
    raise KeyunError(grpc.StatusCode.NOT_FOUND, f"no ticket {ticket_id} in this order", reason="UNKNOWN_TICKET")


async def change_choice(request: web.Request) -> web.Response:
    """Other trips on the ticket's own segment, on a day the passenger picks, to rebook onto."""
    session = passenger(request)
    order = await get_order(request, session, request.match_info["order_id"])
    ticket = _ticket(order, request.match_info["ticket_id"])
    date = request.query.get("date", "") or _station_day(ticket.from_stop.departs_at)
    gw = gateway(request)
    reply = await gw.call(
        gw.catalog.SearchTrips,
        catalog_pb2.SearchTripsRequest(
            from_station=ticket.from_stop.code, to_station=ticket.to_stop.code, date=date, page_size=50
        ),
    )
    offers = [o for o in reply.offers if o.trip.trip_id != ticket.trip.trip_id]
    return page(request, "change.html", order=order, ticket=ticket, offers=offers, date=date)


async def change_quote(request: web.Request) -> web.Response:
    """What a rebooking costs, before the passenger confirms: the exact difference the trip owners
    would apply (Sales.QuoteChange), or the page of its refusal."""
    session = passenger(request)
    data = await form(request)
    order = await get_order(request, session, data.get("order_id", ""))
    ticket = _ticket(order, data.get("ticket_id", ""))
    gw = gateway(request)
    new_trip_id = data.get("new_trip_id", "")
    quote = await gw.call(
        gw.sales.QuoteChange, sales_pb2.QuoteChangeRequest(ticket_id=ticket.ticket_id, new_trip_id=new_trip_id), session
    )
    seat_map = await gw.call(  # the new coach's free seats, to pick one
        gw.catalog.GetSeatMap,
        catalog_pb2.GetSeatMapRequest(
            trip_id=new_trip_id, from_station=ticket.from_stop.code, to_station=ticket.to_stop.code
        ),
    )
    return page(request, "change_confirm.html", order=order, ticket=ticket, seat_map=seat_map, quote=quote)


async def change(request: web.Request) -> web.Response:
    session = passenger(request)
    data = await form(request)
    gw = gateway(request)
    reply = await gw.call(
        gw.sales.ChangeTicket,
        sales_pb2.ChangeTicketRequest(
            request_id=data.get("request_id") or uuid.uuid4().hex,
            ticket_id=data.get("ticket_id", ""),
            new_trip_id=data.get("new_trip_id", ""),
            seat_number=data.get("seat", ""),
        ),
        session,
    )
    return page(request, "changed.html", reply=reply, order_id=data.get("order_id", ""))
