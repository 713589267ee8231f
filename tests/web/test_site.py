"""The passenger site in Debian's Chromium: a real server taking wallet payments through the real
`keyun sandbox-pay` process, and `keyun web` in front of it.  A passenger signs up, adds two
frequent passengers, picks two seats on the seat map, pays in the wallet sandbox, sees the e-ticket
QR codes and refunds one ticket with the fee shown first; the order is in the history."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from keyun.engine.accounts import AccountRules
from keyun.engine.identity import id_check_char
from keyun.terminals.client import KeyunClient
from keyun.terminals.web.limits import AddressLimiter

from ..conftest import CHINA, STATIONS, ServerThread, logged_in, network_with_schedule
from ..payments.conftest import SandboxProcess, start_sandbox, stop_sandbox
from ..sms_sandbox import SmsSandbox, start_sms_sandbox, stop_sms_sandbox
from ..waiting import wait_until
from .conftest import WebProcess, screenshot, start_web

PASSWORD = "Site-Passw0rd"
PHONES = (f"1391234{n:04d}" for n in itertools.count(1))
# Paying goes sandbox → signed notification → the order's owner → WatchOrder → the page.
PAID_TIMEOUT_MS = 20_000


@dataclass
class Station:
    server: ServerThread
    sandbox: SandboxProcess
    sms: SmsSandbox
    web: WebProcess
    trip_id: str
    date: str
    later_trip_id: str  # the same line two hours later: a rebooking's new trip


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("site")
    # Its own thread: the sandbox's start runs an event loop, and Playwright's owns this thread's.
    with ThreadPoolExecutor(1) as thread:
        sandbox = thread.submit(start_sandbox, directory / "pay-keys", directory / "pay-state.json").result()
    sms = start_sms_sandbox(directory / "sandbox-sms")
    # Every test asks for its codes from 127.0.0.1: the per-address limit is raised.
    # A long back-off after a failed login, so that the second try is refused for certain.
    rules = AccountRules(sms_codes_per_client_hour=1000, first_backoff_ms=30_000)
    server = ServerThread(
        directory / "data", shards=2, payments_dir=sandbox.keys_dir, sms_dir=sms.directory, account_rules=rules
    )
    master = logged_in(KeyunClient(server.target), clock=server.clock)
    # Tomorrow (Beijing), at 10:00 and at 12:00: one network with both coaches.
    day = dt.datetime.now(CHINA).date() + dt.timedelta(days=1)
    network = network_with_schedule("S1", dt.datetime.combine(day, dt.time(10)), "mini12")
    network += network_with_schedule("S2", dt.datetime.combine(day, dt.time(12)), "mini12").removeprefix(STATIONS)
    master.load_network(network, day.isoformat(), 1)
    web = start_web(server.target, directory / "cookie.key")
    yield Station(server, sandbox, sms, web, f"S1-{day:%Y%m%d}", day.isoformat(), f"S2-{day:%Y%m%d}")
    web.stop()
    master.close()
    server.stop()
    stop_sandbox(sandbox)
    stop_sms_sandbox(sms)


def register(page, station: Station, screenshot_as: str = "") -> str:
    """Sign up on the site with the SMS code the sandbox delivered to the number."""
    phone = next(PHONES)
    page.goto(station.web.url + "/site/register")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_role("button", name="获取短信验证码").click()
    assert "验证码已发送" in page.get_by_role("status").inner_text()
    page.get_by_label("短信验证码").fill(station.sms.code_for(phone))
    if screenshot_as:
        screenshot(page, screenshot_as)
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_label("再次输入密码").press("Enter")  # Enter signs up (it does not send another code)
    page.wait_for_url("**/site/passengers")
    return phone


def add_passenger(page, name: str, passport: str) -> None:
    page.get_by_label("姓名").fill(name)
    page.get_by_label("证件类型").select_option("passport")
    page.get_by_label("证件号码").fill(passport)
    page.get_by_role("button", name="添加乘车人").click()
    page.wait_for_url("**/site/passengers")


def tab_to(page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element has the focus: the keyboard's way there, no mouse."""
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_a_passenger_buys_two_seats_pays_by_wallet_sees_the_qr_codes_and_refunds_one(station, browser, page):
    register(page, station, screenshot_as="site-register")
    add_passenger(page, "王小明", "E11112222")
    add_passenger(page, "李小红", "E33334444")
    # A refused document number is never put back into the page.
    wrong_id = "11010119900307123" + ("X" if id_check_char("11010119900307123") != "X" else "0")
    page.get_by_label("姓名").fill("赵错号")
    page.get_by_label("证件号码").fill(wrong_id)
    page.get_by_role("button", name="添加乘车人").click()
    assert page.get_by_role("alert").is_visible() and wrong_id not in page.content()
    rows = page.locator("tr.passenger-row")
    assert rows.count() == 2
    content = page.content()
    assert "E11112222" not in content and "E33334444" not in content  # masked, never echoed
    screenshot(page, "site-passengers")

    # Search: stations from ListStations, the trip's fare and free seats.
    page.goto(station.web.url + "/site")
    page.get_by_label("出发站").select_option("AAA")
    page.get_by_label("到达站").select_option("DDD")
    page.get_by_label("乘车日期").fill(station.date)
    page.get_by_role("button", name="查询").click()
    offer = page.locator("li.offer", has_text=station.trip_id)
    assert "¥40.00" in offer.inner_text() and "12" in offer.inner_text()
    screenshot(page, "site-search")
    offer.get_by_role("link", name=re.compile("选座购票")).click()

    # The seat map by keyboard: Tab to a seat and Space chooses it.
    page.locator("h1").click()
    tab_to(page, "seat-4")
    page.keyboard.press("Space")
    tab_to(page, "seat-5")
    page.keyboard.press("Space")
    assert page.locator("#seat-4").is_checked() and page.locator("#seat-5").is_checked()
    page.get_by_label("王**").check()
    page.get_by_label("李**").check()
    screenshot(page, "site-seats")
    page.get_by_role("button", name="锁定座位").click()

    # The hold: fare components per seat, and the wallet.
    fares = page.locator("table.fares")
    assert "王" in fares.inner_text() and "¥80.00" in fares.locator(".total").inner_text()
    screenshot(page, "site-hold")
    page.get_by_label("微信支付（扫码）").check()
    page.get_by_role("button", name="提交订单并支付").click()

    # The pay page: a QR code and the wallet's pay page; the sandbox's Pay button pays it.
    assert page.locator(".qr img").get_attribute("src").startswith("data:image/svg+xml")
    screenshot(page, "site-pay")
    pay_url = page.locator("#pay-link").get_attribute("href")
    assert pay_url.startswith(station.sandbox.base_url)
    # The wallet is another device: its own browser context, as a phone scanning the code.
    wallet = browser.new_context()
    wallet_page = wallet.new_page()
    wallet_page.goto(pay_url)
    wallet_page.get_by_role("button", name="Pay").click()
    wallet_page.wait_for_load_state()

    # The WatchOrder stream, relayed by SSE, opens the ticketed order with its e-tickets.
    page.wait_for_url(re.compile(r".*/site/orders/[^/]+$"), timeout=PAID_TIMEOUT_MS)
    assert page.locator("#status").inner_text() == "已出票"
    wallet.close()
    codes = page.locator("img.eticket")
    assert codes.count() == 2
    assert all(codes.nth(i).get_attribute("src").startswith("data:image/svg+xml") for i in range(2))
    order_url = page.url
    order_id = order_url.rsplit("/", 1)[1]
    screenshot(page, "site-order")

    # Refund one ticket: the fee first, then the confirm step.
    page.locator("li.ticket").first.get_by_role("button", name=re.compile("退票")).click()
    fee = page.locator("#refund-fee").inner_text()
    back = page.locator("#refund-back").inner_text()
    assert fee.startswith("¥") and back.startswith("¥")
    screenshot(page, "site-refund")
    page.get_by_role("button", name="确认退票").click()
    page.wait_for_url(order_url)
    assert page.locator("#status").inner_text() == "部分退票"
    assert page.locator("img.eticket").count() == 1
    refunds = page.locator("table", has_text="退票手续费").inner_text()
    assert fee in refunds and back in refunds

    # The refund paid back is told by SMS and on the site's notices.
    def refund_notice():
        page.goto(station.web.url + "/site/notices")
        return order_id in page.locator("main").inner_text()

    wait_until(refund_notice, 20, "the refund's notice on the site")
    screenshot(page, "site-notices")

    # The history lists the order.
    page.get_by_role("link", name="我的订单").click()
    row = page.locator("tr", has_text=order_id)
    assert "部分退票" in row.inner_text()
    screenshot(page, "site-orders")

    # Rebook the other ticket onto the later coach: the fare difference first, then the change.
    page.goto(order_url)
    rebook = page.locator("li.ticket", has=page.locator("img.eticket")).get_by_role("link", name=re.compile("改签"))
    change_url = station.web.url + rebook.get_attribute("href")
    rebook.click()
    later = page.locator("li.offer", has_text=station.later_trip_id)
    later.get_by_role("button", name=re.compile("改签到此车次")).click()
    # The exact difference (Sales.QuoteChange), not an estimate: the one the change then applies.
    quoted = page.locator("#change-difference").inner_text()
    assert quoted == "¥0.00"  # the same fare
    assert page.locator("#change-old-price").inner_text() == page.locator("#change-new-price").inner_text()
    page.get_by_label("新座位（可选）").select_option("7")
    screenshot(page, "site-change")
    page.get_by_role("button", name="确认改签").click()
    assert page.locator("h1").inner_text() == "改签成功"
    assert page.locator("#changed-difference").inner_text() == f"实际差额：{quoted}"
    # Rebooked once: a second rebooking of the old ticket is refused on the quote's page already.
    page.goto(change_url)
    page.locator("li.offer", has_text=station.later_trip_id).get_by_role(
        "button", name=re.compile("改签到此车次")
    ).click()
    assert "TICKET_CHANGED" in page.get_by_role("alert").inner_text()
    assert station.later_trip_id in page.locator("main").inner_text()


def test_without_javascript_the_order_page_reloads_itself_until_ticketed(station, browser):
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    register(page, station)
    add_passenger(page, "孙无脚本", "E55556666")
    page.goto(f"{station.web.url}/site/trip/{station.trip_id}?from=AAA&to=BBB")
    page.get_by_label("孙**").check()
    page.get_by_role("button", name="锁定座位").click()
    page.get_by_role("button", name="提交订单并支付").click()
    page.get_by_role("link", name="查看订单").click()
    assert page.locator("#status").inner_text() == "待支付"
    order_id = page.url.rsplit("/", 1)[1]
    # The wallet pays (the sandbox's control API does what its Pay button does).
    request = urllib.request.Request(
        station.sandbox.base_url + "/sandbox/pay",
        data=json.dumps({"provider": "wepay", "merchant_order_no": order_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    expect(page.locator("#status")).to_have_text("已出票", timeout=PAID_TIMEOUT_MS)
    assert page.locator("img.eticket").count() == 1
    context.close()


def test_a_wrong_password_is_refused_with_its_reason_and_a_retry_is_held_back(station, page):
    phone = register(page, station)
    page.get_by_role("button", name="退出").click()
    page.goto(station.web.url + "/site/login")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码").fill("not-the-password-1")
    page.get_by_role("button", name="登录").click()
    alert = page.get_by_role("alert")
    assert "手机号或密码错误" in alert.inner_text()
    assert page.get_by_label("密码").input_value() == ""  # never echoed back
    screenshot(page, "site-login-refused")
    # Again at once: the gateway's back-off, shown with when to try again.
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    refused = page.get_by_role("alert").inner_text()
    assert "登录失败次数过多" in refused and re.search(r"请在 \d+ 秒后再试", refused)


def test_a_forgotten_password_is_reset_with_an_sms_code(station, page):
    phone = register(page, station)
    page.get_by_role("button", name="退出").click()
    page.goto(station.web.url + "/site/login")
    page.get_by_role("link", name="忘记密码？").click()
    station.server.clock.advance(61_000)  # past the per-number gap after the sign-up code
    page.get_by_label("手机号码").fill(phone)
    page.get_by_role("button", name="获取短信验证码").click()
    # The second text to the number (the first had the sign-up code).
    wait_until(lambda: len(station.sms.messages_to(phone)) >= 2, 10, "the reset code's text")
    code = station.sms.code_for(phone)
    page.get_by_label("短信验证码").fill("000000" if code != "000000" else "111111")
    page.get_by_label("新密码").fill("Another-Passw0rd")
    page.get_by_label("再次输入密码").fill("Another-Passw0rd")
    page.get_by_role("button", name="重设密码").click()
    assert "验证码不正确" in page.get_by_role("alert").inner_text()  # a wrong code changes nothing
    page.get_by_label("短信验证码").fill(code)
    page.get_by_label("新密码").fill("Another-Passw0rd")
    page.get_by_label("再次输入密码").fill("Another-Passw0rd")
    page.get_by_role("button", name="重设密码").click()
    assert "密码已重设" in page.get_by_role("status").inner_text()
    page.get_by_label("密码").fill("Another-Passw0rd")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/site")


def test_login_works_with_the_keyboard_alone(station, page):
    phone = register(page, station)
    page.get_by_role("button", name="退出").click()
    page.goto(station.web.url + "/site/login?lang=en")
    tab_to(page, "phone")
    page.keyboard.type(phone)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/site")
    assert page.get_by_role("button", name="Log out").is_visible()
    assert phone not in page.content()  # the header shows the number masked
    assert phone[:3] + "****" + phone[-4:] in page.content()


def test_every_input_on_the_site_forms_has_a_label(station, page):
    register(page, station)
    for path in ("/site/register", "/site/login", "/site/passengers", "/site"):
        page.goto(station.web.url + path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                 .filter(e => !(e.labels && e.labels.length)).map(e => e.name)"""
        )
        assert unlabelled == [], (path, unlabelled)


def test_a_post_without_the_csrf_token_is_refused(station):
    request = urllib.request.Request(
        station.web.url + "/site/login", data=b"phone=13900000000&password=x", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403


def test_sign_up_and_login_attempts_are_limited_per_address():
    now = [0.0]
    limiter = AddressLimiter(3, 60.0, clock=lambda: now[0])
    assert [limiter.retry_after("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("10.0.0.1") == 60.0
    assert limiter.retry_after("10.0.0.2") == 0.0  # another address is its own
    now[0] = 60.0
    assert limiter.retry_after("10.0.0.1") == 0.0
