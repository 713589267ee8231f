"""The load, shift, funnel and behaviour report pages (/reports/load, /shifts, /funnel, /behaviour)
in Debian's Chromium, against a real server with its report projector: segment sales on a
multi-stop trip, a check-in and a departure (so there are no-shows), a counter seller's shift
opened and closed, and searches for the funnel.  Each page's tables show the numbers the gRPC
reply has, its charts have a bar or a cell per number, and a ticket seller is refused."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from keyun.terminals.client import KeyunClient
from keyun.terminals.printing import yuan
from keyun.terminals.web.app import PARTS  # noqa: F401  (first: the parts build on it)
from keyun.terminals.web.reports_more import FUNNEL_STEPS, OD_BARS, drop_pct, funnel_sums
from keyun.v1 import accounts_pb2, common_pb2, orders_pb2, sales_pb2

from ..conftest import CHINA, ServerThread, logged_in, schedule_trip
from ..waiting import wait_until
from .conftest import WebProcess, screenshot, start_web
from .test_reports_pages import caught_up, log_in

BOARDING = dt.timedelta(minutes=30)  # inside the first stop's check-in window, and departable
PHONE, PASSWORD = "13099881122", "Pages-Passw0rd"


@dataclass
class Station:
    server: ServerThread
    client: KeyunClient
    web: WebProcess
    trip: str
    first: str
    last: str

    @property
    def query(self) -> str:
        return f"from={self.first}&to={self.last}"


def counter_searched(client: KeyunClient, day: str) -> int:
    return sum(line.searched for line in client.funnel_report(day, day, "counter").lines)


def web_searched(client: KeyunClient, day: str) -> int:
    return sum(line.searched for line in client.funnel_report(day, day, "web").lines)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("reports-more")
    server = ServerThread(directory / "data", shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    trip = schedule_trip(client, "RM1", BOARDING)
    later = schedule_trip(client, "RM2", BOARDING + dt.timedelta(hours=2))
    # Segment sales: seat 3 twice (AAA→BBB, BBB→DDD), so legs carry different loads.
    sold = [
        client.sell(trip, "AAA", "DDD", seat_numbers=("1", "2")),
        client.sell(trip, "AAA", "BBB", seat_numbers=("3",)),
        client.sell(trip, "BBB", "DDD", seat_numbers=("3",)),
        client.sell(trip, "CCC", "DDD", seat_numbers=("4",)),
    ]
    client.sell(later, "AAA", "CCC", seat_count=2)
    client.check_in(sold[0].tickets[0].ticket_id, "G1")
    client.depart(trip)  # the rest of the trip's tickets are no-shows
    # Searches and a seat map for the funnel (the duty manager's count under the counter channel).
    day = dt.datetime.now(CHINA) + BOARDING + dt.timedelta(hours=2)
    client.search("AAA", "CCC", day.date().isoformat())
    client.search("AAA", "DDD", (day + dt.timedelta(days=9)).date().isoformat())  # no trip that day
    client.seat_map(later, "AAA", "CCC")
    client.hold(later, "AAA", "BBB", seat_count=1)  # a counter hold left to lapse
    book_on_the_web(client, KeyunClient(server.target), later, day.date().isoformat())
    with logged_in(KeyunClient(server.target), "stock", clock=server.clock) as stock:
        batch = stock.receive_stock("00000001", "00000099", batch_code="RMB1").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000010")
    with logged_in(KeyunClient(server.target), "counter1", clock=server.clock) as seller:
        seller.open_shift("W07")
        cash = seller.sell(later, "AAA", "DDD", seat_count=1)
        seller.close_shift(counted_cash_fen=cash.tickets[0].price_fen)
    today = dt.datetime.now(CHINA).date()
    first, last = today.isoformat(), (today + dt.timedelta(days=1)).isoformat()
    wait_until(lambda: caught_up(client), 60, "the report projector caught up with the sales")
    wait_until(lambda: counter_searched(client, first) >= 2, 60, "the funnel recorded the counter's searches")
    wait_until(lambda: web_searched(client, first) == 3, 60, "the funnel recorded the passenger's searches")
    web = start_web(server.target, directory / "cookie.key")
    yield Station(server, client, web, trip, first, last)
    web.stop()
    client.close()
    server.stop()


def book_on_the_web(counter: KeyunClient, passenger: KeyunClient, trip_id: str, day: str) -> None:
    """A passenger's funnel on the web: searches, a seat map, a hold and an order, paid at a counter."""
    register = accounts_pb2.RegisterRequest(request_id="reg-pages", phone=PHONE, password=PASSWORD)
    passenger.call(passenger.accounts.Register, register)
    passenger.login(PHONE, PASSWORD)
    add = accounts_pb2.AddPassengerRequest(
        request_id="add-pages",
        name="钱乘客",
        document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
        document_number="11010519491231002X",
    )
    pid = passenger.call(passenger.accounts.AddPassenger, add).passenger.passenger_id
    for _ in range(3):
        passenger.search("AAA", "CCC", day)
    passenger.seat_map(trip_id, "AAA", "CCC")
    hold = sales_pb2.HoldRequest(
        request_id="h-pages", trip_id=trip_id, from_station="AAA", to_station="CCC", seat_count=1, passenger_ids=[pid]
    )
    held = passenger.call(passenger.sales.Hold, hold).hold
    order = passenger.create_order(held.hold_id, orders_pb2.PAY_METHOD_CASH).order
    counter.pay_at_counter(order.order_id, orders_pb2.PAY_METHOD_CASH)
    passenger.close()


def table(page, figure: str) -> list[list[str]]:
    return [
        [cell.inner_text() for cell in row.locator("td").all()]
        for row in page.locator(f"#figure-{figure} tbody tr").all()
    ]


def show(page, station: Station, path: str) -> None:
    log_in(page, station.web, "finance", start=f"{path}?{station.query}")
    page.wait_for_url(f"{station.web.url}{path}?{station.query}")


def test_the_load_page_shows_the_load_by_route_trip_and_leg(station, page):
    client = station.client
    show(page, station, "/reports/load")
    by_trip = client.load_report_lines(("trip",), station.first, station.last)
    by_route = client.load_report_lines(("route",), station.first, station.last)
    assert len(by_trip) == 2
    shown = {row[0]: row for row in table(page, "by_trip")}
    for line in by_trip:
        row = shown[line.group[0]]
        assert row[1:8] == [
            str(line.trips),
            str(line.seats),
            str(line.tickets),
            str(line.checked_in),
            str(line.no_shows),
            yuan(line.no_show_fen),
            str(line.peak_on_board),
        ]
        assert row[9] == f"{100 * line.load_factor:.2f}%"
    departed = next(line for line in by_trip if line.group[0] == station.trip)
    assert departed.no_shows == 4 and departed.checked_in == 1  # five live tickets, one checked in
    assert page.locator("#figure-by_trip rect.bar").count() == len(by_trip) * 2
    assert page.locator("#figure-by_route rect.bar").count() == len(by_route) * 2
    assert len(table(page, "by_route")) == len(by_route)

    # The chosen trip's legs: a bar each for on board and checked in.
    page.select_option("#trip", station.trip)
    page.click("form.report-form button[type=submit]")
    page.wait_for_url(lambda url: f"trip={station.trip}" in url)
    legs = list(departed.legs)
    assert len(legs) == 3
    assert table(page, "legs") == [
        [
            f"{leg.from_station}→{leg.to_station}",
            str(leg.km),
            str(leg.on_board),
            str(leg.checked_in),
            str(departed.seats),
        ]
        for leg in legs
    ]
    assert [leg.on_board for leg in legs] == [3, 3, 4]
    assert page.locator("#figure-legs rect.bar").count() == len(legs) * 2
    screenshot(page, "reports-load")
    # Its CSV is the same table.
    body = page.request.get(station.web.url + page.locator("#figure-legs a.csv").get_attribute("href"))
    assert body.status == 200 and body.text().lstrip("\ufeff").count("\r\n") == 1 + len(legs)


def test_the_shift_page_shows_slip_and_tickets_side_by_side(station, page):
    show(page, station, "/reports/shifts")
    lines = station.client.shift_report_lines(station.first, station.last)
    assert len(lines) == 1 and lines[0].reconciled
    [line] = lines
    rows = page.locator("#shift-list tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("class") == "reconciled"
    assert page.locator("#reconciled").is_visible()
    [row] = table(page, "shifts")
    assert row[0] == line.shift_id and row[2] == line.counter_id
    assert row[5:10] == [
        str(line.slip.sold_count),
        yuan(line.slip.net_fen),
        yuan(line.tickets.net_fen),
        yuan(line.difference_fen),
        "是",
    ]
    assert page.locator("#figure-shifts rect.bar").count() == 2  # slip net and tickets net
    screenshot(page, "reports-shifts")


def test_the_funnel_page_shows_each_channels_steps_and_drops(station, page):
    show(page, station, "/reports/funnel")
    reply = station.client.funnel_report(station.first, station.last)
    sums = funnel_sums(reply.lines)
    assert sums["counter"]["searched"] >= 2 and sums["counter"]["held"] >= 1
    assert (sums["web"]["searched"], sums["web"]["seat_maps"], sums["web"]["held"], sums["web"]["ordered"]) == (
        3,
        1,
        1,
        1,
    )
    rows = table(page, "by_channel")
    assert len(rows) == len(sums)
    for row, (channel, steps) in zip(rows, sums.items(), strict=True):
        assert row[1:7] == [str(steps[step]) for step in (*FUNNEL_STEPS, "abandoned")], channel
        drops = [drop_pct(steps[a], steps[b]) for a, b in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:], strict=False)]
        assert row[7:] == [f"{value:.2f}%" for value in drops]
    assert page.locator("#figure-by_channel rect.bar").count() == len(sums) * len(FUNNEL_STEPS)
    # By day: the reply's own lines, drop-offs as the gateway computed them.
    assert [row[2] for row in table(page, "by_day")] == [
        str(line.searched) for line in sorted(reply.lines, key=lambda one: (one.day, one.channel))
    ]
    assert page.locator("#figure-by_day circle.point").count() == 2 * 3  # two days, three lines
    screenshot(page, "reports-funnel")


def test_the_behaviour_page_draws_every_section(station, page):
    show(page, station, "/reports/behaviour")
    reply = station.client.behaviour_report(station.first, station.last)
    assert table(page, "lead_time") == [[b.bucket, str(b.tickets)] for b in reply.lead_time]
    assert page.locator("#figure-lead_time rect.bar").count() == len(reply.lead_time) == 6
    assert page.locator("#figure-heat_map rect.cell").count() == 7 * 24
    assert sum(int(row[2]) for row in table(page, "heat_map")) == sum(c.tickets for c in reply.heat_map)
    pairs = list(reply.od_demand)
    assert pairs and table(page, "od_demand") == [
        [
            f"{p.from_station}→{p.to_station}",
            *(str(n) for n in (p.searches, p.no_results, p.sold_out, p.unmet, p.tickets)),
        ]
        for p in pairs
    ]
    assert page.locator("#figure-od_demand rect.bar").count() == min(len(pairs), OD_BARS) * 3
    assert any(p.unmet for p in pairs)  # the search for a day with no trip
    assert page.locator("#figure-refund_change rect.bar").count() == len(reply.refund_change) * 2
    months = {r.month for r in reply.repeat}
    counts = {r.trips for r in reply.repeat}
    assert page.locator("#figure-repeat rect.bar").count() == len(months) * len(counts)
    screenshot(page, "reports-behaviour")
    # The print stylesheet: the form and navigation are not on paper, the charts are.
    page.emulate_media(media="print")
    assert not page.locator("form.report-form").is_visible()
    assert page.locator("#figure-heat_map svg.chart").is_visible()
    page.emulate_media(media="screen")


def test_the_index_lists_the_pages_and_a_ticket_seller_is_refused(station, page):
    log_in(page, station.web, "finance")
    page.wait_for_url(station.web.url + "/reports")
    cards = [card.get_attribute("href") for card in page.locator("a.card").all()]
    assert {"/reports/load", "/reports/shifts", "/reports/funnel", "/reports/behaviour"} <= set(cards)
    page.goto(station.web.url + "/reports/behaviour?lang=en")
    assert page.locator("#figure-lead_time svg title").first.text_content() == "Lead time"
    # A period with nothing in it: every page still draws, and says so where it matters.
    empty = (dt.datetime.now(CHINA).date() - dt.timedelta(days=400)).isoformat()
    for path in ("/reports/load", "/reports/shifts", "/reports/funnel", "/reports/behaviour"):
        page.goto(f"{station.web.url}{path}?from={empty}&to={empty}&lang=zh")
        assert page.locator("h1").count() == 1 and not page.locator("main p.error").count(), path
        assert page.locator("figure.report-figure").count() >= 1, path
    assert page.locator("#figure-heat_map rect.cell").count() == 7 * 24
    seller = page.context.browser.new_context(locale="zh-CN").new_page()
    log_in(seller, station.web, "seller", start="/reports/funnel")
    assert seller.locator("h1").inner_text() == "没有报表权限"
    seller.goto(station.web.url + "/reports/load")
    assert "/reports/login" in seller.url
    seller.context.close()
