"""Vehicles and drivers, report-in (报班) and the safety check (安检), through gRPC on a real server
(docs/dispatch.md): certificates checked on the travel date, overlapping trips refused across
shards, check-in waiting for a passed safety check, everything surviving a restart, and drivers'
personal data encrypted at rest and masked in replies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from keyun.app.cli import main
from keyun.engine.policy import Policy, PolicyError, parse_policy
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import audit_pb2, audit_pb2_grpc, fleet_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip

# A driver's personal data: none of it may be found in the data directory in the clear.
NAME, QUALIFICATION, PHONE = "王建国", "QC20261234", "13812345678"
CHECK_ITEMS = (("brakes", True, ""), ("tyres", True, ""), ("lights", True, ""))


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


def day(days: int, departs_in: dt.timedelta = dt.timedelta(0)) -> str:
    """The station's date `days` after the travel date of a coach leaving `departs_in` from now."""
    return ((dt.datetime.now(CHINA) + departs_in).date() + dt.timedelta(days=days)).isoformat()


def vehicle(plate: str, seats: int = 45, insurance_days: int = 365, departs_in=dt.timedelta(0)):
    return fleet_pb2.VehicleInput(
        plate=plate,
        operator_id="TESTOP",
        rated_seats=seats,
        seat_layout="2+2",
        permit_expires=day(365, departs_in),
        inspection_expires=day(180, departs_in),
        insurance_expires=day(insurance_days, departs_in),
    )


def driver(name: str = NAME, number: str = QUALIFICATION, days: int = 365, departs_in=dt.timedelta(0)):
    return fleet_pb2.DriverInput(
        name=name,
        licence_class="A1",
        qualification_number=number,
        qualification_expires=day(days, departs_in),
        phone=PHONE,
    )


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("fleet"), shards=2)
    yield server
    server.stop()


def test_vehicles_and_drivers_are_kept_checked_masked_and_only_for_dispatch(station):
    server = station
    with logged_in(KeyunClient(server.target), clock=server.clock) as client:
        coach = client.add_vehicle(vehicle("京A10001"))
        assert coach.vehicle_id.startswith("V") and coach.details.rated_seats == 45
        added = client.add_driver(driver("李四", "QC11112222"))
        # Masked in every reply: the name's first character, the number's ends, the phone's.
        assert added.masked_name == "李*"
        assert added.masked_qualification_number != "QC11112222" and "*" in added.masked_qualification_number
        assert added.masked_phone == "138****5678"
        assert client.driver(added.driver_id) == added

        changed = client.update_vehicle(coach.vehicle_id, vehicle("京A10001", seats=33))
        assert changed.details.rated_seats == 33
        assert client.vehicle(coach.vehicle_id) == changed
        second = client.add_vehicle(vehicle("京A10002"))
        first_page = client.vehicles_page(page_size=1)
        assert len(first_page.vehicles) == 1 and first_page.next_page_token
        rest = client.vehicles_page(page_size=50, page_token=first_page.next_page_token)
        listed = {v.vehicle_id for v in [*first_page.vehicles, *rest.vehicles]}
        assert {coach.vehicle_id, second.vehicle_id} <= listed

        retired = client.retire_vehicle(second.vehicle_id)
        assert retired.HasField("retired_at")
        assert second.vehicle_id not in {v.vehicle_id for v in client.vehicles_page(page_size=200).vehicles}
        assert second.vehicle_id in {
            v.vehicle_id for v in client.vehicles_page(page_size=200, include_retired=True).vehicles
        }
        assert client.retire_driver(added.driver_id).HasField("retired_at")

        # Bad inputs: a stable reason, the field named, nothing kept.
        before = len(client.vehicles_page(page_size=200, include_retired=True).vehicles)
        for bad, field in (
            (vehicle("ABC123"), "plate"),
            (vehicle("京A10003", seats=0), "rated_seats"),
            (
                fleet_pb2.VehicleInput(**{**_fields(vehicle("京A10003")), "permit_expires": "2026-13-01"}),
                "permit_expires",
            ),
        ):
            error = refused(client.add_vehicle, bad)
            assert (error.reason, error.facts.get("field")) == ("INVALID_FIELD", field)
        missing = refused(client.add_vehicle, fleet_pb2.VehicleInput(**{**_fields(vehicle("京A10003")), "plate": ""}))
        assert missing.reason == "MISSING_FIELD"
        taken = refused(client.add_vehicle, vehicle("京A10001"))
        assert (taken.reason, taken.reason_code) == ("PLATE_TAKEN", 6004)
        assert len(client.vehicles_page(page_size=200, include_retired=True).vehicles) == before
        assert refused(client.vehicle, "V999999").reason == "UNKNOWN_VEHICLE"
        assert refused(client.vehicle, "nonsense").reason == "INVALID_FIELD"
        assert refused(client.driver, "D999999").reason == "UNKNOWN_DRIVER"
        licence = fleet_pb2.DriverInput(**{**_fields(driver()), "licence_class": "Z"})
        assert refused(client.add_driver, licence).facts.get("field") == "licence_class"
        assert refused(client.add_driver, fleet_pb2.DriverInput(**{**_fields(driver()), "name": ""})).reason == (
            "MISSING_FIELD"
        )
        assert (
            refused(client.add_driver, fleet_pb2.DriverInput(**{**_fields(driver()), "phone": "12"})).facts.get("field")
            == "phone"
        )

    # Sellers keep no fleet: every Fleet call is dispatch's.
    with logged_in(KeyunClient(server.target), "seller", clock=server.clock) as seller:
        assert refused(seller.add_vehicle, vehicle("京A10009")).reason == "PERMISSION_DENIED"
        assert refused(seller.vehicles_page).reason == "PERMISSION_DENIED"
        assert refused(seller.drivers_page).reason == "PERMISSION_DENIED"
        assert refused(seller.report_in, "X-20260101", "V000001", "D000001").reason == "PERMISSION_DENIED"


def _fields(message) -> dict:
    return {f.name: v for f, v in message.ListFields()}


def test_report_in_and_the_safety_check_gate_check_in_and_survive_a_restart(ray_session, tmp_path):
    data_dir = tmp_path / "data"
    server = ServerThread(data_dir, shards=2, policy=Policy(require_safety_check=True))
    soon = dt.timedelta(minutes=30)  # boarding is open: it opens an hour before
    with logged_in(KeyunClient(server.target), clock=server.clock) as client:
        first = schedule_trip(client, "FL1", soon)
        overlapping = schedule_trip(client, "FL2", dt.timedelta(minutes=90))  # FL1 reaches DDD at +150 min
        later = schedule_trip(client, "FL3", dt.timedelta(hours=5))

        coach = client.add_vehicle(vehicle("京B20001", departs_in=soon))
        uninsured = client.add_vehicle(vehicle("京B20002", insurance_days=-1, departs_in=soon))
        last_day = client.add_vehicle(vehicle("京B20003", insurance_days=0, departs_in=soon))
        small = client.add_vehicle(vehicle("京B20004", seats=2, departs_in=soon))
        spare = client.add_vehicle(vehicle("京B20005", departs_in=soon))
        wang = client.add_driver(driver(departs_in=soon))
        lapsed = client.add_driver(driver("赵六", "QC99990000", days=-1, departs_in=soon))
        other = client.add_driver(driver("钱七", "QC55556666", departs_in=soon))
        lapsed_free = client.add_driver(driver("周九", "QC12121212", departs_in=soon))

        # Certificates are checked on the travel date: expired the day before is refused...
        expired = refused(client.report_in, first, uninsured.vehicle_id, wang.driver_id)
        assert (expired.reason, expired.reason_code, expired.facts["certificate"]) == (
            "CERTIFICATE_EXPIRED",
            6005,
            "insurance",
        )
        qualification = refused(client.report_in, first, coach.vehicle_id, lapsed.driver_id)
        assert (qualification.reason, qualification.reason_code) == ("QUALIFICATION_EXPIRED", 6006)
        # ...and valid through its last day.
        reported = client.report_in(first, last_day.vehicle_id, wang.driver_id)
        assert reported.plate == "京B20003" and reported.trip.plate == "京B20003"
        assert reported.travel_date == day(0, soon)
        # Reporting in again replaces the crew; the trip shows the new plate.
        reported = client.report_in(first, coach.vehicle_id, wang.driver_id)
        assert client.trip(first).plate == "京B20001"

        # Neither the driver nor the coach may be on two trips at once, whichever shard owns them.
        busy = refused(client.report_in, overlapping, small.vehicle_id, wang.driver_id)
        assert (busy.reason, busy.reason_code, busy.facts["trip_id"]) == ("DRIVER_BUSY", 6009, first)
        coach_busy = refused(client.report_in, overlapping, coach.vehicle_id, other.driver_id)
        assert (coach_busy.reason, coach_busy.reason_code) == ("VEHICLE_BUSY", 6008)
        assert client.report_in(later, coach.vehicle_id, wang.driver_id, request_id="fleet-later-1").plate == "京B20001"
        # A retry with the same request id gets the same answer, whichever step it was cut off in.
        again = client.report_in(later, coach.vehicle_id, wang.driver_id, request_id="fleet-later-1")
        assert (again.plate, again.travel_date) == ("京B20001", day(0, dt.timedelta(hours=5)))

        # A coach with fewer rated seats than the trip has sold is refused (no remapping here).
        client.sell(overlapping, "AAA", "DDD", seat_count=3)
        too_small = refused(client.report_in, overlapping, small.vehicle_id, other.driver_id)
        assert (too_small.reason, too_small.reason_code) == ("TOO_FEW_RATED_SEATS", 6007)
        assert client.report_in(overlapping, spare.vehicle_id, other.driver_id).plate == "京B20005"

        assert refused(client.report_in, first, "V1", wang.driver_id).reason == "INVALID_FIELD"
        assert refused(client.report_in, "NOPE-20260101", coach.vehicle_id, wang.driver_id).reason == "UNKNOWN_TRIP"
        assert refused(client.report_in, first, "V999999", wang.driver_id).reason == "UNKNOWN_VEHICLE"
        cancelled = schedule_trip(client, "FL4", dt.timedelta(hours=8))
        client.cancel(cancelled)
        assert refused(client.report_in, cancelled, coach.vehicle_id, other.driver_id).reason == "TRIP_CANCELLED"
        # A trip cancelled after its report-in frees its coach and driver for another.
        dropped = schedule_trip(client, "FL5", dt.timedelta(hours=12))
        replacement = schedule_trip(client, "FL6", dt.timedelta(hours=12, minutes=30))
        client.report_in(dropped, small.vehicle_id, lapsed_free.driver_id)
        assert refused(client.report_in, replacement, small.vehicle_id, other.driver_id).reason == "VEHICLE_BUSY"
        client.cancel(dropped)
        assert client.report_in(replacement, small.vehicle_id, lapsed_free.driver_id).plate == "京B20004"

        # Check-in waits for the safety check; a failed check keeps it closed; a passed one opens it.
        ticket = client.sell(first, "AAA", "DDD", seat_count=1).tickets[0]
        pending = refused(client.check_in, ticket.ticket_id, "G1")
        assert (pending.reason, pending.reason_code) == ("SAFETY_CHECK_PENDING", 6010)
        failed = client.record_safety_check(first, False, (("brakes", False, "worn pads"), ("tyres", True, "")))
        assert failed.safety_check == "failed"
        assert refused(client.check_in, ticket.ticket_id, "G1").reason == "SAFETY_CHECK_FAILED"
        # A check cannot pass with a failed item, nor name no items.
        bad = refused(client.record_safety_check, first, True, (("brakes", False, ""),))
        assert (bad.reason, bad.facts.get("field")) == ("INVALID_FIELD", "passed")
        assert refused(client.record_safety_check, first, True, ()).reason == "MISSING_FIELD"
        assert client.record_safety_check(first, True, CHECK_ITEMS).safety_check == "passed"
        checked = client.check_in(ticket.ticket_id, "G1")
        assert checked.trip.plate == "京B20001"
        manifest = client.manifest(first)
        assert (manifest.trip.plate, manifest.trip.safety_check) == ("京B20001", "passed")

    with logged_in(KeyunClient(server.target), "seller", clock=server.clock) as seller:
        assert refused(seller.record_safety_check, first, True, CHECK_ITEMS).reason == "PERMISSION_DENIED"

    # Audited, refusals too, and no record holds the driver's data.
    with logged_in(KeyunClient(server.target), "auditor", clock=server.clock) as auditor:
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords, audit_pb2.ListRecordsRequest(page_size=500)
        ).records
    report_ins = [r for r in records if r.action == "keyun.v1.Fleet/ReportIn" and r.target == first]
    assert len(report_ins) >= 4  # two refused, two accepted
    assert [r for r in records if r.action == "keyun.v1.Fleet/RecordSafetyCheck" and r.target == first]
    assert [r for r in records if r.action == "keyun.v1.Fleet/AddDriver" and r.target == wang.driver_id]
    assert not [r for r in records if any(secret in str(r) for secret in (NAME, QUALIFICATION, PHONE))]

    # Restarted, the station still knows its coaches, drivers, assignments and checks.
    server.stop()
    again = ServerThread(data_dir, shards=2, policy=Policy(require_safety_check=True))
    try:
        with logged_in(KeyunClient(again.target), clock=again.clock) as client:
            assert client.vehicle(coach.vehicle_id) == coach
            assert client.driver(wang.driver_id) == wang
            trip = client.trip(first)
            assert (trip.plate, trip.safety_check) == ("京B20001", "passed")
            still_busy = refused(client.report_in, overlapping, coach.vehicle_id, other.driver_id)
            assert still_busy.reason == "VEHICLE_BUSY"
            assert client.ticket(ticket.ticket_id).status == checked.status
    finally:
        again.stop()

    # The driver's data is encrypted at rest: no file of the data directory holds it in the clear,
    # though the plate (not personal) is there to be found.
    stored = b"".join(p.read_bytes() for p in Path(data_dir).rglob("*") if p.is_file())
    assert "京B20001".encode() in stored
    for secret in (NAME, QUALIFICATION, PHONE):
        assert secret.encode() not in stored, f"{secret} is stored in the clear"


def test_the_policy_file_turns_the_safety_check_on():
    assert parse_policy({"dispatch": {"require_safety_check": True}}).require_safety_check
    assert not parse_policy({}).require_safety_check
    with pytest.raises(PolicyError, match="dispatch.require_safety_check"):
        parse_policy({"dispatch": {"require_safety_check": "yes"}})
    with pytest.raises(PolicyError, match="dispatch.gates"):
        parse_policy({"dispatch": {"gates": 3}})


def test_the_dispatch_verbs_keep_coaches_and_drivers_and_report_them_in(station, capsys, monkeypatch, tmp_path):
    server = station
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("KEYUN_USER", "dispatcher")
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)

    def keyun(*args: str, ok: bool = True):
        code = main([*args, "--server", server.target])
        out, err = capsys.readouterr()
        assert (code == 0) == ok, out + err
        return json.loads(out) if "--json" in args else out

    with logged_in(KeyunClient(server.target), clock=server.clock) as master:
        trip = schedule_trip(master, "FLC1", dt.timedelta(hours=3))
    dates = [f"--{kind}-expires={day(200)}" for kind in ("permit", "inspection", "insurance")]
    coach = keyun("dispatch", "vehicle", "add", "沪C30001", "--operator", "TESTOP", "--seats", "45", *dates, "--json")
    assert coach["details"]["plate"] == "沪C30001"
    updated = keyun("dispatch", "vehicle", "update", coach["vehicle_id"], "--seats", "40", "--json")
    assert updated["details"]["rated_seats"] == 40 and updated["details"]["plate"] == "沪C30001"
    assert "沪C30001" in keyun("dispatch", "vehicle", "list")
    added = keyun(
        "dispatch",
        "driver",
        "add",
        "--name",
        "孙八",
        "--licence-class",
        "A1",
        "--qualification-number",
        "QC77778888",
        f"--qualification-expires={day(100)}",
        "--json",
    )
    listed = keyun("dispatch", "driver", "list")
    assert added["driver_id"] in listed and "孙*" in listed and "孙八" not in listed and "QC77778888" not in listed
    reported = keyun("dispatch", "report-in", trip, coach["vehicle_id"], added["driver_id"])
    assert "沪C30001" in reported
    checked = keyun("dispatch", "safety-check", trip, "--item", "brakes=ok", "--item", "tyres=fail:worn", "--json")
    assert checked["safety_check"] == "failed"
    assert "passed" in keyun("dispatch", "safety-check", trip, "--item", "brakes=ok", "--item", "tyres=ok")
    refused = keyun("dispatch", "vehicle", "show", "V999999", "--json", ok=False)
    assert refused["error"]["reason"] == "UNKNOWN_VEHICLE"
