"""The counter workstation: `keyun counter` with no verb.  A full-screen terminal application (Textual)
for a ticket seller, usable from the keyboard alone (the footer shows the keys) and with a mouse.

Log in and open a shift at a counter (a counter seller without an open shift is asked for one);
search trips by destination and date; pick seats on the seat map; enter each seat's walk-in
passenger (ticket type, document scanned as keyboard input and shown masked, name, insurance, a
concession's proof; free children ride with an adult); take cash (change shown) or a card; tickets
print to PDF and to the ticket printer with their fare components, paper number and QR code; void,
refund (the exact fee quoted by the server first), rebook (改签), reprint (a new paper number); the
shift as the server keeps it on the right; close the shift with the counted cash and read the
handover slip, saved as a PDF.

It is a gRPC client of the gateway and nothing else.  Every call blocks, so each runs in a worker
thread (counter_desk.CounterDesk does the work) and the screen stays live; results come back to the
UI thread with call_from_thread.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Static

from keyun.v1 import common_pb2

from . import printing, ticket_print
from .client import RETRYABLE, KeyunClient, KeyunError
from .counter_desk import CounterDesk, Passenger, Sale
from .counter_widgets import (
    OFFER_COLUMNS,
    Ask,
    Confirm,
    Info,
    PassengerDialog,
    PassengerRow,
    PassengerRows,
    SeatGrid,
    ShiftPanel,
    TripPicker,
    offer_row,
    parse_yuan,
    signed_yuan,
    slip_text,
)

T = TypeVar("T")

CSS = """
.dialog { width: 80; height: auto; max-height: 90%; border: thick $accent; padding: 1 2; background: $panel; }
Confirm, Ask, Info, TripPicker, PassengerDialog, LoginScreen { align: center middle; }
#search Input { width: 1fr; }
#search Button { width: 12; }
#search { height: 3; }
#left { width: 3fr; }
#right { width: 2fr; padding: 0 1; }
#offers { height: 10; }
#legs { height: 1; color: $text-muted; }
#seats { height: 1fr; }
#rows { height: auto; min-height: 3; border: round $primary; }
#tickets { height: 1fr; }
#shift { height: auto; border: round $secondary; }
#status { height: 2; background: $boost; padding: 0 1; }
#status.error { color: $error; }
#change { height: 1; }
"""


def explain(error: KeyunError) -> str:
    """A refusal as the seller reads it (document numbers masked, whatever a message carries)."""
    if error.code in RETRYABLE:
        return (
            f"server not reached ({error.code.name}); nothing was lost. Press the same key again: "
            "the same request id is sent, so nothing happens twice"
        )
    return ticket_print.mask_documents(str(error))


class LoginScreen(Screen):
    """Login name, password and, for accounts with a second factor, the TOTP code."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(classes="dialog"):
            yield Static(f"{self.app.TITLE} — log in")  # the counter's, or the dispatch console's
            yield Input(placeholder="login name", id="login_name")
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="TOTP code (accounts with a second factor only)", id="totp")
            yield Button("Log in", id="log_in", variant="primary")
            yield Static("", id="login_status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#login_name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "login_name":
            self.query_one("#password", Input).focus()
        else:
            self.log_in()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.log_in()

    def log_in(self) -> None:
        name = self.query_one("#login_name", Input).value.strip()
        password = self.query_one("#password", Input).value
        totp = self.query_one("#totp", Input).value.strip()
        if not name or not password:
            self.query_one("#login_status", Static).update("give the login name and the password")
            return
        self.query_one("#login_status", Static).update("logging in…")
        app: CounterApp = self.app  # type: ignore[assignment]
        self.run_worker(lambda: self._log_in(app, name, password, totp), thread=True, exit_on_error=False)

    def _log_in(self, app: CounterApp, name: str, password: str, totp: str) -> None:
        try:
            app.client.login(name, password, totp)
        except KeyunError as error:
            app.call_from_thread(self.query_one("#login_status", Static).update, explain(error))
            return
        app.call_from_thread(app.open_desk)


class DeskScreen(Screen):
    """The seller's desk: search and seat map on the left, the sale, the session's tickets and its
    totals on the right, a status line for what just happened."""

    BINDINGS = [
        Binding("f2", "focus_search", "Search", priority=True),
        Binding("f3", "focus_seats", "Seats", priority=True),
        Binding("f4", "focus_cash", "Cash given", priority=True),
        Binding("f5", "sell('cash')", "Sell cash", priority=True),
        Binding("f6", "sell('card')", "Sell card", priority=True),
        Binding("f7", "refund", "Refund", priority=True),
        Binding("f8", "change", "Change", priority=True),
        Binding("f9", "reprint", "Reprint", priority=True),
        Binding("f10", "find_ticket", "Find ticket", priority=True),
        Binding("f11", "focus_tickets", "Tickets", priority=True),
        Binding("f12", "passenger", "Passenger", priority=True),
        Binding("ctrl+w", "void", "Void 废票", priority=True),
        Binding("ctrl+o", "open_shift", "Open shift", priority=True),
        Binding("ctrl+e", "close_shift", "Close shift", priority=True),
        Binding("escape", "clear_sale", "Clear sale"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, desk: CounterDesk, account) -> None:
        super().__init__()
        self.desk, self.account = desk, account
        self.offers: dict[str, Any] = {}
        self.offer = None  # the trip and segment being sold
        self.tickets: dict[str, Any] = {}  # this session's tickets, and any found, by id
        self.busy = ""  # the change being made (a sale, a refund...), so a second key press waits
        self.messages: list[str] = []
        self.entered: list[Passenger] = []  # the sale's walk-in passengers, in the order entered
        self.last_sale = ""  # the last sale's tickets, components and total, as shown

    # --- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="left"):
                with Horizontal(id="search"):
                    yield Input(value=self._home_station(), placeholder="from (code)", id="from")
                    yield Input(placeholder="to: destination code", id="to")
                    yield Input(value="today", placeholder="today, tomorrow, +N, YYYY-MM-DD", id="date")
                    yield Button("Search", id="do_search")
                offers: DataTable = DataTable(cursor_type="row", id="offers")
                offers.add_columns(*OFFER_COLUMNS)
                yield offers
                yield Static("", id="legs")
                yield SeatGrid(id="seats")
            with Vertical(id="right"):
                yield PassengerRows(id="rows")
                yield Input(placeholder="cash given, yuan (F4); Enter sells", id="tendered")
                yield Static("", id="change")
                tickets: DataTable = DataTable(cursor_type="row", id="tickets")
                tickets.add_columns("ticket", "paper no.", "segment", "seat", "type", "fare", "status")
                yield tickets
                yield ShiftPanel(id="shift")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        account = self.account
        stations = ", ".join(account.stations) or "-"
        self.app.sub_title = f"{account.display_name} ({account.login_name}) · stations {stations}"
        self.query_one(PassengerRows).show([])
        self.show_shift()
        self.say("F2 search · Enter on a trip shows its seats · Enter on a seat picks it · F4 cash · F5 sell")
        self.query_one("#to" if self._home_station() else "#from", Input).focus()
        self.background("reading your shift", lambda: self.desk.current_shift(self.tell_from_thread), self._shift_read)

    # --- the shift -------------------------------------------------------------------------------

    def works_in_shifts(self) -> bool:
        return "counter_seller" in self.account.roles

    def show_shift(self) -> None:
        self.query_one(ShiftPanel).show(self.desk.shift, self.desk.totals)

    def _shift_read(self, shift) -> None:
        self.show_shift()
        if shift is not None:
            self.say(
                f"shift {shift.shift_id} at counter {shift.counter_id} is open; next paper number {shift.next_number}"
            )
        elif self.works_in_shifts():
            self.action_open_shift()
        else:
            self.say("F2 search · Enter on a trip shows its seats · Enter on a seat picks it · F4 cash · F5 sell")

    def action_open_shift(self) -> None:
        if self.desk.shift is not None:
            self.say(f"shift {self.desk.shift.shift_id} is open already; Ctrl+E closes it", error=True)
            return

        def given(counter_id: str | None) -> None:
            if not counter_id:
                self.say("no open shift: a counter seller sells only in one (Ctrl+O opens it)", error=True)
                return
            self.background(
                f"opening a shift at counter {counter_id}",
                lambda: self.desk.open_shift(counter_id, self.tell_from_thread),
                self._shift_opened,
                changes=True,
            )

        self.app.push_screen(Ask("Open a shift 开班: at which counter (窗口)?", "counter id, e.g. W01"), given)

    def _shift_opened(self, shift) -> None:
        self.show_shift()
        self.say(
            f"shift {shift.shift_id} open at counter {shift.counter_id}: {shift.numbers_left} paper numbers, "
            f"next {shift.next_number or '-'}"
        )
        self.query_one("#to" if self._home_station() else "#from", Input).focus()

    def action_close_shift(self) -> None:
        if self.desk.shift is None:
            self.say("no open shift to close", error=True)
            return

        def counted(text: str | None) -> None:
            if not text:
                self.say("closing cancelled")
                return
            fen = parse_yuan(text)
            if fen is None:
                self.say("counted cash: type yuan, e.g. 1234.50", error=True)
                return
            self.background(
                f"closing shift {self.desk.shift.shift_id} with {printing.yuan(fen)} counted",
                lambda: self.desk.close_shift(fen, self.tell_from_thread),
                self._shift_closed,
                changes=True,
            )

        self.app.push_screen(
            Ask(f"Close shift {self.desk.shift.shift_id} 交班: cash counted in the drawer, yuan?", "e.g. 1234.50"),
            counted,
        )

    def _shift_closed(self, closed) -> None:
        shift, pdf = closed
        self.show_shift()
        self.say(f"shift {shift.shift_id} closed; the handover slip is saved as {pdf.name}")
        self.app.push_screen(Info(slip_text(shift) + f"\nPDF: {pdf}"))

    def _home_station(self) -> str:
        stations = [s for s in self.account.stations if s != "*"]
        return stations[0] if stations else ""

    # --- background calls ------------------------------------------------------------------------

    def say(self, message: str, error: bool = False) -> None:
        message = ticket_print.mask_documents(message)
        self.messages.append(message)
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(error, "error")

    def tell_from_thread(self, message: str) -> None:
        self.app.call_from_thread(self.say, message, True)

    def background(
        self, what: str, job: Callable[[], T], done: Callable[[T], None], changes: bool = False, quiet: bool = False
    ) -> None:
        """Run `job` (gRPC, files) in a worker thread; `done` with its result on the UI thread, or the
        refusal on the status line.  `changes`: one change at a time, a second waits for the first."""
        if changes and self.busy:
            self.say(f"still busy: {self.busy}; wait for it to finish", error=True)
            return
        if changes:
            self.busy = what

        def run() -> None:
            try:
                result = job()
            except KeyunError as error:
                failed = f"{what}: {explain(error)}"  # a message now: `error` is gone after the except block
            except Exception as error:  # a bug must not leave the desk busy and silent
                failed = f"{what}: unexpected {type(error).__name__}: {error}"
            else:
                self.app.call_from_thread(self._finish, what, changes, lambda: done(result))
                return
            self.app.call_from_thread(self._finish, what, changes, lambda: self.say(failed, True))

        if not quiet:
            self.say(f"{what}…")
        self.run_worker(run, thread=True, exit_on_error=False, group="rpc")

    def _finish(self, what: str, changes: bool, then: Callable[[], None]) -> None:
        if changes:
            self.busy = ""
        try:
            then()
        except Exception as error:  # a bug showing a result must not vanish in the worker silently
            self.say(f"{what}: done, but not shown: unexpected {type(error).__name__}: {error}", error=True)

    # --- search and seats ------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "do_search":
            self.search()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "from":
            self.query_one("#to", Input).focus()
        elif event.input.id in ("to", "date"):
            self.search()
        elif event.input.id == "tendered":
            self.action_sell("cash")

    def search(self) -> None:
        from_station = printing.station_code(self.query_one("#from", Input).value)
        to_station = printing.station_code(self.query_one("#to", Input).value)
        if not from_station or not to_station:
            self.say("give the station codes: from and to", error=True)
            return
        try:
            date = printing.station_date(self.query_one("#date", Input).value)
        except argparse.ArgumentTypeError as error:
            self.say(str(error), error=True)
            return
        self.background(
            f"search {from_station}→{to_station} {date}",
            lambda: self.desk.search(from_station, to_station, date, self.tell_from_thread),
            lambda reply: self.show_offers(reply.offers, f"{from_station}→{to_station} {date}"),
        )

    def show_offers(self, offers, what: str) -> None:
        table = self.query_one("#offers", DataTable)
        table.clear()
        self.offers = {o.trip.trip_id: o for o in offers}
        for offer in offers:
            table.add_row(*offer_row(offer), key=offer.trip.trip_id)
        self.say(f"{len(offers)} trip(s) {what}; Enter on one shows its seats" if offers else f"no trips {what}")
        if offers:
            table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "offers":
            self.choose(self.offers[str(event.row_key.value)])

    def choose(self, offer, quiet: bool = False) -> None:
        """Show the offer's seat map; `quiet` (a refresh after a change): leave the status and focus."""
        self.offer = offer
        trip_id, a, b = offer.trip.trip_id, offer.from_stop.code, offer.to_stop.code

        def load():
            return self.desk.seat_map(trip_id, a, b, self.tell_from_thread), self.desk.free_by_leg(
                offer.trip, self.tell_from_thread
            )

        self.background(
            f"seats of {trip_id} {a}→{b}", load, lambda loaded: self._show_seats(loaded, quiet), quiet=quiet
        )

    def _show_seats(self, loaded, quiet: bool) -> None:
        seat_map, legs = loaded
        grid = self.query_one(SeatGrid)
        grid.show(seat_map)
        self.query_one("#legs", Static).update(
            f"{seat_map.trip_id} {seat_map.from_stop.code}→{seat_map.to_stop.code} {printing.yuan(seat_map.fare_fen)}"
            " · free by leg: " + " · ".join(f"{a}→{b} {free}" for a, b, free in legs)
        )
        self._update_free(seat_map)
        if quiet:
            return
        self.say(
            f"{seat_map.trip_id} {seat_map.from_stop.code}→{seat_map.to_stop.code}: {seat_map.seats_free} free, "
            f"fare {printing.yuan(seat_map.fare_fen)}. Arrows and Enter pick seats; F4 cash, F5 sell"
        )
        grid.focus()

    def _update_free(self, seat_map) -> None:
        """The trip list's free seats for the segment just read (a sale or refund changed them)."""
        offer = self.offers.get(seat_map.trip_id)
        segment = (seat_map.from_stop.code, seat_map.to_stop.code)
        if offer is None or (offer.from_stop.code, offer.to_stop.code) != segment:
            return
        table = self.query_one("#offers", DataTable)
        row = table.get_row_index(seat_map.trip_id)
        table.update_cell_at((row, OFFER_COLUMNS.index("free")), str(seat_map.seats_free))

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        if isinstance(event.data_table, SeatGrid):
            problem = event.data_table.toggle(event.coordinate.row, event.coordinate.column)
            if problem:
                self.say(problem, error=True)

    def on_seat_grid_picked(self, event: SeatGrid.Picked) -> None:
        seated = [p for p in self.entered if p.seated]
        if len(seated) > len(event.seats):  # a seat put back: its passenger goes with it
            self.entered = self.entered[: self.entered.index(seated[len(event.seats)])]
        self.show_rows()
        self.update_change()

    # --- passengers ------------------------------------------------------------------------------

    def rows(self) -> list[PassengerRow]:
        """The picked seats with their passengers in order; free children after their adult."""
        seats = list(self.query_one(SeatGrid).picked)
        rows, next_seat = [], 0
        for passenger in self.entered:
            if passenger.seated:
                rows.append(PassengerRow(seats[next_seat], passenger))
                next_seat += 1
            else:
                rows.append(PassengerRow("", passenger))
        rows += [PassengerRow(seat) for seat in seats[next_seat:]]
        return rows

    def show_rows(self, note: str = "") -> None:
        rows = self.rows()
        if not rows and self.last_sale:  # the sale just made stays on show until the next seats are picked
            self.query_one(PassengerRows).update(self.last_sale)
            return
        self.last_sale = ""
        self.query_one(PassengerRows).show(rows, note)

    def action_passenger(self) -> None:
        """The next seat's passenger, or, once every seat has one, a free child for the last adult."""
        seats = self.query_one(SeatGrid).picked
        seated = sum(1 for p in self.entered if p.seated)
        if not seats:
            self.say("pick the seats first; F12 then gives each its passenger", error=True)
            return
        seat = seats[seated] if seated < len(seats) else ""

        def given(passenger: Passenger | None) -> None:
            if passenger is None:
                self.say("passenger not added")
                return
            self.entered.append(passenger)
            self.show_rows()
            self.update_change()
            where = f"seat {seat}" if passenger.seated else "a free child, with the adult above"
            self.say(f"{where}: {passenger.name} {passenger.masked}; F12 the next, F4 cash, F5 sell")

        self.app.push_screen(PassengerDialog(seat), given)

    # --- the sale --------------------------------------------------------------------------------

    def sale_total_fen(self) -> int:
        """What the sale costs, before the server prices it: exact for full fares without insurance;
        for other ticket types the seat's fare is an upper bound and the server's total counts."""
        return len(self.query_one(SeatGrid).picked) * (self.offer.fare_fen if self.offer is not None else 0)

    def priced_exactly(self) -> bool:
        return all(p.ticket_type == "full" and not p.insurance for p in self.entered)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "tendered":
            self.update_change()

    def update_change(self) -> None:
        """Cash given → change, as the seller types."""
        change = self.query_one("#change", Static)
        total, text = self.sale_total_fen(), self.query_one("#tendered", Input).value
        given = parse_yuan(text)
        if not self.priced_exactly():
            shown = f"full fares {printing.yuan(total)}; the ticket types' total is priced by the server when selling"
            change.update(shown if given is None else f"{shown}; given {printing.yuan(given)}")
        elif not text.strip():
            change.update(f"to pay {printing.yuan(total)}")
        elif given is None:
            change.update("cash given: type yuan, e.g. 50 or 50.50")
        elif given < total:
            change.update(f"to pay {printing.yuan(total)}: short by {printing.yuan(total - given)}")
        else:
            change.update(
                f"to pay {printing.yuan(total)}  given {printing.yuan(given)}  CHANGE {printing.yuan(given - total)}"
            )

    def action_sell(self, method: str) -> None:
        grid = self.query_one(SeatGrid)
        if self.offer is None or not grid.picked:
            self.say("pick a trip (Enter on it) and seats (Enter on each) first", error=True)
            return
        seated = sum(1 for p in self.entered if p.seated)
        if self.entered and seated != len(grid.picked):
            self.say(f"{len(grid.picked)} seat(s) and {seated} seated passenger(s): F12 gives each seat one", True)
            return
        total = self.sale_total_fen()
        given: int | None = None  # cash given; None: exact cash (or a card)
        if method == "cash":
            text = self.query_one("#tendered", Input).value
            given = parse_yuan(text) if text.strip() else None
            if text.strip() and given is None:
                self.say("cash given: type yuan, e.g. 50 or 50.50", error=True)
                return
            if given is not None and given < total and self.priced_exactly():
                self.say(f"cash given must cover {printing.yuan(total)}", error=True)
                self.query_one("#tendered", Input).focus()
                return
        offer, seats, passengers = self.offer, tuple(grid.picked), tuple(self.entered)
        trip_id, a, b = offer.trip.trip_id, offer.from_stop.code, offer.to_stop.code

        def sell_and_print():
            sale = self.desk.sell(trip_id, a, b, seats, method, self.tell_from_thread, passengers)
            printed = self._print(sale.tickets, reprint=False)
            self._refresh_shift()
            return sale, printed

        self.background(
            f"selling {len(seats)} seat(s) on {trip_id} by {method}",
            sell_and_print,
            lambda done: self._sold(done[0], done[1], given),
            changes=True,
        )

    def _refresh_shift(self) -> None:
        """In the worker: the shift's paper numbers again (a failure here does not undo the change)."""
        try:
            self.desk.refresh_shift(self.tell_from_thread)
        except KeyunError as error:
            self.tell_from_thread(f"shift not re-read: {explain(error)}")

    def _print(self, tickets, reprint: bool) -> str:
        """Print, in the worker; what happened, for the status line.  A printer that fails does not
        undo a sale: the seller is told, and F9 prints the ticket again."""
        extras = ticket_print.PrintExtras(seller=self.account.login_name, reprint=reprint)
        try:
            paths = self.desk.print_tickets(tickets, extras)
        except Exception as error:  # any failure of a printer, a device path or the PDF library
            return f"NOT printed ({type(error).__name__}: {error}): F9 prints it again"
        return f"printed {', '.join(p.name for p in paths)}"

    def _sold(self, sale: Sale, printed: str, given_fen: int | None) -> None:
        for ticket in sale.tickets:
            self.tickets[ticket.ticket_id] = ticket
        self.show_tickets(sale.tickets[-1].ticket_id if sale.tickets else "")
        given = sale.total_fen if given_fen is None else given_fen
        if given >= sale.total_fen:
            paid = f"cash {printing.yuan(given)}, change {printing.yuan(given - sale.total_fen)}"
        else:
            paid = f"cash {printing.yuan(given)}: COLLECT {printing.yuan(sale.total_fen - given)} more"
        card = "card" + (f", order {sale.order_id}" if sale.order_id else "")
        self.say(
            f"sold {len(sale.tickets)} ticket(s) {printing.yuan(sale.total_fen)}; "
            + (paid if sale.method == "cash" else card)
            + f"; {printed}"
        )
        self.query_one("#tendered", Input).value = ""
        self.entered = []
        self.last_sale = "\n".join([*(fare_line(t) for t in sale.tickets), f"total {printing.yuan(sale.total_fen)}"])
        self.query_one(PassengerRows).update(self.last_sale)
        self.show_shift()
        if self.offer is not None:
            self.choose(self.offer, quiet=True)  # the seats just sold show as taken

    def action_clear_sale(self) -> None:
        self.entered = []
        if self.offer is not None and self.query_one(SeatGrid).seat_map is not None:
            self.query_one(SeatGrid).show(self.query_one(SeatGrid).seat_map)
        self.query_one("#tendered", Input).value = ""
        self.say("sale cleared")

    # --- focus keys ------------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        self.query_one("#to", Input).focus()

    def action_focus_seats(self) -> None:
        self.query_one(SeatGrid).focus()

    def action_focus_cash(self) -> None:
        self.query_one("#tendered", Input).focus()

    def action_focus_tickets(self) -> None:
        self.query_one("#tickets", DataTable).focus()

    # --- the session's tickets: refund, change, reprint ------------------------------------------

    def show_tickets(self, select: str = "") -> None:
        table = self.query_one("#tickets", DataTable)
        current = select or self.selected_ticket_id()
        table.clear()
        for ticket_id, t in self.tickets.items():
            table.add_row(
                ticket_id,
                self.desk.paper_numbers.get(ticket_id, ""),
                f"{t.from_stop.code}→{t.to_stop.code}",
                t.seat_number,
                ticket_print.TICKET_TYPES.get(t.fare.ticket_type, ticket_print.TICKET_TYPES[1]).split()[0]
                + (" +免票儿童" if t.HasField("free_child") else ""),
                printing.yuan(t.price_fen),
                printing.TICKET_STATUS.get(t.status, "?"),
                key=ticket_id,
            )
        if current in self.tickets:
            table.move_cursor(row=list(self.tickets).index(current))

    def selected_ticket_id(self) -> str:
        table = self.query_one("#tickets", DataTable)
        if not table.row_count:
            return ""
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _with_ticket(self, what: str) -> str:
        ticket_id = self.selected_ticket_id()
        if not ticket_id:
            self.say(f"{what}: no ticket selected (F11 goes to the tickets, F10 finds one by id)", error=True)
        return ticket_id

    def action_refund(self) -> None:
        if ticket_id := self._with_ticket("refund"):
            self.background(f"reading {ticket_id}", lambda: self._read_for_refund(ticket_id), self._ask_refund)

    def _read_for_refund(self, ticket_id: str):
        """The ticket, and the server's quote of its refund now (None when it cannot be refunded)."""
        ticket = self.desk.ticket(ticket_id, self.tell_from_thread)
        if ticket.status in (
            common_pb2.TICKET_STATUS_REFUNDED,
            common_pb2.TICKET_STATUS_CHANGED,
            common_pb2.TICKET_STATUS_VOID,
        ):
            return ticket, None
        return ticket, self.desk.quote_refund(ticket_id, self.tell_from_thread)

    def _ask_refund(self, read) -> None:
        ticket, quote = read
        self._keep(ticket)
        if quote is None:
            status = printing.TICKET_STATUS.get(ticket.status, "?")
            self.say(f"{ticket.ticket_id} is {status} already: nothing to refund", error=True)
            return
        question = (
            f"Refund {ticket.ticket_id}, seat {ticket.seat_number}, {ticket.from_stop.code}→{ticket.to_stop.code}, "
            f"departs {printing.local(ticket.from_stop.departs_at)}\n"
            f"fare {printing.yuan(ticket.price_fen)}   fee {printing.yuan(quote.fee_fen)}   "
            f"pay back {printing.yuan(quote.refund_fen)}\n"
            "(the station's refund rule now, as the server applies it)"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.background(
                    f"refunding {ticket.ticket_id}",
                    lambda: self._refund_and_reread(ticket.ticket_id),
                    self._refunded,
                    changes=True,
                )
            else:
                self.say("refund cancelled")

        self.app.push_screen(Confirm(question), answered)

    def _refund_and_reread(self, ticket_id: str):
        refund = self.desk.refund(ticket_id, self.tell_from_thread)
        self._refresh_shift()
        return refund

    def _refunded(self, refund) -> None:
        ticket = refund.ticket
        self._keep(ticket)
        way = f"back through order {refund.by_order}" if refund.by_order else "in cash"
        self.say(
            f"refunded {ticket.ticket_id}: pay back {printing.yuan(ticket.refunded_fen)} {way}, "
            f"fee kept {printing.yuan(ticket.refund_fee_fen)}"
        )
        self.show_shift()
        if self.offer is not None and self.offer.trip.trip_id == ticket.trip.trip_id:
            self.choose(self.offer, quiet=True)

    def _keep(self, ticket) -> None:
        self.tickets[ticket.ticket_id] = ticket
        self.show_tickets(ticket.ticket_id)

    def action_change(self) -> None:
        if not (ticket_id := self._with_ticket("change")):
            return

        def date_given(text: str | None) -> None:
            if not text:
                self.say("change cancelled")
                return
            try:
                date = printing.station_date(text)
            except argparse.ArgumentTypeError as error:
                self.say(str(error), error=True)
                return
            self.background(
                f"trips for {ticket_id} on {date}", lambda: self._change_offers(ticket_id, date), self._pick_trip
            )

        self.app.push_screen(
            Ask(f"Change {ticket_id} to a trip on which day?", printing.DATE_HELP, "today"), date_given
        )

    def _change_offers(self, ticket_id: str, date: str):
        """The ticket, and the other trips of its route on the day for its segment."""
        ticket = self.desk.ticket(ticket_id, self.tell_from_thread)
        reply = self.desk.search(ticket.from_stop.code, ticket.to_stop.code, date, self.tell_from_thread)
        others = [
            o for o in reply.offers if o.trip.route_id == ticket.trip.route_id and o.trip.trip_id != ticket.trip.trip_id
        ]
        return ticket, others

    def _pick_trip(self, found) -> None:
        ticket, offers = found
        self._keep(ticket)
        if not offers:
            self.say(
                f"no other trip of {ticket.trip.route_name} on that day for "
                f"{ticket.from_stop.code}→{ticket.to_stop.code}",
                True,
            )
            return
        by_id = {o.trip.trip_id: o for o in offers}

        def picked(trip_id: str | None) -> None:
            if not trip_id:
                self.say("change cancelled")
                return
            offer = by_id[trip_id]
            difference = offer.fare_fen - ticket.price_fen
            question = (
                f"Change {ticket.ticket_id} (seat {ticket.seat_number}) to {trip_id}, departs "
                f"{printing.local(offer.from_stop.departs_at)}, any free seat?\n"
                f"fare difference {signed_yuan(difference)} ("
                + ("collect it" if difference > 0 else "pay it out" if difference < 0 else "nothing to pay")
                + ")"
            )
            self.app.push_screen(Confirm(question), lambda yes: self._do_change(ticket.ticket_id, trip_id, yes))

        self.app.push_screen(
            TripPicker(f"Move {ticket.ticket_id} to which trip? (Enter picks, Esc cancels)", offers), picked
        )

    def _do_change(self, ticket_id: str, trip_id: str, yes: bool | None) -> None:
        if not yes:
            self.say("change cancelled")
            return

        def change_and_print():
            reply = self.desk.change(ticket_id, trip_id, "", self.tell_from_thread)
            return reply, self._print([reply.new_ticket], reprint=False)

        self.background(f"changing {ticket_id} to {trip_id}", change_and_print, self._changed, changes=True)

    def _changed(self, done) -> None:
        reply, printed = done
        self.tickets[reply.old_ticket.ticket_id] = reply.old_ticket
        self._keep(reply.new_ticket)
        difference = reply.fare_difference_fen
        money = "collect " if difference > 0 else "pay out " if difference < 0 else ""
        self.say(
            f"changed to {reply.new_ticket.ticket_id} seat {reply.new_ticket.seat_number}; "
            f"{money}{signed_yuan(abs(difference)) if difference else 'no fare difference'}; {printed}"
        )
        self.show_shift()

    def action_reprint(self) -> None:
        if not (ticket_id := self._with_ticket("reprint")):
            return

        def read_and_print():
            spoiled = ""
            if self.desk.shift is not None:  # a new paper number; the old one is spoiled
                spoiled = self.desk.reprint_number(ticket_id, self.tell_from_thread).spoiled_number
            ticket = self.desk.ticket(ticket_id, self.tell_from_thread)
            printed = self._print([ticket], reprint=True)
            self._refresh_shift()
            return ticket, printed, spoiled

        self.background(f"reprinting {ticket_id}", read_and_print, self._reprinted, changes=True)

    def _reprinted(self, done) -> None:
        ticket, printed, spoiled = done
        self._keep(ticket)
        number = self.desk.paper_numbers.get(ticket.ticket_id, "")
        paper = f"; paper number {number}, {spoiled} spoiled" if spoiled else ""
        self.say(f"reprint of {ticket.ticket_id}{paper}: {printed} and to the ticket printer")
        self.show_shift()

    def action_void(self) -> None:
        if not (ticket_id := self._with_ticket("void")):
            return
        ticket = self.tickets[ticket_id]
        question = (
            f"Void 废票 {ticket_id}, seat {ticket.seat_number}, {ticket.from_stop.code}→{ticket.to_stop.code}?\n"
            f"pay back {printing.yuan(ticket.price_fen)} in full, no fee; the seat is free again and the paper "
            "number is spoiled (only in the shift that sold it, within the station's void window)"
        )

        def answered(yes: bool | None) -> None:
            if not yes:
                self.say("void cancelled")
                return

            def void():
                reply = self.desk.void(ticket_id, self.tell_from_thread)
                self._refresh_shift()
                return reply

            self.background(f"voiding {ticket_id}", void, self._voided, changes=True)

        self.app.push_screen(Confirm(question), answered)

    def _voided(self, reply) -> None:
        self._keep(reply.ticket)
        spoiled = f"; paper number {reply.spoiled_number} spoiled" if reply.spoiled_number else ""
        self.say(f"voided {reply.ticket.ticket_id}: pay back {printing.yuan(reply.ticket.price_fen)}{spoiled}")
        self.show_shift()
        if self.offer is not None and self.offer.trip.trip_id == reply.ticket.trip.trip_id:
            self.choose(self.offer, quiet=True)

    def action_find_ticket(self) -> None:
        def given(ticket_id: str | None) -> None:
            if ticket_id:
                self.background(
                    f"finding {ticket_id}", lambda: self.desk.ticket(ticket_id, self.tell_from_thread), self._found
                )

        self.app.push_screen(Ask("Ticket id (as printed, or scanned):", "K103-20261208-0001"), given)

    def _found(self, ticket) -> None:
        self._keep(ticket)
        self.query_one("#tickets", DataTable).focus()
        self.say(
            f"{ticket.ticket_id}: {printing.TICKET_STATUS.get(ticket.status, '?')}; F7 refund, F8 change, F9 reprint"
        )


def fare_line(ticket) -> str:
    """A sold ticket's type, components and total, for the screen (the name and number masked)."""
    lines = dict((en, value) for _, en, value in ticket_print.fare_lines(ticket))
    parts = " + ".join(
        f"{label} {lines[label]}"
        for label in ("Base fare", "Service fee", "Fuel surcharge", "Insurance")
        if label in lines
    )
    who = ""
    if ticket.HasField("holder"):
        who = ticket_print.mask_documents(f" {ticket.holder.name} {ticket.holder.document_number}")
    if ticket.HasField("free_child"):
        who += " + free child " + ticket_print.mask_documents(ticket.free_child.name)
    kind = lines.get("Type", "full")
    return f"seat {ticket.seat_number:>3} {kind}{who}: {parts} = {printing.yuan(ticket.price_fen)}"


class CounterApp(App):
    """The counter application: a login screen, then the desk."""

    TITLE = "Keyun counter 售票"
    CSS = CSS

    def __init__(
        self,
        target: str,
        print_dir: Path,
        printer: Path | None = None,
        escpos: bool = False,
        terminal_id: str = "",
        deadline_s: float = 5.0,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        patience_s: float | None = None,
    ) -> None:
        super().__init__()
        self.client = KeyunClient(
            target, deadline_s=deadline_s, ca_file=ca_file, cert_file=cert_file, key_file=key_file
        )
        self.desk = CounterDesk(self.client, print_dir, printer, escpos, terminal_id)
        if patience_s is not None:
            self.desk.patience_s = patience_s

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())

    def open_desk(self) -> None:
        self.switch_screen(DeskScreen(self.desk, self.client.account))

    def on_unmount(self) -> None:
        self.desk.closing.set()  # workers waiting for the server stop waiting
        if self.client.access_token:
            # One short try: the screen is gone, and a server that is away ends the idle session itself.
            self.client.deadline_s, self.client.attempts = 1.0, 1
            try:
                self.client.logout()
            except KeyunError:
                pass  # the session ends on the server when it idles out
        self.client.close()


def run(args: argparse.Namespace) -> int:
    """`keyun counter` with no verb."""
    app = CounterApp(
        args.server,
        args.print_dir,
        args.printer,
        args.printer_format == "escpos",
        args.terminal_id,
        args.deadline,
        args.ca,
        args.cert,
        args.key,
    )
    app.run()
    return 0
