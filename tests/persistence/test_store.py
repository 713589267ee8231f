"""An owner's store: commit batches, take snapshots, close, and recover the very same engine."""

from __future__ import annotations

import threading
from collections import OrderedDict

import pytest

from keyun.engine import commands as c
from keyun.engine import shard as shard_module
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.shard import ShardEngine
from keyun.engine.state import TicketStatus
from keyun.engine.views import TicketsView
from keyun.persistence import wal
from keyun.persistence.lock import DirectoryLocked
from keyun.persistence.snapshot import SnapshotStore
from keyun.persistence.store import OwnerStore, RecoveryReport

from .conftest import (
    DEPARTS_MS,
    MINUTE_MS,
    NEXT_DAY_TRIP,
    NOW,
    PM_TRIP,
    TRIP,
    A,
    B,
    C,
    D,
    Owner,
    assert_identical,
    assert_same_trips,
    schedule_batch,
    window,
)

SNAPSHOT = "snapshot"


def script() -> list:
    """A day at a station: batches of (now, commands), with the points where a snapshot may be taken."""
    return [
        (NOW, schedule_batch()),
        (
            NOW + 1000,
            [
                c.PlaceHold("h1", TRIP, A, D, seat_count=2),  # TRIP-H1, ten minutes
                c.PlaceHold("h2", TRIP, B, C, seat_numbers=("2A",), ttl_ms=60_000),  # TRIP-H2
                c.Sell("s1", TRIP, A, B, seat_count=3),  # TRIP-0001..0003
                c.Sell("s2", PM_TRIP, C, D, seat_numbers=("1A", "1B")),  # PM-0001..0002
            ],
        ),
        (
            NOW + 2000,
            [
                c.ConfirmHold("c1", f"{TRIP}-H1"),  # TRIP-0004..0005
                c.Sell("bad1", "S9-20300601", A, B, seat_count=1),  # UNKNOWN_TRIP
                c.Sell("s3", TRIP, B, D, seat_numbers=("2A",)),  # SEAT_TAKEN on B→C by h2
            ],
        ),
        SNAPSHOT,
        (
            NOW + 3000,
            [
                c.Refund("rf1", f"{TRIP}-0001"),
                c.PlaceHold("h3", NEXT_DAY_TRIP, A, C, seat_count=4, ttl_ms=5000),  # NEXT-H1
                c.ScheduleTrip("again", schedule_batch()[0].spec),  # already there: replied, not journaled
            ],
        ),
        # The sweep at the start of this batch expires TRIP-H2 and NEXT-H1.
        (NOW + 70_000, [c.ConfirmHold("c2", f"{TRIP}-H2"), c.Sell("s4", NEXT_DAY_TRIP, A, D, seat_count=2)]),
        (NOW + 80_000, [c.PlaceHold("h4", TRIP, C, D, seat_count=1)]),  # TRIP-H3
        (NOW + 81_000, [c.ReleaseHold("rl1", f"{TRIP}-H3"), c.GetTrip(TRIP)]),
        # Rebooking: 0003 moves to a new ticket; 0005's move is taken back.  And an order, paid.
        (
            NOW + 82_000,
            [
                c.PlaceHold("h5", TRIP, C, D, seat_count=1),
                c.PlaceHold("h6", TRIP, C, D, seat_count=1),  # TRIP-H4, H5
                c.PlaceHold("h7", TRIP, C, D, seat_count=1, buyer="A000001"),  # TRIP-H6
            ],
        ),
        (
            NOW + 83_000,
            [
                c.ConfirmHold("c5", f"{TRIP}-H4", changed_from=f"{TRIP}-0003"),  # TRIP-0006
                c.ConfirmHold("c6", f"{TRIP}-H5", changed_from=f"{TRIP}-0005"),  # TRIP-0007
                c.CreateOrder("o1", f"{TRIP}-H6", c.PayMethod.ALIPAY, "A000001"),  # TRIP-O1
            ],
        ),
        (
            NOW + 84_000,
            [
                c.ChangeTicket("ch1", f"{TRIP}-0003", f"{TRIP}-0006"),
                c.VoidTicket("v1", f"{TRIP}-0007"),
                c.RecordPayment("p1", f"{TRIP}-O1", c.PayMethod.ALIPAY, "ali-1", 1500, NOW + 83_500),  # TRIP-0008
            ],
        ),
        SNAPSHOT,
        (NOW + 90_000, [c.CancelTrip("x1", PM_TRIP), c.Refund("rf2", f"{PM_TRIP}-0001")]),
        (
            DEPARTS_MS - 30 * MINUTE_MS,
            [
                c.CheckIn("k1", f"{TRIP}-0002", "gate-1"),
                c.CheckIn("k2", f"{TRIP}-0004", "gate-2"),
                c.CheckIn("k3", f"{TRIP}-0001", "gate-1"),  # ALREADY_REFUNDED
            ],
        ),
        (DEPARTS_MS + MINUTE_MS, [c.DepartTrip("d1", TRIP), c.DepartTrip("d2", TRIP)]),  # d2: a no-op
        (
            DEPARTS_MS + 2 * MINUTE_MS,
            [c.Sell("s5", NEXT_DAY_TRIP, B, C, seat_count=1), c.Refund("rf3", f"{NEXT_DAY_TRIP}-0001")],
        ),
    ]


def play(owner: Owner, steps: list, snapshots: bool) -> dict:
    """Run the steps; return what recovery must reproduce: replies by request id, snapshot window."""
    replies: dict[str, object] = {}
    at_last_snapshot: set[str] = set()
    for step in steps:
        if step == SNAPSHOT:
            if snapshots:
                owner.snapshot()
                at_last_snapshot = set(owner.engine.recent)
            continue
        now, batch = step
        for command, reply in zip(batch, owner.run(batch, now)[0]):
            if getattr(command, "request_id", ""):
                replies[command.request_id] = reply
    return {"replies": replies, "at_last_snapshot": at_last_snapshot}


def journaled(owner: Owner) -> set[str]:
    return {entry.command.request_id for _, entries in owner.committed for entry in entries if entry.command.request_id}


def expected_window(owner: Owner, engine: ShardEngine, at_snapshot: set[str]) -> OrderedDict:
    """Replay rebuilds the replies of journaled commands, refusals included; a snapshot also keeps the no-op ones."""
    keep = journaled(owner) | at_snapshot
    return OrderedDict((rid, remembered) for rid, remembered in engine.recent.items() if rid in keep)


def expected_report(owner: Owner, snapshot_lsn: int, trips: int) -> tuple:
    tail = [entries for lsn, entries in owner.committed if lsn > snapshot_lsn]
    return (snapshot_lsn, trips, len(tail), sum(len(entry.events) for entries in tail for entry in entries))


def report_tuple(report: RecoveryReport) -> tuple:
    return (report.snapshot_lsn, report.trips, report.records_replayed, report.events_replayed)


def test_the_script_exercises_what_it_claims(owner):
    played = play(owner, script(), snapshots=False)
    replies = played["replies"]
    rejected = {rid: reply.reason for rid, reply in replies.items() if isinstance(reply, Rejection)}
    assert rejected == {
        "bad1": Reason.UNKNOWN_TRIP,
        "s3": Reason.SEAT_TAKEN,
        "c2": Reason.HOLD_EXPIRED,
        "k3": Reason.ALREADY_REFUNDED,
    }
    trip = owner.engine.state.trips[TRIP]
    assert {t.status for t in trip.tickets.values()} == set(TicketStatus)
    assert trip.departed_at_ms and set(trip.expired_holds) == {f"{TRIP}-H2"}
    assert owner.engine.state.trips[PM_TRIP].cancelled_at_ms
    assert set(owner.engine.state.trips[NEXT_DAY_TRIP].expired_holds) == {f"{NEXT_DAY_TRIP}-H1"}
    assert {"again", "d2"}.isdisjoint(journaled(owner))  # no-ops: replied, not journaled
    assert {"bad1", "s3", "c2", "k3"} <= journaled(owner)  # refusals are journaled
    sweeps = [e for _, entries in owner.committed for e in entries if isinstance(e.command, c.SweepHolds)]
    assert len(sweeps) == 1 and len(sweeps[0].events) == 2


@pytest.mark.parametrize("mode", ["log-only", "snapshots-then-log", "snapshot-before-close"])
def test_recovery_rebuilds_trips_and_window(owner, mode):
    played = play(owner, script(), snapshots=mode != "log-only")
    at_snapshot = played["at_last_snapshot"]
    if mode == "snapshot-before-close":
        owner.snapshot()
        at_snapshot = set(owner.engine.recent)
    before, snapshot_lsn = owner.engine, owner.store.snapshot_lsn
    assert (snapshot_lsn == 0) == (mode == "log-only")
    last_lsn = owner.store.last_lsn
    assert last_lsn == owner.committed[-1][0] == len(owner.committed)

    report = owner.crash()
    after = owner.engine
    assert after is not before
    assert_same_trips(after, before)
    assert window(after) == expected_window(owner, before, at_snapshot)
    if mode == "snapshot-before-close":
        assert window(after) == window(before)  # everything, rejections and no-ops included
        assert report.records_replayed == 0
    assert report_tuple(report) == expected_report(owner, snapshot_lsn, 4)
    assert owner.store.last_lsn == last_lsn and owner.store.snapshot_lsn == snapshot_lsn
    for rid, receipt in after.recent.items():
        assert_identical(receipt, before.recent[rid])  # enums come back as enums, tuples as tuples
        assert_identical(after.answer_retry(rid), before.answer_retry(rid))

    # Retries answer the original reply and change nothing; a reused id with another command is refused.
    replies = played["replies"]
    retried, entries = owner.run(
        [c.Sell("s1", TRIP, A, B, seat_count=3), c.ConfirmHold("c1", f"{TRIP}-H1")], DEPARTS_MS + 3 * MINUTE_MS
    )
    assert entries == [] and retried == [replies["s1"], replies["c1"]]
    assert isinstance(retried[0], TicketsView) and [t.ticket_id for t in retried[0].tickets] == [
        f"{TRIP}-000{n}" for n in (1, 2, 3)
    ]
    (reused,), entries = owner.run([c.Sell("s1", NEXT_DAY_TRIP, A, B, seat_count=1)], DEPARTS_MS + 3 * MINUTE_MS)
    assert entries == [] and isinstance(reused, Rejection) and reused.reason is Reason.REQUEST_ID_REUSED
    assert_same_trips(after, before)


def test_a_remembered_rejection_is_answered_again_after_recovery(owner):
    played = play(owner, script(), snapshots=True)
    owner.snapshot()
    owner.crash()
    (again,), _ = owner.run([c.Sell("s3", TRIP, B, D, seat_numbers=("2A",))], DEPARTS_MS + 3 * MINUTE_MS)
    assert again == played["replies"]["s3"]
    assert again.reason is Reason.SEAT_TAKEN and again.reason.name == "SEAT_TAKEN"
    assert again.fact("seat") == "2A"


def test_changes_replayed_at_recovery_reach_the_next_snapshot(owner):
    """Recovery replays the log after the snapshot; the next snapshot must include those changes."""
    owner.run(schedule_batch(), NOW)
    owner.snapshot()
    owner.run([c.Sell("s1", TRIP, A, D, seat_count=2), c.PlaceHold("h1", TRIP, A, B, seat_count=1)], NOW + 1000)
    reference = ShardEngine(check=True)
    reference.execute(schedule_batch(), NOW)
    reference.execute([c.Sell("s1", TRIP, A, D, seat_count=2), c.PlaceHold("h1", TRIP, A, B, seat_count=1)], NOW + 1000)

    assert owner.crash().records_replayed == 1  # TRIP's sale and hold come back from the log
    batch = [c.Sell("s2", PM_TRIP, A, B, seat_count=1)]  # touches another trip only
    owner.run(batch, NOW + 2000)
    reference.execute(batch, NOW + 2000)
    owner.snapshot()  # covers the replayed record too: its segment may now be retired
    report = owner.crash()
    assert report.records_replayed == 0
    assert_same_trips(owner.engine, reference)
    assert window(owner.engine) == window(reference)


def test_window_eviction_is_persisted(tmp_path, monkeypatch):
    """With a tiny window, evictions before and during recovery reach the snapshot, and nothing else."""
    monkeypatch.setattr(shard_module, "IDEMPOTENCY_WINDOW", 5)
    owner = Owner(tmp_path / "owner")
    reference = ShardEngine(check=True)
    try:
        now = NOW
        for n in range(1, 25):
            batch = (
                [c.Sell(f"s{n}", (TRIP, PM_TRIP, NEXT_DAY_TRIP)[n % 3], A, B, seat_count=1)]
                if n > 1
                else schedule_batch()
            )
            now += 1000
            assert owner.run(batch, now)[0] == reference.execute(batch, now)[0]
            if n % 7 == 0:
                owner.snapshot()
            if n % 5 == 0:
                owner.crash()
            assert_same_trips(owner.engine, reference)
            assert window(owner.engine) == window(reference), n
            assert len(owner.engine.recent) <= 5
        owner.snapshot()
        owner.close()
        snapshots = SnapshotStore(tmp_path / "owner" / "snapshot")
        try:
            stored = snapshots.load()
        finally:
            snapshots.close()
        assert [(rid, receipt) for _, rid, receipt in stored.requests] == list(reference.recent.items())
        sequences = [sequence for sequence, _, _ in stored.requests]
        assert sequences == sorted(set(sequences))
    finally:
        owner.close()


def test_recovery_of_an_empty_directory(tmp_path):
    owner = Owner(tmp_path / "fresh")
    try:
        assert report_tuple(owner.report) == (0, 0, 0, 0)
        assert owner.engine.state.trips == {} and not owner.engine.recent
        assert (tmp_path / "fresh" / "wal").is_dir() and (tmp_path / "fresh" / "snapshot").is_dir()
        owner.run(schedule_batch(), NOW)
        assert owner.store.last_lsn == 1
        assert report_tuple(owner.crash()) == (0, 4, 1, 4)
    finally:
        owner.close()


def test_an_empty_batch_writes_nothing_and_a_refusal_is_journaled(owner):
    owner.run(schedule_batch(), NOW)
    size = sum(p.stat().st_size for p in wal.segments(owner.directory / "wal"))
    replies, entries = owner.run(
        [c.GetTrip(TRIP), c.ScheduleTrip(f"sched-{TRIP}", schedule_batch()[0].spec)], NOW
    )  # a query and a retry
    assert entries == [] and owner.store.last_lsn == 1
    assert sum(p.stat().st_size for p in wal.segments(owner.directory / "wal")) == size
    (refused,), entries = owner.run([c.Sell("bad", TRIP, A, A.replace("A", "Z"), seat_count=1)], NOW)
    assert [type(entry) for entry in entries] == [shard_module.Refusal] and owner.store.last_lsn == 2
    owner.crash()  # the retry after a restart gets the same refusal, from the log
    assert owner.run([c.Sell("bad", TRIP, A, A.replace("A", "Z"), seat_count=1)], NOW + 1000) == ([refused], [])


def test_snapshots_retire_covered_segments(tmp_path):
    owner = Owner(tmp_path / "owner", segment_bytes=2000)
    try:
        play(owner, script(), snapshots=False)
        for n in range(12):
            owner.run(
                [c.PlaceHold(f"more{n}", NEXT_DAY_TRIP, B, D, seat_count=1, ttl_ms=60_000)],
                DEPARTS_MS + (3 + n) * MINUTE_MS,
            )
        wal_dir = owner.directory / "wal"
        before = [int(p.stem) for p in wal.segments(wal_dir)]
        assert len(before) >= 4
        owner.snapshot()
        snapshot_lsn = owner.store.snapshot_lsn
        assert snapshot_lsn == owner.store.last_lsn == len(owner.committed)
        after = [int(p.stem) for p in wal.segments(wal_dir)]
        assert after == before[-1:]  # everything but the segment being written is covered
        for n in range(12, 30):
            owner.run(
                [c.PlaceHold(f"more{n}", NEXT_DAY_TRIP, B, D, seat_count=1, ttl_ms=60_000)],
                DEPARTS_MS + (3 + n) * MINUTE_MS,
            )
        middle = owner.store.last_lsn
        before = [int(p.stem) for p in wal.segments(wal_dir)]
        assert len(before) >= 3
        owner.snapshot()
        after = [int(p.stem) for p in wal.segments(wal_dir)]
        assert after == before[-1:]
        assert len(wal.segments(wal_dir)) == 1
        owner.run([c.Sell("late", NEXT_DAY_TRIP, A, B, seat_count=1)], DEPARTS_MS + 40 * MINUTE_MS)
        reference = owner.engine
        report = owner.crash()
        assert report_tuple(report) == expected_report(owner, middle, 4)
        assert (
            report.records_replayed == 1 and report.events_replayed >= 2
        )  # the sale, and a sweep of the expired holds
        assert_same_trips(owner.engine, reference)
    finally:
        owner.close()


def test_recovery_reads_the_log_across_segments_without_a_snapshot(tmp_path):
    owner = Owner(tmp_path / "owner", segment_bytes=1500)
    try:
        play(owner, script(), snapshots=False)
        assert len(wal.segments(owner.directory / "wal")) >= 3
        before = owner.engine
        report = owner.crash()
        assert report_tuple(report) == expected_report(owner, 0, 4)
        assert_same_trips(owner.engine, before)
        assert window(owner.engine) == expected_window(owner, before, set())
    finally:
        owner.close()


def test_a_torn_tail_after_a_crash_loses_only_the_unacknowledged_batch(owner):
    play(owner, script(), snapshots=True)
    before = owner.engine
    owner.close()
    last = wal.segments(owner.directory / "wal")[-1]
    frame = wal.encode_record(owner.committed[-1][0] + 1, DEPARTS_MS + 5 * MINUTE_MS, owner.committed[-1][1])
    with open(last, "ab") as file:
        file.write(frame[: len(frame) // 2])
    report = owner.open()
    assert report_tuple(report) == expected_report(owner, report.snapshot_lsn, 4)
    assert_same_trips(owner.engine, before)
    (reply,), entries = owner.run([c.Sell("after", NEXT_DAY_TRIP, C, D, seat_count=1)], DEPARTS_MS + 6 * MINUTE_MS)
    assert not isinstance(reply, Rejection) and owner.store.last_lsn == owner.committed[-2][0] + 1


def test_a_corrupt_log_stops_recovery(owner):
    play(owner, script(), snapshots=False)
    owner.close()
    path, offset, _ = list(wal.scan(owner.directory / "wal"))[2]
    with open(path, "r+b") as file:
        file.seek(offset + 20)
        byte = file.read(1)
        file.seek(offset + 20)
        file.write(bytes([byte[0] ^ 1]))
    with pytest.raises(wal.WalCorruption) as caught:
        owner.open()
    assert caught.value.path == path and caught.value.offset == offset
    owner.store.close()  # the failed recovery left its store open; a real owner process would exit
    owner.store = None


def test_a_second_store_on_the_same_directory_is_refused(owner):
    owner.run(schedule_batch(), NOW)
    with pytest.raises(DirectoryLocked):
        OwnerStore(owner.directory, wait_for_lock_s=0)
    owner.run([c.Sell("s1", TRIP, A, B, seat_count=1)], NOW)  # the first store is unaffected
    before = owner.engine
    owner.crash()
    assert_same_trips(owner.engine, before)


def test_snapshot_due(owner, monkeypatch):
    assert not owner.store.snapshot_due()  # nothing written yet
    owner.run(schedule_batch(), NOW)
    monkeypatch.setattr("keyun.persistence.store.SNAPSHOT_EVERY_S", 3600.0)
    monkeypatch.setattr("keyun.persistence.store.SNAPSHOT_EVERY_EVENTS", 5)
    assert not owner.store.snapshot_due()  # 4 events
    owner.run([c.Sell("s1", TRIP, A, B, seat_count=1)], NOW)
    assert owner.store.snapshot_due()
    owner.snapshot()
    assert not owner.store.snapshot_due()
    monkeypatch.setattr("keyun.persistence.store.SNAPSHOT_EVERY_S", 0.0)
    assert not owner.store.snapshot_due()  # nothing new since the snapshot
    owner.run([c.Sell("s2", TRIP, A, B, seat_count=1)], NOW)
    assert owner.store.snapshot_due()


def test_the_owner_goes_on_while_a_snapshot_is_written(owner):
    """A snapshot's changes are taken between batches; its write runs beside the owner.  Tickets
    that change meanwhile reach disk through the log only, never half-way through the snapshot."""
    owner.run(schedule_batch(), NOW)
    sold = owner.ok(c.Sell("s1", TRIP, A, D, seat_count=2), NOW + 1000).tickets
    writing, release = threading.Event(), threading.Event()
    save = owner.store.snapshots.save

    def slow_save(*args):
        writing.set()
        assert release.wait(10)
        save(*args)

    owner.store.snapshots.save = slow_save
    owner.store.start_snapshot(owner.engine)
    assert writing.wait(10)
    covered = owner.store.last_lsn
    # Meanwhile: one of the snapshot's tickets is refunded, another sale is made, nothing waits.
    owner.ok(c.Refund("rf1", sold[0].ticket_id), NOW + 2000)
    owner.ok(c.Sell("s2", TRIP, B, C, seat_count=1), NOW + 3000)
    owner.store.finish_snapshot()
    assert owner.store.snapshot_lsn == 0 and not owner.store.snapshot_due()  # not durable yet
    release.set()
    owner.store.finish_snapshot(wait=True)
    assert owner.store.snapshot_lsn == covered < owner.store.last_lsn
    (record,) = [r for r in owner.store.snapshots.load().trips if r.spec.trip_id == TRIP]
    on_disk = {ticket.ticket_id: ticket for ticket in record.tickets}
    assert on_disk[sold[0].ticket_id].status is TicketStatus.ISSUED  # as of the snapshot's LSN, not as of its write
    assert len(on_disk) == 2  # s2's ticket came later

    before = owner.engine
    report = owner.crash()  # recovery checks the invariants: a refund replayed twice would fail them
    assert report.snapshot_lsn == covered and report.records_replayed == 2
    assert_same_trips(owner.engine, before)
    assert owner.engine.state.trips[TRIP].tickets[sold[0].ticket_id].status is TicketStatus.REFUNDED


def test_a_failed_snapshot_write_is_raised_to_the_owner(owner):
    owner.run(schedule_batch(), NOW)

    def failing_save(*args):
        raise OSError("disk full")

    owner.store.snapshots.save = failing_save
    owner.store.start_snapshot(owner.engine)
    with pytest.raises(OSError, match="disk full"):
        owner.store.finish_snapshot(wait=True)
    assert owner.store.snapshot_lsn == 0


def test_a_snapshot_larger_than_its_map_grows_the_map_and_is_written(owner, tmp_path):
    owner.run(schedule_batch(), NOW)
    for n in range(12):
        owner.ok(c.Sell(f"grow-{n}", TRIP, A, D, seat_count=1), NOW + 1 + n)
    changes = owner.engine.take_changes()
    small = SnapshotStore(tmp_path / "small", map_size=11 * 4096)  # less than these records take
    try:
        small.save(owner.store.last_lsn, NOW + 100, changes)
        assert small.env.info()["map_size"] > 11 * 4096
    finally:
        small.close()
    reopened = SnapshotStore(tmp_path / "small")
    try:
        loaded = reopened.load()
    finally:
        reopened.close()
    assert loaded.lsn == owner.store.last_lsn and len(loaded.requests) == 12 + len(schedule_batch())
    assert {record.spec.trip_id: len(record.tickets) for record in loaded.trips}[TRIP] == 12  # every ticket
