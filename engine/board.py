"""The departure board's view of a station (信息发布): every trip leaving it in a window, as the
board shows it (docs/board.md).

A trip owner answers engine.commands.ListDepartures with a DepartureView per trip: the time by the
timetable and the time expected (with any delay), the status as seen from this station (on time,
boarding, departed, cancelled: engine.decide.segment_status, the same rule sales and gates use,
so "boarding" is the station's boarding window, not a state of its own), the gate or bay, and the
free seats to each later stop.  No passenger data: a board is public.
"""

from __future__ import annotations

from . import quotas
from .commands import ListDepartures
from .decide import TripStatus, segment_status
from .policy import Policy
from .state import ShardState, Trip
from .values import Reply, Value
from .views import TripView, trip_view


class DepartureView(Value):
    trip: TripView  # its stops (with expected times), gate, seats; status at its first stop
    stop: int  # this station's index among the trip's stops
    scheduled_ms: int  # leaves this station by the timetable
    expected_ms: int  # leaves this station with the announced delay
    status: TripStatus  # as seen from this station
    free_seats: tuple[tuple[str, int], ...]  # (later stop's code, seats free from here to it)

    @property
    def delay_min(self) -> int:
        return (self.expected_ms - self.scheduled_ms) // 60_000


class DeparturesView(Value, Reply):
    station: str
    departures: tuple[DepartureView, ...]  # by timetable time, then trip id


def departure(trip: Trip, stop: int, now: int, policy: Policy) -> DepartureView:
    status = segment_status(trip, stop, now, policy)
    later = range(stop + 1, len(trip.spec.stops))
    free = tuple((trip.spec.stops[j].code, quotas.free_for(trip, stop, j, now)) for j in later)
    return DepartureView(
        trip=trip_view(trip, now, policy),
        stop=stop,
        scheduled_ms=trip.timetable_ms[stop],
        expected_ms=trip.departs_at_ms(stop),
        status=status,
        free_seats=free,
    )


def departures(state: ShardState, query: ListDepartures, now: int, policy: Policy) -> DeparturesView:
    found = []
    for trip in state.trips.values():
        stop = trip.stop_index.get(query.station)
        if stop is None or stop == len(trip.spec.stops) - 1:
            continue
        if query.start_ms <= trip.timetable_ms[stop] < query.end_ms:
            found.append(departure(trip, stop, now, policy))
    found.sort(key=lambda d: (d.scheduled_ms, d.trip.trip_id))
    return DeparturesView(query.station, tuple(found))
