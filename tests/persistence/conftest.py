"""Fixtures for the durability layer: a small network, an owner on real files, and comparisons.

The network runs AA → BB → CC → DD (an hour between stops) at 08:00 and 14:00 local time (+08:00)
on 13-seat coaches, like the engine tests' network, so realistic engine values go in the log.
Every time is derived from DEPARTS_MS, the 08:00 departure on DAY.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

from keyun.engine import commands as c
from keyun.engine.policy import HOUR_MS, MINUTE_MS
from keyun.engine.reasons import Rejection
from keyun.engine.shard import Entry, ShardEngine
from keyun.persistence.store import OwnerStore, RecoveryReport

# The engine tests' network and clock, so realistic engine values go in the log.
from ..engine.conftest import DAY, DEPARTS_MS, NEXT_DAY_TRIP, NOW, PM_TRIP, TRIP, A, B, C, D, trip_specs  # noqa: F401


def schedule_batch(prefix: str = "sched") -> list[c.ScheduleTrip]:
    return [c.ScheduleTrip(f"{prefix}-{spec.trip_id}", spec) for spec in trip_specs()]


class Owner:
    """An owner on a real directory: an engine whose batches are committed to an OwnerStore.

    `crash()` closes the store (as a killed process would leave its files: every acknowledged batch
    is already fsynced) and recovers a new store and a new engine from the directory.
    """

    def __init__(self, directory: Path, segment_bytes: int | None = None) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.store: OwnerStore | None = None
        self.committed: list[tuple[int, list[Entry]]] = []  # (LSN, entries) of every record written
        self.engine: ShardEngine | None = None
        self.report = self.open()

    def open(self) -> RecoveryReport:
        self.store = OwnerStore(self.directory, wait_for_lock_s=0)
        if self.segment_bytes is not None:
            self.store.wal.segment_bytes = self.segment_bytes
        self.engine = ShardEngine(check=True)
        self.report = self.store.recover(self.engine)
        return self.report

    def run(self, batch: list, now: int) -> tuple[list, list[Entry]]:
        replies, entries = self.engine.execute(batch, now)
        self.store.commit(self.engine.last_now, entries)
        if entries:
            self.committed.append((self.store.last_lsn, entries))
        return replies, entries

    def ok(self, item, now: int):
        (reply,), _ = self.run([item], now)
        assert not isinstance(reply, Rejection), reply
        return reply

    def snapshot(self) -> None:
        self.store.snapshot(self.engine)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def crash(self) -> RecoveryReport:
        self.close()
        return self.open()


@pytest.fixture
def owner(tmp_path: Path):
    o = Owner(tmp_path / "owner")
    yield o
    o.close()


def window(engine: ShardEngine) -> OrderedDict:
    return OrderedDict(engine.recent)


def assert_same_trips(recovered: ShardEngine, expected: ShardEngine) -> None:
    assert set(recovered.state.trips) == set(expected.state.trips)
    for trip_id, trip in expected.state.trips.items():
        assert recovered.state.trips[trip_id] == trip, trip_id
    assert recovered.state.trips == expected.state.trips


def assert_identical(a, b, path: str = "value") -> None:
    """Equal, and of the very same types all the way down (an IntEnum must not come back as an int)."""
    import dataclasses
    import enum

    import msgspec

    # The codec decodes every array as a tuple, which is what the frozen engine values hold.
    if not (type(a) is tuple and type(b) is list):
        assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if dataclasses.is_dataclass(a) or isinstance(a, msgspec.Struct):
        for f in dataclasses.fields(a) if dataclasses.is_dataclass(a) else msgspec.structs.fields(a):
            assert_identical(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for n, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{path}[{n}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys differ"
        for key in a:
            assert_identical(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, enum.Enum):
        assert a is b, f"{path}: {a!r} is not {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


__all__ = [
    "A",
    "B",
    "C",
    "D",
    "DAY",
    "DEPARTS_MS",
    "NOW",
    "TRIP",
    "PM_TRIP",
    "NEXT_DAY_TRIP",
    "HOUR_MS",
    "MINUTE_MS",
    "trip_specs",
    "schedule_batch",
    "Owner",
    "window",
    "assert_same_trips",
    "assert_identical",
]
