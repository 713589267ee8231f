"""`keyun serve --demo` keeps the demo network on sale: the advance-sale window (today and the next
six days, Beijing time) is scheduled at every start and again when the date changes while the
server runs, and the round-the-clock shuttle has a coach boarding within the next hour at any time
(tried at 12:00, 00:10 and 23:50, where a ticket is sold and checked in)."""

from __future__ import annotations

import datetime as dt

from keyun.common.clock import ManualClock
from keyun.gateway.demo_network import DEMO_DAYS
from keyun.gateway.timetable import DATE_CHECK_S
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import catalog_pb2, common_pb2

from .conftest import CHINA, ServerThread, logged_in
from .waiting import wait_until

HOUR_MS = 3_600_000
DEMO_SCHEDULES = 82  # 34 intercity, 48 shuttle
# Three days after the real date, so the owners (which never go back in time) follow the test's clock.
FIRST_DAY = dt.datetime.now(CHINA).date() + dt.timedelta(days=3)


def beijing_ms(day: dt.date, hh: int, mm: int) -> int:
    return int(dt.datetime.combine(day, dt.time(hh, mm), CHINA).timestamp() * 1000)


def scheduled(client: KeyunClient, trip_id: str) -> bool:
    try:
        client.trip(trip_id)
    except KeyunError as error:
        assert error.reason == "UNKNOWN_TRIP", error
        return False
    return True


def window(first: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range(DEMO_DAYS)]


def boarding_within_the_hour(client: KeyunClient, now_ms: int) -> list[catalog_pb2.Offer]:
    """The shuttle trips checking in now that leave within the next hour."""
    today = dt.datetime.fromtimestamp(now_ms / 1000, CHINA).date()
    found = []
    for date in (today, today + dt.timedelta(days=1)):
        for start, end in (("SJZ", "SJZY"), ("SJZY", "SJZ")):
            for offer in client.search(start, end, date.isoformat()).offers:
                leaves_ms = offer.from_stop.departs_at.ToMilliseconds()
                if offer.status == common_pb2.TRIP_STATUS_CHECKING_IN and now_ms < leaves_ms <= now_ms + HOUR_MS:
                    found.append(offer)
    return found


def test_the_demo_window_rolls_every_day_and_on_restart(ray_session, tmp_path):
    demo_dir = tmp_path / "data"
    clock = ManualClock(beijing_ms(FIRST_DAY, 12, 0))
    server = ServerThread(demo_dir, shards=1, clock=clock, demo_network=True)
    try:
        client = logged_in(KeyunClient(server.target), "seller")
        # At start: the whole window, and nothing after it.
        for day in window(FIRST_DAY):
            assert scheduled(client, f"K101-{day:%Y%m%d}") and scheduled(client, f"S2330-{day:%Y%m%d}")
        after = FIRST_DAY + dt.timedelta(days=DEMO_DAYS)
        assert not scheduled(client, f"K101-{after:%Y%m%d}")
        assert boarding_within_the_hour(client, clock.now_ms())

        # Past midnight in Beijing, the running server adds the window's new last day.
        clock.advance(beijing_ms(FIRST_DAY + dt.timedelta(days=1), 0, 10) - clock.now_ms())
        client.close()
        client = logged_in(KeyunClient(server.target), "seller")
        wait_until(lambda: scheduled(client, f"K101-{after:%Y%m%d}"), 30 + DATE_CHECK_S, "the next day's trips")
        assert scheduled(client, f"S0000-{after:%Y%m%d}")
        assert boarding_within_the_hour(client, clock.now_ms())
        # The demo rolls as any station's kept network does (gateway/timetable.py).
        rolled = f"timetable roll from {FIRST_DAY + dt.timedelta(days=1)}: {DEMO_SCHEDULES} trips scheduled"
        assert rolled in server.log_text()
        client.close()
        clock.advance(beijing_ms(FIRST_DAY + dt.timedelta(days=1), 23, 50) - clock.now_ms())
        client = logged_in(KeyunClient(server.target), "master")  # the duty manager sells and checks in
        offer = boarding_within_the_hour(client, clock.now_ms())[0]  # one of the next day's first shuttles
        assert offer.trip.trip_id.endswith(f"-{FIRST_DAY + dt.timedelta(days=2):%Y%m%d}")
        (ticket,) = client.sell(offer.trip.trip_id, offer.from_stop.code, offer.to_stop.code, seat_count=1).tickets
        assert client.check_in(ticket.ticket_id, "G1").status == common_pb2.TICKET_STATUS_CHECKED_IN
        client.close()
    finally:
        server.stop()

    # A restart on the same day finds the window there: nothing new, nothing refused.
    day_two = FIRST_DAY + dt.timedelta(days=1)
    trips = len(window(day_two)) * DEMO_SCHEDULES
    server = ServerThread(demo_dir, shards=1, clock=clock, demo_network=True)
    try:
        assert f"demo network from {day_two} for 7 days: 0 trips scheduled, {trips} already there" in server.log_text()
    finally:
        server.stop()

    # Ten days later, a restart on the same (now stale) data directory schedules the current window
    # before it serves, and leaves the trips it already had alone.
    clock.advance(10 * 24 * HOUR_MS)
    later = FIRST_DAY + dt.timedelta(days=11)
    server = ServerThread(demo_dir, shards=1, clock=clock, demo_network=True)
    try:
        client = logged_in(KeyunClient(server.target), "seller")
        for day in window(later):
            assert scheduled(client, f"K101-{day:%Y%m%d}") and scheduled(client, f"S0030-{day:%Y%m%d}")
        assert scheduled(client, f"K101-{FIRST_DAY:%Y%m%d}")
        assert not scheduled(client, f"K101-{later + dt.timedelta(days=DEMO_DAYS):%Y%m%d}")
        client.close()
    finally:
        server.stop()
