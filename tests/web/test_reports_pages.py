"""The report pages (/reports) in Debian's Chromium, against a real server with its report
projector and real sales: a finance user logs in and sees the sales page's totals equal
Reports.SalesReport over gRPC, its charts have a bar or point per number, its tables download as
CSV; a ticket seller is refused, an administrator is asked for the second factor, a POST without
the CSRF token is 403, and the print stylesheet hides the navigation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from keyun.gateway.credentials import totp_code
from keyun.gateway.demo_accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET
from keyun.terminals.client import KeyunClient, walk_in
from keyun.terminals.printing import yuan
from keyun.terminals.web.app import PARTS  # first: the parts (reports among them) build on it
from keyun.terminals.web.reports import may_read_reports, next_page
from keyun.v1 import reports_pb2

from ..conftest import CHINA, ServerThread, logged_in, schedule_trip
from ..waiting import wait_until
from .conftest import SCREENSHOTS, WebProcess, screenshot, start_web

BOARDING = dt.timedelta(minutes=40)
SERIALS = itertools.count(101)
WEEK = 7  # the sales page's default period: the last seven days
# The totals table shows every measure of a sales line, in its order; amounts (fen) as yuan.
MEASURES = [field.name for field in reports_pb2.SalesLine.DESCRIPTOR.fields if field.name != "group"]


@dataclass
class Station:
    server: ServerThread
    client: KeyunClient
    web: WebProcess


def resident_id(born: dt.date) -> str:
    from keyun.engine.identity import id_check_char

    first17 = f"110101{born:%Y%m%d}{next(SERIALS) % 1000:03d}"
    return first17 + id_check_char(first17)


def caught_up(client: KeyunClient) -> bool:
    status = client.projection_status()
    return bool(status.owners) and not status.failure and all(owner.behind == 0 for owner in status.owners)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("reports-web")
    server = ServerThread(directory / "data", shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    trip = schedule_trip(client, "RW1", BOARDING)
    later = schedule_trip(client, "RW2", BOARDING + dt.timedelta(hours=1))
    sold = client.sell(trip, "AAA", "DDD", seat_numbers=("1", "2", "3"))
    client.sell(later, "AAA", "BBB", seat_count=2)
    today = dt.datetime.now(CHINA).date()
    adult, child = resident_id(today.replace(year=today.year - 35)), resident_id(today.replace(year=today.year - 8))
    client.sell(trip, "AAA", "DDD", passengers=(walk_in(adult, "张三"), walk_in(child, "张小明", "child")))
    client.refund(sold.tickets[0].ticket_id)
    with logged_in(KeyunClient(server.target), "stock", clock=server.clock) as stock:
        batch = stock.receive_stock("00000001", "00000099", batch_code="RWB1").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000010")
    with logged_in(KeyunClient(server.target), "counter1", clock=server.clock) as seller:
        seller.open_shift("W01")
        seller.sell(later, "AAA", "DDD", seat_count=1)
    wait_until(lambda: caught_up(client), 60, "the report projector caught up with the sales")
    web = start_web(server.target, directory / "cookie.key")
    yield Station(server, client, web)
    web.stop()
    client.close()
    server.stop()


def week() -> tuple[str, str]:
    today = dt.datetime.now(CHINA).date()
    return (today - dt.timedelta(days=WEEK - 1)).isoformat(), today.isoformat()


def log_in(page, web: WebProcess, login_name: str, code: str = "", start: str | None = "/reports/login") -> None:
    """Fill the login form (at `start`; None: the page already shows it) and send it."""
    if start:
        page.goto(web.url + start)
    page.fill("#login_name", login_name)
    page.fill("#password", DEMO_PASSWORD)
    if code:
        page.fill("#totp_code", code)
    page.click("form.login button[type=submit]")


def test_a_finance_user_sees_the_sales_report_totals_and_charts(station, page):
    web = station.web
    page.goto(web.url + "/reports/sales")
    assert "/reports/login?next=/reports/sales" in page.url  # not logged in: the login first, then the page
    log_in(page, web, "finance", start=None)
    page.wait_for_url(web.url + "/reports/sales")
    first, last = week()
    [whole] = station.client.sales_report_lines((), first, last)
    shown = dict(
        (row.locator("th").inner_text(), row.locator("td").inner_text())
        for row in page.locator("#totals tbody tr").all()
    )
    assert list(shown.values()) == [
        yuan(getattr(whole, name)) if name.endswith("_fen") else str(getattr(whole, name)) for name in MEASURES
    ]
    assert shown["售票张数"] == str(whole.tickets) == "8" and shown["退票张数"] == "1"

    # Revenue by day: a point per day of the week for each of its two lines (revenue, net).
    by_day = page.locator("#figure-by_day svg.chart")
    assert by_day.get_attribute("role") == "img"
    assert by_day.locator("title").first.text_content() == "每日营收"
    assert by_day.locator("circle.point").count() == WEEK * 2
    # By route: a bar per route for each of revenue, refunds and net.
    routes = station.client.sales_report_lines(("route",), first, last)
    assert page.locator("#figure-by_route rect.bar").count() == len(routes) * 3
    assert page.locator("#figure-by_route tbody tr").count() == len(routes)
    # Channel × ticket type, stacked: one bar per channel and type.
    kinds = station.client.sales_report_lines(("channel", "ticket_type"), first, last)
    channels = {line.group[0] for line in kinds}
    types = {line.group[1] for line in kinds}
    assert types == {"full", "child"}
    assert page.locator("#figure-by_channel_type rect.bar").count() == len(channels) * len(types)
    assert page.locator("#figure-tickets_day_channel rect.cell").count() == len(channels) * WEEK
    screenshot(page, "reports-sales")

    # Grouped by trip instead: the form asks again.
    page.select_option("#by", "trip")
    page.click("form.report-form button[type=submit]")
    page.wait_for_url(re.compile(r".*by=trip.*"))
    trips = station.client.sales_report_lines(("trip",), first, last)
    assert len(trips) == 2
    assert page.locator("#figure-by_trip rect.bar").count() == len(trips) * 3

    # The CSV under a chart is its table: the same rows the gateway reports.
    link = page.locator("#figure-by_trip a.csv").get_attribute("href")
    body = page.request.get(web.url + link)
    assert body.status == 200 and body.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.text().lstrip("\ufeff"))))
    assert rows[0][0] == "班次" and len(rows) == 1 + len(trips)
    assert {row[0]: int(row[1]) for row in rows[1:]} == {line.group[0]: line.tickets for line in trips}

    # Printing: the navigation, the form and the print button are not on paper.
    assert page.locator("button[data-print]").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("button[data-print]").is_visible()
    assert page.locator(".print-only").inner_text().startswith("打印时间: ")
    assert page.locator("#figure-by_day svg.chart").is_visible()
    viewport = page.viewport_size
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.screenshot(path=str(SCREENSHOTS / "reports-sales-print.png"))
    page.set_viewport_size(viewport)
    page.emulate_media(media="screen")
    # What the browser's "save as PDF" makes of it: A4 pages, every chart within the page's width.
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2
    assert b"/MediaBox [0 0 595" in pdf  # A4: 595 x 842 points

    # English on request.
    page.goto(web.url + "/reports/sales?lang=en")
    assert page.locator("#figure-by_day svg title").first.text_content() == "Revenue by day"
    assert page.locator("#totals tbody tr th").first.inner_text() == "Tickets"


def test_a_bad_period_is_said_and_the_last_week_shown(station, page):
    log_in(page, station.web, "finance", start="/reports/sales?from=2026-13-01&by=channel")
    page.wait_for_url(re.compile(r".*/reports/sales\?from=2026-13-01&by=channel$"))  # back where it started
    assert page.locator("main p.error").inner_text() == "日期格式应为 YYYY-MM-DD，已显示最近一周。"
    assert page.locator("#from").input_value() == week()[0]
    assert page.locator("#figure-by_channel rect.bar").count() == 3  # one channel: revenue, refunds, net
    page.goto(station.web.url + f"/reports/sales?from={week()[1]}&to={week()[0]}")
    assert "结束日期早于开始日期" in page.locator("main p.error").inner_text()
    missing = page.request.get(station.web.url + "/reports/sales.csv?figure=nothing")
    assert missing.status == 404


def test_the_status_page_shows_where_the_projector_is(station, page):
    log_in(page, station.web, "finance")
    page.goto(station.web.url + "/reports/status")
    owners = station.client.projection_status().owners
    assert page.locator("#figure-owners tbody tr").count() == len(owners)
    assert page.locator("#figure-owners rect.bar").count() == len(owners) * 2
    assert "shards/0000" in page.locator("#figure-owners table").inner_text()
    screenshot(page, "reports-status")


def test_a_ticket_seller_is_refused_and_kept_out(station, page):
    log_in(page, station.web, "seller")
    assert page.locator("h1").inner_text() == "没有报表权限"
    assert "report_read" in page.locator(".message").inner_text()
    screenshot(page, "reports-refused")
    # Not logged in to the reports: their pages still ask for a login.
    page.goto(station.web.url + "/reports/sales")
    assert "/reports/login" in page.url


def test_an_account_with_a_second_factor_is_asked_for_its_code(station, page):
    log_in(page, station.web, "sysadmin")
    assert page.locator("#form-error").inner_text() == "此账号需要动态验证码，请填写后再登录。"
    assert page.locator("#totp_code").get_attribute("required") is not None
    # With the code the login goes through, and the system administrator may not read reports.
    log_in(page, station.web, "sysadmin", totp_code(DEMO_TOTP_SECRET, station.server.clock.now_ms()))
    assert page.locator("h1").inner_text() == "没有报表权限"


def test_a_wrong_password_is_said_plainly(station, page):
    page.goto(station.web.url + "/reports/login")
    page.fill("#login_name", "dispatcher")  # not finance: its back-off would slow the other tests
    page.fill("#password", "not-the-password")
    page.click("form.login button[type=submit]")
    assert page.locator("#form-error").inner_text() == "登录名、密码或验证码不正确。"


def test_who_may_read_reports_and_where_a_login_may_lead():
    assert len(PARTS) >= 4
    assert may_read_reports(["finance"]) and may_read_reports(["ticket_seller", "finance"])
    assert not may_read_reports(["ticket_seller"]) and not may_read_reports(["a_role_of_a_later_release"])
    assert next_page("/reports/sales?by=trip") == "/reports/sales?by=trip"
    for elsewhere in ("https://evil.example/", "//evil.example/reports", "/site/orders", ""):
        assert next_page(elsewhere) == "/reports"


def test_a_post_without_the_csrf_token_is_refused(station):
    request = urllib.request.Request(
        station.web.url + "/reports/login",
        data=b"login_name=finance&password=" + DEMO_PASSWORD.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_logging_out_ends_the_reports_session(station, page):
    log_in(page, station.web, "finance")
    page.wait_for_url(station.web.url + "/reports")
    page.click("header.top form button[type=submit]")
    page.wait_for_url(station.web.url + "/reports/login")
    page.goto(station.web.url + "/reports/status")
    assert "/reports/login" in page.url
