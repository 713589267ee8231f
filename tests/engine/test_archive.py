"""Trips that ran long ago leave the owner's memory for its archive (Policy.archive_after_ms):
an owner otherwise keeps every trip it was ever given, and a station runs for years."""

from __future__ import annotations

from keyun.engine import commands as c
from keyun.engine import shard as shard_module
from keyun.engine.policy import DAY_MS, HOUR_MS, Policy
from keyun.engine.reasons import Reason
from keyun.engine.state import check_invariants

from .conftest import DEPARTS_MS, NEXT_DAY_TRIP, NOW, PM_TRIP, TRIP, A, C, D, Desk, make_engine, trip_specs

BUYER = "A000009"
ARCHIVE_MS = 40 * DAY_MS
TRIP_ENDS_MS = DEPARTS_MS + 3 * HOUR_MS  # AA 08:00 ... DD 11:00


def desk_with(policy: Policy | None = None) -> Desk:
    return Desk(make_engine(policy=policy or Policy(archive_after_ms=ARCHIVE_MS)))


def test_a_trip_is_archived_once_it_ended_long_enough_ago_and_then_refused_by_name():
    desk = desk_with()
    sold = desk.ok(c.Sell("sell-1", TRIP, A, D, seat_count=1, buyer=BUYER))
    ticket_id = sold.tickets[0].ticket_id
    just_before = TRIP_ENDS_MS + ARCHIVE_MS - 1
    assert desk.ok(c.GetTicket(ticket_id), just_before).ticket_id == ticket_id  # not yet

    archived = desk.engine.execute([], TRIP_ENDS_MS + ARCHIVE_MS)[1]  # any batch archives what is due
    assert [(type(entry.command).__name__, [e.trip_id for e in entry.events]) for entry in archived] == [
        ("ArchiveTrips", [TRIP])
    ]
    state = desk.engine.state
    assert TRIP not in state.trips and TRIP in state.archived and {PM_TRIP, NEXT_DAY_TRIP} <= set(state.trips)
    check_invariants(state)

    later = TRIP_ENDS_MS + ARCHIVE_MS + 1
    for item in (
        c.GetTicket(ticket_id),
        c.GetTrip(TRIP),
        c.Refund("refund-1", ticket_id),
        c.Sell("sell-2", TRIP, A, D, seat_count=1),
    ):
        assert desk.refused(item, Reason.TRIP_ARCHIVED, later).facts == (("trip_id", TRIP),)
    # A retry of a sale made on it cannot be answered with a trip no longer here.
    desk.refused(c.Sell("sell-1", TRIP, A, D, seat_count=1, buyer=BUYER), Reason.TRIP_ARCHIVED, later)
    # Scheduling it again would number its tickets from 1 again.
    spec = next(s for s in trip_specs() if s.trip_id == TRIP)
    desk.refused(c.ScheduleTrip("again", spec), Reason.TRIP_ARCHIVED, later)


def test_a_delay_and_a_refund_still_owed_keep_a_trip_until_they_are_past():
    desk = desk_with()
    desk.ok(c.DelayTrip("delay", PM_TRIP, 120))
    hold = desk.ok(c.PlaceHold(desk.rid(), TRIP, A, C, seat_count=1, buyer=BUYER))
    order = desk.ok(c.CreateOrder(desk.rid(), hold.hold_id, c.PayMethod.WEPAY, BUYER))
    desk.ok(c.RecordPayment(desk.rid(), order.order_id, c.PayMethod.WEPAY, "wx-1", order.amount_fen, NOW))
    refunded = desk.ok(c.RefundOrder(desk.rid(), order.order_id, (), BUYER))  # owed, not yet paid out
    assert len(refunded.refunds) == 1 and not refunded.settled

    pm_ends = DEPARTS_MS + 6 * HOUR_MS + 3 * HOUR_MS
    desk.engine.execute([], pm_ends + ARCHIVE_MS + 1)  # past both timetables
    state = desk.engine.state
    assert TRIP in state.trips  # a refund is owed
    assert PM_TRIP in state.trips  # two hours late: not yet
    assert desk.ok(c.ListOrders(BUYER), pm_ends + ARCHIVE_MS + 1).orders  # its order is still listed

    settled = desk.ok(
        c.SettleRefund(desk.rid(), order.order_id, refunded.refunds[0].refund_no, "wx-refund-1"),
        pm_ends + ARCHIVE_MS + 2,
    )
    assert settled.settled
    desk.engine.execute([], pm_ends + ARCHIVE_MS + 2 * HOUR_MS)
    assert TRIP not in state.trips and PM_TRIP not in state.trips and {TRIP, PM_TRIP} <= state.archived
    assert desk.ok(c.ListOrders(BUYER), pm_ends + ARCHIVE_MS + 2 * HOUR_MS).orders == ()  # archived with its trip
    assert BUYER not in state.orders_by_buyer
    check_invariants(state)


def test_archiving_is_journaled_and_replays_to_the_same_state():
    desk = desk_with()
    desk.ok(c.Sell("sell-1", TRIP, A, D, seat_count=2))
    entries = []
    for now, batch in ((NOW, []), (TRIP_ENDS_MS + ARCHIVE_MS, [])):
        entries.append((now, desk.engine.execute(batch, now)[1]))
    again = make_engine(policy=Policy(archive_after_ms=ARCHIVE_MS))
    again.execute([c.Sell("sell-1", TRIP, A, D, seat_count=2)], NOW)
    for now, batch_entries in entries:
        again.replay(now, batch_entries)
    assert again.state.archived == desk.engine.state.archived == {TRIP}
    assert set(again.state.trips) == set(desk.engine.state.trips)
    assert list(desk.engine.archiving) == [TRIP] and desk.engine.archiving[TRIP].spec.trip_id == TRIP
    changes = desk.engine.take_changes()
    assert [record.spec.trip_id for record in changes.archived] == [TRIP] and TRIP not in {
        record.spec.trip_id for record in changes.trips
    }
    assert len(changes.archived[0].tickets) == 2  # with its tickets


def test_a_backlog_is_archived_a_few_trips_a_batch(monkeypatch):
    monkeypatch.setattr(shard_module, "MAX_ARCHIVE", 3)
    desk = desk_with()
    far = DEPARTS_MS + 10 * DAY_MS + ARCHIVE_MS  # all four test trips (two a day for two days) are due
    _, first = desk.engine.execute([], far)
    _, second = desk.engine.execute([], far)
    assert [len(entries[0].events) for entries in (first, second)] == [3, 1]  # earliest first
    assert [e.trip_id for e in first[0].events][:2] == [TRIP, PM_TRIP] and not desk.engine.state.trips
