"""Passenger-behaviour analysis through the gRPC API of a real server with its report projector
(docs/reporting.md, "Behaviour analysis"): a passenger searches (one OD sold out, one with no
trip), views seat maps, holds, orders, pays one order and abandons another; the funnel and
behaviour reports count exactly that; the stream holds no personal data in clear; a flood past
the gateway's queue is dropped and counted while every call succeeds; bad inputs are refused."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from keyun.app.cli import main as keyun_main
from keyun.persistence.reports import store_path
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, common_pb2, orders_pb2, sales_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .waiting import wait_until

PHONE = "13099887766"
PASSWORD = "Funnel-Passw0rd"
NAMES = ("钱乘客", "孙乘客")
DOCUMENTS = ("11010519491231002X", "110105194912310038")


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("funnel-data")
    server = ServerThread(data_dir, shards=2, reports=True)
    master = logged_in(KeyunClient(server.target, attempts=1), clock=server.clock)
    passenger = KeyunClient(server.target, attempts=1)
    passenger.call(
        passenger.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-funnel", phone=PHONE, password=PASSWORD),
    )
    account_id = passenger.login(PHONE, PASSWORD).account.account_id
    pids = [
        passenger.call(
            passenger.accounts.AddPassenger,
            accounts_pb2.AddPassengerRequest(
                request_id=f"add-funnel-{n}",
                name=name,
                document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
                document_number=document,
            ),
        ).passenger.passenger_id
        for n, (name, document) in enumerate(zip(NAMES, DOCUMENTS))
    ]
    state = {"server": server, "master": master, "passenger": passenger, "account_id": account_id, "pids": pids}
    yield state
    master.close()
    passenger.close()
    if state["server"] is not None:
        state["server"].stop()


def hold(passenger: KeyunClient, trip_id: str, pid: str) -> sales_pb2.Hold:
    request = sales_pb2.HoldRequest(
        request_id=f"h-{pid}", trip_id=trip_id, from_station="AAA", to_station="CCC", seat_count=1, passenger_ids=[pid]
    )
    return passenger.call(passenger.sales.Hold, request).hold


def web_line(client: KeyunClient) -> dict | None:
    reply = client.funnel_report(today(), today(), "web")
    lines = [{f.name: getattr(line, f.name) for f in line.DESCRIPTOR.fields} for line in reply.lines]
    return lines[0] if len(lines) == 1 else None


def test_the_funnel_counts_what_a_passenger_did(station):
    master, passenger = station["master"], station["passenger"]
    now = dt.datetime.now(CHINA)
    full_trip = schedule_trip(master, "FN1", dt.timedelta(days=2, hours=1))
    open_trip = schedule_trip(master, "FN2", dt.timedelta(days=3, hours=1))
    full_day = (now + dt.timedelta(days=2, hours=1)).date()
    open_day = (now + dt.timedelta(days=3, hours=1)).date()
    for seats in (10, 2):  # the whole coach of 12: AAA→DDD is sold out
        master.sell(full_trip, "AAA", "DDD", seat_count=seats)

    # Searches: one sold out, one with seats, one day with no trip at all.
    sold_out = passenger.search("AAA", "DDD", full_day.isoformat())
    assert len(sold_out.offers) == 1 and sold_out.offers[0].seats_free == 0
    assert len(passenger.search("AAA", "CCC", open_day.isoformat()).offers) == 1
    assert not passenger.search("AAA", "DDD", (full_day + dt.timedelta(days=10)).isoformat()).offers
    passenger.seat_map(open_trip, "AAA", "CCC")
    passenger.seat_map(open_trip, "AAA", "CCC")
    paid_hold = hold(passenger, open_trip, station["pids"][0])
    paid = passenger.create_order(paid_hold.hold_id, orders_pb2.PAY_METHOD_CASH).order
    master.pay_at_counter(paid.order_id, orders_pb2.PAY_METHOD_CASH)
    dropped_hold = hold(passenger, open_trip, station["pids"][1])
    dropped = passenger.create_order(dropped_hold.hold_id, orders_pb2.PAY_METHOD_CASH).order
    passenger.cancel_order(dropped.order_id)

    expected = {
        "day": today(),
        "channel": "web",
        "searched": 3,
        "seat_maps": 2,
        "held": 2,
        "ordered": 2,
        "paid": 1,
        "abandoned": 1,
        "seat_map_drop_pct": 33.33,
        "held_drop_pct": 0.0,
        "ordered_drop_pct": 0.0,
        "paid_drop_pct": 50.0,
    }
    try:
        wait_until(lambda: web_line(master) == expected, 30, "the funnel counts what the passenger did")
    except AssertionError:
        raise AssertionError((master.funnel_report(today(), today()), master.projection_status(), expected)) from None
    assert master.funnel_report(today(), today()).sample_rate == 1.0

    # A hold that expires unused is abandoned too: the owner's HoldExpired, counted exactly.
    master.hold(open_trip, "AAA", "BBB", seat_count=1, ttl_seconds=1)
    station["server"].clock.advance_s(2)

    def expired() -> bool:
        master.trip(open_trip)  # a call to the trip's owner, which sweeps expired holds meanwhile
        lines = master.funnel_report(today(), today(), "counter").lines  # the duty manager sells at counters
        return bool(lines) and (lines[0].held, lines[0].abandoned) == (1, 1)

    try:
        wait_until(expired, 30, "the expired hold counts as abandoned")
    except AssertionError:
        raise AssertionError(master.funnel_report(today(), today())) from None

    behaviour = master.behaviour_report(today(), today())
    demand = {(p.from_station, p.to_station): p for p in behaviour.od_demand}
    aaa_ddd = demand[("AAA", "DDD")]
    assert (aaa_ddd.searches, aaa_ddd.sold_out, aaa_ddd.no_results, aaa_ddd.unmet, aaa_ddd.tickets) == (2, 1, 1, 2, 12)
    aaa_ccc = demand[("AAA", "CCC")]
    assert (aaa_ccc.searches, aaa_ccc.unmet, aaa_ccc.tickets) == (1, 0, 1)
    lead = {b.bucket: b.tickets for b in behaviour.lead_time}
    assert lead == {"0-2h": 0, "2-6h": 0, "6-24h": 0, "1-3d": 12, "3-7d": 1, "7d+": 0}
    assert sum(cell.tickets for cell in behaviour.heat_map) == 13
    assert all(1 <= cell.day_of_week <= 7 and 0 <= cell.hour <= 23 for cell in behaviour.heat_map)
    rates = {r.bucket: (r.tickets, r.refunds, r.changes) for r in behaviour.refund_change}
    assert rates["1-3d"] == (12, 0, 0) and rates["3-7d"] == (1, 0, 0)
    # The anonymous counter sale has no passenger; the one named passenger travelled once.
    assert [(r.trips, r.passengers) for r in behaviour.repeat] == [(1, 1)]


def test_keyun_report_funnel_and_behaviour(station, capsys, monkeypatch):
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    server = ["--server", station["server"].target, "--user", "finance"]
    assert keyun_main(["report", "funnel", "--channel", "web", "--format", "json", *server]) == 0
    (line,) = json.loads(capsys.readouterr().out)
    assert (line["searched"], line["seat_maps"], line["paid"]) == (3, 2, 1)
    assert keyun_main(["report", "behaviour", "--section", "od_demand", "--format", "csv", *server]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == "from_station,to_station,searches,no_results,sold_out,unmet,tickets"
    assert "AAA,DDD,2,1,1,2,12" in rows
    assert keyun_main(["report", "behaviour", *server]) == 0
    out = capsys.readouterr().out
    assert "lead_time:" in out and "repeat:" in out


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def test_bad_inputs_are_refused_with_reasons(station, capsys):
    master, passenger = station["master"], station["passenger"]
    day = today()
    earlier = (dt.datetime.now(CHINA).date() - dt.timedelta(days=1)).isoformat()
    assert refused(lambda: master.funnel_report(day, earlier)).reason == "BEHAVIOUR_BAD_PERIOD"
    assert refused(lambda: master.funnel_report("2026-02-30", day)).reason == "INVALID_FIELD"
    assert refused(lambda: master.funnel_report(day, day, "fax")).reason == "BEHAVIOUR_UNKNOWN_CHANNEL"
    too_long = (dt.datetime.now(CHINA).date() + dt.timedelta(days=400)).isoformat()
    assert refused(lambda: master.behaviour_report(day, too_long)).reason == "BEHAVIOUR_BAD_PERIOD"
    assert refused(lambda: master.behaviour_report(day, day, ["tea_leaves"])).reason == "BEHAVIOUR_UNKNOWN_SECTION"
    assert refused(lambda: passenger.funnel_report(day, day)).reason == "PERMISSION_DENIED"
    with pytest.raises(SystemExit):
        keyun_main(["serve", "--funnel-sample", "1.5"])
    assert "--funnel-sample: 1.5 is not within 0..1" in capsys.readouterr().err


def test_a_flood_past_the_queue_is_dropped_and_counted_without_failing_calls(station):
    server, passenger, master = station["server"], station["passenger"], station["master"]
    recorder = server.server.funnel
    registry = server.server.metrics.registry

    def dropped() -> float:
        return registry.get_sample_value("keyun_funnel_events_dropped_total", {"why": "queue_full"}) or 0.0

    def searched() -> int:
        line = web_line(master)
        return line["searched"] if line else 0

    before, searches_before = dropped(), searched()
    server.run(recorder.stop())  # no flushing for now: the queue fills
    recorder.capacity = 3
    day = (dt.datetime.now(CHINA) + dt.timedelta(days=20)).date().isoformat()
    for _ in range(10):
        assert not passenger.search("BBB", "CCC", day).offers  # every call answers
    assert dropped() - before == 7
    recorder.capacity = 10_000

    async def restart() -> None:
        recorder.start()

    server.run(restart())
    wait_until(lambda: searched() == searches_before + 3, 30, "the three queued searches were recorded")


def test_the_stream_holds_no_personal_data_in_clear(station):
    station["master"].close()
    station["passenger"].close()
    data_dir = station["server"].data_dir
    station["server"].stop()
    station["server"] = None

    def store() -> duckdb.DuckDBPyConnection | None:
        try:
            return duckdb.connect(str(store_path(data_dir)), read_only=True)
        except duckdb.IOException:
            return None  # the projector's process is still going

    db = wait_until(store, 30, "the projector let the store go")
    try:
        funnel = db.execute("SELECT * FROM funnel_events").fetchall()
        holds = db.execute("SELECT * FROM holds").fetchall()
    finally:
        db.close()
    assert len(funnel) >= 5 + 3 and len(holds) == 3
    text = " ".join(str(row) for row in [*funnel, *holds])
    for secret in (station["account_id"], PHONE, *NAMES, *DOCUMENTS, *station["pids"]):
        assert secret not in text, secret
    sessions = {row[3] for row in funnel if row[2] == "web"}
    assert all(len(s) == 24 for s in sessions)  # 12-byte HMAC pseudonyms, hex
