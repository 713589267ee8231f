"""What the counter workstation does, apart from its screen: sell, refund, rebook and print through
the gateway, keep request ids across retries, and add up what this session took in.

Every method here blocks on gRPC: the application (counter_app.py) runs them in worker threads.

Retries.  KeyunClient already retries a call that found the server unavailable a few times within a
second or so, with the same request.  A counter must also ride out a longer outage (a restart): the
desk keeps trying for `patience_s`, telling the seller each time, and keeps the request ids of an
operation that did not finish, so that trying it again (the same seats, the same ticket) repeats the
same requests and the server applies them at most once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from keyun.engine.policy import Policy
from keyun.v1 import common_pb2, orders_pb2

from . import ticket_print
from .client import RETRYABLE, KeyunClient, KeyunError, new_request_id

T = TypeVar("T")
Notify = Callable[[str], None]

DEFAULT_PATIENCE_S = 30.0
RETRY_PAUSE_S = 1.0


@dataclass
class Pending:
    """The request ids of one operation, one per step, kept until the operation ends."""

    ids: dict[str, str] = field(default_factory=dict)

    def id(self, step: str) -> str:
        return self.ids.setdefault(step, new_request_id())


@dataclass
class ShiftTotals:
    """What this session sold and paid out, until the shift RPCs keep it on the server."""

    tickets_sold: int = 0
    sold_fen: dict[str, int] = field(default_factory=dict)  # by payment method: "cash", "card"
    tickets_refunded: int = 0
    refunded_fen: int = 0  # paid back to passengers
    refunded_cash_fen: int = 0  # ...of which in cash at this counter (Sales.Refund)
    refund_fees_fen: int = 0  # kept by the station
    tickets_changed: int = 0
    change_collected_fen: int = 0  # fare differences of rebookings: + collected, - paid out
    reprints: int = 0

    def cash_in_drawer_fen(self) -> int:
        """Cash taken less cash paid out by this session (rebooking differences are settled in cash)."""
        return self.sold_fen.get("cash", 0) - self.refunded_cash_fen + self.change_collected_fen


@dataclass
class Sale:
    tickets: list[Any]
    total_fen: int
    method: str
    order_id: str = ""


@dataclass
class Refund:
    ticket: Any
    by_order: str = ""  # the order that paid the money back, when the ticket was bought through one


DEFAULT_POLICY = Policy()


def refund_fee_estimate(ticket, now_ms: int, policy: Policy = DEFAULT_POLICY) -> int | None:
    """The refund fee by the national default schedule (engine/policy.py), or None when that schedule
    allows no refund now.  A station may configure its own: the server's fee, shown after the refund,
    is the one that counts."""
    if ticket.trip.status == common_pb2.TRIP_STATUS_CANCELLED:
        return 0
    departs_ms = ticket.from_stop.departs_at.ToMilliseconds()
    return policy.refund_fee_fen(ticket.price_fen, departs_ms - now_ms)


class CounterDesk:
    """One seller's session at a counter, over a logged-in KeyunClient."""

    def __init__(
        self,
        client: KeyunClient,
        print_dir: Path,
        printer: Path | None = None,
        escpos: bool = False,
        terminal_id: str = "",
        patience_s: float = DEFAULT_PATIENCE_S,
    ):
        self.client = client
        self.print_dir = print_dir
        self.printer = printer or print_dir / "ticket-printer.txt"
        self.escpos = escpos
        self.terminal_id = terminal_id
        self.patience_s = patience_s
        self.totals = ShiftTotals()
        self.pending: dict[tuple, Pending] = {}
        self.closing = threading.Event()  # set when the app quits: stop waiting for the server
        self.cjk_font = ticket_print.find_cjk_font()

    def refund_fee(self, ticket, now_ms: int) -> int | None:
        return refund_fee_estimate(ticket, now_ms)

    # --- retries ---------------------------------------------------------------------------------

    def patiently(self, attempt: Callable[[], T], notify: Notify) -> T:
        """Run `attempt` until it is answered, or the server has been unreachable for `patience_s`."""
        give_up_at = time.monotonic() + self.patience_s
        tries = 0
        while True:
            try:
                result = attempt()
            except KeyunError as error:
                if error.code not in RETRYABLE or time.monotonic() >= give_up_at or self.closing.is_set():
                    raise
                tries += 1
                notify(f"server not reached ({error.code.name}): trying again with the same request id ({tries})")
                self.closing.wait(error.retry_after_s or RETRY_PAUSE_S)
                continue
            if tries:
                notify("server reached again: the request went through once")
            return result

    def _run(self, key: tuple, notify: Notify, steps: Callable[[Pending], T]) -> T:
        """Run an operation's steps with the ids it kept from an earlier try; forget them once it is
        answered, keep them when the server could not be reached."""
        pending = self.pending.setdefault(key, Pending())
        try:
            result = steps(pending)
        except KeyunError as error:
            if error.code not in RETRYABLE:
                self.pending.pop(key, None)
            raise
        self.pending.pop(key, None)
        return result

    # --- reading ---------------------------------------------------------------------------------

    def search(self, from_station: str, to_station: str, date: str, notify: Notify):
        return self.patiently(lambda: self.client.search(from_station, to_station, date, page_size=200), notify)

    def seat_map(self, trip_id: str, from_station: str, to_station: str, notify: Notify):
        return self.patiently(lambda: self.client.seat_map(trip_id, from_station, to_station), notify)

    def free_by_leg(self, trip, notify: Notify) -> list[tuple[str, str, int]]:
        """Free seats on each leg of the trip (stop to next stop): (from, to, free)."""
        codes = [stop.code for stop in trip.stops]
        return [
            (a, b, self.seat_map(trip.trip_id, a, b, notify).seats_free) for a, b in zip(codes, codes[1:], strict=False)
        ]

    def ticket(self, ticket_id: str, notify: Notify):
        return self.patiently(lambda: self.client.ticket(ticket_id), notify)

    # --- selling ---------------------------------------------------------------------------------

    def sell(
        self, trip_id: str, from_station: str, to_station: str, seats: tuple[str, ...], method: str, notify: Notify
    ) -> Sale:
        """Sell the seats, paid in cash (Sales.Sell) or by card (an order paid on the POS terminal)."""
        key = ("sell", trip_id, from_station, to_station, seats, method)
        if method == "cash":
            sale = self._run(
                key, notify, lambda p: self._sell_cash(trip_id, from_station, to_station, seats, p, notify)
            )
        else:
            sale = self._run(
                key, notify, lambda p: self._sell_card(trip_id, from_station, to_station, seats, p, notify)
            )
        self.totals.tickets_sold += len(sale.tickets)
        self.totals.sold_fen[method] = self.totals.sold_fen.get(method, 0) + sale.total_fen
        return sale

    def _sell_cash(self, trip_id, from_station, to_station, seats, pending: Pending, notify: Notify) -> Sale:
        reply = self.patiently(
            lambda: self.client.sell(trip_id, from_station, to_station, seats, request_id=pending.id("sell")), notify
        )
        return Sale(list(reply.tickets), reply.total_fen, "cash")

    def _sell_card(self, trip_id, from_station, to_station, seats, pending: Pending, notify: Notify) -> Sale:
        card = orders_pb2.PAY_METHOD_CARD
        hold = self.patiently(
            lambda: self.client.hold(trip_id, from_station, to_station, seats, request_id=pending.id("hold")), notify
        )
        order = self.patiently(
            lambda: self.client.create_order(hold.hold_id, card, request_id=pending.id("order")), notify
        ).order
        try:
            paid = self.patiently(
                lambda: self.client.pay_at_counter(
                    order.order_id, card, self.terminal_id, request_id=pending.id("pay")
                ),
                notify,
            )
        except KeyunError as error:
            if error.code not in RETRYABLE:  # declined: give the seats back rather than leave them held
                self.patiently(lambda: self.client.cancel_order(order.order_id, pending.id("cancel")), notify)
            raise
        return Sale(list(paid.tickets), paid.amount_fen, "card", paid.order_id)

    # --- after the sale --------------------------------------------------------------------------

    def refund(self, ticket_id: str, notify: Notify) -> Refund:
        """Refund a ticket: at the counter in cash, or back through its order when it was bought
        through one (the server names the order when it refuses Sales.Refund)."""
        refund = self._run(("refund", ticket_id), notify, lambda p: self._refund(ticket_id, p, notify))
        ticket = refund.ticket
        self.totals.tickets_refunded += 1
        self.totals.refunded_fen += ticket.refunded_fen
        self.totals.refund_fees_fen += ticket.refund_fee_fen
        if not refund.by_order:
            self.totals.refunded_cash_fen += ticket.refunded_fen
        return refund

    def _refund(self, ticket_id: str, pending: Pending, notify: Notify) -> Refund:
        try:
            return Refund(self.patiently(lambda: self.client.refund(ticket_id, pending.id("refund")), notify))
        except KeyunError as error:
            order_id = error.facts.get("order_id", "")
            if error.reason != "ORDER_CLOSED" or not order_id:
                raise
        self.patiently(lambda: self.client.refund_order(order_id, (ticket_id,), pending.id("refund-order")), notify)
        return Refund(self.ticket(ticket_id, notify), by_order=order_id)

    def change(self, ticket_id: str, new_trip_id: str, seat_number: str, notify: Notify):
        """Rebook (改签) a ticket onto another trip; the reply has both tickets and the difference."""
        key = ("change", ticket_id, new_trip_id, seat_number)
        reply = self._run(
            key,
            notify,
            lambda p: self.patiently(
                lambda: self.client.change_ticket(ticket_id, new_trip_id, seat_number, p.id("change")), notify
            ),
        )
        self.totals.tickets_changed += 1
        self.totals.change_collected_fen += reply.fare_difference_fen
        return reply

    # --- printing --------------------------------------------------------------------------------

    def print_tickets(self, tickets, extras: ticket_print.PrintExtras) -> list[Path]:
        """A PDF per ticket in print_dir, and the tickets to the ticket printer (stream)."""
        views = [ticket_print.layout(t, extras) for t in tickets]
        suffix = "-reprint" if extras.reprint else ""
        paths = [
            ticket_print.pdf_tickets([view], self.print_dir / f"{view.ticket_id}{suffix}.pdf", self.cjk_font)
            for view in views
        ]
        ticket_print.write_stream(views, self.printer, self.escpos)
        if extras.reprint:
            self.totals.reprints += len(tickets)
        return paths
