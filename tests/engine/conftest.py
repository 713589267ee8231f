"""Small fixtures for engine tests: a four-stop network, its trips, and an engine with them scheduled.

The network runs AA → BB → CC → DD (an hour between stops) twice a day, at 08:00 and 14:00 local
time (+08:00), on coaches of 13 seats: two rows of 2 + 2 either side of the aisle and a back row
of five.  Every time in the tests is derived from DEPARTS_MS, the 08:00 departure on DAY.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from keyun.engine import commands as c
from keyun.engine.network import TripSpec, expand, parse_network
from keyun.engine.policy import HOUR_MS, MINUTE_MS, Policy
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.shard import ShardEngine

A, B, C, D = "AA", "BB", "CC", "DD"
STOPS = (A, B, C, D)
DAY = dt.date(2030, 6, 1)
# 08:00 at +08:00 is midnight UTC.
DEPARTS_MS = int(dt.datetime(2030, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
AFTERNOON_MS = DEPARTS_MS + 6 * HOUR_MS
NOW = DEPARTS_MS - 24 * HOUR_MS  # a day before the morning coach: sales open, boarding not yet
DAY_MS = 24 * HOUR_MS
TRIP = "S1-20300601"  # the 08:00 trip on DAY
PM_TRIP = "S2-20300601"  # the 14:00 trip on DAY
NEXT_DAY_TRIP = "S1-20300602"

COACH_ROWS = [
    ["1A", "1B", "", "1C", "1D"],
    ["2A", "2B", "", "2C", "2D"],
    ["3A", "3B", "3C", "3D", "3E"],
]
MINI_ROWS = [["1", "2", "", "3"], ["4", "5", "6"]]

# km 0, 50, 100, 150 at 30 fen/km: 15 yuan a leg, with an override making AA→DD 40 yuan.
FARE = {(A, B): 1500, (B, C): 1500, (C, D): 1500, (A, C): 3000, (B, D): 3000, (A, D): 4000}


def network_doc(rows: list[list[str]] | None = None) -> dict:
    """The test network as a parsed TOML document; tests mutate copies of it to make bad files."""
    return {
        "format": 1,
        "name": "Test network",
        "utc_offset": "+08:00",
        "stations": [
            {"code": A, "name": "Alpha", "city": "Alpha"},
            {"code": B, "name": "Bravo"},
            {"code": C, "name": "Charlie"},
            {"code": D, "name": "Delta"},
        ],
        "operators": [{"id": "OP1", "name": "Test Coaches"}],
        "vehicles": [
            {"id": "coach", "name": "13-seat coach", "rows": copy.deepcopy(rows or COACH_ROWS)},
            {"id": "big", "name": "45-seat coach", "seats": 45},
        ],
        "routes": [
            {
                "id": "R1",
                "name": "Alpha—Delta",
                "fen_per_km": 30,
                "stops": [
                    {"station": A, "minutes": 0, "km": 0},
                    {"station": B, "minutes": 60, "km": 50},
                    {"station": C, "minutes": 120, "km": 100},
                    {"station": D, "minutes": 180, "km": 150},
                ],
                "fares": [{"from": A, "to": D, "fen": 4000}],
            }
        ],
        "schedules": [
            {"id": "S1", "route": "R1", "operator": "OP1", "vehicle": "coach", "departs": "08:00"},
            {"id": "S2", "route": "R1", "operator": "OP1", "vehicle": "coach", "departs": "14:00"},
        ],
    }


def trip_specs(rows: list[list[str]] | None = None, days: int = 2) -> list[TripSpec]:
    return expand(parse_network(network_doc(rows)), DAY, days)


def make_engine(rows: list[list[str]] | None = None, policy: Policy | None = None, now: int = NOW) -> ShardEngine:
    """A checking engine with the test trips (two days) scheduled at `now`."""
    engine = ShardEngine(policy=policy, check=True)
    batch = [c.ScheduleTrip(f"schedule-{spec.trip_id}", spec) for spec in trip_specs(rows)]
    replies, _ = engine.execute(batch, now)
    assert not any(isinstance(reply, Rejection) for reply in replies)
    return engine


class Counter:
    """Fresh request ids, so tests only spell one out when they mean to reuse it."""

    def __init__(self, prefix: str = "r") -> None:
        self.prefix, self.n = prefix, 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n}"


class Desk:
    """A thin driver: one command or query per batch, at a chosen `now`."""

    def __init__(self, engine: ShardEngine, now: int = NOW) -> None:
        self.engine, self.now, self.rid = engine, now, Counter()

    def run(self, item, now: int | None = None):
        replies, entries = self.engine.execute([item], self.now if now is None else now)
        self.last_entries = entries
        return replies[0]

    def ok(self, item, now: int | None = None):
        reply = self.run(item, now)
        assert not isinstance(reply, Rejection), reply
        return reply

    def refused(self, item, reason: Reason, now: int | None = None) -> Rejection:
        """Run a command expected to be rejected, and check it changed no state."""
        before = copy.deepcopy(self.engine.state)
        reply = self.run(item, now)
        assert isinstance(reply, Rejection), reply
        assert reply.reason is reason, reply
        assert self.engine.state == before, "a rejection changed state"
        return reply

    def hold(self, frm: str = A, to: str = D, seats: tuple[str, ...] = (), count: int = 0, trip: str = TRIP, **kw):
        return c.PlaceHold(self.rid(), trip, frm, to, seat_numbers=seats, seat_count=count, **kw)

    def sell(self, frm: str = A, to: str = D, seats: tuple[str, ...] = (), count: int = 0, trip: str = TRIP):
        return c.Sell(self.rid(), trip, frm, to, seat_numbers=seats, seat_count=count)

    def confirm(self, hold_id: str):
        return c.ConfirmHold(self.rid(), hold_id)

    def release(self, hold_id: str):
        return c.ReleaseHold(self.rid(), hold_id)

    def refund(self, ticket_id: str):
        return c.Refund(self.rid(), ticket_id)

    def check_in(self, ticket_id: str, gate: str = "gate-1"):
        return c.CheckIn(self.rid(), ticket_id, gate)

    def depart(self, trip: str = TRIP):
        return c.DepartTrip(self.rid(), trip)

    def cancel(self, trip: str = TRIP):
        return c.CancelTrip(self.rid(), trip)

    def free_seats(self, frm: str, to: str, trip: str = TRIP, now: int | None = None) -> set[str]:
        seat_map = self.ok(c.GetSeatMap(trip, frm, to), now)
        return {seat.label for row in seat_map.rows for seat in row if seat.label and seat.free}


@pytest.fixture
def engine() -> ShardEngine:
    return make_engine()


@pytest.fixture
def desk(engine: ShardEngine) -> Desk:
    return Desk(engine)


@pytest.fixture
def specs() -> list[TripSpec]:
    return trip_specs()


__all__ = [
    "A",
    "B",
    "C",
    "D",
    "STOPS",
    "DAY",
    "DEPARTS_MS",
    "AFTERNOON_MS",
    "NOW",
    "DAY_MS",
    "TRIP",
    "PM_TRIP",
    "NEXT_DAY_TRIP",
    "COACH_ROWS",
    "MINI_ROWS",
    "FARE",
    "HOUR_MS",
    "MINUTE_MS",
    "network_doc",
    "trip_specs",
    "make_engine",
    "Counter",
    "Desk",
]
