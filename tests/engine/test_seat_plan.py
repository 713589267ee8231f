"""Seat quotas for stops, blocked seats and extra runs, in the engine (engine/seat_plan.py,
engine/quotas.py): quotas keep seats by the clock, blocks take them out of sale, and random
sales, quotas and blocks never oversell a leg (state.check_invariants, run after every batch)."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyun.engine import commands as c
from keyun.engine import seat_plan as sp
from keyun.engine.policy import MINUTE_MS
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.shard import ShardEngine
from keyun.engine.state import check_invariants
from keyun.engine.views import TicketsView

from .conftest import DEPARTS_MS, NOW, STOPS, TRIP, A, B, C, D, Desk, make_engine, trip_specs

C_DEPARTS = DEPARTS_MS + 120 * MINUTE_MS


def seats_of(reply: TicketsView) -> set[str]:
    return {ticket.seat_label for ticket in reply.tickets}


def test_a_quota_keeps_seats_for_its_stop_until_release():
    desk = Desk(make_engine())
    plan = desk.ok(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_count=4, release_before_min=240))
    (quota,) = plan.quotas
    kept = set(quota.seats)
    assert len(kept) == 4 and not quota.released
    # 13 seats: an A→D sale gets at most the 9 not kept for C.
    desk.refused(desk.sell(A, D, count=10), Reason.NOT_ENOUGH_SEATS)
    sold = desk.ok(desk.sell(A, D, count=9))
    assert not seats_of(sold) & kept
    # A→B ends before C: it may sit on a kept seat.
    desk.ok(desk.sell(A, B, seats=(quota.seats[0],)))
    desk.refused(desk.sell(A, D, seats=(quota.seats[1],)), Reason.SEAT_RESERVED)
    # Boarding at C takes the kept seats first.
    from_c = desk.ok(desk.sell(C, D, count=2))
    assert seats_of(from_c) <= kept
    # After the release A may buy the rest.
    released = C_DEPARTS - 240 * MINUTE_MS
    desk.refused(desk.sell(A, D, count=1), Reason.NOT_ENOUGH_SEATS, now=released - 1)
    late = desk.ok(desk.sell(A, D, count=2), now=released)
    assert seats_of(late) <= kept


def test_a_delay_moves_a_relative_release_and_not_an_absolute_one():
    desk = Desk(make_engine())
    relative = desk.ok(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_numbers=("1A",), release_before_min=240))
    absolute_at = C_DEPARTS - 240 * MINUTE_MS
    desk.ok(sp.SetSeatQuota(desk.rid(), TRIP, B, seat_numbers=("1B",), release_at_ms=absolute_at))
    assert relative.quotas[0].release_at_ms == absolute_at
    desk.ok(c.DelayTrip(desk.rid(), TRIP, 30))
    (kept_b, kept_c) = desk.ok(sp.GetSeatPlan(TRIP)).quotas
    assert kept_b.release_at_ms == absolute_at and kept_c.release_at_ms == absolute_at + 30 * MINUTE_MS
    desk.refused(desk.sell(A, D, seats=("1A",)), Reason.SEAT_RESERVED, now=absolute_at)
    desk.ok(desk.sell(A, D, seats=("1B",)), now=absolute_at)


def test_handheld_allotments_respect_quotas_and_blocks():
    from keyun.engine.handheld import LendAllotment

    desk = Desk(make_engine())
    desk.ok(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_count=10))
    desk.ok(sp.BlockSeats(desk.rid(), TRIP, ("3E",)))
    desk.refused(LendAllotment(desk.rid(), TRIP, A, D, "A000009", seat_count=3), Reason.NOT_ENOUGH_SEATS)
    lent = desk.ok(LendAllotment(desk.rid(), TRIP, A, D, "A000009", seat_count=2))
    assert desk.refused(sp.BlockSeats(desk.rid(), TRIP, (lent.seats[0],)), Reason.SEAT_IN_USE)


def test_shared_quota_serves_later_stops_and_not_earlier():
    desk = Desk(make_engine())
    desk.ok(sp.SetSeatQuota(desk.rid(), TRIP, B, seat_numbers=("1A", "1B"), shared=True))
    desk.refused(desk.sell(A, C, seats=("1A",)), Reason.SEAT_RESERVED)
    desk.ok(desk.sell(C, D, seats=("1A",)))
    desk.ok(desk.sell(B, C, seats=("1B",)))


def test_blocked_seat_is_not_sold_and_block_needs_a_free_seat():
    desk = Desk(make_engine())
    desk.ok(sp.BlockSeats(desk.rid(), TRIP, ("2A",), "crew"))
    desk.refused(desk.sell(B, C, seats=("2A",)), Reason.SEAT_BLOCKED)
    desk.ok(desk.sell(A, B, seats=("2B",)))
    refusal = desk.refused(sp.BlockSeats(desk.rid(), TRIP, ("2B",), "broken"), Reason.SEAT_IN_USE)
    assert "ticket" in refusal.message
    desk.refused(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_numbers=("2A",)), Reason.SEAT_BLOCKED)
    desk.ok(sp.UnblockSeats(desk.rid(), TRIP, ("2A",)))
    desk.refused(sp.UnblockSeats(desk.rid(), TRIP, ("2A",)), Reason.SEAT_NOT_BLOCKED)
    desk.ok(desk.sell(B, C, seats=("2A",)))


def test_quota_refusals():
    desk = Desk(make_engine())
    desk.refused(sp.SetSeatQuota(desk.rid(), TRIP, D, seat_count=1), Reason.BAD_SEGMENT)
    desk.refused(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_count=14), Reason.QUOTA_TOO_LARGE)
    desk.refused(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_count=1, release_at_ms=NOW - 1), Reason.RELEASE_PASSED)
    desk.refused(sp.ClearSeatQuota(desk.rid(), TRIP, C), Reason.NO_QUOTA)
    desk.ok(sp.SetSeatQuota(desk.rid(), TRIP, B, seat_numbers=("1A",)))
    desk.refused(sp.SetSeatQuota(desk.rid(), TRIP, C, seat_numbers=("1A",)), Reason.SEAT_IN_QUOTA)
    desk.ok(sp.ClearSeatQuota(desk.rid(), TRIP, B))
    desk.ok(desk.sell(A, D, seats=("1A",)))


def test_extra_run_is_scheduled_and_replayed():
    engine = make_engine()
    desk = Desk(engine)
    spec = msgspec.structs.replace(trip_specs()[0], trip_id="S1-X1")
    plan = desk.ok(sp.AddExtraRun(desk.rid(), spec, TRIP, "7"))
    assert plan.extra_of == TRIP and plan.trip.gate == "7"
    entries = desk.last_entries
    desk.ok(desk.sell(A, D, count=1, trip="S1-X1"))
    desk.refused(sp.AddExtraRun(desk.rid(), spec, TRIP), Reason.TRIP_CONFLICT)
    replayed = ShardEngine(check=True)
    replayed.replay(NOW, entries)
    assert replayed.state.trips["S1-X1"].extra_of == TRIP


# --- never oversold: random sales, refunds, quotas and blocks ---------------------------------------

SEATS = [label for label in ("1A", "1B", "1C", "1D", "2A", "2B", "2C", "2D", "3A", "3B", "3C", "3D", "3E")]
SEGMENTS = [(i, j) for i in range(4) for j in range(i + 1, 4)]

step = st.one_of(
    st.tuples(st.just("sell"), st.sampled_from(SEGMENTS), st.integers(1, 4)),
    st.tuples(st.just("sell_named"), st.sampled_from(SEGMENTS), st.sampled_from(SEATS)),
    st.tuples(st.just("quota"), st.integers(0, 2), st.integers(1, 6), st.booleans(), st.integers(0, 240)),
    st.tuples(st.just("quota_named"), st.integers(0, 2), st.lists(st.sampled_from(SEATS), max_size=3, unique=True)),
    st.tuples(st.just("clear"), st.integers(0, 2)),
    st.tuples(st.just("block"), st.lists(st.sampled_from(SEATS), min_size=1, max_size=2, unique=True)),
    st.tuples(st.just("unblock"), st.sampled_from(SEATS)),
    st.tuples(st.just("refund"), st.integers(0, 50)),
    st.tuples(st.just("wait"), st.integers(0, 90)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40))
def test_random_plans_never_oversell_a_leg(steps):
    engine = make_engine()
    desk = Desk(engine)
    now = C_DEPARTS - 6 * 60 * MINUTE_MS
    tickets: list[str] = []
    for action, *args in steps:
        command = None
        if action == "sell":
            (i, j), count = args
            command = desk.sell(STOPS[i], STOPS[j], count=count)
        elif action == "sell_named":
            (i, j), seat = args
            command = desk.sell(STOPS[i], STOPS[j], seats=(seat,))
        elif action == "quota":
            stop, count, shared, before = args
            command = sp.SetSeatQuota(
                desk.rid(), TRIP, STOPS[stop], seat_count=count, shared=shared, release_before_min=before
            )
        elif action == "quota_named" and args[1]:
            command = sp.SetSeatQuota(desk.rid(), TRIP, STOPS[args[0]], seat_numbers=tuple(args[1]))
        elif action == "clear":
            command = sp.ClearSeatQuota(desk.rid(), TRIP, STOPS[args[0]])
        elif action == "block":
            command = sp.BlockSeats(desk.rid(), TRIP, tuple(args[0]), "broken")
        elif action == "unblock":
            command = sp.UnblockSeats(desk.rid(), TRIP, (args[0],))
        elif action == "refund" and tickets:
            command = c.Refund(desk.rid(), tickets[args[0] % len(tickets)])
        elif action == "wait":
            now += args[0] * MINUTE_MS
        if command is None:
            continue
        reply = desk.run(command, now)  # the engine checks its invariants after every batch
        if isinstance(reply, TicketsView):
            tickets += [t.ticket_id for t in reply.tickets]
        assert not isinstance(reply, Rejection) or reply.reason is not Reason.INVALID_FIELD, reply
    trip = engine.state.trips[TRIP]
    check_invariants(engine.state)
    for leg in range(3):
        taken = sum(1 for bits in trip.occupied if bits & (1 << leg))
        assert taken <= len(trip.seat_labels)


# --- vehicle change (换车) -------------------------------------------------------------------------


def _change(desk: Desk, seats: int, refund: bool):
    """Plan, then change as planned (what gateway/vehicle_change.py does)."""
    plan = desk.ok(sp.PlanVehicleChange(TRIP, seats))
    unfit = tuple(t.ticket_id for t in plan.unfit) if refund else ()
    return plan, desk.run(sp.ChangeVehicle(desk.rid(), TRIP, seats, "", plan.moves, unfit))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sales=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3), st.integers(1, 13)), min_size=1, max_size=20),
    seats=st.integers(1, 13),
)
def test_a_smaller_coach_loses_nobody_and_sells_no_seat_leg_twice(sales, seats):
    """Random sales, then a coach with fewer seats: every sold ticket is on a seat the coach has
    (the same segment) or refunded in full; no seat-leg twice (check_invariants runs after every
    batch); the trip restored from its snapshot record is the same; a larger coach gives back."""
    from keyun.engine.state import state_of, trip_record

    desk = Desk(make_engine())
    for frm, to, count in sales:
        if frm < to:
            desk.run(desk.sell(STOPS[frm], STOPS[to], count=min(count, 4)))
    sold = dict(desk.engine.state.trips[TRIP].tickets)
    plan, refused = _change(desk, seats, refund=False)
    if plan.unfit:
        assert isinstance(refused, Rejection) and refused.reason is Reason.VEHICLE_TOO_SMALL
        assert set(refused.fact("unfit").split(",")) == {t.ticket_id for t in plan.unfit}
        assert desk.engine.state.trips[TRIP].tickets == sold  # nothing changed
        plan, changed = _change(desk, seats, refund=True)
    else:
        changed = refused
    assert not isinstance(changed, Rejection), changed
    trip = desk.engine.state.trips[TRIP]
    unfit = {t.ticket_id for t in plan.unfit}
    for ticket_id, before in sold.items():
        after = trip.tickets[ticket_id]
        assert (after.from_stop, after.to_stop) == (before.from_stop, before.to_stop)
        if ticket_id in unfit:
            assert (after.refund_fee_fen, after.refunded_fen) == (0, before.price_fen)
        else:
            assert after.status == before.status and after.seat < seats
    assert changed.trip.seats_total == seats
    assert state_of(trip_record(trip)).trips[TRIP].occupied == trip.occupied
    check_invariants(desk.engine.state)
    _, larger = _change(desk, 13, refund=False)
    assert larger.trip.seats_total == 13 and not desk.engine.state.trips[TRIP].blocked


def test_a_sale_between_plan_and_change_is_refused_as_a_changed_plan():
    desk = Desk(make_engine())
    desk.ok(desk.sell(A, D, seats=("3E",)))  # the back row's last seat
    plan = desk.ok(sp.PlanVehicleChange(TRIP, 12))
    assert [r.old_seat for r in plan.reseated] == ["3E"]
    desk.ok(desk.sell(A, D, seats=(plan.reseated[0].new_seat,)))  # the seat it was to get
    desk.refused(sp.ChangeVehicle(desk.rid(), TRIP, 12, "", plan.moves, ()), Reason.VEHICLE_PLAN_CHANGED)
