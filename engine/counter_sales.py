"""The trip owner's side of seller shifts: voiding a counter sale (废票), and the tickets of a shift.

A ticket sold at a counter in a shift carries the shift (`Ticket.counter`), and a refund at a
counter names the shift it was paid from (`Ticket.refund_shift`): both journaled by the trip's
owner with the sale or refund itself, so the trip owners are the source of truth for a shift's
money, whatever happened to the gateway in between (engine/shifts.py, docs/shifts.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from .commands import TICKET_SUFFIX, TripCommand, TripQuery, _OfTicket, _split_id, check_request_id
from .events import TicketVoided
from .policy import Policy
from .reasons import Reason, Rejection, reject
from .shifts import ShiftTicket, ShiftTicketsView, check_shift_id
from .state import ShardState, TicketStatus, Trip
from .values import Value


class VoidSale(Value, _OfTicket, TripCommand):
    """Take back a counter sale in full, with no fee: in the shift that sold it, soon after."""

    request_id: str
    ticket_id: str
    shift_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)
        check_shift_id(self.shift_id)


class ShiftTickets(Value, TripQuery):
    """Every ticket this owner sold in the shift, or refunded in it (asked of all owners)."""

    shift_id: str
    trip_id: str = ""

    def __post_init__(self) -> None:
        check_shift_id(self.shift_id)


def _not_allowed(message: str, **facts: object) -> Rejection:
    return reject(Reason.VOID_NOT_ALLOWED, message, **facts)


def void_sale(trip: Trip, command: VoidSale, now: int, policy: Policy) -> tuple[TicketVoided] | Rejection:
    ticket = trip.tickets.get(command.ticket_id)
    if ticket is None:
        return reject(Reason.UNKNOWN_TICKET, f"no ticket {command.ticket_id}", ticket_id=command.ticket_id)
    if ticket.counter is None or ticket.counter.shift_id != command.shift_id:
        return _not_allowed(
            f"ticket {ticket.ticket_id} was not sold in shift {command.shift_id}: "
            "a sale is voided only at its counter, in its shift; refund it instead",
            why="other_shift",
        )
    if ticket.status is not TicketStatus.ISSUED or ticket.moving() or ticket.changed_from:
        return _not_allowed(f"ticket {ticket.ticket_id} is {ticket.status.value}: only a sold, unused ticket is voided")
    age_ms = now - ticket.issued_at_ms
    if age_ms > policy.void_window_ms:
        return _not_allowed(
            f"ticket {ticket.ticket_id} was sold {age_ms // 60_000} min ago; a void is allowed for "
            f"{policy.void_window_ms // 60_000} min: refund it instead",
            why="window_passed",
            void_window_ms=policy.void_window_ms,
        )
    return (TicketVoided(trip.spec.trip_id, ticket.ticket_id, now, command.shift_id),)


def shift_tickets(state: ShardState, shift_id: str) -> ShiftTicketsView:
    return ShiftTicketsView(tuple(_of_shift(state, shift_id)))


def _of_shift(state: ShardState, shift_id: str) -> Iterator[ShiftTicket]:
    # A scan of the owner's trips: asked once when a shift closes, not on the selling path.
    for trip in state.trips.values():
        for ticket in trip.tickets.values():
            # Sold at the counter in the shift, or through an order a counter seller made in it
            # (paid in cash or by card at the counter, or by a wallet's QR code).
            order = trip.orders.get(ticket.order_id) if ticket.order_id else None
            in_order = order is not None and order.shift_id == shift_id
            sold = (ticket.counter is not None and ticket.counter.shift_id == shift_id) or in_order
            refunded = ticket.refund_shift == shift_id
            if sold or refunded:
                method = order.method if order is not None else ""
                yield ShiftTicket(
                    ticket.ticket_id,
                    ticket.price_fen,
                    ticket.status.value,
                    ticket.counter.pay_method if ticket.counter is not None else method,
                    sold,
                    refunded,
                    ticket.refund_fee_fen,
                    ticket.refunded_fen,
                    ticket.issued_at_ms,
                    ticket.changed_from,
                )
