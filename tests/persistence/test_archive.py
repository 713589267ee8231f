"""Archived trips on disk: their last records move from the snapshot's trips to its archive in one
transaction, a crash in between loses nothing, and `keyun archive` reads them while Keyun serves."""

from __future__ import annotations

import argparse
import json

import pytest

from keyun.engine import commands as c
from keyun.engine.policy import DAY_MS, Policy
from keyun.engine.reasons import Reason, Rejection
from keyun.persistence import admin
from keyun.persistence import cli as persistence_cli
from keyun.persistence.layout import prepare

from .conftest import DEPARTS_MS, NOW, TRIP, A, D, Owner, schedule_batch

LONG_AFTER = DEPARTS_MS + 30 * DAY_MS + Policy().archive_after_ms  # every test trip is due by then


def keyun(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="keyun")
    persistence_cli.add_verbs(parser.add_subparsers(dest="verb", required=True))
    return persistence_cli.run(parser.parse_args(list(argv)))


def ordered(owner: Owner, trip_id: str, name: str, now: int = NOW + 1):
    """A cash order of one seat on the trip, made by the passenger account A000009."""
    hold = owner.ok(c.PlaceHold(f"{name}-hold", trip_id, A, D, seat_count=1, buyer="A000009"), now)
    return owner.ok(c.CreateOrder(f"{name}-order", hold.hold_id, c.PayMethod.CASH, "A000009"), now)


def read(owner: Owner, query, now: int = LONG_AFTER + 1):
    """A read answered as the owner answers it: by the engine, then from the archive."""
    from keyun.actors.trip_shard import answer_from_archive

    batch = [query]
    replies, _ = owner.engine.execute(batch, now)
    answer_from_archive(owner.engine, owner.store, batch, replies)
    return replies[0]


def test_archived_trips_survive_a_crash_before_and_after_their_snapshot(tmp_path, capsys):
    prepare(tmp_path, 1)
    owner = Owner(tmp_path / "shards" / "0000")
    try:
        trips = {command.spec.trip_id for command in schedule_batch()}
        owner.run(schedule_batch(), NOW)
        sold = owner.ok(c.Sell("arch-sell", TRIP, A, D, seat_count=2, buyer="A000009"), NOW + 1)
        owner.snapshot()
        owner.run([], LONG_AFTER)
        assert owner.engine.state.archived == trips and not owner.engine.state.trips

        owner.crash()  # before a snapshot: the snapshot still has the trips, the log archives them again
        assert owner.engine.state.archived == trips and not owner.engine.state.trips
        assert set(owner.engine.archiving) == trips  # and the next snapshot moves them
        owner.snapshot()
        assert owner.store.snapshots.archived_trip(TRIP).tickets[0].ticket_id == sold.tickets[0].ticket_id

        owner.crash()  # after it: from the snapshot alone
        assert owner.report.events_replayed == 0
        assert owner.engine.state.archived == trips and not owner.engine.state.trips
        refused = owner.engine.execute([c.GetTicket(sold.tickets[0].ticket_id)], LONG_AFTER + 1)[0][0]
        assert isinstance(refused, Rejection) and refused.reason is Reason.TRIP_ARCHIVED
    finally:
        owner.close()

    # Read back from disk, as an operator would.
    assert keyun("archive", "list", "--data-dir", str(tmp_path), "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {row["trip_id"] for row in rows} == trips
    (row,) = [row for row in rows if row["trip_id"] == TRIP]
    assert (row["shard"], row["tickets_issued"], row["tickets_kept"], row["fares_fen"]) == (
        "0000",
        2,
        2,
        sold.total_fen,
    )
    assert keyun("archive", "show", "--data-dir", str(tmp_path), "--trip", TRIP) == 0
    shown = capsys.readouterr().out
    assert TRIP in shown and all(t.ticket_id in shown for t in sold.tickets) and "AA→DD" in shown
    assert keyun("archive", "show", "--data-dir", str(tmp_path), "--trip", "NOPE-20300101") == 1
    assert "no shard" in capsys.readouterr().err


def test_an_old_snapshot_without_an_archive_reads_as_having_archived_nothing(tmp_path):
    prepare(tmp_path, 1)
    owner = Owner(tmp_path / "shards" / "0000")
    try:
        owner.run(schedule_batch(), NOW)
        owner.snapshot()
        with owner.store.snapshots.env.begin(write=True) as txn:  # as written before archives existed
            txn.drop(owner.store.snapshots.archive, delete=True)
    finally:
        owner.close()
    assert list(admin.archived_trips(tmp_path)) == []
    with pytest.raises(admin.AdminError):
        admin.archived_trip(tmp_path, TRIP)
    again = Owner(tmp_path / "shards" / "0000")  # and the owner opens it, making the archive
    try:
        assert again.engine.state.trips and not again.engine.state.archived
    finally:
        again.close()


def test_an_archive_written_before_the_buyer_index_is_indexed_when_opened(tmp_path, caplog):
    from keyun.persistence.snapshot import BUYERS_INDEXED

    prepare(tmp_path, 1)
    owner = Owner(tmp_path / "shards" / "0000")
    try:
        owner.run(schedule_batch(), NOW)
        order = ordered(owner, TRIP, "idx")
        owner.run([], LONG_AFTER)
        owner.snapshot()
        snapshots = owner.store.snapshots
        with snapshots.env.begin(write=True) as txn:  # as written before the index existed
            txn.drop(snapshots.buyers, delete=True)
            txn.delete(BUYERS_INDEXED, db=snapshots.meta)
    finally:
        owner.close()
    again = Owner(tmp_path / "shards" / "0000")
    try:
        assert [view.order_id for view in read(again, c.ListOrders("A000009")).orders] == [order.order_id]
        assert "indexed 4 archived trips" in caplog.text  # the four of schedule_batch
    finally:
        again.close()


def test_an_accounts_history_reaches_its_latest_archived_trips_first_and_no_further_than_the_limit(
    tmp_path, monkeypatch
):
    from keyun.actors import trip_shard
    from keyun.engine.state import timetable_end_ms

    prepare(tmp_path, 1)
    owner = Owner(tmp_path / "shards" / "0000")
    try:
        owner.run(schedule_batch(), NOW)
        specs = {spec.trip_id: spec for spec in (command.spec for command in schedule_batch())}
        orders = {}
        for n, trip_id in enumerate(specs):
            orders[trip_id] = ordered(owner, trip_id, f"lim-{n}").order_id
        owner.run([], LONG_AFTER)
        owner.snapshot()
        latest = sorted(specs, key=lambda trip_id: timetable_end_ms(specs[trip_id]), reverse=True)
        assert [r.spec.trip_id for r in owner.store.snapshots.archived_trips_of("A000009", 2)] == latest[:2]
        assert [r.spec.trip_id for r in owner.store.snapshots.archived_trips_of("A000009", 10)] == latest
        assert owner.store.snapshots.archived_trips_of("A00000", 10) == []  # a prefix of the id is another account
        monkeypatch.setattr(trip_shard, "MAX_ARCHIVED_TRIPS_LISTED", 2)
        assert {view.order_id for view in read(owner, c.ListOrders("A000009")).orders} == {
            orders[trip_id] for trip_id in latest[:2]
        }
    finally:
        owner.close()


def test_a_ticket_of_an_archived_trip_is_still_read_at_every_stage_of_its_archiving(tmp_path):
    prepare(tmp_path, 1)
    owner = Owner(tmp_path / "shards" / "0000")
    try:
        owner.run(schedule_batch(), NOW)
        ticket = owner.ok(c.Sell("arch-read", TRIP, A, D, seat_count=1, buyer="A000009"), NOW + 1).tickets[0]
        order = ordered(owner, TRIP, "arch", NOW + 2)
        owner.ok(
            c.RecordPayment("arch-pay", order.order_id, c.PayMethod.CASH, "cash-1", order.amount_fen, NOW + 3), NOW + 3
        )

        def history(buyer="A000009"):
            return [view.order_id for view in read(owner, c.ListOrders(buyer)).orders]

        owner.run([], LONG_AFTER)
        assert TRIP not in owner.engine.state.trips
        assert read(owner, c.GetTicket(ticket.ticket_id)).ticket_id == ticket.ticket_id  # still in the engine's hands
        assert history() == [order.order_id]
        owner.store.start_snapshot(owner.engine)
        assert (
            not owner.engine.archiving
            and read(owner, c.GetTicket(ticket.ticket_id, "A000009")).seat_label == ticket.seat_label
        )  # being written
        assert history() == [order.order_id]
        owner.store.finish_snapshot(wait=True)
        assert read(owner, c.GetTicket(ticket.ticket_id)).price_fen == ticket.price_fen  # from the archive
        assert history() == [order.order_id]
        owner.crash()
        assert read(owner, c.GetTicket(ticket.ticket_id)).ticket_id == ticket.ticket_id  # and after a restart
        assert history() == [order.order_id] and history("A000010") == []
        assert read(owner, c.GetOrder(order.order_id, "A000009")).status.value == "ticketed"
        assert read(owner, c.GetTrip(TRIP)).trip_id == TRIP
        order_tickets = read(owner, c.GetOrder(order.order_id)).tickets
        assert {t.ticket_id for t in read(owner, c.GetManifest(TRIP)).tickets} == {
            ticket.ticket_id,
            *(t.ticket_id for t in order_tickets),
        }
        # A passenger still sees only their own, and anything but a read is refused.
        assert read(owner, c.GetTicket(ticket.ticket_id, "A000010")).reason is Reason.UNKNOWN_TICKET
        assert read(owner, c.Refund("arch-refund", ticket.ticket_id)).reason is Reason.TRIP_ARCHIVED
    finally:
        owner.close()
