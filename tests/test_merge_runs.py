"""并班 (Dispatch/MergeTrips) and 脱班 (Dispatch/MarkMissed) through gRPC on a real server with two
trip owners: a merge under concurrent sales neither loses nor doubles a passenger (seat-leg audit),
tickets that do not fit are listed and stay, a retry with the same request id doubles nothing, a
missed run stops selling and refunds in full, and bad inputs are refused changing nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2, notices_pb2, sales_pb2

from .conftest import logged_in, schedule_trip
from .test_rebooking import on_shard

LIVE = (common_pb2.TICKET_STATUS_ISSUED, common_pb2.TICKET_STATUS_CHECKED_IN)
TAGS = itertools.count(1)


def two_trips(client: KeyunClient) -> tuple[str, str]:
    """Two trips of route LINE, five and six hours out, on different owners."""
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=5)
    tag = f"M{next(TAGS)}X"
    first = schedule_trip(client, on_shard(tag, 0, day), dt.timedelta(hours=5))
    second = schedule_trip(client, on_shard(tag + "B", 1, day + dt.timedelta(hours=1)), dt.timedelta(hours=6))
    return first, second


def get_ticket(client: KeyunClient, ticket_id: str):
    return client.call(client.sales.GetTicket, sales_pb2.GetTicketRequest(ticket_id=ticket_id)).ticket


def tickets(client: KeyunClient, trip_id: str) -> list:
    return list(client.manifest(trip_id, page_size=500).tickets)


def seat_legs_once(client: KeyunClient, trip_id: str) -> None:
    """No seat-leg of the trip is held by two live tickets."""
    stops = [s.code for s in client.manifest(trip_id, page_size=1).trip.stops]
    legs: dict[tuple[str, int], str] = {}
    for ticket in tickets(client, trip_id):
        if ticket.status not in LIVE:
            continue
        for leg in range(stops.index(ticket.from_stop.code), stops.index(ticket.to_stop.code)):
            key = (ticket.seat_number, leg)
            assert key not in legs, f"seat-leg {key} sold to {legs[key]} and {ticket.ticket_id}"
            legs[key] = ticket.ticket_id


def audit(client: KeyunClient, sold: set[str], old_trip: str, new_trip: str) -> dict[str, str]:
    """Every ticket id sold on either trip is live exactly once across both (itself, or the ticket
    it was moved to), no live ticket stands for two sold ones, and no seat-leg is sold twice.
    Returns each sold ticket's live ticket."""
    by_id = {t.ticket_id: t for trip in (old_trip, new_trip) for t in tickets(client, trip)}
    assert sold <= set(by_id), f"tickets lost: {sold - set(by_id)}"
    live_of = {}
    for ticket_id in sold:
        ticket = by_id[ticket_id]
        if ticket.status == common_pb2.TICKET_STATUS_CHANGED:
            ticket = by_id[ticket.changed_to]
            assert ticket.changed_from == ticket_id
        assert ticket.status in LIVE, f"{ticket_id} is not live: {ticket.status}"
        live_of[ticket_id] = ticket.ticket_id
    assert len(set(live_of.values())) == len(sold), "a live ticket stands for two passengers"
    live = {t.ticket_id for t in by_id.values() if t.status in LIVE}
    assert live == set(live_of.values()), f"live tickets nobody bought: {live - set(live_of.values())}"
    seat_legs_once(client, old_trip)
    seat_legs_once(client, new_trip)
    return live_of


def test_a_merge_under_concurrent_sales_neither_loses_nor_doubles(keyun):
    client = keyun.client
    old_trip, new_trip = two_trips(client)
    sold: set[str] = set()
    for seats, segment in ((("1",), ("AAA", "BBB")), (("2",), ("BBB", "DDD")), (("3",), ("AAA", "DDD"))):
        sold |= {t.ticket_id for t in client.sell(old_trip, *segment, seat_numbers=seats).tickets}
    sold |= {t.ticket_id for t in client.sell(new_trip, "AAA", "DDD", seat_numbers=("1",)).tickets}
    # Seven more sales race the merge: four on the old trip (refused once it stops selling), three
    # on the new one; at most 11 seats are ever wanted on a 12-seat coach, so everyone fits.
    start = threading.Barrier(4)
    lock = threading.Lock()

    def sell(trip_id: str, count: int) -> None:
        seller = logged_in(KeyunClient(keyun.server.target), clock=keyun.server.clock)
        start.wait()
        for _ in range(count):
            try:
                ids = {t.ticket_id for t in seller.sell(trip_id, "AAA", "CCC", seat_count=1).tickets}
            except KeyunError as refused:
                assert refused.reason == "TRIP_CANCELLED", refused
                continue
            with lock:
                sold.update(ids)
        seller.close()

    threads = [
        threading.Thread(target=sell, args=(old_trip, 2)),
        threading.Thread(target=sell, args=(old_trip, 2)),
        threading.Thread(target=sell, args=(new_trip, 3)),
    ]
    for thread in threads:
        thread.start()
    start.wait()
    merged = client.merge_trips(old_trip, new_trip, "merge-race-1")
    for thread in threads:
        thread.join()
    assert merged.trip.status == common_pb2.TRIP_STATUS_CANCELLED
    assert not merged.not_moved
    live_of = audit(client, sold, old_trip, new_trip)
    assert all(t.status not in LIVE for t in tickets(client, old_trip)), "a ticket was left on the merged trip"
    assert {m.old_ticket_id: m.new_ticket_id for m in merged.moved}.items() <= live_of.items()
    moved = {m.old_seat: m for m in merged.moved}
    assert moved["1"].new_seat != "1"  # taken on the new trip for the segment: re-seated
    assert (moved["2"].from_station, moved["2"].to_station) == ("BBB", "DDD")  # the same segment
    # Nothing new sells on the merged trip, and a retry of the merge doubles nothing.
    with pytest.raises(KeyunError) as closed:
        client.sell(old_trip, "AAA", "BBB", seat_count=1)
    assert closed.value.reason == "TRIP_CANCELLED"
    again = client.merge_trips(old_trip, new_trip, "merge-race-1")
    assert sorted((m.old_ticket_id, m.new_ticket_id) for m in again.moved) == sorted(
        (m.old_ticket_id, m.new_ticket_id) for m in merged.moved
    )
    assert audit(client, sold, old_trip, new_trip) == live_of


def test_tickets_that_do_not_fit_are_listed_and_stay_refundable_in_full(keyun):
    client = keyun.client
    old_trip, new_trip = two_trips(client)
    kept = client.sell(old_trip, "AAA", "BBB", seat_numbers=("5",)).tickets[0]
    others = client.sell(old_trip, "AAA", "BBB", seat_numbers=("6", "7")).tickets
    # The new trip has one seat left for AAA-BBB: seat 5.
    taken = [str(n) for n in range(1, 13) if n != 5]
    client.sell(new_trip, "AAA", "DDD", seat_numbers=tuple(taken[:6]))
    client.sell(new_trip, "AAA", "DDD", seat_numbers=tuple(taken[6:]))
    sold = (
        {kept.ticket_id}
        | {t.ticket_id for t in others}
        | {t.ticket_id for t in tickets(client, new_trip) if t.status in LIVE}
    )

    merged = client.merge_trips(old_trip, new_trip, "merge-full-1")
    assert [(m.old_ticket_id, m.old_seat, m.new_seat) for m in merged.moved] == [(kept.ticket_id, "5", "5")]
    assert sorted(u.ticket_id for u in merged.not_moved) == sorted(t.ticket_id for t in others)
    assert all(u.reason and u.message for u in merged.not_moved)
    audit(client, sold, old_trip, new_trip)
    # A retry with the same request id moves nothing twice and lists the same tickets.
    again = client.merge_trips(old_trip, new_trip, "merge-full-1")
    assert [m.new_ticket_id for m in again.moved] == [m.new_ticket_id for m in merged.moved]
    assert sorted(u.ticket_id for u in again.not_moved) == sorted(u.ticket_id for u in merged.not_moved)
    audit(client, sold, old_trip, new_trip)
    # Those left on the merged (cancelled) trip are refunded in full.
    for ticket in others:
        refunded = client.refund(ticket.ticket_id)
        assert (refunded.refund_fee_fen, refunded.refunded_fen) == (0, ticket.price_fen)
    # The moved passenger paid nothing more and got nothing back: the new ticket's price is the old one's.
    new = get_ticket(client, merged.moved[0].new_ticket_id)
    assert new.price_fen == kept.price_fen and new.changed_from == kept.ticket_id


def test_a_missed_run_stops_selling_refunds_in_full_and_merges(keyun):
    client = keyun.client
    missed_trip, other_trip = two_trips(client)
    first, second = client.sell(missed_trip, "AAA", "CCC", seat_numbers=("2", "3")).tickets
    trip = client.mark_missed(missed_trip, "missed-1")
    assert trip.status == common_pb2.TRIP_STATUS_CANCELLED
    assert client.mark_missed(missed_trip, "missed-1").status == common_pb2.TRIP_STATUS_CANCELLED  # a retry
    with pytest.raises(KeyunError) as closed:
        client.sell(missed_trip, "AAA", "BBB", seat_count=1)
    assert closed.value.reason == "TRIP_CANCELLED"
    assert client.quote_refund(first.ticket_id).fee_fen == 0
    refunded = client.refund(first.ticket_id)
    assert refunded.refunded_fen == first.price_fen
    merged = client.merge_trips(missed_trip, other_trip, "missed-merge-1")
    assert [(m.old_ticket_id, m.new_seat) for m in merged.moved] == [(second.ticket_id, "3")]
    audit(client, {second.ticket_id}, missed_trip, other_trip)
    # Passengers were told: the missed run's holders, then the moved ticket's holder.
    missed_notices = client.list_notices(subject=missed_trip).notices
    assert [n.kind for n in missed_notices] == [notices_pb2.NOTICE_KIND_TRIP_MISSED]
    moved_notices = client.list_notices(subject=other_trip).notices
    assert [n.kind for n in moved_notices] == [notices_pb2.NOTICE_KIND_TICKET_MOVED]
    assert merged.moved[0].new_ticket_id in moved_notices[0].text


def test_bad_merges_are_refused_and_change_nothing(keyun):
    client = keyun.client
    old_trip, new_trip = two_trips(client)
    ticket = client.sell(old_trip, "AAA", "BBB", seat_count=1).tickets[0]
    cases = [
        ((old_trip, old_trip, "bad-merge-1"), "MERGE_NOT_ALLOWED"),
        ((old_trip, "", "bad-merge-2"), "MISSING_FIELD"),
        ((old_trip, "NOPE-20990101", "bad-merge-3"), "UNKNOWN_TRIP"),
        ((old_trip, new_trip, "bad id!"), "INVALID_FIELD"),
    ]
    for args, reason in cases:
        with pytest.raises(KeyunError) as refused:
            client.merge_trips(*args)
        assert refused.value.reason == reason, args
    client.cancel(new_trip)
    with pytest.raises(KeyunError) as refused:
        client.merge_trips(old_trip, new_trip, "bad-merge-4")
    assert refused.value.reason == "MERGE_NOT_ALLOWED"
    # Nothing changed: the trip still sells and the ticket is where it was.
    assert client.sell(old_trip, "AAA", "BBB", seat_count=1).tickets
    assert get_ticket(client, ticket.ticket_id).status == common_pb2.TICKET_STATUS_ISSUED
    seller = logged_in(KeyunClient(keyun.server.target), "seller", clock=keyun.server.clock)
    for call in (lambda: seller.merge_trips(old_trip, new_trip), lambda: seller.mark_missed(old_trip)):
        with pytest.raises(KeyunError) as denied:
            call()
        assert denied.value.reason == "PERMISSION_DENIED"
    seller.close()


def test_a_merge_cut_off_by_a_crash_is_finished_by_its_retry_after_a_restart(ray_session, tmp_path):
    """The owner is gone after a ticket's new seat was issued and before the old ticket was given
    up; the server restarts (events replayed); the retry with the same request id finishes the
    merge, and every passenger holds exactly one seat."""
    from keyun.gateway.owners import OwnerUnavailable

    from .conftest import ServerThread

    first = ServerThread(tmp_path, shards=2)
    client = logged_in(KeyunClient(first.target, attempts=1), clock=first.clock)
    old_trip, new_trip = two_trips(client)
    sold = {t.ticket_id for t in client.sell(old_trip, "AAA", "CCC", seat_numbers=("4", "8")).tickets}
    first.server.gateway.saga_faults["merge-change"] = OwnerUnavailable("cut off before the change")
    with pytest.raises(KeyunError) as cut:
        client.merge_trips(old_trip, new_trip, "merge-crash-1")
    assert cut.value.code.name == "UNAVAILABLE", cut.value
    client.close()
    first.stop()

    second = ServerThread(tmp_path, shards=2)
    try:
        client = logged_in(KeyunClient(second.target), clock=second.clock)
        merged = client.merge_trips(old_trip, new_trip, "merge-crash-1")
        assert sorted(m.old_ticket_id for m in merged.moved) == sorted(sold)
        assert sorted(m.new_seat for m in merged.moved) == ["4", "8"]
        audit(client, sold, old_trip, new_trip)
        client.close()
    finally:
        second.stop()


def test_the_dispatcher_merges_and_marks_missed_from_the_cli(keyun, capsys, monkeypatch, tmp_path):
    from keyun.app.cli import main
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    client = keyun.client
    old_trip, new_trip = two_trips(client)
    missed_trip, _ = two_trips(client)
    sold = client.sell(old_trip, "AAA", "BBB", seat_numbers=("9",)).tickets[0]
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("KEYUN_USER", "dispatcher")
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)

    def run(*args: str) -> str:
        code = main([*args, "--server", keyun.server.target])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        return out

    out = run("dispatch", "merge", old_trip, new_trip, "--request-id", "cli-merge-1")
    assert f"merged into {new_trip}" in out and "moved 1:" in out and sold.ticket_id in out
    assert "cancelled" in run("dispatch", "missed", missed_trip)
    assert get_ticket(client, sold.ticket_id).status == common_pb2.TICKET_STATUS_CHANGED
