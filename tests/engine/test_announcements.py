"""Station announcements' pure core (engine/announcements.py), as the accounts owner runs it."""

from __future__ import annotations

import pytest

from keyun.engine import accounts as ac
from keyun.engine import announcements as an
from keyun.engine import codec
from keyun.engine.reasons import Reason, Rejected, Rejection

T0 = 1_800_000_000_000
HOUR = 3_600_000
DISPATCHER = "A000003"


def run(engine: ac.AccountsEngine, item, now=T0):
    (reply,), _ = engine.execute([item], now)
    return reply


def publish(request_id="p1", stations=("AAA",), starts=T0, ends=T0 + HOUR, text="大雾"):
    return an.PublishAnnouncement(
        request_id, an.AnnouncementKind.WEATHER, text, "Fog", starts, ends, stations, DISPATCHER
    )


def test_in_effect_between_its_times_at_its_stations_until_withdrawn():
    engine = ac.AccountsEngine()
    first = run(engine, publish()).announcement
    later = run(engine, publish("p2", ("*",), T0 + HOUR, T0 + 2 * HOUR)).announcement
    assert (first.announcement_id, later.announcement_id) == ("N000001", "N000002")

    def shown(station, at):
        return [a.announcement_id for a in run(engine, an.ListAnnouncements(station, at)).announcements]

    assert shown("AAA", T0) == ["N000001"]
    assert shown("BBB", T0) == []
    assert shown("BBB", T0 + HOUR) == ["N000002"]  # every station; the first has ended
    assert shown("AAA", T0 + HOUR - 1) == ["N000001"]
    withdrawn = run(engine, an.WithdrawAnnouncement("w1", "N000001", DISPATCHER), T0 + 10).announcement
    assert withdrawn.withdrawn_at_ms == T0 + 10 and withdrawn.withdrawn_by == DISPATCHER
    assert shown("AAA", T0 + 20) == []
    assert run(engine, an.WithdrawAnnouncement("w2", "N000001", DISPATCHER)).announcement.withdrawn_at_ms == T0 + 10
    assert run(engine, an.WithdrawAnnouncement("w3", "N000009", DISPATCHER)).reason is Reason.UNKNOWN_ANNOUNCEMENT
    listed = run(engine, an.ListAnnouncements("AAA"), T0 + 20).announcements
    assert [a.announcement_id for a in listed] == ["N000002"]  # withdrawn ones only with include_past
    past = run(engine, an.ListAnnouncements("AAA", include_past=True), T0 + 20).announcements
    assert [a.announcement_id for a in past] == ["N000002", "N000001"]


def test_ending_in_the_past_is_refused_and_fields_are_checked():
    engine = ac.AccountsEngine()
    refused = run(engine, publish(starts=T0 - 2 * HOUR, ends=T0 - HOUR))
    assert isinstance(refused, Rejection) and refused.reason is Reason.INVALID_FIELD
    for bad in (
        lambda: publish(text=""),
        lambda: publish(text="x" * 501),
        lambda: publish(stations=()),
        lambda: publish(stations=("AAA", "AAA")),
        lambda: publish(stations=("a b",)),
        lambda: publish(ends=T0),
        lambda: publish(ends=T0 + 91 * 24 * HOUR),
        lambda: an.WithdrawAnnouncement("w1", "X1", DISPATCHER),
    ):
        with pytest.raises(Rejected):
            bad()


def test_the_book_replays_from_its_journal_through_the_codec():
    engine, journal = ac.AccountsEngine(), []
    for item in (publish(), publish("p2", ("*",)), an.WithdrawAnnouncement("w1", "N000001", DISPATCHER)):
        replies, entries = engine.execute([item], T0)
        assert not isinstance(replies[0], Rejection), replies[0]
        journal.extend(codec.decode(codec.encode(entry), ac.AccountEntry) for entry in entries)
    again = ac.AccountsEngine()
    again.replay(T0, journal)
    assert again.state.announcements == engine.state.announcements
    assert run(again, publish("p3")).announcement.announcement_id == "N000003"
    snapshot = codec.decode(codec.encode(engine.snapshot()), ac.AccountsSnapshot)
    assert snapshot.state.announcements == engine.state.announcements
