"""Sales/QuoteChange: the exact cost of a rebooking (改签), read before the passenger or the seller
confirms, through the gRPC API of a real server whose station charges fees on every ticket.  The
quote is what ChangeTicket then charges, for a full and a child ticket, onto a trip of the same
fare, a dearer and a cheaper one; it changes nothing, and is refused as the change would be."""

from __future__ import annotations

import datetime as dt
import itertools

import grpc
import pytest

from keyun.engine.identity import id_check_char
from keyun.engine.policy import parse_policy
from keyun.terminals.client import KeyunClient, KeyunError, walk_in

from .conftest import CHINA, STATIONS, ServerThread, logged_in

# A service fee and a fuel surcharge on every ticket, insurance when bought, child fares at 45 %
# rounded to half a yuan: the new ticket's price is its components', not the segment's fare.
FARES = {
    "child_percent": 45,
    "service_fee_fen": 100,
    "fuel_surcharge_fen": 200,
    "insurance_fen": 300,
    "round_to_fen": 50,
}
# LINE's fares per km: the tests' own (30) and, for later trips of the route, dearer and cheaper.
FEN_PER_KM = {"same": 30, "dearer": 40, "cheaper": 20}
SCHEDULES = itertools.count(1)
SERIALS = itertools.count(200)


def network(schedule_id: str, departs: dt.datetime, fen_per_km: int) -> str:
    """The tests' line, its fares at `fen_per_km` (a trip keeps the fares it was scheduled with)."""
    line = STATIONS.replace("fen_per_km = 30", f"fen_per_km = {fen_per_km}")
    return (
        line
        + f"""
[[schedules]]
id = "{schedule_id}"
route = "LINE"
operator = "TESTOP"
vehicle = "coach45"
departs = "{departs:%H:%M}"
"""
    )


class Station:
    def __init__(self, server: ServerThread, client: KeyunClient) -> None:
        self.server, self.client = server, client

    def trip(self, hours: int, fen_per_km: int = 30) -> tuple[str, dt.date]:
        """A fresh trip of LINE leaving AAA in `hours`; its id and travel date (Beijing)."""
        departs = dt.datetime.now(CHINA) + dt.timedelta(hours=hours)
        schedule_id = f"Q{next(SCHEDULES)}"
        self.client.load_network(network(schedule_id, departs, fen_per_km), departs.date().isoformat(), 1)
        return f"{schedule_id}-{departs:%Y%m%d}", departs.date()


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("change-quote"), shards=2, policy=parse_policy({"fares": FARES}))
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    yield Station(server, client)
    client.close()
    server.stop()


def resident_id(travel: dt.date, age: int) -> str:
    """A valid resident ID of someone exactly `age` on the travel date."""
    born = dt.date(travel.year - age, travel.month, min(travel.day, 28))
    first17 = f"110101{born:%Y%m%d}{next(SERIALS) % 1000:03d}"
    return first17 + id_check_char(first17)


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def components(fare) -> tuple[int, ...]:
    return (
        fare.ticket_type,
        fare.base_fen,
        fare.service_fee_fen,
        fare.fuel_surcharge_fen,
        fare.insurance_fen,
        fare.total_fen,
    )


@pytest.mark.parametrize("ticket_type", ["full", "child"])
@pytest.mark.parametrize("target", ["same", "dearer", "cheaper"])
def test_the_quote_is_what_the_change_charges_and_changes_nothing(station, ticket_type, target):
    client = station.client
    old_trip, travel = station.trip(5)
    new_trip, _ = station.trip(6, FEN_PER_KM[target])
    age = 40 if ticket_type == "full" else 8
    passenger = walk_in(resident_id(travel, age), "张三", ticket_type, insurance=ticket_type == "full")
    (ticket,) = client.sell(old_trip, "AAA", "CCC", passengers=(passenger,)).tickets
    free_before = client.seat_map(new_trip, "AAA", "CCC").seats_free

    quote = client.quote_change(ticket.ticket_id, new_trip)
    assert (quote.ticket_id, quote.new_trip_id) == (ticket.ticket_id, new_trip)
    assert quote.old_price_fen == ticket.price_fen and components(quote.old_fare) == components(ticket.fare)
    assert quote.new_price_fen == quote.new_fare.total_fen
    assert quote.fare_difference_fen == quote.new_price_fen - quote.old_price_fen
    assert quote.fee_fen == 0  # rebooking itself is free of charge
    # The new ticket keeps the old one's type, insurance and the station's fees.
    assert quote.new_fare.ticket_type == ticket.fare.ticket_type
    assert quote.new_fare.insurance_fen == ticket.fare.insurance_fen
    assert quote.new_fare.service_fee_fen == 100 and quote.new_fare.fuel_surcharge_fen == 200
    sign = {"same": 0, "dearer": 1, "cheaper": -1}[target]
    assert (quote.fare_difference_fen > 0) - (quote.fare_difference_fen < 0) == sign

    # A query: asking again answers the same, and nothing moved on either trip.
    assert client.quote_change(ticket.ticket_id, new_trip) == quote
    assert client.ticket(ticket.ticket_id).status == ticket.status
    assert client.seat_map(new_trip, "AAA", "CCC").seats_free == free_before

    moved = client.change_ticket(ticket.ticket_id, new_trip)
    assert moved.fare_difference_fen == quote.fare_difference_fen
    assert moved.new_ticket.price_fen == quote.new_price_fen
    assert components(moved.new_ticket.fare) == components(quote.new_fare)

    # Refused as the change itself now is: the old ticket was changed, the new one is changed once.
    assert refused(lambda: client.quote_change(ticket.ticket_id, new_trip)).reason == "TICKET_CHANGED"
    error = refused(lambda: client.quote_change(moved.new_ticket.ticket_id, old_trip))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CHANGE_NOT_ALLOWED")


def test_a_quote_is_refused_as_the_change_would_be(station):
    client = station.client
    old_trip, _ = station.trip(7)
    new_trip, _ = station.trip(8)
    (ticket,) = client.sell(old_trip, "AAA", "BBB", seat_numbers=("3",)).tickets
    cases = {
        "same trip": (lambda: client.quote_change(ticket.ticket_id, old_trip), "CHANGE_NOT_ALLOWED"),
        "unknown trip": (lambda: client.quote_change(ticket.ticket_id, "NOPE-1"), "UNKNOWN_TRIP"),
        "unknown ticket": (lambda: client.quote_change(f"{old_trip}-9999", new_trip), "UNKNOWN_TICKET"),
        "unknown seat": (lambda: client.quote_change(ticket.ticket_id, new_trip, "99"), "UNKNOWN_SEAT"),
    }
    for name, (call, reason) in cases.items():
        assert refused(call).reason == reason, name
    # A seat taken on the new trip: refused as the change's hold would be, naming the request's field.
    client.sell(new_trip, "AAA", "BBB", seat_numbers=("5",))
    error = refused(lambda: client.quote_change(ticket.ticket_id, new_trip, "5"))
    assert error.reason == "SEAT_TAKEN"
    assert client.quote_change(ticket.ticket_id, new_trip, "6").fare_difference_fen == 0
    assert client.ticket(ticket.ticket_id).status == ticket.status  # refusals changed nothing either


def test_bad_input_is_refused_with_stable_reasons(station):
    client = station.client
    old_trip, _ = station.trip(9)
    (ticket,) = client.sell(old_trip, "AAA", "BBB", seat_count=1).tickets
    for ticket_id, new_trip_id, field in (
        ("", old_trip, "ticket_id"),
        (ticket.ticket_id, "", "trip_id"),
        ("not a ticket", old_trip, "ticket_id"),
    ):
        error = refused(lambda: client.quote_change(ticket_id, new_trip_id))  # noqa: B023 (called at once)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, (ticket_id, new_trip_id)
        assert error.reason in ("MISSING_FIELD", "INVALID_FIELD") and error.facts.get("field") == field, (
            error.reason,
            error.facts,
        )
    error = refused(lambda: client.quote_change(ticket.ticket_id, old_trip, "x" * 100))
    assert (error.code, error.facts.get("field")) == (grpc.StatusCode.INVALID_ARGUMENT, "seat_number")


def test_a_passenger_is_quoted_only_for_their_own_tickets_and_others_need_the_sell_permission(station):
    # A passenger's own ticket is quoted in the site's browser test (tests/web/test_site.py).
    client = station.client
    old_trip, _ = station.trip(10)
    new_trip, _ = station.trip(11)
    (ticket,) = client.sell(old_trip, "AAA", "BBB", seat_count=1).tickets
    passenger = KeyunClient(station.server.target)
    passenger.register("13600002222", "Quote-Passw0rd")
    passenger.login("13600002222", "Quote-Passw0rd")
    error = refused(lambda: passenger.quote_change(ticket.ticket_id, new_trip))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_TICKET")
    passenger.close()
    with logged_in(KeyunClient(station.server.target), "inspector", clock=station.server.clock) as inspector:
        error = refused(lambda: inspector.quote_change(ticket.ticket_id, new_trip))
        assert error.code == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("target", ["same", "cheaper"])
def test_an_ordered_ticket_gets_back_exactly_the_quoted_difference(station, target):
    """The order of a ticket rebooked onto a trip of the same fare gets nothing back, and onto a
    cheaper one exactly the quoted difference: the new ticket is priced with the station's fees
    and the insurance, as the old one was, never at the segment's bare fare."""
    from keyun.v1 import orders_pb2

    client = station.client
    old_trip, travel = station.trip(12)
    new_trip, _ = station.trip(13, FEN_PER_KM[target])
    hold = client.hold(old_trip, "AAA", "CCC", passengers=(walk_in(resident_id(travel, 35), "李四", insurance=True),))
    order = client.create_order(hold.hold_id, orders_pb2.PAY_METHOD_CASH).order
    (ticket,) = client.pay_at_counter(order.order_id, orders_pb2.PAY_METHOD_CASH).tickets
    quote = client.quote_change(ticket.ticket_id, new_trip)
    assert quote.new_fare.insurance_fen == 300 and quote.new_fare.service_fee_fen == 100

    moved = client.change_ticket(ticket.ticket_id, new_trip)
    assert moved.fare_difference_fen == quote.fare_difference_fen
    refunds = client.order(order.order_id).refunds
    assert sum(r.amount_fen for r in refunds) == -quote.fare_difference_fen
    assert bool(refunds) == (target == "cheaper")
