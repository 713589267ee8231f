"""Ticket types, fare components and real-name walk-in sales, through the gRPC API of a real
server whose policy file sets its own fares (docs/tickets.md)."""

from __future__ import annotations

import datetime as dt
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from keyun.engine.identity import id_check_char
from keyun.engine.policy import parse_policy

from .conftest import CHINA, STATIONS, ServerThread, logged_in

HOURS = dt.timedelta(hours=5)
# The station's fares: a non-refundable service fee, a refundable fuel surcharge, child fares at
# 45 % rounded to half a yuan, and one live ticket per document on the whole trip.
FARES = {
    "child_percent": 45,
    "service_fee_fen": 100,
    "fuel_surcharge_fen": 200,
    "insurance_fen": 300,
    "round_to_fen": 50,
    "rounding": "half_up",
    "refundable": ["base", "fuel_surcharge"],
    "one_ticket_per_document": "trip",  # stricter than the default (no two seats at once)
}
SERIALS = itertools.count(100)


def network(schedule_id: str, departs: dt.datetime, vehicle: str, student_fares: bool = False) -> str:
    return (
        STATIONS
        + f"""
[[vehicles]]
id = "van7"
name = "7座商务车"
seats = 7

[[schedules]]
id = "{schedule_id}"
route = "LINE"
operator = "TESTOP"
vehicle = "{vehicle}"
departs = "{departs:%H:%M}"
student_fares = {"true" if student_fares else "false"}
"""
    )


class Station:
    def __init__(self, server: ServerThread, client) -> None:
        self.server, self.client = server, client
        self.numbers = itertools.count(1)

    def trip(self, vehicle: str = "coach45", student_fares: bool = False) -> tuple[str, dt.date]:
        """A fresh trip on LINE leaving AAA in five hours; its id and travel date (Beijing)."""
        departs = dt.datetime.now(CHINA) + HOURS
        schedule_id = f"F{next(self.numbers)}"
        self.client.load_network(network(schedule_id, departs, vehicle, student_fares), departs.date().isoformat(), 1)
        return f"{schedule_id}-{departs:%Y%m%d}", departs.date()


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    from keyun.terminals.client import KeyunClient

    server = ServerThread(tmp_path_factory.mktemp("fares"), shards=2, policy=parse_policy({"fares": FARES}))
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    yield Station(server, client)
    client.close()
    server.stop()


def resident_id(travel: dt.date, age: int) -> str:
    """A valid resident ID of someone exactly `age` on the travel date (born on it, `age` years before)."""
    born = dt.date(travel.year - age, travel.month, min(travel.day, 28))
    first17 = f"110101{born:%Y%m%d}{next(SERIALS) % 1000:03d}"
    return first17 + id_check_char(first17)


def walk_in(number: str, ticket_type: str = "full", **kwargs):
    from keyun.terminals.client import walk_in as make

    return make(number, "张三丰", ticket_type, **kwargs)


def parts(ticket) -> tuple[int, int, int, int, int]:
    f = ticket.fare
    return f.base_fen, f.service_fee_fen, f.fuel_surcharge_fen, f.insurance_fen, f.total_fen


def refused(call) -> object:
    from keyun.terminals.client import KeyunError

    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def test_a_full_a_free_child_a_child_and_a_concession_each_with_components(station):
    from keyun.v1 import common_pb2

    trip_id, travel = station.trip()
    adult, infant, child, veteran = (resident_id(travel, age) for age in (40, 3, 8, 60))
    sold = station.client.sell(
        trip_id,
        "AAA",
        "BBB",  # full fare 15.00
        passengers=(
            walk_in(adult, insurance=True),
            walk_in(infant, "free_child"),
            walk_in(child, "child"),
            walk_in(veteran, "concession", proof_type="残疾军人证", proof_number="JR2020-001234"),
        ),
    )
    full, kid, concession = sold.tickets  # the free child takes no seat
    assert parts(full) == (1500, 100, 200, 300, 2100)
    assert full.fare.ticket_type == common_pb2.TICKET_TYPE_FULL
    assert full.free_child.document_number == infant[:6] + "********" + infant[-4:]
    assert full.free_child.name == "张**"
    assert parts(kid) == (700, 100, 200, 0, 1000)  # 45 % of 15.00 is 6.75, to half a yuan up: 7.00
    assert kid.fare.ticket_type == common_pb2.TICKET_TYPE_CHILD
    assert parts(concession) == (750, 100, 200, 0, 1050)
    assert concession.holder.proof_type == "残疾军人证"
    assert concession.holder.proof_number != "JR2020-001234" and "*" in concession.holder.proof_number
    assert [t.price_fen for t in sold.tickets] == [2100, 1000, 1050]
    assert sold.total_fen == 2100 + 1000 + 1050
    text = str(sold)
    assert not any(number in text for number in (adult, infant, child, veteran, "JR2020-001234"))
    # GetTicket shows the same components, masked the same way.
    again = station.client.ticket(full.ticket_id)
    assert parts(again) == parts(full) and again.free_child.document_number == full.free_child.document_number
    # Nothing of the documents is stored in the clear: only ciphers and a keyed blind index.
    data = b"".join(p.read_bytes() for p in Path(station.server.data_dir).rglob("*") if p.is_file())
    assert not any(number.encode() in data for number in (adult, infant, child, veteran))
    logs = station.server.log_text()
    assert not any(number in logs for number in (adult, infant, child, veteran))


def test_a_hold_shows_its_fares_and_confirms_them(station):
    trip_id, travel = station.trip()
    hold = station.client.hold(
        trip_id, "AAA", "DDD", passengers=(walk_in(resident_id(travel, 10), "child"), walk_in(resident_id(travel, 30)))
    )
    assert [(f.base_fen, f.total_fen) for f in hold.fares] == [(1800, 2100), (4000, 4300)]  # 45 % of 40.00
    assert not hold.free_children
    assert hold.total_fen == 2100 + 4300
    confirmed = station.client.confirm(hold.hold_id)
    assert [parts(t) for t in confirmed.tickets] == [(1800, 100, 200, 0, 2100), (4000, 100, 200, 0, 4300)]
    assert confirmed.total_fen == hold.total_fen
    infant = resident_id(travel, 1)
    family = station.client.hold(
        trip_id, "AAA", "BBB", passengers=(walk_in(resident_id(travel, 29)), walk_in(infant, "free_child"))
    )
    assert [h.document_number for h in family.free_children] == [infant[:6] + "********" + infant[-4:]]
    assert len(family.seat_numbers) == 1 and family.total_fen == 1500 + 100 + 200


def test_a_plain_sale_carries_the_stations_components(station):
    trip_id, _ = station.trip()
    (ticket,) = station.client.sell(trip_id, "AAA", "DDD", seat_count=1).tickets
    assert parts(ticket) == (4000, 100, 200, 0, 4300) and ticket.price_fen == 4300


def test_a_second_live_ticket_for_one_document_on_a_trip_is_refused(station):
    trip_id, travel = station.trip()
    number = resident_id(travel, 35)
    (first,) = station.client.sell(trip_id, "AAA", "BBB", passengers=(walk_in(number),)).tickets
    error = refused(lambda: station.client.sell(trip_id, "CCC", "DDD", passengers=(walk_in(number, insurance=True),)))
    assert error.code == grpc.StatusCode.ALREADY_EXISTS and error.reason == "DOCUMENT_HAS_TICKET"
    assert first.ticket_id in error.message and error.facts["ticket_id"] == first.ticket_id
    masked = number[:6] + "********" + number[-4:]
    assert error.facts["document"] == masked and number not in error.message
    # ...and by a hold, the other channel, too; the same document as a free child as well.
    assert refused(lambda: station.client.hold(trip_id, "AAA", "BBB", passengers=(walk_in(number),))).reason == (
        "DOCUMENT_HAS_TICKET"
    )
    # Named twice in one sale.
    other = resident_id(travel, 36)
    twice = refused(lambda: station.client.sell(trip_id, "AAA", "BBB", passengers=(walk_in(other), walk_in(other))))
    assert twice.reason == "DOCUMENT_HAS_TICKET"
    # Refunded, the document is free for another ticket on the trip.
    station.client.refund(first.ticket_id)
    (second,) = station.client.sell(trip_id, "AAA", "BBB", passengers=(walk_in(number),)).tickets
    assert second.holder.document_number == masked


def test_the_free_child_limit_holds_under_concurrent_sales(station):
    from keyun.terminals.client import KeyunError

    trip_id, travel = station.trip("mini12")  # 12 seats: at most one free child (10 %)
    sales = [(resident_id(travel, 30 + k), resident_id(travel, 2)) for k in range(5)]

    def sell(pair: tuple[str, str]) -> str:
        try:
            station.client.sell(trip_id, "AAA", "DDD", passengers=(walk_in(pair[0]), walk_in(pair[1], "free_child")))
        except KeyunError as error:
            return error.reason
        return "OK"

    with ThreadPoolExecutor(max_workers=len(sales)) as pool:
        outcomes = sorted(pool.map(sell, sales))
    assert outcomes == ["FREE_CHILD_LIMIT"] * 4 + ["OK"]
    manifest = station.client.manifest(trip_id)
    assert sum(1 for t in manifest.tickets if t.HasField("free_child")) == 1
    # An adult alone still gets a seat.
    station.client.sell(trip_id, "AAA", "DDD", passengers=(walk_in(resident_id(travel, 50)),))


def test_ages_are_read_from_the_resident_id_on_the_travel_date(station):
    trip_id, travel = station.trip()
    sell = station.client.sell

    def reason(*passengers) -> str:
        return refused(lambda: sell(trip_id, "AAA", "BBB", passengers=passengers)).reason

    assert reason(walk_in(resident_id(travel, 14), "child")) == "AGE_NOT_CHILD"  # 14 today
    assert reason(walk_in(resident_id(travel, 5), "child")) == "AGE_NOT_CHILD"
    assert reason(walk_in(resident_id(travel, 40)), walk_in(resident_id(travel, 6), "free_child")) == (
        "AGE_NOT_FREE_CHILD"
    )
    assert reason(walk_in("E12345678", "child", document_type="PASSPORT")) == "IDENTITY_REQUIRED"
    assert reason(walk_in(resident_id(travel, 60), "concession")) == "INVALID_FIELD"  # no proving document
    adult = walk_in(resident_id(travel, 40))
    two_infants = (walk_in(resident_id(travel, 2), "free_child"), walk_in(resident_id(travel, 4), "free_child"))
    assert reason(adult, *two_infants) == "FREE_CHILD_NEEDS_ADULT"  # the second pays the child fare
    assert reason(walk_in(resident_id(travel, 8), "child"), two_infants[0]) == "FREE_CHILD_NEEDS_ADULT"
    bad = refused(lambda: sell(trip_id, "AAA", "BBB", passengers=(walk_in("110101199001011234"),)))
    assert bad.reason == "INVALID_FIELD" and bad.facts.get("field") == "passengers[0].document_number"
    # 13, and 5 for a free child: sold.
    sold = sell(
        trip_id,
        "AAA",
        "BBB",
        passengers=(
            walk_in(resident_id(travel, 13), "child"),
            walk_in(resident_id(travel, 33)),
            walk_in(resident_id(travel, 5), "free_child"),
        ),
    )
    assert [t.fare.base_fen for t in sold.tickets] == [700, 1500] and sold.tickets[1].HasField("free_child")


def test_small_vehicles_sell_no_child_fares_and_students_only_where_offered(station):
    van, travel = station.trip("van7")
    error = refused(
        lambda: station.client.sell(van, "AAA", "BBB", passengers=(walk_in(resident_id(travel, 9), "child"),))
    )
    assert error.reason == "CHILD_FARE_NOT_OFFERED"
    plain, travel = station.trip()
    student = walk_in(resident_id(travel, 19), "student")
    assert refused(lambda: station.client.sell(plain, "AAA", "BBB", passengers=(student,))).reason == (
        "STUDENT_FARE_NOT_OFFERED"
    )
    offered, travel = station.trip(student_fares=True)
    (ticket,) = station.client.sell(offered, "AAA", "BBB", passengers=(student,)).tickets
    assert parts(ticket) == (750, 100, 200, 0, 1050)


def test_the_refund_fee_applies_to_the_refundable_components_and_insurance_goes_back_whole(station):
    trip_id, travel = station.trip()
    (ticket,) = station.client.sell(
        trip_id, "AAA", "DDD", passengers=(walk_in(resident_id(travel, 40), insurance=True),)
    ).tickets
    assert parts(ticket) == (4000, 100, 200, 300, 4600)
    refunded = station.client.refund(ticket.ticket_id)
    # More than two hours out: 10 % of base and fuel (42.00), the service fee kept, insurance back.
    assert refunded.refund_fee_fen == 420
    assert refunded.refunded_fen == 4200 - 420 + 300
    assert parts(refunded) == parts(ticket)


def test_walk_in_passengers_name_one_per_seat(station):
    trip_id, travel = station.trip()
    error = refused(
        lambda: station.client.sell(trip_id, "AAA", "BBB", seat_count=2, passengers=(walk_in(resident_id(travel, 30)),))
    )
    assert error.reason == "INVALID_FIELD" and error.facts.get("field") == "passengers"


def test_a_rebooked_ticket_keeps_its_type_its_insurance_and_its_free_child(station):
    from keyun.terminals.client import new_request_id
    from keyun.v1 import sales_pb2

    trip_id, travel = station.trip()
    later, _ = station.trip()  # the same route, another schedule
    sold = station.client.sell(
        trip_id,
        "AAA",
        "BBB",
        passengers=(
            walk_in(resident_id(travel, 9), "child", insurance=True),
            walk_in(resident_id(travel, 39)),
            walk_in(resident_id(travel, 1), "free_child"),
        ),
    )
    child, adult = sold.tickets
    for old in (child, adult):
        changed = station.client.call(
            station.client.sales.ChangeTicket,
            sales_pb2.ChangeTicketRequest(request_id=new_request_id(), ticket_id=old.ticket_id, new_trip_id=later),
        )
        assert parts(changed.new_ticket) == parts(old) and changed.fare_difference_fen == 0
        assert changed.new_ticket.holder.document_number == old.holder.document_number
    assert changed.new_ticket.free_child.document_number == adult.free_child.document_number


def test_staff_find_a_passengers_tickets_by_document_or_phone_and_every_look_up_is_audited(station):
    from keyun.terminals.client import KeyunClient, audit_outcome
    from keyun.v1 import audit_pb2, audit_pb2_grpc

    trip_id, travel = station.trip()
    other_trip, _ = station.trip()
    number, infant = resident_id(travel, 44), resident_id(travel, 4)
    first = station.client.sell(
        trip_id,
        "AAA",
        "BBB",
        passengers=(walk_in(number, phone="139 1234 5678"), walk_in(infant, "free_child")),
    ).tickets[0]
    second = station.client.sell(other_trip, "CCC", "DDD", passengers=(walk_in(number),)).tickets[0]
    with logged_in(KeyunClient(station.server.target), "seller", station.server.clock) as seller:
        found = seller.find_passenger_tickets("lost ticket, counter 3", document_number=number)
        assert [t.ticket_id for t in found] == [second.ticket_id, first.ticket_id]  # newest first
        assert number not in str(found)
        by_phone = seller.find_passenger_tickets("lost ticket, counter 3", phone="+86 13912345678")
        assert [t.ticket_id for t in by_phone] == [first.ticket_id]
        as_free_child = seller.find_passenger_tickets("child travelling alone?", document_number=infant)
        assert [t.ticket_id for t in as_free_child] == [first.ticket_id]
        assert seller.find_passenger_tickets("nobody", document_number=resident_id(travel, 70)) == []
        no_purpose = refused(lambda: seller.find_passenger_tickets("  ", document_number=number))
        assert no_purpose.reason == "MISSING_FIELD" and no_purpose.facts["field"] == "purpose"
        both = refused(lambda: seller.find_passenger_tickets("x", document_number=number, phone="13912345678"))
        assert both.reason == "INVALID_FIELD"
    with logged_in(KeyunClient(station.server.target), "dispatcher", station.server.clock) as dispatcher:
        denied = refused(lambda: dispatcher.find_passenger_tickets("curious", document_number=number))
        assert denied.reason == "PERMISSION_DENIED"
    with logged_in(KeyunClient(station.server.target), "auditor", station.server.clock) as auditor:
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
            audit_pb2.ListRecordsRequest(action="keyun.v1.Sales/FindPassengerTickets"),
        ).records
    looked_up = [r for r in records if audit_outcome(r) == "OK"]
    assert len(looked_up) == 4
    assert any("lost ticket, counter 3" in r.detail and number[-4:] in r.target for r in looked_up)
    assert any(r.target == "139****5678" for r in looked_up)
    assert not any(number in r.target + r.detail for r in records)


def test_an_order_for_a_typed_hold_is_for_its_components_and_tickets_them(station):
    from keyun.v1 import orders_pb2

    trip_id, travel = station.trip()
    hold = station.client.hold(
        trip_id,
        "AAA",
        "CCC",
        passengers=(walk_in(resident_id(travel, 7), "child"), walk_in(resident_id(travel, 37), insurance=True)),
    )
    order = station.client.create_order(hold.hold_id, orders_pb2.PAY_METHOD_CASH).order
    assert order.amount_fen == hold.total_fen == (1350 + 300) + (3000 + 300 + 300)  # 45 % of 30.00, to 0.5 yuan
    assert [f.total_fen for f in order.fares] == [1650, 3600]
    paid = station.client.pay_at_counter(order.order_id, orders_pb2.PAY_METHOD_CASH)
    assert [parts(t) for t in paid.tickets] == [(1350, 100, 200, 0, 1650), (3000, 100, 200, 300, 3600)]
    assert [h.document_number[-4:] for h in paid.holders] == [t.holder.document_number[-4:] for t in paid.tickets]


def test_typed_tickets_survive_a_restart_from_the_log(ray_session, tmp_path):
    from keyun.terminals.client import KeyunClient

    policy = parse_policy({"fares": FARES})
    server = ServerThread(tmp_path / "data", shards=1, policy=policy)
    try:
        with logged_in(KeyunClient(server.target), clock=server.clock) as client:
            station = Station(server, client)
            trip_id, travel = station.trip()
            number = resident_id(travel, 40)
            sold = client.sell(
                trip_id,
                "AAA",
                "BBB",
                passengers=(walk_in(number, insurance=True), walk_in(resident_id(travel, 3), "free_child")),
            ).tickets[0]
    finally:
        server.stop()
    again = ServerThread(tmp_path / "data", shards=1, policy=policy)
    try:
        with logged_in(KeyunClient(again.target), clock=again.clock) as client:
            replayed = client.ticket(sold.ticket_id)
            assert parts(replayed) == parts(sold) and replayed.free_child == sold.free_child
            assert replayed.holder == sold.holder
            # The blind index came back with the ticket: the document still holds it.
            error = refused(lambda: client.sell(trip_id, "AAA", "BBB", passengers=(walk_in(number),)))
            assert error.reason == "DOCUMENT_HAS_TICKET" and error.facts["ticket_id"] == sold.ticket_id
    finally:
        again.stop()


def test_one_document_whatever_the_channel_and_named_seats(station):
    from keyun.v1 import common_pb2

    trip_id, travel = station.trip()
    number = resident_id(travel, 52)
    # A frequent passenger of the seller's own account (the account channel)...
    saved = station.client.add_passenger("赵六", common_pb2.DOCUMENT_TYPE_RESIDENT_ID, number, phone="13700001111")
    hold = station.client.hold(trip_id, "AAA", "CCC", seat_count=1, passenger_ids=(saved.passenger_id,))
    (ticket,) = station.client.confirm(hold.hold_id).tickets
    # ...is the same document as a walk-in at the counter.
    error = refused(lambda: station.client.sell(trip_id, "BBB", "DDD", passengers=(walk_in(number),)))
    assert error.reason == "DOCUMENT_HAS_TICKET" and error.facts["ticket_id"] == ticket.ticket_id
    with_seller_phone = station.client.find_passenger_tickets("ticket lost", phone="13700001111")
    assert [t.ticket_id for t in with_seller_phone] == [ticket.ticket_id]
    # Named seats: one per seated passenger; a free child takes none.
    sold = station.client.sell(
        trip_id,
        "AAA",
        "BBB",
        seat_numbers=("11", "12"),
        passengers=(
            walk_in(resident_id(travel, 30)),
            walk_in(resident_id(travel, 31)),
            walk_in(resident_id(travel, 2), "free_child"),
        ),
    )
    assert sorted(t.seat_number for t in sold.tickets) == ["11", "12"]
    assert sold.tickets[0].HasField("free_child") and not sold.tickets[1].HasField("free_child")


def test_a_retried_walk_in_sale_gets_its_first_answer(station):
    trip_id, travel = station.trip()
    passengers = (walk_in(resident_id(travel, 33), insurance=True), walk_in(resident_id(travel, 9), "child"))
    first = station.client.sell(trip_id, "AAA", "BBB", passengers=passengers, request_id="walk-in-retry")
    # The gateway encrypts afresh for the retry; the owner still knows it for the same request.
    again = station.client.sell(trip_id, "AAA", "BBB", passengers=passengers, request_id="walk-in-retry")
    assert again == first
    other = (walk_in(resident_id(travel, 34)), passengers[1])
    reused = refused(lambda: station.client.sell(trip_id, "AAA", "BBB", passengers=other, request_id="walk-in-retry"))
    assert reused.reason == "REQUEST_ID_REUSED"


def test_a_passenger_account_names_its_saved_passengers_not_walk_ins(station):
    from keyun.terminals.client import KeyunClient
    from keyun.v1 import accounts_pb2

    trip_id, travel = station.trip()
    own = KeyunClient(station.server.target, attempts=1)
    own.call(
        own.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="walk-in-reg", phone="13366667777", password="Walk-1n-Passw0rd"),
    )
    own.login("13366667777", "Walk-1n-Passw0rd")
    error = refused(lambda: own.hold(trip_id, "AAA", "BBB", passengers=(walk_in(resident_id(travel, 30)),)))
    assert error.reason == "PERMISSION_DENIED" and error.facts["field"] == "passengers"
    own.close()
