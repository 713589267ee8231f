"""The schedule of station rules (engine/station_rules.py): which rules are in force when."""

from __future__ import annotations

from keyun.engine import station_rules as sr
from keyun.engine.policy import MINUTE_MS, Policy
from keyun.engine.reasons import Reason, Rejection

BASE = Policy()


def scheduled(book: sr.StationRulesBook, hold_minutes: int, at_ms: int, now_ms: int) -> None:
    command = sr.ScheduleStationRules(
        f"r{book.version}", f"hold_minutes = {hold_minutes}", Policy(hold_minutes * MINUTE_MS), at_ms, "A1"
    )
    outcome = sr.decide(book, command, now_ms)
    assert not isinstance(outcome, Rejection)
    for event in outcome:
        sr.evolve(book, event)


def hold_minutes_at(book: sr.StationRulesBook, now_ms: int) -> int:
    return sr.policy_at(BASE, book.changes, now_ms).hold_ttl_ms // MINUTE_MS


def test_the_base_rules_until_a_change_then_the_change_from_its_time():
    book = sr.StationRulesBook()
    scheduled(book, 3, 1000, 0)
    assert [hold_minutes_at(book, t) for t in (0, 999, 1000, 5000)] == [10, 10, 3, 3]


def test_a_later_change_replaces_the_ones_from_its_time_on_and_keeps_those_before():
    book = sr.StationRulesBook()
    scheduled(book, 3, 1000, 0)
    scheduled(book, 5, 3000, 0)
    scheduled(book, 7, 2000, 0)  # replaces the one from 3000
    assert [hold_minutes_at(book, t) for t in (500, 1500, 2500, 3500)] == [10, 3, 7, 7]
    # Once a change is in force, the ones it replaced for good are dropped.
    scheduled(book, 8, 9000, 2500)
    assert [c.effective_at_ms for c in book.changes] == [2000, 9000]
    assert book.version == 4


def test_a_time_not_later_than_now_is_refused():
    book = sr.StationRulesBook()
    command = sr.ScheduleStationRules("r1", "hold_minutes = 3", Policy(3 * MINUTE_MS), 1000, "A1")
    outcome = sr.decide(book, command, 1000)
    assert isinstance(outcome, Rejection) and outcome.reason is Reason.STATION_RULES_IN_PAST
    assert not book.changes
