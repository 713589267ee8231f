"""Commands (change something, carry a request id) and queries (read only).

Each is a small frozen Struct (engine/values.py) validated on construction, and again when the
codec decodes it: a bad field raises `Rejected` naming the field, so nothing malformed ever reaches
an owner.  Every command and query knows the trip it is about (`trip_id`), which is how the gateway
routes it to the owner of that trip.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import TYPE_CHECKING, Any

import msgspec

from .events import CounterSale, Holder, StaffOnBoard
from .fares import ADULT_TYPES, IDENTIFIED_TYPES, SEAT_TYPES
from .limits import (
    MAX_ARCHIVE,
    MAX_GATE_ID_CHARS,
    MAX_HOLD_TTL_MS,
    MAX_ID_CHARS,
    MAX_REQUEST_ID_CHARS,
    MAX_SEATS_PER_HOLD,
    MAX_SWEEP,
    MIN_HOLD_TTL_MS,
)
from .network import SEAT_LABEL, STATION_CODE, TripSpec
from .reasons import Reason, Rejected, element, first_repeat, invalid, quote, reject
from .values import Command, Query, Value

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
TRIP_ID = re.compile(r"[A-Z0-9][A-Za-z0-9_-]*")
GATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
HOLD_SUFFIX = re.compile(r"H[1-9][0-9]*")
TICKET_SUFFIX = re.compile(r"[0-9]{4,}")
# A whole valid hold id in one match (TRIP_ID, then "-" and HOLD_SUFFIX, which has no "-"): what
# _split_id("hold_id", ...) accepts, for the fast paths below.
HOLD_ID = re.compile(r"[A-Z0-9][A-Za-z0-9_-]*-H[1-9][0-9]*")


def _require(field_name: str, value: str, pattern: re.Pattern[str], max_chars: int) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name} is required", field=field_name))
    if len(value) > max_chars:
        raise invalid(field_name, f"longer than {max_chars} characters")
    if not pattern.fullmatch(value):
        raise invalid(field_name, f"{quote(value)} is not a valid {field_name.partition('[')[0]}")


def _common_claim(
    request_id: str, trip_id: str, from_station: str, to_station: str, seat_numbers: tuple[str, ...], seat_count: int
) -> bool:
    """Whether a hold or sale is the common valid one (good ids and stations, "any N seats"), checked
    in one go; anything else goes through the field checks one by one, which name the field at fault."""
    return (
        not seat_numbers
        and 0 < seat_count <= MAX_SEATS_PER_HOLD
        and len(request_id) <= MAX_REQUEST_ID_CHARS
        and REQUEST_ID.fullmatch(request_id) is not None
        and len(trip_id) <= MAX_ID_CHARS
        and TRIP_ID.fullmatch(trip_id) is not None
        and from_station != to_station
        and STATION_CODE.fullmatch(from_station) is not None  # at most 8 characters, as _station allows
        and STATION_CODE.fullmatch(to_station) is not None
    )


def _holders(holders: tuple[Holder, ...], seat_numbers: tuple[str, ...], seat_count: int) -> None:
    if not holders:  # most holds name no passengers: nothing to check
        return
    if len(holders) != (len(seat_numbers) or seat_count):
        raise invalid("passenger_ids", "name one passenger per seat")
    # Frequent passengers are named by id, once each; walk-in passengers have none (the trip
    # owner tells their documents apart by blind index).
    repeat = first_repeat(tuple((h.account_id, h.passenger_id) if h.passenger_id else k for k, h in enumerate(holders)))
    if repeat is not None:
        raise invalid(element("passenger_ids", repeat), "a passenger is named twice")


class TicketRequest(Value):
    """What one seat of a sale is sold as: its ticket type (engine.fares.TicketType's value), the
    accident insurance bought with it, and the free child riding on it without a seat."""

    ticket_type: str = "full"
    insured: bool = False
    free_child: Holder | None = None


def _ticket_requests(
    tickets: tuple[TicketRequest, ...], holders: tuple[Holder, ...], seat_numbers: tuple[str, ...], seat_count: int
) -> None:
    """One request per seat, of a type a seat is sold as; the types that need an identity have a
    real-name holder, and a free child rides only with a fare-paying adult."""
    if not tickets:
        return
    if len(tickets) != (len(seat_numbers) or seat_count):
        raise invalid("passengers", "name one seated passenger per seat")
    for index, ticket in enumerate(tickets):
        where = element("passengers", index)
        if ticket.ticket_type not in SEAT_TYPES:
            raise invalid(f"{where}.ticket_type", f"{quote(ticket.ticket_type)} is not a ticket type a seat is sold as")
        if ticket.ticket_type in IDENTIFIED_TYPES and not (holders and holders[index].document_index):
            raise Rejected(
                reject(
                    Reason.IDENTITY_REQUIRED,
                    f"a {ticket.ticket_type} ticket needs the passenger's resident ID",
                    field=f"{where}.document_number",
                )
            )
        if ticket.free_child is not None and not ticket.free_child.document_index:
            raise Rejected(
                reject(Reason.IDENTITY_REQUIRED, "a free child needs their resident ID", field=f"{where}.free_child")
            )
        if ticket.free_child is not None and ticket.ticket_type not in ADULT_TYPES:
            raise Rejected(
                reject(
                    Reason.FREE_CHILD_NEEDS_ADULT,
                    "a free child rides with a fare-paying adult (full, concession or student ticket)",
                    field=where,
                )
            )


def same_request(first: Any, retry: Any) -> bool:
    """Whether a command with a request id already seen is that request again.  Walk-in
    passengers' names and documents are encrypted by the gateway with a fresh nonce each time, so
    a retry's ciphers differ from the first's: they are left out, and the blind indexes and masked
    forms, which are the same for the same passengers, are compared with everything else."""
    if first == retry:
        return True
    if type(first) is type(retry) and hasattr(first, "without_ciphers"):  # a handheld's settlement
        return bool(first.without_ciphers() == retry.without_ciphers())
    if type(first) is not type(retry) or type(first) not in (PlaceHold, Sell):
        return False
    return bool(_without_ciphers(first) == _without_ciphers(retry))


def blank(holder: Holder) -> Holder:
    return msgspec.structs.replace(holder, name_cipher=b"", document_cipher=b"", proof_cipher=b"", phone_cipher=b"")


def _without_ciphers(command: PlaceHold | Sell) -> PlaceHold | Sell:
    tickets = tuple(
        msgspec.structs.replace(t, free_child=blank(t.free_child)) if t.free_child is not None else t
        for t in command.tickets
    )
    return msgspec.structs.replace(command, holders=tuple(blank(h) for h in command.holders), tickets=tickets)


# Dates in requests are ISO dates (2026-11-25, or 20261125): longer text is refused unparsed.
MAX_DATE_CHARS = len("2026-11-25")


def parse_date(field_name: str, text: str) -> dt.date:
    """An ISO date from a request field, or Rejected naming the field."""
    if len(text) > MAX_DATE_CHARS:
        raise invalid(field_name, f"{quote(text)} is not a date like 2026-11-25")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise invalid(field_name, f"{quote(text)} is not a date like 2026-11-25") from None


def check_request_id(value: str) -> None:
    _require("request_id", value, REQUEST_ID, MAX_REQUEST_ID_CHARS)


def _saga(value: str) -> None:
    """A rebooking saga's id is the client's request id, cut to leave room for its steps' suffixes."""
    _require("saga", value, REQUEST_ID, MAX_REQUEST_ID_CHARS)


def _trip_id(value: str, field_name: str = "trip_id") -> None:
    _require(field_name, value, TRIP_ID, MAX_ID_CHARS)


check_trip_id = _trip_id


def _station(field_name: str, value: str) -> None:
    _require(field_name, value, STATION_CODE, 8)


def _split_id(field_name: str, value: str, suffix: re.Pattern[str]) -> str:
    """Hold and ticket ids are `<trip id>-<suffix>`; return the trip id part."""
    _require(field_name, value, TRIP_ID, MAX_ID_CHARS)
    trip_id, _, tail = value.rpartition("-")
    if not trip_id or not suffix.fullmatch(tail):
        raise invalid(field_name, f"{quote(value)} is not a valid {field_name.partition('[')[0]}")
    return trip_id


def _seats(seat_numbers: tuple[str, ...], seat_count: int) -> None:
    """Either name the seats or ask for a number of them, within the per-hold limit."""
    if not seat_numbers and 0 < seat_count <= MAX_SEATS_PER_HOLD:  # "any N seats", the common case: valid
        return
    if seat_count < 0:  # present but wrong: INVALID_FIELD, not MISSING_FIELD
        raise invalid("seat_count", f"{seat_count} is negative")
    if seat_numbers and seat_count:
        raise invalid("seat_count", "give seat_numbers or seat_count, not both")
    wanted = len(seat_numbers) or seat_count
    if wanted <= 0:
        raise Rejected(reject(Reason.MISSING_FIELD, "seat_numbers or seat_count is required", field="seat_count"))
    if wanted > MAX_SEATS_PER_HOLD:
        named = "seat_numbers" if seat_numbers else "seat_count"
        raise Rejected(
            reject(
                Reason.TOO_MANY_SEATS,
                f"at most {MAX_SEATS_PER_HOLD} seats at a time",
                field=named,
                limit=MAX_SEATS_PER_HOLD,
            )
        )
    for index, label in enumerate(seat_numbers):
        check_seat_number(element("seat_numbers", index), label)
    repeat = first_repeat(seat_numbers)
    if repeat is not None:
        raise Rejected(
            reject(
                Reason.DUPLICATE_SEAT,
                f"seat {quote(seat_numbers[repeat])} is named twice",
                field=element("seat_numbers", repeat),
            )
        )


def check_seat_number(field_path: str, label: str) -> None:
    """A seat label as vehicles have them (1-4 letters or digits), named by its request path."""
    if not SEAT_LABEL.fullmatch(label):
        raise invalid(field_path, f"{quote(label)} is not a seat number (1-4 letters or digits)")


def _segment(from_station: str, to_station: str) -> None:
    _station("from_station", from_station)
    _station("to_station", to_station)
    if from_station == to_station:
        raise Rejected(reject(Reason.BAD_SEGMENT, "from_station and to_station are the same", field="to_station"))


class TripCommand(Command):
    """A command a trip owner decides: it names its trip (`trip_id`, a field or read from the id it
    names; empty for the owner's own sweeps) and carries a request id (empty: not remembered)."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def trip_id(self) -> str: ...

        @property
        def request_id(self) -> str: ...


class TripQuery(Query):
    """A query a trip owner answers that names its trip (`trip_id`; empty for one asked of every
    owner, such as a search).  ListOrders and ListMoney, asked of every owner, name none."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def trip_id(self) -> str: ...


class _OfHold:
    """A command or query naming a hold: its trip is the hold id's trip part."""

    __slots__ = ()

    @property
    def trip_id(self) -> str:
        return self.hold_id.rpartition("-")[0]  # type: ignore[attr-defined,no-any-return]


class _OfTicket:
    """A command or query naming a ticket: its trip is the ticket id's trip part."""

    __slots__ = ()

    @property
    def trip_id(self) -> str:
        return self.ticket_id.rpartition("-")[0]  # type: ignore[attr-defined,no-any-return]


class _OfOrder:
    """A command or query naming an order: its trip is the order id's trip part."""

    __slots__ = ()

    @property
    def trip_id(self) -> str:
        return order_trip(self.order_id)  # type: ignore[attr-defined]


# --- commands -------------------------------------------------------------------------------


class ScheduleTrip(Value, TripCommand):
    request_id: str
    spec: TripSpec
    # A network load effective from a date (gateway/timetable.py): a trip already there with another
    # definition takes the new one if nothing was sold, held or ordered on it (else TRIP_HAS_SALES).
    replace_unsold: bool = False

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.spec.trip_id)

    @property
    def trip_id(self) -> str:
        return self.spec.trip_id


class PlaceHold(Value, TripCommand):
    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: tuple[str, ...] = ()
    seat_count: int = 0
    ttl_ms: int = 0  # 0: the station's default (Policy.hold_ttl_ms)
    buyer: str = ""  # a passenger account buying for itself; "" for staff and devices
    holders: tuple[Holder, ...] = ()  # real-name passengers, one per seat
    for_move: str = ""  # a rebooking's hold: the saga it is for, whose undo releases it (UndoMove)
    tickets: tuple[TicketRequest, ...] = ()  # one per seat when sold by ticket type; (): full fares

    def __post_init__(self) -> None:
        if (
            not self.holders
            and not self.tickets
            and not self.for_move
            and not self.ttl_ms
            and _common_claim(
                self.request_id, self.trip_id, self.from_station, self.to_station, self.seat_numbers, self.seat_count
            )
        ):
            return
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _segment(self.from_station, self.to_station)
        _seats(self.seat_numbers, self.seat_count)
        _holders(self.holders, self.seat_numbers, self.seat_count)
        _ticket_requests(self.tickets, self.holders, self.seat_numbers, self.seat_count)
        if self.for_move:
            _saga(self.for_move)
        if self.ttl_ms != 0 and not MIN_HOLD_TTL_MS <= self.ttl_ms <= MAX_HOLD_TTL_MS:
            raise invalid("ttl_seconds", f"must be {MIN_HOLD_TTL_MS // 1000}..{MAX_HOLD_TTL_MS // 1000} seconds")


class Sell(Value, TripCommand):
    """A counter sale: hold and confirm in one step."""

    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: tuple[str, ...] = ()
    seat_count: int = 0
    buyer: str = ""
    holders: tuple[Holder, ...] = ()
    tickets: tuple[TicketRequest, ...] = ()  # one per seat when sold by ticket type; (): full fares
    counter: CounterSale | None = None  # a counter seller's sale: the shift it counts in

    def __post_init__(self) -> None:
        # The common claim (good ids and stations, "any N seats") checked in one go, a walk-in
        # sale's included; anything else field by field, naming the field at fault.  Then the
        # passengers and ticket types, when the sale names any.
        if not _common_claim(
            self.request_id, self.trip_id, self.from_station, self.to_station, self.seat_numbers, self.seat_count
        ):
            check_request_id(self.request_id)
            _trip_id(self.trip_id)
            _segment(self.from_station, self.to_station)
            _seats(self.seat_numbers, self.seat_count)
        if self.holders or self.tickets:
            _holders(self.holders, self.seat_numbers, self.seat_count)
            _ticket_requests(self.tickets, self.holders, self.seat_numbers, self.seat_count)


class ConfirmHold(Value, _OfHold, TripCommand):
    request_id: str
    hold_id: str
    changed_from: str = ""  # rebooking: the ticket (on another trip) that pays for this one
    for_move: str = ""  # rebooking: the saga issuing it, refused here once its move was undone
    counter: CounterSale | None = None  # a counter seller's sale: the shift it counts in

    def __post_init__(self) -> None:
        if (  # the common confirm, valid, checked in one go; anything else field by field, naming its fault
            not self.changed_from
            and not self.for_move
            and len(self.request_id) <= MAX_REQUEST_ID_CHARS
            and REQUEST_ID.fullmatch(self.request_id) is not None
            and len(self.hold_id) <= MAX_ID_CHARS
            and HOLD_ID.fullmatch(self.hold_id) is not None
        ):
            return
        check_request_id(self.request_id)
        _split_id("hold_id", self.hold_id, HOLD_SUFFIX)
        if self.changed_from:
            _split_id("changed_from", self.changed_from, TICKET_SUFFIX)
        if self.for_move:
            _saga(self.for_move)


class ReleaseHold(Value, _OfHold, TripCommand):
    request_id: str
    hold_id: str
    buyer: str = ""  # set when a passenger releases: only their own hold

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("hold_id", self.hold_id, HOLD_SUFFIX)


class Refund(Value, _OfTicket, TripCommand):
    request_id: str
    ticket_id: str
    shift_id: str = ""  # refunded by a counter seller in this shift

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)


class CheckIn(Value, _OfTicket, TripCommand):
    request_id: str
    ticket_id: str
    gate_id: str
    # A gate's upload of a scan it decided offline: when it was scanned (epoch ms; 0: now).  The
    # check-in is decided and recorded at that time, so a coach that has left since does not
    # refuse a passenger who boarded it.
    scanned_at_ms: int = 0

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)
        _require("gate_id", self.gate_id, GATE_ID, MAX_GATE_ID_CHARS)
        if self.scanned_at_ms < 0:
            raise invalid("scanned_at", "scanned_at must be a time after 1970")


class DepartTrip(Value, TripCommand):
    """The dispatcher saw the coach leave its first stop: boarding there is over."""

    request_id: str
    trip_id: str
    staff: tuple[StaffOnBoard, ...] = ()  # the crew on board besides the driver, names masked
    note: str = ""  # for the trip sheet

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        from .trip_sheet import check_departure  # late: it builds on this module's values

        check_departure(self.staff, self.note)


class CancelTrip(Value, TripCommand):
    request_id: str
    trip_id: str
    # A network load retiring a schedule's trip (gateway/timetable.py): only if nothing was ever
    # sold, held or done on it, else TRIP_HAS_SALES.
    only_unsold: bool = False
    missed: bool = False  # 脱班: the coach did not come (Dispatch/MarkMissed); else cancelled by plan

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)


# A delay is announced in minutes; a day's delay is a cancellation in all but name.
MAX_DELAY_MIN = 24 * 60


class DelayTrip(Value, TripCommand):
    """The station or operator puts departure back: every stop's time moves, refunds cost nothing."""

    request_id: str
    trip_id: str
    delay_min: int  # the total delay from the timetable, not an increment

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        if not 0 < self.delay_min <= MAX_DELAY_MIN:
            raise invalid("delay_minutes", f"must be 1..{MAX_DELAY_MIN}")


# A gate or bay as painted in the hall: "3", "A12", "B-2", "东3".  Short enough for a board's column.
GATE_NAME_CHARS = 8


class AssignGate(Value, TripCommand):
    """Dispatch names the gate or bay a trip boards at (检票口 / 发车位); "" takes it back."""

    request_id: str
    trip_id: str
    gate: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        if len(self.gate) > GATE_NAME_CHARS:
            raise invalid("gate", f"at most {GATE_NAME_CHARS} characters")
        if self.gate and (not self.gate.strip() or not all(ch.isalnum() or ch in "-_." for ch in self.gate)):
            raise invalid("gate", "letters, digits, '-', '_' or '.' (a gate or bay as painted: 3, A12, B-2)")


class SweepHolds(Value, TripCommand):
    """Release holds whose time is up.  Issued by the owner itself, so it has no request id."""

    limit: int = MAX_SWEEP
    request_id: str = ""
    trip_id: str = ""


class ArchiveTrips(Value, TripCommand):
    """Archive trips that ran long enough ago (Policy.archive_after_ms).  Issued by the owner
    itself, so it has no request id."""

    limit: int = MAX_ARCHIVE
    request_id: str = ""
    trip_id: str = ""


class BeginChange(Value, _OfTicket, TripCommand):
    """Rebooking, first step, at the old ticket's owner: check that the ticket may move to
    `new_trip_id`, and mark it moving by this saga.  While it is, its owner refuses a refund, a
    check-in or another rebooking of it (CHANGE_IN_PROGRESS), so the move is finished or undone
    before anything else touches the ticket."""

    request_id: str
    ticket_id: str
    saga: str
    new_trip_id: str
    new_route_id: str  # the new trip's route, read from its owner: both trips must run one route
    buyer: str = ""  # set when a passenger rebooks: only their own ticket
    station: bool = False  # a station-initiated move (并班): allowed off a cancelled trip, and again

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)
        _saga(self.saga)
        _trip_id(self.new_trip_id, "new_trip_id")
        if len(self.new_route_id) > MAX_ID_CHARS:
            raise invalid("new_route_id", f"longer than {MAX_ID_CHARS} characters")


class ChangeTicket(Value, _OfTicket, TripCommand):
    """Rebooking, last step: give the old ticket up for the new one already issued elsewhere."""

    request_id: str
    ticket_id: str
    new_ticket_id: str
    buyer: str = ""  # set when a passenger rebooks: only their own ticket
    new_price_fen: int = -1  # the new ticket's price: a cheaper one refunds the difference (-1: not given)
    saga: str = ""  # the saga that began the move (BeginChange): only it may finish it
    reason: str = ""  # why the station moved it ("merged"); "": the passenger's own rebooking

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)
        _split_id("new_ticket_id", self.new_ticket_id, TICKET_SUFFIX)
        if self.saga:
            _saga(self.saga)


class _SagaStep(Value, _OfTicket):
    """A step of a rebooking saga at a ticket's owner, naming the ticket and the saga."""

    request_id: str
    ticket_id: str
    saga: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)
        _saga(self.saga)


class AbortChange(_SagaStep, TripCommand):
    """Rebooking, undo, first at the old ticket's owner: the decision that the saga's move will not
    happen.  Refused (TICKET_CHANGED) if the move was made already; the ticket stays blocked until
    the new trip's owner has undone its part (ClearChange)."""


class UndoMove(Value, TripCommand):
    """Rebooking, undo, at the new trip's owner: release the saga's hold and void its new ticket,
    whichever exist, and refuse the saga's later steps there.  Repeating it changes nothing."""

    request_id: str
    trip_id: str  # the new trip
    old_ticket_id: str
    saga: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _split_id("old_ticket_id", self.old_ticket_id, TICKET_SUFFIX)
        _saga(self.saga)


class ClearChange(_SagaStep, TripCommand):
    """Rebooking, undo, last at the old ticket's owner: the new trip holds nothing of the aborted
    move any more, so the ticket may be used (refunded, boarded, rebooked) again."""


class SettleMove(_SagaStep, TripCommand):
    """Rebooking, last step, at the new trip's owner, once the old ticket was given up
    (ChangeTicket): the new ticket, issued pending its move, becomes the passenger's to refund,
    board or rebook.  `ticket_id` is the new ticket.  Repeating it changes nothing."""


class VoidTicket(Value, _OfTicket, TripCommand):
    """Rebooking, compensation: take back a new ticket whose old one could not be given up."""

    request_id: str
    ticket_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)


# --- orders ---------------------------------------------------------------------------------


class PayMethod(Enum):
    CASH = "cash"  # at the counter
    CARD = "card"  # a bank card on the counter's POS terminal
    WEPAY = "wepay"  # a wallet, paid by QR code (WeChat Pay's flow)
    ALIPAY = "alipay"  # a wallet, paid by QR code (Alipay's flow)


# Provider transaction ids and refund numbers: printable, bounded, as providers issue them.
PROVIDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
MAX_PROVIDER_ID_CHARS = 64
ORDER_SUFFIX = re.compile(r"O[1-9][0-9]*")


def order_trip(order_id: str, field_name: str = "order_id") -> str:
    return _split_id(field_name, order_id, ORDER_SUFFIX)


class CreateOrder(Value, _OfHold, TripCommand):
    """An order for the seats of a live hold, to be paid by `method` before the hold expires."""

    request_id: str
    hold_id: str
    method: PayMethod
    buyer: str = ""  # a passenger account ordering for itself; "" at a counter
    shift_id: str = ""  # a counter seller's order: its tickets count in this shift (engine/shifts.py)

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _split_id("hold_id", self.hold_id, HOLD_SUFFIX)


class RecordPayment(Value, _OfOrder, TripCommand):
    """Money arrived for an order: from a verified provider notification, or at the counter."""

    request_id: str
    order_id: str
    method: PayMethod
    provider_txn_id: str
    amount_fen: int
    paid_at_ms: int

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        order_trip(self.order_id)
        _require("provider_txn_id", self.provider_txn_id, PROVIDER_ID, MAX_PROVIDER_ID_CHARS)
        if self.amount_fen <= 0:
            raise invalid("amount_fen", "must be positive")


class CancelOrder(Value, _OfOrder, TripCommand):
    request_id: str
    order_id: str
    buyer: str = ""  # set when a passenger cancels: only their own order

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        order_trip(self.order_id)


class RefundOrder(Value, _OfOrder, TripCommand):
    """Refund some or all (ticket_ids empty) of an order's tickets, back the way the money came."""

    request_id: str
    order_id: str
    ticket_ids: tuple[str, ...] = ()
    buyer: str = ""
    shift_id: str = ""  # refunded by a counter seller in this shift (engine/shifts.py)

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        trip_id = order_trip(self.order_id)
        if len(self.ticket_ids) > MAX_SEATS_PER_HOLD:
            raise invalid("ticket_ids", f"at most {MAX_SEATS_PER_HOLD}")
        for index, ticket_id in enumerate(self.ticket_ids):
            if _split_id(element("ticket_ids", index), ticket_id, TICKET_SUFFIX) != trip_id:
                raise invalid(element("ticket_ids", index), f"{ticket_id} is not a ticket of this order's trip")
        repeat = first_repeat(self.ticket_ids)
        if repeat is not None:
            raise invalid(element("ticket_ids", repeat), "a ticket is named twice")


class SettleRefund(Value, _OfOrder, TripCommand):
    """The provider (or the cashier) paid a requested refund out."""

    request_id: str
    order_id: str
    refund_no: str
    provider_refund_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        order_trip(self.order_id)
        _require("refund_no", self.refund_no, PROVIDER_ID, MAX_PROVIDER_ID_CHARS)
        _require("provider_refund_id", self.provider_refund_id, PROVIDER_ID, MAX_PROVIDER_ID_CHARS)


# --- picking up tickets bought online (取票, docs/kiosk.md) ----------------------------------

# The keyed blind index of a document (gateway/walk_in.document_index): an HMAC-SHA256 digest.
DOCUMENT_INDEX_BYTES = 32


def _document_index(value: bytes) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, "document_number is required", field="document_number"))
    if len(value) != DOCUMENT_INDEX_BYTES:
        raise invalid("document_number", "not a document's blind index")


class PickUpTickets(Value, TripCommand):
    """取票 on one trip: mark the paper copies of tickets printed, so each prints once.  Either an
    order's tickets (`order_id`: the document must be one of the order's passengers'), or the
    tickets named (`ticket_ids`: each must be the document's own, found with FindPickUps).  Only
    live tickets of coaches yet to leave are printed; a retry of the request is given the tickets
    it printed again."""

    request_id: str
    trip_id: str
    document_index: bytes
    order_id: str = ""
    ticket_ids: tuple[str, ...] = ()
    by: str = ""  # the kiosk's or seller's account

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _trip_id(self.trip_id)
        _document_index(self.document_index)
        if bool(self.order_id) == bool(self.ticket_ids):
            raise invalid("order_id", "name an order or the tickets, not both")
        if self.order_id and order_trip(self.order_id) != self.trip_id:
            raise invalid("order_id", f"{self.order_id} is not an order of trip {self.trip_id}")
        if len(self.ticket_ids) > MAX_SEATS_PER_HOLD:
            raise invalid("ticket_ids", f"at most {MAX_SEATS_PER_HOLD}")
        for index, ticket_id in enumerate(self.ticket_ids):
            if _split_id(element("ticket_ids", index), ticket_id, TICKET_SUFFIX) != self.trip_id:
                raise invalid(element("ticket_ids", index), f"{ticket_id} is not a ticket of trip {self.trip_id}")
        repeat = first_repeat(self.ticket_ids)
        if repeat is not None:
            raise invalid(element("ticket_ids", repeat), "a ticket is named twice")


# --- queries --------------------------------------------------------------------------------


class SearchTrips(Value, TripQuery):
    """Trips from one station to another leaving that station in [start_ms, end_ms)."""

    from_station: str
    to_station: str
    start_ms: int
    end_ms: int
    limit: int = 0  # only the first `limit` by departure; 0: all
    trip_id: str = ""

    def __post_init__(self) -> None:
        _segment(self.from_station, self.to_station)
        if self.limit < 0:
            raise invalid("page_size", "must not be negative")


class GetTrip(Value, TripQuery):
    trip_id: str

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)


class CompareTrip(Value, TripQuery):
    """What a network load would do to this trip (a dry run of ScheduleTrip with replace_unsold)."""

    spec: TripSpec

    def __post_init__(self) -> None:
        _trip_id(self.spec.trip_id)

    @property
    def trip_id(self) -> str:
        return self.spec.trip_id


class GetSeatMap(Value, TripQuery):
    trip_id: str
    from_station: str
    to_station: str

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)
        _segment(self.from_station, self.to_station)


class GetTicket(Value, _OfTicket, TripQuery):
    ticket_id: str
    viewer: str = ""  # set when a passenger asks: only their own tickets exist for them

    def __post_init__(self) -> None:
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)


class QuoteRefund(Value, _OfTicket, TripQuery):
    """What refunding the ticket now would keep and pay back, by the trip owner's policy: the same
    rule Refund applies, answered without changing anything (a counter shows it before confirming)."""

    ticket_id: str
    viewer: str = ""  # set when a passenger asks: only their own tickets exist for them

    def __post_init__(self) -> None:
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)


class CheckChange(Value, _OfTicket, TripQuery):
    """A rebooking's quote (Sales/QuoteChange), at the old ticket's owner: BeginChange's own checks
    of a move to `new_trip_id`, marking nothing; answered with the ticket as it stands."""

    ticket_id: str
    new_trip_id: str
    new_route_id: str  # the new trip's route, read from its owner: both trips must run one route
    viewer: str = ""  # set when a passenger asks: only their own tickets exist for them

    def __post_init__(self) -> None:
        _split_id("ticket_id", self.ticket_id, TICKET_SUFFIX)
        _trip_id(self.new_trip_id, "new_trip_id")
        if len(self.new_route_id) > MAX_ID_CHARS:
            raise invalid("new_route_id", f"longer than {MAX_ID_CHARS} characters")


class QuoteHold(Value, TripQuery):
    """The hold PlaceHold would place now, by its own checks and fares, placing nothing: what a
    rebooking's new ticket would cost (Sales/QuoteChange), answered as an unplaced HoldView."""

    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: tuple[str, ...] = ()
    seat_count: int = 0
    buyer: str = ""
    holders: tuple[Holder, ...] = ()
    tickets: tuple[TicketRequest, ...] = ()

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)
        _segment(self.from_station, self.to_station)
        _seats(self.seat_numbers, self.seat_count)
        _holders(self.holders, self.seat_numbers, self.seat_count)
        _ticket_requests(self.tickets, self.holders, self.seat_numbers, self.seat_count)


class GetManifest(Value, TripQuery):
    trip_id: str

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)


# A gate asks for the trips of the next hours; two days bounds the answer of a busy station.
MAX_BOARDING_WINDOW_MS = 2 * 24 * 60 * 60 * 1000


class ListBoardingTrips(Value, TripQuery):
    """Trips leaving `station` in [start_ms, end_ms), asked of every owner: what a gate there
    boards (Gate/ListBoardingTrips)."""

    station: str
    start_ms: int
    end_ms: int
    trip_id: str = ""

    def __post_init__(self) -> None:
        _station("from_station", self.station)
        if not 0 < self.end_ms - self.start_ms <= MAX_BOARDING_WINDOW_MS:
            raise invalid("end_time", "must be after start_time, by at most two days")


class GetRevocations(Value, TripQuery):
    """A trip's revoked credentials after the first `after` (Gate/WatchRevocations)."""

    trip_id: str
    after: int = 0

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)
        if self.after < 0:
            raise invalid("position", "must not be negative")


class ListDepartures(Value, TripQuery):
    """Every trip leaving `station` (not its last stop) with a timetable time in [start_ms, end_ms),
    asked of every owner: what a departure board shows (Board/WatchDepartures).  Delayed trips are
    chosen by their timetable time, so a late coach stays on the day it was due."""

    station: str
    start_ms: int
    end_ms: int
    trip_id: str = ""

    def __post_init__(self) -> None:
        _station("station", self.station)
        if not 0 < self.end_ms - self.start_ms <= MAX_BOARDING_WINDOW_MS:
            raise invalid("date", "a window after its start, by at most two days")


class ListConflicts(Value, TripQuery):
    """A trip's conflicts: uploaded offline scans that could not be applied (Gate/ListConflicts)."""

    trip_id: str

    def __post_init__(self) -> None:
        _trip_id(self.trip_id)


class ListStations(Value, TripQuery):
    trip_id: str = ""


class Ping(Value, TripQuery):
    """Asks an owner for nothing: `Diagnostics/Echo` with `via_owner` times one owner round trip."""

    trip_id: str = ""  # the owner of trip "" answers it


class GetOrder(Value, _OfOrder, TripQuery):
    order_id: str
    viewer: str = ""  # set when a passenger asks: only their own orders exist for them

    def __post_init__(self) -> None:
        order_trip(self.order_id)


class ListOrders(Value, Query):
    """Every owner's orders of one buyer (asked of all owners, like a search)."""

    buyer: str

    def __post_init__(self) -> None:
        if not self.buyer:
            raise Rejected(reject(Reason.MISSING_FIELD, "buyer is required", field="buyer"))


class ListMoney(Value, Query):
    """Every payment received and refund paid out in [start_ms, end_ms), for reconciliation
    (asked of all owners)."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_ms < self.end_ms:
            raise invalid("date", "an empty time window")


class ListFlowCoachesDue(Value, TripQuery):
    """Departure-when-full coaches (流水班) loading longer than their maximum wait since their
    first sale, not departed nor cancelled: what the gateway's flow sweep departs (docs/dispatch.md)."""

    limit: int
    trip_id: str = ""

    def __post_init__(self) -> None:
        if self.limit <= 0:
            raise invalid("limit", "must be positive")


class ListMoves(Value, TripQuery):
    """Rebookings this owner's tickets are marked for that are older than `older_than_ms` by the
    owner's clock, or aborted and not cleared, and new tickets pending a move issued that long
    ago: moves whose saga was interrupted (asked of all owners by the gateway's sweep)."""

    older_than_ms: int
    limit: int
    trip_id: str = ""

    def __post_init__(self) -> None:
        if self.older_than_ms < 0 or self.limit <= 0:
            raise invalid("older_than_ms", "needs a non-negative age and a positive limit")


class FindTickets(Value, Query):
    """Every owner's tickets of one passenger, by the blind index of their document or of their
    phone (the gateway computes it; asked of all owners, like a search), newest first."""

    document_index: bytes = b""
    phone_index: bytes = b""
    limit: int = 50

    def __post_init__(self) -> None:
        if bool(self.document_index) == bool(self.phone_index):
            raise invalid("document_number", "give a document or a phone number, not both")
        if self.limit <= 0:
            raise invalid("page_size", "must be positive")


class FindPickUps(Value, Query):
    """Every owner's live tickets, of coaches yet to leave, whose passenger has this document
    (by its blind index), printed or not: what a pick-up by document alone may print (asked of all
    owners, like a search)."""

    document_index: bytes

    def __post_init__(self) -> None:
        _document_index(self.document_index)


TripOwnerQuery = TripQuery | ListOrders | ListMoney | FindTickets | FindPickUps  # what a trip owner answers
