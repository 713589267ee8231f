"""The kiosk's pages in a real browser (Debian's Chromium), against a real server, the payment
sandbox and `keyun web` logged in as the kiosk device: a walk-in purchase paid by wallet and
printed, an online order picked up once (the second pick-up refused on screen), and the idle reset
that leaves nothing of a passenger on the screen, in the history or in the web process."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from keyun.engine.identity import id_check_char
from keyun.terminals.client import KeyunClient
from keyun.v1 import accounts_pb2, common_pb2, orders_pb2, orders_pb2_grpc

from ..conftest import CHINA, ServerThread, logged_in, schedule_trip
from ..payments.conftest import start_sandbox, stop_sandbox
from ..waiting import wait_until
from .conftest import screenshot, start_web

SERIALS = itertools.count(300)
SCHEDULES = itertools.count(1)
WAIT_MS = 20_000
IDLE_S = 3


def resident_id(age: int) -> str:
    today = dt.datetime.now(CHINA).date()
    born = dt.date(today.year - age, 1 if today.month > 6 else 7, 15)
    first17 = f"130103{born:%Y%m%d}{next(SERIALS) % 1000:03d}"
    return first17 + id_check_char(first17)


@pytest.fixture(scope="module")
def kiosk_station(ray_session, tmp_path_factory):
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    directory = tmp_path_factory.mktemp("kiosk-web")
    # Their own thread: Playwright's sync API keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as thread:
        sandbox = thread.submit(start_sandbox, directory / "pay-keys", directory / "pay-state.json").result()
        server = thread.submit(
            lambda: ServerThread(directory / "data", shards=2, payments_dir=sandbox.keys_dir)
        ).result()
    master = logged_in(KeyunClient(server.target, attempts=1), clock=server.clock)
    password_file = directory / "kiosk1.password"
    password_file.write_text(DEMO_PASSWORD)
    # Headless Chromium crashes a page that print()s a PDF frame: the tests check the PDF itself.
    device = ("--device", "kiosk", "kiosk1", str(password_file), "--kiosk-no-autoprint")
    web = start_web(server.target, directory / "cookie.key", *device)
    idle_web = start_web(server.target, directory / "cookie-idle.key", *device, "--kiosk-idle", str(IDLE_S))
    yield server, sandbox, master, web, idle_web
    web.stop()
    idle_web.stop()
    master.close()
    with ThreadPoolExecutor(1) as thread:
        thread.submit(server.stop).result()
        thread.submit(stop_sandbox, sandbox).result()


def pay_in_sandbox(sandbox, provider: str, order_id: str) -> None:
    request = urllib.request.Request(
        f"{sandbox.base_url}/sandbox/pay",
        data=json.dumps({"provider": provider, "merchant_order_no": order_id}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def trip(master: KeyunClient) -> tuple[str, str, str]:
    """A fresh trip leaving AAA in six hours: its id, schedule and travel date."""
    schedule = f"KW{next(SCHEDULES)}"
    trip_id = schedule_trip(master, schedule, dt.timedelta(hours=6))
    day = trip_id.rsplit("-", 1)[1]
    return trip_id, schedule, f"{day[:4]}-{day[4:6]}-{day[6:]}"


def online_order(server, sandbox, master) -> tuple[orders_pb2.Order, str]:
    """An order bought online by a passenger for one frequent passenger, paid; and their document."""
    passenger = KeyunClient(server.target, attempts=1)
    phone = f"1359999{next(SERIALS):04d}"
    passenger.register(phone, "Kiosk-Web-Passw0rd")
    passenger.login(phone, "Kiosk-Web-Passw0rd")
    number = resident_id(30)
    added = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id=f"add-{number}",
            name="网购客",
            document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
            document_number=number,
        ),
    )
    trip_id, _, _ = trip(master)
    hold = passenger.hold(trip_id, "AAA", "CCC", seat_count=1, passenger_ids=(added.passenger.passenger_id,))
    created = passenger.create_order(hold.hold_id, orders_pb2.PAY_METHOD_WEPAY)
    pay_in_sandbox(sandbox, "wepay", created.order.order_id)
    stub = orders_pb2_grpc.OrdersStub(passenger.channel)

    def ticketed():
        order = passenger.call(stub.GetOrder, orders_pb2.GetOrderRequest(order_id=created.order.order_id)).order
        return order if order.status == orders_pb2.ORDER_STATUS_TICKETED else None

    order = wait_until(ticketed, 20, "the online order ticketed", poll_s=0.2)
    passenger.close()
    return order, number


def assert_pdf_names(page, ticket_ids: list[str]) -> None:
    """The tickets' PDF, as the kiosk's browser loads it: a PDF, named for the tickets."""
    answer = page.request.get(page.url.split("/kiosk")[0] + "/kiosk/tickets.pdf")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    body = answer.body()
    assert body.startswith(b"%PDF")
    assert all(ticket_id.encode() in body for ticket_id in ticket_ids)  # in the document's title
    assert ticket_ids[0] in answer.headers["content-disposition"]


def test_a_kiosk_sells_to_walk_ins_paid_by_wallet_and_prints_the_tickets(kiosk_station, page):
    server, sandbox, master, web, _ = kiosk_station
    trip_id, schedule, date = trip(master)
    adult, child = resident_id(40), resident_id(9)
    page.goto(web.url + "/kiosk")
    screenshot(page, "kiosk-start")
    page.get_by_role("link", name=re.compile("^购票")).click()
    page.get_by_label("出发站").select_option("AAA")
    page.get_by_label("到达站").select_option("CCC")
    page.locator(f"input[name=date][value='{date}']").check()
    page.get_by_role("button", name="查询车次").click()
    page.get_by_role("button", name=re.compile(schedule)).click()
    page.locator("#number1").fill(adult)
    page.locator("#name1").fill("王大明")
    page.locator("#number2").fill(child)
    page.locator("#name2").fill("王小明")
    page.locator("#type2").select_option("CHILD")
    screenshot(page, "kiosk-passengers")
    page.get_by_role("button", name="支付宝支付").click()
    page.wait_for_url(re.compile(r"/kiosk/buy/pay$"))
    assert "?" not in page.url  # nothing of the passengers in the address bar
    order_id = page.locator("#order-code").inner_text()
    qr = page.locator("img.kiosk-qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml") and qr.evaluate("img => img.naturalWidth") > 0
    screenshot(page, "kiosk-pay")
    pay_in_sandbox(sandbox, "alipay", order_id)
    page.wait_for_url(re.compile(r"/kiosk/tickets$"), timeout=WAIT_MS)
    shown = page.locator(".kiosk-ticket .ticket-id").all_inner_texts()
    assert len(shown) == 2 and all(t.startswith(trip_id) for t in shown)
    text = page.locator("main").inner_text()
    assert adult not in text and child not in text and adult[:6] + "********" + adult[-4:] in text
    assert_pdf_names(page, shown)
    assert all(master.ticket(t).HasField("printed_at") for t in shown)  # printed once, as a pick-up
    screenshot(page, "kiosk-tickets")
    page.get_by_role("button", name="完成").click()
    page.wait_for_url(re.compile(r"/kiosk$"))
    assert page.get_by_role("link", name=re.compile("^取票")).is_visible()


def test_an_online_order_is_picked_up_once_and_a_second_pick_up_is_refused_on_screen(kiosk_station, page):
    server, sandbox, master, web, _ = kiosk_station
    order, number = online_order(server, sandbox, master)
    page.goto(web.url + "/kiosk?lang=en")
    page.get_by_role("link", name=re.compile("^Pick up tickets")).click()
    page.get_by_label("Order code (optional)").fill(order.order_id)
    page.get_by_label("Document number").fill(number)
    screenshot(page, "kiosk-pickup")
    page.get_by_role("button", name="Pick up", exact=True).click()
    page.wait_for_url(re.compile(r"/kiosk/tickets$"))
    assert page.locator(".kiosk-ticket .ticket-id").all_inner_texts() == [order.tickets[0].ticket_id]
    assert_pdf_names(page, [order.tickets[0].ticket_id])
    page.get_by_role("button", name="Done").click()
    # The same passenger again, by document alone: refused, and told where a lost ticket is reprinted.
    page.get_by_role("link", name=re.compile("^Pick up tickets")).click()
    page.get_by_label("Document number").fill(number)
    page.get_by_role("button", name="Pick up", exact=True).click()
    alert = page.get_by_role("alert")
    assert "picked up already" in alert.inner_text() and "TICKET_ALREADY_PRINTED" in alert.inner_text()
    assert order.tickets[0].ticket_id in alert.inner_text() and number not in page.content()
    screenshot(page, "kiosk-pickup-refused")


def test_an_idle_kiosk_returns_to_its_start_and_keeps_nothing_of_the_passenger(kiosk_station, page):
    server, sandbox, master, _, idle_web = kiosk_station
    order, number = online_order(server, sandbox, master)
    page.goto(idle_web.url + "/kiosk")
    page.get_by_role("link", name=re.compile("^取票")).click()
    page.get_by_label("证件号码").fill(number)
    page.get_by_role("button", name="取票", exact=True).click()
    page.wait_for_url(re.compile(r"/kiosk/tickets$"))
    masked = order.tickets[0].holder.document_number
    assert masked in page.locator("main").inner_text()
    # Nobody touches the screen: it goes back to the start by itself.
    page.wait_for_url(re.compile(r"/kiosk$"), timeout=IDLE_S * 1000 * 4)
    assert masked not in page.content() and order.tickets[0].ticket_id not in page.content()
    # The web process dropped the flow: its pages and its PDF answer with the start screen.
    page.goto(idle_web.url + "/kiosk/tickets")
    assert page.url.endswith("/kiosk") and masked not in page.content()
    assert page.request.get(idle_web.url + "/kiosk/tickets.pdf").headers["content-type"].startswith("text/html")
    # A half-typed form is cleared the same way.
    page.get_by_role("link", name=re.compile("^取票")).click()
    page.get_by_label("证件号码").fill(number)
    page.wait_for_url(re.compile(r"/kiosk$"), timeout=IDLE_S * 1000 * 4)
    assert number not in page.content()
    page.go_back()  # the history holds nothing to go back to but the start
    assert number not in page.content()


def test_a_passenger_who_leaves_before_paying_leaves_no_order_behind(kiosk_station, page):
    server, sandbox, master, web, _ = kiosk_station
    trip_id, schedule, date = trip(master)
    page.goto(web.url + "/kiosk")
    page.get_by_role("link", name=re.compile("^购票")).click()
    page.get_by_label("到达站").select_option("BBB")
    page.locator(f"input[name=date][value='{date}']").check()
    page.get_by_role("button", name="查询车次").click()
    page.get_by_role("button", name=re.compile(schedule)).click()
    # A mistyped document is refused on the screen, in the passenger's language, and holds nothing.
    number = resident_id(50)
    page.locator("#number1").fill(number[:-1] + ("0" if number[-1] != "0" else "1"))
    page.locator("#name1").fill("李四")
    page.get_by_role("button", name="微信支付").click()
    assert "INVALID_FIELD" in page.get_by_role("alert").inner_text()
    assert master.seat_map(trip_id, "AAA", "BBB").seats_free == 12
    page.locator("#number1").fill(number)
    page.locator("#name1").fill("李四")
    page.get_by_role("button", name="微信支付").click()
    page.wait_for_url(re.compile(r"/kiosk/buy/pay$"))
    order_id = page.locator("#order-code").inner_text()
    page.get_by_role("button", name="返回首页").click()
    page.wait_for_url(re.compile(r"/kiosk$"))
    order = master.call(
        orders_pb2_grpc.OrdersStub(master.channel).GetOrder, orders_pb2.GetOrderRequest(order_id=order_id)
    )
    assert order.order.status == orders_pb2.ORDER_STATUS_CANCELLED  # its seat is back on sale
    assert master.seat_map(trip_id, "AAA", "BBB").seats_free == 12
