"""The load, passenger-km, no-show and shift reconciliation reports, through the gRPC API of a real
server with its report projector (docs/reporting.md).  Every figure is recomputed here from the
tickets as the API shows them (the manifest, GetTicket) and the network file's km, never from the
reporting store."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import duckdb
import grpc
import pytest

from keyun.app.cli import main as keyun_main
from keyun.persistence.load_reports import ShiftQuery
from keyun.persistence.reports import ReportStore, store_path
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2, orders_pb2

from .conftest import CHINA, STATIONS, ServerThread, logged_in, schedule_trip
from .waiting import wait_until

BOARDING = dt.timedelta(minutes=30)  # inside the check-in window of the first stop
LIVE = (common_pb2.TICKET_STATUS_ISSUED, common_pb2.TICKET_STATUS_CHECKED_IN)
# Each station's km along the test route, read from the network file itself.
KM = {stop["station"]: stop["km"] for stop in tomllib.loads(STATIONS)["routes"][0]["stops"]}


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("load-data")
    state = {"data_dir": data_dir}
    state["server"], state["client"] = start(data_dir)
    yield state
    state["client"].close()
    state["server"].stop()


def start(data_dir) -> tuple[ServerThread, KeyunClient]:
    server = ServerThread(data_dir, shards=2, reports=True)
    return server, logged_in(KeyunClient(server.target), clock=server.clock)


def caught_up(client: KeyunClient) -> bool:
    status = client.projection_status()
    return bool(status.owners) and not status.failure and all(owner.behind == 0 for owner in status.owners)


def expected_load(client: KeyunClient, trip_id: str, ticket_ids: list[str], departed: bool) -> dict:
    """A trip's load line, recomputed from its tickets as GetTicket shows them, the trip as its
    manifest shows it, and the network file's km."""
    tickets = [client.ticket(ticket_id) for ticket_id in ticket_ids]
    trip = client.manifest(trip_id).trip
    codes = [stop.code for stop in trip.stops]
    live = [t for t in tickets if t.status in LIVE]

    def km(ticket) -> int:
        return KM[ticket.to_stop.code] - KM[ticket.from_stop.code]

    legs = []
    for n in range(len(codes) - 1):
        aboard = [t for t in live if codes.index(t.from_stop.code) <= n < codes.index(t.to_stop.code)]
        legs.append(
            {
                "from_station": codes[n],
                "to_station": codes[n + 1],
                "km": KM[codes[n + 1]] - KM[codes[n]],
                "on_board": len(aboard),
                "checked_in": sum(1 for t in aboard if t.status == common_pb2.TICKET_STATUS_CHECKED_IN),
            }
        )
    absent = [t for t in live if t.status == common_pb2.TICKET_STATUS_ISSUED] if departed else []
    offered = trip.seats_total * (KM[codes[-1]] - KM[codes[0]])
    sold = sum(km(t) for t in live)
    return {
        "trips": 1,
        "seats": trip.seats_total,
        "tickets": len(live),
        "checked_in": sum(1 for t in live if t.status == common_pb2.TICKET_STATUS_CHECKED_IN),
        "no_shows": len(absent),
        "no_show_fen": sum(t.price_fen for t in absent),
        "peak_on_board": max(leg["on_board"] for leg in legs),
        "seat_km_offered": offered,
        "seat_km_sold": sold,
        "passenger_km": sum(km(t) * (2 if t.HasField("free_child") else 1) for t in live),
        "load_factor": sold / offered,
        "tickets_per_seat": len(live) / trip.seats_total,
        "legs": legs,
    }


def load_lines(client: KeyunClient, group_by: tuple[str, ...]) -> dict[tuple[str, ...], dict]:
    lines = client.load_report_lines(group_by, today(), today())
    return {tuple(line.group): as_dict(line) for line in lines}


def as_dict(message) -> dict:
    """A reply message as plain values (its `group` left out), nested messages and lists too."""
    return {
        field.name: plain(getattr(message, field.name)) for field in message.DESCRIPTOR.fields if field.name != "group"
    }


def plain(item):
    if hasattr(item, "DESCRIPTOR"):
        return as_dict(item)
    if isinstance(item, int | float | str | bool):
        return item
    return [plain(element) for element in item]


def test_load_by_leg_no_shows_and_passenger_km_equal_the_tickets(station):
    client = station["client"]
    trip = schedule_trip(client, "LDF1", BOARDING)
    other = schedule_trip(client, "LDF2", BOARDING + dt.timedelta(hours=2))
    # Segment sales: seat 3 is sold twice, AAA→BBB and BBB→DDD, so seats sold ≠ passengers aboard.
    sales = [
        client.sell(trip, "AAA", "DDD", seat_numbers=("1", "2")),
        client.sell(trip, "AAA", "BBB", seat_numbers=("3",)),
        client.sell(trip, "BBB", "DDD", seat_numbers=("3",)),
        client.sell(trip, "AAA", "CCC", seat_numbers=("4",)),
        client.sell(trip, "CCC", "DDD", seat_numbers=("5",)),
        client.sell(trip, "BBB", "CCC", seat_numbers=("6",)),
    ]
    sold = [t.ticket_id for sale in sales for t in sale.tickets]
    sold_other = [t.ticket_id for t in client.sell(other, "AAA", "CCC", seat_numbers=("1", "2", "3")).tickets]
    client.check_in(sold[0], "G1")  # seat 1, AAA→DDD
    client.check_in(sold[2], "G1")  # seat 3, AAA→BBB
    client.refund(sold[1])  # seat 2: its seat is free again
    client.depart(trip)

    expected = {
        (trip,): expected_load(client, trip, sold, departed=True),
        (other,): expected_load(client, other, sold_other, departed=False),
    }
    # Recomputed by hand too: legs AAA→BBB seats 1, 3, 4; BBB→CCC 1, 3, 4, 6; CCC→DDD 1, 3, 5.
    assert [leg["on_board"] for leg in expected[(trip,)]["legs"]] == [3, 4, 3]
    assert expected[(trip,)]["no_shows"] == 4 and expected[(trip,)]["tickets"] == 6
    assert expected[(trip,)]["seat_km_sold"] == 150 + 50 + 100 + 100 + 50 + 50  # of 12 x 150 offered
    try:
        wait_until(lambda: caught_up(client) and load_lines(client, ("trip",)) == expected, 30, "the load report")
    except AssertionError:
        raise AssertionError((load_lines(client, ("trip",)), expected)) from None

    # Rolled up by route: sums, the fullest leg of any trip, the factor of the sums; no legs.
    (route_line,) = load_lines(client, ("route",)).values()
    trips = list(expected.values())
    for measure in ("trips", "seats", "tickets", "checked_in", "no_shows", "seat_km_offered", "seat_km_sold"):
        assert route_line[measure] == sum(line[measure] for line in trips), measure
    assert route_line["peak_on_board"] == max(line["peak_on_board"] for line in trips)
    assert route_line["load_factor"] == route_line["seat_km_sold"] / route_line["seat_km_offered"]
    assert route_line["legs"] == []

    # The sales report: passenger-km of every ticket sold, and the no-shows on the departure's day.
    tickets = [client.ticket(ticket_id) for ticket_id in sold]  # the refunded one too: it was sold
    by_trip = {tuple(line.group): line for line in client.sales_report_lines(("trip",), today(), today())}
    line = by_trip[(trip,)]
    assert line.passenger_km == sum(KM[t.to_stop.code] - KM[t.from_stop.code] for t in tickets)
    assert (line.no_shows, line.no_show_fen) == (4, expected[(trip,)]["no_show_fen"])
    assert by_trip[(other,)].no_shows == 0  # not departed: nobody missed it yet

    # Paging walks the trips once.
    page = client.load_report(("trip",), today(), today(), page_size=1)
    rest = client.load_report(("trip",), today(), today(), page_size=1, page_token=page.next_page_token)
    assert page.total_lines == 2 and not rest.next_page_token
    assert {page.lines[0].group[0], rest.lines[0].group[0]} == {trip, other}


def test_a_closed_shift_reconciles_to_the_fen(station):
    server, client = station["server"], station["client"]
    trip = schedule_trip(client, "LDF3", BOARDING + dt.timedelta(hours=1))
    later = schedule_trip(client, "LDF4", BOARDING + dt.timedelta(hours=3))
    with logged_in(KeyunClient(server.target), "stock", clock=server.clock) as stock:
        batch = stock.receive_stock("00000001", "00000099", batch_code="LDF").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000020")
    with logged_in(KeyunClient(server.target), "counter1", clock=server.clock) as seller:
        shift = seller.open_shift("W21")
        cash = seller.sell(trip, "AAA", "DDD", seat_numbers=("1", "2", "3"))
        card = seller.sell(trip, "BBB", "DDD", seat_numbers=("4",), pay_method=orders_pb2.PAY_METHOD_CARD)
        seller.refund(cash.tickets[0].ticket_id)
        seller.void_ticket(cash.tickets[1].ticket_id)
        seller.change_ticket(cash.tickets[2].ticket_id, later)  # a rebooking: only its difference counts
        closed = seller.close_shift(counted_cash_fen=4000)
    tickets = [client.ticket(t.ticket_id) for t in (*cash.tickets, *card.tickets)]
    slip = closed.slip
    # The slip itself agrees with the tickets as GetTicket shows them.
    assert slip.sold_fen == sum(t.price_fen for t in tickets) and slip.sold_count == 4
    assert slip.refunded_fen == tickets[0].refunded_fen and slip.voided_fen == tickets[1].price_fen
    assert slip.changed_count == 1

    def line():
        lines = {line.shift_id: line for line in client.shift_report_lines(today(), today())}
        return lines.get(shift.shift_id)

    wait_until(lambda: caught_up(client) and line() is not None, 30, "the shift is in the report")
    reported = line()
    assert reported.reconciled and not reported.differences and reported.difference_fen == 0
    assert (reported.seller, reported.counter_id) == (shift.account_id, "W21")
    assert as_dict(reported.slip) == as_dict(reported.tickets)
    for name in ("sold_count", "sold_fen", "refunded_count", "refunded_fen", "refund_fees_fen", "voided_fen"):
        assert getattr(reported.slip, name) == getattr(slip, name), name
    methods = {m.method: m for m in reported.tickets.methods}
    assert set(methods) == {orders_pb2.PAY_METHOD_CASH, orders_pb2.PAY_METHOD_CARD}
    assert methods[orders_pb2.PAY_METHOD_CARD].sold_fen == card.tickets[0].price_fen
    assert list(slip.methods) == list(reported.tickets.methods)  # method by method, as the slip printed


def test_keyun_report_load_and_shifts(station, capsys, monkeypatch):
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    server = ["--server", station["server"].target, "--user", "finance"]
    assert keyun_main(["report", "load", "--by", "trip", "--format", "csv", *server]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.startswith("trip,trips,seats,tickets,checked_in,no_shows,")
    assert {line.split(",")[0] for line in lines} >= {f"LDF1-{today().replace('-', '')}"}
    assert keyun_main(["report", "load", "--by", "trip", "--format", "json", *server]) == 0
    trips = json.loads(capsys.readouterr().out)
    assert all(len(trip["legs"]) == 3 for trip in trips)
    assert keyun_main(["report", "load", "--by", "trip", *server]) == 0
    out = capsys.readouterr().out
    assert f"LDF1-{today().replace('-', '')}: on board by leg" in out
    assert keyun_main(["report", "shifts", "--format", "json", *server]) == 0
    shifts = json.loads(capsys.readouterr().out)
    assert all(shift["reconciled"] and "slip_sold_fen" in shift for shift in shifts)
    assert keyun_main(["report", "shifts", *server]) == 0
    assert "slip_net_fen" in capsys.readouterr().out


def test_a_rebuild_from_the_logs_gives_the_same_load_and_shift_reports(station):
    client = station["client"]
    wait_until(lambda: caught_up(client), 30, "the projector caught up")
    before = (load_lines(client, ("trip",)), [as_dict(line) for line in client.shift_report_lines(today(), today())])
    assert before[0] and before[1]
    client.close()
    station["server"].stop()
    try:
        # The projector's process may take a moment to go; until then the store is in use.
        rebuild = ["report", "rebuild", "--data-dir", str(station["data_dir"])]
        wait_until(lambda: keyun_main(rebuild) == 0, 30, "the rebuild ran")
    finally:
        station["server"], station["client"] = start(station["data_dir"])
    client = station["client"]
    wait_until(lambda: caught_up(client), 30, "the projector caught up")
    after = (load_lines(client, ("trip",)), [as_dict(line) for line in client.shift_report_lines(today(), today())])
    assert after == before


def test_bad_load_and_shift_requests_are_refused(station):
    client = station["client"]
    for call, reason in (
        (lambda: client.load_report(("seller",), today(), today()), "INVALID_FIELD"),
        (lambda: client.load_report(("trip", "trip"), today(), today()), "INVALID_FIELD"),
        (lambda: client.load_report((), "2026-13-40", today()), "INVALID_FIELD"),
        (lambda: client.load_report((), today(), "2001-01-01"), "INVALID_FIELD"),
        (lambda: client.load_report((), today(), today(), page_size=5000), "INVALID_FIELD"),
        (lambda: client.shift_report("last week", today()), "INVALID_FIELD"),
        (lambda: client.shift_report(today(), today(), page_token="-1"), "BAD_PAGE_TOKEN"),
    ):
        with pytest.raises(KeyunError) as refused:
            call()
        assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    with KeyunClient(station["server"].target) as passenger:
        passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
        for call in (
            lambda: passenger.load_report((), today(), today()),
            lambda: passenger.shift_report(today(), today()),
        ):
            with pytest.raises(KeyunError) as refused:
                call()
            assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_store_of_the_older_layout_is_projected_again(tmp_path):
    """A store made before the distances and the slips' totals were kept lacks their columns: it
    is emptied on opening, so that the projector reads every log again and fills them."""
    path = store_path(tmp_path)
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as old:
        old.execute(
            "CREATE TABLE positions (owner VARCHAR PRIMARY KEY, lsn BIGINT NOT NULL, crc BIGINT NOT NULL, "
            "records BIGINT NOT NULL, events BIGINT NOT NULL, gaps BIGINT NOT NULL, updated_ms BIGINT NOT NULL)"
        )
        old.execute("INSERT INTO positions VALUES ('shards/0000', 41, 7, 41, 90, 0, 0)")
        old.execute("CREATE TABLE trips (trip_id VARCHAR PRIMARY KEY, stops VARCHAR)")
    store = ReportStore(tmp_path, None)
    try:
        assert store.positions == {}  # every log is read again from its start
        columns = {
            row[0]
            for row in store.db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'trips'"
            ).fetchall()
        }
        assert "stop_km" in columns
    finally:
        store.close()
    store = ReportStore(tmp_path, None)  # the current layout is kept as it is
    try:
        store.db.execute("INSERT INTO positions VALUES ('accounts', 3, 1, 3, 3, 0, 0)")
    finally:
        store.close()
    store = ReportStore(tmp_path, None)
    try:
        assert set(store.positions) == {"accounts"}
    finally:
        store.close()


def test_a_slip_that_disagrees_with_its_tickets_is_not_reconciled(tmp_path):
    """What a difference looks like: a sale that reached its trip owner after the shift closed
    (docs/shifts.md, known limits) is in the tickets of the shift but not on its slip."""
    store = ReportStore(tmp_path, None)
    try:
        store.db.execute(
            "INSERT INTO shifts (shift_id, seller, counter_id, opened_ms, closed_ms, sold_count, sold_fen, "
            "refunded_count, refunded_fen, refund_fees_fen, voided_count, voided_fen, changed_count, changed_fen) "
            "VALUES ('SH1', 'A1', 'W1', 1, 2000, 1, 1500, 0, 0, 0, 0, 0, 0, 0)"
        )
        store.db.execute("INSERT INTO shift_methods VALUES ('SH1', 'cash', 1500, 0, 0, 0, 1500)")
        for ticket_id, method in (("T1", "cash"), ("T2", "card")):
            store.db.execute(
                "INSERT INTO tickets (ticket_id, price_fen, shift_id, pay_method, changed_from) "
                "VALUES (?, 1500, 'SH1', ?, '')",
                [ticket_id, method],
            )
        (line,), total = store.shifts(ShiftQuery(0, 3000))
        assert total == 1 and not line["reconciled"] and line["difference_fen"] == 1500
        assert line["differences"] == ["sold_count", "sold_fen", "net_fen", "card.sold_fen", "card.net_fen"]
        assert store.shifts(ShiftQuery(2001, 3000)) == ([], 0)  # closed before the period
    finally:
        store.close()
