"""The departure board's page (/board, docs/board.md) in Debian's Chromium against a real server
(with `keyun sandbox-sms` as its SMS provider) and `keyun web` logged in as the board device: live
delays told to the delayed passengers too, gates, announcements, and recovery after the Keyun
server restarts."""

from __future__ import annotations

import datetime as dt
import itertools
import time
import urllib.error
import urllib.request

import pytest

from keyun.terminals.client import KeyunClient, walk_in
from keyun.v1 import board_pb2

from ..conftest import CHINA, Keyun, ServerThread, logged_in, schedule_trip
from ..sms_sandbox import sms_fixture  # noqa: F401 (the `sms` fixture)
from ..waiting import wait_until
from .conftest import screenshot, start_web


def minutes_left_today() -> int:
    now = dt.datetime.now(CHINA)
    return int((dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), CHINA) - now).total_seconds() // 60)


def today_in(wanted_min: int) -> dt.timedelta:
    """A departure `wanted_min` from now, or sooner so that it is still today (the board shows today)."""
    left = minutes_left_today()
    if left < 8:
        pytest.skip("a few minutes before midnight the board's day is ending: nothing left to show today")
    return dt.timedelta(minutes=min(wanted_min, left - 4))


def board_device_args(tmp_path) -> list[str]:
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    secret = tmp_path / "board1.password"
    secret.write_text(DEMO_PASSWORD)
    secret.chmod(0o600)
    return ["--device", "board", "board1", str(secret)]


@pytest.fixture(scope="module")
def keyun(ray_session, tmp_path_factory, sms):
    """This module's server sends its notices through the SMS sandbox."""
    server = ServerThread(tmp_path_factory.mktemp("data"), shards=2, sms_dir=sms.directory)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    yield Keyun(server, client, itertools.count(1))
    client.close()
    server.stop()


@pytest.fixture(scope="module")
def board_web(keyun, tmp_path_factory):
    folder = tmp_path_factory.mktemp("board-web")
    process = start_web(keyun.target, folder / "cookie.key", *board_device_args(folder))
    yield process
    process.stop()


def row(page, trip_id: str, **attributes: str):
    selector = f'tr[data-trip="{trip_id}"]' + "".join(f'[data-{k}="{v}"]' for k, v in attributes.items())
    return page.wait_for_selector(selector, state="attached", timeout=15_000)


def test_the_board_shows_a_delay_within_two_seconds_and_the_passengers_get_an_sms(keyun, sms, board_web, page):
    trip_id = keyun.trip(today_in(150))
    phone = "13912345678"
    passenger = walk_in("E12345678", "周延误", document_type="PASSPORT", phone=phone)
    keyun.client.sell(trip_id, "AAA", "DDD", seat_count=1, passengers=(passenger,))
    page.goto(board_web.url + "/board?station=AAA")
    row(page, trip_id, delay="0")
    asked = time.monotonic()
    keyun.client.delay(trip_id, 25)
    page.wait_for_selector(f'tr[data-trip="{trip_id}"][data-delay="25"]', state="attached", timeout=2_000)
    assert time.monotonic() - asked < 2.0
    shown = page.locator(f'tr[data-trip="{trip_id}"]')
    assert "晚点" in shown.inner_text() or shown.get_attribute("data-status") == "boarding"
    told = wait_until(lambda: [m for m in sms.messages_to(phone) if "延误" in m["text"]], 20, "the SMS of the delay")
    assert len(told) == 1


def test_gates_cancellations_boarding_and_announcements_show(keyun, board_web, page):
    boarding = keyun.trip(today_in(30))
    gated = keyun.trip(today_in(200))
    cancelled = keyun.trip(today_in(240))
    delayed = keyun.trip(today_in(120))
    keyun.client.delay(delayed, 25)
    page.goto(board_web.url + "/board?station=AAA")
    row(page, boarding, status="boarding")
    keyun.client.assign_gate(gated, "A3")
    row(page, gated, gate="A3")
    keyun.client.cancel(cancelled)
    row(page, cancelled, status="cancelled")
    row(page, delayed, delay="25")
    keyun.client.publish_announcement(
        board_pb2.ANNOUNCEMENT_KIND_WEATHER,
        "今日有雾，部分班次可能晚点，请留意广播",
        ["AAA"],
        keyun.clock.now_ms() + 3_600_000,
        text_en="Fog today: some departures may be late",
    )
    page.wait_for_selector("#board-announcements:not([hidden]) .words", timeout=15_000)
    assert "有雾" in page.locator("#board-announcements").inner_text()
    screenshot(page, "board")
    page.goto(board_web.url + "/board?station=AAA&lang=en")
    row(page, gated, gate="A3")
    assert page.locator("thead").inner_text().split()[0] == "Time"


def test_the_page_flips_when_the_day_does_not_fit(keyun, board_web, page):
    for minutes in range(60, 60 + 14 * 5, 5):
        keyun.trip(today_in(minutes + 300))
    page.set_viewport_size({"width": 900, "height": 400})
    page.goto(board_web.url + "/board?station=AAA")
    page.wait_for_selector("#board-page:not(:empty)", timeout=15_000)
    first_page = page.locator("#board-page").inner_text()
    assert first_page.startswith("第1/")
    page.wait_for_selector("#board-page:text-matches('^第2/')", timeout=15_000)  # it flipped by itself


def test_without_a_board_device_login_the_stream_is_refused(keyun, web):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(web.url + "/board/events?station=AAA", timeout=5)
    assert refused.value.code == 503
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(web.url + "/board/events?station=A%20A", timeout=5)
    assert bad.value.code == 400


def test_the_board_recovers_by_itself_when_the_server_restarts(ray_session, tmp_path, page):
    first = ServerThread(tmp_path / "data", shards=1)
    stopped = False
    web = None
    try:
        client = logged_in(KeyunClient(first.target), clock=first.clock)
        trip_id = schedule_trip(client, "RB1", today_in(180))
        client.close()
        web = start_web(first.target, tmp_path / "cookie.key", *board_device_args(tmp_path))
        page.goto(web.url + "/board?station=AAA")
        row(page, trip_id, gate="")
        first.stop()
        stopped = True
        page.wait_for_selector("body[data-connected='no']", timeout=20_000)
        assert page.locator("#board-status").inner_text()  # says it is reconnecting
        second = ServerThread(tmp_path / "data", shards=1, port=first.port)
        try:
            client = logged_in(KeyunClient(second.target), clock=second.clock)
            client.assign_gate(trip_id, "9")
            client.close()
            row(page, trip_id, gate="9")  # the web process reconnected and the page followed
            page.wait_for_selector("body[data-connected='yes']", timeout=20_000)
        finally:
            second.stop()
    finally:
        if web is not None:
            web.stop()
        if not stopped:
            first.stop()
