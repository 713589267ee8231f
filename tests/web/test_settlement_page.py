"""The settlement page (/reports/settlement) in Debian's Chromium, against a real server with its
report projector: an operator's contract with deductions, sales and a refund, the period locked,
then a late refund and a manual adjustment.  The page's waterfall, sheet, lock, adjustments and
ticket lines must show what the gRPC replies have; the CSV has every line; a seller is refused."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from keyun.terminals.client import KeyunClient
from keyun.terminals.printing import yuan
from keyun.terminals.web.app import PARTS  # noqa: F401  (first: the parts build on it)
from keyun.terminals.web.reports_settlement import FIGURE_NAMES, LINES_SHOWN, waterfall_steps
from keyun.v1 import reports_pb2

from ..conftest import CHINA, ServerThread, logged_in, schedule_trip
from ..waiting import wait_until
from .conftest import WebProcess, screenshot, start_web
from .test_reports_pages import caught_up, log_in

DEPARTS_IN = dt.timedelta(hours=5)
OPERATOR = "TESTOP"


@dataclass
class Station:
    server: ServerThread
    finance: KeyunClient
    web: WebProcess
    day: str
    lock_id: str

    @property
    def path(self) -> str:
        return f"/reports/settlement?operator={OPERATOR}&from={self.day}&to={self.day}"


def signed(fen: int) -> str:
    return yuan(fen) if fen >= 0 else "-" + yuan(-fen)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("settlement-page")
    server = ServerThread(directory / "data", shards=2, reports=True)
    master = logged_in(KeyunClient(server.target), clock=server.clock)
    finance = logged_in(KeyunClient(server.target), "finance", clock=server.clock)
    day = (dt.datetime.now(CHINA) + DEPARTS_IN).date()
    trip = schedule_trip(master, "SP1", DEPARTS_IN)
    terms = reports_pb2.OperatorContract(
        operator_id=OPERATOR,
        effective_from=(day - dt.timedelta(days=30)).isoformat(),
        agency_fee_bp=800,
        refund_fee_station_bp=5000,
        deductions=[reports_pb2.Deduction(name="站台租金", fen=1500)],
    )
    finance.set_contract(terms)
    tickets = [t for n in range(3) for t in master.sell(trip, "AAA", "DDD", seat_count=2).tickets]
    master.refund(tickets[0].ticket_id)
    wait_until(lambda: caught_up(finance), 60, "the report projector caught up with the sales")
    lock = finance.lock_settlement(OPERATOR, day.isoformat(), day.isoformat())
    master.refund(tickets[1].ticket_id)  # after the lock: an adjustment
    finance.add_adjustment(lock.lock_id, "短款更正", -250)
    wait_until(lambda: caught_up(finance), 60, "the report projector caught up with the late refund")
    wait_until(
        lambda: len(finance.settlement_sheet(OPERATOR, day.isoformat(), day.isoformat()).adjustments) == 2,
        60,
        "the late refund shows as an adjustment",
    )
    web = start_web(server.target, directory / "cookie.key")
    yield Station(server, finance, web, day.isoformat(), lock.lock_id)
    web.stop()
    finance.close()
    master.close()
    server.stop()


def cells(page, selector: str) -> list[list[str]]:
    return [[cell.inner_text() for cell in row.locator("th, td").all()] for row in page.locator(selector).all()]


def test_the_settlement_page_shows_the_sheet_its_lock_adjustments_and_lines(station, page):
    finance, day = station.finance, station.day
    log_in(page, station.web, "finance", start=station.path)
    page.wait_for_url(station.web.url + station.path)
    sheet = finance.settlement_sheet(OPERATOR, day, day)
    assert sheet.lock.lock_id == station.lock_id
    # The operator picker lists the contracts' operators.
    assert page.locator("#operator option").all_inner_texts() == [OPERATOR]
    # The waterfall: a bar per step, and its table's amounts and running totals are the sheet's.
    steps = waterfall_steps(sheet)
    assert page.locator("#figure-waterfall rect.bar").count() == len(steps)
    rows = cells(page, "#figure-waterfall tbody tr")
    assert [row[1] for row in rows] == [signed(fen) for _, fen, _ in steps]
    assert rows[-1][2] == signed(sheet.amount_payable_fen) == page.locator("#amount-payable").inner_text()
    # The running total reaches each total: the figures are a sum.
    running = 0
    for name, fen, total in steps:
        if total and name != "revenue_fen":
            assert running == fen, name
        running = fen if total else running + fen
    # The sheet's figures, every one.
    shown = [row[1] for row in cells(page, "#sheet tbody tr")]
    expected = [
        signed(getattr(sheet.totals, n)) if n.endswith("_fen") else str(getattr(sheet.totals, n)) for n in FIGURE_NAMES
    ]
    assert shown == expected
    assert sheet.totals.refunds == 1 and sheet.deductions_fen == 1500
    # Locked, with the late refund and the manual adjustment.
    assert station.lock_id in page.locator("#locked").inner_text()
    adjustments = cells(page, "#adjustments tbody tr")
    assert [row[3] for row in adjustments] == [signed(a.amount_fen) for a in sheet.adjustments]
    assert adjustments[1][2] == "短款更正" and adjustments[1][3] == "-¥2.50"
    # The ticket lines: every ticket (six, fewer than a page), as SettlementLines has them.
    lines = finance.all_settlement_lines(OPERATOR, day, day)
    assert len(lines) == 6 <= LINES_SHOWN
    table = cells(page, "#figure-lines tbody tr")
    assert [row[0] for row in table] == [line.ticket_id for line in lines]
    payable = FIGURE_NAMES.index("payable_fen") + 5
    assert [row[payable] for row in table] == [signed(line.figures.payable_fen) for line in lines]
    screenshot(page, "reports-settlement")
    body = page.request.get(station.web.url + page.locator("#figure-lines a.csv").get_attribute("href"))
    assert body.status == 200 and body.text().lstrip("\ufeff").count("\r\n") == 1 + len(lines)


def test_an_unlocked_period_is_live_and_a_seller_is_refused(station, page):
    log_in(page, station.web, "finance", start="/reports/login")
    page.wait_for_url(station.web.url + "/reports")
    assert "/reports/settlement" in [card.get_attribute("href") for card in page.locator("a.card").all()]
    earlier = (dt.date.fromisoformat(station.day) - dt.timedelta(days=3)).isoformat()
    page.goto(f"{station.web.url}/reports/settlement?operator={OPERATOR}&from={earlier}&to={earlier}&lang=en")
    assert page.locator("#unlocked").is_visible() and page.locator("#no-adjustments").is_visible()
    assert page.locator("#figure-lines tbody tr").count() == 0
    assert page.locator("#amount-payable").inner_text() == signed(
        station.finance.settlement_sheet(OPERATOR, earlier, earlier).amount_payable_fen
    )
    seller = page.context.browser.new_context(locale="zh-CN").new_page()
    log_in(seller, station.web, "seller", start="/reports/settlement")
    assert seller.locator("h1").inner_text() == "没有报表权限"
    seller.context.close()
