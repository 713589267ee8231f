"""bench.day: the oversell check, the timeline chart, a small day run end to end (a real server,
killed with SIGKILL and restarted, then every acknowledged sale checked), and a smaller day through
gRPC on asyncio's own event loop, as on Windows."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

from bench import load
from bench.chart import write_timeline
from bench.day import Sale, lost_sales, oversold, run_day, unaudited_sales
from keyun.common.platform import EVENT_LOOP_ENV
from keyun.terminals.client import KeyunClient

from .conftest import ServerThread, logged_in, schedule_trip

ROOT = Path(__file__).resolve().parents[1]


def test_only_overlapping_stretches_of_one_seat_of_one_trip_are_oversold():
    sales = [
        Sale("t1", "BN001-20300101", "1", "B00", "B02"),
        Sale("t2", "BN001-20300101", "1", "B02", "B03"),  # starts where t1 ends: fine
        Sale("t3", "BN001-20300101", "2", "B00", "B05"),  # another seat
        Sale("t4", "BN002-20300101", "1", "B00", "B05"),  # another trip
        Sale("t5", "BN001-20300101", "1", "B01", "B02"),  # inside t1: oversold
    ]
    assert [(a.ticket_id, b.ticket_id) for a, b in oversold(sales)] == [("t1", "t5")]
    assert oversold(sales[:4]) == []


def test_a_sale_the_server_does_not_hold_as_acknowledged_is_lost(keyun):
    trip_id = schedule_trip(keyun.client, "DAY1", dt.timedelta(days=1))
    (ticket,) = keyun.client.sell(trip_id, "AAA", "BBB", seat_count=1).tickets
    held = Sale(ticket.ticket_id, trip_id, ticket.seat_number, "AAA", "BBB")
    other_seat = Sale(ticket.ticket_id, trip_id, ticket.seat_number + "0", "AAA", "BBB")
    never_sold = Sale("T-never-sold", trip_id, "1", "AAA", "BBB")
    metadata = (("authorization", f"Bearer {keyun.client.access_token}"),)
    assert set(asyncio.run(lost_sales(keyun.target, [held, other_seat, never_sold], metadata))) == {
        other_seat,
        never_sold,
    }
    keyun.client.refund(ticket.ticket_id)
    assert asyncio.run(lost_sales(keyun.target, [held], metadata)) == [held]  # no longer sold


def test_an_acknowledged_sale_without_its_audit_record_is_counted(keyun):
    since_ms = time.time_ns() // 1_000_000
    trip_id = schedule_trip(keyun.client, "DAY2", dt.timedelta(days=1))
    sold = [keyun.client.sell(trip_id, "AAA", "BBB", seat_count=1).tickets[0] for _ in range(2)]
    sales = [Sale(t.ticket_id, trip_id, t.seat_number, "AAA", "BBB") for t in sold]
    with logged_in(KeyunClient(keyun.target), "auditor") as auditor:
        assert unaudited_sales(auditor, sales, since_ms) == 0
        assert unaudited_sales(auditor, [*sales, Sale("T-unrecorded", trip_id, "9", "AAA", "BBB")], since_ms) == 1
        assert (
            unaudited_sales(auditor, sales, time.time_ns() // 1_000_000 + 60_000) == 2
        )  # records before `since` do not count


def test_the_timeline_has_a_bar_per_second(tmp_path):
    chart = tmp_path / "day.svg"
    write_timeline(chart, [0.1, 0.5, 1.2, 2.9, 2.95], "calls <per> second")
    titles = [t.text for t in ElementTree.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert titles == ["0 s: 2 calls", "1 s: 1 calls", "2 s: 2 calls"]
    texts = [t.text for t in ElementTree.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert "mean 2/s" in texts and not any("target" in text for text in texts)  # 5 calls in 2.95 s
    write_timeline(chart, [0.1, 0.5, 1.2, 2.9, 2.95], "calls", target_s=60)
    texts = [t.text for t in ElementTree.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert "target 60 s" in texts


def test_a_small_day_survives_a_kill_with_every_acknowledged_sale(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.day", "--transactions", "600", "--concurrency", "40", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = tmp_path.glob("day-*.json")
    day = json.loads(result.read_text())
    assert day["ok"] + day["refused"] + day["failed"] == 600 and day["failed"] == 0
    assert day["sales_acknowledged"] > 100  # about 40 % of the calls are sales
    assert day["tickets_checked"] == day["sales_acknowledged"] and (day["lost"], day["oversold"]) == (0, 0)
    assert day["unaudited"] == 0
    assert "0 lost, 0 seats oversold, 0 without an audit record" in done.stdout
    ElementTree.parse(result.with_suffix(".svg"))


def test_a_small_day_through_grpc_on_asyncios_own_loop(ray_session, tmp_path, monkeypatch):
    """Windows has no uvloop: the server must serve a day on the standard library's loop too."""
    monkeypatch.setenv(EVENT_LOOP_ENV, "asyncio")
    server = ServerThread(tmp_path / "data", shards=2)
    try:
        assert type(server.loop).__module__.startswith("asyncio."), type(server.loop)  # not uvloop.Loop
        trip_ids, date = load.prepare(server.target)
        metadata = load.access_metadata(server.target)
        day, sales, _ = asyncio.run(run_day(server.target, 300, 20, trip_ids, date, metadata))
        assert day.ok + day.refused == 300 and day.failed == 0 and day.sales_acknowledged > 50
        assert asyncio.run(lost_sales(server.target, sales, metadata)) == [] and oversold(sales) == []
    finally:
        server.stop()
