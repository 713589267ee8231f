"""Reports from the event log, through the gRPC API of a real server with its report projector
(docs/reporting.md): the sales report equals what the tickets themselves say, across a projector
killed mid-stream, a whole server stopped and started, and a rebuild from the logs."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import tomllib
import urllib.request

import duckdb
import grpc
import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from keyun.app.cli import main as keyun_main
from keyun.persistence.reports import SalesQuery, sales_report, store_path
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2

from .conftest import CHINA, STATIONS, ServerThread, logged_in, schedule_trip
from .waiting import wait_until

BOARDING = dt.timedelta(minutes=30)  # inside the check-in window
NUMBERS = itertools.count(1)
KM = {stop["station"]: stop["km"] for stop in tomllib.loads(STATIONS)["routes"][0]["stops"]}  # the network's km
COMPONENTS = ("base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen")


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


def start(data_dir) -> tuple[ServerThread, KeyunClient]:
    server = ServerThread(data_dir, shards=2, reports=True)
    return server, logged_in(KeyunClient(server.target), clock=server.clock)


def expected_totals(client: KeyunClient, ticket_ids: set[str]) -> dict[str, int]:
    """The sales report's measures for today, recomputed from the tickets as GetTicket shows them."""
    tickets = [client.ticket(ticket_id) for ticket_id in sorted(ticket_ids)]
    by_status = {status: [t for t in tickets if t.status == status] for status in common_pb2.TicketStatus.values()}
    gone = {
        "changes": by_status[common_pb2.TICKET_STATUS_CHANGED],
        "voids": by_status[common_pb2.TICKET_STATUS_VOID],
    }
    refunded = by_status[common_pb2.TICKET_STATUS_REFUNDED]
    totals = {
        "tickets": len(tickets),
        "passengers": len(tickets) + sum(1 for t in tickets if t.HasField("free_child")),
        "revenue_fen": sum(t.price_fen for t in tickets),
        **{name: sum(getattr(t.fare, name) for t in tickets) for name in COMPONENTS},
        "refunds": len(refunded),
        "refund_fen": sum(t.refunded_fen for t in refunded),
        "refund_fee_fen": sum(t.refund_fee_fen for t in refunded),
        "changes": len(gone["changes"]),
        "changed_fen": sum(t.price_fen for t in gone["changes"]),
        "voids": len(gone["voids"]),
        "voided_fen": sum(t.price_fen for t in gone["voids"]),
        "checked_in": sum(1 for t in tickets if t.checked_in_at.seconds),
    }
    totals["net_fen"] = totals["revenue_fen"] - totals["refund_fen"] - totals["changed_fen"] - totals["voided_fen"]
    totals["passenger_km"] = sum(
        (KM[t.to_stop.code] - KM[t.from_stop.code]) * (2 if t.HasField("free_child") else 1) for t in tickets
    )
    totals["no_shows"] = totals["no_show_fen"] = 0  # no trip here departs (tests/test_reports_load.py)
    return totals


def reported(client: KeyunClient, group_by: tuple[str, ...] = ()) -> list[dict]:
    lines = client.sales_report_lines(group_by, today(), today())
    return [
        {"group": tuple(line.group)}
        | {field.name: getattr(line, field.name) for field in line.DESCRIPTOR.fields if field.name != "group"}
        for line in lines
    ]


def whole_day(client: KeyunClient) -> dict[str, int]:
    lines = reported(client)
    assert len(lines) <= 1
    return {key: value for key, value in (lines[0] if lines else {}).items() if key != "group"}


def caught_up(client: KeyunClient) -> bool:
    status = client.projection_status()
    return bool(status.owners) and not status.failure and all(owner.behind == 0 for owner in status.owners)


def report_equals(client: KeyunClient, expected: dict[str, int]) -> None:
    try:
        wait_until(lambda: caught_up(client) and whole_day(client) == expected, 30, "the report matches the tickets")
    except AssertionError:
        raise AssertionError((client.projection_status(), whole_day(client), expected)) from None


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    """A server with reports, and the tickets sold on it so far (a test adds to them)."""
    data_dir = tmp_path_factory.mktemp("reports-data")
    server, client = start(data_dir)
    state = {"server": server, "client": client, "data_dir": data_dir, "tickets": set()}
    yield state
    state["client"].close()
    state["server"].stop()


def test_the_sales_report_equals_the_tickets(station):
    client = station["client"]
    first = schedule_trip(client, f"P{next(NUMBERS)}", BOARDING)
    later = schedule_trip(client, f"P{next(NUMBERS)}", BOARDING + dt.timedelta(hours=1))
    whole = client.sell(first, "AAA", "DDD", seat_numbers=("1", "2", "3", "4"))
    short = client.sell(first, "AAA", "BBB", seat_numbers=("5", "6"))
    client.refund(whole.tickets[0].ticket_id)
    changed = client.change_ticket(whole.tickets[1].ticket_id, later)
    client.check_in(whole.tickets[2].ticket_id, "G1")
    sold = {t.ticket_id for t in (*whole.tickets, *short.tickets)} | {changed.new_ticket.ticket_id}
    # A counter seller's sale voided (废票) in their shift.
    with logged_in(KeyunClient(station["server"].target), "stock", clock=station["server"].clock) as stock:
        batch = stock.receive_stock("00000001", "00000099", batch_code="RPT1").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000010")
    with logged_in(KeyunClient(station["server"].target), "counter1", clock=station["server"].clock) as seller:
        seller.open_shift("W09")
        counter_sale = seller.sell(first, "AAA", "DDD", seat_numbers=("7", "8"))
        seller.void_ticket(counter_sale.tickets[0].ticket_id)
    sold |= {t.ticket_id for t in counter_sale.tickets}
    station["tickets"] |= sold

    expected = expected_totals(client, station["tickets"])
    assert expected["refunds"] == expected["changes"] == expected["voids"] == expected["checked_in"] == 1
    report_equals(client, expected)
    # Grouped, the lines add up to the day, and each trip's to its own tickets.
    by_trip = {line["group"][0]: line for line in reported(client, ("trip",))}
    assert set(by_trip) == {first, later}
    assert by_trip[later]["tickets"] == 1 and by_trip[first]["tickets"] == len(sold) - 1
    assert sum(line["revenue_fen"] for line in by_trip.values()) == expected["revenue_fen"]
    by_channel = reported(client, ("channel", "seller"))
    assert {line["group"][0] for line in by_channel} == {"counter"}  # master and counter1 sell at counters
    assert len(by_channel) == 2  # two sellers, named by their account ids
    by_route_type = reported(client, ("route", "ticket_type"))
    assert [line["group"] for line in by_route_type] == [("LINE", "full")]
    # Paging walks every line once.
    page = client.sales_report(("trip",), today(), today(), page_size=1)
    assert len(page.lines) == 1 and page.total_lines == 2 and page.next_page_token
    rest = client.sales_report(("trip",), today(), today(), page_size=1, page_token=page.next_page_token)
    assert {page.lines[0].group[0], rest.lines[0].group[0]} == {first, later} and not rest.next_page_token


def test_bad_report_requests_are_refused_and_passengers_may_not_read_reports(station):
    client = station["client"]
    for call, reason in (
        (lambda: client.sales_report(("nonsense",), today(), today()), "INVALID_FIELD"),
        (lambda: client.sales_report((), "yesterday", today()), "INVALID_FIELD"),
        (lambda: client.sales_report((), today(), "2001-01-01"), "INVALID_FIELD"),
        (lambda: client.sales_report((), today(), today(), page_token="x1"), "BAD_PAGE_TOKEN"),
    ):
        with pytest.raises(KeyunError) as refused:
            call()
        assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    with KeyunClient(station["server"].target) as passenger:
        passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
        for call in (lambda: passenger.projection_status(), lambda: passenger.sales_report((), today(), today())):
            with pytest.raises(KeyunError) as refused:
                call()
            assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    # Pseudonyms only: no masked name or ticket holder text reaches the store (checked after the
    # server stops, in test_a_rebuild_gives_the_same_totals_and_exports_parquet).


def test_keyun_report_prints_the_sales_as_csv_and_the_status(station, capsys, monkeypatch):
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    server = ["--server", station["server"].target, "--user", "finance"]
    assert keyun_main(["report", "sales", "--by", "route", "--by", "channel", "--format", "csv", *server]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.startswith("route,channel,tickets,passengers,revenue_fen,")
    assert [line.split(",")[:2] for line in lines] == [["LINE", "counter"]]
    day = whole_day(station["client"])
    assert int(lines[0].split(",")[2]) == day["tickets"]
    assert keyun_main(["report", "status", *server]) == 0
    out = capsys.readouterr().out
    assert "shards/0000" in out and "accounts" in out


def test_the_lag_is_a_metric(station):
    server = station["server"].server
    port = server.metrics.serve("127.0.0.1", 0)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    families = {family.name: family.samples for family in text_string_to_metric_families(text)}
    assert {s.labels["owner"] for s in families["keyun_report_lag_records"]} >= {"shards/0000", "shards/0001"}
    assert "keyun_report_lag_seconds" in families and families["keyun_report_up"][0].value == 1


def test_killing_the_projector_mid_stream_counts_nothing_twice(station):
    client = station["client"]
    trip = schedule_trip(client, f"P{next(NUMBERS)}", BOARDING, vehicle="coach45")
    sold: list[str] = []
    selling = threading.Thread(
        target=lambda: sold.extend(
            client.sell(trip, "AAA", "DDD", seat_count=1).tickets[0].ticket_id for _ in range(40)
        )
    )
    selling.start()
    projector = station["server"].server.owners.reports
    old = ray.get(projector.ready.remote())["pid"]
    wait_until(lambda: len(sold) >= 10, 30, "some sales went through")
    ray.kill(projector, no_restart=False)  # Ray starts it again; it goes on from its positions
    selling.join()
    wait_until(lambda: _pid(projector) not in (None, old), 60, "the projector restarted")
    station["tickets"] |= set(sold)
    report_equals(client, expected_totals(client, station["tickets"]))


def _pid(projector) -> int | None:
    try:
        return ray.get(projector.ready.remote(), timeout=30)["pid"]
    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
        return None


def test_a_whole_server_restart_changes_no_total(station):
    client = station["client"]
    expected = expected_totals(client, station["tickets"])
    report_equals(client, expected)
    # A snapshot moves the projector's reading past nothing: it reads the logs, not the snapshots.
    station["server"].run(station["server"].server.owners.pool.snapshot())
    client.close()
    station["server"].stop()
    station["server"], station["client"] = start(station["data_dir"])
    report_equals(station["client"], expected)


def test_a_rebuild_gives_the_same_totals_and_exports_parquet(station, tmp_path, capsys):
    client = station["client"]
    expected = expected_totals(client, station["tickets"])
    report_equals(client, expected)
    client.close()
    station["server"].stop()
    try:
        rebuilt_and_exported(station["data_dir"], tmp_path, capsys, expected)
    finally:
        station["server"], station["client"] = start(station["data_dir"])  # for the fixture's teardown


def rebuilt_and_exported(data_dir, tmp_path, capsys, expected: dict[str, int]) -> None:
    # The projector's process may take a moment to go (ray.kill returns at once); until then the
    # rebuild is refused, naming the store in use.
    wait_until(lambda: keyun_main(["report", "rebuild", "--data-dir", str(data_dir)]) == 0, 30, "the rebuild ran")
    assert "rebuilt" in capsys.readouterr().out
    db = duckdb.connect(str(store_path(data_dir)), read_only=True)
    try:
        midnight = dt.datetime.combine(dt.datetime.now(CHINA).date(), dt.time(), CHINA)
        start_ms = int(midnight.timestamp() * 1000)
        rows, _ = sales_report(db, SalesQuery((), start_ms, start_ms + 86_400_000))
        assert {k: v for k, v in rows[0].items() if k != "group"} == expected
        # No personal data in clear: the demo passengers' masked names never reach the store.
        text = " ".join(str(row) for row in db.execute("SELECT * FROM tickets").fetchall())
        assert "*" not in text and "passenger:" not in text
    finally:
        db.close()
    assert keyun_main(["report", "export", "--data-dir", str(data_dir), "--to", str(tmp_path / "pq")]) == 0
    with duckdb.connect() as parquet:
        count = parquet.execute(f"SELECT count(*) FROM '{tmp_path / 'pq' / 'tickets.parquet'}'").fetchone()[0]
    assert count == expected["tickets"]
