"""Schedules' calendars and advance-sale days (engine/network.py), without a server."""

from __future__ import annotations

import datetime as dt

import pytest

from keyun.common.network_file import parse_network_text
from keyun.engine.network import Calendar, expand, window
from keyun.engine.reasons import Rejected

MONDAY = dt.date(2030, 1, 7)
FILE = """
format = 1
[[stations]]
code = "AA"
name = "A"
[[stations]]
code = "BB"
name = "B"
[[operators]]
id = "OP"
name = "O"
[[vehicles]]
id = "v"
name = "V"
seats = 4
[[routes]]
id = "R1"
name = "R"
fen_per_km = 10
stops = [ { station = "AA", minutes = 0, km = 0 }, { station = "BB", minutes = 30, km = 10 } ]
[[schedules]]
id = "S1"
route = "R1"
operator = "OP"
vehicle = "v"
departs = "08:00"
"""


def test_a_calendar_runs_on_its_dates():
    weekdays = Calendar(weekdays=(1, 2, 3, 4, 5))
    assert [weekdays.runs_on(MONDAY + dt.timedelta(days=n)) for n in range(7)] == [True] * 5 + [False] * 2
    odd = Calendar(days="odd", except_days=(MONDAY.toordinal(),), also_days=(MONDAY.toordinal() + 1,))
    assert [odd.runs_on(MONDAY + dt.timedelta(days=n)) for n in range(4)] == [False, True, True, False]
    season = Calendar(first=MONDAY.toordinal() + 1, last=MONDAY.toordinal() + 2)
    assert [season.runs_on(MONDAY + dt.timedelta(days=n)) for n in range(4)] == [False, True, True, False]


def test_without_a_calendar_a_schedule_runs_daily_and_advance_days_bound_the_window():
    daily = parse_network_text(FILE)
    assert len(expand(daily, MONDAY, 10, MONDAY)) == 10  # no advance_days: a load may go further
    assert len(window(daily, MONDAY)) == 7
    three = parse_network_text(FILE + "advance_days = 3\ncalendar = { weekdays = [1, 3] }\n")
    assert [s.trip_id for s in expand(three, MONDAY, 10, MONDAY)] == ["S1-20300107", "S1-20300109"]
    assert [s.trip_id for s in window(three, MONDAY)] == ["S1-20300107", "S1-20300109"]


@pytest.mark.parametrize(
    ("extra", "reason", "path"),
    [
        ('calendar = { days = "weekly" }', "BAD_CALENDAR", "schedules[0].calendar.days"),
        ("calendar = { weekdays = [8] }", "BAD_CALENDAR", "schedules[0].calendar.weekdays"),
        ("calendar = { weekdays = [] }", "BAD_CALENDAR", "schedules[0].calendar.weekdays"),
        ("calendar = { from = 2030-01-02, until = 2030-01-01 }", "BAD_CALENDAR", "schedules[0].calendar.until"),
        ('calendar = { except = ["2030-13-01"] }', "BAD_CALENDAR", "schedules[0].calendar.except[0]"),
        ("calendar = { except = [2030-01-01], also = [2030-01-01] }", "BAD_CALENDAR", "schedules[0].calendar.also"),
        ("calendar = { weekday = [1] }", "BAD_CALENDAR", "schedules[0].calendar.weekday"),
        ("advance_days = 61", "BAD_ADVANCE_DAYS", "schedules[0].advance_days"),
        ('advance_days = 61\ndeparts2 = "x"', "BAD_NETWORK", "schedules[0].departs2"),
    ],
)
def test_bad_calendars_name_the_field_with_their_own_reason(extra, reason, path):
    with pytest.raises(Rejected) as caught:
        parse_network_text(FILE + extra + "\n")
    assert caught.value.rejection.reason.name == reason and path in caught.value.rejection.message
