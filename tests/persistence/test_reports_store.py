"""The reporting store on real log files: positions, archived segments, rebuild, gaps, lost records
(persistence/reports.py, docs/reporting.md)."""

from __future__ import annotations

import logging

import pytest

from keyun.engine import commands as c
from keyun.persistence.keyring import Keyring
from keyun.persistence.reports import ProjectedRecordLost, ReportStore

from .conftest import NOW, TRIP, A, B, D, Owner, schedule_batch


def sell(owner: Owner, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        owner.ok(c.Sell(f"rs-{n}", TRIP, A, D if n % 2 else B, seat_count=1, buyer=f"A{n:06d}"), NOW + n)


def tickets(store: ReportStore) -> tuple[int, int]:
    return store.db.execute("SELECT count(*), coalesce(sum(price_fen), 0) FROM tickets").fetchone()


@pytest.fixture
def station(tmp_path):
    owner = Owner(tmp_path / "data" / "shards" / "0000", segment_bytes=2_000)  # many small segments
    owner.run(schedule_batch(), NOW)
    keyring = Keyring.init(tmp_path / "keys")
    yield tmp_path / "data", owner, keyring
    owner.close()


def test_every_record_is_projected_once_across_restarts_and_archived_segments(station):
    data_dir, owner, keyring = station
    sell(owner, 6)
    store = ReportStore(data_dir, keyring)
    done = store.catch_up()
    assert tickets(store)[0] == 6 and done.records == len(owner.committed)
    assert store.catch_up().records == 0  # nothing new: nothing applied again
    store.close()

    owner.snapshot()  # retires the covered segments: into wal-archive/, not deleted
    archived = list((owner.directory / "wal-archive").glob("*.wal"))
    assert archived
    sell(owner, 5, start=6)
    store = ReportStore(data_dir, keyring)  # a restart: goes on from the durable position
    store.catch_up(limit=2)  # in small committed runs
    assert tickets(store)[0] == 11
    assert store.behind() == {"shards/0000": 0}
    count, fen = tickets(store)
    # A rebuild reads the archived segments, then the live ones: the same rows.
    done = store.rebuild()
    assert tickets(store) == (count, fen) and done.records == len(owner.committed)
    # Passengers are pseudonyms: no account id in clear.
    buyers = [row[0] for row in store.db.execute("SELECT buyer FROM tickets").fetchall()]
    assert all(len(b) == 24 and not b.startswith("A") for b in buyers)
    assert len(set(buyers)) == 11
    store.close()


def test_records_retired_unread_are_a_counted_gap_never_silent(station, caplog):
    data_dir, owner, keyring = station
    sell(owner, 6)
    owner.snapshot()
    for path in (owner.directory / "wal-archive").glob("*.wal"):
        path.unlink()  # as a compaction of the log does (or a restore from a backup)
    store = ReportStore(data_dir, keyring)
    with caplog.at_level(logging.ERROR, logger="keyun.reports"):
        store.catch_up()
    (status,) = store.status()
    assert status["gaps"] > 0 and "missing from the reports" in caplog.text
    assert status["lsn"] == owner.store.last_lsn
    store.close()


def test_a_projected_record_the_log_no_longer_holds_asks_for_a_rebuild(station):
    data_dir, owner, keyring = station
    sell(owner, 3)
    store = ReportStore(data_dir, keyring)
    store.catch_up()
    # As if the projector had read a record that a power cut then took from the log before its fsync.
    store.db.execute("UPDATE positions SET crc = crc + 1")
    store.close()
    store = ReportStore(data_dir, keyring)
    with pytest.raises(ProjectedRecordLost):
        store.catch_up()
    store.rebuild()
    assert tickets(store)[0] == 3
    store.close()
