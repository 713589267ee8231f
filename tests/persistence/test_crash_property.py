"""Property: however commands, snapshots and crashes interleave, recovery gives the engine that never crashed.

A "crash" closes the store and recovers a new store and engine from the directory (sometimes with a
half-written, unacknowledged record at the end of the log, as a kill during a write leaves it).
The reference engine runs the same batches in memory and never crashes.  After every step the
durable engine has the same trips; its idempotency window is the reference's, less the rejected
and no-op requests remembered since the last snapshot before a crash (those are never journaled,
by design: a retry of them is simply decided again).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyun.engine import commands as c
from keyun.engine.policy import HOUR_MS, MINUTE_MS
from keyun.engine.shard import ShardEngine
from keyun.persistence import wal

from .conftest import (
    DEPARTS_MS,
    NEXT_DAY_TRIP,
    NOW,
    PM_TRIP,
    TRIP,
    A,
    B,
    C,
    D,
    Owner,
    assert_same_trips,
    schedule_batch,
)

TRIPS = (TRIP, PM_TRIP, NEXT_DAY_TRIP)
SEGMENTS = ((A, B), (A, D), (B, C), (B, D), (C, D), (A, C))
TTLS = (1000, 60_000, 10 * MINUTE_MS)

trip = st.sampled_from(TRIPS)
number = st.integers(1, 6)
item = st.one_of(
    st.tuples(st.just("hold"), trip, st.sampled_from(SEGMENTS), st.integers(1, 4), st.sampled_from(TTLS)),
    st.tuples(st.just("sell"), trip, st.sampled_from(SEGMENTS), st.integers(1, 4)),
    st.tuples(st.just("sell_seat"), trip, st.sampled_from(SEGMENTS), st.sampled_from(("1A", "1B", "3E"))),
    st.tuples(st.just("confirm"), trip, number),
    st.tuples(st.just("release"), trip, number),
    st.tuples(st.just("refund"), trip, number),
    st.tuples(st.just("check_in"), trip, number),
    st.tuples(st.just("depart"), trip),
    st.tuples(st.just("cancel"), trip),
    st.tuples(st.just("retry"), st.integers(0, 10_000)),
    st.tuples(st.just("reuse"), st.integers(0, 10_000)),
)
clock = st.one_of(
    st.tuples(st.just("+"), st.sampled_from((0, 500, 30_000, 5 * MINUTE_MS, 2 * HOUR_MS))),
    st.tuples(
        st.just("at"),
        st.sampled_from(
            (DEPARTS_MS - 30 * MINUTE_MS, DEPARTS_MS + 2 * MINUTE_MS, DEPARTS_MS + 6 * HOUR_MS - 20 * MINUTE_MS)
        ),
    ),
)
step = st.one_of(
    st.tuples(st.just("batch"), clock, st.lists(item, min_size=1, max_size=4)),
    st.just(("snapshot",)),
    st.just(("crash",)),
    st.tuples(st.just("torn_crash"), st.integers(1, 200)),
)


class Run:
    def __init__(self, directory: Path) -> None:
        self.owner = Owner(directory, segment_bytes=1500)
        self.reference = ShardEngine(check=True)
        self.now = NOW
        self.n = 0
        self.volatile: set[str] = set()  # remembered, not journaled, not yet in a snapshot
        self.lost: set[str] = set()  # forgotten by a crash

    def command(self, spec: tuple):
        kind, *args = spec
        self.n += 1
        rid = f"q{self.n}"
        if kind in ("retry", "reuse"):
            known = list(self.owner.engine.recent)
            if not known:
                return c.GetTrip(TRIP)
            earlier = self.owner.engine.recent[known[args[0] % len(known)]].command
            if kind == "retry":
                return earlier
            return (
                c.DepartTrip(earlier.request_id, NEXT_DAY_TRIP)
                if not isinstance(earlier, c.DepartTrip)
                else c.CancelTrip(earlier.request_id, TRIP)
            )
        trip_id = args[0]
        match kind:
            case "hold":
                (frm, to), count, ttl = args[1:]
                return c.PlaceHold(rid, trip_id, frm, to, seat_count=count, ttl_ms=ttl)
            case "sell":
                (frm, to), count = args[1:]
                return c.Sell(rid, trip_id, frm, to, seat_count=count)
            case "sell_seat":
                (frm, to), seat = args[1:]
                return c.Sell(rid, trip_id, frm, to, seat_numbers=(seat,))
            case "confirm":
                return c.ConfirmHold(rid, f"{trip_id}-H{args[1]}")
            case "release":
                return c.ReleaseHold(rid, f"{trip_id}-H{args[1]}")
            case "refund":
                return c.Refund(rid, f"{trip_id}-{args[1]:04d}")
            case "check_in":
                return c.CheckIn(rid, f"{trip_id}-{args[1]:04d}", "gate-1")
            case "depart":
                return c.DepartTrip(rid, trip_id)
            case "cancel":
                return c.CancelTrip(rid, trip_id)
        raise AssertionError(kind)

    def batch(self, tick: tuple, items: list) -> None:
        how, value = tick
        self.now = self.now + value if how == "+" else max(self.now, value)
        batch = [self.command(spec) for spec in items]
        before = set(self.reference.recent)
        expected, _ = self.reference.execute(batch, self.now)
        replies, entries = self.owner.run(batch, self.now)
        assert replies == expected
        journaled = {entry.command.request_id for entry in entries}
        self.volatile |= set(self.reference.recent) - before - journaled

    def snapshot(self) -> None:
        self.owner.snapshot()
        self.volatile.clear()

    def crash(self, torn: int = 0) -> None:
        self.owner.close()
        if torn:
            last = wal.segments(self.owner.directory / "wal")[-1]
            # A record that was being written when the process died: never acknowledged, so it must vanish.
            next_lsn = self.owner.committed[-1][0] + 1
            frame = wal.encode_record(next_lsn, self.now, [c.Sell("torn", TRIP, A, B, seat_count=1)])
            with open(last, "ab") as file:
                file.write(frame[: min(torn, len(frame) - 1)])
        self.owner.open()
        self.lost |= self.volatile
        self.volatile.clear()

    def check(self) -> None:
        durable, reference = self.owner.engine, self.reference
        assert_same_trips(durable, reference)
        expected = [(rid, remembered) for rid, remembered in reference.recent.items() if rid not in self.lost]
        assert list(durable.recent.items()) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_crashes_recover_to_the_engine_that_never_crashed(steps):
    with tempfile.TemporaryDirectory(prefix="keyun-crash-") as tmp:
        run = Run(Path(tmp) / "owner")
        try:
            run.batch(("+", 0), [])  # nothing yet: an empty batch writes nothing
            schedule = schedule_batch()
            assert run.reference.execute(schedule, NOW)[0] == run.owner.run(schedule, NOW)[0]
            for s in steps:
                match s:
                    case ("batch", tick, items):
                        run.batch(tick, items)
                    case ("snapshot",):
                        run.snapshot()
                    case ("crash",):
                        run.crash()
                    case ("torn_crash", torn):
                        run.crash(torn)
                run.check()
            run.crash()
            run.check()
        finally:
            run.owner.close()
