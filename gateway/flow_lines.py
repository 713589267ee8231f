"""Departure-when-full lines (流水班) at the gateway: docs/dispatch.md "Departure-when-full lines".

A flow line's coaches are ordinary trips, SCHEDULE-YYYYMMDD-F01, -F02, ... (engine/network.py
flow_coach_id), each sold, boarded and departed by its own owner like any trip.  What makes them
one line lives here, and is worked out from the coaches themselves: nothing new is kept, so a
restart loses nothing (the open coach is the lowest-numbered one still loading with room).

- A sale on a coach that is full or has left moves on to the next coach, opening it (ScheduleTrip
  with the same spec under the next number) if it is not there yet.  Every seat stays its coach
  owner's to give, so nothing sells twice however many sales roll over at once; opening a coach
  twice is the same ScheduleTrip twice (same request id, same spec), which changes nothing.
- A coach that fills, or that dispatch departs, opens the next one.
- Search shows a line's day as one offer: its open coach.
- A ticket of a coach that left without its passenger (a no-show) boards the open coach: check-in
  moves it there with the merge's station move (gateway/merge_runs.py), then checks the new ticket in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import msgspec

from keyun.engine import commands as cmd
from keyun.engine import seat_plan as sp
from keyun.engine.decide import TripStatus
from keyun.engine.limits import MAX_REQUEST_ID_CHARS
from keyun.engine.network import MAX_FLOW_COACHES, flow_coach, flow_coach_id_of
from keyun.engine.reasons import Reason, Rejection, reject
from keyun.engine.views import OfferView, TicketView, TripView

from .errors import abort, owner_errors
from .merge_runs import MergeResult, TripMerge

log = logging.getLogger("keyun.gateway")

if TYPE_CHECKING:
    import grpc

    from .services import Gateway

# Refusals of a sale that send it on to the next coach (when the coach is full or has left).
ROLL_ON = frozenset({Reason.NOT_ENOUGH_SEATS, Reason.SALES_CLOSED, Reason.TRIP_DEPARTED})
GONE = (TripStatus.DEPARTED, TripStatus.CANCELLED)
MOVED = "flow"  # why a no-show's ticket was moved, journaled with its TicketChanged event
MAX_DUE_PER_SWEEP = 100  # coaches one owner reports per sweep; the rest wait for the next
FLOW_SWEEP_S = 5.0  # how often the gateway departs coaches past their maximum wait


def is_coach(trip_id: str) -> bool:
    return flow_coach(trip_id) is not None


def ticket_trip(ticket_id: str) -> str:
    return ticket_id.rpartition("-")[0]


async def _reply(gateway: Gateway, context: grpc.aio.ServicerContext, build: Callable[[], Any], audited: bool) -> Any:
    """The owner's reply, a refusal included (Gateway.ask aborts the call on one)."""
    return await gateway._ask_once(context, build, False, audited, False)  # noqa: SLF001  one owner call, no abort


async def sell(
    gateway: Gateway,
    context: grpc.aio.ServicerContext,
    trip_id: str,
    request_id: str,
    seat_count: int,
    build: Callable[[str, str], Any],
) -> Any:
    """A sale (or hold) on a flow coach: on the coach named, else on the next with room.
    `build(trip_id, request_id)` makes the command; each coach tried gets its own request id,
    derived from the client's, so a retry replays the same coaches' answers in turn."""
    attempt_id = request_id
    while True:
        reply = await _attempt(gateway, context, build, trip_id, attempt_id)
        if not isinstance(reply, Rejection):
            await _open_next_if_full(gateway, context, trip_id)
            return reply
        if reply.reason not in ROLL_ON or not await _rolls_on(gateway, context, trip_id, reply, seat_count):
            await abort(context, reply)
        trip_id = await open_next(gateway, context, trip_id)
        attempt_id = coach_request_id(request_id, flow_number(trip_id))


def coach_request_id(request_id: str, number: int) -> str:
    """The request id of a sale's attempt on coach `number`: the client's with `.Fnn`, its end
    replaced by a digest of it when that would be too long (so two long ids stay apart)."""
    suffix = f".F{number:02d}"
    if len(request_id) + len(suffix) <= MAX_REQUEST_ID_CHARS:
        return request_id + suffix
    digest = hashlib.sha256(request_id.encode()).hexdigest()[:12]
    return f"{request_id[: MAX_REQUEST_ID_CHARS - len(suffix) - 13]}.{digest}{suffix}"


async def _attempt(
    gateway: Gateway, context: grpc.aio.ServicerContext, build: Callable[[str, str], Any], trip_id: str, request_id: str
) -> Any:
    return await _reply(gateway, context, lambda: build(trip_id, request_id), audited=True)


def flow_number(trip_id: str) -> int:
    coach = flow_coach(trip_id)
    assert coach is not None, trip_id
    return coach[1]


async def _rolls_on(
    gateway: Gateway, context: grpc.aio.ServicerContext, trip_id: str, refusal: Rejection, seat_count: int
) -> bool:
    """Whether a refused sale goes on to the next coach: this one is full (and the party would fit
    an empty coach) or dispatch departed it while the line still runs; never past the last coach."""
    if flow_number(trip_id) >= MAX_FLOW_COACHES:
        return False
    trip: TripView = await gateway.ask(context, lambda: cmd.GetTrip(trip_id))
    if refusal.reason is Reason.NOT_ENOUGH_SEATS:
        return trip.status not in GONE and seat_count <= trip.seats_total
    # Closed: only a coach dispatch departed, and only while the line still loads (its coaches'
    # departs_at is the line's last time; a line closed by the clock opens nothing more).
    return trip.status is TripStatus.DEPARTED and gateway.clock.now_ms() < trip.stops[0].departs_at_ms


async def open_next(gateway: Gateway, context: grpc.aio.ServicerContext, trip_id: str) -> str:
    """Open the coach after `trip_id` (if it is not open already); return its trip id."""
    async with owner_errors(context):
        opened = await _open_after(gateway, trip_id)
    if isinstance(opened, Rejection):
        await abort(context, opened)
    return opened


async def _open_after(gateway: Gateway, trip_id: str) -> str | Rejection:
    """The coach after `trip_id`, scheduled with its spec under the next number (nothing changes
    if it is there already: the same ScheduleTrip, or TRIP_CONFLICT for a coach changed since)."""
    number = flow_number(trip_id) + 1
    if number > MAX_FLOW_COACHES:
        return reject(Reason.FLOW_LINE_FULL, f"the line runs at most {MAX_FLOW_COACHES} coaches a day")
    found = await gateway.pool.submit(sp.GetTripSpec(trip_id))
    if isinstance(found, Rejection):
        return found
    new_id = flow_coach_id_of(trip_id, number)
    spec = msgspec.structs.replace(found.spec, trip_id=new_id)
    opened = await gateway.pool.submit(cmd.ScheduleTrip(f"flow-open.{new_id}", spec))
    if isinstance(opened, Rejection) and opened.reason is not Reason.TRIP_CONFLICT:
        return opened
    return new_id


async def _open_next_if_full(gateway: Gateway, context: grpc.aio.ServicerContext, trip_id: str) -> None:
    """A coach that has just filled (no seat free for its whole route) opens the next one, so that
    search shows a coach with room while this one waits to leave."""
    if flow_number(trip_id) >= MAX_FLOW_COACHES:
        return
    trip: TripView = await gateway.ask(context, lambda: cmd.GetTrip(trip_id))
    seats = await gateway.ask(context, lambda: cmd.GetSeatMap(trip_id, trip.stops[0].code, trip.stops[-1].code))
    if seats.seats_free == 0:
        await open_next(gateway, context, trip_id)


async def departed(gateway: Gateway, context: grpc.aio.ServicerContext, trip: TripView) -> None:
    """A coach dispatch departed opens the next, while the line still loads."""
    if is_coach(trip.trip_id) and flow_number(trip.trip_id) < MAX_FLOW_COACHES:
        if gateway.clock.now_ms() < trip.stops[0].departs_at_ms:
            await open_next(gateway, context, trip.trip_id)


async def depart_due(gateway: Gateway) -> list[str]:
    """The flow sweep: depart every coach loading longer than its maximum wait since its first sale,
    and open the next; the departed coaches' ids.  Each departure's request id derives from the
    coach, so a sweep cut off and run again departs nothing twice."""
    replies = await gateway.pool.ask_all(cmd.ListFlowCoachesDue(MAX_DUE_PER_SWEEP))
    departed = []
    for reply in replies:
        if isinstance(reply, Rejection):
            continue
        for trip_id in reply.trip_ids:
            done = await gateway.pool.submit(cmd.DepartTrip(f"flow-wait.{trip_id}", trip_id))
            if isinstance(done, Rejection):
                log.warning("flow sweep: coach %s did not depart: %s", trip_id, done.message)
                continue
            departed.append(trip_id)
            if gateway.clock.now_ms() < done.stops[0].departs_at_ms:
                opened = await _open_after(gateway, trip_id)
                if isinstance(opened, Rejection):
                    log.warning("flow sweep: no coach after %s: %s", trip_id, opened.message)
    return departed


def one_offer_per_line(offers: Iterable[OfferView]) -> list[OfferView]:
    """A line's coaches as one offer: the lowest-numbered coach still loading with room, else its
    newest coach.  Other trips pass as they are."""
    kept: list[OfferView] = []
    best: dict[str, tuple[tuple[bool, int], OfferView]] = {}
    for offer in offers:
        coach = flow_coach(offer.trip.trip_id)
        if coach is None:
            kept.append(offer)
            continue
        line, number = coach
        room = offer.seats_free > 0 and offer.status not in GONE
        rank = (not room, number if room else -number)
        if line not in best or rank < best[line][0]:
            best[line] = (rank, offer)
    return kept + [offer for _, offer in best.values()]


async def board_no_show(gateway: Gateway, context: grpc.aio.ServicerContext, ticket_id: str) -> str:
    """Move a ticket of a departed flow coach onto the line's open coach (the station's move, at no
    charge, as a merge moves a ticket); return the new ticket's id.  The move's ids derive from the
    ticket and the coach, so two gates scanning the same ticket make one move."""
    trip_id = ticket_trip(ticket_id)
    ticket: TicketView = await gateway.ask(context, lambda: cmd.GetTicket(ticket_id))
    target = trip_id
    refusal: Rejection | None = None
    while flow_number(target) < MAX_FLOW_COACHES:
        target = await open_next(gateway, context, target)
        into: TripView = await gateway.ask(context, lambda target=target: cmd.GetTrip(target))
        if into.status in GONE:
            continue
        mover = TripMerge(gateway, context, SimpleNamespace(request_id=f"flow-board.{target}", trip_id=trip_id))
        mover.change_reason = MOVED
        result = MergeResult()
        await mover._move(ticket, into, result)  # noqa: SLF001  the merge's one-ticket move
        if result.moved:
            return result.moved[0].new_ticket_id
        if not result.not_moved:  # changed meanwhile (another gate's move, a rebooking): ask it again
            await abort(context, reject(Reason.TICKET_CHANGED, f"ticket {ticket_id} was moved meanwhile"))
        refusal = Rejection(Reason[result.not_moved[0].reason], result.not_moved[0].message)
        if refusal.reason is not Reason.NOT_ENOUGH_SEATS:
            break
    await abort(context, refusal or reject(Reason.FLOW_LINE_FULL, "no coach of the line has room for the ticket"))
    raise AssertionError("unreachable")  # abort raises
