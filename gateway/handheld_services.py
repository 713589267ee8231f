"""The Handheld service (移动售检票): seat allotments lent to handheld devices, sold from offline
and settled (engine/handheld.py, docs/handheld.md).

The device lends to itself: the allotment belongs to the calling account, and only that account
may settle it or see it.  A settlement's walk-in passengers are checked, encrypted and masked here
as a counter sale's are (walk_in.py): plain text never reaches the trip's owner.
"""

from __future__ import annotations

import grpc

from keyun.engine import commands as cmd
from keyun.engine import handheld as hh
from keyun.engine.fares import TicketType
from keyun.engine.reasons import Rejected, at_path, element, invalid
from keyun.v1 import handheld_pb2, handheld_pb2_grpc

from . import convert, walk_in
from .auth import caller
from .errors import abort
from .services import Gateway


class HandheldService(handheld_pb2_grpc.HandheldServicer):
    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    async def LendAllotment(self, request, context):
        device = caller().account_id
        view = await self.gateway.ask(
            context,
            lambda: hh.LendAllotment(
                request.request_id,
                request.trip_id,
                request.from_station,
                request.to_station,
                device,
                tuple(request.seat_numbers),
                request.seat_count,
            ),
            audited=True,
        )
        return handheld_pb2.LendAllotmentResponse(allotment=allotment(view))

    async def SettleAllotment(self, request, context):
        device = caller().account_id
        lines = await self._lines(context, request)
        view = await self.gateway.ask(
            context,
            lambda: hh.SettleAllotment(request.request_id, request.trip_id, request.allotment_id, device, lines),
            audited=True,
            from_reply=True,  # a sale to a document that held a ticket says so in the audit record
        )
        tickets = {}
        for line in view.lines:  # the tickets as they stand now (a retry may find one refunded since)
            tickets[line.ticket_id] = await self.gateway.ask(context, lambda t=line.ticket_id: cmd.GetTicket(t))
        return handheld_pb2.SettleAllotmentResponse(
            allotment=allotment(view.allotment),
            lines=[
                handheld_pb2.SettledLine(
                    sale_id=line.sale_id,
                    ticket=self.gateway.ticket(tickets[line.ticket_id]),
                    charged_fen=line.charged_fen,
                    price_mismatch=line.charged_fen != line.price_fen,
                    already_settled=line.already,
                    document_conflict=line.document_conflict,
                    document_masked=line.document_masked,
                )
                for line in view.lines
            ],
            unused_seats=view.unused_seats,
            returned=view.returned,
            issued=sum(1 for line in view.lines if not line.already),
        )

    async def GetAllotment(self, request, context):
        device = caller().account_id
        view = await self.gateway.ask(context, lambda: hh.GetAllotment(request.trip_id, request.allotment_id, device))
        return handheld_pb2.GetAllotmentResponse(allotment=allotment(view))

    async def _lines(self, context: grpc.aio.ServicerContext, request) -> tuple[hh.SaleLine, ...]:
        """Every sale of the request with its walk-in passenger checked and sealed."""
        if len(request.sales) > hh.MAX_SALE_LINES:
            await abort(context, invalid("sales", f"at most {hh.MAX_SALE_LINES} sales per settlement").rejection)
        trip = None
        lines = []
        for index, sale in enumerate(request.sales):
            where = element("sales", index)
            try:
                sold_at = convert.millis(sale, "sold_at")
                if not sale.HasField("passenger"):
                    raise invalid(f"{where}.passenger", "name the walk-in passenger (实名制)")
                walk_ins = walk_in.parse([sale.passenger])
                if walk_ins[0].ticket_type == TicketType.FREE_CHILD.value:
                    raise invalid(f"{where}.passenger.ticket_type", "a sale from an allotment is a seat")
            except Rejected as rejected:
                await abort(context, at_path(rejected.rejection, rejected.rejection.fact("field") or where))
            if walk_in.needs_travel_date(walk_ins):
                if trip is None:
                    trip = await self.gateway.ask(context, lambda: cmd.GetTrip(request.trip_id))
                date = walk_in.travel_date(trip.stops, sale.from_station, self.gateway.utc_offset_min)
                if date is not None:
                    try:
                        walk_in.check_ages(walk_ins, date)
                    except Rejected as rejected:
                        await abort(context, rejected.rejection)
            try:
                issuer = self.gateway.issuer
                sealed = walk_in.seal(self.gateway.keys, walk_ins, issuer.document_digest if issuer else None)
            except Rejected as rejected:
                await abort(context, rejected.rejection)
            lines.append(
                hh.SaleLine(
                    sale.sale_id,
                    sale.seat_number,
                    sale.from_station,
                    sale.to_station,
                    sale.charged_fen,
                    sold_at or 0,
                    sealed.holders[0],
                    sealed.tickets[0],
                )
            )
        return tuple(lines)


def allotment(view: hh.AllotmentView) -> handheld_pb2.Allotment:
    rules = view.fare_rules
    return handheld_pb2.Allotment(
        allotment_id=view.allotment_id,
        trip_id=view.trip_id,
        device=view.device,
        from_station=view.from_station,
        to_station=view.to_station,
        stations=view.stations,
        seat_numbers=view.seats,
        fares=[
            handheld_pb2.SegmentFare(from_station=f.from_station, to_station=f.to_station, full_fen=f.full_fen)
            for f in view.fares
        ],
        fare_rules=handheld_pb2.FareRules(
            child_percent=rules.child_percent,
            concession_percent=rules.concession_percent,
            student_percent=rules.student_percent,
            service_fee_fen=rules.service_fee_fen,
            fuel_surcharge_fen=rules.fuel_surcharge_fen,
            insurance_fen=rules.insurance_fen,
            round_to_fen=rules.round_to_fen,
            rounding=rules.rounding,
            minimum_fare_fen=rules.minimum_fare_fen,
            one_ticket_per_document=rules.one_ticket_per_document,
        ),
        lent_at=convert.timestamp(view.lent_at_ms),
        settled_at=convert.timestamp(view.settled_at_ms),
        sales=[
            handheld_pb2.SettledSale(
                sale_id=s.sale_id,
                ticket_id=s.ticket_id,
                charged_fen=s.charged_fen,
                sold_at=convert.timestamp(s.sold_at_ms),
            )
            for s in view.sales
        ],
        small_vehicle=view.rated_seats <= rules.small_vehicle_seats,
    )
