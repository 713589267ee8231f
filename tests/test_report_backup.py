"""`keyun backup` carries the reporting store and the archived log segments, and `keyun restore`
puts them back (docs/operations.md, docs/reporting.md): a backup taken while the server runs (its
report projector makes the store's copy) and one taken with it stopped both restore into a data
directory whose store already holds the reports, and a server started on it reports the same."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from keyun.app.cli import main as keyun_main
from keyun.persistence.reports import store_path
from keyun.persistence.wal import ARCHIVE_DIR, WriteAheadLog
from keyun.terminals.client import KeyunClient

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .test_reports import caught_up, whole_day
from .waiting import wait_until

BOARDING = dt.timedelta(hours=3)


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


def key_dir_of(data_dir):
    return data_dir.resolve().parent / f"{data_dir.name}-keys"


def positions(data_dir) -> dict[str, tuple[int, int]]:
    db = duckdb.connect(str(store_path(data_dir)), read_only=True)
    try:
        return {
            owner: (lsn, records)
            for owner, lsn, records in db.execute("SELECT owner, lsn, records FROM positions").fetchall()
        }
    finally:
        db.close()


def archive_the_logs(data_dir, covered: list[int]) -> None:
    """What a snapshot does once a shard's segment is full (64 MB, too big for a test): the log goes
    on in a new segment and the old one, covered by the snapshot, moves to wal-archive/."""
    for shard, upto_lsn in zip(sorted((data_dir / "shards").iterdir()), covered, strict=True):
        log = WriteAheadLog(shard / "wal", archive=shard / ARCHIVE_DIR)
        for _ in log.recover(upto_lsn):
            pass
        log.next_segment()
        log.retire(upto_lsn)
        log.close()


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    """A server with reports: sales, a refund, a snapshot (so that segments are archived), more sales."""
    data_dir = tmp_path_factory.mktemp("backup-reports") / "data"
    server = ServerThread(data_dir, shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    trip = schedule_trip(client, "BK1", BOARDING, vehicle="coach45")
    sold = [client.sell(trip, "AAA", "DDD", seat_count=2) for _ in range(3)]
    client.refund(sold[0].tickets[0].ticket_id)
    covered = server.run(server.server.owners.pool.snapshot())
    client.close()
    server.stop()
    archive_the_logs(data_dir, covered)
    server = ServerThread(data_dir, shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    client.sell(trip, "AAA", "CCC", seat_count=1)
    wait_until(lambda: caught_up(client), 60, "the projector caught up")
    state = {"server": server, "client": client, "data_dir": data_dir, "expected": whole_day(client)}
    yield state
    state["client"].close()
    state["server"].stop()


def restored_and_served(station, backup_dir, restored_dir, capsys) -> None:
    assert keyun_main(["restore", "--from", str(backup_dir), "--data-dir", str(restored_dir)]) == 0
    assert "reporting store: restored" in capsys.readouterr().out
    archived = [p.relative_to(backup_dir) for p in backup_dir.glob(f"*/**/{ARCHIVE_DIR}/*") if p.is_file()]
    assert archived and all((restored_dir / path).is_file() for path in archived)
    # The store is there before any start, with the positions it had: nothing to rebuild.
    assert positions(restored_dir) and all(lsn > 0 for lsn, _ in positions(restored_dir).values())
    restored = ServerThread(restored_dir, shards=2, reports=True, key_dir=key_dir_of(station["data_dir"]))
    try:
        with logged_in(KeyunClient(restored.target), clock=restored.clock) as client:
            wait_until(lambda: caught_up(client), 60, "the restored projector caught up")
            assert whole_day(client) == station["expected"]
            assert all(owner.gaps == 0 for owner in client.projection_status().owners)
    finally:
        restored.stop()


def test_a_backup_of_a_running_server_carries_the_store_and_the_archive(station, tmp_path, capsys):
    data_dir, backup_dir = station["data_dir"], tmp_path / "backup"
    archived = sorted(p.relative_to(data_dir) for p in data_dir.glob(f"*/**/{ARCHIVE_DIR}/*") if p.is_file())
    assert archived, "the snapshot archived segments"
    capsys.readouterr()
    assert keyun_main(["backup", "--data-dir", str(data_dir), "--to", str(backup_dir)]) == 0
    out = capsys.readouterr().out
    assert "reporting store: copied" in out and "by the projector" in out, out
    assert all((backup_dir / path).is_file() for path in archived)
    assert store_path(backup_dir).stat().st_mode & 0o777 == 0o600
    copied = positions(backup_dir)
    assert copied and all(lsn > 0 for lsn, _ in copied.values())
    restored_and_served(station, backup_dir, tmp_path / "restored", capsys)


def test_a_backup_of_a_stopped_server_copies_the_store_itself(station, tmp_path, capsys):
    data_dir = station["data_dir"]
    station["client"].close()
    station["server"].stop()
    try:
        capsys.readouterr()
        # The projector's process may take a moment to go; until then the projector answers.
        wait_until(
            lambda: (
                keyun_main(
                    ["backup", "--data-dir", str(data_dir), "--to", str(tmp_path / f"b{len(list(tmp_path.iterdir()))}")]
                )
                == 0
                and "by the backup" in capsys.readouterr().out
            ),
            60,
            "a backup copied the store itself",
        )
        backup_dir = max(tmp_path.glob("b*"), key=lambda p: p.stat().st_mtime)
        restored_and_served(station, backup_dir, tmp_path / "restored", capsys)
    finally:
        station["server"] = ServerThread(data_dir, shards=2, reports=True)
        station["client"] = logged_in(KeyunClient(station["server"].target), clock=station["server"].clock)
