"""Departure-when-full lines (流水班) in the engine: the network file's `flow` table, the first
coach it makes, a flow coach's status, the station move a no-show's ticket may make, and the
coaches due to leave at their maximum wait (docs/dispatch.md)."""

from __future__ import annotations

import datetime as dt

import msgspec

from keyun.engine import commands as c
from keyun.engine.decide import TripStatus, segment_status
from keyun.engine.network import expand, flow_coach, flow_coach_id_of, parse_network
from keyun.engine.policy import Policy
from keyun.engine.reasons import Rejection
from keyun.engine.shard import ShardEngine
from keyun.engine.views import FlowCoachesView

from .conftest import DAY, network_doc

MINUTE_MS = 60_000


def flow_doc() -> dict:
    doc = network_doc()
    schedule = doc["schedules"][0]
    del schedule["departs"]
    schedule["flow"] = {"max_wait_minutes": 30, "first": "06:00", "last": "20:00"}
    return doc


def first_coach():
    return next(spec for spec in expand(parse_network(flow_doc()), DAY, 1) if spec.flow_max_wait_min)


def test_a_flow_schedule_makes_its_first_coach_leaving_at_the_line_s_last_time():
    spec = first_coach()
    timed = next(spec for spec in expand(parse_network(network_doc()), DAY, 1) if spec.schedule_id == "S1")
    assert spec.trip_id == f"S1-{DAY:%Y%m%d}-F01" and spec.flow_max_wait_min == 30
    assert flow_coach(spec.trip_id) == (f"S1-{DAY:%Y%m%d}", 1)
    assert flow_coach_id_of(spec.trip_id, 2) == f"S1-{DAY:%Y%m%d}-F02"
    assert flow_coach(timed.trip_id) is None and timed.flow_max_wait_min == 0
    # Sales stay open all day: the coach "leaves" at 20:00 Beijing time (12:00 UTC), the line's last.
    last = dt.datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=dt.UTC)
    assert spec.departs_at_ms == int(last.timestamp() * 1000)


def test_a_flow_coach_boards_as_it_sells_and_is_gone_once_departed():
    spec = first_coach()
    engine = ShardEngine()
    now = spec.departs_at_ms - 12 * 60 * MINUTE_MS  # hours before the line's last time
    engine.execute([c.ScheduleTrip("s", spec)], now)
    trip = engine.state.trips[spec.trip_id]
    assert segment_status(trip, 0, now, Policy()) is TripStatus.CHECKING_IN
    (sold,), _ = engine.execute([c.Sell("sell", spec.trip_id, spec.stops[0].code, spec.stops[-1].code, (), 1)], now)
    assert not isinstance(sold, Rejection)
    (due,), _ = engine.execute([c.ListFlowCoachesDue(10)], now + 29 * MINUTE_MS)
    assert isinstance(due, FlowCoachesView) and due.trip_ids == ()
    (due,), _ = engine.execute([c.ListFlowCoachesDue(10)], now + 30 * MINUTE_MS)
    assert due.trip_ids == (spec.trip_id,)
    engine.execute([c.DepartTrip("go", spec.trip_id)], now + 30 * MINUTE_MS)
    trip = engine.state.trips[spec.trip_id]
    for stop in range(len(spec.stops) - 1):
        assert segment_status(trip, stop, now + 31 * MINUTE_MS, Policy()) is TripStatus.DEPARTED
    (due,), _ = engine.execute([c.ListFlowCoachesDue(10)], now + 31 * MINUTE_MS)
    assert due.trip_ids == ()
    # A ticket of the departed coach may move (the station's move) to the line's next coach only.
    ticket_id = sold.tickets[0].ticket_id
    nxt = msgspec.structs.replace(spec, trip_id=flow_coach_id_of(spec.trip_id, 2))
    engine.execute([c.ScheduleTrip("s2", nxt)], now + 31 * MINUTE_MS)
    (other,), _ = engine.execute(
        [c.BeginChange("b1", ticket_id, "saga1", "S2-20300601", spec.route_id, station=True)], now + 31 * MINUTE_MS
    )
    assert isinstance(other, Rejection) and other.reason.name == "CHANGE_NOT_ALLOWED"
    (began,), _ = engine.execute(
        [c.BeginChange("b2", ticket_id, "saga2", nxt.trip_id, spec.route_id, station=True)], now + 31 * MINUTE_MS
    )
    assert not isinstance(began, Rejection)
