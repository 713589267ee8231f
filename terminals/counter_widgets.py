"""The counter workstation's panels, each its own widget so later parts slot in beside them: the seat
grid, the passenger rows of a sale, the session's totals, and the dialogs for refund, rebooking and
finding a ticket."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from . import printing
from .counter_desk import ShiftTotals


class SeatGrid(DataTable):
    """The coach's seats for one segment, front at the top: free seats by number, taken ones as ××,
    the aisle blank.  Arrows move, Enter or a click picks a free seat or puts it back."""

    class Picked(Message):
        def __init__(self, seats: tuple[str, ...]) -> None:
            super().__init__()
            self.seats = seats

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, show_header=False, **kwargs)
        self.seat_map = None
        self.picked: list[str] = []
        self.free: set[str] = set()

    async def _on_click(self, event: events.Click) -> None:
        """A click picks a seat at once (a DataTable's first click on a cell only moves the cursor
        there); DataTable's own click handling is skipped."""
        meta = event.style.meta
        if meta.get("row", -1) >= 0 and meta.get("column", -1) >= 0 and not meta.get("out_of_bounds", False):
            event.prevent_default()
            self.cursor_coordinate = Coordinate(meta["row"], meta["column"])
            self.action_select_cursor()

    def show(self, seat_map) -> None:
        self.seat_map, self.picked = seat_map, []
        self.free = {s.seat_number for row in seat_map.rows for s in row.seats if s.seat_number and s.free}
        self.clear(columns=True)
        width = max((len(row.seats) for row in seat_map.rows), default=0)
        self.add_columns(*(" " for _ in range(width)))
        for row in seat_map.rows:
            cells = [self._cell(seat.seat_number) for seat in row.seats]
            self.add_row(*cells, *([""] * (width - len(cells))))
        self._tell()

    def clear_map(self) -> None:
        self.seat_map, self.picked, self.free = None, [], set()
        self.clear(columns=True)
        self._tell()

    def _cell(self, seat_number: str) -> Text:
        if not seat_number:
            return Text("")
        if seat_number in self.picked:
            return Text(f"[{seat_number:>2}]", style="bold black on yellow")
        if seat_number in self.free:
            return Text(f" {seat_number:>2} ", style="green")
        return Text(" ×× ", style="red dim")

    def seat_at(self, row: int, column: int) -> str:
        if self.seat_map is None or row >= len(self.seat_map.rows) or column >= len(self.seat_map.rows[row].seats):
            return ""
        return self.seat_map.rows[row].seats[column].seat_number

    def toggle(self, row: int, column: int) -> str:
        """Pick a free seat or put a picked one back; a message for the seller when nothing happens."""
        seat = self.seat_at(row, column)
        if not seat:
            return "that is the aisle"
        if seat not in self.free:
            return f"seat {seat} is taken"
        if seat in self.picked:
            self.picked.remove(seat)
        else:
            self.picked.append(seat)
        self.update_cell_at((row, column), self._cell(seat))
        self._tell()
        return ""

    def _tell(self) -> None:
        self.post_message(self.Picked(tuple(self.picked)))


@dataclass(frozen=True)
class PassengerRow:
    """One ticket of the sale being made: its seat, its ticket type and its fare.  Today every ticket
    is full fare and anonymous (the API has no ticket types or walk-in passengers yet)."""

    seat: str
    fare_fen: int
    ticket_type: str = "full fare 全票"


class PassengerRows(Static):
    """The tickets of the sale being made, one row each, and the total."""

    def show(self, rows: list[PassengerRow]) -> None:
        if not rows:
            self.update("no seats picked: pick seats on the map (Enter or click)")
            return
        lines = [f"seat {r.seat:>3}  {r.ticket_type:<14} {printing.yuan(r.fare_fen):>9}" for r in rows]
        lines.append(f"{len(rows)} ticket(s)  total {printing.yuan(sum(r.fare_fen for r in rows)):>16}")
        self.update("\n".join(lines))


def parse_yuan(text: str) -> int | None:
    """Cash tendered as the seller types it (100, 100.5, ¥100.50) in fen; None when it is not money."""
    cleaned = text.strip().lstrip("¥").replace(",", "")
    if not cleaned:
        return None
    whole, _, part = cleaned.partition(".")
    if not whole.isdigit() or (part and (not part.isdigit() or len(part) > 2)):
        return None
    return int(whole) * 100 + int(part.ljust(2, "0") or 0)


def signed_yuan(fen: int) -> str:
    return ("-" if fen < 0 else "") + printing.yuan(abs(fen))


def offer_row(offer) -> tuple[str, ...]:
    """An offer as the trip tables show it: trip, departure (zone), segment, fare, free seats, status."""
    return (
        offer.trip.trip_id,
        printing.local(offer.from_stop.departs_at),
        f"{offer.from_stop.code}→{offer.to_stop.code}",
        printing.yuan(offer.fare_fen),
        str(offer.seats_free),
        printing.TRIP_STATUS.get(offer.status, "?"),
        offer.trip.route_name,
    )


OFFER_COLUMNS = ("trip", "departs", "segment", "fare", "free", "status", "route")


class TripPicker(ModalScreen[str]):
    """Pick one of a list of offers (the trips a ticket can move to): Enter or a click picks, Escape
    gives up."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, offers) -> None:
        super().__init__()
        self.question, self.offers = question, list(offers)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            table: DataTable = DataTable(cursor_type="row", id="picker")
            table.add_columns(*OFFER_COLUMNS)
            for offer in self.offers:
                table.add_row(*offer_row(offer), key=offer.trip.trip_id)
            yield table

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_cancel(self) -> None:
        self.dismiss("")


class ShiftPanel(Static):
    """This session's totals: what was sold, refunded and rebooked, and the cash it should hold."""

    def show(self, totals: ShiftTotals) -> None:
        sold = ", ".join(f"{method} {printing.yuan(fen)}" for method, fen in sorted(totals.sold_fen.items()))
        self.update(
            "\n".join(
                [
                    "this session",
                    f"sold      {totals.tickets_sold} ticket(s)  {sold or '¥0.00'}",
                    f"refunded  {totals.tickets_refunded} ticket(s)  paid back {printing.yuan(totals.refunded_fen)}"
                    f"  fees kept {printing.yuan(totals.refund_fees_fen)}",
                    f"changed   {totals.tickets_changed} ticket(s)  "
                    f"difference {signed_yuan(totals.change_collected_fen)}",
                    f"reprints  {totals.reprints}",
                    f"cash in drawer  {signed_yuan(totals.cash_in_drawer_fen())}",
                ]
            )
        )


class Confirm(ModalScreen[bool]):
    """A yes/no question: Enter or y confirms, Escape or n declines."""

    BINDINGS = [
        Binding("enter,y", "answer(True)", "Confirm", priority=True),
        Binding("escape,n", "answer(False)", "Cancel", priority=True),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            yield Label("Enter/y: confirm    Esc/n: cancel")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class Ask(ModalScreen[str]):
    """One line of input: Enter gives it, Escape gives an empty answer."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.question, self.placeholder, self.value = question, placeholder, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            yield Input(value=self.value, placeholder=self.placeholder, id="answer")

    def on_mount(self) -> None:
        answer = self.query_one("#answer", Input)
        answer.focus()
        answer.select_all()  # typing replaces the suggested answer

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss("")
