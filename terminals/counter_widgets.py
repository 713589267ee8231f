"""The counter workstation's panels: the seat grid, the passengers of a sale, the shift, and the
dialogs for passengers, refund, rebooking, closing the shift and finding a ticket."""

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

from keyun.v1 import orders_pb2, shifts_pb2

from . import printing
from .counter_desk import DOCUMENT_TYPES, TICKET_TYPE_LABELS, TICKET_TYPES, Passenger, ShiftTotals, mask_number


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
    """One line of the sale being made: a seat and who sits in it (None: an anonymous full fare), or
    a free child (seat "") riding with the adult above it."""

    seat: str
    passenger: Passenger | None = None

    def text(self) -> str:
        seat = f"seat {self.seat:>3}" if self.seat else "  (lap)  "
        if self.passenger is None:
            return f"{seat}  full 全票 (anonymous)"
        p = self.passenger
        extras = (" +insurance" if p.insurance else "") + (f" proof {p.proof_type}" if p.proof_type else "")
        return f"{seat}  {TICKET_TYPE_LABELS[p.ticket_type]:<18} {p.name} {p.masked}{extras}"


class PassengerRows(Static):
    """The passengers of the sale being made, one row each (document numbers masked)."""

    def show(self, rows: list[PassengerRow], note: str = "") -> None:
        if not rows:
            self.update("no seats picked: pick seats on the map (Enter or click)")
            return
        lines = [r.text() for r in rows]
        lines.append(note or "F12 adds a passenger (ticket type, document scan, name); none: anonymous full fares")
        self.update("\n".join(lines))


class PassengerDialog(ModalScreen[Passenger | None]):
    """A walk-in passenger, from the keyboard: Enter moves to the next field and, on the last, gives
    the passenger; Escape gives up.  The document number field hides what is typed (a scanner in
    keyboard mode types it and Enter) and shows it masked once entered."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    FIELDS = ("ticket_type", "document_type", "document_number", "name", "insurance", "proof_type", "proof_number")

    def __init__(self, seat: str) -> None:
        super().__init__()
        self.seat = seat
        self.number = ""  # the real document number, never on screen

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                f"Passenger for seat {self.seat} (free_child: a child without a seat, riding with the adult above)"
                if self.seat
                else "A free child (no seat), riding with the adult above"
            )
            default = "full" if self.seat else "free_child"
            yield Input(placeholder=f"ticket type (Enter: {default}): " + ", ".join(TICKET_TYPES), id="ticket_type")
            yield Input(
                placeholder="document type (Enter: RESIDENT_ID): " + ", ".join(DOCUMENT_TYPES), id="document_type"
            )
            yield Input(placeholder="document number (scan or type, then Enter)", password=True, id="document_number")
            yield Input(placeholder="name", id="name")
            yield Input(placeholder="accident insurance 乘意险: y or n (Enter: n)", id="insurance")
            yield Input(placeholder="concession: proof document type (残疾军人证...)", id="proof_type")
            yield Input(placeholder="concession: proof document number", id="proof_number")
            yield Static("", id="passenger_problem")

    def on_mount(self) -> None:
        self.query_one("#ticket_type", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        field_id = event.input.id or ""
        if field_id == "document_number" and event.input.password:
            self.number = event.value.strip().upper()
            event.input.password = False
            event.input.value = mask_number(self.number)
        index = self.FIELDS.index(field_id)
        if index + 1 < len(self.FIELDS):
            self.query_one(f"#{self.FIELDS[index + 1]}", Input).focus()
            return
        self.give()

    def on_input_changed(self, event: Input.Changed) -> None:
        # Typing into the masked number again starts a new number, hidden as before.
        if event.input.id == "document_number" and not event.input.password and "*" not in event.value:
            self.number = ""
            event.input.password = True

    def give(self) -> None:
        value = {f: self.query_one(f"#{f}", Input).value.strip() for f in self.FIELDS}
        ticket_type = value["ticket_type"].lower().replace(" ", "_") or ("full" if self.seat else "free_child")
        value["document_type"] = value["document_type"] or "RESIDENT_ID"
        problem = ""
        if ticket_type not in TICKET_TYPES:
            problem = "ticket type: one of " + ", ".join(TICKET_TYPES)
        elif value["document_type"].upper() not in DOCUMENT_TYPES:
            problem = "document type: one of " + ", ".join(DOCUMENT_TYPES)
        elif not self.number:
            problem = "document number: scan it or type it and press Enter"
        elif not value["name"]:
            problem = "name: as on the document"
        elif not self.seat and ticket_type != "free_child":
            problem = "every seat has its passenger: only a free child (no seat) can be added"
        if problem:
            self.query_one("#passenger_problem", Static).update(problem)
            return
        self.dismiss(
            Passenger(
                ticket_type,
                value["document_type"].upper(),
                self.number,
                value["name"],
                value["insurance"].lower().startswith("y"),
                value["proof_type"],
                value["proof_number"],
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


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


SHIFT_STATUS = {
    shifts_pb2.SHIFT_STATUS_OPEN: "open",
    shifts_pb2.SHIFT_STATUS_CLOSED: "closed",
    shifts_pb2.SHIFT_STATUS_DEPOSITED: "deposited",
}


class ShiftPanel(Static):
    """The seller's shift as the server keeps it: paper numbers used, spoiled and left, the next
    one, and its slip so far (GetShift's `running`: sold, voided, refunded, money by method, the
    cash the drawer should hold).  Without a shift, what this desk took in and paid out."""

    def show(self, shift, totals: ShiftTotals) -> None:
        if shift is not None and shift.HasField("running"):
            self.update("\n".join([*self.head_lines(shift), *self.running_lines(shift.running)]))
            return
        head = ["no open shift (sales without paper numbers)"] if shift is None else self.head_lines(shift)
        self.update("\n".join([*head, "this desk, this session:", *self.local_lines(totals)]))

    @staticmethod
    def head_lines(shift) -> list[str]:
        printed = sum(1 for n in shift.numbers if n.ticket_id and not n.spoiled)
        spoiled = sum(1 for n in shift.numbers if n.spoiled)
        return [
            f"shift {shift.shift_id} · counter {shift.counter_id} · {SHIFT_STATUS.get(shift.status, '?')} · "
            f"opened {printing.local(shift.opened_at)}",
            f"paper numbers: printed {printed}, spoiled {spoiled}, left {shift.numbers_left}, "
            f"next {shift.next_number or '-'}",
        ]

    @staticmethod
    def running_lines(slip) -> list[str]:
        methods = ", ".join(
            f"{orders_pb2.PayMethod.Name(m.method).removeprefix('PAY_METHOD_').lower()} {signed_yuan(m.net_fen)}"
            for m in slip.methods
        )
        return [
            f"sold      {slip.sold_count} ticket(s)  {printing.yuan(slip.sold_fen)}",
            f"voided    {slip.voided_count} ticket(s)  {printing.yuan(slip.voided_fen)}",
            f"refunded  {slip.refunded_count} ticket(s)  paid back {printing.yuan(slip.refunded_fen)}"
            f"  fees kept {printing.yuan(slip.refund_fees_fen)}",
            f"changed   {slip.changed_count} ticket(s)  difference {signed_yuan(slip.changed_fen)}",
            f"reprints  {slip.reprinted_count}",
            f"net by method  {methods or '-'}",
            f"cash in drawer  {signed_yuan(slip.expected_cash_fen)}",
        ]

    @staticmethod
    def local_lines(totals: ShiftTotals) -> list[str]:
        sold = ", ".join(f"{method} {printing.yuan(fen)}" for method, fen in sorted(totals.sold_fen.items()))
        voided = ", ".join(f"{method} {printing.yuan(fen)}" for method, fen in sorted(totals.voided_fen.items()))
        return [
            f"sold      {totals.tickets_sold} ticket(s)  {sold or '¥0.00'}",
            f"voided    {totals.tickets_voided} ticket(s)  {voided or '¥0.00'}",
            f"refunded  {totals.tickets_refunded} ticket(s)  paid back {printing.yuan(totals.refunded_fen)}"
            f"  fees kept {printing.yuan(totals.refund_fees_fen)}",
            f"changed   {totals.tickets_changed} ticket(s)  difference {signed_yuan(totals.change_collected_fen)}",
            f"reprints  {totals.reprints}",
            f"cash in drawer  {signed_yuan(totals.cash_in_drawer_fen())}",
        ]


def slip_text(shift) -> str:
    """The handover slip (交接单) of a closed shift, as the seller reads it before handing over."""
    slip = shift.slip
    methods = "; ".join(
        f"{orders_pb2.PayMethod.Name(m.method).removeprefix('PAY_METHOD_').lower()} net {signed_yuan(m.net_fen)}"
        for m in slip.methods
    )
    over_short = "over" if slip.over_short_fen > 0 else "short" if slip.over_short_fen < 0 else "exact"
    return "\n".join(
        [
            f"Handover slip 交接单 · shift {shift.shift_id} · counter {shift.counter_id}",
            f"sold {slip.sold_count} ticket(s) {printing.yuan(slip.sold_fen)}",
            f"voided {slip.voided_count} {printing.yuan(slip.voided_fen)} · refunded {slip.refunded_count} "
            f"paid back {printing.yuan(slip.refunded_fen)}, fees kept {printing.yuan(slip.refund_fees_fen)}",
            f"changed {slip.changed_count} {signed_yuan(slip.changed_fen)} · reprinted {slip.reprinted_count}",
            f"by method: {methods or '-'}",
            f"numbers used {len(slip.numbers_used)}, spoiled {len(slip.spoiled)}"
            + (f", UNNUMBERED {len(slip.unnumbered_ticket_ids)}" if slip.unnumbered_ticket_ids else ""),
            f"expected cash {signed_yuan(slip.expected_cash_fen)} · counted {signed_yuan(slip.counted_cash_fen)} · "
            f"{over_short} {signed_yuan(abs(slip.over_short_fen))}",
        ]
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


class Info(ModalScreen[bool]):
    """Something the seller reads (the handover slip): Enter or Escape closes it."""

    BINDINGS = [Binding("enter,escape", "close", "Close", priority=True)]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.text, id="info")
            yield Label("Enter: close")

    def action_close(self) -> None:
        self.dismiss(True)


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
