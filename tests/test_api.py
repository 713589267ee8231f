"""A station day through the real gRPC API: real server, real Ray owners, the client library."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from keyun.gateway.owners import shard_of
from keyun.gateway.shared_answers import SEARCH_CACHE_S
from keyun.terminals.client import KeyunError
from keyun.v1 import common_pb2

from .conftest import CHINA, schedule_trip

HOURS = dt.timedelta(hours=1)
MINUTES = dt.timedelta(minutes=1)


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_search_shows_fares_and_free_seats_for_the_segment(keyun):
    trip_id = keyun.trip(5 * HOURS)
    day = trip_id.rsplit("-", 1)[1]
    date = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    keyun.client.sell(trip_id, "AAA", "BBB", seat_count=2)

    offers = {o.trip.trip_id: o for o in keyun.client.search("AAA", "CCC", date).offers}
    assert offers[trip_id].fare_fen == 3000
    assert offers[trip_id].seats_free == 10
    assert offers[trip_id].from_stop.code == "AAA" and offers[trip_id].to_stop.code == "CCC"
    assert offers[trip_id].status == common_pb2.TRIP_STATUS_ON_SALE

    later = {o.trip.trip_id: o for o in keyun.client.search("BBB", "DDD", date).offers}
    assert later[trip_id].seats_free == 12  # the AAA→BBB passengers leave at BBB
    assert (
        later[trip_id].from_stop.departs_at.ToMilliseconds() - offers[trip_id].from_stop.departs_at.ToMilliseconds()
        == 40 * 60_000
    )

    assert trip_id not in {o.trip.trip_id for o in keyun.client.search("CCC", "AAA", date).offers}
    assert {s.code for s in keyun.client.stations()} >= {"AAA", "BBB", "CCC", "DDD"}


def test_identical_searches_share_one_answer_for_at_most_a_moment(keyun):
    trip_id = keyun.trip(7 * HOURS)
    date = dt.datetime.strptime(trip_id.rsplit("-", 1)[1], "%Y%m%d").date().isoformat()
    registry = keyun.server.server.metrics.registry

    def answers(source: str) -> float:
        return registry.get_sample_value("keyun_search_answers_total", {"source": source}) or 0.0

    def seats_free() -> int:
        return {o.trip.trip_id: o for o in keyun.client.search("AAA", "DDD", date).offers}[trip_id].seats_free

    asked, kept = answers("owners"), answers("kept")
    assert seats_free() == 12
    assert seats_free() == 12
    assert (answers("owners") - asked, answers("kept") - kept) == (1, 1)  # the second came from the first's answer
    keyun.client.sell(trip_id, "AAA", "DDD", seat_count=1)  # a sale always asks the owner
    keyun.clock.advance_s(SEARCH_CACHE_S)
    assert seats_free() == 11  # an answer is never older than SEARCH_CACHE_S (plus its round trip)


def test_a_refusal_reaches_the_client_with_its_details_and_is_counted_under_its_status(keyun):
    registry = keyun.server.server.metrics.registry

    def counted(code: str) -> float:
        return registry.get_sample_value("keyun_rpc_requests_total", {"method": "Sell", "code": code}) or 0.0

    def timed() -> float:
        return registry.get_sample_value("keyun_rpc_duration_seconds_count", {"method": "Sell"}) or 0.0

    before, calls = counted("NOT_FOUND"), timed()
    bad = refused(keyun.client.sell, "NOPE-20300101", "AAA", "BBB", seat_count=1)
    assert (bad.code, bad.reason, bad.facts["trip_id"]) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_TRIP", "NOPE-20300101")
    assert (counted("NOT_FOUND") - before, timed() - calls) == (1, 1)


def test_one_seat_carries_two_passengers_on_different_segments(keyun):
    trip_id = keyun.trip(5 * HOURS)
    first = keyun.client.sell(trip_id, "AAA", "BBB", seat_numbers=("1",)).tickets[0]
    second = keyun.client.sell(trip_id, "BBB", "DDD", seat_numbers=("1",)).tickets[0]
    assert (first.seat_number, first.price_fen) == ("1", 1500)
    assert (second.seat_number, second.price_fen) == ("1", 3000)

    error = refused(keyun.client.sell, trip_id, "AAA", "CCC", seat_numbers=("1",))
    assert (error.code, error.reason, error.reason_code) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAT_TAKEN", 3001)
    assert error.facts["seat"] == "1"

    def seat_one(a, b):
        return next(s for row in keyun.client.seat_map(trip_id, a, b).rows for s in row.seats if s.seat_number == "1")

    assert not seat_one("AAA", "BBB").free and not seat_one("CCC", "DDD").free
    manifest = keyun.client.manifest(trip_id)
    assert [(t.seat_number, t.from_stop.code, t.to_stop.code) for t in manifest.tickets] == [
        ("1", "AAA", "BBB"),
        ("1", "BBB", "DDD"),
    ]


def test_any_seats_sit_together(keyun):
    trip_id = keyun.trip(5 * HOURS)
    keyun.client.sell(trip_id, "AAA", "DDD", seat_numbers=("2",))
    tickets = keyun.client.sell(trip_id, "AAA", "DDD", seat_count=2).tickets
    assert sorted(t.seat_number for t in tickets) == ["4", "5"]  # row 1 has no pair left


def test_refund_fees_follow_the_national_schedule(keyun):
    early = keyun.client.sell(keyun.trip(5 * HOURS), "AAA", "DDD", seat_count=1).tickets[0]
    refunded = keyun.client.refund(early.ticket_id)
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (400, 3600)  # 10 % of 40.00
    assert refunded.status == common_pb2.TICKET_STATUS_REFUNDED

    late = keyun.client.sell(keyun.trip(90 * MINUTES), "AAA", "DDD", seat_count=1).tickets[0]
    refunded = keyun.client.refund(late.ticket_id)
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (800, 3200)  # 20 % within two hours

    again = refused(keyun.client.refund, late.ticket_id)
    assert again.reason == "ALREADY_REFUNDED"

    trip_id = keyun.trip(30 * MINUTES)
    gone = keyun.client.sell(trip_id, "AAA", "BBB", seat_count=1).tickets[0]
    keyun.client.depart(trip_id)
    error = refused(keyun.client.refund, gone.ticket_id)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REFUND_NOT_ALLOWED")
    assert refused(keyun.client.sell, trip_id, "AAA", "BBB", seat_count=1).reason == "SALES_CLOSED"


def test_refunded_seat_sells_again_and_cancelled_trips_refund_in_full(keyun):
    trip_id = keyun.trip(5 * HOURS)
    ticket = keyun.client.sell(trip_id, "AAA", "DDD", seat_numbers=("7",)).tickets[0]
    keyun.client.refund(ticket.ticket_id)
    resold = keyun.client.sell(trip_id, "AAA", "DDD", seat_numbers=("7",)).tickets[0]
    keyun.client.cancel(trip_id)
    assert keyun.client.refund(resold.ticket_id).refund_fee_fen == 0
    assert refused(keyun.client.sell, trip_id, "AAA", "DDD", seat_count=1).reason == "TRIP_CANCELLED"
    assert keyun.client.trip(trip_id).status == common_pb2.TRIP_STATUS_CANCELLED


def test_check_in_once_and_only_while_boarding(keyun):
    boarding = keyun.trip(30 * MINUTES)
    ticket = keyun.client.sell(boarding, "AAA", "DDD", seat_count=1).tickets[0]
    checked = keyun.client.check_in(ticket.ticket_id, "G1")
    assert checked.status == common_pb2.TICKET_STATUS_CHECKED_IN and checked.gate_id == "G1"

    second = refused(keyun.client.check_in, ticket.ticket_id, "G2")
    assert (second.code, second.reason) == (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_CHECKED_IN")
    assert second.facts["gate_id"] == "G1"
    assert int(second.facts["checked_in_at_ms"]) == checked.checked_in_at.ToMilliseconds()
    assert refused(keyun.client.refund, ticket.ticket_id).reason == "TICKET_CHECKED_IN"

    early = keyun.client.sell(keyun.trip(5 * HOURS), "AAA", "DDD", seat_count=1).tickets[0]
    error = refused(keyun.client.check_in, early.ticket_id, "G1")
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_YET_BOARDING")
    assert keyun.client.ticket(early.ticket_id).status == common_pb2.TICKET_STATUS_ISSUED

    other = keyun.client.sell(boarding, "AAA", "BBB", seat_count=1).tickets[0]
    keyun.client.depart(boarding)
    assert refused(keyun.client.check_in, other.ticket_id, "G1").reason == "BOARDING_CLOSED"
    manifest = keyun.client.manifest(boarding)
    assert (manifest.tickets_issued, manifest.tickets_checked_in) == (2, 1)


def test_holds_confirm_release_and_expire(keyun):
    trip_id = keyun.trip(5 * HOURS)
    hold = keyun.client.hold(trip_id, "AAA", "CCC", seat_numbers=("1", "2"))
    assert hold.total_fen == 6000 and list(hold.seat_numbers) == ["1", "2"]
    assert refused(keyun.client.sell, trip_id, "BBB", "CCC", seat_numbers=("2",)).reason == "SEAT_TAKEN"
    confirmed = keyun.client.confirm(hold.hold_id)
    assert [t.seat_number for t in confirmed.tickets] == ["1", "2"] and confirmed.total_fen == 6000
    assert refused(keyun.client.confirm, hold.hold_id).reason == "HOLD_CLOSED"

    released = keyun.client.hold(trip_id, "AAA", "DDD", seat_numbers=("3",))
    keyun.client.release(released.hold_id)
    assert keyun.client.sell(trip_id, "AAA", "DDD", seat_numbers=("3",)).tickets[0].seat_number == "3"

    short = keyun.client.hold(trip_id, "AAA", "DDD", seat_numbers=("4",), ttl_seconds=1)
    keyun.clock.advance_s(1.2)  # past the hold's second
    assert refused(keyun.client.confirm, short.hold_id).reason in {"HOLD_EXPIRED", "HOLD_CLOSED"}
    assert keyun.client.sell(trip_id, "AAA", "DDD", seat_numbers=("4",)).tickets[0].seat_number == "4"
    assert refused(keyun.client.confirm, f"{trip_id}-H999").code == grpc.StatusCode.NOT_FOUND


def test_retries_with_the_same_request_id_apply_once(keyun):
    trip_id = keyun.trip(5 * HOURS)
    first = keyun.client.sell(trip_id, "AAA", "DDD", seat_count=2, request_id="retry-1")
    again = keyun.client.sell(trip_id, "AAA", "DDD", seat_count=2, request_id="retry-1")
    assert again == first
    assert keyun.client.manifest(trip_id).tickets_issued == 2
    reused = refused(keyun.client.sell, trip_id, "AAA", "BBB", seat_count=1, request_id="retry-1")
    assert (reused.code, reused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED")

    refund = keyun.client.refund(first.tickets[0].ticket_id, request_id="retry-2")
    assert keyun.client.refund(first.tickets[0].ticket_id, request_id="retry-2") == refund


def test_unknown_things_are_not_found(keyun):
    assert refused(keyun.client.trip, "NOPE-20990101").code == grpc.StatusCode.NOT_FOUND
    assert refused(keyun.client.ticket, "NOPE-20990101-0001").reason == "UNKNOWN_TRIP"
    trip_id = keyun.trip(5 * HOURS)
    error = refused(keyun.client.ticket, f"{trip_id}-9999")
    assert (error.code, error.reason, error.reason_code) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_TICKET", 2003)


def test_paging_walks_every_ticket_once(keyun):
    trip_id = keyun.trip(5 * HOURS, vehicle="coach45")
    for _ in range(4):
        keyun.client.sell(trip_id, "AAA", "DDD", seat_count=5)
    seen, token = [], ""
    while True:
        page = keyun.client.manifest(trip_id, page_size=6, page_token=token)
        seen += [t.ticket_id for t in page.tickets]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 20
    bad = refused(keyun.client.manifest, trip_id, page_size=6, page_token="garbage")
    assert (bad.code, bad.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_PAGE_TOKEN")


def test_search_pages_walk_every_trip_once_in_departure_order(keyun):
    # Seven trips of one day, spread over both owners; each page asks each owner only for what it needs.
    day = (dt.datetime.now(CHINA) + dt.timedelta(days=40)).replace(hour=8, minute=0, second=0, microsecond=0)
    trip_ids = [
        schedule_trip(keyun.client, f"PG{n}", day + dt.timedelta(minutes=10 * n) - dt.datetime.now(CHINA))
        for n in range(7)
    ]
    assert len({shard_of(trip_id, 2) for trip_id in trip_ids}) == 2
    seen, token = [], ""
    while True:
        page = keyun.client.search("AAA", "DDD", day.date().isoformat(), page_size=3, page_token=token)
        assert len(page.offers) <= 3
        seen += [offer.trip.trip_id for offer in page.offers]
        token = page.next_page_token
        if not token:
            break
    assert seen == trip_ids
    bad = refused(keyun.client.search, "AAA", "DDD", day.date().isoformat(), page_size=3, page_token="garbage")
    assert (bad.code, bad.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_PAGE_TOKEN")


def test_health_and_reflection(keyun):
    health = health_pb2_grpc.HealthStub(keyun.client.channel)
    for service in ("", "keyun.v1.Sales", "keyun.v1.Catalog", "keyun.v1.Gate"):
        assert (
            health.Check(health_pb2.HealthCheckRequest(service=service)).status
            == health_pb2.HealthCheckResponse.SERVING
        )
    reflection = reflection_pb2_grpc.ServerReflectionStub(keyun.client.channel)
    responses = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {
        "keyun.v1.Catalog",
        "keyun.v1.Sales",
        "keyun.v1.Gate",
        "keyun.v1.Dispatch",
        "grpc.health.v1.Health",
    } <= names


def test_bad_network_files_are_refused_with_the_field_named(keyun):
    error = refused(keyun.client.load_network, 'format = 1\n[[stations]]\ncode = "aa"\nname = "x"\n')
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_NETWORK")
    assert "stations[0].code" in error.message
    syntax = refused(keyun.client.load_network, "format = = 1")
    assert "line 1" in syntax.message


def test_a_station_policy_sets_fees_and_hold_lifetime(ray_session, tmp_path):
    from keyun.engine.policy import parse_policy
    from keyun.terminals.client import KeyunClient

    from .conftest import ServerThread, logged_in, schedule_trip

    policy = parse_policy(
        {
            "hold_minutes": 3,
            "refund_tiers": [{"hours_before": 4, "fee_percent": 5}, {"hours_before": 0, "fee_percent": 50}],
        }
    )
    server = ServerThread(tmp_path, shards=1, policy=policy)
    try:
        with logged_in(KeyunClient(server.target), clock=server.clock) as client:
            trip_id = schedule_trip(client, "P1", 5 * HOURS)
            hold = client.hold(trip_id, "AAA", "DDD", seat_count=1)
            lifetime_ms = hold.expires_at.ToMilliseconds() - server.clock.now_ms()
            assert 2.5 * 60_000 < lifetime_ms <= 3 * 60_000
            ticket = client.confirm(hold.hold_id).tickets[0]
            assert client.refund(ticket.ticket_id).refund_fee_fen == 200  # 5 % of 40.00, more than 4 h out
    finally:
        server.stop()


def test_echo_answers_with_the_size_asked_and_bounds_it(keyun):
    from keyun.v1 import diagnostics_pb2, diagnostics_pb2_grpc

    echo = diagnostics_pb2_grpc.DiagnosticsStub(keyun.client.channel)
    assert echo.Echo(diagnostics_pb2.EchoRequest(payload=b"seat")).payload == b"seat"
    assert len(echo.Echo(diagnostics_pb2.EchoRequest(payload=b"x" * 80, response_bytes=1100)).payload) == 1100
    error = refused(keyun.client.call, echo.Echo, diagnostics_pb2.EchoRequest(response_bytes=10**6))
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")


def test_echo_via_owner_makes_one_owner_round_trip(keyun):
    from keyun.v1 import diagnostics_pb2, diagnostics_pb2_grpc

    echo = diagnostics_pb2_grpc.DiagnosticsStub(keyun.client.channel)
    batchers = keyun.server.server.gateway.pool.batchers
    sent = lambda: sum(b.batches for b in batchers)  # noqa: E731
    before = sent()
    assert echo.Echo(diagnostics_pb2.EchoRequest(payload=b"seat")).payload == b"seat"
    assert sent() == before  # the plain echo never reaches an owner
    assert echo.Echo(diagnostics_pb2.EchoRequest(payload=b"seat", via_owner=True)).payload == b"seat"
    assert sent() == before + 1
    error = refused(keyun.client.call, echo.Echo, diagnostics_pb2.EchoRequest(via_owner=True, response_bytes=-1))
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    assert sent() == before + 1  # a refused echo asks no owner
