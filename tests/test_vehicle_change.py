"""换车 (Dispatch/ChangeVehicle) through gRPC on a real server: a smaller coach lists the tickets
with no seat and changes nothing without a choice; with a refund they get everything back and the
rest are reseated; with a move they go to another trip by the merge's saga; a seat-leg audit finds
nothing sold twice and nothing lost; a restart keeps it; a larger coach gives the seats back; bad
inputs are refused with stable reasons, changing nothing; a seller may not change a coach."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2, dispatch_pb2, notices_pb2

from .conftest import logged_in, schedule_trip
from .test_merge_runs import LIVE, audit, seat_legs_once, tickets
from .test_rebooking import on_shard

TAGS = itertools.count(1)
CHINA = dt.timezone(dt.timedelta(hours=8))


def a_trip(client: KeyunClient, shard: int = 0, hours: int = 5) -> str:
    """A trip AAA→BBB→CCC→DDD on a 12-seat coach (seats "1".."12")."""
    day = dt.datetime.now(CHINA) + dt.timedelta(hours=hours)
    return schedule_trip(client, on_shard(f"V{next(TAGS)}X", shard, day), dt.timedelta(hours=hours))


def sell_most(client: KeyunClient, trip_id: str) -> dict[str, str]:
    """Seats 1-6, 9, 10 AAA-DDD, 7 and 12 AAA-BBB, 11 BBB-DDD; seat 8 free.  For an 8-seat coach:
    12 fits on 8 (AAA-BBB), 11 on 7 (BBB-DDD), 9 and 10 have no seat.  Returns seat -> ticket id."""
    by_seat = {}
    for seats, segment in (
        (("1", "2", "3", "4", "5", "6"), ("AAA", "DDD")),
        (("9", "10"), ("AAA", "DDD")),
        (("7", "12"), ("AAA", "BBB")),
        (("11",), ("BBB", "DDD")),
    ):
        for ticket in client.sell(trip_id, *segment, seat_numbers=seats).tickets:
            by_seat[ticket.seat_number] = ticket.ticket_id
    return by_seat


def manifest_state(client: KeyunClient, trip_id: str) -> list[tuple[str, str, int]]:
    return sorted((t.ticket_id, t.seat_number, t.status) for t in tickets(client, trip_id))


def test_a_smaller_coach_lists_who_does_not_fit_then_refunds_them_and_reseats_the_rest(keyun):
    client = keyun.client
    trip_id = a_trip(client)
    by_seat = sell_most(client, trip_id)
    sold = set(by_seat.values())
    before = manifest_state(client, trip_id)

    with pytest.raises(KeyunError) as refused:
        client.change_vehicle(trip_id, 8)
    assert refused.value.reason == "VEHICLE_TOO_SMALL" and refused.value.reason_code == 6142
    assert sorted(refused.value.facts["unfit"].split(",")) == sorted([by_seat["9"], by_seat["10"]])
    assert by_seat["9"] in refused.value.message
    assert manifest_state(client, trip_id) == before  # nothing changed
    assert not client.seat_plan(trip_id).blocked

    changed = client.change_vehicle(trip_id, 8, "refund", vehicle_name="金龙 8座", request_id="vc-refund-1")
    assert changed.seat_count == 8 and changed.trip.seats_total == 8
    assert sorted((r.ticket_id, r.old_seat, r.new_seat) for r in changed.reseated) == sorted(
        [(by_seat["12"], "12", "8"), (by_seat["11"], "11", "7")]
    )
    assert sorted(r.ticket_id for r in changed.refunded) == sorted([by_seat["9"], by_seat["10"]])
    after = {t.ticket_id: t for t in tickets(client, trip_id)}
    for seat in ("9", "10"):
        refunded = after[by_seat[seat]]
        assert refunded.status == common_pb2.TICKET_STATUS_REFUNDED
        assert (refunded.refund_fee_fen, refunded.refunded_fen) == (0, refunded.price_fen)
    assert after[by_seat["12"]].seat_number == "8" and after[by_seat["11"]].seat_number == "7"
    # Nothing lost: every ticket sold is live (on a seat of the new coach) or refunded in full.
    live = {t for t in sold if after[t].status in LIVE}
    assert live == sold - {by_seat["9"], by_seat["10"]}
    assert all(int(after[t].seat_number) <= 8 for t in live)
    seat_legs_once(client, trip_id)
    # The seats the coach lacks are not sold; the 8 it has are full on AAA-BBB.
    plan = client.seat_plan(trip_id)
    assert sorted(b.seat_number for b in plan.blocked) == ["10", "11", "12", "9"]
    assert {b.reason for b in plan.blocked} == {dispatch_pb2.BLOCK_REASON_VEHICLE}
    with pytest.raises(KeyunError) as kept:  # only a larger coach gives them back
        client.unblock_seats(trip_id, ("9",))
    assert kept.value.reason == "SEAT_BLOCKED"
    with pytest.raises(KeyunError) as full:
        client.sell(trip_id, "AAA", "BBB", seat_count=1)
    assert full.value.reason == "NOT_ENOUGH_SEATS"
    with pytest.raises(KeyunError) as lacking:
        client.sell(trip_id, "CCC", "DDD", seat_numbers=("9",))
    assert lacking.value.reason == "SEAT_BLOCKED"
    # Each passenger reseated or refunded is told (docs/notices.md).
    told = {n.kind: n.text for n in client.list_notices(subject=trip_id).notices if by_seat["11"] in n.text}
    assert "座位号由11改为7" in told[notices_pb2.NOTICE_KIND_TICKET_RESEATED]
    unseated = [n for n in client.list_notices(subject=trip_id).notices if by_seat["9"] in n.text]
    assert [n.kind for n in unseated] == [notices_pb2.NOTICE_KIND_TICKET_UNSEATED]
    # A retry with the same request id answers the same and changes nothing more.
    again = client.change_vehicle(trip_id, 8, "refund", vehicle_name="金龙 8座", request_id="vc-refund-1")
    assert sorted(r.ticket_id for r in again.refunded) == sorted(r.ticket_id for r in changed.refunded)
    assert sorted(t.ticket_id for t in tickets(client, trip_id)) == sorted(sold)

    # A larger coach (the layout's 12 again) gives the seats back.
    larger = client.change_vehicle(trip_id, 12)
    assert larger.trip.seats_total == 12 and not larger.reseated and not larger.refunded
    assert not client.seat_plan(trip_id).blocked
    assert client.sell(trip_id, "AAA", "DDD", seat_numbers=("9",)).tickets[0].seat_number == "9"
    seat_legs_once(client, trip_id)


def test_tickets_with_no_seat_move_to_another_trip(keyun):
    client = keyun.client
    trip_id, other = a_trip(client, 0, 5), a_trip(client, 1, 6)
    by_seat = sell_most(client, trip_id)
    sold = set(by_seat.values())
    changed = client.change_vehicle(trip_id, 8, "move", into_trip_id=other, request_id="vc-move-1")
    assert sorted(m.old_ticket_id for m in changed.moved) == sorted([by_seat["9"], by_seat["10"]])
    assert {m.new_seat for m in changed.moved} == {"9", "10"}  # the same seats are free there
    assert len(changed.reseated) == 2 and not changed.refunded and changed.trip.seats_total == 8
    audit(client, sold, trip_id, other)  # every passenger holds exactly one seat, none twice


def test_holds_and_bad_inputs_are_refused_and_change_nothing(keyun):
    client = keyun.client
    trip_id = a_trip(client)
    client.sell(trip_id, "AAA", "DDD", seat_numbers=("2",))
    before = manifest_state(client, trip_id)
    cases = [
        ((trip_id, 0), "MISSING_FIELD"),
        ((trip_id, -3), "INVALID_FIELD"),
        ((trip_id, 13), "VEHICLE_LAYOUT_TOO_SMALL"),
        ((trip_id, 8, "move"), "MISSING_FIELD"),
        ((trip_id, 8, "refund", "X-20990101"), "INVALID_FIELD"),
        (("NOPE-20990101", 8), "UNKNOWN_TRIP"),
    ]
    for args, reason in cases:
        with pytest.raises(KeyunError) as refused:
            client.change_vehicle(*args)
        assert refused.value.reason == reason, args
    hold = client.hold(trip_id, "AAA", "BBB", seat_numbers=("11",))
    with pytest.raises(KeyunError) as held:
        client.change_vehicle(trip_id, 8, "refund")
    assert held.value.reason == "VEHICLE_SEATS_HELD" and held.value.reason_code == 6141
    assert hold.hold_id in held.value.message
    assert manifest_state(client, trip_id) == before
    assert not client.seat_plan(trip_id).blocked
    # Once the hold is released the change goes through; a broken seat of the old coach beyond
    # the new count is simply not there, and a larger coach gives every seat back.
    client.release(hold.hold_id)
    client.block_seats(trip_id, ("12",), "broken")
    smaller = client.change_vehicle(trip_id, 8)
    assert smaller.trip.seats_total == 8 and not smaller.reseated and not smaller.refunded
    plan = client.seat_plan(trip_id)
    assert sorted(b.seat_number for b in plan.blocked) == ["10", "11", "12", "9"]
    assert {b.reason for b in plan.blocked} == {dispatch_pb2.BLOCK_REASON_VEHICLE}
    assert client.change_vehicle(trip_id, 12).trip.seats_total == 12
    assert not client.seat_plan(trip_id).blocked
    assert manifest_state(client, trip_id) == before
    # A seller may not change a trip's coach.
    seller = logged_in(KeyunClient(keyun.server.target), "seller", clock=keyun.server.clock)
    try:
        with pytest.raises(KeyunError) as denied:
            seller.change_vehicle(trip_id, 12)
        assert denied.value.reason == "PERMISSION_DENIED"
    finally:
        seller.close()


def test_a_vehicle_change_survives_a_restart(ray_session, tmp_path):
    from .conftest import ServerThread

    first = ServerThread(tmp_path, shards=2)
    client = logged_in(KeyunClient(first.target), clock=first.clock)
    trip_id = a_trip(client)
    by_seat = sell_most(client, trip_id)
    client.change_vehicle(trip_id, 8, "refund")
    seen = manifest_state(client, trip_id)
    client.close()
    first.stop()

    second = ServerThread(tmp_path, shards=2)
    try:
        client = logged_in(KeyunClient(second.target), clock=second.clock)
        assert manifest_state(client, trip_id) == seen
        assert client.manifest(trip_id, page_size=1).trip.seats_total == 8
        with pytest.raises(KeyunError) as lacking:
            client.sell(trip_id, "CCC", "DDD", seat_numbers=("10",))
        assert lacking.value.reason == "SEAT_BLOCKED"
        assert {t.ticket_id: t.seat_number for t in tickets(client, trip_id)}[by_seat["12"]] == "8"
        seat_legs_once(client, trip_id)
        client.close()
    finally:
        second.stop()


def test_the_dispatcher_changes_the_vehicle_from_the_cli(keyun, capsys, monkeypatch, tmp_path):
    from keyun.app.cli import main
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    client = keyun.client
    trip_id = a_trip(client)
    by_seat = sell_most(client, trip_id)
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("KEYUN_USER", "dispatcher")
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    target = ["--server", keyun.server.target]
    assert main(["dispatch", "change-vehicle", trip_id, "8", *target]) != 0
    assert by_seat["9"] in capsys.readouterr().err
    assert main(["dispatch", "change-vehicle", trip_id, "8", "--refund", *target]) == 0
    out = capsys.readouterr().out
    assert "now 8 seats" in out and by_seat["10"] in out and "refunded in full 2" in out


def test_a_ticket_paid_through_an_order_is_refunded_the_way_it_was_paid(keyun):
    from keyun.v1 import orders_pb2

    client = keyun.client
    trip_id = a_trip(client)
    client.sell(trip_id, "AAA", "DDD", seat_numbers=tuple(str(n) for n in range(1, 9)))
    hold = client.hold(trip_id, "AAA", "DDD", seat_numbers=("12",))
    order = client.create_order(hold.hold_id, orders_pb2.PAY_METHOD_CASH).order
    (ticket,) = client.pay_at_counter(order.order_id, orders_pb2.PAY_METHOD_CASH).tickets
    changed = client.change_vehicle(trip_id, 8, "refund")
    assert [(r.ticket_id, r.order_id, r.refund_fen) for r in changed.refunded] == [
        (ticket.ticket_id, order.order_id, ticket.price_fen)
    ]
    (refund,) = client.order(order.order_id).refunds
    assert (list(refund.ticket_ids), refund.amount_fen, refund.fee_fen) == ([ticket.ticket_id], ticket.price_fen, 0)
    assert refund.provider_refund_id  # paid back (the cashier's cash), as any order refund is
    seat_legs_once(client, trip_id)


def test_the_load_report_counts_the_new_coach_seats(ray_session, tmp_path):
    """The report projector follows the change: the trip's seats are the new coach's, and its
    tickets are the live ones (the refunded left out)."""
    from .conftest import ServerThread
    from .test_reports_load import caught_up
    from .waiting import wait_until

    server = ServerThread(tmp_path, shards=2, reports=True)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    try:
        trip_id = a_trip(client)
        sell_most(client, trip_id)
        client.change_vehicle(trip_id, 8, "refund")
        first_stop = client.manifest(trip_id, page_size=1).trip.stops[0]
        day = dt.datetime.fromtimestamp(first_stop.departs_at.seconds, CHINA)
        date = day.date().isoformat()

        def line():
            lines = {tuple(x.group): x for x in client.load_report_lines(("trip",), date, date)}
            return lines.get((trip_id,))

        def counted() -> bool:
            found = caught_up(client) and line()
            return bool(found) and (found.seats, found.tickets) == (8, 9)  # 11 sold, 2 refunded

        wait_until(counted, 30, "the load report counts the new coach")
    finally:
        client.close()
        server.stop()
