"""Many clients race for the last seats of one trip: no seat-leg is ever sold twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid

import grpc

from keyun.terminals.client import KeyunError
from keyun.v1 import sales_pb2, sales_pb2_grpc

STOPS = ["AAA", "BBB", "CCC", "DDD"]
SEATS = 12


async def race(target: str, requests: list[sales_pb2.SellRequest], token: str) -> list:
    """Fire every request at once over a few channels; return each one's response or KeyunError."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
    stubs = [sales_pb2_grpc.SalesStub(channel) for channel in channels]

    async def one(n: int, request: sales_pb2.SellRequest):
        try:
            return await stubs[n % len(stubs)].Sell(
                request, timeout=30, metadata=(("authorization", f"Bearer {token}"),)
            )
        except grpc.aio.AioRpcError as error:
            return KeyunError.from_rpc(error)

    results = await asyncio.gather(*(one(n, r) for n, r in enumerate(requests)))
    for channel in channels:
        await channel.close()
    return results


def split(results: list) -> tuple[list, list[KeyunError]]:
    return [r for r in results if not isinstance(r, KeyunError)], [r for r in results if isinstance(r, KeyunError)]


def sell(trip_id: str, a: int, b: int, count: int = 1) -> sales_pb2.SellRequest:
    return sales_pb2.SellRequest(
        request_id=uuid.uuid4().hex, trip_id=trip_id, from_station=STOPS[a], to_station=STOPS[b], seat_count=count
    )


def test_exactly_capacity_is_sold_when_everyone_wants_the_whole_line(keyun):
    trip_id = keyun.trip(dt.timedelta(hours=5))
    sold, refused = split(
        asyncio.run(race(keyun.target, [sell(trip_id, 0, 3) for _ in range(200)], keyun.client.access_token))
    )
    assert len(sold) == SEATS
    assert len({t.seat_number for s in sold for t in s.tickets}) == SEATS
    assert len(refused) == 200 - SEATS
    assert {(e.code, e.reason) for e in refused} == {(grpc.StatusCode.FAILED_PRECONDITION, "NOT_ENOUGH_SEATS")}
    assert keyun.client.manifest(trip_id).tickets_issued == SEATS


def test_mixed_segments_never_oversell_a_leg(keyun):
    trip_id = keyun.trip(dt.timedelta(hours=5))
    rng = random.Random(7)
    requests = []
    for _ in range(300):
        a = rng.randrange(3)
        requests.append(sell(trip_id, a, rng.randrange(a + 1, 4), count=rng.choice([1, 1, 2])))
    results = asyncio.run(race(keyun.target, requests, keyun.client.access_token))
    sold, refused = split(results)
    assert sold and refused
    assert all(e.reason == "NOT_ENOUGH_SEATS" for e in refused)

    tickets = keyun.client.manifest(trip_id, page_size=500).tickets
    assert len(tickets) == sum(len(s.tickets) for s in sold)
    legs_by_seat: dict[str, set[int]] = {}
    for ticket in tickets:
        legs = set(range(STOPS.index(ticket.from_stop.code), STOPS.index(ticket.to_stop.code)))
        taken = legs_by_seat.setdefault(ticket.seat_number, set())
        assert not taken & legs, f"seat {ticket.seat_number} sold twice on legs {taken & legs}"
        taken |= legs
    for leg in range(3):
        assert sum(1 for legs in legs_by_seat.values() if leg in legs) <= SEATS
    # A refused one-leg, one-seat request fits any seat free on its leg, so its leg must be full.
    full_legs = {
        STOPS.index(request.from_station)
        for request, result in zip(requests, results)
        if isinstance(result, KeyunError)
        and request.seat_count == 1
        and STOPS.index(request.to_station) - STOPS.index(request.from_station) == 1
    }
    for leg in full_legs:
        assert sum(1 for legs in legs_by_seat.values() if leg in legs) == SEATS
