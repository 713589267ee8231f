"""Vehicles, drivers and report-in's rules (engine/fleet.py), as the accounts owner runs them, and
the crew and safety check a trip records (engine/crew.py) through the codec."""

from __future__ import annotations

import pytest

from keyun.engine import accounts as ac
from keyun.engine import codec
from keyun.engine import fleet as fl
from keyun.engine.crew import CheckItem, Crew, RecordSafetyCheck, SafetyCheck
from keyun.engine.reasons import Reason, Rejected, Rejection

T0 = 1_800_000_000_000
HOUR = 3_600_000
TRAVEL = "2027-01-15"  # the engine is given its travel date: no clock is read here


def run(engine: ac.AccountsEngine, item, now=T0):
    (reply,), _ = engine.execute([item], now)
    return reply


def coach(plate="京A12345", seats=45, insurance=TRAVEL):
    return fl.VehicleFields(plate, "OP", seats, "2+2", "2027-12-31", "2027-06-30", insurance)


def driver(expires="2027-12-31"):
    return fl.DriverFields(b"cipher-name", "王**", "A1", b"cipher-number", "QC****34", expires, b"", "")


def assign(request_id, trip_id, starts, ends, vehicle="V000001", driver_id="D000001", sold=0, date=TRAVEL):
    return fl.AssignCrew(request_id, trip_id, vehicle, driver_id, date, starts, ends, sold, "A000003")


@pytest.fixture
def engine():
    engine = ac.AccountsEngine()
    assert run(engine, fl.AddVehicle("v1", coach())).vehicle.vehicle_id == "V000001"
    assert run(engine, fl.AddVehicle("v2", coach("京A54321", seats=2))).vehicle.vehicle_id == "V000002"
    assert run(engine, fl.AddDriver("d1", driver())).driver.driver_id == "D000001"
    assert run(engine, fl.AddDriver("d2", driver())).driver.driver_id == "D000002"
    return engine


def test_a_certificate_is_valid_through_its_date_and_refused_after(engine):
    assert run(engine, assign("a1", "T1-20270115", T0, T0 + HOUR)).assignment.plate == "京A12345"
    late = run(engine, assign("a2", "T2-20270116", T0 + 30 * HOUR, T0 + 31 * HOUR, date="2027-01-16"))
    assert isinstance(late, Rejection) and late.reason is Reason.CERTIFICATE_EXPIRED
    assert late.fact("certificate") == "insurance"
    run(engine, fl.UpdateDriver("u1", "D000002", driver("2027-01-14")))
    lapsed = run(engine, assign("a3", "T3-20270115", T0 + 5 * HOUR, T0 + 6 * HOUR, driver_id="D000002"))
    assert lapsed.reason is Reason.QUALIFICATION_EXPIRED


def test_overlaps_are_refused_and_back_to_back_trips_are_not(engine):
    run(engine, assign("a1", "T1-20270115", T0, T0 + 2 * HOUR))
    busy = run(engine, assign("a2", "T2-20270115", T0 + HOUR, T0 + 3 * HOUR, vehicle="V000002", sold=1))
    assert (busy.reason, busy.fact("trip_id")) == (Reason.DRIVER_BUSY, "T1-20270115")
    coach_busy = run(engine, assign("a3", "T2-20270115", T0 + HOUR, T0 + 3 * HOUR, driver_id="D000002"))
    assert coach_busy.reason is Reason.VEHICLE_BUSY
    # Arriving as the next leaves is no overlap; the same trip again replaces its crew.
    assert not isinstance(run(engine, assign("a4", "T4-20270115", T0 + 2 * HOUR, T0 + 3 * HOUR)), Rejection)
    assert run(engine, assign("a5", "T1-20270115", T0, T0 + 2 * HOUR, vehicle="V000002")).assignment.plate == (
        "京A54321"
    )
    small = run(engine, assign("a6", "T6-20270115", T0 + 9 * HOUR, T0 + 10 * HOUR, vehicle="V000002", sold=3))
    assert small.reason is Reason.TOO_FEW_RATED_SEATS


def test_plates_are_unique_among_vehicles_in_service_and_retired_ones_are_not_assigned(engine):
    assert run(engine, fl.AddVehicle("v3", coach())).reason is Reason.PLATE_TAKEN
    run(engine, fl.RetireVehicle("r1", "V000001"))
    assert run(engine, fl.AddVehicle("v4", coach())).vehicle.vehicle_id == "V000003"
    retired = run(engine, assign("a1", "T1-20270115", T0, T0 + HOUR))
    assert retired.reason is Reason.VEHICLE_RETIRED
    page = run(engine, fl.ListVehicles(0, 1))
    assert [v.vehicle_id for v in page.vehicles] == ["V000002"] and page.next_offset == 1


def test_bad_fields_are_refused_on_construction():
    for make, field in (
        (lambda: coach(plate="AB12345"), "plate"),
        (lambda: coach(seats=81), "rated_seats"),
        (lambda: coach(insurance="2027-02-30"), "insurance_expires"),
        (lambda: fl.GetVehicle("V1"), "vehicle_id"),
        (lambda: RecordSafetyCheck("s1", "T1-20270115", True, (CheckItem("brakes", False),), "A000003"), "passed"),
    ):
        with pytest.raises(Rejected) as caught:
            make()
        assert caught.value.rejection.fact("field") == field


def test_the_book_and_a_trip_s_crew_replay_through_the_codec(engine):
    run(engine, assign("a1", "T1-20270115", T0, T0 + HOUR))
    snapshot = codec.decode(codec.encode(engine.snapshot()), ac.AccountsSnapshot)
    assert snapshot.state.fleet == engine.state.fleet
    crew = Crew("V000001", "京A12345", "D000001", T0)
    check = SafetyCheck(False, (CheckItem("brakes", False, "worn"),), "A000003", "", T0)
    assert codec.decode(codec.encode(crew), Crew) == crew
    assert codec.decode(codec.encode(check), SafetyCheck) == check


def test_a_trip_records_its_crew_and_check_in_waits_for_a_passed_safety_check():
    from keyun.engine.crew import RecordCrew
    from keyun.engine.policy import MINUTE_MS, Policy
    from keyun.engine.shard import ShardEngine
    from keyun.engine.state import TripRecord, trip_record

    from .conftest import DEPARTS_MS, TRIP, Desk, make_engine

    engine = make_engine(policy=Policy(require_safety_check=True))
    desk = Desk(engine)
    ticket = desk.ok(desk.sell(count=1)).tickets[0]
    boarding = DEPARTS_MS - 30 * MINUTE_MS
    assert desk.ok(RecordCrew("c1", TRIP, "V000001", "京A12345", "D000001")).plate == "京A12345"
    desk.refused(desk.check_in(ticket.ticket_id), Reason.SAFETY_CHECK_PENDING, now=boarding)
    failed = RecordSafetyCheck("s1", TRIP, False, (CheckItem("brakes", False, "worn"),), "A000003")
    assert desk.ok(failed, now=boarding).safety_check == "failed"
    desk.refused(desk.check_in(ticket.ticket_id), Reason.SAFETY_CHECK_FAILED, now=boarding)
    passed = RecordSafetyCheck("s2", TRIP, True, (CheckItem("brakes", True),), "A000003")
    assert desk.ok(passed, now=boarding).safety_check == "passed"
    desk.ok(desk.check_in(ticket.ticket_id), now=boarding)
    # The crew and the check are in the trip's snapshot record.
    record = codec.decode(codec.encode(trip_record(engine.state.trips[TRIP])), TripRecord)
    again = ShardEngine(policy=Policy(require_safety_check=True))
    again.restore(boarding, [record], [])
    trip = again.state.trips[TRIP]
    assert (trip.crew.plate, trip.safety.passed) == ("京A12345", True)


def test_a_released_trip_frees_its_coach_and_driver(engine):
    run(engine, assign("a1", "T1-20270115", T0, T0 + 2 * HOUR))
    overlapping = run(engine, fl.OverlappingTrips("T2-20270115", "V000002", "D000001", T0 + HOUR, T0 + 3 * HOUR))
    assert overlapping.trip_ids == ("T1-20270115",)
    assert run(engine, fl.ReleaseCrew("f1", "T1-20270115")).assignment is None
    assert run(engine, fl.ReleaseCrew("f2", "T1-20270115")).assignment is None  # nothing left to release
    assert not isinstance(run(engine, assign("a2", "T2-20270115", T0 + HOUR, T0 + 3 * HOUR)), Rejection)
