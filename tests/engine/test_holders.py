"""Real-name tickets: holds and sales for a buyer's frequent passengers, and what buyers may see."""

from __future__ import annotations

import pytest

from keyun.engine import commands as c
from keyun.engine.events import Holder
from keyun.engine.reasons import Reason, Rejected

from .conftest import TRIP, A, C, D

BUYER = "A000007"
ZHANG = Holder(BUYER, "P1", "张*", "RESIDENT_ID", "110105********002X")
LI = Holder(BUYER, "P2", "李*", "PASSPORT", "E******78")


def test_holders_must_match_the_seats_one_to_one():
    with pytest.raises(Rejected) as caught:
        c.PlaceHold("r1", TRIP, A, D, seat_count=2, holders=(ZHANG,))
    assert caught.value.rejection.fact("field") == "passenger_ids"
    with pytest.raises(Rejected):
        c.Sell("r1", TRIP, A, D, seat_count=2, holders=(ZHANG, ZHANG))


def test_a_hold_for_named_passengers_becomes_their_tickets(desk):
    hold = desk.ok(c.PlaceHold("h1", TRIP, A, C, seat_count=2, buyer=BUYER, holders=(ZHANG, LI)))
    assert hold.holders == (ZHANG, LI)
    tickets = desk.ok(desk.confirm(hold.hold_id)).tickets
    assert [t.holder for t in tickets] == [ZHANG, LI]
    assert desk.ok(c.GetTicket(tickets[0].ticket_id, viewer=BUYER)).holder == ZHANG


def test_a_sale_names_its_passengers_and_anonymous_sales_name_none(desk):
    named = desk.ok(c.Sell("s1", TRIP, A, D, seat_count=1, holders=(LI,))).tickets
    plain = desk.ok(desk.sell(count=1)).tickets
    assert named[0].holder == LI and plain[0].holder is None


def test_a_passenger_sees_and_releases_only_their_own(desk):
    hold = desk.ok(c.PlaceHold("h1", TRIP, A, C, seat_count=1, buyer=BUYER, holders=(ZHANG,)))
    desk.refused(c.ReleaseHold("x1", hold.hold_id, buyer="A000008"), Reason.UNKNOWN_HOLD)
    ticket = desk.ok(desk.confirm(hold.hold_id)).tickets[0]
    desk.refused(c.GetTicket(ticket.ticket_id, viewer="A000008"), Reason.UNKNOWN_TICKET)
    staff_sale = desk.ok(desk.sell(count=1)).tickets[0]
    desk.refused(c.GetTicket(staff_sale.ticket_id, viewer=BUYER), Reason.UNKNOWN_TICKET)
    assert desk.ok(c.GetTicket(staff_sale.ticket_id)).ticket_id == staff_sale.ticket_id  # staff see every ticket
    second = desk.ok(c.PlaceHold("h2", TRIP, C, D, seat_count=1, buyer=BUYER, holders=(LI,)))
    desk.ok(c.ReleaseHold("x2", second.hold_id, buyer=BUYER))
