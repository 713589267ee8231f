"""换车 (Dispatch/ChangeVehicle): another coach runs a trip (docs/dispatch.md "Vehicle change").

The coach has the first `seat_count` seats of the trip's seat layout.  The trip's owner plans the
change (PlanVehicleChange: which tickets move to which free seat, which have none), and the
gateway sends that plan back with the change (ChangeVehicle), which the owner makes only if it is
still what it would decide: one event, journaled, replayed on restart.  Tickets with no seat:

- no choice: the change is refused with their list (VEHICLE_TOO_SMALL), nothing changed;
- refund: refunded in full in the same owner decision (orders' money is then paid back the way
  it came, as any order refund's);
- move: each moves to `into_trip_id` by the merge's saga steps (gateway/merge_runs.py) first; the
  change is then planned again, and refused, listing them, if some could not move.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from keyun.engine import commands as cmd
from keyun.engine.reasons import Reason, Rejected, Rejection, invalid, reject
from keyun.engine.seat_plan import ChangeVehicle, PlanVehicleChange, VehicleChangeView
from keyun.engine.views import TicketView
from keyun.v1 import dispatch_pb2

from . import convert
from .errors import abort, owner_errors
from .merge_runs import MergeResult, TripMerge, merge_refusal
from .owners import OwnerFailed, OwnerUnavailable

log = logging.getLogger("keyun.gateway")

# How many times a change is planned again when a sale comes between its plan and the change.
PLAN_ATTEMPTS = 3
CHOICES = (dispatch_pb2.UNFIT_CHOICE_UNSPECIFIED, dispatch_pb2.UNFIT_CHOICE_REFUND, dispatch_pb2.UNFIT_CHOICE_MOVE)


def _check(request: Any) -> None:
    cmd.check_request_id(request.request_id)
    if request.choice not in CHOICES:
        raise invalid("choice", "must be UNFIT_CHOICE_REFUND, UNFIT_CHOICE_MOVE or none")
    moving = request.choice == dispatch_pb2.UNFIT_CHOICE_MOVE
    if moving and not request.into_trip_id:
        raise Rejected(
            reject(Reason.MISSING_FIELD, "into_trip_id: name the trip to move them to", field="into_trip_id")
        )
    if request.into_trip_id and not moving:
        raise invalid("into_trip_id", "only with choice UNFIT_CHOICE_MOVE")


def _too_small(unfit: tuple[TicketView, ...], seat_count: int) -> Rejection:
    listed = ", ".join(f"{t.ticket_id} (seat {t.seat_label}, {t.from_stop.code}→{t.to_stop.code})" for t in unfit)
    return reject(
        Reason.VEHICLE_TOO_SMALL,
        f"{len(unfit)} tickets have no seat in a coach of {seat_count}: {listed}; "
        "choose to refund them in full or to move them to another trip",
        field="choice",
        unfit=",".join(t.ticket_id for t in unfit),
    )


async def change_vehicle(gateway: Any, context: grpc.aio.ServicerContext, request: Any) -> Any:
    try:
        _check(request)
    except Rejected as rejected:
        await abort(context, rejected.rejection)
    plan = await _plan(gateway, context, request)
    moved = MergeResult()
    if plan.unfit and request.choice == dispatch_pb2.UNFIT_CHOICE_MOVE:
        await _move_unfit(gateway, context, request, plan, moved)
        plan = await _plan(gateway, context, request)
    made = await _change(gateway, context, request, plan)
    await _pay_back_orders(gateway, context, made)
    await _tell(gateway, made, request.request_id)
    return dispatch_pb2.ChangeVehicleResponse(
        trip=convert.trip(made.trip),
        seat_count=made.seat_count,
        reseated=[
            dispatch_pb2.ReseatedTicket(
                ticket_id=r.ticket_id,
                old_seat=r.old_seat,
                new_seat=r.new_seat,
                from_station=r.from_station,
                to_station=r.to_station,
            )
            for r in made.reseated
        ],
        refunded=[
            dispatch_pb2.RefundedTicket(
                ticket_id=t.ticket_id,
                seat=t.seat_label,
                refund_fen=t.refunded_fen,
                order_id=t.order_id,
                from_station=t.from_stop.code,
                to_station=t.to_stop.code,
            )
            for t in made.unfit
        ],
        moved=moved.moved,
    )


async def _plan(gateway: Any, context: grpc.aio.ServicerContext, request: Any) -> VehicleChangeView:
    plan: VehicleChangeView = await gateway.ask(context, lambda: PlanVehicleChange(request.trip_id, request.seat_count))
    return plan


async def _change(
    gateway: Any, context: grpc.aio.ServicerContext, request: Any, plan: VehicleChangeView
) -> VehicleChangeView:
    """Make the change as planned; plan again if a sale or refund came between."""
    for _ in range(PLAN_ATTEMPTS):
        if plan.unfit and request.choice != dispatch_pb2.UNFIT_CHOICE_REFUND:
            await abort(context, _too_small(plan.unfit, request.seat_count))
        refund = tuple(t.ticket_id for t in plan.unfit)

        def build(plan: VehicleChangeView = plan, refund: tuple[str, ...] = refund) -> ChangeVehicle:
            return ChangeVehicle(
                request.request_id, request.trip_id, request.seat_count, request.vehicle_name, plan.moves, refund
            )

        reply = await gateway._ask_once(context, build, False, True, False)
        if not (isinstance(reply, Rejection) and reply.reason is Reason.VEHICLE_PLAN_CHANGED):
            break
        plan = await _plan(gateway, context, request)
    if isinstance(reply, Rejection):
        await abort(context, reply)
    made: VehicleChangeView = reply
    return made


async def _move_unfit(
    gateway: Any, context: grpc.aio.ServicerContext, request: Any, plan: VehicleChangeView, result: MergeResult
) -> None:
    """Move the tickets with no seat to `into_trip_id`, each by the merge's saga."""
    into = await gateway.ask(context, lambda: cmd.GetTrip(request.into_trip_id))
    refusal = merge_refusal(plan.trip, into)
    if refusal is not None:
        await abort(context, refusal)
    merge = TripMerge(gateway, context, request)
    async with owner_errors(context):
        for ticket in plan.unfit:
            await merge._move(ticket, into, result)
    for new in result.new_tickets:
        await merge._tell(plan.trip, new)


async def _pay_back_orders(gateway: Any, context: grpc.aio.ServicerContext, made: VehicleChangeView) -> None:
    """Refunds of tickets paid through an order go back the way the money came."""
    settle = getattr(gateway, "settle_order", None)
    for order_id in sorted({t.order_id for t in made.unfit if t.order_id}):
        order = await gateway.ask(context, lambda order_id=order_id: cmd.GetOrder(order_id))
        if settle is not None:
            await settle(context, order)


async def _tell(gateway: Any, made: VehicleChangeView, request_id: str) -> None:
    """Journal a notice to each reseated or refunded ticket's holder; the change stands if one
    cannot be recorded (a retry of the same request records it: its id comes from the request id)."""
    notices = gateway.notices
    if notices is None or not (made.reseated or made.unfit):
        return
    try:
        if made.reseated:
            manifest = await gateway.pool.submit(cmd.GetManifest(made.trip.trip_id))
            now = {t.ticket_id: t for t in manifest.tickets} if not isinstance(manifest, Rejection) else {}
            for reseat in made.reseated:
                if reseat.ticket_id in now:
                    await notices.ticket_reseated(now[reseat.ticket_id], reseat.old_seat, request_id)
        for ticket in made.unfit:
            await notices.ticket_unseated(ticket, request_id)
    except (OwnerUnavailable, OwnerFailed) as error:
        log.error("notices of vehicle change on %s not all recorded: %s", made.trip.trip_id, error)
