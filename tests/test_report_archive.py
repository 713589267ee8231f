"""`keyun report prune-archive` (docs/reporting.md, "Pruning the archive"): an archived log segment
goes only once every record in it is projected and every trip it touches is in a locked
settlement period, or departs before the retention date; everything else is kept, and the reason
said.  A server started after the pruning reports what it reported before, with no gap."""

from __future__ import annotations

import datetime as dt

import pytest

from keyun.app.cli import main as keyun_main
from keyun.persistence.report_archive import read_segment
from keyun.persistence.wal import ARCHIVE_DIR, segments
from keyun.terminals.client import KeyunClient
from keyun.v1 import reports_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .test_report_backup import archive_the_logs
from .test_reports import caught_up
from .waiting import wait_until

TODAY_IN = dt.timedelta(hours=3)
TOMORROW_IN = dt.timedelta(hours=27)


def archived(data_dir) -> list:
    return [path for shard in sorted((data_dir / "shards").iterdir()) for path in segments(shard / ARCHIVE_DIR)]


def sales_totals(client: KeyunClient, first: str, last: str) -> list:
    return [
        (tuple(line.group), line.tickets, line.revenue_fen)
        for line in client.sales_report_lines(("trip",), first, last)
    ]


def stopped(server: ServerThread, client: KeyunClient, archive: bool = True) -> None:
    """Snapshot, stop, and archive what the snapshot covers."""
    covered = server.run(server.server.owners.pool.snapshot())
    client.close()
    server.stop()
    if archive:
        archive_the_logs(server.data_dir, covered)


def prune(data_dir, capsys, *extra: str) -> str:
    capsys.readouterr()
    # A stopped server's projector process may take a moment to go (ray.kill returns at once);
    # until then the store is in use, and the command says so and deletes nothing.
    command = ["report", "prune-archive", "--data-dir", str(data_dir), *extra]
    wait_until(lambda: keyun_main(command) == 0, 30, "the pruning ran")
    return capsys.readouterr().out


@pytest.fixture
def station(ray_session, tmp_path):
    data_dir = tmp_path / "data"
    server = ServerThread(data_dir, shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    finance = logged_in(KeyunClient(server.target), "finance", clock=server.clock)
    today = (dt.datetime.now(CHINA) + TODAY_IN).date()
    finance.set_contract(
        reports_pb2.OperatorContract(
            operator_id="TESTOP", effective_from=(today - dt.timedelta(days=30)).isoformat(), agency_fee_bp=500
        )
    )
    finance.close()
    trip_a = schedule_trip(client, "PA1", TODAY_IN)
    trip_b = schedule_trip(client, "PB1", TOMORROW_IN)
    client.sell(trip_a, "AAA", "DDD", seat_count=2)
    client.sell(trip_b, "AAA", "CCC", seat_count=1)
    wait_until(lambda: caught_up(client), 60, "the projector caught up")
    stopped(server, client)
    # Sales while the projector is off: archived before they are projected.
    server = ServerThread(data_dir, shards=2, reports=False)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    client.sell(trip_a, "AAA", "BBB", seat_count=1)
    stopped(server, client)
    return {"data_dir": data_dir, "today": today, "trip_a": trip_a, "trip_b": trip_b}


def test_only_projected_and_settled_segments_are_pruned(station, capsys):
    data_dir, today, trip_b = station["data_dir"], station["today"], station["trip_b"]
    first, last = today.isoformat(), (today + dt.timedelta(days=1)).isoformat()
    before = archived(data_dir)
    assert len(before) >= 2
    # Nothing locked, one segment not projected: everything is kept, each with its reason.
    out = prune(data_dir, capsys)
    assert "deleted 0 archived segments" in out and "not all projected yet" in out
    assert "is in no locked settlement period" in out and archived(data_dir) == before

    # The projector reads the rest; finance locks today's period (trip A's), not tomorrow's.
    server = ServerThread(data_dir, shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    wait_until(lambda: caught_up(client), 60, "the projector caught up with the archive")
    totals = sales_totals(client, first, last)
    with logged_in(KeyunClient(server.target), "finance", clock=server.clock) as finance:
        finance.lock_settlement("TESTOP", first, first)
    wait_until(lambda: caught_up(client), 60, "the projector has the lock")
    client.close()
    server.stop()

    # A dry run deletes nothing; the real one deletes what touches only today's trips (the
    # timetable's daily roll schedules later days' trips too: their segments stay).
    locked_day = f"-{today:%Y%m%d}"
    touches_b = {path for path in before if any(not t.endswith(locked_day) for t in read_segment(path).trip_ids)}
    assert touches_b != set(before)
    out = prune(data_dir, capsys, "--dry-run")
    assert archived(data_dir) == before and "would delete" in out
    out = prune(data_dir, capsys)
    assert set(archived(data_dir)) == touches_b, out
    assert "deleted" in out and "projected, and its" in out
    assert all(f"kept {p.relative_to(data_dir)}" in out for p in archived(data_dir))
    if touches_b:
        assert f"{trip_b} (TESTOP, {last}) is in no locked settlement period" in out
    # With a retention date past the rolled days, the rest may go too.
    out = prune(data_dir, capsys, "--before", (today + dt.timedelta(days=60)).isoformat())
    assert archived(data_dir) == [], out

    # A server started afterwards reports the same, with no gap, and goes on.
    server = ServerThread(data_dir, shards=2, reports=True)
    try:
        with logged_in(KeyunClient(server.target), clock=server.clock) as client:
            wait_until(lambda: caught_up(client), 60, "the projector caught up after the pruning")
            assert sales_totals(client, first, last) == totals
            assert all(owner.gaps == 0 for owner in client.projection_status().owners)
            client.sell(station["trip_a"], "AAA", "DDD", seat_count=1)
            wait_until(
                lambda: sum(t[1] for t in sales_totals(client, first, last)) == sum(t[1] for t in totals) + 1,
                60,
                "a new sale is reported",
            )
    finally:
        server.stop()


def test_a_running_server_and_a_bad_date_are_refused(ray_session, tmp_path, capsys):
    data_dir = tmp_path / "data"
    with pytest.raises(SystemExit):
        keyun_main(["report", "prune-archive", "--data-dir", str(data_dir), "--before", "12/08"])
    assert "not a date" in capsys.readouterr().err
    assert keyun_main(["report", "prune-archive", "--data-dir", str(data_dir)]) == 1
    assert "no reporting store" in capsys.readouterr().err
    server = ServerThread(data_dir, shards=2, reports=True)
    try:
        with logged_in(KeyunClient(server.target), clock=server.clock) as client:
            wait_until(lambda: caught_up(client), 60, "the projector holds the store")
        assert keyun_main(["report", "prune-archive", "--data-dir", str(data_dir)]) == 1
        assert "in use" in capsys.readouterr().err
    finally:
        server.stop()
