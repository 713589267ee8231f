"""Timetables that roll by themselves (docs/network-file.md, "Calendars and the daily roll"):
calendars and advance-sale days decide which trips exist; the server keeps the last loaded network
and schedules each new day's trips when the date changes, also after a restart; a load effective
from a date puts new terms on unsold trips from that date and leaves sold ones; `network diff`
says all this without changing anything."""

from __future__ import annotations

import datetime as dt

import pytest

from keyun.common.clock import ManualClock
from keyun.gateway.timetable import DATE_CHECK_S
from keyun.terminals.cli import diff_lines
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2

from .conftest import CHINA, ServerThread, logged_in
from .waiting import wait_until

# Three days after the real date, so the owners (which never go back in time) follow the test's clock.
D0 = dt.datetime.now(CHINA).date() + dt.timedelta(days=3)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def beijing_ms(date: dt.date, hh: int, mm: int) -> int:
    return int(dt.datetime.combine(date, dt.time(hh, mm), CHINA).timestamp() * 1000)


def network(fen_per_km: int = 30, station_name: str = "乙站", gone: bool = True, calendar: str = "") -> str:
    odd_or_even = "odd" if day(0).day % 2 else "even"  # runs on D0
    text = f"""
format = 1
[[stations]]
code = "TTA"
name = "甲站"
[[stations]]
code = "TTB"
name = "{station_name}"
[[operators]]
id = "TTOP"
name = "时刻表客运"
[[vehicles]]
id = "bus10"
name = "10座"
seats = 10
[[routes]]
id = "TT-FARE"
name = "甲—乙（票价）"
fen_per_km = {fen_per_km}
stops = [ {{ station = "TTA", minutes = 0, km = 0 }}, {{ station = "TTB", minutes = 60, km = 100 }} ]
[[routes]]
id = "TT-LINE"
name = "甲—乙"
fen_per_km = 10
stops = [ {{ station = "TTA", minutes = 0, km = 0 }}, {{ station = "TTB", minutes = 60, km = 100 }} ]

[[schedules]]
id = "TTWK"
route = "TT-LINE"
operator = "TTOP"
vehicle = "bus10"
departs = "08:00"
calendar = {{ weekdays = [{day(2).isoweekday()}] {calendar} }}

[[schedules]]
id = "TTOD"
route = "TT-LINE"
operator = "TTOP"
vehicle = "bus10"
departs = "09:00"
calendar = {{ days = "{odd_or_even}", except = [{day(0)}], also = [{day(1)}] }}

[[schedules]]
id = "TTAD"
route = "TT-LINE"
operator = "TTOP"
vehicle = "bus10"
departs = "10:00"
advance_days = 3

[[schedules]]
id = "TTFARE"
route = "TT-FARE"
operator = "TTOP"
vehicle = "bus10"
departs = "11:00"
"""
    if gone:
        text += """
[[schedules]]
id = "TTGONE"
route = "TT-LINE"
operator = "TTOP"
vehicle = "bus10"
departs = "12:00"
"""
    return text


def trip_id(schedule: str, n: int) -> str:
    return f"{schedule}-{day(n):%Y%m%d}"


def scheduled(client: KeyunClient, trip: str) -> bool:
    try:
        client.trip(trip)
    except KeyunError as error:
        assert error.reason == "UNKNOWN_TRIP", error
        return False
    return True


def fare(client: KeyunClient, n: int, schedule: str = "TTFARE") -> int:
    offers = [
        o for o in client.search("TTA", "TTB", day(n).isoformat()).offers if o.trip.trip_id == trip_id(schedule, n)
    ]
    assert offers, trip_id(schedule, n)
    return offers[0].fare_fen


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def test_calendars_windows_the_daily_roll_and_effective_dates(ray_session, tmp_path):
    data = tmp_path / "data"
    clock = ManualClock(beijing_ms(day(0), 12, 0))
    server = ServerThread(data, shards=1, clock=clock)
    try:
        client = logged_in(KeyunClient(server.target), "dispatcher")
        reply = client.load_network(network())
        assert reply.schedules == 5
        # Weekday-only: one date in the week.  Odd/even days, but not D0 (except), and D1 (also).
        assert [n for n in range(7) if scheduled(client, trip_id("TTWK", n))] == [2]
        assert [n for n in range(7) if scheduled(client, trip_id("TTOD", n))] == [1, 2, 4, 6]
        # advance_days = 3: today and the next two days only.
        assert [n for n in range(8) if scheduled(client, trip_id("TTAD", n))] == [0, 1, 2]
        assert [n for n in range(8) if scheduled(client, trip_id("TTFARE", n))] == list(range(7))
        assert fare(client, 3) == 3000

        # Bad calendars and dates are refused with their reason codes, and change nothing.
        bad = refused(lambda: client.load_network(network(calendar=', days = "weekly"')))
        assert bad.reason == "BAD_CALENDAR" and "schedules[0].calendar.days" in bad.message
        bad = refused(lambda: client.load_network(network(calendar=", until = 2020-01-01, from = 2021-01-01")))
        assert bad.reason == "BAD_CALENDAR" and "is before from" in bad.message
        bad = refused(lambda: client.load_network(network(), effective_from=day(-1).isoformat()))
        assert bad.reason == "BAD_EFFECTIVE_DATE"
        assert not client.diff_network(network()).schedules_changed

        # Past midnight the server rolls by itself: the new day's trips, each schedule's window.
        clock.advance(beijing_ms(day(1), 0, 10) - clock.now_ms())
        client.close()
        client = logged_in(KeyunClient(server.target), "dispatcher")  # the session idled out meanwhile
        wait_until(lambda: scheduled(client, trip_id("TTFARE", 7)), 30 + DATE_CHECK_S, "the roll's new day")
        assert scheduled(client, trip_id("TTAD", 3)) and not scheduled(client, trip_id("TTAD", 4))
        assert server.server.timetable_metrics.rolled._value.get() >= 2
        assert server.server.timetable_metrics.last_roll._value.get() * 1000 >= beijing_ms(day(1), 0, 10)

        # A ticket sold on day 3's trip at the old fare.
        seller = logged_in(KeyunClient(server.target), "master", clock)
        (ticket,) = seller.sell(trip_id("TTFARE", 3), "TTA", "TTB", seat_count=1).tickets
        assert ticket.price_fen >= 3000
        sold_price = ticket.price_fen
        seller.sell(trip_id("TTGONE", 5), "TTA", "TTB", seat_count=1)  # a dropped schedule's sold trip

        # The diff of a new fare, a dropped schedule and a renamed station from day 3.
        new = network(fen_per_km=50, station_name="乙站新", gone=False)
        diff = client.diff_network(new, day(3).isoformat())
        assert list(diff.schedules_removed) == ["TTGONE"] and not diff.schedules_added
        changed = {c.schedule_id: list(c.fields) for c in diff.schedules_changed}
        assert changed["TTFARE"] == ["fares"]  # the renamed station is listed on its own, below
        assert [(r.code, r.old_name, r.new_name) for r in diff.stations_renamed] == [("TTB", "乙站", "乙站新")]
        assert set(diff.trips_left_sold) == {trip_id("TTFARE", 3), trip_id("TTGONE", 5)}
        assert trip_id("TTFARE", 4) in diff.trips_to_replace
        assert trip_id("TTGONE", 4) in diff.trips_to_retire and trip_id("TTGONE", 2) not in diff.trips_to_retire
        assert any("schedule removed: TTGONE" in line for line in diff_lines(diff))
        # ... and changed nothing.
        assert fare(client, 4) == 3000 and client.diff_network(new, day(3).isoformat()) == diff

        # The load from day 3: unsold trips take the new terms, the sold one keeps its own.
        loaded = client.load_network(new, effective_from=day(3).isoformat())
        assert set(loaded.trips_left_sold) == {trip_id("TTFARE", 3), trip_id("TTGONE", 5)}
        assert trip_id("TTGONE", 5) not in loaded.trips_retired
        assert loaded.trips_replaced >= 4 and trip_id("TTGONE", 4) in loaded.trips_retired
        clock.advance(60_000)  # past the cached search answers
        assert fare(client, 2) == 3000 and fare(client, 3) == 3000 and fare(client, 4) == 5000
        assert client.trip(trip_id("TTFARE", 4)).stops[1].name == "乙站新"
        assert client.trip(trip_id("TTFARE", 2)).stops[1].name == "乙站"
        assert seller.ticket(ticket.ticket_id).price_fen == sold_price
        cancelled = common_pb2.TRIP_STATUS_CANCELLED
        assert client.trip(trip_id("TTGONE", 4)).status == cancelled  # unsold, from the date: retired
        assert client.trip(trip_id("TTGONE", 2)).status != cancelled  # before the date: runs
        assert client.trip(trip_id("TTGONE", 5)).status != cancelled  # sold: runs
        seller.close()
        client.close()
    finally:
        server.stop()

    # After a restart the kept network (both versions) rolls on: day 8 on the new terms, no TTGONE.
    clock.advance(beijing_ms(day(2), 0, 10) - clock.now_ms())
    server = ServerThread(data, shards=1, clock=clock)
    try:
        client = logged_in(KeyunClient(server.target), "dispatcher")
        wait_until(lambda: scheduled(client, trip_id("TTFARE", 8)), 30 + DATE_CHECK_S, "the roll after a restart")
        assert fare(client, 8) == 5000
        assert not scheduled(client, trip_id("TTGONE", 8))
        again = client.diff_network(network(fen_per_km=50, station_name="乙站新", gone=False), day(3).isoformat())
        assert not again.schedules_changed and not again.schedules_removed and not again.nothing_kept
        client.close()
    finally:
        server.stop()
