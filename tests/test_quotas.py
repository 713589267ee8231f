"""Seat quotas for stops (配载), blocked seats and extra runs (加班) through the gRPC API, against a
real server (docs/dispatch.md).  The line is AAA→BBB→CCC→DDD (40 minutes a leg) on a 12-seat
minibus; time moves by the server's clock (tests/clocks.py), never by sleeping."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import audit_pb2, audit_pb2_grpc, dispatch_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .test_board import Watch, departure
from .waiting import wait_until

MINUTE_MS = 60_000


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


def sold_seats(reply) -> set[str]:
    return {ticket.seat_number for ticket in reply.tickets}


def free_seats(client: KeyunClient, trip_id: str, frm: str, to: str) -> set[str]:
    seat_map = client.seat_map(trip_id, frm, to)
    return {seat.seat_number for row in seat_map.rows for seat in row.seats if seat.seat_number and seat.free}


def offer_free(client: KeyunClient, trip_id: str, frm: str, to: str, date: str) -> int | None:
    offers = client.search(frm, to, date).offers
    return next((offer.seats_free for offer in offers if offer.trip.trip_id == trip_id), None)


def test_a_quota_holds_seats_for_its_stop_until_release_and_survives_a_restart(ray_session, tmp_path):
    first = ServerThread(tmp_path, shards=2)
    clock = first.clock
    departs = dt.datetime.now(CHINA) + dt.timedelta(hours=5)
    date = departs.date().isoformat()
    try:
        client = logged_in(KeyunClient(first.target), clock=clock)
        trip_id = schedule_trip(client, "Q1", dt.timedelta(hours=5))
        c_departs_ms = client.trip(trip_id).stops[2].departs_at.ToMilliseconds()
        # Seat 12 is the crew's; 4 seats are kept for CCC until 2 hours before the coach leaves CCC.
        blocked = client.block_seats(trip_id, ["12"], "crew")
        assert [(b.seat_number, b.reason) for b in blocked.blocked] == [("12", dispatch_pb2.BLOCK_REASON_CREW)]
        plan = client.set_seat_quota(trip_id, "CCC", seat_count=4, release_before_minutes=120)
        (quota,) = plan.quotas
        kept = set(quota.seat_numbers)
        assert len(kept) == 4 and "12" not in kept and not quota.released
        assert quota.release_at.ToMilliseconds() == c_departs_ms - 120 * MINUTE_MS

        # Search, seat maps and the board count only what AAA may buy: 12 - 1 blocked - 4 kept.
        assert offer_free(client, trip_id, "AAA", "DDD", date) == 7
        assert not free_seats(client, trip_id, "AAA", "DDD") & (kept | {"12"})
        assert free_seats(client, trip_id, "CCC", "DDD") >= kept
        board = next(client.watch_departures("AAA", date, timeout_s=30))
        row = departure(board, trip_id)
        assert {s.stop_code: s.seats_free for s in row.seats}["DDD"] == 7

        # AAA sells the 7 it may, and no more; a kept seat named from AAA is refused by reason.
        from_a = client.sell(trip_id, "AAA", "DDD", seat_count=7)
        assert not sold_seats(from_a) & kept
        error = refused(client.sell, trip_id, "AAA", "DDD", seat_count=1)
        assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_ENOUGH_SEATS")
        error = refused(client.sell, trip_id, "AAA", "DDD", seat_numbers=(sorted(kept)[0],))
        assert (error.reason, error.facts.get("stop")) == ("SEAT_RESERVED", "CCC")
        error = refused(client.sell, trip_id, "BBB", "DDD", seat_numbers=("12",))
        assert error.reason == "SEAT_BLOCKED"
        # CCC's passengers get the kept seats first.
        from_c = client.sell(trip_id, "CCC", "DDD", seat_count=2)
        assert sold_seats(from_c) <= kept
        client.close()
    finally:
        first.stop()

    second = ServerThread(tmp_path, shards=2, clock=clock)  # the same clock: time goes on
    try:
        client = logged_in(KeyunClient(second.target), clock=clock)
        plan = client.seat_plan(trip_id)
        assert [(q.stop, set(q.seat_numbers), q.seats_unsold) for q in plan.quotas] == [("CCC", kept, 2)]
        assert [b.seat_number for b in plan.blocked] == ["12"]
        assert refused(client.sell, trip_id, "AAA", "DDD", seat_count=1).reason == "NOT_ENOUGH_SEATS"

        # At the release time the two unsold kept seats go back to the general pool.
        clock.advance(c_departs_ms - 120 * MINUTE_MS - clock.now_ms())
        client.close()
        client = logged_in(KeyunClient(second.target), clock=clock)  # the session ended meanwhile
        assert client.seat_plan(trip_id).quotas[0].released
        assert offer_free(client, trip_id, "AAA", "DDD", date) == 2
        late = client.sell(trip_id, "AAA", "DDD", seat_count=2)
        assert sold_seats(late) <= kept
        assert refused(client.sell, trip_id, "AAA", "DDD", seat_count=1).reason == "NOT_ENOUGH_SEATS"
        client.close()
    finally:
        second.stop()


def test_blocked_seats_and_refusals(keyun):
    client = keyun.client
    trip_id = keyun.trip(dt.timedelta(hours=6))
    sold = client.sell(trip_id, "AAA", "BBB", seat_numbers=("3",))
    ticket_id = sold.tickets[0].ticket_id
    error = refused(client.block_seats, trip_id, ["3"], "broken")
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAT_IN_USE")
    assert ticket_id in error.message
    client.block_seats(trip_id, ["4"], "broken")
    assert refused(client.sell, trip_id, "AAA", "DDD", seat_numbers=("4",)).reason == "SEAT_BLOCKED"
    assert refused(client.block_seats, trip_id, ["4"]).reason == "SEAT_BLOCKED"
    assert refused(client.set_seat_quota, trip_id, "CCC", seat_numbers=["4"]).reason == "SEAT_BLOCKED"
    assert "4" not in free_seats(client, trip_id, "BBB", "CCC")
    client.unblock_seats(trip_id, ["4"])
    assert refused(client.unblock_seats, trip_id, ["4"]).reason == "SEAT_NOT_BLOCKED"
    assert "4" in free_seats(client, trip_id, "BBB", "CCC")

    # Bad inputs: a clear reason and field, and nothing changed.
    before = client.seat_plan(trip_id)
    soon = keyun.clock.now_ms() + 60 * MINUTE_MS
    cases = [
        (lambda: client.set_seat_quota(trip_id, "DDD", seat_count=1), "BAD_SEGMENT", "stop"),
        (lambda: client.set_seat_quota(trip_id, "CCC"), "MISSING_FIELD", "seat_count"),
        (lambda: client.set_seat_quota(trip_id, "CCC", seat_count=13), "QUOTA_TOO_LARGE", "seat_count"),
        (
            lambda: client.set_seat_quota(trip_id, "CCC", seat_count=1, seat_numbers=["1"]),
            "INVALID_FIELD",
            "seat_count",
        ),
        (lambda: client.set_seat_quota(trip_id, "CCC", seat_numbers=["1", "1"]), "DUPLICATE_SEAT", "seat_numbers[1]"),
        (lambda: client.set_seat_quota(trip_id, "CCC", seat_numbers=["99"]), "UNKNOWN_SEAT", "seat_numbers[0]"),
        (
            lambda: client.set_seat_quota(trip_id, "CCC", seat_count=1, release_at_ms=keyun.clock.now_ms() - 1),
            "RELEASE_PASSED",
            "release_at",
        ),
        (
            lambda: client.set_seat_quota(trip_id, "CCC", seat_count=1, release_before_minutes=2000),
            "INVALID_FIELD",
            "release_before_minutes",
        ),
        (lambda: client.clear_seat_quota(trip_id, "BBB"), "NO_QUOTA", None),
        (lambda: client.block_seats(trip_id, []), "MISSING_FIELD", "seat_numbers"),
        (lambda: client.block_seats("NOPE-20200101", ["1"]), "UNKNOWN_TRIP", None),
        (lambda: client.add_extra_run(soon), "INVALID_FIELD", "trip_id"),
        (lambda: client.add_extra_run(soon, schedule_id="ZZ9"), "NO_SOURCE_TRIP", "schedule_id"),
        (lambda: client.add_extra_run(soon, trip_id=trip_id, seats=99), "INVALID_FIELD", "seats"),
        (lambda: client.add_extra_run(keyun.clock.now_ms() - 1, trip_id=trip_id), "INVALID_FIELD", "departs_at"),
    ]
    for call, reason, field_name in cases:
        error = refused(call)
        assert (error.reason, error.facts.get("field")) == (reason, field_name), error
    assert client.seat_plan(trip_id) == before

    # Every change, and every refusal, is in the audit log.
    with logged_in(KeyunClient(keyun.target), "auditor", clock=keyun.clock) as auditor:
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords, audit_pb2.ListRecordsRequest(page_size=500)
        ).records
    actions = {(r.action.rsplit("/", 1)[1], r.reason or audit_pb2.AuditOutcome.Name(r.outcome)) for r in records}
    assert {("BlockSeats", "AUDIT_OUTCOME_OK"), ("UnblockSeats", "AUDIT_OUTCOME_OK")} <= actions, actions
    assert {("BlockSeats", "SEAT_IN_USE"), ("SetSeatQuota", "QUOTA_TOO_LARGE")} <= actions, actions

    # A dispatcher's permission: a passenger may neither set quotas nor add runs.
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    passenger = KeyunClient(keyun.target)
    try:
        passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
        assert refused(passenger.set_seat_quota, trip_id, "CCC", seat_count=1).reason == "PERMISSION_DENIED"
        assert refused(passenger.add_extra_run, soon, trip_id=trip_id).reason == "PERMISSION_DENIED"
    finally:
        passenger.close()


def test_an_extra_run_sells_at_once_and_shows_in_search_and_on_the_board(keyun):
    client = keyun.client
    trip_id = keyun.trip(dt.timedelta(hours=4))
    source = client.trip(trip_id)
    departs_ms = source.stops[0].departs_at.ToMilliseconds() + 30 * MINUTE_MS
    date = dt.datetime.fromtimestamp(departs_ms / 1000, CHINA).date().isoformat()
    watch = Watch(client, "AAA", date)  # a hall screen already showing the day
    watch.next(30)
    run = client.add_extra_run(
        departs_ms, trip_id=trip_id, vehicle_name="45座加班车", seats=45, gate="9", request_id="extra-1"
    )
    extra_id = run.trip.trip_id
    assert extra_id != trip_id and run.extra_of == trip_id
    assert (run.trip.seats_total, run.trip.gate, run.trip.vehicle_name) == (45, "9", "45座加班车")
    assert [s.code for s in run.trip.stops] == ["AAA", "BBB", "CCC", "DDD"]
    assert run.trip.stops[0].departs_at.ToMilliseconds() == departs_ms
    # A retry answers the same run; the same request id for another run is refused.
    again = client.add_extra_run(
        departs_ms, trip_id=trip_id, vehicle_name="45座加班车", seats=45, gate="9", request_id="extra-1"
    )
    assert again.trip.trip_id == extra_id
    # On sale at once, in search and on the board.
    sold = client.sell(extra_id, "BBB", "DDD", seat_count=2)
    assert len(sold.tickets) == 2
    wait_until(lambda: offer_free(client, extra_id, "AAA", "DDD", date) == 43, 30, "the extra run in search")
    try:
        _, update = watch.until(lambda u: departure(u, extra_id) is not None, 30)
    finally:
        watch.close()
    shown = departure(update, extra_id)
    assert shown.gate == "9" and shown.seats_total == 45
    # Named by its schedule: the schedule's trip of that day is copied.
    by_schedule = client.add_extra_run(departs_ms + 10 * MINUTE_MS, schedule_id=source.schedule_id)
    assert by_schedule.extra_of == trip_id and by_schedule.trip.seats_total == 12


def test_the_dispatch_verbs(keyun, capsys, monkeypatch, tmp_path):
    """`keyun dispatch quota|block|unblock|extra-run` through the command's own entry point."""
    from keyun.app.cli import main
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("KEYUN_USER", "master")
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)

    def run(*args: str, ok: bool = True) -> str:
        code = main([*args, "--server", keyun.target])
        out, err = capsys.readouterr()
        assert (code == 0) == ok, out + err
        return out if ok else err  # a refusal is told on stderr

    trip_id = keyun.trip(dt.timedelta(hours=7))
    shown = run("dispatch", "quota", trip_id, "CCC", "--seats", "3", "--release-before", "30")
    assert "quota CCC:" in shown and "(3 unsold)" in shown
    assert "blocked 7 (crew)" in run("dispatch", "block", trip_id, "7", "--reason", "crew")
    assert "blocked" not in run("dispatch", "unblock", trip_id, "7")
    assert "quota CCC" not in run("dispatch", "quota", trip_id, "CCC", "--clear")
    departs = dt.datetime.now(CHINA) + dt.timedelta(hours=8)
    added = run("dispatch", "extra-run", "--trip", trip_id, f"{departs:%Y-%m-%dT%H:%M}", "--seats", "45", "--gate", "2")
    assert f"extra run of {trip_id}" in added
    assert "SEAT_NOT_BLOCKED" in run("dispatch", "unblock", trip_id, "7", ok=False)
