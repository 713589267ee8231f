"""A dispatcher's day (issue 23's "Done when") against ONE real server that requires the safety
check before check-in: through the dispatch console (Textual's Pilot) the dispatcher reports a
coach in (refused for an expired certificate, then accepted), passes the safety check (check-in
opens only then), changes to a smaller coach (the console lists who does not fit, then refunds
them) and departs with the crew on board; the trip sheet's totals equal the manifest.  Through
gRPC: a quota holds seats for stop CCC until its release time (the server's clock moves), an extra
run sells at once, a merge under concurrent sales neither loses nor doubles a passenger (seat-leg
audit), and a departure-when-full line runs three coaches, shown in the console as "departs when
full".  Last, the console moves the passenger a smaller coach has no seat for onto another trip.

The helpers are the per-feature tests' (imported, not copied)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading

import pytest

from keyun.engine.policy import Policy
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.terminals.counter_widgets import Confirm
from keyun.terminals.dispatch_console import ConsoleScreen, DispatchConsole, Pick, SafetyCheck
from keyun.terminals.dispatch_desk import DispatchDesk
from keyun.v1 import common_pb2

from .clocks import OffsetClock
from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .test_dispatch_console import SIZE, _date, _pick, _settled, _vehicle
from .test_fleet import driver
from .test_flow_line import SEATS, coach, line_day, line_offers, load_line
from .test_flow_line import seat_legs_once as coach_legs_once
from .test_merge_runs import LIVE, audit, two_trips
from .test_quotas import free_seats, refused, sold_seats
from .test_trip_sheet import recomputed, totals_of
from .waiting import wait_until

MINUTE_MS = 60_000
TAGS = itertools.count(1)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(
        tmp_path_factory.mktemp("day"), shards=2, policy=Policy(require_safety_check=True), clock=OffsetClock()
    )
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    yield {"server": server, "client": client}
    client.close()
    server.stop()


def test_the_console_reports_in_checks_changes_the_coach_and_departs_and_the_sheet_is_the_manifest(station, tmp_path):
    client: KeyunClient = station["client"]
    trip = schedule_trip(client, f"DAY{next(TAGS)}", dt.timedelta(minutes=30))  # boarding has opened
    travel = dt.date.fromisoformat(_date(trip))
    far = (travel + dt.timedelta(days=365)).isoformat()
    expired = client.add_vehicle(_vehicle("京E10001", (travel - dt.timedelta(days=1)).isoformat(), far))
    valid = client.add_vehicle(_vehicle("京E10002", far, far))
    wang = client.add_driver(driver("王日班", "QC20261208", departs_in=dt.timedelta(minutes=30)))
    # Seat 1 boards early; seats 9 and 10 are on seats an 8-seat coach lacks, and it has no other free.
    first = client.sell(trip, "AAA", "DDD", seat_numbers=("1",)).tickets[0]
    lacking = {t.ticket_id for t in client.sell(trip, "AAA", "DDD", seat_numbers=("9", "10")).tickets}
    kept = client.sell(trip, "AAA", "CCC", seat_numbers=("2",)).tickets[0]
    client.sell(trip, "AAA", "DDD", seat_numbers=tuple(str(n) for n in range(3, 9)))  # seats 1-8 taken
    assert refused(client.check_in, first.ticket_id, "G1").reason == "SAFETY_CHECK_PENDING"

    app = DispatchConsole(station["server"].target, station="AAA", date=travel.isoformat(), print_dir=tmp_path)

    async def day():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"dispatcher", "enter", *DEMO_PASSWORD, "enter")
            await _settled(app, pilot, "the console", lambda: isinstance(app.screen, ConsoleScreen))
            console: ConsoleScreen = app.screen  # type: ignore[assignment]
            await _settled(app, pilot, "the day's trips", lambda: trip in console.rows)
            table_row = list(console.rows).index(trip)
            await pilot.click("#trips", offset=(3, 1 + table_row))
            await _settled(app, pilot, "the trip chosen", lambda: console.selected_trip_id() == trip)

            # Report-in: the coach whose insurance ran out is refused, a valid one accepted.
            await pilot.press("i")
            await _pick(app, pilot, expired.vehicle_id)
            await _pick(app, pilot, wang.driver_id)
            await _settled(app, pilot, "the refusal", lambda: "refused" in console.messages[-1])
            assert "CERTIFICATE_EXPIRED 6005" in console.messages[-1]
            assert client.trip(trip).plate == ""
            await pilot.press("i")
            await _pick(app, pilot, valid.vehicle_id)
            await _pick(app, pilot, wang.driver_id)
            await _settled(app, pilot, "the report-in", lambda: console.rows[trip].trip.plate == "京E10002")

            # The safety check passed: check-in opens.
            await pilot.press("k")
            await _settled(app, pilot, "the safety check", lambda: isinstance(app.screen, SafetyCheck))
            await pilot.press("ctrl+s")
            await _settled(app, pilot, "the check", lambda: console.rows[trip].trip.safety_check == "passed")
            assert client.check_in(first.ticket_id, "G1").status == common_pb2.TICKET_STATUS_CHECKED_IN

            # An 8-seat coach: the console lists the two who do not fit, then refunds them.
            await pilot.press("v", *"8 金龙8座", "enter")
            await _settled(app, pilot, "who does not fit", lambda: isinstance(app.screen, Pick))
            assert set(console.unfit) == lacking
            assert "VEHICLE_TOO_SMALL 6142" in console.messages[-1]
            assert client.trip(trip).seats_total == 12  # nothing changed yet
            await _pick(app, pilot, "refund")
            await _settled(app, pilot, "the change", lambda: console.rows[trip].departure.seats_total == 8)
            assert "2 refunded" in console.messages[-1]

            # Departure with a conductor on board and a note.
            await pilot.press("p", *"王五:conductor / 准点", "enter")
            await _settled(app, pilot, "the question", lambda: isinstance(app.screen, Confirm))
            await pilot.press("enter")
            await _settled(app, pilot, "the departure", lambda: "departed" in console.messages[-1])

    asyncio.run(day())

    tickets = {t.ticket_id: t for t in client.manifest(trip, page_size=200).tickets}
    assert {t for t, ticket in tickets.items() if ticket.status == common_pb2.TICKET_STATUS_REFUNDED} == lacking
    assert tickets[kept.ticket_id].status in LIVE
    sheet = client.trip_sheet(trip)
    manifest = client.manifest(trip, page_size=200)
    assert (sheet.plate, sheet.note, [s.role for s in sheet.staff]) == ("京E10002", "准点", ["conductor"])
    assert totals_of(sheet.totals) == recomputed(manifest.tickets)
    assert (sheet.tickets_issued, sheet.tickets_checked_in, sheet.tickets_refunded) == (
        manifest.tickets_issued,
        manifest.tickets_checked_in,
        manifest.tickets_refunded,
    )
    assert (sheet.totals.tickets_sold, sheet.totals.checked_in, sheet.totals.refunded) == (8, 1, 2)


def test_a_quota_holds_seats_for_ccc_until_its_release_and_an_extra_run_sells_at_once(station):
    server, client = station["server"], station["client"]
    trip = schedule_trip(client, f"DAY{next(TAGS)}", dt.timedelta(hours=5))
    c_departs_ms = client.trip(trip).stops[2].departs_at.ToMilliseconds()
    # Four seats for CCC, released ten minutes from now (minutes before CCC's departure).
    release_before = (c_departs_ms - server.clock.now_ms()) // MINUTE_MS - 10
    (quota,) = client.set_seat_quota(trip, "CCC", seat_count=4, release_before_minutes=release_before).quotas
    kept = set(quota.seat_numbers)
    assert sold_seats(client.sell(trip, "AAA", "DDD", seat_count=8)).isdisjoint(kept)
    assert refused(client.sell, trip, "AAA", "DDD", seat_count=1).reason == "NOT_ENOUGH_SEATS"
    from_c = sold_seats(client.sell(trip, "CCC", "DDD", seat_count=1))
    assert from_c <= kept

    server.clock.advance(quota.release_at.ToMilliseconds() - server.clock.now_ms() + 1000)
    wait_until(lambda: client.seat_plan(trip).quotas[0].released, 30, "the quota released")
    assert kept - from_c <= free_seats(client, trip, "AAA", "DDD")  # back in the general pool
    assert sold_seats(client.sell(trip, "AAA", "DDD", seat_count=3)) <= kept

    # An extra run on the trip's route, an hour later, sells at once.
    departs_ms = client.trip(trip).stops[0].departs_at.ToMilliseconds() + 60 * MINUTE_MS
    extra = client.add_extra_run(departs_ms, trip_id=trip).trip.trip_id
    assert client.sell(extra, "AAA", "DDD", seat_count=2).tickets[0].trip.trip_id == extra


def test_a_merge_under_concurrent_sales_neither_loses_nor_doubles_a_passenger(station):
    server, client = station["server"], station["client"]
    old_trip, new_trip = two_trips(client)
    sold = {t.ticket_id for t in client.sell(old_trip, "AAA", "DDD", seat_count=3).tickets}
    sold |= {t.ticket_id for t in client.sell(new_trip, "BBB", "DDD", seat_count=2).tickets}
    start, lock = threading.Barrier(3), threading.Lock()

    def sell(trip_id: str) -> None:
        seller = logged_in(KeyunClient(server.target), clock=server.clock)
        start.wait()
        for _ in range(3):
            try:
                ids = {t.ticket_id for t in seller.sell(trip_id, "AAA", "CCC", seat_count=1).tickets}
            except KeyunError as error:
                assert error.reason == "TRIP_CANCELLED", error  # the old trip stopped selling
                continue
            with lock:
                sold.update(ids)
        seller.close()

    sellers = [threading.Thread(target=sell, args=(t,)) for t in (old_trip, new_trip)]
    for seller in sellers:
        seller.start()
    start.wait()
    merged = client.merge_trips(old_trip, new_trip)
    for seller in sellers:
        seller.join()
    assert not merged.not_moved
    live_of = audit(client, sold, old_trip, new_trip)  # every passenger live exactly once, no seat-leg twice
    assert len(live_of) == len(sold)


def test_a_departure_when_full_line_runs_three_coaches_shown_as_departs_when_full(station):
    client = station["client"]
    line = load_line(client)
    for _ in range(3 * SEATS):
        client.sell(coach(line, 1), "AAA", "DDD", seat_count=1)
    coaches = [coach(line, k) for k in (1, 2, 3)]
    assert [len(client.manifest(c, page_size=50).tickets) for c in coaches] == [SEATS] * 3
    for number in coaches:
        assert client.depart(number).status == common_pb2.TRIP_STATUS_DEPARTED
    coach_legs_once(client, coaches)
    # The next coach is open; the console shows it with no fixed time.
    assert line_offers(station, line) == [(coach(line, 4), SEATS)]
    rows = {r.trip_id: r for r in DispatchDesk(client).day("AAA", line_day().isoformat(), lambda _: None)}
    assert "departs when full" in rows[coach(line, 4)].state()
    assert rows[coach(line, 4)].cells()[0] == "when full" and "流水" in rows[coach(line, 4)].cells()[1]
    assert rows[coach(line, 1)].state().startswith("departed")


def test_the_console_moves_who_does_not_fit_a_smaller_coach_to_another_trip(station):
    client: KeyunClient = station["client"]
    now = dt.datetime.now(CHINA)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    small, roomy = (schedule_trip(client, f"DAY{next(TAGS)}", tomorrow + dt.timedelta(hours=n) - now) for n in (0, 1))
    client.sell(small, "AAA", "DDD", seat_numbers=tuple(str(n) for n in range(1, 9)))
    (unseated,) = client.sell(small, "AAA", "DDD", seat_numbers=("9",)).tickets
    app = DispatchConsole(station["server"].target, station="AAA", date=tomorrow.date().isoformat())

    async def change():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"dispatcher", "enter", *DEMO_PASSWORD, "enter")
            await _settled(app, pilot, "the console", lambda: isinstance(app.screen, ConsoleScreen))
            console: ConsoleScreen = app.screen  # type: ignore[assignment]
            await _settled(app, pilot, "the day's trips", lambda: {small, roomy} <= set(console.rows))
            await pilot.click("#trips", offset=(3, 1 + list(console.rows).index(small)))
            await _settled(app, pilot, "the trip chosen", lambda: console.selected_trip_id() == small)
            await pilot.press("v", "8", "enter")
            await _settled(app, pilot, "who does not fit", lambda: isinstance(app.screen, Pick))
            assert console.unfit == [unseated.ticket_id]
            await _pick(app, pilot, f"move {roomy}")
            await _settled(app, pilot, "the move", lambda: "1 moved" in console.messages[-1])

    asyncio.run(change())
    moved = client.ticket(unseated.ticket_id)
    assert moved.status == common_pb2.TICKET_STATUS_CHANGED
    assert client.ticket(moved.changed_to).trip.trip_id == roomy
    assert client.trip(small).seats_total == 8
    audit(client, {t.ticket_id for t in client.manifest(small, page_size=50).tickets}, small, roomy)
