"""SnapshotStore: incremental saves of an engine's changes load back into an equal engine."""

from __future__ import annotations

from keyun.engine import commands as c
from keyun.engine import shard as shard_module
from keyun.engine.shard import ShardEngine
from keyun.engine.state import check_invariants
from keyun.persistence.snapshot import SnapshotStore

from .conftest import NEXT_DAY_TRIP, NOW, PM_TRIP, TRIP, A, B, C, D, assert_same_trips, schedule_batch, window


def loaded(directory, now_check: int | None = None) -> ShardEngine:
    store = SnapshotStore(directory)
    try:
        snapshot = store.load()
        assert store.position() == snapshot.lsn
    finally:
        store.close()
    if now_check is not None:
        assert snapshot.now_ms == now_check
    engine = ShardEngine(check=True)
    engine.restore(snapshot.now_ms, snapshot.trips, snapshot.requests)
    check_invariants(engine.state)
    return engine


def test_an_empty_store_loads_nothing(tmp_path):
    store = SnapshotStore(tmp_path / "snap")
    try:
        snapshot = store.load()
        assert (snapshot.lsn, snapshot.now_ms, snapshot.trips, snapshot.requests) == (0, 0, [], [])
        assert store.position() == 0
    finally:
        store.close()


def test_incremental_saves_load_into_an_equal_engine(tmp_path):
    engine = ShardEngine(check=True)
    store = SnapshotStore(tmp_path / "snap")
    try:
        engine.execute(schedule_batch(), NOW)
        engine.execute(
            [c.Sell("s1", TRIP, A, D, seat_count=2), c.Sell("bad", TRIP, A, B, seat_numbers=("9Z",))], NOW + 1000
        )
        store.save(2, engine.last_now, engine.take_changes())
        assert store.position() == 2

        engine.execute([c.PlaceHold("h1", PM_TRIP, B, C, seat_count=1)], NOW + 2000)
        changes = engine.take_changes()
        assert [record.spec.trip_id for record in changes.trips] == [PM_TRIP]  # only what changed
        store.save(3, engine.last_now, changes)
        engine.execute([c.Refund("rf1", f"{TRIP}-0001")], NOW + 3000)
        store.save(4, engine.last_now, engine.take_changes())
        empty = engine.take_changes()
        assert (empty.trips, empty.requests_added, empty.requests_evicted) == ([], {}, set())
        store.save(4, engine.last_now, empty)  # nothing new: harmless
    finally:
        store.close()
    restored = loaded(tmp_path / "snap", now_check=NOW + 3000)
    assert_same_trips(restored, engine)
    assert window(restored) == window(engine)  # the rejection too, in the same order
    assert restored.remembered == engine.remembered


def test_evicted_requests_leave_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(shard_module, "IDEMPOTENCY_WINDOW", 3)
    engine = ShardEngine(check=True)
    store = SnapshotStore(tmp_path / "snap")
    try:
        engine.execute(schedule_batch(), NOW)  # four requests: the first is already evicted
        store.save(1, engine.last_now, engine.take_changes())
        for n in range(5):
            engine.execute([c.Sell(f"s{n}", NEXT_DAY_TRIP, A, B, seat_count=1)], NOW + n)
            if n % 2:
                store.save(2 + n, engine.last_now, engine.take_changes())
        store.save(10, engine.last_now, engine.take_changes())
        assert len(store.load().requests) == 3
    finally:
        store.close()
    restored = loaded(tmp_path / "snap")
    assert window(restored) == window(engine) and list(restored.recent) == ["s2", "s3", "s4"]
    assert_same_trips(restored, engine)
