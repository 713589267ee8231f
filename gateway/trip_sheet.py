"""Departure and the trip sheet (路单) for the Dispatch servicer (docs/dispatch.md "The trip sheet").

The sheet's numbers come from the trip's manifest (engine/trip_sheet.py), so its totals are the
manifest's; the driver's masked name comes from the accounts owner, which keeps drivers.
"""

from __future__ import annotations

from typing import Any

import grpc

from keyun.engine import commands as cmd
from keyun.engine import fleet as fl
from keyun.engine.reasons import Reason, reject
from keyun.engine.state import TicketStatus
from keyun.engine.trip_sheet import SheetCounts, TripSheet, staff_on_board, trip_sheet
from keyun.engine.views import ManifestView
from keyun.v1 import dispatch_pb2

from . import convert
from .errors import abort


def depart_command(request: dispatch_pb2.DepartTripRequest) -> cmd.DepartTrip:
    """DepartTrip as asked, the crew's names masked before the command is made (and logged)."""
    staff = staff_on_board([(person.name, person.role) for person in request.staff])
    return cmd.DepartTrip(request.request_id, request.trip_id, staff, request.note)


async def get_trip_sheet(gateway: Any, desk: Any, context: grpc.aio.ServicerContext, trip_id: str):
    manifest: ManifestView = await gateway.ask(context, lambda: cmd.GetManifest(trip_id))
    if not manifest.departed_at_ms:
        await abort(
            context,
            reject(
                Reason.TRIP_NOT_DEPARTED,
                f"trip {trip_id} has not departed: its trip sheet is made at departure (Dispatch/DepartTrip)",
                trip_id=trip_id,
            ),
        )
    driver_name = await _driver_name(desk, context, manifest.trip.driver_id)
    return dispatch_pb2.GetTripSheetResponse(sheet=sheet_message(trip_sheet(manifest), driver_name, manifest))


async def _driver_name(desk: Any, context: grpc.aio.ServicerContext, driver_id: str) -> str:
    if not driver_id or desk is None:
        return ""
    view = await desk.ask(context, fl.GetDriver(driver_id))
    return str(view.driver.fields.name_masked)


def counts_message(counts: SheetCounts) -> dispatch_pb2.TripSheetCounts:
    return dispatch_pb2.TripSheetCounts(
        tickets_sold=counts.tickets_sold,
        checked_in=counts.checked_in,
        no_shows=counts.no_shows,
        free_children=counts.free_children,
        base_fen=counts.base_fen,
        service_fee_fen=counts.service_fee_fen,
        fuel_surcharge_fen=counts.fuel_surcharge_fen,
        insurance_fen=counts.insurance_fen,
        total_fen=counts.total_fen,
        refunded=counts.refunded,
        changed=counts.changed,
        void=counts.void,
    )


def sheet_message(sheet: TripSheet, driver_name: str, manifest: ManifestView) -> dispatch_pb2.TripSheet:
    trip = sheet.trip
    return dispatch_pb2.TripSheet(
        sheet_number=sheet.sheet_number,
        trip=convert.trip(trip),
        departed_at=convert.timestamp(sheet.departed_at_ms),
        plate=trip.plate,
        vehicle_id=trip.vehicle_id,
        driver_id=trip.driver_id,
        driver_masked_name=driver_name,
        staff=[dispatch_pb2.StaffOnBoard(name=person.name, role=person.role) for person in sheet.staff],
        note=sheet.note,
        segments=[
            dispatch_pb2.TripSheetSegment(
                from_stop=convert.stop(s.from_stop), to_stop=convert.stop(s.to_stop), counts=counts_message(s.counts)
            )
            for s in sheet.segments
        ],
        boardings=[
            dispatch_pb2.TripSheetBoarding(
                stop=convert.stop(b.stop),
                passengers=b.passengers,
                checked_in=b.checked_in,
                free_children=b.free_children,
            )
            for b in sheet.boardings
        ],
        totals=counts_message(sheet.totals),
        # The manifest's own counts (Gate/GetManifest counts them so), beside the sheet's totals.
        tickets_issued=len(manifest.tickets),
        tickets_checked_in=manifest.count(TicketStatus.CHECKED_IN),
        tickets_refunded=manifest.count(TicketStatus.REFUNDED),
    )
