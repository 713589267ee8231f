"""A trip's revocations: appended by the events that revoke credentials, in order, answered after a
position, and part of the trip's record, so a snapshot restores them exactly."""

from __future__ import annotations

import pytest

from keyun.engine import codec
from keyun.engine import commands as c
from keyun.engine.reasons import Reason, Rejected
from keyun.engine.shard import ShardEngine
from keyun.engine.state import Revocation, TripRecord, trip_record

from .conftest import PM_TRIP, TRIP, A, D, Desk, make_engine


def test_refunds_and_a_cancellation_revoke_in_order_and_a_snapshot_keeps_them():
    desk = Desk(make_engine())
    tickets = desk.ok(c.Sell("s1", TRIP, A, D, seat_count=3)).tickets
    desk.ok(c.Sell("s2", PM_TRIP, A, D, seat_count=1))
    assert desk.ok(c.GetRevocations(TRIP)).revoked == ()
    desk.ok(c.Refund("r1", tickets[1].ticket_id))
    desk.ok(c.Refund("r2", tickets[0].ticket_id))
    desk.ok(c.CancelTrip("x1", PM_TRIP))

    revoked = desk.ok(c.GetRevocations(TRIP))
    assert [(r.ticket_id, r.why) for r in revoked.revoked] == [
        (tickets[1].ticket_id, "refunded"),
        (tickets[0].ticket_id, "refunded"),
    ]
    assert revoked.position == 2 and not revoked.departed
    after_one = desk.ok(c.GetRevocations(TRIP, 1))
    assert [r.ticket_id for r in after_one.revoked] == [tickets[0].ticket_id] and after_one.position == 2
    assert desk.ok(c.GetRevocations(TRIP, 2)).revoked == ()
    assert [(r.ticket_id, r.why) for r in desk.ok(c.GetRevocations(PM_TRIP)).revoked] == [("", "trip_cancelled")]

    # The record a snapshot writes, through the codec, restores the same list.
    record = codec.decode(codec.encode(trip_record(desk.engine.state.trips[TRIP])), TripRecord)
    assert all(type(r) is Revocation for r in record.revoked)
    restored = ShardEngine()
    restored.restore(0, [record], [])
    assert restored.state.trips[TRIP].revoked == desk.engine.state.trips[TRIP].revoked


def test_a_negative_position_is_refused():
    with pytest.raises(Rejected) as caught:
        c.GetRevocations(TRIP, -1)
    assert caught.value.rejection.reason is Reason.INVALID_FIELD
