"""The Fleet servicer: vehicles, drivers, report-in (报班) and the safety check (安检), docs/dispatch.md.

Vehicles, drivers and assignments are the accounts owner's (engine/fleet.py says why); a driver's
name, qualification certificate number and phone are encrypted here with the station's field
keys before they leave the gateway, and replies carry only their masked forms.

Report-in reads the trip from its owner (its travel date, the time from its first stop to its last,
and the seats in use), has the accounts owner decide it (certificates, rated seats, overlaps with
every other assignment), then records the crew on the trip, so views, manifests and the board show
the plate.  A retry with the same request id is answered from each owner's idempotency window, so
a call cut off between the two steps completes when it is sent again.
"""

from __future__ import annotations

import hashlib
import re

from keyun.engine import commands as cmd
from keyun.engine import crew as cr
from keyun.engine import fleet as fl
from keyun.engine import identity
from keyun.engine.decide import TripStatus
from keyun.engine.reasons import Reason, Rejected, invalid, reject
from keyun.v1 import fleet_pb2, fleet_pb2_grpc

from . import convert, walk_in
from .account_services import AccountDesk, _page, _token
from .auth import caller
from .errors import abort, note_audit
from .services import Gateway

# Ciphers of drivers' data are bound to their field: moved to another field, they do not decrypt.
NAME_CONTEXT, QUALIFICATION_CONTEXT, PHONE_CONTEXT = "driver.name", "driver.qualification", "driver.phone"
QUALIFICATION_NUMBER = re.compile(r"[A-Za-z0-9]{6,32}")


def vehicle_message(vehicle: fl.Vehicle) -> fleet_pb2.Vehicle:
    f = vehicle.fields
    return fleet_pb2.Vehicle(
        vehicle_id=vehicle.vehicle_id,
        details=fleet_pb2.VehicleInput(
            plate=f.plate,
            operator_id=f.operator_id,
            rated_seats=f.rated_seats,
            seat_layout=f.seat_layout,
            permit_expires=f.permit_expires,
            inspection_expires=f.inspection_expires,
            insurance_expires=f.insurance_expires,
        ),
        added_at=convert.timestamp(vehicle.added_at_ms),
        retired_at=convert.timestamp(vehicle.retired_at_ms),
    )


def driver_message(driver: fl.Driver) -> fleet_pb2.Driver:
    """Masked forms only: the ciphers never leave the gateway, and no reply decrypts them."""
    f = driver.fields
    return fleet_pb2.Driver(
        driver_id=driver.driver_id,
        masked_name=f.name_masked,
        licence_class=f.licence_class,
        masked_qualification_number=f.qualification_masked,
        qualification_expires=f.qualification_expires,
        masked_phone=f.phone_masked,
        added_at=convert.timestamp(driver.added_at_ms),
        retired_at=convert.timestamp(driver.retired_at_ms),
    )


def vehicle_fields(message: fleet_pb2.VehicleInput) -> fl.VehicleFields:
    return fl.VehicleFields(
        message.plate.strip().upper(),  # 京a12345 is 京A12345: a province's character has no case
        message.operator_id,
        message.rated_seats,
        message.seat_layout,
        message.permit_expires,
        message.inspection_expires,
        message.insurance_expires,
    )


def driver_fields(keys, message: fleet_pb2.DriverInput) -> fl.DriverFields:
    """Checked, then encrypted and masked: the engine never sees a driver's data in the clear."""
    if not message.name.strip():
        raise Rejected(reject(Reason.MISSING_FIELD, "name: the driver's name", field="name"))
    name = identity.check_person_name(message.name)
    number = message.qualification_number.strip().upper()
    if not number:
        raise Rejected(
            reject(Reason.MISSING_FIELD, "qualification_number: the 从业资格证 number", field="qualification_number")
        )
    if not QUALIFICATION_NUMBER.fullmatch(number):
        raise invalid("qualification_number", "6 to 32 letters and digits")
    phone = identity.normalize_phone(message.phone) if message.phone.strip() else ""
    return fl.DriverFields(
        keys.encrypt(name, NAME_CONTEXT),
        identity.mask_name(name),
        message.licence_class.strip().upper(),
        keys.encrypt(number, QUALIFICATION_CONTEXT),
        identity.mask_document(number),
        message.qualification_expires,
        keys.encrypt(phone, PHONE_CONTEXT) if phone else b"",
        identity.mask_phone(phone) if phone else "",
    )


def _required(message, field_name: str) -> None:
    if not message.HasField(field_name):
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name}: required", field=field_name))


class FleetService(fleet_pb2_grpc.FleetServicer):
    def __init__(self, gateway: Gateway, desk: AccountDesk):
        self.gateway = gateway
        self.desk = desk

    @property
    def keys(self):
        return self.desk.secrets.keyring

    # -- vehicles --------------------------------------------------------------------------

    async def AddVehicle(self, request, context):
        def build() -> fl.AddVehicle:
            _required(request, "vehicle")
            return fl.AddVehicle(request.request_id, vehicle_fields(request.vehicle))

        command = await self.desk.build(context, build)
        note_audit(detail=f"plate {command.fields.plate}")
        view = await self.desk.ask(context, command, audited=True, from_reply=True)  # the record names the new id
        return fleet_pb2.AddVehicleResponse(vehicle=vehicle_message(view.vehicle))

    async def UpdateVehicle(self, request, context):
        def build() -> fl.UpdateVehicle:
            _required(request, "vehicle")
            return fl.UpdateVehicle(request.request_id, request.vehicle_id, vehicle_fields(request.vehicle))

        command = await self.desk.build(context, build)
        note_audit(target=command.vehicle_id)
        view = await self.desk.ask(context, command, audited=True)
        return fleet_pb2.UpdateVehicleResponse(vehicle=vehicle_message(view.vehicle))

    async def RetireVehicle(self, request, context):
        command = await self.desk.build(context, lambda: fl.RetireVehicle(request.request_id, request.vehicle_id))
        note_audit(target=command.vehicle_id)
        view = await self.desk.ask(context, command, audited=True)
        return fleet_pb2.RetireVehicleResponse(vehicle=vehicle_message(view.vehicle))

    async def GetVehicle(self, request, context):
        query = await self.desk.build(context, lambda: fl.GetVehicle(request.vehicle_id))
        view = await self.desk.ask(context, query)
        return fleet_pb2.GetVehicleResponse(vehicle=vehicle_message(view.vehicle))

    async def ListVehicles(self, request, context):
        def build() -> fl.ListVehicles:
            offset, size = _page(request)
            return fl.ListVehicles(offset, min(size, fl.MAX_PAGE), request.include_retired)

        query = await self.desk.build(context, build)
        page = await self.desk.ask(context, query)
        return fleet_pb2.ListVehiclesResponse(
            vehicles=[vehicle_message(v) for v in page.vehicles], next_page_token=_token(page.next_offset)
        )

    # -- drivers ---------------------------------------------------------------------------

    async def AddDriver(self, request, context):
        def build() -> fl.AddDriver:
            _required(request, "driver")
            return fl.AddDriver(request.request_id, driver_fields(self.keys, request.driver))

        command = await self.desk.build(context, build)
        view = await self.desk.ask(context, command, audited=True, from_reply=True)  # the record names the new id
        return fleet_pb2.AddDriverResponse(driver=driver_message(view.driver))

    async def UpdateDriver(self, request, context):
        def build() -> fl.UpdateDriver:
            _required(request, "driver")
            return fl.UpdateDriver(request.request_id, request.driver_id, driver_fields(self.keys, request.driver))

        command = await self.desk.build(context, build)
        note_audit(target=command.driver_id)
        view = await self.desk.ask(context, command, audited=True)
        return fleet_pb2.UpdateDriverResponse(driver=driver_message(view.driver))

    async def RetireDriver(self, request, context):
        command = await self.desk.build(context, lambda: fl.RetireDriver(request.request_id, request.driver_id))
        note_audit(target=command.driver_id)
        view = await self.desk.ask(context, command, audited=True)
        return fleet_pb2.RetireDriverResponse(driver=driver_message(view.driver))

    async def GetDriver(self, request, context):
        query = await self.desk.build(context, lambda: fl.GetDriver(request.driver_id))
        view = await self.desk.ask(context, query)
        return fleet_pb2.GetDriverResponse(driver=driver_message(view.driver))

    async def ListDrivers(self, request, context):
        def build() -> fl.ListDrivers:
            offset, size = _page(request)
            return fl.ListDrivers(offset, min(size, fl.MAX_PAGE), request.include_retired)

        query = await self.desk.build(context, build)
        page = await self.desk.ask(context, query)
        return fleet_pb2.ListDriversResponse(
            drivers=[driver_message(d) for d in page.drivers], next_page_token=_token(page.next_offset)
        )

    # -- before departure -------------------------------------------------------------------

    async def ReportIn(self, request, context):
        principal = caller()

        def check_ids() -> None:
            cmd.check_request_id(request.request_id)
            fl.check_vehicle_id(request.vehicle_id)
            fl.check_driver_id(request.driver_id)

        await self.desk.build(context, check_ids)
        trip = await self.gateway.ask(context, lambda: cmd.GetTrip(request.trip_id))
        # Refused before the accounts owner records anything: an assignment to a trip that will
        # not run would keep its coach and driver from others for nothing.
        if trip.status is TripStatus.CANCELLED:
            await abort(context, reject(Reason.TRIP_CANCELLED, f"trip {trip.trip_id} is cancelled"))
        if trip.status is TripStatus.DEPARTED:
            await abort(context, reject(Reason.TRIP_DEPARTED, f"trip {trip.trip_id} has left"))
        first, last = trip.stops[0], trip.stops[-1]
        seat_map = await self.gateway.ask(context, lambda: cmd.GetSeatMap(trip.trip_id, first.code, last.code))
        travel_date = walk_in.travel_date(trip.stops, first.code, self.gateway.utc_offset_min)
        assert travel_date is not None  # the trip's own first stop
        command = await self.desk.build(
            context,
            lambda: fl.AssignCrew(
                request.request_id,
                trip.trip_id,
                request.vehicle_id,
                request.driver_id,
                travel_date.isoformat(),
                first.departs_at_ms,
                last.departs_at_ms,  # the last stop's time is when the coach arrives there
                trip.seats_total - seat_map.seats_free,
                principal.account_id,
            ),
        )
        await self._free_cancelled(context, command)
        note_audit(target=trip.trip_id, detail=f"vehicle {request.vehicle_id} driver {request.driver_id}")
        assigned = (await self.desk.ask(context, command, audited=True)).assignment
        view = await self.gateway.ask(
            context,
            lambda: cr.RecordCrew(
                request.request_id, trip.trip_id, assigned.vehicle_id, assigned.plate, assigned.driver_id
            ),
        )
        return fleet_pb2.ReportInResponse(
            trip=convert.trip(view),
            vehicle_id=assigned.vehicle_id,
            plate=assigned.plate,
            driver_id=assigned.driver_id,
            travel_date=assigned.travel_date,
        )

    async def _free_cancelled(self, context, command: fl.AssignCrew) -> None:
        """Trips cancelled since their report-in keep their coach and driver from no one: the
        assignments in the way of this one whose trips are cancelled are released first."""
        overlapping = await self.desk.ask(
            context,
            fl.OverlappingTrips(
                command.trip_id, command.vehicle_id, command.driver_id, command.starts_ms, command.ends_ms
            ),
        )
        for trip_id in overlapping.trip_ids:
            other = await self.gateway.ask(context, lambda trip_id=trip_id: cmd.GetTrip(trip_id))
            if other.status is TripStatus.CANCELLED:
                # Its own request id, the same on a retry of this report-in.
                digest = hashlib.sha256(f"{command.request_id}\x1f{trip_id}".encode()).hexdigest()[:32]
                await self.desk.ask(context, fl.ReleaseCrew(f"free:{digest}", trip_id), audited=False)

    async def RecordSafetyCheck(self, request, context):
        principal = caller()
        items = tuple(cr.CheckItem(item.name, item.passed, item.note) for item in request.items)
        note_audit(detail="passed" if request.passed else "failed")
        view = await self.gateway.ask(
            context,
            lambda: cr.RecordSafetyCheck(
                request.request_id, request.trip_id, request.passed, items, principal.account_id, request.note
            ),
            audited=True,
        )
        return fleet_pb2.RecordSafetyCheckResponse(trip=convert.trip(view))
