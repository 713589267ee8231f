"""Seat inventory through `ShardEngine.execute`: segments, holds, sales, refunds, boarding, queries.

Every expected rejection goes through `Desk.refused`, which also checks that it changed no state.
"""

from __future__ import annotations

import copy

import pytest

from keyun.engine import commands as c
from keyun.engine.decide import TripStatus, decide
from keyun.engine.events import HoldExpired, HoldPlaced, TicketsIssued, TripCancelled, TripDeparted
from keyun.engine.limits import DEFAULT_HOLD_TTL_MS, MAX_SEATS_PER_HOLD
from keyun.engine.network import AISLE
from keyun.engine.policy import Policy, RefundTier
from keyun.engine.reasons import Reason, Rejected, Rejection
from keyun.engine.shard import Entry, ShardEngine
from keyun.engine.state import TicketStatus, state_of, trip_record
from keyun.engine.views import (
    ConflictedScanView,
    HoldView,
    ManifestView,
    OffersView,
    ReleasedView,
    ScheduledView,
    SeatMapView,
    StationsView,
    SweptView,
    TicketsView,
    TicketView,
    TripView,
)

from .conftest import (
    AFTERNOON_MS,
    DAY_MS,
    DEPARTS_MS,
    FARE,
    HOUR_MS,
    MINUTE_MS,
    NEXT_DAY_TRIP,
    NOW,
    PM_TRIP,
    STOPS,
    TRIP,
    A,
    B,
    C,
    D,
    Desk,
    make_engine,
    trip_specs,
)

ALL_SEATS = {"1A", "1B", "1C", "1D", "2A", "2B", "2C", "2D", "3A", "3B", "3C", "3D", "3E"}
SEGMENTS = [(STOPS[i], STOPS[j]) for i in range(4) for j in range(i + 1, 4)]
STOP_DEPARTS = {A: DEPARTS_MS, B: DEPARTS_MS + HOUR_MS, C: DEPARTS_MS + 2 * HOUR_MS, D: DEPARTS_MS + 3 * HOUR_MS}


def ticket_ids(reply: TicketsView) -> list[str]:
    return [t.ticket_id for t in reply.tickets]


def labels(reply: TicketsView | HoldView) -> list[str]:
    if isinstance(reply, HoldView):
        return list(reply.seat_labels)
    return [t.seat_label for t in reply.tickets]


def overlaps(seg1: tuple[str, str], seg2: tuple[str, str]) -> bool:
    i1, j1 = STOPS.index(seg1[0]), STOPS.index(seg1[1])
    i2, j2 = STOPS.index(seg2[0]), STOPS.index(seg2[1])
    return i1 < j2 and i2 < j1


# --- scheduling ---------------------------------------------------------------------------------


def test_fixture_schedules_two_days_of_trips(engine):
    assert sorted(engine.state.trips) == ["S1-20300601", "S1-20300602", "S2-20300601", "S2-20300602"]
    assert engine.state.trips[TRIP].spec.departs_at_ms == DEPARTS_MS


def test_scheduling_again_is_a_no_op_and_a_different_spec_conflicts(desk):
    spec = trip_specs()[0]
    reply = desk.ok(c.ScheduleTrip("again", spec))
    assert reply == ScheduledView(TRIP, created=False)
    assert desk.last_entries == []
    other = trip_specs(rows=[["1", "2"]])[0]
    assert other.trip_id == TRIP
    rejection = desk.refused(c.ScheduleTrip("conflict", other), Reason.TRIP_CONFLICT)
    assert rejection.fact("trip_id") == TRIP


def test_scheduling_journals_the_spec():
    engine = ShardEngine(check=True)
    spec = trip_specs()[0]
    replies, entries = engine.execute([c.ScheduleTrip("s", spec)], NOW)
    assert replies == [ScheduledView(TRIP, created=True)]
    assert [e.events[0].spec for e in entries] == [spec]


# --- segments -----------------------------------------------------------------------------------


def test_one_seat_carries_passengers_on_disjoint_segments(desk):
    first = desk.ok(desk.sell(A, B, seats=("1A",)))
    second = desk.ok(desk.sell(B, D, seats=("1A",)))
    assert labels(first) == labels(second) == ["1A"]
    assert (first.tickets[0].from_stop.code, first.tickets[0].to_stop.code) == (A, B)
    assert (second.tickets[0].from_stop.code, second.tickets[0].to_stop.code) == (B, D)
    assert first.tickets[0].price_fen == FARE[(A, B)] and second.tickets[0].price_fen == FARE[(B, D)]
    assert ticket_ids(first) == [f"{TRIP}-0001"] and ticket_ids(second) == [f"{TRIP}-0002"]
    for segment in SEGMENTS:
        rejection = desk.refused(desk.sell(*segment, seats=("1A",)), Reason.SEAT_TAKEN)
        assert rejection.fact("seat") == "1A"


@pytest.mark.parametrize("sold", SEGMENTS, ids="-".join)
def test_a_sale_takes_exactly_the_overlapping_segments(desk, sold):
    desk.ok(desk.sell(*sold, seats=("2C",)))
    for segment in SEGMENTS:
        free = desk.free_seats(*segment)
        assert ("2C" in free) != overlaps(sold, segment), segment
        assert free | {"2C"} == ALL_SEATS
    for segment in SEGMENTS:
        if overlaps(sold, segment):
            desk.refused(desk.sell(*segment, seats=("2C",)), Reason.SEAT_TAKEN)
        else:
            hold = desk.ok(desk.hold(*segment, seats=("2C",)))
            desk.ok(desk.release(hold.hold_id))


def test_sell_a_to_c_overlapping_a_to_b_is_refused(desk):
    desk.ok(desk.sell(A, B, seats=("1A",)))
    desk.ok(desk.sell(B, D, seats=("1A",)))
    rejection = desk.refused(desk.sell(A, C, seats=("1B", "1A")), Reason.SEAT_TAKEN)
    assert rejection.fact("seat") == "1A"
    assert "1B" in desk.free_seats(A, C), "a refused sale takes none of its seats"


@pytest.mark.parametrize("frm, to", [(D, A), (C, B), (B, A), ("ZZ", D), (A, "ZZ"), ("SJZ", "BJ")])
def test_bad_segment(desk, frm, to):
    rejection = desk.refused(desk.sell(frm, to, count=1), Reason.BAD_SEGMENT)
    assert rejection.fact("field") == "to_station"
    desk.refused(desk.hold(frm, to, seats=("1A",)), Reason.BAD_SEGMENT)
    desk.refused(c.GetSeatMap(TRIP, frm, to), Reason.BAD_SEGMENT)


def test_unknown_seat(desk):
    rejection = desk.refused(desk.sell(seats=("1A", "9Z")), Reason.UNKNOWN_SEAT)
    assert (
        rejection.fact("seat") == "9Z" and rejection.fact("field") == "seat_numbers[1]"
    )  # the element at fault (AIP-193)
    desk.refused(desk.hold(seats=("1a",)), Reason.UNKNOWN_SEAT)  # labels are case-sensitive


def test_unknown_trip(desk):
    other = "S9-20300601"
    desk.refused(desk.sell(trip=other, count=1), Reason.UNKNOWN_TRIP)
    desk.refused(desk.hold(trip=other, count=1), Reason.UNKNOWN_TRIP)
    desk.refused(desk.confirm(f"{other}-H1"), Reason.UNKNOWN_TRIP)
    desk.refused(desk.refund(f"{other}-0001"), Reason.UNKNOWN_TRIP)
    desk.refused(desk.depart(other), Reason.UNKNOWN_TRIP)
    desk.refused(c.GetTrip(other), Reason.UNKNOWN_TRIP)
    desk.refused(c.GetManifest(other), Reason.UNKNOWN_TRIP)


# --- any N seats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count, seats",
    [
        (1, ["1A"]),
        (2, ["1A", "1B"]),
        (3, ["3A", "3B", "3C"]),  # no run of three in the 2+2 rows: the back row
        (4, ["3A", "3B", "3C", "3D"]),
        (5, ["3A", "3B", "3C", "3D", "3E"]),
        (6, ["1A", "1B", "1C", "1D", "2A", "2B"]),  # no row fits six
    ],
)
def test_any_seats_on_an_empty_coach(desk, count, seats):
    assert labels(desk.ok(desk.sell(count=count))) == seats


def test_any_seats_sit_together_past_a_taken_seat(desk):
    desk.ok(desk.sell(seats=("1A",)))
    assert labels(desk.ok(desk.sell(count=2))) == ["1C", "1D"]  # 1B alone is not a pair
    assert labels(desk.ok(desk.sell(count=1))) == ["1B"]
    assert labels(desk.ok(desk.sell(count=2))) == ["2A", "2B"]


def test_any_seats_across_the_aisle_before_splitting_rows(desk):
    desk.ok(desk.sell(seats=("3A", "3B", "3C", "3D", "3E")))
    assert labels(desk.ok(desk.sell(count=3))) == ["1A", "1B", "1C"]
    assert labels(desk.ok(desk.sell(count=3))) == ["2A", "2B", "2C"]
    assert labels(desk.ok(desk.sell(count=2))) == ["1D", "2D"]  # last resort: any free seats


def test_any_seats_use_seats_free_on_the_segment_only(desk):
    desk.ok(desk.sell(A, B, seats=("1A", "1B", "1C", "1D")))
    assert labels(desk.ok(desk.sell(B, D, count=2))) == ["1A", "1B"]
    assert labels(desk.ok(desk.sell(B, D, count=4))) == ["3A", "3B", "3C", "3D"]  # together beats front
    assert labels(desk.ok(desk.hold(A, C, count=2))) == ["2A", "2B"]


def test_not_enough_seats(desk):
    desk.ok(desk.sell(A, C, count=MAX_SEATS_PER_HOLD))
    rejection = desk.refused(desk.hold(count=4), Reason.NOT_ENOUGH_SEATS)
    assert rejection.fact("seats_free") == "3"
    assert labels(desk.ok(desk.hold(count=3))) == ["3C", "3D", "3E"]
    assert desk.refused(desk.sell(count=1), Reason.NOT_ENOUGH_SEATS).fact("seats_free") == "0"
    assert len(desk.ok(desk.sell(C, D, count=1)).tickets) == 1, "another segment is unaffected"


# --- holds ----------------------------------------------------------------------------------------


def test_place_hold(desk):
    hold = desk.ok(desk.hold(B, D, seats=("2A", "2B")))
    assert isinstance(hold, HoldView)
    assert hold.hold_id == f"{TRIP}-H1" and hold.trip_id == TRIP
    assert hold.seat_labels == ("2A", "2B")
    assert (hold.from_stop.code, hold.to_stop.code) == (B, D)
    assert hold.from_stop.departs_at_ms == STOP_DEPARTS[B]
    assert hold.fare_fen == FARE[(B, D)] and hold.total_fen == 2 * FARE[(B, D)]
    assert hold.expires_at_ms == NOW + DEFAULT_HOLD_TTL_MS
    (entry,) = desk.last_entries
    assert isinstance(entry.events[0], HoldPlaced)
    assert desk.engine.state.trips[TRIP].holds[hold.hold_id].seats == (4, 5)
    assert {"2A", "2B"}.isdisjoint(desk.free_seats(C, D))
    assert {"2A", "2B"} <= desk.free_seats(A, B)
    desk.refused(desk.sell(C, D, seats=("2B",)), Reason.SEAT_TAKEN)
    desk.refused(desk.hold(A, C, seats=("2A",)), Reason.SEAT_TAKEN)
    assert desk.ok(desk.hold(count=1)).hold_id == f"{TRIP}-H2"


def test_confirm_hold(desk):
    hold = desk.ok(desk.hold(A, C, seats=("1A", "1B"), ttl_ms=60_000))
    tickets = desk.ok(desk.confirm(hold.hold_id), NOW + 59_999)
    assert isinstance(tickets, TicketsView)
    assert ticket_ids(tickets) == [f"{TRIP}-0001", f"{TRIP}-0002"]
    assert labels(tickets) == ["1A", "1B"]
    assert all(t.price_fen == FARE[(A, C)] and t.status is TicketStatus.ISSUED for t in tickets.tickets)
    assert all(t.issued_at_ms == NOW + 59_999 for t in tickets.tickets)
    assert tickets.total_fen == 2 * FARE[(A, C)]
    (entry,) = desk.last_entries
    assert isinstance(entry.events[0], TicketsIssued) and entry.events[0].hold_id == hold.hold_id
    assert desk.engine.state.trips[TRIP].holds == {}
    assert {"1A", "1B"}.isdisjoint(desk.free_seats(A, C))
    # The hold is gone: confirming or releasing it again is refused.
    assert desk.refused(desk.confirm(hold.hold_id), Reason.HOLD_CLOSED).fact("hold_id") == hold.hold_id
    desk.refused(desk.release(hold.hold_id), Reason.HOLD_CLOSED)
    # Nothing expires later: the tickets stand.
    desk.ok(c.GetTrip(TRIP), NOW + HOUR_MS)
    assert {"1A", "1B"}.isdisjoint(desk.free_seats(A, C))


def test_fare_is_fixed_when_the_hold_is_placed(desk):
    hold = desk.ok(desk.hold(A, D, count=1))
    desk.engine.state.trips[TRIP].fares[(0, 3)] = 9999  # a later fare change does not touch the hold
    assert desk.ok(desk.confirm(hold.hold_id)).tickets[0].price_fen == FARE[(A, D)]


def test_release_hold(desk):
    hold = desk.ok(desk.hold(seats=("1A", "3E")))
    assert desk.ok(desk.release(hold.hold_id)) == ReleasedView(hold.hold_id)
    assert desk.free_seats(A, D) == ALL_SEATS
    assert desk.engine.state.trips[TRIP].holds == {}
    assert desk.refused(desk.confirm(hold.hold_id), Reason.HOLD_CLOSED).fact("hold_id") == hold.hold_id
    desk.refused(desk.release(hold.hold_id), Reason.HOLD_CLOSED)
    assert labels(desk.ok(desk.sell(seats=("1A", "3E")))) == ["1A", "3E"]


def test_unknown_hold(desk):
    assert desk.refused(desk.confirm(f"{TRIP}-H1"), Reason.UNKNOWN_HOLD).fact("hold_id") == f"{TRIP}-H1"
    desk.ok(desk.hold(count=1))
    desk.refused(desk.confirm(f"{TRIP}-H2"), Reason.UNKNOWN_HOLD)
    desk.refused(desk.release(f"{TRIP}-H99"), Reason.UNKNOWN_HOLD)
    desk.refused(desk.confirm(f"{PM_TRIP}-H1"), Reason.UNKNOWN_HOLD)  # hold numbers are per trip


def test_holds_expire_and_the_sweep_frees_their_seats(desk):
    short = desk.ok(desk.hold(seats=("1A",), ttl_ms=60_000))
    long = desk.ok(desk.hold(seats=("1B",), ttl_ms=120_000))
    desk.ok(c.GetTrip(TRIP), NOW + 59_999)
    assert desk.last_entries == []
    assert {"1A", "1B"}.isdisjoint(desk.free_seats(A, D))
    # The first batch at or after expiry sweeps before it does anything else.
    assert "1A" in desk.free_seats(A, D, now=NOW + 60_000)
    (entry,) = desk.last_entries
    assert entry == Entry(c.SweepHolds(), (HoldExpired(TRIP, short.hold_id),))
    assert "1B" not in desk.free_seats(A, D)
    rejection = desk.refused(desk.confirm(short.hold_id), Reason.HOLD_EXPIRED)
    assert rejection.fact("hold_id") == short.hold_id
    assert rejection.fact("expired_at_ms") == str(NOW + 60_000)
    desk.refused(desk.release(short.hold_id), Reason.HOLD_EXPIRED)
    assert labels(desk.ok(desk.sell(seats=("1A",)))) == ["1A"]
    desk.ok(desk.confirm(long.hold_id), NOW + 119_999)
    desk.ok(c.GetTrip(TRIP), NOW + HOUR_MS)
    assert desk.last_entries == [], "a confirmed hold is never swept"


def test_confirm_after_expiry_in_a_batch_that_did_not_sweep_it(engine):
    # A sweep is bounded; a hold past its time but not yet swept is still refused.
    desk = Desk(engine)
    hold = desk.ok(desk.hold(count=2, ttl_ms=1000))
    outcome = decide(engine.state, c.ConfirmHold("late", hold.hold_id), NOW + 1000, engine.policy)
    assert isinstance(outcome, Rejection) and outcome.reason is Reason.HOLD_EXPIRED
    assert outcome.fact("expired_at_ms") == str(NOW + 1000)
    outcome = decide(engine.state, c.ReleaseHold("late", hold.hold_id), NOW + 999, engine.policy)
    assert not isinstance(outcome, Rejection)


def test_sweep_takes_the_earliest_holds_first_up_to_its_limit(engine):
    desk = Desk(engine)
    holds = [desk.ok(desk.hold(count=1, ttl_ms=ttl)) for ttl in (5000, 3000, 4000, 60_000)]
    events = decide(engine.state, c.SweepHolds(limit=2), NOW + 10_000, engine.policy)
    assert events == (HoldExpired(TRIP, holds[1].hold_id), HoldExpired(TRIP, holds[2].hold_id))
    replies, entries = engine.execute([], NOW + 10_000)
    assert replies == [] and [e.hold_id for e in entries[0].events] == [
        holds[1].hold_id,
        holds[2].hold_id,
        holds[0].hold_id,
    ]
    assert list(engine.state.trips[TRIP].holds) == [holds[3].hold_id]


def test_sweep_across_trips(desk):
    for trip in (TRIP, PM_TRIP, NEXT_DAY_TRIP):
        desk.ok(desk.hold(count=2, trip=trip, ttl_ms=1000))
    desk.ok(c.GetTrip(TRIP), NOW + 1000)
    (entry,) = desk.last_entries
    assert {e.trip_id for e in entry.events} == {TRIP, PM_TRIP, NEXT_DAY_TRIP}
    assert all(trip.holds == {} for trip in desk.engine.state.trips.values())
    assert desk.engine.state.expiry == []


def test_an_explicit_sweep_command_replies_with_what_it_swept(desk):
    hold = desk.ok(desk.hold(count=1, ttl_ms=1000))
    assert desk.ok(c.SweepHolds()) == SweptView(())
    # Run at a time where the built-in sweep would take it first, the explicit one finds nothing.
    replies, entries = desk.engine.execute([c.SweepHolds()], NOW + 1000)
    assert replies == [SweptView(())] and entries[0].events == (HoldExpired(TRIP, hold.hold_id),)


# --- idempotency ----------------------------------------------------------------------------------


def test_a_retried_hold_returns_the_same_reply_and_holds_nothing_more(desk):
    command = c.PlaceHold("dup-1", TRIP, A, D, seat_count=2)
    first = desk.ok(command)
    state = copy.deepcopy(desk.engine.state)
    again = desk.ok(c.PlaceHold("dup-1", TRIP, A, D, seat_count=2), NOW + 5000)
    assert again == first
    assert desk.last_entries == []
    assert desk.engine.state == state
    assert desk.engine.state.trips[TRIP].holds_placed == 1


def test_a_retried_sale_and_refund_return_the_same_replies(desk):
    sale = desk.ok(c.Sell("sale-1", TRIP, A, B, seat_count=3))
    assert desk.ok(c.Sell("sale-1", TRIP, A, B, seat_count=3)) == sale
    assert desk.engine.state.trips[TRIP].tickets_issued == 3
    ticket = sale.tickets[0].ticket_id
    refund = desk.ok(c.Refund("refund-1", ticket))
    assert desk.ok(c.Refund("refund-1", ticket), NOW + HOUR_MS) == refund  # not ALREADY_REFUNDED
    assert desk.last_entries == []
    desk.refused(c.Refund("refund-2", ticket), Reason.ALREADY_REFUNDED)


def test_a_retried_confirm_returns_the_tickets(desk):
    hold = desk.ok(desk.hold(count=2))
    tickets = desk.ok(c.ConfirmHold("confirm-1", hold.hold_id))
    assert desk.ok(c.ConfirmHold("confirm-1", hold.hold_id)) == tickets
    desk.refused(c.ConfirmHold("confirm-2", hold.hold_id), Reason.HOLD_CLOSED)


def test_a_retry_gets_the_original_reply_after_the_trip_was_cancelled(desk):
    sale = desk.ok(c.Sell("sale-1", TRIP, A, D, seat_count=1))
    assert sale.tickets[0].trip.status is TripStatus.ON_SALE
    desk.ok(desk.cancel())
    assert desk.ok(c.Sell("sale-1", TRIP, A, D, seat_count=1)) == sale


def test_a_retry_gets_the_original_reply_after_the_coach_left(desk):
    ticket = sold_ticket(desk, B, D)
    refund = desk.ok(c.Refund("refund-1", ticket.ticket_id), DEPARTS_MS - 10 * MINUTE_MS)
    assert refund.trip.status is TripStatus.CHECKING_IN
    desk.ok(desk.depart())
    assert desk.ok(c.Refund("refund-1", ticket.ticket_id), DEPARTS_MS + HOUR_MS) == refund


@pytest.mark.parametrize(
    "other",
    [
        c.PlaceHold("dup-1", TRIP, A, D, seat_count=3),
        c.PlaceHold("dup-1", TRIP, A, C, seat_count=2),
        c.PlaceHold("dup-1", TRIP, A, D, seat_count=2, ttl_ms=60_000),
        c.PlaceHold("dup-1", PM_TRIP, A, D, seat_count=2),
        c.Sell("dup-1", TRIP, A, D, seat_count=2),
        c.CancelTrip("dup-1", TRIP),
    ],
    ids=repr,
)
def test_a_request_id_reused_for_a_different_command(desk, other):
    first = desk.ok(c.PlaceHold("dup-1", TRIP, A, D, seat_count=2))
    desk.refused(other, Reason.REQUEST_ID_REUSED)
    assert desk.last_entries == []
    assert desk.ok(c.PlaceHold("dup-1", TRIP, A, D, seat_count=2)) == first


def test_a_retried_rejection_is_the_same_rejection(desk):
    desk.ok(c.Sell("first", TRIP, A, D, seat_numbers=("1A",)))
    refused = desk.refused(c.Sell("second", TRIP, A, D, seat_numbers=("1A",)), Reason.SEAT_TAKEN)
    assert desk.refused(c.Sell("second", TRIP, A, D, seat_numbers=("1A",)), Reason.SEAT_TAKEN) == refused


def test_request_ids_are_shared_by_all_trips_of_an_owner(desk):
    desk.ok(c.Sell("one", TRIP, A, D, seat_count=1))
    desk.refused(c.Sell("one", PM_TRIP, A, D, seat_count=1), Reason.REQUEST_ID_REUSED)


# --- refunds --------------------------------------------------------------------------------------


def sold_ticket(desk: Desk, frm: str = A, to: str = D, seat: str = "1A") -> TicketView:
    return desk.ok(desk.sell(frm, to, seats=(seat,))).tickets[0]


@pytest.mark.parametrize(
    "before_ms, fee",
    [
        (24 * HOUR_MS, 400),  # 10 % of 40 yuan
        (2 * HOUR_MS + 1, 400),
        (2 * HOUR_MS, 800),  # within two hours: 20 %
        (HOUR_MS, 800),
        (1, 800),
    ],
)
def test_refund_fee_by_time_before_departure(desk, before_ms, fee):
    ticket = sold_ticket(desk)
    refunded = desk.ok(desk.refund(ticket.ticket_id), DEPARTS_MS - before_ms)
    assert isinstance(refunded, TicketView)
    assert refunded.status is TicketStatus.REFUNDED
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (fee, FARE[(A, D)] - fee)
    assert refunded.refunded_at_ms == DEPARTS_MS - before_ms
    assert refunded.refund_fee_fen + refunded.refunded_fen == refunded.price_fen


def test_refund_fee_rounds_to_the_nearest_fen(desk):
    policy = Policy(refund_tiers=(RefundTier(0, 1234),))
    desk = Desk(make_engine(policy=policy))
    ticket = sold_ticket(desk, A, B)  # 1500 fen * 12.34 % = 185.1 fen
    assert desk.ok(desk.refund(ticket.ticket_id)).refund_fee_fen == 185


def test_refund_fee_counts_from_the_boarding_stop(desk):
    from_a = sold_ticket(desk, A, D, "1A")
    from_c = sold_ticket(desk, C, D, "1B")  # CC departs two hours after AA
    assert desk.ok(desk.refund(from_c.ticket_id), DEPARTS_MS - 1).refund_fee_fen == 10 * FARE[(C, D)] // 100
    assert desk.ok(desk.refund(from_a.ticket_id)).refund_fee_fen == 20 * FARE[(A, D)] // 100


@pytest.mark.parametrize("after_ms", [0, 1, 4 * MINUTE_MS, 10 * MINUTE_MS, DAY_MS])
def test_no_refund_once_the_coach_has_left(desk, after_ms):
    ticket = sold_ticket(desk)
    desk.refused(desk.refund(ticket.ticket_id), Reason.REFUND_NOT_ALLOWED, now=DEPARTS_MS + after_ms)


def test_no_refund_after_dispatch_marks_the_trip_departed(desk):
    from_a = sold_ticket(desk, A, B, "1A")
    from_b = sold_ticket(desk, B, D, "1B")
    desk.ok(desk.depart(), DEPARTS_MS - MINUTE_MS)
    desk.refused(desk.refund(from_a.ticket_id), Reason.REFUND_NOT_ALLOWED)
    # Passengers further down the route can still refund until their coach reaches them.
    assert desk.ok(desk.refund(from_b.ticket_id), DEPARTS_MS).refund_fee_fen == 2 * FARE[(B, D)] // 10


def test_cancelled_trip_refunds_in_full(desk):
    ticket = sold_ticket(desk)
    other = sold_ticket(desk, seat="1B")
    cancelled = desk.ok(desk.cancel(), DEPARTS_MS - HOUR_MS)
    assert isinstance(cancelled, TripView) and cancelled.status is TripStatus.CANCELLED
    assert [type(e) for e in desk.last_entries[0].events] == [TripCancelled]
    refunded = desk.ok(desk.refund(ticket.ticket_id))
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (0, FARE[(A, D)])
    # Even days later, the station owes the fare back.
    assert desk.ok(desk.refund(other.ticket_id), DEPARTS_MS + 3 * DAY_MS).refund_fee_fen == 0


def test_refund_twice(desk):
    ticket = sold_ticket(desk)
    desk.ok(desk.refund(ticket.ticket_id))
    rejection = desk.refused(desk.refund(ticket.ticket_id), Reason.ALREADY_REFUNDED)
    assert rejection.fact("refunded_at_ms") == str(NOW)
    desk.refused(desk.check_in(ticket.ticket_id), Reason.ALREADY_REFUNDED, now=DEPARTS_MS - MINUTE_MS)


def test_refund_unknown_ticket(desk):
    desk.refused(desk.refund(f"{TRIP}-0001"), Reason.UNKNOWN_TICKET)
    sold_ticket(desk)
    assert desk.refused(desk.refund(f"{TRIP}-0002"), Reason.UNKNOWN_TICKET).fact("ticket_id") == f"{TRIP}-0002"
    desk.refused(desk.refund(f"{PM_TRIP}-0001"), Reason.UNKNOWN_TICKET)


def test_a_refunded_seat_can_be_sold_again(desk):
    ticket = sold_ticket(desk, A, C, "2D")
    desk.refused(desk.sell(B, C, seats=("2D",)), Reason.SEAT_TAKEN)
    desk.ok(desk.refund(ticket.ticket_id))
    assert "2D" in desk.free_seats(A, C)
    again = desk.ok(desk.sell(B, C, seats=("2D",))).tickets[0]
    assert again.ticket_id == f"{TRIP}-0002"
    manifest = desk.ok(c.GetManifest(TRIP))
    assert [(t.ticket_id, t.status) for t in manifest.tickets] == [
        (f"{TRIP}-0001", TicketStatus.REFUNDED),
        (f"{TRIP}-0002", TicketStatus.ISSUED),
    ]


def test_custom_refund_tiers_change_the_fee():
    tiers = (RefundTier(12 * HOUR_MS, 0), RefundTier(2 * HOUR_MS, 500), RefundTier(30 * MINUTE_MS, 5000))
    desk = Desk(make_engine(policy=Policy(refund_tiers=tiers)))
    tickets = [sold_ticket(desk, seat=seat) for seat in ("1A", "1B", "1C", "1D")]
    fare = FARE[(A, D)]
    assert desk.ok(desk.refund(tickets[0].ticket_id), NOW).refund_fee_fen == 0  # a day ahead: free
    assert desk.ok(desk.refund(tickets[1].ticket_id), DEPARTS_MS - 3 * HOUR_MS).refund_fee_fen == fare * 5 // 100
    assert desk.ok(desk.refund(tickets[2].ticket_id), DEPARTS_MS - HOUR_MS).refund_fee_fen == fare // 2
    # No tier covers the last half hour: no refunds then.
    desk.refused(desk.refund(tickets[3].ticket_id), Reason.REFUND_NOT_ALLOWED, now=DEPARTS_MS - 10 * MINUTE_MS)


def test_refund_policy_is_not_replayed_into_old_refunds():
    """Events carry the decided fee, so a new policy does not rewrite the past."""
    old = ShardEngine(check=True)
    desk = Desk(old)
    journal = [(NOW, old.execute([c.ScheduleTrip(f"s-{s.trip_id}", s) for s in trip_specs()], NOW)[1])]
    for command in (desk.sell(seats=("1A",)), desk.refund(f"{TRIP}-0001")):
        journal.append((NOW, old.execute([command], NOW)[1]))
    new = ShardEngine(policy=Policy(refund_tiers=(RefundTier(0, 0),)), check=True)
    for now, entries in journal:
        new.replay(now, entries)
    assert new.state.trips == old.state.trips
    assert new.state.trips[TRIP].tickets[f"{TRIP}-0001"].refund_fee_fen == 400


# --- boarding -------------------------------------------------------------------------------------


def test_check_in_window(desk):
    ticket = sold_ticket(desk)
    opens = DEPARTS_MS - Policy().boarding_opens_ms
    rejection = desk.refused(desk.check_in(ticket.ticket_id), Reason.NOT_YET_BOARDING)
    assert rejection.fact("boarding_opens_at_ms") == str(opens)
    desk.refused(desk.check_in(ticket.ticket_id), Reason.NOT_YET_BOARDING, now=opens - 1)
    boarded = desk.ok(desk.check_in(ticket.ticket_id, "east-1"), opens)
    assert isinstance(boarded, TicketView)
    assert boarded.status is TicketStatus.CHECKED_IN
    assert (boarded.checked_in_at_ms, boarded.gate_id) == (opens, "east-1")
    assert boarded.trip.status is TripStatus.CHECKING_IN


def test_checking_in_twice_names_the_first_scan(desk):
    ticket = sold_ticket(desk)
    first_at = DEPARTS_MS - 30 * MINUTE_MS
    desk.ok(desk.check_in(ticket.ticket_id, "east-1"), first_at)
    rejection = desk.refused(
        desk.check_in(ticket.ticket_id, "west-2"), Reason.ALREADY_CHECKED_IN, now=first_at + MINUTE_MS
    )
    assert rejection.fact("checked_in_at_ms") == str(first_at)
    assert rejection.fact("gate_id") == "east-1"
    # Still true after the coach has gone.
    desk.refused(desk.check_in(ticket.ticket_id, "west-2"), Reason.ALREADY_CHECKED_IN, now=DEPARTS_MS + DAY_MS)


def test_a_boarded_ticket_cannot_be_refunded(desk):
    ticket = sold_ticket(desk)
    desk.ok(desk.check_in(ticket.ticket_id), DEPARTS_MS - 30 * MINUTE_MS)
    desk.refused(desk.refund(ticket.ticket_id), Reason.TICKET_CHECKED_IN)


def test_boarding_closes_when_dispatch_says_the_coach_left(desk):
    tickets = [sold_ticket(desk, seat=seat) for seat in ("1A", "1B")]
    desk.ok(desk.check_in(tickets[0].ticket_id), DEPARTS_MS - 10 * MINUTE_MS)
    departed = desk.ok(desk.depart(), DEPARTS_MS - 2 * MINUTE_MS)
    assert departed.status is TripStatus.DEPARTED
    assert desk.last_entries[0].events == (TripDeparted(TRIP, DEPARTS_MS - 2 * MINUTE_MS),)
    desk.refused(desk.check_in(tickets[1].ticket_id), Reason.BOARDING_CLOSED)
    assert desk.ok(desk.depart()).status is TripStatus.DEPARTED  # again: nothing new
    assert desk.last_entries == []


def test_boarding_closes_by_the_clock(desk):
    tickets = [sold_ticket(desk, seat=seat) for seat in ("1A", "1B")]
    closes = DEPARTS_MS + Policy().boarding_closes_ms
    desk.ok(desk.check_in(tickets[0].ticket_id), closes)  # late passengers until the window closes
    desk.refused(desk.check_in(tickets[1].ticket_id), Reason.BOARDING_CLOSED, now=closes + 1)


def test_boarding_at_a_later_stop_follows_that_stop(desk):
    ticket = sold_ticket(desk, C, D)
    desk.ok(desk.depart(), DEPARTS_MS)
    desk.refused(desk.check_in(ticket.ticket_id), Reason.NOT_YET_BOARDING, now=DEPARTS_MS + 30 * MINUTE_MS)
    assert desk.ok(desk.check_in(ticket.ticket_id), STOP_DEPARTS[C] - 30 * MINUTE_MS).status is TicketStatus.CHECKED_IN


def test_custom_boarding_window():
    desk = Desk(make_engine(policy=Policy(boarding_opens_ms=10 * MINUTE_MS, boarding_closes_ms=0)))
    ticket = sold_ticket(desk)
    desk.refused(desk.check_in(ticket.ticket_id), Reason.NOT_YET_BOARDING, now=DEPARTS_MS - 30 * MINUTE_MS)
    desk.ok(desk.check_in(ticket.ticket_id), DEPARTS_MS)


def test_an_uploaded_offline_scan_is_decided_at_its_scan_time(desk):
    ticket, other = sold_ticket(desk), sold_ticket(desk, seat="1B")
    scanned = DEPARTS_MS - 20 * MINUTE_MS
    later = DEPARTS_MS + DAY_MS  # uploaded the next day: boarding closed long ago, but not at the scan
    uploaded = c.CheckIn("scan-1", ticket.ticket_id, "G1", scanned_at_ms=scanned)
    boarded = desk.ok(uploaded, later)
    assert (boarded.checked_in_at_ms, boarded.gate_id) == (scanned, "G1")
    assert desk.ok(uploaded, later) == boarded  # the same scan again: its first answer, nothing applied twice
    # The same ticket let through offline at another gate too: not refused and lost, a conflict kept.
    second = desk.ok(c.CheckIn("scan-2", ticket.ticket_id, "G2", scanned_at_ms=scanned + 1000), later)
    assert isinstance(second, ConflictedScanView)
    assert (second.reason, second.gate_id, second.first_gate_id, second.first_at_ms) == (
        "ALREADY_CHECKED_IN",
        "G2",
        "G1",
        scanned,
    )
    (kept,) = desk.ok(c.ListConflicts(TRIP)).conflicts
    assert (kept.ticket_id, kept.gate_id, kept.scanned_at_ms, kept.at_ms) == (
        ticket.ticket_id,
        "G2",
        scanned + 1000,
        later,
    )
    assert desk.engine.state.trips[TRIP].tickets[ticket.ticket_id].gate_id == "G1"  # the first check-in stands
    # A check-in at the counter's gate (not an upload) is still refused as before.
    desk.refused(c.CheckIn("scan-4", ticket.ticket_id, "G2"), Reason.ALREADY_CHECKED_IN)
    future = c.CheckIn("scan-3", other.ticket_id, "G1", scanned_at_ms=later + 2 * MINUTE_MS)
    desk.refused(future, Reason.INVALID_FIELD, now=later)


def test_an_uploaded_scan_of_a_refunded_ticket_is_a_conflict_and_survives_a_snapshot(desk):
    ticket = sold_ticket(desk)
    desk.ok(desk.refund(ticket.ticket_id), DEPARTS_MS - 40 * MINUTE_MS)
    conflict = desk.ok(
        c.CheckIn("scan-r", ticket.ticket_id, "G1", scanned_at_ms=DEPARTS_MS - 30 * MINUTE_MS), DEPARTS_MS
    )
    assert conflict.reason == "ALREADY_REFUNDED"
    record = trip_record(desk.engine.state.trips[TRIP])
    assert [x.reason for x in state_of(record).trips[TRIP].conflicts] == ["ALREADY_REFUNDED"]


def test_check_in_unknown_ticket(desk):
    desk.refused(desk.check_in(f"{TRIP}-0001"), Reason.UNKNOWN_TICKET, now=DEPARTS_MS - MINUTE_MS)


# --- sales windows, departure and cancellation --------------------------------------------------


def test_sales_close_at_departure_from_the_boarding_stop(desk):
    desk.ok(desk.sell(A, B, seats=("1A",)), DEPARTS_MS - 1)
    desk.refused(desk.sell(A, B, seats=("1B",)), Reason.SALES_CLOSED, now=DEPARTS_MS)
    desk.refused(desk.hold(A, D, count=1), Reason.SALES_CLOSED)
    desk.ok(desk.sell(B, D, seats=("1B",)))  # BB is still an hour away
    desk.refused(desk.sell(B, D, seats=("1C",)), Reason.SALES_CLOSED, now=STOP_DEPARTS[B])
    desk.ok(desk.sell(C, D, seats=("1C",)))
    desk.refused(desk.sell(C, D, seats=("1D",)), Reason.SALES_CLOSED, now=DEPARTS_MS + DAY_MS)


def test_sales_close_when_dispatch_says_the_coach_left(desk):
    desk.ok(desk.depart(), DEPARTS_MS - 20 * MINUTE_MS)
    desk.refused(desk.sell(A, B, count=1), Reason.SALES_CLOSED)
    desk.ok(desk.sell(B, C, count=1))


def test_a_hold_cannot_be_confirmed_after_sales_close(desk):
    hold = desk.ok(desk.hold(count=2, ttl_ms=30 * MINUTE_MS), DEPARTS_MS - 10 * MINUTE_MS)
    desk.refused(desk.confirm(hold.hold_id), Reason.SALES_CLOSED, now=DEPARTS_MS)
    assert desk.ok(desk.release(hold.hold_id)) == ReleasedView(hold.hold_id)


def test_sales_close_early_under_a_policy():
    desk = Desk(make_engine(policy=Policy(sales_close_ms=30 * MINUTE_MS)))
    desk.ok(desk.sell(count=1), DEPARTS_MS - 30 * MINUTE_MS - 1)
    desk.refused(desk.sell(count=1), Reason.SALES_CLOSED, now=DEPARTS_MS - 30 * MINUTE_MS)


def test_cancelled_trip_refuses_sales_and_boarding(desk):
    ticket = sold_ticket(desk)
    hold = desk.ok(desk.hold(count=1))
    desk.ok(desk.cancel())
    # A hold on a cancelled trip can still be released (or left to expire), never confirmed.
    for command in (
        desk.sell(count=1),
        desk.hold(count=1),
        desk.sell(C, D, count=1),
        desk.confirm(hold.hold_id),
        desk.depart(),
    ):
        desk.refused(command, Reason.TRIP_CANCELLED)
    desk.ok(desk.release(hold.hold_id))
    desk.refused(desk.check_in(ticket.ticket_id), Reason.TRIP_CANCELLED, now=DEPARTS_MS - MINUTE_MS)
    assert desk.ok(desk.cancel()).status is TripStatus.CANCELLED  # again: nothing new
    assert desk.last_entries == []
    assert desk.ok(c.GetTrip(PM_TRIP)).status is TripStatus.ON_SALE


def test_a_departed_trip_cannot_be_cancelled(desk):
    desk.ok(desk.depart(), DEPARTS_MS)
    desk.refused(desk.cancel(), Reason.TRIP_DEPARTED)
    desk.refused(desk.cancel(PM_TRIP), Reason.TRIP_DEPARTED, now=AFTERNOON_MS + 10 * MINUTE_MS)


# --- queries --------------------------------------------------------------------------------------


def test_search_by_window(desk):
    def found(frm, to, start, end):
        reply = desk.ok(c.SearchTrips(frm, to, start, end))
        assert isinstance(reply, OffersView)
        return [offer.trip.trip_id for offer in reply.offers]

    assert found(A, D, DEPARTS_MS, DEPARTS_MS + 1) == [TRIP]
    assert found(A, D, DEPARTS_MS + 1, AFTERNOON_MS) == []
    assert found(A, D, DEPARTS_MS, AFTERNOON_MS + 1) == [TRIP, PM_TRIP]
    assert sorted(found(A, D, 0, 2**62)) == sorted(desk.engine.state.trips)
    # The window is about leaving the boarding stop.
    assert found(B, C, DEPARTS_MS, DEPARTS_MS + 1) == []
    assert found(B, C, STOP_DEPARTS[B], STOP_DEPARTS[B] + 1) == [TRIP]
    assert found(D, A, 0, 2**62) == [] and found(A, "ZZ", 0, 2**62) == []


def test_search_with_a_limit_sends_the_earliest_departures(desk):
    everything = desk.ok(c.SearchTrips(A, D, 0, 2**62)).offers
    assert [o.from_stop.departs_at_ms for o in everything] == sorted(o.from_stop.departs_at_ms for o in everything)
    assert desk.ok(c.SearchTrips(A, D, 0, 2**62, limit=1)).offers == everything[:1]
    assert desk.ok(c.SearchTrips(A, D, 0, 2**62, limit=len(everything) + 5)).offers == everything
    with pytest.raises(Rejected):
        c.SearchTrips(A, D, 0, 2**62, limit=-1)


@pytest.mark.parametrize("frm, to", SEGMENTS, ids="-".join)
def test_search_counts_free_seats_per_segment(desk, frm, to):
    desk.ok(desk.sell(A, B, seats=("1A", "1B")))
    desk.ok(desk.sell(C, D, seats=("1A",)))
    desk.ok(desk.hold(B, C, seats=("2A",)))
    taken = {
        seat
        for seg, seats in (((A, B), "1A 1B"), ((C, D), "1A"), ((B, C), "2A"))
        if overlaps(seg, (frm, to))
        for seat in seats.split()
    }
    (offer,) = desk.ok(c.SearchTrips(frm, to, DEPARTS_MS, DEPARTS_MS + DAY_MS - 1)).offers[:1]
    assert offer.trip.trip_id == TRIP
    assert offer.seats_free == 13 - len(taken)
    assert offer.fare_fen == FARE[(frm, to)]
    assert (offer.from_stop.code, offer.to_stop.code) == (frm, to)
    assert offer.from_stop.departs_at_ms == STOP_DEPARTS[frm]
    assert offer.status is TripStatus.ON_SALE and offer.trip.seats_total == 13
    assert desk.free_seats(frm, to) == ALL_SEATS - taken


def test_search_shows_status(desk):
    desk.ok(desk.cancel(PM_TRIP))
    offers = desk.ok(c.SearchTrips(B, D, DEPARTS_MS, AFTERNOON_MS + 2 * HOUR_MS), DEPARTS_MS + 30 * MINUTE_MS).offers
    # Boarding at BB opens an hour before the coach gets there.
    assert [(o.trip.trip_id, o.status) for o in offers] == [
        (TRIP, TripStatus.CHECKING_IN),
        (PM_TRIP, TripStatus.CANCELLED),
    ]
    assert offers[0].trip.status is TripStatus.DEPARTED  # AA's boarding closed five minutes after 08:00


def test_seat_map(desk):
    desk.ok(desk.sell(A, B, seats=("1A",)))
    desk.ok(desk.hold(B, D, seats=("2C", "3E")))
    seat_map = desk.ok(c.GetSeatMap(TRIP, A, C))
    assert isinstance(seat_map, SeatMapView)
    assert seat_map.trip_id == TRIP and seat_map.fare_fen == FARE[(A, C)]
    assert (seat_map.from_stop.code, seat_map.to_stop.code) == (A, C)
    assert [[(s.label, s.free) for s in row] for row in seat_map.rows] == [
        [("1A", False), ("1B", True), (AISLE, False), ("1C", True), ("1D", True)],
        [("2A", True), ("2B", True), (AISLE, False), ("2C", False), ("2D", True)],
        [("3A", True), ("3B", True), ("3C", True), ("3D", True), ("3E", False)],
    ]
    assert seat_map.seats_free == 10
    assert desk.free_seats(C, D) == ALL_SEATS - {"2C", "3E"}
    assert desk.free_seats(A, B) == ALL_SEATS - {"1A"}


def test_manifest_lists_tickets_by_seat(desk):
    desk.ok(desk.sell(A, B, seats=("2A",)))
    desk.ok(desk.sell(B, D, seats=("1A",)))
    desk.ok(desk.sell(A, B, seats=("1A",)))
    refunded = desk.ok(desk.sell(A, D, seats=("3E",))).tickets[0]
    desk.ok(desk.refund(refunded.ticket_id))
    boarded = desk.ok(desk.sell(C, D, seats=("1B",))).tickets[0]
    desk.ok(desk.check_in(boarded.ticket_id), STOP_DEPARTS[C] - MINUTE_MS)
    manifest = desk.ok(c.GetManifest(TRIP))
    assert isinstance(manifest, ManifestView)
    assert [(t.seat_label, t.from_stop.code, t.to_stop.code) for t in manifest.tickets] == [
        ("1A", A, B),
        ("1A", B, D),
        ("1B", C, D),
        ("2A", A, B),
        ("3E", A, D),
    ]
    assert manifest.count(TicketStatus.ISSUED) == 3
    assert manifest.count(TicketStatus.REFUNDED) == 1
    assert manifest.count(TicketStatus.CHECKED_IN) == 1
    assert manifest.trip.trip_id == TRIP
    assert desk.ok(c.GetManifest(PM_TRIP)).tickets == ()


def test_get_trip_ticket_and_stations(desk):
    trip = desk.ok(c.GetTrip(TRIP))
    assert [s.code for s in trip.stops] == list(STOPS)
    assert [s.departs_at_ms for s in trip.stops] == [STOP_DEPARTS[s] for s in STOPS]
    assert trip.status is TripStatus.ON_SALE and trip.seats_total == 13
    sold = sold_ticket(desk, B, C, "2B")
    ticket = desk.ok(c.GetTicket(sold.ticket_id))
    assert ticket == sold
    desk.refused(c.GetTicket(f"{TRIP}-0002"), Reason.UNKNOWN_TICKET)
    assert desk.ok(c.ListStations()) == StationsView(((A, "Alpha"), (B, "Bravo"), (C, "Charlie"), (D, "Delta")))


def test_trip_status_over_time(desk):
    def status(now):
        return desk.ok(c.GetTrip(TRIP), now).status

    assert status(NOW) is TripStatus.ON_SALE
    assert status(DEPARTS_MS - HOUR_MS) is TripStatus.CHECKING_IN
    assert status(DEPARTS_MS + 5 * MINUTE_MS) is TripStatus.CHECKING_IN
    assert status(DEPARTS_MS + 5 * MINUTE_MS + 1) is TripStatus.DEPARTED


def test_queries_journal_nothing(desk):
    before = copy.deepcopy(desk.engine.state)
    replies, entries = desk.engine.execute(
        [
            c.GetTrip(TRIP),
            c.GetSeatMap(TRIP, A, D),
            c.SearchTrips(A, D, 0, 2**62),
            c.GetManifest(TRIP),
            c.ListStations(),
        ],
        NOW,
    )
    assert entries == [] and desk.engine.state == before
    assert not any(isinstance(r, Rejection) for r in replies)


# --- batches, time and replay ---------------------------------------------------------------------


def test_a_batch_applies_in_order_and_journals_what_changed(desk):
    hold_id = f"{TRIP}-H1"
    replies, entries = desk.engine.execute(
        [
            c.PlaceHold("b1", TRIP, A, D, seat_numbers=("1A",)),
            c.Sell("b2", TRIP, A, D, seat_numbers=("1A",)),  # taken by the hold just placed
            c.ConfirmHold("b3", hold_id),
            c.GetSeatMap(TRIP, A, D),
            c.DepartTrip("b4", PM_TRIP),  # refused: boarding has not opened; the refusal is journaled
            c.CancelTrip("b5", PM_TRIP),
            c.CancelTrip("b6", PM_TRIP),  # no-op: replied, not journaled
        ],
        NOW,
    )
    assert isinstance(replies[0], HoldView)
    assert isinstance(replies[1], Rejection) and replies[1].reason is Reason.SEAT_TAKEN
    assert isinstance(replies[2], TicketsView)
    assert not [s for row in replies[3].rows for s in row if s.label == "1A" and s.free]
    assert isinstance(replies[4], Rejection) and replies[4].reason is Reason.NOT_YET_BOARDING
    assert [(type(e).__name__, e.command.request_id) for e in entries] == [
        ("Entry", "b1"),
        ("Refusal", "b2"),
        ("Entry", "b3"),
        ("Refusal", "b4"),
        ("Entry", "b5"),
    ]
    assert entries[1].rejection == replies[1] and entries[3].events == ()


def test_time_never_runs_backwards(desk):
    desk.ok(c.GetTrip(TRIP), NOW + HOUR_MS)
    hold = desk.ok(desk.hold(count=1), NOW)
    assert hold.expires_at_ms == NOW + HOUR_MS + DEFAULT_HOLD_TTL_MS


def test_replay_rebuilds_state_and_remembered_replies():
    live = ShardEngine(check=True)
    journal, originals = [], {}

    def run(batch, now):
        replies, entries = live.execute(batch, now)
        journal.append((now, entries))
        originals.update({command.request_id: (command, reply) for command, reply in zip(batch, replies)})
        return replies

    run([c.ScheduleTrip(f"s-{s.trip_id}", s) for s in trip_specs()], NOW)
    (hold,) = run([c.PlaceHold("h1", TRIP, A, C, seat_count=3, ttl_ms=60_000)], NOW)
    run([c.PlaceHold("h2", TRIP, B, D, seat_count=2, ttl_ms=1000)], NOW)
    run([c.Sell("s1", TRIP, C, D, seat_count=2), c.ConfirmHold("c1", hold.hold_id)], NOW + 2000)
    run([c.Refund("r1", f"{TRIP}-0001"), c.CancelTrip("x1", PM_TRIP)], NOW + 3000)
    run([c.CheckIn("k1", f"{TRIP}-0003", "g1")], DEPARTS_MS - MINUTE_MS)
    run([c.DepartTrip("d1", TRIP)], DEPARTS_MS)

    replayed = ShardEngine(check=True)
    for now, entries in journal:
        replayed.replay(now, entries)
    assert replayed.state == live.state
    assert replayed.last_now == live.last_now
    journaled = {entry.command.request_id for _, entries in journal for entry in entries if entry.command.request_id}
    assert journaled == {"h1", "h2", "s1", "c1", "r1", "x1", "k1", "d1"} | {f"s-{s.trip_id}" for s in trip_specs()}
    # Retried against the rebuilt engine, every journaled request gets its original reply.
    commands = [originals[rid][0] for rid in sorted(journaled)]
    replies, entries = replayed.execute(commands, replayed.last_now)
    assert entries == []
    for command, reply in zip(commands, replies):
        assert reply == originals[command.request_id][1], command
