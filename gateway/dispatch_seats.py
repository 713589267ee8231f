"""Dispatch's seat plan over gRPC: seat quotas for stops (配载), blocked seats and extra runs (加班).

The requests become engine.seat_plan commands for the trip's owner; an extra run's trip is made
here from the spec of the trip it copies (asked of that trip's owner), with an id derived from
the request id, and scheduled at its own owner (docs/dispatch.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from keyun.engine import commands as cmd
from keyun.engine import seat_plan as sp
from keyun.engine.limits import MAX_SEATS_PER_TRIP
from keyun.engine.network import TripSpec, standard_rows
from keyun.engine.reasons import Reason, Rejected, Rejection, invalid, reject
from keyun.v1 import dispatch_pb2

from . import convert
from .errors import abort, owner_errors

if TYPE_CHECKING:
    from .services import Gateway

BLOCK_REASON = {
    dispatch_pb2.BLOCK_REASON_CREW: "crew",
    dispatch_pb2.BLOCK_REASON_BROKEN: "broken",
    dispatch_pb2.BLOCK_REASON_OTHER: "other",
    dispatch_pb2.BLOCK_REASON_UNSPECIFIED: "other",
}
BLOCK_REASON_PB = {
    "crew": dispatch_pb2.BLOCK_REASON_CREW,
    "broken": dispatch_pb2.BLOCK_REASON_BROKEN,
    "vehicle": dispatch_pb2.BLOCK_REASON_VEHICLE,  # a seat the coach lacks (gateway/vehicle_change.py)
}
# How far from the departure's date a schedule's trip is looked for, to copy its route from.
SOURCE_SEARCH_DAYS = 7
MAX_VEHICLE_NAME_CHARS = 40
DAY_MS = 24 * 3600 * 1000
MAX_EXTRA_RUN_AHEAD_MS = 60 * DAY_MS  # an extra run answers a crowd now, not next season's timetable


def set_quota(request: Any) -> sp.SetSeatQuota:
    return sp.SetSeatQuota(
        request.request_id,
        request.trip_id,
        request.stop,
        seat_count=request.seat_count,
        seat_numbers=tuple(request.seat_numbers),
        release_at_ms=convert.millis(request, "release_at") or 0,
        release_before_min=request.release_before_minutes,
        shared=request.shared,
    )


def block(request: Any) -> sp.BlockSeats:
    if request.reason not in BLOCK_REASON:
        raise invalid("reason", "not a known block reason")
    return sp.BlockSeats(request.request_id, request.trip_id, tuple(request.seat_numbers), BLOCK_REASON[request.reason])


def plan(view: sp.SeatPlanView) -> dispatch_pb2.SeatPlan:
    return dispatch_pb2.SeatPlan(
        trip=convert.trip(view.trip),
        quotas=[
            dispatch_pb2.SeatQuota(
                stop=quota.stop,
                seat_numbers=list(quota.seats),
                seats_unsold=quota.seats_unsold,
                release_at=convert.timestamp(quota.release_at_ms) if quota.release_at_ms else None,
                release_before_minutes=quota.release_before_min,
                shared=quota.shared,
                released=quota.released,
            )
            for quota in view.quotas
        ],
        blocked=[
            dispatch_pb2.BlockedSeat(
                seat_number=seat.seat, reason=BLOCK_REASON_PB.get(seat.reason, dispatch_pb2.BLOCK_REASON_OTHER)
            )
            for seat in view.blocked
        ],
        extra_of=view.extra_of,
    )


def check_extra_run(request: Any, now_ms: int) -> int:
    """The extra run's departure (epoch ms), once its request's own fields are checked."""
    cmd.check_request_id(request.request_id)
    if bool(request.trip_id) == bool(request.schedule_id):
        raise invalid("trip_id", "name the trip to copy or its schedule, one of the two")
    if request.trip_id:
        cmd.check_trip_id(request.trip_id)
    departs = convert.millis(request, "departs_at", None)
    if departs is None:
        raise Rejected(reject(Reason.MISSING_FIELD, "departs_at is required", field="departs_at"))
    if not now_ms < departs <= now_ms + MAX_EXTRA_RUN_AHEAD_MS:
        raise invalid("departs_at", f"must be after now and within {MAX_EXTRA_RUN_AHEAD_MS // DAY_MS} days")
    if not 0 <= request.seats <= MAX_SEATS_PER_TRIP:
        raise invalid("seats", f"must be 0..{MAX_SEATS_PER_TRIP}")
    if len(request.vehicle_name) > MAX_VEHICLE_NAME_CHARS:
        raise invalid("vehicle_name", f"at most {MAX_VEHICLE_NAME_CHARS} characters")
    return departs


async def source_spec(gateway: Gateway, request: Any, departs_ms: int) -> sp.TripSpecView | Rejection:
    """The spec of the trip the extra run copies: the one named, or the schedule's trip nearest the
    departure's date (within a week)."""
    if request.trip_id:
        return await gateway.pool.submit(sp.GetTripSpec(request.trip_id))  # type: ignore[no-any-return]
    offset = dt.timedelta(minutes=gateway.utc_offset_min)
    day = (dt.datetime.fromtimestamp(departs_ms / 1000, dt.UTC) + offset).date()
    for shift in sorted(range(-SOURCE_SEARCH_DAYS, SOURCE_SEARCH_DAYS + 1), key=abs):
        trip_id = f"{request.schedule_id}-{day + dt.timedelta(days=shift):%Y%m%d}"
        try:
            found = await gateway.pool.submit(sp.GetTripSpec(trip_id))
        except Rejected:
            break  # not a valid trip id: the schedule id is malformed
        if not isinstance(found, Rejection):
            return found  # type: ignore[no-any-return]
    return reject(
        Reason.NO_SOURCE_TRIP,
        f"schedule {request.schedule_id} has no trip within {SOURCE_SEARCH_DAYS} days of that date to copy",
        field="schedule_id",
    )


def extra_run(request: Any, source: TripSpec, departs_ms: int, utc_offset_min: int) -> sp.AddExtraRun:
    """The command scheduling the extra run: the source's route and fares, the new time and coach,
    and an id from the request id (a retry makes the same trip)."""
    local = dt.datetime.fromtimestamp(departs_ms / 1000, dt.UTC) + dt.timedelta(minutes=utc_offset_min)
    digest = hashlib.sha256(request.request_id.encode()).hexdigest()[:6].upper()
    spec = msgspec.structs.replace(
        source,
        trip_id=f"{source.schedule_id}-{local:%Y%m%d}-X{digest}",
        departs_at_ms=departs_ms,
        vehicle_name=request.vehicle_name or source.vehicle_name,
        rows=standard_rows(request.seats) if request.seats else source.rows,
    )
    return sp.AddExtraRun(request.request_id, spec, source.trip_id, request.gate)


async def add_extra_run(
    gateway: Gateway, context: Any, request: Any, in_scope: Callable[[str], Awaitable[bool]]
) -> sp.SeatPlanView:
    try:
        departs = check_extra_run(request, gateway.clock.now_ms())
    except Rejected as rejected:
        await abort(context, rejected.rejection)
    async with owner_errors(context):
        found = await source_spec(gateway, request, departs)
    if isinstance(found, Rejection):
        await abort(context, found)
    if request.schedule_id and not await in_scope(found.spec.trip_id):  # named by trip: the interceptor checked
        await abort(context, reject(Reason.PERMISSION_DENIED, f"schedule {request.schedule_id} is outside your scope"))
    view: sp.SeatPlanView = await gateway.ask(
        context, lambda: extra_run(request, found.spec, departs, gateway.utc_offset_min), audited=True
    )
    return view
