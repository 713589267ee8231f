"""取票: picking up the paper tickets of tickets bought online, at a kiosk or a counter (JT/T 979
part 11; docs/kiosk.md).

A passenger who bought online (or at a kiosk) may want paper.  The kiosk asks with the order's
code and a passenger's document, or with a document alone; the trip owner prints each ticket
once: `TicketsPrinted` marks it, durable in the trip's log like any sale.  A second pick-up is
refused (TICKET_ALREADY_PRINTED), and a lost paper ticket is reprinted at a counter (the counter's
own reprint, which spoils and takes paper numbers: docs/shifts.md).  A retry of the same request
is given the same tickets again: they carry the request that printed them.

The document is known here by its blind index only (the gateway computes it), which every
real-name ticket carries (events.Holder.document_index).  A pick-up by document alone prints
only that document's own tickets; one by order code prints the order's tickets when the
document is one of the order's passengers', and says nothing else about an order it does not
match: a wrong code and a wrong document are refused alike.
"""

from __future__ import annotations

from .commands import PickUpTickets
from .decide import Outcome, TripStatus, segment_status
from .events import TicketsPrinted
from .policy import Policy
from .reasons import Reason, Rejection, reject
from .state import ShardState, Ticket, TicketStatus, Trip
from .views import TicketsView, TicketView, ticket_view

# A coach that has not left the passenger's stop: its tickets may still be picked up.
NOT_GONE = frozenset({TripStatus.ON_SALE, TripStatus.CHECKING_IN})


def pickable(trip: Trip, ticket: Ticket, now: int, policy: Policy) -> bool:
    """A live ticket (issued, not boarded, refunded, changed or being rebooked) of a coach yet to
    leave the passenger's stop."""
    return (
        ticket.status is TicketStatus.ISSUED
        and ticket.move is None
        and not ticket.pending_move()
        and segment_status(trip, ticket.from_stop, now, policy) in NOT_GONE
    )


def nothing_to_pick_up(why: str) -> Rejection:
    return reject(Reason.NOTHING_TO_PICK_UP, why)


def already_printed(ticket: Ticket | TicketView) -> Rejection:
    """The ticket named masked, as printed on it: the kiosk tells the passenger which one.  The
    trip owner refuses with it, and so does the gateway for a pick-up that spans trips."""
    who = f" ({ticket.holder.name_masked} {ticket.holder.document_masked})" if ticket.holder is not None else ""
    return reject(
        Reason.TICKET_ALREADY_PRINTED,
        f"ticket {ticket.ticket_id}{who} was picked up already: a lost paper ticket is reprinted at a counter",
        ticket_id=ticket.ticket_id,
        printed_at_ms=ticket.printed_at_ms,
    )


def _candidates(trip: Trip, command: PickUpTickets) -> list[Ticket] | Rejection:
    """The tickets the request may print: the order's, when the document is one of its
    passengers', or the tickets named, each the document's own."""
    index = command.document_index
    if command.order_id:
        order = trip.orders.get(command.order_id)
        tickets = [trip.tickets[t] for t in order.ticket_ids] if order is not None else []
        passengers = {h.document_index for h in order.holders} if order is not None else set()
        passengers |= {t.holder.document_index for t in tickets if t.holder is not None}
        if order is None or index not in passengers:
            return nothing_to_pick_up(
                "no order with this code has a passenger with this document: check the order code and the document"
            )
        if not tickets:
            return nothing_to_pick_up(f"order {order.order_id} has no tickets: it is {order.status.value}")
        return tickets
    found = [trip.tickets.get(t) for t in command.ticket_ids]
    if any(t is None or t.holder is None or t.holder.document_index != index for t in found):
        return nothing_to_pick_up("no ticket of this document to pick up")
    return [t for t in found if t is not None]


def pick_up(trip: Trip, command: PickUpTickets, now: int, policy: Policy) -> Outcome:
    """Print the candidates that are live and not printed yet; those this very request printed
    count as printed now (a retry), others printed before refuse the pick-up if nothing is left."""
    candidates = _candidates(trip, command)
    if isinstance(candidates, Rejection):
        return candidates
    fresh, mine, printed = [], [], []
    for ticket in candidates:
        if ticket.printed_request == command.request_id:
            mine.append(ticket)
        elif not pickable(trip, ticket, now, policy):
            continue
        elif ticket.printed_at_ms:
            printed.append(ticket)
        else:
            fresh.append(ticket)
    if not fresh and not mine:
        if printed:
            return already_printed(printed[0])
        return nothing_to_pick_up(
            "no ticket here can be picked up: refunded, changed, boarded, or its coach has left (or was cancelled)"
        )
    if not fresh:
        return ()  # a retry whose first call's receipt is gone: the same tickets, nothing new
    printing = tuple(t.ticket_id for t in fresh)
    return (TicketsPrinted(trip.spec.trip_id, printing, command.by, command.request_id, now),)


def picked_up(trip: Trip, command: PickUpTickets, now: int, policy: Policy) -> TicketsView:
    """The reply: every ticket of the request's candidates that this request printed."""
    if command.order_id:
        order = trip.orders.get(command.order_id)
        ids: tuple[str, ...] = order.ticket_ids if order is not None else ()
    else:
        ids = command.ticket_ids
    tickets = (trip.tickets[t] for t in ids if t in trip.tickets)
    return TicketsView(
        tuple(ticket_view(trip, t, now, policy) for t in tickets if t.printed_request == command.request_id)
    )


def pick_ups(state: ShardState, document_index: bytes, now: int, policy: Policy) -> TicketsView:
    """FindPickUps: the live tickets of coaches yet to leave whose passenger has the document,
    printed or not, by departure, found through each trip's index of documents."""
    found: list[tuple[int, TicketView]] = []
    for trip in state.trips.values():
        owners = trip.documents.get(document_index)
        if not owners:
            continue
        for owner_id in owners:
            ticket = trip.tickets.get(owner_id)  # the index keeps hold ids too
            if (
                ticket is not None
                and ticket.holder is not None
                and ticket.holder.document_index == document_index
                and pickable(trip, ticket, now, policy)
            ):
                found.append((trip.departs_at_ms(ticket.from_stop), ticket_view(trip, ticket, now, policy)))
    found.sort(key=lambda pair: (pair[0], pair[1].ticket_id))
    return TicketsView(tuple(view for _, view in found))
