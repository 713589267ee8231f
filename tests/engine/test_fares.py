"""Fare rules: the [fares] table of a policy file, rounding, ages and what a refund gives back."""

from __future__ import annotations

import pytest

from keyun.engine import commands as c
from keyun.engine.commands import TicketRequest
from keyun.engine.events import Fare, Holder
from keyun.engine.fares import FareRules, age_on, free_child_limit, round_fen
from keyun.engine.policy import Policy, PolicyError, parse_policy
from keyun.engine.reasons import Reason, Rejected

from .conftest import TRIP, A, B, C, D, Desk, make_engine


def test_no_fares_table_keeps_every_fare_as_it_was():
    rules = parse_policy({}).fares
    assert rules == FareRules() == Policy().fares
    assert not rules.itemises
    assert rules.fare(4000, "full", False) == Fare("full", 4000)
    assert rules.fare(1234, "child", False).base_fen == 617  # half of 12.34, to the fen, half up
    assert rules.refund_basis_fen(None, 4000) == 4000


def test_every_fares_key_is_read():
    rules = parse_policy(
        {
            "fares": {
                "child_percent": 40,
                "concession_percent": 60,
                "student_percent": 75,
                "service_fee_fen": 100,
                "fuel_surcharge_fen": 200,
                "insurance_fen": 500,
                "round_to_fen": 100,
                "rounding": "down",
                "minimum_fare_fen": 800,
                "refundable": ["base"],
                "one_ticket_per_document": "off",
                "free_child_percent": 20,
            }
        }
    ).fares
    assert rules == FareRules(40, 60, 75, 100, 200, 500, 100, "down", 800, ("base",), "off", 20)
    assert rules.itemises
    assert rules.fare(3000, "student", True) == Fare("student", 2200, 100, 200, 500)  # 22.50 down to 22
    assert rules.fare(1500, "child", False).base_fen == 800  # 6.00, raised to the minimum fare
    fare = rules.fare(3000, "concession", True)
    assert rules.refund_basis_fen(fare, fare.total_fen) == fare.base_fen  # only the base is refundable


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"child_percent": 120}, "fares.child_percent: must be a whole number of percent in 0..100"),
        ({"service_fee_fen": -1}, "fares.service_fee_fen: must be a whole number of fen in 0..100000"),
        ({"insurance_fen": 2.5}, "fares.insurance_fen: must be a whole number of fen in 0..100000"),
        ({"round_to_fen": 20}, "fares.round_to_fen: must be one of 1, 10, 50, 100"),
        ({"round_to_fen": True}, "fares.round_to_fen: must be one of 1, 10, 50, 100"),
        ({"rounding": "nearest"}, "fares.rounding: must be one of half_up, half_down, up, down"),
        ({"refundable": ["base", "insurance"]}, "fares.refundable: must be a list of distinct components"),
        ({"refundable": "base"}, "fares.refundable: must be a list of distinct components"),
        ({"one_ticket_per_document": True}, "fares.one_ticket_per_document: must be one of overlapping, trip, off"),
        ({"free_child_percent": 11.5}, "fares.free_child_percent: must be a whole number of percent in 0..100"),
        ({"child_fare": 50}, "fares.child_fare: unknown key (expected one of"),
    ],
)
def test_every_fares_problem_is_named(table, problem):
    with pytest.raises(PolicyError) as caught:
        parse_policy({"fares": table})
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_fares_must_be_a_table():
    with pytest.raises(PolicyError, match="fares: must be a table"):
        parse_policy({"fares": 50})


@pytest.mark.parametrize(
    ("fen_times_100", "step", "rounding", "expected"),
    [
        (67_500, 50, "half_up", 700),  # 6.75 to half a yuan
        (67_500, 50, "half_down", 650),
        (67_400, 50, "half_up", 650),
        (67_600, 50, "half_down", 700),
        (67_500, 100, "half_up", 700),
        (65_000, 100, "half_up", 700),  # 6.50: the half goes up...
        (65_000, 100, "half_down", 600),  # ...or down
        (60_100, 100, "up", 700),
        (69_900, 100, "down", 600),
        (61_750, 1, "half_up", 618),
    ],
)
def test_rounding(fen_times_100, step, rounding, expected):
    assert round_fen(fen_times_100, 100, step, rounding) == expected


def test_ages_and_the_free_child_limit():
    assert age_on("20120315", 2026, 3, 14) == 13
    assert age_on("20120315", 2026, 3, 15) == 14
    assert age_on("20200229", 2026, 2, 28) == 5
    assert free_child_limit(FareRules(), 45) == 4 and free_child_limit(FareRules(), 12) == 1


# --- the trip owner's decisions ---------------------------------------------------------------


def _holder(document: bytes, masked: str = "110101********0011") -> Holder:
    return Holder("", "", "张*", "RESIDENT_ID", masked, document)


def _sale(desk: Desk, frm: str, to: str, *tickets: TicketRequest, holders: tuple[Holder, ...] = ()) -> c.Sell:
    return c.Sell(desk.rid(), TRIP, frm, to, seat_count=len(tickets), holders=holders, tickets=tickets)


def test_a_document_may_not_sit_in_two_seats_at_once_by_default(desk):
    adult = _holder(b"doc-1")
    (ticket,) = desk.ok(_sale(desk, A, C, TicketRequest(), holders=(adult,))).tickets
    assert ticket.fare == Fare("full", 3000)
    refused = desk.refused(_sale(desk, B, D, TicketRequest(), holders=(adult,)), Reason.DOCUMENT_HAS_TICKET)
    assert refused.fact("ticket_id") == ticket.ticket_id and refused.fact("document") == "110101********0011"
    desk.ok(_sale(desk, C, D, TicketRequest(), holders=(adult,)))  # the next leg: one seat at a time
    desk.ok(desk.refund(ticket.ticket_id))
    desk.ok(_sale(desk, A, B, TicketRequest(), holders=(adult,)))  # refunded: free again


def test_one_ticket_per_document_and_trip_when_the_station_says_so():
    desk = Desk(make_engine(policy=Policy(fares=FareRules(one_ticket_per_document="trip"))))
    adult = _holder(b"doc-1")
    (ticket,) = desk.ok(_sale(desk, A, B, TicketRequest(), holders=(adult,))).tickets
    refused = desk.refused(_sale(desk, C, D, TicketRequest(), holders=(adult,)), Reason.DOCUMENT_HAS_TICKET)
    assert refused.fact("ticket_id") == ticket.ticket_id
    off = Desk(make_engine(policy=Policy(fares=FareRules(one_ticket_per_document="off"))))
    off.ok(_sale(off, A, D, TicketRequest(), holders=(adult,)))
    off.ok(_sale(off, A, D, TicketRequest(), holders=(adult,)))


def test_free_children_count_over_the_whole_trip_holds_included(desk):
    # The test coach has 13 seats: one free child (10 %, rounded down) on the whole trip.
    child = TicketRequest("full", False, _holder(b"kid-1", "110101********0022"))
    hold = desk.ok(c.PlaceHold(desk.rid(), TRIP, A, B, seat_count=1, holders=(_holder(b"doc-1"),), tickets=(child,)))
    assert hold.fares[0].free_child is not None
    second = TicketRequest("full", False, _holder(b"kid-2"))
    refused = desk.refused(_sale(desk, C, D, second, holders=(_holder(b"doc-2"),)), Reason.FREE_CHILD_LIMIT)
    assert (refused.fact("limit"), refused.fact("carried")) == ("1", "1")
    desk.ok(desk.release(hold.hold_id))
    desk.ok(_sale(desk, C, D, second, holders=(_holder(b"doc-2"),)))


def test_types_need_an_identity_and_a_seat_of_the_right_kind(desk):
    with pytest.raises(Rejected) as caught:
        _sale(desk, A, B, TicketRequest("child"))
    assert caught.value.rejection.reason is Reason.IDENTITY_REQUIRED
    with pytest.raises(Rejected) as caught:
        _sale(desk, A, B, TicketRequest("free_child"), holders=(_holder(b"kid"),))
    assert caught.value.rejection.reason is Reason.INVALID_FIELD  # a free child is no seat's type
    with pytest.raises(Rejected) as caught:
        _sale(desk, A, B, TicketRequest("child", False, _holder(b"kid")), holders=(_holder(b"doc"),))
    assert caught.value.rejection.reason is Reason.FREE_CHILD_NEEDS_ADULT
    desk.refused(
        _sale(desk, A, B, TicketRequest("student"), holders=(_holder(b"doc"),)), Reason.STUDENT_FARE_NOT_OFFERED
    )


def test_the_refund_gives_back_refundable_components_less_the_fee_and_insurance_whole():
    rules = FareRules(service_fee_fen=100, fuel_surcharge_fen=200, refundable=("base", "fuel_surcharge"))
    desk = Desk(make_engine(policy=Policy(fares=rules)))
    (ticket,) = desk.ok(_sale(desk, A, D, TicketRequest("full", True), holders=(_holder(b"doc"),))).tickets
    assert ticket.price_fen == 4000 + 100 + 200 + 300
    refunded = desk.ok(desk.refund(ticket.ticket_id))
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (420, 4200 - 420 + 300)
    plain = desk.ok(desk.sell(A, D, count=1)).tickets[0]
    assert plain.fare == Fare("full", 4000, 100, 200) and plain.price_fen == 4300


def test_student_fares_are_a_route_or_schedule_flag_of_the_network_file():
    from keyun.engine.network import NetworkError, parse_network

    from .conftest import network_doc

    doc = network_doc()
    doc["routes"][0]["student_fares"] = True
    doc["schedules"][1]["student_fares"] = False
    network = parse_network(doc)
    assert [s.student_fares for s in network.schedules] == [True, False]
    doc["schedules"][0]["student_fares"] = "yes"
    with pytest.raises(NetworkError) as caught:
        parse_network(doc)
    assert caught.value.problems == ["schedules[0].student_fares: must be true or false"]


def test_a_trip_restored_from_its_snapshot_record_knows_its_documents(desk):
    from keyun.engine.decide import decide
    from keyun.engine.state import state_of, trip_record

    adult, child = _holder(b"doc-1"), _holder(b"kid-1", "110101********0022")
    hold = desk.ok(
        c.PlaceHold(
            desk.rid(), TRIP, A, B, seat_count=1, holders=(adult,), tickets=(TicketRequest("full", False, child),)
        )
    )
    (ticket,) = desk.ok(desk.confirm(hold.hold_id)).tickets
    restored = state_of(trip_record(desk.engine.state.trips[TRIP]))
    # The live state keeps the confirmed hold's entries too (only ever added to); the record has none.
    assert restored.trips[TRIP].documents == {b"doc-1": {ticket.ticket_id: 1}, b"kid-1": {ticket.ticket_id: 1}}
    for holder in (adult, child):
        refused = decide(restored, _sale(desk, A, D, TicketRequest(), holders=(holder,)), desk.now, Policy())
        assert refused.reason is Reason.DOCUMENT_HAS_TICKET and refused.fact("ticket_id") == ticket.ticket_id
