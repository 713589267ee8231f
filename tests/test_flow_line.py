"""Departure-when-full lines (流水班) through gRPC on a real server with two trip owners: a line
sells coach after coach, three coaches fill and depart in turn, no seat-leg is sold twice, a
no-show of coach 1 boards coach 2, search shows the line as one offer, a restart keeps the open
coach and its number, and a bad flow table is refused (docs/dispatch.md "Departure-when-full lines")."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from keyun.gateway.flow_lines import FLOW_SWEEP_S
from keyun.gateway.shared_answers import SEARCH_CACHE_S
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2

from .clocks import OffsetClock
from .conftest import CHINA, STATIONS, ServerThread, logged_in
from .waiting import wait_until

LIVE = (common_pb2.TICKET_STATUS_ISSUED, common_pb2.TICKET_STATUS_CHECKED_IN)
TAGS = itertools.count(1)
SEATS = 4  # the line's coach: four seats, so three coaches fill quickly


def flow_network(schedule_id: str, flow: str) -> str:
    return (
        STATIONS
        + f"""
[[vehicles]]
id = "van4"
name = "4座面包"
seats = {SEATS}

[[schedules]]
id = "{schedule_id}"
route = "LINE"
operator = "TESTOP"
vehicle = "van4"
flow = {flow}
"""
    )


def line_day() -> dt.date:
    """The line's day: today in Beijing, or tomorrow late in the evening (the line loads to 23:59)."""
    return (dt.datetime.now(CHINA) + dt.timedelta(hours=2)).date()


def coach(schedule_id: str, number: int) -> str:
    return f"{schedule_id}-{line_day():%Y%m%d}-F{number:02d}"


def load_line(client: KeyunClient) -> str:
    schedule_id = f"FL{next(TAGS)}"
    flow = '{ max_wait_minutes = 30, first = "00:00", last = "23:59" }'
    client.load_network(flow_network(schedule_id, flow), line_day().isoformat(), 1)
    return schedule_id


def line_offers(station: dict, schedule_id: str) -> list[tuple[str, int]]:
    """The search's offers of the line (coach, free seats): a fresh answer, past the shared ones."""
    station["server"].clock.advance_s(SEARCH_CACHE_S + 1)
    offers = station["client"].search("AAA", "DDD", line_day().isoformat()).offers
    return [(o.trip.trip_id, o.seats_free) for o in offers if o.trip.schedule_id == schedule_id]


def seat_legs_once(client: KeyunClient, trip_ids: list[str]) -> None:
    """No seat-leg of any coach is held by two live tickets."""
    for trip_id in trip_ids:
        manifest = client.manifest(trip_id, page_size=500)
        stops = [s.code for s in manifest.trip.stops]
        legs: dict[tuple[str, int], str] = {}
        for ticket in manifest.tickets:
            if ticket.status not in LIVE:
                continue
            for leg in range(stops.index(ticket.from_stop.code), stops.index(ticket.to_stop.code)):
                key = (ticket.seat_number, leg)
                assert key not in legs, f"{trip_id}: seat-leg {key} sold to {legs[key]} and {ticket.ticket_id}"
                legs[key] = ticket.ticket_id


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    data = tmp_path_factory.mktemp("flow")
    server = ServerThread(data, shards=2, clock=OffsetClock())
    now = {"server": server, "client": logged_in(KeyunClient(server.target), clock=server.clock), "data": data}
    yield now  # the restart test replaces the server and its client
    now["client"].close()
    now["server"].stop()


def test_a_line_runs_three_coaches(station):
    client = station["client"]
    line = load_line(client)
    first = coach(line, 1)
    assert client.trip(first).flow_max_wait_minutes == 30
    assert line_offers(station, line) == [(first, SEATS)]

    # Sales name the line's first coach; each lands on the coach loading then.
    sold: dict[str, list] = {}
    for _ in range(3 * SEATS - 1):
        ticket = client.sell(first, "AAA", "DDD", seat_count=1).tickets[0]
        sold.setdefault(ticket.trip.trip_id, []).append(ticket)
    assert [len(sold[coach(line, k)]) for k in (1, 2, 3)] == [SEATS, SEATS, SEATS - 1]
    # Coaches 1 and 2 are full but wait to leave; the line shows coach 3, with its one free seat.
    assert line_offers(station, line) == [(coach(line, 3), 1)]

    # A party of two does not fit coach 3's last seat: it goes on to coach 4.
    party = client.sell(coach(line, 3), "AAA", "DDD", seat_count=2).tickets
    assert {t.trip.trip_id for t in party} == {coach(line, 4)}

    # Coach 1's passengers board but one, and it departs; coach 2 boards and departs full.
    for ticket in sold[coach(line, 1)][1:]:
        client.check_in(ticket.ticket_id, "G1")
    assert client.depart(coach(line, 1)).status == common_pb2.TRIP_STATUS_DEPARTED
    for ticket in sold[coach(line, 2)]:
        client.check_in(ticket.ticket_id, "G1")
    client.depart(coach(line, 2))
    # The no-show of coach 1 boards the next coach with room: coach 3's last seat.
    no_show = sold[coach(line, 1)][0]
    boarded = client.check_in(no_show.ticket_id, "G1")
    assert boarded.trip.trip_id == coach(line, 3)
    assert boarded.status == common_pb2.TICKET_STATUS_CHECKED_IN
    assert client.ticket(boarded.ticket_id).changed_from == no_show.ticket_id
    old = client.ticket(no_show.ticket_id)
    assert old.status == common_pb2.TICKET_STATUS_CHANGED and old.changed_to == boarded.ticket_id
    # Scanning the old ticket again is a second scan of the boarded one: refused, nothing moves.
    with pytest.raises(KeyunError) as refused:
        client.check_in(no_show.ticket_id, "G1")
    assert refused.value.reason == "ALREADY_CHECKED_IN"
    assert client.ticket(no_show.ticket_id).changed_to == boarded.ticket_id
    for ticket in sold[coach(line, 3)]:
        client.check_in(ticket.ticket_id, "G1")
    client.depart(coach(line, 3))
    statuses = [client.trip(coach(line, k)).status for k in (1, 2, 3)]
    assert statuses == [common_pb2.TRIP_STATUS_DEPARTED] * 3

    # A sale naming a departed coach sells on the one loading.
    later = client.sell(first, "AAA", "BBB", seat_count=1).tickets[0]
    assert later.trip.trip_id == coach(line, 4)
    coaches = [coach(line, k) for k in (1, 2, 3, 4)]
    seat_legs_once(client, coaches)
    # Every passenger sold to is live exactly once: on the coach sold, or moved once (the no-show).
    live = [t for trip_id in coaches for t in client.manifest(trip_id, page_size=500).tickets if t.status in LIVE]
    assert len(live) == 3 * SEATS - 1 + 2 + 1
    assert len({t.ticket_id for t in live}) == len(live)


@pytest.mark.parametrize(
    "flow, problem",
    [
        ('{ max_wait_minutes = 0, first = "06:00", last = "20:00" }', "max_wait_minutes"),
        ('{ max_wait_minutes = 30, first = "21:00", last = "20:00" }', "flow.last"),
        ('{ max_wait_minutes = 30, first = "6am", last = "20:00" }', "flow.first"),
        ('{ max_wait_minutes = 30, first = "06:00", last = "20:00", every = 5 }', "flow.every"),
        ("30", "flow"),
    ],
)
def test_a_bad_flow_table_is_refused(station, flow, problem):
    client = station["client"]
    with pytest.raises(KeyunError) as refused:
        client.load_network(flow_network("FLBAD", flow), line_day().isoformat(), 1)
    assert refused.value.reason == "BAD_FLOW" and refused.value.reason_code == 6120
    assert problem in refused.value.message
    with pytest.raises(KeyunError):
        client.trip(coach("FLBAD", 1))  # nothing was loaded


def test_a_flow_schedule_has_no_fixed_time(station):
    client = station["client"]
    text = flow_network("FLTIME", '{ max_wait_minutes = 30, first = "06:00", last = "20:00" }')
    text = text.replace('vehicle = "van4"\n', 'vehicle = "van4"\ndeparts = "08:00"\n')
    with pytest.raises(KeyunError) as refused:
        client.load_network(text, line_day().isoformat(), 1)
    assert refused.value.reason == "BAD_FLOW" and "leave out departs" in refused.value.message


def test_concurrent_sales_fill_coach_after_coach_and_never_sell_a_seat_twice(station):
    client = station["client"]
    line = load_line(client)
    sales = 3 * SEATS
    with ThreadPoolExecutor(max_workers=6) as pool:
        sold = list(
            pool.map(lambda _: client.sell(coach(line, 1), "AAA", "DDD", seat_count=1).tickets[0], range(sales))
        )
    by_coach = Counter(t.trip.trip_id for t in sold)
    assert sum(by_coach.values()) == sales and len({t.ticket_id for t in sold}) == sales
    # Each coach holds at most its seats; every one before the last is full.
    numbers = sorted(int(trip_id.rpartition("F")[2]) for trip_id in by_coach)
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(by_coach[coach(line, n)] == SEATS for n in numbers[:-1]) and by_coach[coach(line, numbers[-1])] <= SEATS
    seat_legs_once(client, [coach(line, n) for n in numbers])


def test_a_coach_departs_at_its_maximum_wait(station):
    """The server's flow sweep departs a coach its maximum wait after its first sale, and the next opens."""
    client = station["client"]
    line = load_line(client)
    client.sell(coach(line, 1), "AAA", "DDD", seat_count=1)
    station["server"].clock.advance(29 * 60_000)  # not yet: the wait is 30 minutes
    logged_in(client, clock=station["server"].clock)  # the session idled out meanwhile
    assert client.trip(coach(line, 1)).status != common_pb2.TRIP_STATUS_DEPARTED
    station["server"].clock.advance(2 * 60_000)
    wait_until(
        lambda: client.trip(coach(line, 1)).status == common_pb2.TRIP_STATUS_DEPARTED,
        4 * FLOW_SWEEP_S,
        "the coach departed at its maximum wait",
    )
    # The sweep departs the coach, then opens the next: a search between the two still names the first.
    wait_until(
        lambda: line_offers(station, line) == [(coach(line, 2), SEATS)], 4 * FLOW_SWEEP_S, "the next coach opened"
    )
    assert client.sell(coach(line, 1), "AAA", "DDD", seat_count=1).tickets[0].trip.trip_id == coach(line, 2)


def test_a_restart_keeps_the_open_coach(station):
    """Last in the file: it restarts the module's server."""
    client = station["client"]
    line = load_line(client)
    for _ in range(SEATS + 1):
        client.sell(coach(line, 1), "AAA", "DDD", seat_count=1)
    client.close()
    station["server"].stop()
    station["server"] = server = ServerThread(station["data"], shards=2, clock=OffsetClock())
    station["client"] = restarted = logged_in(KeyunClient(server.target), clock=server.clock)
    assert line_offers(station, line) == [(coach(line, 2), SEATS - 1)]
    ticket = restarted.sell(coach(line, 1), "AAA", "DDD", seat_count=1).tickets[0]
    assert ticket.trip.trip_id == coach(line, 2)
    seat_legs_once(restarted, [coach(line, 1), coach(line, 2)])
