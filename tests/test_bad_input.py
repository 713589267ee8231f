"""Every field of every RPC, given bad values, gets INVALID_ARGUMENT with a reason and changes nothing."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.protobuf import timestamp_pb2

from keyun.terminals.client import KeyunError
from keyun.v1 import catalog_pb2, dispatch_pb2, gate_pb2, sales_pb2

GOOD_ID = "req-1"
LONG = "X" * 65
BAD_TEXT = ["", " ", LONG, "a b", "座位", "../etc", "x\x00y"]
BAD_STATIONS = ["", "a", "aaa", "TOOLONGCODE", "A-B", "北京"]
BAD_SEATS = [[""], ["1", "1"], ["1 "], ["LONGER"], [str(n) for n in range(1, 12)]]
BAD_COUNTS = [-1, 11, 1000]


@pytest.fixture(scope="module")
def trip(keyun):
    trip_id = keyun.trip(dt.timedelta(hours=5))
    ticket = keyun.client.sell(trip_id, "AAA", "DDD", seat_count=1).tickets[0]
    hold = keyun.client.hold(trip_id, "AAA", "DDD", seat_count=1)
    return trip_id, ticket.ticket_id, hold.hold_id


def cases(trip):
    """(rpc name, request) pairs, each with exactly one bad field."""
    trip_id, ticket_id, hold_id = trip
    sell = dict(request_id=GOOD_ID, trip_id=trip_id, from_station="AAA", to_station="DDD", seat_count=1)
    for value in BAD_TEXT:
        yield "Sell", sales_pb2.SellRequest(**{**sell, "request_id": value})
        yield "Sell", sales_pb2.SellRequest(**{**sell, "trip_id": value})
        yield "Hold", sales_pb2.HoldRequest(**{**sell, "trip_id": value})
        yield "Confirm", sales_pb2.ConfirmRequest(request_id=GOOD_ID, hold_id=value)
        yield "Confirm", sales_pb2.ConfirmRequest(request_id=value, hold_id=hold_id)
        yield "Release", sales_pb2.ReleaseRequest(request_id=GOOD_ID, hold_id=value)
        yield "Refund", sales_pb2.RefundRequest(request_id=GOOD_ID, ticket_id=value)
        yield "Refund", sales_pb2.RefundRequest(request_id=value, ticket_id=ticket_id)
        yield "GetTicket", sales_pb2.GetTicketRequest(ticket_id=value)
        yield "CheckIn", gate_pb2.CheckInRequest(request_id=GOOD_ID, ticket_id=value, gate_id="G1")
        yield "CheckIn", gate_pb2.CheckInRequest(request_id=GOOD_ID, ticket_id=ticket_id, gate_id=value)
        yield "CheckIn", gate_pb2.CheckInRequest(request_id=value, ticket_id=ticket_id, gate_id="G1")
        yield "GetManifest", gate_pb2.GetManifestRequest(trip_id=value)
        yield "GetTrip", catalog_pb2.GetTripRequest(trip_id=value)
        yield "DepartTrip", dispatch_pb2.DepartTripRequest(request_id=GOOD_ID, trip_id=value)
        yield "GetTripSheet", dispatch_pb2.GetTripSheetRequest(trip_id=value)
        yield "CancelTrip", dispatch_pb2.CancelTripRequest(request_id=value, trip_id=trip_id)
        yield "LoadNetwork", dispatch_pb2.LoadNetworkRequest(request_id=value, network_toml="format = 1")
    depart = dict(request_id=GOOD_ID, trip_id=trip_id)
    for staff, note in (
        ([dispatch_pb2.StaffOnBoard(name="王芳", role="captain")], ""),
        ([dispatch_pb2.StaffOnBoard(name="  ", role="conductor")], ""),
        ([dispatch_pb2.StaffOnBoard(name="王\x00芳", role="conductor")], ""),
        ([dispatch_pb2.StaffOnBoard(name="王芳", role="conductor")] * 9, ""),
        ([], "x" * 201),
        ([], "bad\nnote"),
    ):
        yield "DepartTrip", dispatch_pb2.DepartTripRequest(**depart, staff=staff, note=note)
    for nanos in (-29_334_306, 1_000_000_000):  # a scan time with nanos outside 0..999,999,999
        bad_time = timestamp_pb2.Timestamp(seconds=1_800_000_000, nanos=nanos)
        yield (
            "CheckIn",
            gate_pb2.CheckInRequest(request_id=GOOD_ID, ticket_id=ticket_id, gate_id="G1", scanned_at=bad_time),
        )
    for value in BAD_STATIONS:
        yield "Sell", sales_pb2.SellRequest(**{**sell, "from_station": value})
        yield "Hold", sales_pb2.HoldRequest(**{**sell, "to_station": value})
        yield "SearchTrips", catalog_pb2.SearchTripsRequest(from_station=value, to_station="DDD", date="2026-11-25")
        yield "GetSeatMap", catalog_pb2.GetSeatMapRequest(trip_id=trip_id, from_station="AAA", to_station=value)
    for value in BAD_SEATS:
        yield "Sell", sales_pb2.SellRequest(**{**sell, "seat_count": 0, "seat_numbers": value})
        yield "Hold", sales_pb2.HoldRequest(**{**sell, "seat_count": 0, "seat_numbers": value})
    for value in BAD_COUNTS:
        yield "Sell", sales_pb2.SellRequest(**{**sell, "seat_count": value})
    yield "Sell", sales_pb2.SellRequest(**{**sell, "seat_count": 0})
    yield "Sell", sales_pb2.SellRequest(**{**sell, "seat_numbers": ["1"]})  # both numbers and count
    yield "Sell", sales_pb2.SellRequest(**{**sell, "from_station": "DDD", "to_station": "AAA"})  # backwards
    yield "Sell", sales_pb2.SellRequest(**{**sell, "to_station": "AAA"})  # same station
    yield "Sell", sales_pb2.SellRequest(**{**sell, "seat_count": 0, "seat_numbers": ["99"]})  # no such seat
    for ttl in (-5, 1801, 10**9):
        yield "Hold", sales_pb2.HoldRequest(**{**sell, "ttl_seconds": ttl})
    for date in ("", "2026-02-30", "tomorrow", "2026/11/25"):
        yield "SearchTrips", catalog_pb2.SearchTripsRequest(from_station="AAA", to_station="DDD", date=date)
    yield (
        "SearchTrips",
        catalog_pb2.SearchTripsRequest(from_station="AAA", to_station="DDD", date="2026-11-25", page_size=-1),
    )
    yield (
        "SearchTrips",
        catalog_pb2.SearchTripsRequest(from_station="AAA", to_station="DDD", date="2026-11-25", page_token="!!"),
    )
    yield "GetManifest", gate_pb2.GetManifestRequest(trip_id=trip_id, page_token="bm90IGEgdG9rZW4=")
    yield "LoadNetwork", dispatch_pb2.LoadNetworkRequest(request_id=GOOD_ID, network_toml="not toml [")
    yield "LoadNetwork", dispatch_pb2.LoadNetworkRequest(request_id=GOOD_ID, network_toml="format = 2")
    yield "LoadNetwork", dispatch_pb2.LoadNetworkRequest(request_id=GOOD_ID, network_toml="x" * (5 * 1024 * 1024))


STUB_OF = {
    "Sell": "sales",
    "Hold": "sales",
    "Confirm": "sales",
    "Release": "sales",
    "Refund": "sales",
    "GetTicket": "sales",
    "CheckIn": "gate",
    "GetManifest": "gate",
    "GetTrip": "catalog",
    "SearchTrips": "catalog",
    "GetSeatMap": "catalog",
    "DepartTrip": "dispatch",
    "GetTripSheet": "dispatch",
    "CancelTrip": "dispatch",
    "LoadNetwork": "dispatch",
}


def snapshot(keyun, trip_id):
    manifest = keyun.client.manifest(trip_id, page_size=500)
    seats = keyun.client.seat_map(trip_id, "AAA", "DDD")
    return manifest, seats, keyun.client.trip(trip_id)


def test_every_bad_field_is_invalid_argument_and_changes_nothing(keyun, trip):
    before = snapshot(keyun, trip[0])
    checked = 0
    for rpc, request in cases(trip):
        method = getattr(getattr(keyun.client, STUB_OF[rpc]), rpc)
        with pytest.raises(KeyunError) as caught:
            keyun.client.call(method, request)
        error = caught.value
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT, (rpc, request, error)
        assert (
            error.reason and 1000 < error.reason_code < 2000 or error.reason in {"UNKNOWN_SEAT", "UNKNOWN_STATION"}
        ), (rpc, error)
        assert error.message
        checked += 1
    assert checked > 150
    assert snapshot(keyun, trip[0]) == before
