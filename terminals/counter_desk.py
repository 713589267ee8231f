"""What the counter workstation does, apart from its screen: open and close a seller's shift, sell to
walk-in passengers, void, refund (with the exact fee quoted first), rebook, reprint and print
through the gateway, keep request ids across retries, and add up what this session took in.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from keyun.v1 import orders_pb2, sales_pb2, shifts_pb2

from . import ticket_print
from .client import RETRYABLE, KeyunClient, KeyunError, new_request_id, walk_in

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


TICKET_TYPES = ("full", "child", "free_child", "concession", "student")
TICKET_TYPE_LABELS = {
    "full": "full 全票",
    "child": "child 儿童票",
    "free_child": "free child 免票儿童",
    "concession": "concession 优待票",
    "student": "student 学生票",
}
DOCUMENT_TYPES = ("RESIDENT_ID", "PASSPORT", "HK_MACAU_PERMIT", "TAIWAN_PERMIT", "HMT_RESIDENCE_PERMIT")


def mask_number(number: str) -> str:
    """A document number as the counter shows it: the server's mask (the first 6 and the last 4 of
    a resident ID kept), and for shorter documents the first 2 and the last 2."""
    keep_head, keep_tail = (6, 4) if len(number) >= 15 else (2, 2)
    if len(number) <= keep_head + keep_tail:
        return "*" * len(number)
    return number[:keep_head] + "*" * (len(number) - keep_head - keep_tail) + number[-keep_tail:]


@dataclass(frozen=True)
class Passenger:
    """A walk-in passenger of the sale being made.  The document number stays in memory only, for
    the request: the screen shows `masked` (repr too, so a log or a traceback never carries it)."""

    ticket_type: str
    document_type: str
    document_number: str = field(repr=False)
    name: str
    insurance: bool = False
    proof_type: str = ""
    proof_number: str = field(default="", repr=False)

    @property
    def seated(self) -> bool:
        return self.ticket_type != "free_child"

    @property
    def masked(self) -> str:
        return mask_number(self.document_number)

    def message(self) -> sales_pb2.WalkInPassenger:
        return walk_in(
            self.document_number,
            self.name,
            self.ticket_type,
            self.document_type,
            self.insurance,
            self.proof_type,
            self.proof_number,
        )


@dataclass
class ShiftTotals:
    """What this desk sold and paid out in this session (the server's slip, made at close, is what
    counts; these let the seller see the drawer as they go)."""

    tickets_sold: int = 0
    sold_fen: dict[str, int] = field(default_factory=dict)  # by payment method: "cash", "card"
    tickets_refunded: int = 0
    refunded_fen: int = 0  # paid back to passengers
    refunded_cash_fen: int = 0  # ...of which in cash at this counter (Sales.Refund)
    refund_fees_fen: int = 0  # kept by the station
    tickets_changed: int = 0
    change_collected_fen: int = 0  # fare differences of rebookings: + collected, - paid out
    reprints: int = 0
    tickets_voided: int = 0
    voided_fen: dict[str, int] = field(default_factory=dict)  # by payment method

    def cash_in_drawer_fen(self) -> int:
        """Cash taken less cash paid out by this session (rebooking differences are settled in cash)."""
        return (
            self.sold_fen.get("cash", 0)
            - self.voided_fen.get("cash", 0)
            - self.refunded_cash_fen
            + self.change_collected_fen
        )


@dataclass
class Sale:
    tickets: list[Any]
    total_fen: int
    method: str
    order_id: str = ""
    paper_numbers: dict[str, str] = field(default_factory=dict)  # ticket id -> paper number printed on it


@dataclass
class Refund:
    ticket: Any
    by_order: str = ""  # the order that paid the money back, when the ticket was bought through one


class PatientDesk:
    """What a workstation's desk (the counter's, the dispatch console's) does when the server is
    briefly away: try the same call again, with the same request id, for `patience_s`."""

    patience_s: float
    closing: threading.Event  # set when the application quits: stop waiting for the server

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


class CounterDesk(PatientDesk):
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
        self.shift: shifts_pb2.Shift | None = None  # the seller's open shift, as the server last told it
        self.methods: dict[str, str] = {}  # ticket id -> how it was paid (a void gives that back)
        self.paper_numbers: dict[str, str] = {}  # ticket id -> its current paper number

    # --- the shift (docs/shifts.md) --------------------------------------------------------------

    def current_shift(self, notify: Notify) -> shifts_pb2.Shift | None:
        """The caller's open shift from the server, or None when they have none open."""
        try:
            self.shift = self.patiently(lambda: self.client.shift(), notify)
        except KeyunError as error:
            if error.reason != "NO_OPEN_SHIFT":
                raise
            self.shift = None
        return self.shift

    def open_shift(self, counter_id: str, notify: Notify) -> shifts_pb2.Shift:
        shift = self._run(
            ("open-shift", counter_id),
            notify,
            lambda p: self.patiently(lambda: self.client.open_shift(counter_id, p.id("open")), notify),
        )
        self.shift, self.totals = shift, ShiftTotals()
        self.refresh_shift(notify)  # GetShift carries the slip so far (`running`), OpenShift does not
        return self.shift

    def close_shift(self, counted_cash_fen: int, notify: Notify) -> tuple[shifts_pb2.Shift, Path]:
        """Close the open shift with the cash counted; the slip's PDF is saved in print_dir."""
        shift = self._run(
            ("close-shift", counted_cash_fen),
            notify,
            lambda p: self.patiently(lambda: self.client.close_shift(counted_cash_fen, p.id("close")), notify),
        )
        pdf = self.patiently(lambda: self.client.slip_pdf(shift.shift_id), notify)
        self.print_dir.mkdir(parents=True, exist_ok=True)
        path = self.print_dir / (pdf.file_name or f"slip-{shift.shift_id}.pdf")
        path.write_bytes(pdf.pdf)
        self.shift = None
        return shift, path

    def refresh_shift(self, notify: Notify) -> None:
        """The open shift's numbers again, after a sale, a void or a reprint took or spoiled one."""
        if self.shift is not None:
            self.shift = self.patiently(lambda: self.client.shift(self.shift.shift_id), notify)

    def quote_refund(self, ticket_id: str, notify: Notify) -> sales_pb2.QuoteRefundResponse:
        """The exact fee and pay-back the trip's owner would apply now (Sales/QuoteRefund)."""
        return self.patiently(lambda: self.client.quote_refund(ticket_id), notify)

    # --- retries ---------------------------------------------------------------------------------

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
        self,
        trip_id: str,
        from_station: str,
        to_station: str,
        seats: tuple[str, ...],
        method: str,
        notify: Notify,
        passengers: tuple[Passenger, ...] = (),
    ) -> Sale:
        """Sell the seats to the walk-in `passengers` (none: anonymous full fares), paid in cash or by
        card: Sales.Sell with its pay method, or, at a desk with a POS terminal, an order paid on it."""
        key = ("sell", trip_id, from_station, to_station, seats, method, passengers)
        if method == "cash" or not self.terminal_id:
            sale = self._run(
                key,
                notify,
                lambda p: self._sell_direct(trip_id, from_station, to_station, seats, method, passengers, p, notify),
            )
        else:
            sale = self._run(
                key, notify, lambda p: self._sell_card(trip_id, from_station, to_station, seats, p, notify)
            )
        self.totals.tickets_sold += len(sale.tickets)
        self.totals.sold_fen[method] = self.totals.sold_fen.get(method, 0) + sale.total_fen
        for ticket in sale.tickets:
            self.methods[ticket.ticket_id] = method
        self.paper_numbers.update(sale.paper_numbers)
        return sale

    def _sell_direct(
        self, trip_id, from_station, to_station, seats, method: str, passengers, pending: Pending, notify: Notify
    ) -> Sale:
        pay = orders_pb2.PAY_METHOD_CARD if method == "card" else orders_pb2.PAY_METHOD_CASH
        request_id = pending.id("sell")
        reply = self.patiently(
            lambda: self.client.sell(
                trip_id,
                from_station,
                to_station,
                seats,
                request_id=request_id,
                passengers=tuple(p.message() for p in passengers),
                pay_method=pay,
            ),
            notify,
        )
        numbers = {p.ticket_id: p.number for p in reply.paper_numbers}
        return Sale(list(reply.tickets), reply.total_fen, method, paper_numbers=numbers)

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
        self.paper_numbers.update({p.ticket_id: p.number for p in reply.paper_numbers})
        self.methods[reply.new_ticket.ticket_id] = self.methods.get(ticket_id, "cash")
        return reply

    def void(self, ticket_id: str, notify: Notify) -> shifts_pb2.VoidTicketResponse:
        """Take back a sale of this shift in full, no fee (Shifts.VoidTicket): its number is spoiled."""
        reply = self._run(
            ("void", ticket_id),
            notify,
            lambda p: self.patiently(lambda: self.client.void_ticket(ticket_id, p.id("void")), notify),
        )
        method = self.methods.get(ticket_id, "cash")
        self.totals.tickets_voided += 1
        self.totals.voided_fen[method] = self.totals.voided_fen.get(method, 0) + reply.ticket.price_fen
        self.paper_numbers.pop(ticket_id, None)
        return reply

    def reprint_number(self, ticket_id: str, notify: Notify) -> shifts_pb2.ReprintResponse:
        """In a shift, a reprint spoils the ticket's paper number and takes the next (Shifts.Reprint)."""
        reply = self._run(
            ("reprint", ticket_id),
            notify,
            lambda p: self.patiently(lambda: self.client.reprint(ticket_id, request_id=p.id("reprint")), notify),
        )
        self.paper_numbers[ticket_id] = reply.paper_number.number
        return reply

    # --- printing --------------------------------------------------------------------------------

    def print_tickets(self, tickets, extras: ticket_print.PrintExtras) -> list[Path]:
        """A PDF per ticket in print_dir, and the tickets to the ticket printer (stream)."""
        views = [
            ticket_print.layout(t, replace(extras, paper_number=self.paper_numbers.get(t.ticket_id, "")))
            for t in tickets
        ]
        suffix = "-reprint" if extras.reprint else ""
        paths = [
            ticket_print.pdf_tickets([view], self.print_dir / f"{view.ticket_id}{suffix}.pdf", self.cjk_font)
            for view in views
        ]
        ticket_print.write_stream(views, self.printer, self.escpos)
        if extras.reprint:
            self.totals.reprints += len(tickets)
        return paths
