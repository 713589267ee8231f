"""并班 (Dispatch/MergeTrips) and 脱班 (Dispatch/MarkMissed): docs/dispatch.md.

A merge moves every live ticket of one trip onto another of the same route, ticket by ticket, by
the rebooking saga's own steps and owner commands (gateway/services.py Rebooking): mark the old
ticket moving, hold a seat on the target trip, issue the new ticket from the hold, give the old
ticket up, settle the new one.  Only two things differ from a passenger's rebooking: the old
ticket's owner checks the move as the station's (BeginChange.station: allowed off a cancelled
trip), and the change pays no difference and records why (ChangeTicket.reason "merged").

Every step's request id derives from the merge's request id and the ticket (saga_id), so a retry
of the same request replays what ran (each owner answers from its idempotency window) and carries
on: a merge cut off by a crash is finished by its retry, never doubled; a saga cut off between
steps is also finished or undone by the move sweep, as any rebooking's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import grpc

from keyun.engine import commands as cmd
from keyun.engine.decide import TripStatus
from keyun.engine.reasons import Reason, Rejected, Rejection, reject
from keyun.engine.state import TicketStatus
from keyun.engine.views import TicketView, TripView
from keyun.v1 import dispatch_pb2

from . import convert
from .errors import abort, owner_errors
from .owners import OwnerFailed, OwnerUnavailable

log = logging.getLogger("keyun.gateway")

# Why the station moved a ticket, journaled with its TicketChanged event.
MERGED = "merged"


@dataclass
class MergeResult:
    moved: list[dispatch_pb2.MergedTicket] = field(default_factory=list)
    not_moved: list[dispatch_pb2.UnmovedTicket] = field(default_factory=list)
    new_tickets: list[TicketView] = field(default_factory=list)  # the moved tickets' new ones, to tell


def _unmoved(ticket: TicketView, refusal: Rejection) -> dispatch_pb2.UnmovedTicket:
    return dispatch_pb2.UnmovedTicket(
        ticket_id=ticket.ticket_id,
        seat=ticket.seat_label,
        reason=refusal.reason.name,
        message=refusal.message,
        from_station=ticket.from_stop.code,
        to_station=ticket.to_stop.code,
    )


class TripMerge:
    """One MergeTrips call: checks, stops sales on the trip given up, then moves its tickets."""

    change_reason = MERGED  # journaled with each move (gateway/flow_lines.py moves a no-show's ticket)

    def __init__(self, gateway: Any, context: grpc.aio.ServicerContext, request: Any):
        from .services import saga_id  # late: services imports this module

        self.gateway, self.context, self.request = gateway, context, request
        self.saga_of = lambda ticket_id: saga_id(request.request_id, ticket_id)
        # The merge's own steps (stopping sales): one id per request and trip.
        self.step = saga_id(request.request_id, f"merge:{request.trip_id}")

    async def run(self) -> dispatch_pb2.MergeTripsResponse:
        gateway, request = self.gateway, self.request
        try:
            cmd.check_request_id(request.request_id)
            if not request.into_trip_id:
                raise Rejected(
                    reject(Reason.MISSING_FIELD, "into_trip_id: name the trip to merge into", field="into_trip_id")
                )
        except Rejected as rejected:
            await abort(self.context, rejected.rejection)
        old = await gateway.ask(self.context, lambda: cmd.GetTrip(request.trip_id))
        into = await gateway.ask(self.context, lambda: cmd.GetTrip(request.into_trip_id))
        refusal = merge_refusal(old, into)
        if refusal is not None:
            await abort(self.context, refusal)
        # Nothing new sells on the trip given up (a sale racing this lands before it, and moves).
        # The call's audit record is journaled with it.
        old = await gateway.ask(self.context, lambda: cmd.CancelTrip(f"{self.step}-stop", old.trip_id), audited=True)
        manifest = await gateway.ask(self.context, lambda: cmd.GetManifest(old.trip_id))
        result = MergeResult()
        async with owner_errors(self.context):
            for ticket in manifest.tickets:
                # CHANGED: moved by this merge before a crash (its steps replay) or by a rebooking.
                if ticket.status in (TicketStatus.ISSUED, TicketStatus.CHANGED):
                    await self._move(ticket, into, result)
        for new in result.new_tickets:
            await self._tell(old, new)
        into = await gateway.ask(self.context, lambda: cmd.GetTrip(into.trip_id))
        return dispatch_pb2.MergeTripsResponse(
            trip=convert.trip(old), into_trip=convert.trip(into), moved=result.moved, not_moved=result.not_moved
        )

    async def _move(self, ticket: TicketView, into: TripView, result: MergeResult) -> None:
        """Move one ticket by the rebooking saga's steps; a ticket that cannot move stays, listed."""
        pool, saga = self.gateway.pool, self.saga_of(ticket.ticket_id)
        begin = cmd.BeginChange(f"{saga}-begin", ticket.ticket_id, saga, into.trip_id, into.route_id, station=True)
        began = await pool.submit(begin)
        if self.gateway.interrupted(began):  # a passenger's rebooking cut off: finish or undo it first
            await self.gateway.resolve_move(began.fact("old_ticket_id"), began.fact("saga"), began.fact("new_trip_id"))
            began = await pool.submit(begin)
        if isinstance(began, Rejection):
            if ticket.status is not TicketStatus.ISSUED:
                return  # moved by someone else's rebooking before the merge: not this merge's
            result.not_moved.append(_unmoved(ticket, began))
            return
        hold = await self._hold(began, into.trip_id, saga)
        if isinstance(hold, Rejection):
            await self._undo(ticket, saga, into.trip_id)
            result.not_moved.append(_unmoved(ticket, hold))
            return
        issued = await pool.submit(
            cmd.ConfirmHold(f"{saga}-issue", hold.hold_id, changed_from=ticket.ticket_id, for_move=saga)
        )
        if isinstance(issued, Rejection):
            await self._undo(ticket, saga, into.trip_id)
            result.not_moved.append(_unmoved(ticket, issued))
            return
        new = issued.tickets[0]
        fault = self.gateway.saga_faults.pop("merge-change", None)  # tests: the owner gone mid-merge
        if fault is not None:
            raise fault
        changed = await pool.submit(
            cmd.ChangeTicket(f"{saga}-change", ticket.ticket_id, new.ticket_id, "", -1, saga, reason=self.change_reason)
        )
        if isinstance(changed, Rejection):
            await self._undo(ticket, saga, into.trip_id)
            result.not_moved.append(_unmoved(ticket, changed))
            return
        settled = await self.gateway.settle_move(new.ticket_id, saga)
        assert settled is None, f"a merge could not settle its own move: {settled!r}"  # only a move made is settled
        result.new_tickets.append(new)
        result.moved.append(
            dispatch_pb2.MergedTicket(
                old_ticket_id=ticket.ticket_id,
                new_ticket_id=new.ticket_id,
                old_seat=began.seat_label,
                new_seat=new.seat_label,
                from_station=began.from_stop.code,
                to_station=began.to_stop.code,
            )
        )

    async def _hold(self, old: TicketView, into_trip_id: str, saga: str) -> Any:
        """The same seat number on the target trip if it is free there for the segment, else any
        free seat.  Both holds' ids derive from the saga's, so a retry asks the same two."""
        from .services import new_seat_terms  # late: services imports this module

        pool = self.gateway.pool
        same = await pool.submit(
            cmd.PlaceHold(f"{saga}-hold", **new_seat_terms(old, into_trip_id, old.seat_label), for_move=saga)
        )
        if not isinstance(same, Rejection):
            return same
        return await pool.submit(cmd.PlaceHold(f"{saga}-hold2", **new_seat_terms(old, into_trip_id, ""), for_move=saga))

    async def _undo(self, ticket: TicketView, saga: str, into_trip_id: str) -> None:
        refused = await self.gateway.undo_move(ticket.ticket_id, saga, into_trip_id)
        # Only the merge makes its move, and it is undoing it instead: a refusal here is a bug.
        assert refused is None, f"a merge could not undo its own move: {refused!r}"

    async def _tell(self, old: TripView, new: TicketView) -> None:
        """Journal a notice to the moved ticket's holder; the move stands if it cannot be recorded
        (a retry of the same request records it: its id comes from the request id)."""
        notices = self.gateway.notices
        if notices is None:
            return
        try:
            await notices.ticket_moved(old, new, self.request.request_id)
        except (OwnerUnavailable, OwnerFailed) as error:
            log.error("notice of moved ticket %s not recorded: %s", new.ticket_id, error)


def merge_refusal(old: TripView, into: TripView) -> Rejection | None:
    """Why these two trips cannot be merged, before anything changes."""
    if old.trip_id == into.trip_id:
        why = "into_trip_id: a trip cannot be merged into itself"
    elif old.route_id != into.route_id:
        why = f"into_trip_id: trip {into.trip_id} runs route {into.route_id}, not {old.route_id}"
    elif into.status in (TripStatus.CANCELLED, TripStatus.DEPARTED):
        why = f"into_trip_id: trip {into.trip_id} is {into.status.value}"
    elif old.status is TripStatus.DEPARTED:
        why = f"trip_id: trip {old.trip_id} has left"
    else:
        return None
    field_name = why.partition(":")[0]
    return reject(Reason.MERGE_NOT_ALLOWED, why, field=field_name)


async def mark_missed(gateway: Any, context: grpc.aio.ServicerContext, request: Any) -> TripView:
    """脱班: the trip is cancelled as missed (sales and boarding stop, refunds are free) and its
    passengers are told; moving them is a MergeTrips, refunding them Sales/Refund at fee 0."""
    view = await gateway.ask(
        context, lambda: cmd.CancelTrip(request.request_id, request.trip_id, missed=True), audited=True
    )
    await gateway.notify_trip_changed("trip_missed", view, request.request_id)
    return view
