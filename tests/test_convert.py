"""Trip messages are cached by the whole view: the same trip id with other stops is a new message."""

from keyun.engine.decide import TripStatus
from keyun.engine.views import StopView, TripView
from keyun.gateway import convert


def view(departs_ms: int, status: TripStatus = TripStatus.ON_SALE) -> TripView:
    return TripView(
        "K1-20300101", "K1", "R", "Route", "Op", "Coach", (StopView("AA", "Alpha", departs_ms),), status, 45
    )


def test_a_trip_message_follows_its_view():
    early, late = convert.trip(view(1_000)), convert.trip(view(2_000))
    assert early.stops[0].departs_at.ToMilliseconds() == 1_000
    assert late.stops[0].departs_at.ToMilliseconds() == 2_000
    assert convert.trip(view(1_000, TripStatus.CANCELLED)).status != early.status
    assert convert.trip(view(1_000)) is early  # the same view is built once
