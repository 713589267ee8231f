"""Seller shifts and paper ticket stock (票据管理): the pure core, hosted by the accounts owner.

The accounts owner keeps this book beside its accounts (`AccountsState.shifts`), so every change
is an event in its write-ahead log: replayed after a restart, in every backup, and audited like
every other call.  See docs/shifts.md for the whole design; in short:

- A trip's owner is the source of truth for money.  A ticket sold, refunded or voided by a seller
  in a shift carries that shift's id in its trip owner (`engine.events.CounterSale`,
  `TicketRefunded.shift_id`), journaled with the sale itself.
- This book holds what only the counter knows: who opened which shift where, the paper stock, and
  which paper number went on which ticket (a number is taken here after the sale, with the sale's
  request id, so a retried sale takes its numbers once).
- The handover slip is computed when the shift closes, from the trip owners' tickets of the shift
  (`handover`), so a gateway that died between a sale and its number loses no money from the
  slip and counts nothing twice: such a ticket is listed as sold without a paper number.
"""

from __future__ import annotations

import re
from enum import Enum

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, quote, reject
from .values import Command, Event, Query, Reply, Value

SHIFT_ID = re.compile(r"S[0-9]{6,}")
COUNTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}")
BATCH_ID = re.compile(r"B[0-9]{6,}")
BATCH_CODE = re.compile(r"[A-Za-z0-9]{0,20}")
# Paper ticket numbers are printed by the stock's printer with a fixed width: 6 to 12 digits.
MIN_DIGITS, MAX_DIGITS = 6, 12
# One batch is at most a million tickets: a large station's year.
MAX_BATCH_SIZE = 1_000_000
MAX_REASON_CHARS = 64
# Money counted into a drawer: at most a million yuan.
MAX_CASH_FEN = 100_000_000
# How a counter sale is paid: cash in the drawer or a card on the counter's POS terminal.
COUNTER_PAY_METHODS = ("cash", "card")
# Why a number is spoiled (a free reason may follow after ": ").
SPOIL_KINDS = ("jam", "skip", "misprint", "reprint", "void", "unprinted")


class ShiftStatus(Enum):
    OPEN = "open"
    CLOSED = "closed"  # the slip is made; the cash waits for finance
    DEPOSITED = "deposited"  # finance confirmed the deposit (缴款)


def check_shift_id(value: str, field_name: str = "shift_id") -> None:
    if not SHIFT_ID.fullmatch(value or ""):
        raise invalid(field_name, f"{quote(value)} is not a shift id like S000001")


def check_counter_id(value: str) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, "counter_id is required", field="counter_id"))
    if not COUNTER_ID.fullmatch(value):
        raise invalid("counter_id", "1 to 16 letters, digits, '_', '.' or '-'")


def check_pay_method(value: str) -> None:
    if value not in COUNTER_PAY_METHODS:
        raise invalid("pay_method", f"{quote(value)} is not one of {', '.join(COUNTER_PAY_METHODS)}")


def check_spoil_reason(value: str) -> None:
    kind = value.partition(":")[0].strip()
    if kind not in SPOIL_KINDS or len(value) > MAX_REASON_CHARS or any(ord(c) < 32 for c in value):
        raise invalid("reason", f"starts with one of {', '.join(SPOIL_KINDS)}, at most {MAX_REASON_CHARS} characters")


def _request(value: str) -> None:
    from .commands import check_request_id  # the trip commands' rule for request ids

    check_request_id(value)


def _ticket(value: str) -> None:
    from .commands import TICKET_SUFFIX, _split_id  # the trip commands' rule for ticket ids

    _split_id("ticket_id", value, TICKET_SUFFIX)


def _account(value: str, field_name: str = "account_id") -> None:
    if not re.fullmatch(r"A[0-9]{6,}", value or ""):
        raise invalid(field_name, f"{quote(value)} is not an account id like A000001")


# ---------------------------------------------------------------------------------------------
# State.


class StockBatch(Value, frozen=False):
    """Pre-numbered paper received from the printer (or the tax authority): numbers first..last."""

    batch_id: str
    batch_code: str  # printed on the paper by the tax authority, "" when there is none
    first: int
    last: int
    digits: int
    received_at_ms: int
    received_by: str
    issued: list[tuple[int, int]] = msgspec.field(default_factory=list)  # ranges handed to sellers

    def label(self, number: int) -> str:
        return f"{self.batch_code}{number:0{self.digits}d}"


class IssuedRange(Value, frozen=False):
    """Numbers first..last of a batch in a seller's hands; `next` is the next one to print."""

    range_id: str
    batch_id: str
    account_id: str
    first: int
    last: int
    next: int
    issued_at_ms: int
    issued_by: str

    def left(self) -> int:
        return self.last - self.next + 1


class NumberUse(Value):
    """One paper number gone from a seller's roll: printed on a ticket, or spoiled with a reason."""

    number: str
    ticket_id: str  # "" for a number spoiled on its own (a jam, a skip)
    spoiled: str  # "" while it is the ticket's number; else why it is spoiled
    at_ms: int


class MethodTotal(Value):
    method: str
    sold_fen: int
    voided_fen: int
    refunded_fen: int  # paid back out of the drawer (or to the card)
    net_fen: int
    changed_fen: int = 0  # rebooking differences: collected (positive) or paid back (negative)


class Slip(Value):
    """The handover slip (交接单), made once, when the shift closes."""

    shift_id: str
    account_id: str
    counter_id: str
    opened_at_ms: int
    closed_at_ms: int
    sold_count: int
    sold_fen: int
    refunded_count: int
    refunded_fen: int
    refund_fees_fen: int
    voided_count: int
    voided_fen: int
    reprinted_count: int
    methods: tuple[MethodTotal, ...]
    numbers_used: tuple[str, ...]  # printed on tickets sold and kept
    spoiled: tuple[tuple[str, str], ...]  # (number, why)
    unnumbered: tuple[str, ...]  # tickets of the shift no paper number was recorded for
    expected_cash_fen: int
    counted_cash_fen: int
    over_short_fen: int  # counted minus expected: positive over, negative short
    changed_count: int = 0  # rebookings (改签) at the counter: not in sold_count
    changed_fen: int = 0  # their differences: collected (positive) or paid back (negative)


class Shift(Value, frozen=False):
    shift_id: str
    account_id: str
    counter_id: str
    opened_at_ms: int
    status: ShiftStatus = ShiftStatus.OPEN
    numbers: list[NumberUse] = msgspec.field(default_factory=list)
    printed: dict[str, str] = msgspec.field(default_factory=dict)  # ticket id -> its current number
    sales: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)  # sale request id -> ticket ids
    closed_at_ms: int = 0
    slip: Slip | None = None
    deposited_at_ms: int = 0
    deposited_by: str = ""
    deposit_fen: int = 0


class ShiftBook(Value, frozen=False):
    shifts: dict[str, Shift] = msgspec.field(default_factory=dict)
    open_by_account: dict[str, str] = msgspec.field(default_factory=dict)
    batches: dict[str, StockBatch] = msgspec.field(default_factory=dict)
    ranges: dict[str, IssuedRange] = msgspec.field(default_factory=dict)
    ranges_by_account: dict[str, list[str]] = msgspec.field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# What a trip owner says about a shift's tickets (engine.counter_sales.ShiftTickets answers it).


class ShiftTicket(Value):
    ticket_id: str
    price_fen: int
    status: str  # engine.state.TicketStatus value
    pay_method: str  # "" when it was not sold at a counter in a shift
    sold_in_shift: bool
    refunded_in_shift: bool
    refund_fee_fen: int
    refunded_fen: int
    issued_at_ms: int
    # A rebooking (改签) at the counter: the ticket it replaced, and that ticket's price (the
    # gateway asks its owner, which may be another), so only the difference counts here.
    changed_from: str = ""
    changed_from_fen: int = 0


class ShiftTicketsView(Value, Reply):
    tickets: tuple[ShiftTicket, ...]


# ---------------------------------------------------------------------------------------------
# Commands and queries.


class OpenShift(Value, Command):
    request_id: str
    account_id: str
    counter_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        _account(self.account_id)
        check_counter_id(self.counter_id)


class RecordSale(Value, Command):
    """After a sale in a shift: the seller's next paper numbers go on its tickets.  `sale_id` is
    the sale's own request id, so a retried sale takes its numbers once."""

    request_id: str
    shift_id: str
    sale_id: str
    ticket_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_shift_id(self.shift_id)


class Reprint(Value, Command):
    """A ticket printed again: its number is spoiled and it takes the next one."""

    request_id: str
    account_id: str
    ticket_id: str
    reason: str = "reprint"

    def __post_init__(self) -> None:
        _request(self.request_id)
        _account(self.account_id)
        _ticket(self.ticket_id)
        if not self.reason.startswith("reprint"):
            raise invalid("reason", '"reprint" or "reprint: <note>"')
        check_spoil_reason(self.reason)


class SpoilNumber(Value, Command):
    """The seller's next number is spoiled without a ticket: the printer jammed, a sheet was skipped."""

    request_id: str
    account_id: str
    reason: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        _account(self.account_id)
        check_spoil_reason(self.reason)


class RecordVoid(Value, Command):
    """A sale of the shift voided in its trip owner: its number is spoiled."""

    request_id: str
    shift_id: str
    ticket_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_shift_id(self.shift_id)


class CloseShift(Value, Command):
    """Close with the cash counted; `tickets` are the trip owners' tickets of the shift."""

    request_id: str
    account_id: str
    shift_id: str
    counted_cash_fen: int
    tickets: tuple[ShiftTicket, ...] = ()

    def __post_init__(self) -> None:
        _request(self.request_id)
        _account(self.account_id)
        check_shift_id(self.shift_id)
        if not 0 <= self.counted_cash_fen <= MAX_CASH_FEN:
            raise invalid("counted_cash_fen", f"0..{MAX_CASH_FEN}")


class ConfirmDeposit(Value, Command):
    """Finance received the shift's money (缴款)."""

    request_id: str
    shift_id: str
    account_id: str  # the finance user
    amount_fen: int

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_shift_id(self.shift_id)
        _account(self.account_id)
        if not 0 <= self.amount_fen <= MAX_CASH_FEN:
            raise invalid("amount_fen", f"0..{MAX_CASH_FEN}")


class ReceiveStock(Value, Command):
    request_id: str
    account_id: str  # the stock keeper
    batch_code: str
    first: int
    last: int
    digits: int = 8

    def __post_init__(self) -> None:
        _request(self.request_id)
        _account(self.account_id)
        if not BATCH_CODE.fullmatch(self.batch_code):
            raise invalid("batch_code", "at most 20 letters and digits")
        if not MIN_DIGITS <= self.digits <= MAX_DIGITS:
            raise invalid("digits", f"{MIN_DIGITS}..{MAX_DIGITS}")
        if not 0 <= self.first <= self.last < 10**self.digits:
            raise invalid("last", f"first..last must be a range of {self.digits}-digit numbers, first <= last")
        if self.last - self.first + 1 > MAX_BATCH_SIZE:
            raise invalid("last", f"a batch holds at most {MAX_BATCH_SIZE} numbers")


class IssueStock(Value, Command):
    request_id: str
    account_id: str  # the stock keeper
    batch_id: str
    seller_id: str
    first: int
    last: int

    def __post_init__(self) -> None:
        _request(self.request_id)
        _account(self.account_id)
        _account(self.seller_id, "seller_id")
        if not BATCH_ID.fullmatch(self.batch_id or ""):
            raise invalid("batch_id", f"{quote(self.batch_id)} is not a batch id like B000001")
        if not 0 <= self.first <= self.last:
            raise invalid("last", "first..last with first <= last")


class CurrentShift(Value, Query):
    account_id: str


class GetShift(Value, Query):
    shift_id: str

    def __post_init__(self) -> None:
        check_shift_id(self.shift_id)


class RunningSlip(Value, Query):
    """An open shift's slip so far, from the trip owners' tickets of the shift (the gateway gathers
    them, as for CloseShift): what the seller's drawer should hold now.  Nothing is recorded."""

    shift_id: str
    tickets: tuple[ShiftTicket, ...] = ()

    def __post_init__(self) -> None:
        check_shift_id(self.shift_id)


class RunningSlipView(Value, Reply):
    slip: Slip


class ListShifts(Value, Query):
    offset: int
    page_size: int
    account_id: str = ""  # "" for every seller's


class ListStock(Value, Query):
    offset: int
    page_size: int


# ---------------------------------------------------------------------------------------------
# Events.


class ShiftOpened(Value, Event):
    shift_id: str
    account_id: str
    counter_id: str
    at_ms: int


class NumbersUsed(Value, Event):
    """Paper numbers gone from a seller's roll, in order; `sale_id` set when a sale took them."""

    shift_id: str
    account_id: str
    uses: tuple[NumberUse, ...]
    sale_id: str = ""


class NumberSpoiled(Value, Event):
    """A ticket's printed number spoiled (a reprint, a void): the ticket keeps no number, or the next."""

    shift_id: str
    ticket_id: str
    reason: str
    at_ms: int


class ShiftClosed(Value, Event):
    shift_id: str
    slip: Slip


class DepositConfirmed(Value, Event):
    shift_id: str
    account_id: str
    amount_fen: int
    at_ms: int


class StockReceived(Value, Event):
    batch: StockBatch


class StockIssued(Value, Event):
    range: IssuedRange


# ---------------------------------------------------------------------------------------------
# Replies.


class ShiftView(Value, Reply):
    shift_id: str
    account_id: str
    counter_id: str
    status: ShiftStatus
    opened_at_ms: int
    closed_at_ms: int
    numbers: tuple[NumberUse, ...]
    numbers_left: int  # on the seller's issued ranges
    next_number: str  # "" when none is left
    slip: Slip | None
    deposited_at_ms: int
    deposited_by: str
    deposit_fen: int


class ShiftsPage(Value, Reply):
    shifts: tuple[ShiftView, ...]
    next_offset: int  # 0 when this is the last page


class StockPage(Value, Reply):
    batches: tuple[StockBatch, ...]
    ranges: tuple[IssuedRange, ...]
    next_offset: int


class SaleNumbers(Value, Reply):
    shift_id: str
    numbers: tuple[tuple[str, str], ...]  # (ticket id, paper number)


SHIFT_COMMANDS = (
    OpenShift,
    RecordSale,
    Reprint,
    SpoilNumber,
    RecordVoid,
    CloseShift,
    ConfirmDeposit,
    ReceiveStock,
    IssueStock,
)
SHIFT_QUERIES = (CurrentShift, GetShift, ListShifts, ListStock, RunningSlip)
SHIFT_EVENTS = (ShiftOpened, NumbersUsed, NumberSpoiled, ShiftClosed, DepositConfirmed, StockReceived, StockIssued)


# ---------------------------------------------------------------------------------------------
# Deciding.


def no_open_shift(account_id: str) -> Rejection:
    return reject(
        Reason.NO_OPEN_SHIFT,
        "open a shift at your counter first (Shifts/OpenShift, `keyun shift open`)",
        account_id=account_id,
    )


def _open_shift(book: ShiftBook, account_id: str) -> Shift | Rejection:
    shift_id = book.open_by_account.get(account_id)
    return book.shifts[shift_id] if shift_id else no_open_shift(account_id)


def _find_shift(book: ShiftBook, shift_id: str) -> Shift | Rejection:
    shift = book.shifts.get(shift_id)
    return shift if shift is not None else reject(Reason.UNKNOWN_SHIFT, f"no shift {shift_id}", shift_id=shift_id)


def numbers_left(book: ShiftBook, account_id: str) -> int:
    return sum(book.ranges[r].left() for r in book.ranges_by_account.get(account_id, ()))


def _next_numbers(book: ShiftBook, account_id: str, count: int) -> list[tuple[str, int]] | None:
    """The seller's next `count` numbers (range id, number), oldest range first; None if too few."""
    taken: list[tuple[str, int]] = []
    for range_id in book.ranges_by_account.get(account_id, ()):
        issued = book.ranges[range_id]
        number = issued.next
        while number <= issued.last and len(taken) < count:
            taken.append((range_id, number))
            number += 1
    return taken if len(taken) == count else None


def _label(book: ShiftBook, range_id: str, number: int) -> str:
    return book.batches[book.ranges[range_id].batch_id].label(number)


def _no_numbers(account_id: str, wanted: int, left: int) -> Rejection:
    return reject(
        Reason.NO_PAPER_NUMBERS,
        f"{wanted} paper ticket number(s) needed, {left} left: ask the stock keeper for more (`keyun stock issue`)",
        account_id=account_id,
        numbers_left=left,
    )


def _take(
    book: ShiftBook, shift: Shift, count: int, tickets: tuple[str, ...], spoiled: str, now_ms: int
) -> tuple[NumberUse, ...] | Rejection:
    numbers = _next_numbers(book, shift.account_id, count)
    if numbers is None:
        return _no_numbers(shift.account_id, count, numbers_left(book, shift.account_id))
    return tuple(
        NumberUse(_label(book, range_id, number), ticket_id, spoiled, now_ms)
        for (range_id, number), ticket_id in zip(numbers, tickets, strict=True)
    )


def decide(book: ShiftBook, command: Command, now_ms: int) -> tuple[Event, ...] | Rejection:
    """The events of a shift or stock command, or why it is refused."""
    next_shift_id = f"S{len(book.shifts) + 1:06d}"  # shifts and batches are never deleted
    next_batch_id = f"B{len(book.batches) + 1:06d}"
    match command:
        case OpenShift(_, account_id, counter_id):
            if account_id in book.open_by_account:
                open_id = book.open_by_account[account_id]
                return reject(
                    Reason.SHIFT_ALREADY_OPEN,
                    f"shift {open_id} is open at counter {book.shifts[open_id].counter_id}: close it first",
                    shift_id=open_id,
                )
            return (ShiftOpened(next_shift_id, account_id, counter_id, now_ms),)
        case RecordSale(_, shift_id, sale_id, ticket_ids):
            shift = _find_shift(book, shift_id)
            if isinstance(shift, Rejection):
                return shift
            if sale_id in shift.sales:
                return ()  # a retried sale: its numbers were taken
            fresh = tuple(t for t in ticket_ids if t not in shift.printed)
            uses = _take(book, shift, len(fresh), fresh, "", now_ms)
            if isinstance(uses, Rejection):  # a sale that raced another: numbered as far as they go
                left = numbers_left(book, shift.account_id)
                uses = _take(book, shift, left, fresh[:left], "", now_ms)
                assert not isinstance(uses, Rejection)
            return (NumbersUsed(shift_id, shift.account_id, uses, sale_id),)
        case Reprint(_, account_id, ticket_id, reason):
            shift = _open_shift(book, account_id)
            if isinstance(shift, Rejection):
                return shift
            if ticket_id not in shift.printed:
                return reject(
                    Reason.UNKNOWN_TICKET,
                    f"ticket {ticket_id} was not printed in shift {shift.shift_id}",
                    ticket_id=ticket_id,
                )
            uses = _take(book, shift, 1, (ticket_id,), "", now_ms)
            if isinstance(uses, Rejection):
                return uses
            return (
                NumberSpoiled(shift.shift_id, ticket_id, reason, now_ms),
                NumbersUsed(shift.shift_id, account_id, uses),
            )
        case SpoilNumber(_, account_id, reason):
            shift = _open_shift(book, account_id)
            if isinstance(shift, Rejection):
                return shift
            uses = _take(book, shift, 1, ("",), reason, now_ms)
            return uses if isinstance(uses, Rejection) else (NumbersUsed(shift.shift_id, account_id, uses),)
        case RecordVoid(_, shift_id, ticket_id):
            shift = _find_shift(book, shift_id)
            if isinstance(shift, Rejection):
                return shift
            return (NumberSpoiled(shift_id, ticket_id, "void", now_ms),) if ticket_id in shift.printed else ()
        case CloseShift(_, account_id, shift_id, counted, tickets):
            shift = _find_shift(book, shift_id)
            if isinstance(shift, Rejection):
                return shift
            if shift.account_id != account_id:
                return reject(Reason.UNKNOWN_SHIFT, f"shift {shift_id} is not yours", shift_id=shift_id)
            if shift.status is not ShiftStatus.OPEN:
                return reject(Reason.SHIFT_CLOSED, f"shift {shift_id} is closed", shift_id=shift_id)
            return (ShiftClosed(shift_id, handover(shift, tickets, counted, now_ms)),)
        case ConfirmDeposit(_, shift_id, account_id, amount_fen):
            shift = _find_shift(book, shift_id)
            if isinstance(shift, Rejection):
                return shift
            if shift.status is not ShiftStatus.CLOSED:
                state = "still open" if shift.status is ShiftStatus.OPEN else "deposited already"
                return reject(Reason.SHIFT_CLOSED, f"shift {shift_id} is {state}", shift_id=shift_id)
            return (DepositConfirmed(shift_id, account_id, amount_fen, now_ms),)
        case ReceiveStock(_, account_id, batch_code, first, last, digits):
            for batch in book.batches.values():
                if batch.batch_code == batch_code and batch.first <= last and first <= batch.last:
                    return _overlap(f"batch {batch.batch_id} has {batch.label(batch.first)}..{batch.label(batch.last)}")
            return (StockReceived(StockBatch(next_batch_id, batch_code, first, last, digits, now_ms, account_id)),)
        case IssueStock(_, account_id, batch_id, seller_id, first, last):
            batch = book.batches.get(batch_id)
            if batch is None:
                return reject(Reason.UNKNOWN_STOCK, f"no stock batch {batch_id}", batch_id=batch_id)
            if not batch.first <= first <= last <= batch.last:
                return reject(
                    Reason.UNKNOWN_STOCK,
                    f"batch {batch_id} holds {batch.first}..{batch.last}, not {first}..{last}",
                    batch_id=batch_id,
                )
            for low, high in batch.issued:
                if low <= last and first <= high:
                    return _overlap(f"{batch.label(low)}..{batch.label(high)} of batch {batch_id} were issued already")
            range_id = f"{batch_id}-R{len(batch.issued) + 1}"
            return (StockIssued(IssuedRange(range_id, batch_id, seller_id, first, last, first, now_ms, account_id)),)
    raise AssertionError(f"not a shift command: {command!r}")


def _overlap(what: str) -> Rejection:
    return reject(Reason.STOCK_OVERLAP, f"a paper number is never used twice: {what}")


def handover(shift: Shift, tickets: tuple[ShiftTicket, ...], counted_cash_fen: int, now_ms: int) -> Slip:
    """The slip, from the trip owners' tickets of the shift (the money's source of truth) and this
    book's paper numbers.  A ticket voided in its trip owner spoils its number here even if the
    void's own record (RecordVoid) never arrived."""
    ours = [t for t in tickets if t.sold_in_shift]
    # A rebooking's new ticket: only the fare difference changed hands (none if the saga took it back).
    changes = [t for t in ours if t.changed_from and t.status != "void"]
    sold = [t for t in ours if not t.changed_from]  # a void one among them: taken back by the seller
    voided = [t for t in sold if t.status == "void"]
    refunded = [t for t in tickets if t.refunded_in_shift]
    methods = {method: [0, 0, 0, 0] for method in COUNTER_PAY_METHODS}  # sold, voided, refunded, changed
    for ticket in sold:
        methods.setdefault(ticket.pay_method or "cash", [0, 0, 0, 0])[0] += ticket.price_fen
    for ticket in voided:
        methods[ticket.pay_method or "cash"][1] += ticket.price_fen
    for ticket in refunded:  # money goes back the way it came; a ticket sold elsewhere, in cash
        methods.setdefault(ticket.pay_method or "cash", [0, 0, 0, 0])[2] += ticket.refunded_fen
    for ticket in changes:
        methods.setdefault(ticket.pay_method or "cash", [0, 0, 0, 0])[3] += ticket.price_fen - ticket.changed_from_fen
    totals = tuple(
        MethodTotal(method, s, v, r, s - v - r + c, c)
        for method, (s, v, r, c) in sorted(methods.items())
        if s or v or r or c
    )
    void_ids = {t.ticket_id for t in voided}
    used: list[str] = []
    spoiled: list[tuple[str, str]] = []
    for use in shift.numbers:
        if use.spoiled:
            spoiled.append((use.number, use.spoiled))
        elif use.ticket_id in void_ids:
            spoiled.append((use.number, "void"))
        else:
            used.append(use.number)
    numbered = {use.ticket_id for use in shift.numbers if use.ticket_id}
    expected = sum(total.net_fen for total in totals if total.method == "cash")
    return Slip(
        shift.shift_id,
        shift.account_id,
        shift.counter_id,
        shift.opened_at_ms,
        now_ms,
        len(sold),
        sum(t.price_fen for t in sold),
        len(refunded),
        sum(t.refunded_fen for t in refunded),
        sum(t.refund_fee_fen for t in refunded),
        len(voided),
        sum(t.price_fen for t in voided),
        sum(1 for use in shift.numbers if use.spoiled.startswith("reprint")),
        totals,
        tuple(used),
        tuple(spoiled),
        tuple(sorted(t.ticket_id for t in ours if t.ticket_id not in numbered)),
        expected,
        counted_cash_fen,
        counted_cash_fen - expected,
        len(changes),
        sum(t.price_fen - t.changed_from_fen for t in changes),
    )


# ---------------------------------------------------------------------------------------------
# Evolving.


def evolve(book: ShiftBook, event: Event) -> None:
    match event:
        case ShiftOpened(shift_id, account_id, counter_id, at_ms):
            book.shifts[shift_id] = Shift(shift_id, account_id, counter_id, at_ms)
            book.open_by_account[account_id] = shift_id
        case NumbersUsed(shift_id, account_id, uses, sale_id):
            shift = book.shifts[shift_id]
            for use in uses:
                _advance(book, account_id, use.number)
                shift.numbers.append(use)
                if use.ticket_id and not use.spoiled:
                    shift.printed[use.ticket_id] = use.number
            if sale_id:
                shift.sales[sale_id] = tuple(use.ticket_id for use in uses)
        case NumberSpoiled(shift_id, ticket_id, reason, _):
            shift = book.shifts[shift_id]
            number = shift.printed.pop(ticket_id)
            shift.numbers = [
                msgspec.structs.replace(use, spoiled=reason) if use.number == number and not use.spoiled else use
                for use in shift.numbers
            ]
        case ShiftClosed(shift_id, slip):
            shift = book.shifts[shift_id]
            shift.status = ShiftStatus.CLOSED
            shift.closed_at_ms = slip.closed_at_ms
            shift.slip = slip
            book.open_by_account.pop(shift.account_id, None)
        case DepositConfirmed(shift_id, account_id, amount_fen, at_ms):
            shift = book.shifts[shift_id]
            shift.status = ShiftStatus.DEPOSITED
            shift.deposited_at_ms, shift.deposited_by, shift.deposit_fen = at_ms, account_id, amount_fen
        case StockReceived(batch):
            book.batches[batch.batch_id] = msgspec.structs.replace(batch, issued=list(batch.issued))
        case StockIssued(issued):
            range_ = msgspec.structs.replace(issued)
            book.ranges[range_.range_id] = range_
            book.batches[range_.batch_id].issued.append((range_.first, range_.last))
            book.ranges_by_account.setdefault(range_.account_id, []).append(range_.range_id)
        case _:
            raise AssertionError(f"not a shift event: {event!r}")


def _advance(book: ShiftBook, account_id: str, number: str) -> None:
    """The seller's roll moves past `number`: its range's cursor, and a used-up range leaves the list."""
    for range_id in book.ranges_by_account.get(account_id, ()):
        issued = book.ranges[range_id]
        if issued.next <= issued.last and _label(book, range_id, issued.next) == number:
            issued.next += 1
            if issued.next > issued.last:
                book.ranges_by_account[account_id].remove(range_id)
            return
    raise AssertionError(f"number {number} is not the next of {account_id}'s roll")


# ---------------------------------------------------------------------------------------------
# Answering and rendering.


def shift_view(book: ShiftBook, shift: Shift) -> ShiftView:
    following = _next_numbers(book, shift.account_id, 1) if shift.status is ShiftStatus.OPEN else None
    return ShiftView(
        shift.shift_id,
        shift.account_id,
        shift.counter_id,
        shift.status,
        shift.opened_at_ms,
        shift.closed_at_ms,
        tuple(shift.numbers),
        numbers_left(book, shift.account_id),
        _label(book, *following[0]) if following else "",
        shift.slip,
        shift.deposited_at_ms,
        shift.deposited_by,
        shift.deposit_fen,
    )


def answer(book: ShiftBook, query: Query, now_ms: int = 0) -> Reply:
    match query:
        case RunningSlip(shift_id, tickets):
            found = _find_shift(book, shift_id)
            if isinstance(found, Rejection):
                return found
            # No cash counted yet: over_short is minus the cash expected, and means nothing until close.
            return RunningSlipView(handover(found, tickets, 0, now_ms))
        case CurrentShift(account_id):
            shift = _open_shift(book, account_id)
            return shift if isinstance(shift, Rejection) else shift_view(book, shift)
        case GetShift(shift_id):
            found = _find_shift(book, shift_id)
            return found if isinstance(found, Rejection) else shift_view(book, found)
        case ListShifts(offset, page_size, account_id):
            ids = [
                s
                for s in sorted(book.shifts, reverse=True)
                if not account_id or book.shifts[s].account_id == account_id
            ]
            more = offset + page_size < len(ids)
            views = tuple(shift_view(book, book.shifts[s]) for s in ids[offset : offset + page_size])
            return ShiftsPage(views, offset + page_size if more else 0)
        case ListStock(offset, page_size):
            batch_ids = sorted(book.batches)
            more = offset + page_size < len(batch_ids)
            batches = tuple(book.batches[b] for b in batch_ids[offset : offset + page_size])
            ranges = tuple(r for b in batches for r in book.ranges.values() if r.batch_id == b.batch_id)
            return StockPage(batches, ranges, offset + page_size if more else 0)
    raise AssertionError(f"not a shift query: {query!r}")


def render(book: ShiftBook, command: Command, events: tuple[Event, ...]) -> Reply:
    match command:
        case OpenShift() | Reprint() | SpoilNumber():
            shift_id = next(e.shift_id for e in events if isinstance(e, (ShiftOpened, NumbersUsed)))
            return shift_view(book, book.shifts[shift_id])
        case RecordVoid() | CloseShift() | ConfirmDeposit():
            return shift_view(book, book.shifts[command.shift_id])
        case RecordSale(_, shift_id, sale_id):
            shift = book.shifts[shift_id]
            sold = shift.sales.get(sale_id, ())
            return SaleNumbers(shift_id, tuple((t, shift.printed[t]) for t in sold if t in shift.printed))
        case ReceiveStock() | IssueStock():  # the batch received, or the range issued with its batch
            ranges = tuple(e.range for e in events if isinstance(e, StockIssued))
            batches = tuple(e.batch for e in events if isinstance(e, StockReceived))
            return StockPage(batches + tuple(book.batches[r.batch_id] for r in ranges), ranges, 0)
    raise AssertionError(f"not a shift command: {command!r}")
