"""Sales/PickUpTickets (取票, docs/kiosk.md): the gateway's side of picking tickets up.

The gateway turns the passenger's document into its blind index (walk_in.document_index), which
is all a trip owner ever sees of it, and then:

- by order code: asks the order's trip owner alone (engine.pickup.pick_up), which prints the
  order's live tickets when the document is one of its passengers';
- by document alone: asks every owner for the document's live tickets (FindPickUps), keeps those
  on trips of the caller's stations or operator, and asks each trip's owner to print that trip's
  unprinted ones, under a request id derived from the caller's and the trip's, so that a retry
  is answered by each owner as the first call was.

The look-up is audited by the interceptor (the rule is mutating) with the document masked.
"""

from __future__ import annotations

import hashlib
from typing import Any

import grpc

from keyun.engine import commands as cmd
from keyun.engine import identity
from keyun.engine.limits import MAX_SEATS_PER_HOLD
from keyun.engine.permissions import in_scope
from keyun.engine.pickup import already_printed
from keyun.engine.reasons import Reason, Rejected, Rejection, reject
from keyun.engine.views import TicketView

from . import walk_in
from .auth import Principal, caller
from .errors import abort, note_audit, owner_errors

# A trip's step of a pick-up by document: a readable prefix of the caller's request id, then a
# digest of it and the trip (40 + 1 + 12 <= MAX_REQUEST_ID_CHARS), as rebooking sagas do.
STEP_PREFIX_CHARS, STEP_DIGEST_CHARS = 40, 12
# Refusals of one trip's step that leave the pick-up's other trips to print: the ticket was
# printed, refunded or left meanwhile, by another kiosk or a counter.
RACED = frozenset({Reason.TICKET_ALREADY_PRINTED, Reason.NOTHING_TO_PICK_UP})


def step_id(request_id: str, trip_id: str) -> str:
    digest = hashlib.sha256(f"{request_id}\n{trip_id}".encode()).hexdigest()[:STEP_DIGEST_CHARS]
    return f"{request_id[:STEP_PREFIX_CHARS]}.{digest}"


def document_key(keys: Any, request: Any) -> tuple[bytes, str]:
    """The document's blind index and its masked form (for the audit record), or Rejected naming
    the field at fault."""
    if not request.document_number:
        raise Rejected(
            reject(Reason.MISSING_FIELD, "document_number: the passenger's identity document", field="document_number")
        )
    kind = walk_in.DOCUMENT_OF_PROTO.get(request.document_type)
    if kind is None:
        raise Rejected(reject(Reason.INVALID_FIELD, "document_type: choose a document type", field="document_type"))
    number = identity.normalize_document(kind, request.document_number)
    return walk_in.document_index(keys, kind, number), f"{kind.name} {identity.mask_document(number)}"


def in_callers_scope(principal: Principal, view: TicketView) -> bool:
    """Whether the ticket's trip stops at one of the caller's stations or is run by its operator."""
    return any(in_scope(principal.stations, stop.code) for stop in view.trip.stops) or in_scope(
        principal.operators, view.trip.operator_id
    )


class PickUpDesk:
    """Picks tickets up through the gateway's owners (Gateway.ask, Gateway.pool)."""

    def __init__(self, gateway: Any):
        self.gateway = gateway

    async def pick_up(self, context: grpc.aio.ServicerContext, request: Any) -> list[TicketView]:
        try:
            cmd.check_request_id(request.request_id)
            index, shown = document_key(self.gateway.keys, request)
            trip_id = cmd.order_trip(request.order_id) if request.order_id else ""
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        principal = caller()
        note_audit(target=request.order_id or shown, detail=f"ticket pick-up by {shown}")
        if request.order_id:
            view = await self.gateway.ask(
                context,
                lambda: cmd.PickUpTickets(
                    request.request_id, trip_id, index, order_id=request.order_id, by=principal.account_id
                ),
            )
            return list(view.tickets)
        return await self._by_document(context, request.request_id, index, principal)

    async def _by_document(
        self, context: grpc.aio.ServicerContext, request_id: str, index: bytes, principal: Principal
    ) -> list[TicketView]:
        replies = await self.gateway.ask(context, lambda: cmd.FindPickUps(index), fan_out=True)
        found = [t for reply in replies for t in reply.tickets if in_callers_scope(principal, t)]
        printing: dict[str, list[str]] = {}
        for ticket in found:
            trip_id = ticket.trip.trip_id
            if not ticket.printed_at_ms or ticket.printed_request == step_id(request_id, trip_id):
                printing.setdefault(trip_id, []).append(ticket.ticket_id)
        printed = await self._print(context, request_id, index, principal, printing)
        if printed:
            return printed
        refusal = next((already_printed(t) for t in found if t.printed_at_ms), None)
        await abort(
            context,
            refusal
            or reject(
                Reason.NOTHING_TO_PICK_UP,
                "this document has no ticket to pick up here: bought for another document, refunded, "
                "or its coach has left",
            ),
        )
        raise AssertionError("abort always raises")

    async def _print(
        self,
        context: grpc.aio.ServicerContext,
        request_id: str,
        index: bytes,
        principal: Principal,
        printing: dict[str, list[str]],
    ) -> list[TicketView]:
        """Each trip's step; a step refused because another pick-up got there first is skipped."""
        printed: list[TicketView] = []
        for trip_id, ticket_ids in printing.items():
            try:
                step = cmd.PickUpTickets(
                    step_id(request_id, trip_id),
                    trip_id,
                    index,
                    ticket_ids=tuple(ticket_ids[:MAX_SEATS_PER_HOLD]),
                    by=principal.account_id,
                )
            except Rejected as rejected:
                await abort(context, rejected.rejection)
            async with owner_errors(context):
                reply = await self.gateway.pool.submit(step)
            if isinstance(reply, Rejection):
                if reply.reason in RACED:
                    continue
                await abort(context, reply)
            printed.extend(reply.tickets)
        return sorted(printed, key=lambda t: (t.from_stop.departs_at_ms, t.ticket_id))
