"""The dispatch console (terminals/dispatch_console.py) driven with Textual's Pilot against a real
server: a dispatcher's morning on one trip (report-in refused for an expired certificate, then
accepted; the safety check; a seat quota for a stop; an extra run; a delay; the departure), each
checked through gRPC afterwards; blocked seats, a quota released, a merge, a missed run and a
cancellation; and a change that could not reach the server keeping its request id for the retry."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.terminals.counter_widgets import Confirm
from keyun.terminals.dispatch_console import ConsoleScreen, DispatchConsole, Pick, SafetyCheck, parse_crew, parse_quota
from keyun.terminals.dispatch_desk import DispatchDesk
from keyun.v1 import common_pb2, fleet_pb2

from .conftest import CHINA
from .waiting import wait_until_async

SIZE = (180, 36)


def _date(trip_id: str) -> str:
    return dt.datetime.strptime(trip_id.rsplit("-", 1)[1], "%Y%m%d").date().isoformat()


def _vehicle(plate: str, insurance_expires: str, far: str) -> fleet_pb2.VehicleInput:
    return fleet_pb2.VehicleInput(
        plate=plate,
        operator_id="TESTOP",
        rated_seats=12,
        seat_layout="2+1",
        permit_expires=far,
        inspection_expires=far,
        insurance_expires=insurance_expires,
    )


async def _settled(app: DispatchConsole, pilot, what: str, predicate) -> None:
    async def check():
        calls = [worker for worker in app.workers if worker.group == "rpc"]  # not the live feed's
        if calls:
            await app.workers.wait_for_complete(calls)
        await pilot.pause()
        return predicate()

    try:
        await wait_until_async(check, 30, what)
    except AssertionError as error:
        said = getattr(app.screen, "messages", None) or getattr(app.screen_stack[0], "messages", [])
        raise AssertionError(f"{error}; the console said {said[-3:]}") from None


async def _pick(app: DispatchConsole, pilot, wanted_id: str) -> None:
    """Choose `wanted_id` in the open Pick list with the arrow keys and Enter."""
    await _settled(app, pilot, "the list", lambda: isinstance(app.screen, Pick))
    pick: Pick = app.screen  # type: ignore[assignment]
    index = [choice for choice, _ in pick.choices].index(wanted_id)
    for _ in range(index):
        await pilot.press("down")
    await pilot.press("enter")


def test_a_dispatcher_reports_in_checks_keeps_seats_adds_a_run_delays_and_departs(keyun, tmp_path):
    # Within the hour: boarding has opened (the station's window), so the coach may leave.
    departs = dt.datetime.now(CHINA) + dt.timedelta(minutes=30)
    trip = keyun.trip(dt.timedelta(minutes=30))
    date = _date(trip)
    travel = dt.date.fromisoformat(date)
    far = (travel + dt.timedelta(days=365)).isoformat()
    expired = keyun.client.add_vehicle(_vehicle("京D10001", (travel - dt.timedelta(days=1)).isoformat(), far))
    valid = keyun.client.add_vehicle(_vehicle("京D10002", far, far))
    driver = keyun.client.add_driver(
        fleet_pb2.DriverInput(
            name="赵调度",
            licence_class="A1",
            qualification_number="QC55556666",
            qualification_expires=far,
            phone="13900001111",
        )
    )
    # The extra run leaves ten minutes after the trip, on the same day.
    extra_at = departs + dt.timedelta(minutes=10)
    if extra_at.date() != travel:
        extra_at = departs - dt.timedelta(minutes=10)
    app = DispatchConsole(keyun.target, station="AAA", date=date, print_dir=tmp_path / "sheets")

    async def morning():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"dispatcher", "enter", *DEMO_PASSWORD, "enter")
            await _settled(app, pilot, "the console", lambda: isinstance(app.screen, ConsoleScreen))
            console: ConsoleScreen = app.screen  # type: ignore[assignment]
            await _settled(app, pilot, "the day's trips", lambda: trip in console.rows)
            assert console.selected_trip_id() == trip
            assert console.rows[trip].state() == "boarding"

            # Report-in with a vehicle whose insurance ran out the day before: refused, with why.
            await pilot.press("i")
            await _pick(app, pilot, expired.vehicle_id)
            await _pick(app, pilot, driver.driver_id)
            await _settled(app, pilot, "the refusal", lambda: "refused" in console.messages[-1])
            assert "CERTIFICATE_EXPIRED 6005" in console.messages[-1], console.messages
            assert "certificate insurance" in console.messages[-1]  # the facts, as the server gave them
            assert keyun.client.trip(trip).plate == ""

            # Then with a valid one: accepted, and the plate shows in the list.
            await pilot.press("i")
            await _pick(app, pilot, valid.vehicle_id)
            await _pick(app, pilot, driver.driver_id)
            await _settled(app, pilot, "the report-in", lambda: console.rows[trip].trip.plate == "京D10002")
            assert keyun.client.trip(trip).plate == "京D10002"

            # The safety check, every item passed (Ctrl+S records it).
            await pilot.press("k")
            await _settled(app, pilot, "the safety check", lambda: isinstance(app.screen, SafetyCheck))
            await pilot.press("ctrl+s")
            await _settled(app, pilot, "the check shown", lambda: console.rows[trip].trip.safety_check == "passed")
            assert keyun.client.trip(trip).safety_check == "passed"

            # Two seats kept for passengers boarding at CCC, released 30 minutes before.
            await pilot.press("q", *"CCC 2 30", "enter")
            await _settled(app, pilot, "the quota", lambda: "CCC:2" in console.rows[trip].quotas())
            (quota,) = keyun.client.seat_plan(trip).quotas
            assert (quota.stop, len(quota.seat_numbers)) == ("CCC", 2)

            # An extra run on the trip's route: it appears in the list.
            await pilot.press("e", *f"{extra_at:%H:%M}", "enter")
            await _settled(app, pilot, "the extra run", lambda: len(console.rows) == 2)
            (extra,) = [t for t in console.rows if t != trip]
            assert keyun.client.seat_plan(extra).extra_of == trip
            assert "加班" in console.rows[extra].cells()[1]

            # Back to the trip (a click on its row), delay it 15 minutes.
            await pilot.click("#trips", offset=(3, 1 + list(console.rows).index(trip)))
            await pilot.pause()
            assert console.selected_trip_id() == trip
            await pilot.press("l", *"15", "enter")
            await _settled(app, pilot, "the delay", lambda: console.rows[trip].departure.delay_minutes == 15)
            assert "delayed +15m" in console.rows[trip].state()
            first_stop = keyun.client.trip(trip).stops[0].departs_at.ToDatetime(dt.UTC)
            assert abs(first_stop - departs.astimezone(dt.UTC) - dt.timedelta(minutes=15)) < dt.timedelta(minutes=1)
            # A change made elsewhere (another dispatcher's gate) comes in on the board's live feed.
            keyun.client.assign_gate(trip, "B2")
            await _settled(app, pilot, "the live gate", lambda: console.rows[trip].departure.gate == "B2")

            shot = Path(app.save_screenshot("dispatch-console.svg", str(tmp_path)))
            assert trip in shot.read_text(encoding="utf-8")

            # Departure asks first: Escape leaves the trip as it is, then Enter confirms.
            await pilot.press("p", "enter")  # no crew besides the driver, no note
            await _settled(app, pilot, "the question", lambda: isinstance(app.screen, Confirm))
            await pilot.press("escape")
            await _settled(app, pilot, "not departed", lambda: "not done" in console.messages[-1])
            assert keyun.client.trip(trip).status == common_pb2.TRIP_STATUS_CHECKING_IN
            await pilot.press("p", *"王五:conductor / 满员", "enter")
            await _settled(app, pilot, "the question", lambda: isinstance(app.screen, Confirm))
            await pilot.press("enter")
            await _settled(app, pilot, "the departure", lambda: "departed" in console.messages[-1])
            assert keyun.client.trip(trip).status == common_pb2.TRIP_STATUS_DEPARTED, console.messages
            assert console.rows[trip].state().startswith("departed"), console.rows[trip]

            # The trip sheet (路单) the driver carries, as a PDF.
            await pilot.press("s")
            await _settled(app, pilot, "the trip sheet", lambda: "trip sheet LD-" in console.messages[-1])
            pdf = tmp_path / "sheets" / f"trip-sheet-{trip}.pdf"
            assert pdf.read_bytes().startswith(b"%PDF") and f"LD-{trip}" in console.messages[-1]

    asyncio.run(morning())  # docs/screenshots/dispatch-console.svg is the screenshot it saves


def test_a_change_that_did_not_reach_the_server_keeps_its_request_id():
    # Nothing listens on port 9 of this machine: the call fails as unreachable, and is kept.
    desk = DispatchDesk(KeyunClient("127.0.0.1:9", deadline_s=0.5), patience_s=0)
    ids = []
    for _ in range(2):
        with pytest.raises(KeyunError) as caught:
            desk.delay("T1-20261208", 15, print)
        assert caught.value.code.name == "UNAVAILABLE"
        (pending,) = desk.pending.values()
        ids.append(pending.ids["delay"])
    assert ids[0] == ids[1] and list(desk.pending) == [("delay", "T1-20261208", 15)]


def test_a_quota_is_typed_as_stop_seats_minutes_and_shared():
    assert parse_quota("ccc 4 30 shared") == ("CCC", 4, 30, True)
    assert parse_quota("CCC 4") == ("CCC", 4, 0, False)
    with pytest.raises(ValueError):
        parse_quota("CCC four")


def test_the_crew_at_departure_is_typed_as_name_role_and_a_note():
    assert parse_crew("王芳:conductor, 李四:security / 满载准点") == (
        (("王芳", "conductor"), ("李四", "security")),
        "满载准点",
    )
    assert parse_crew("") == ((), "")
    with pytest.raises(ValueError):
        parse_crew("王芳 / late")


def test_a_dispatcher_blocks_releases_merges_marks_missed_and_cancels(keyun):
    # Three coaches tomorrow morning on one route, half an hour apart.
    now = dt.datetime.now(CHINA)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    first, second, third = (keyun.trip(tomorrow + dt.timedelta(minutes=30 * n) - now) for n in range(3))
    app = DispatchConsole(keyun.target, station="AAA", date=_date(first))

    async def choose(pilot, console: ConsoleScreen, trip_id: str) -> None:
        await pilot.click("#trips", offset=(3, 1 + list(console.rows).index(trip_id)))
        await pilot.pause()
        assert console.selected_trip_id() == trip_id

    async def day():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"dispatcher", "enter", *DEMO_PASSWORD, "enter")
            await _settled(app, pilot, "the console", lambda: isinstance(app.screen, ConsoleScreen))
            console: ConsoleScreen = app.screen  # type: ignore[assignment]
            await _settled(app, pilot, "the trips", lambda: {first, second, third} <= set(console.rows))

            # Seats 1 and 2 kept for the crew; a quota for BBB set, then released.
            await choose(pilot, console, first)
            await pilot.press("b", *"1 2 crew", "enter")
            await _settled(app, pilot, "the blocked seats", lambda: "blocked 2" in console.rows[first].quotas())
            assert sorted(s.seat_number for s in keyun.client.seat_plan(first).blocked) == ["1", "2"]
            await pilot.press("q", *"BBB 2", "enter")
            await _settled(app, pilot, "the quota", lambda: "BBB:2" in console.rows[first].quotas())
            await pilot.press("u", *"BBB", "enter")
            await _settled(app, pilot, "the release", lambda: "BBB" not in console.rows[first].quotas())
            assert not keyun.client.seat_plan(first).quotas

            # A bad answer changes nothing and says why.
            await pilot.press("l", *"soon", "enter")
            await _settled(app, pilot, "the complaint", lambda: "not a number" in console.messages[-1])

            # Merge the first into the second: picked from the route's other trips, asked first.
            await pilot.press("m")
            await _pick(app, pilot, second)
            await _settled(app, pilot, "the question", lambda: isinstance(app.screen, Confirm))
            await pilot.press("enter")
            await _settled(app, pilot, "the merge", lambda: "0 moved" in console.messages[-1])
            assert keyun.client.trip(first).status == common_pb2.TRIP_STATUS_CANCELLED

            # The second is missed, the third cancelled: each asked first.
            for trip_id, key in ((second, "x"), (third, "c")):
                await choose(pilot, console, trip_id)
                await pilot.press(key)
                await _settled(app, pilot, "the question", lambda: isinstance(app.screen, Confirm))
                await pilot.press("y")
                await _settled(app, pilot, "the change", lambda t=trip_id: console.rows[t].state() == "cancelled")
                assert keyun.client.trip(trip_id).status == common_pb2.TRIP_STATUS_CANCELLED

    asyncio.run(day())
