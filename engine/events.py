"""Events: what happened to a trip.  The journal stores these; replay folds them with `evolve`.

Events carry decided facts (seat indices, ids, amounts, times), never the rules that produced them,
so replaying an old log under a new refund policy rebuilds exactly the old state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .network import TripSpec
from .values import Event, Value


class TripEvent(Event):
    """What happened to one trip (`trip_id`)."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def trip_id(self) -> str: ...


class Holder(Value):
    """The real-name passenger a ticket is for: which frequent passenger of the buyer's account,
    and the masked name and document printed on the ticket.  The full values stay encrypted with
    the accounts owner; a gate reads them through an audited look-up."""

    account_id: str
    passenger_id: str
    name_masked: str
    document_type: str
    document_masked: str
    # A walk-in passenger (实名制 sale at a counter, kiosk or handheld) has no account to keep
    # their data: the ticket keeps it, encrypted by the gateway with the station's field keys.
    # `document_index` is the keyed blind index of the document (the same one the accounts owner
    # keeps for frequent passengers), so a trip owner can tell one document from another without
    # reading it (one live ticket per document and trip).
    document_index: bytes = b""
    name_cipher: bytes = b""
    document_cipher: bytes = b""
    # A concession (优待票): the document that proves it (残疾军人证, 伤残人民警察证, ...), as printed
    # (masked) and encrypted.
    proof_type: str = ""
    proof_masked: str = ""
    proof_cipher: bytes = b""
    # A phone number to reach the passenger, encrypted, with its blind index: staff find a
    # passenger's tickets by it (Sales/FindPassengerTickets).
    phone_index: bytes = b""
    phone_cipher: bytes = b""
    # HMAC of the document under the station's document-digest key (keyun.common.eticket.document_digest):
    # what a gate matches a scanned identity card against, offline, without the number.
    document_digest: bytes = b""


class Fare(Value):
    """What one ticket costs, by component, and who rides free with it.

    Decided by the trip owner from the station's fare rules (policy.FareRules) when the seat is
    held or sold, and kept with the hold and the ticket: the total is the ticket's price.  A ticket
    sold before ticket types existed has none; it is a full-fare ticket whose base is its price."""

    ticket_type: str = "full"  # engine.fares.TicketType's value
    base_fen: int = 0  # the segment's fare, after the type's percentage, rounding and the minimum
    service_fee_fen: int = 0  # 站务费
    fuel_surcharge_fen: int = 0  # 燃油附加费
    insurance_fen: int = 0  # 乘意险, when the passenger bought it with the ticket
    free_child: Holder | None = None  # a 免票儿童 riding on this fare-paying adult's ticket, without a seat

    @property
    def total_fen(self) -> int:
        return self.base_fen + self.service_fee_fen + self.fuel_surcharge_fen + self.insurance_fen


class TripScheduled(Value, TripEvent):
    spec: TripSpec

    @property
    def trip_id(self) -> str:
        return self.spec.trip_id


class HoldPlaced(Value, TripEvent):
    trip_id: str
    hold_id: str
    seats: tuple[int, ...]
    from_stop: int
    to_stop: int
    fare_fen: int  # per seat
    expires_at_ms: int
    buyer: str = ""  # the passenger account that placed it; "" for staff and devices
    holders: tuple[Holder, ...] = ()  # one per seat, in seat order, when bought for named passengers
    for_move: str = ""  # a rebooking's hold: the saga it is for
    fares: tuple[Fare, ...] = ()  # one per seat when sold by ticket type; () for full fares of fare_fen


class HoldReleased(Value, TripEvent):
    trip_id: str
    hold_id: str


class HoldExpired(Value, TripEvent):
    trip_id: str
    hold_id: str


class IssuedTicket(Value):
    ticket_id: str
    seat: int
    price_fen: int
    holder: Holder | None = None
    fare: Fare | None = None  # its components, when sold by ticket type (price_fen is their total)


class CounterSale(Value):
    """A sale at a counter in a seller's shift (engine/shifts.py): the shift it counts in, and how
    it was paid.  The trip owner keeps it on the ticket, journaled with the sale itself."""

    shift_id: str
    pay_method: str = "cash"

    def __post_init__(self) -> None:
        from .shifts import check_pay_method, check_shift_id

        check_shift_id(self.shift_id)
        check_pay_method(self.pay_method)


class TicketsIssued(Value, TripEvent):
    """Tickets for seats of one segment; from a hold (hold_id set) or sold directly (hold_id "")."""

    trip_id: str
    hold_id: str
    from_stop: int
    to_stop: int
    tickets: tuple[IssuedTicket, ...]
    at_ms: int
    buyer: str = ""
    changed_from: str = ""  # a rebooking: the ticket on another trip these replace (paid there)
    # A rebooking's new tickets are issued pending their move (until MoveSettled): the old ticket's
    # owner has not given it up yet.  Logs written before step 4 existed read False: settled.
    move_pending: bool = False
    counter: CounterSale | None = None  # sold at a counter in a shift


class TicketRefunded(Value, TripEvent):
    trip_id: str
    ticket_id: str
    fee_fen: int
    refund_fen: int
    at_ms: int
    shift_id: str = ""  # refunded at a counter in this shift: the money left its drawer


class TicketCheckedIn(Value, TripEvent):
    trip_id: str
    ticket_id: str
    gate_id: str
    at_ms: int


class ScanConflicted(Value, TripEvent):
    """A scan a gate let through offline, uploaded, that cannot be applied as a check-in: the ticket
    was checked in by another scan already, or refunded, changed or voided before the scan.  Kept
    in the trip's conflicts for the inspectors' report (Gate/ListConflicts); nothing is dropped.

    Also a handheld's offline sale settled to a document that already held a live ticket on an
    overlapping segment (reason DOCUMENT_HAS_TICKET): `ticket_id` is the ticket the settlement
    issued, `gate_id` the device, `scanned_at_ms` the time of the sale, `other_ticket_id` the
    ticket the document held."""

    trip_id: str
    ticket_id: str
    gate_id: str
    scanned_at_ms: int
    reason: str  # ALREADY_CHECKED_IN, ALREADY_REFUNDED, TICKET_CHANGED or DOCUMENT_HAS_TICKET
    first_gate_id: str  # for ALREADY_CHECKED_IN: the gate of the check-in that stands, and its time
    first_at_ms: int
    at_ms: int
    other_ticket_id: str = ""  # for DOCUMENT_HAS_TICKET: the ticket the document already held


class TicketChanged(Value, TripEvent):
    """The ticket moved to `new_ticket_id` on another trip (rebooking): its seat is free again."""

    trip_id: str
    ticket_id: str
    new_ticket_id: str
    at_ms: int
    reason: str = ""  # a station-initiated move's reason ("merged"); "": the passenger's rebooking


class TicketVoided(Value, TripEvent):
    """A rebooking's new ticket taken back because the old one could not be given up, or a counter
    sale voided (废票) in its shift (`shift_id` set, engine/counter_sales.py)."""

    trip_id: str
    ticket_id: str
    at_ms: int
    shift_id: str = ""


class ChangeBegun(Value, TripEvent):
    """A rebooking saga marked the ticket moving to `new_trip_id`: nothing else may touch it until
    the move is made (TicketChanged) or undone (ChangeAborted, then ChangeCleared)."""

    trip_id: str
    ticket_id: str
    saga: str
    new_trip_id: str
    at_ms: int


class ChangeAborted(Value, TripEvent):
    """The saga's move will not happen; the ticket stays blocked until the new trip is cleaned up."""

    trip_id: str
    ticket_id: str
    saga: str
    at_ms: int


class ChangeCleared(Value, TripEvent):
    """The new trip holds nothing of the aborted move: the ticket is free to use again."""

    trip_id: str
    ticket_id: str
    saga: str
    at_ms: int


class MoveSettled(Value, TripEvent):
    """On the new trip: the old ticket was given up for this new ticket, so it is the passenger's
    to refund, board or rebook like any other."""

    trip_id: str
    ticket_id: str
    saga: str
    at_ms: int


class MoveUndone(Value, TripEvent):
    """On the new trip: the saga's move was undone, so its later steps are refused here."""

    trip_id: str
    saga: str
    at_ms: int


class StaffOnBoard(Value):
    """One of the crew on board besides the driver, for the trip sheet (engine/trip_sheet.py).
    The name is kept masked (李*): the gateway masks it before the command is made."""

    name: str
    role: str  # engine.trip_sheet.STAFF_ROLES


class TripDeparted(Value, TripEvent):
    trip_id: str
    at_ms: int
    staff: tuple[StaffOnBoard, ...] = ()  # the crew on board besides the driver
    note: str = ""  # for the trip sheet


class TripDelayed(Value, TripEvent):
    trip_id: str
    delay_ms: int  # from the timetable
    at_ms: int


class GateAssigned(Value, TripEvent):
    """Dispatch named the gate or bay the trip boards at ("" took it back).  The departure board
    shows it, and passengers holding tickets are told of a change (docs/board.md)."""

    trip_id: str
    gate: str
    previous: str  # the gate it replaced, "" for none
    at_ms: int


class TripCancelled(Value, TripEvent):
    trip_id: str
    at_ms: int
    missed: bool = False  # 脱班: the coach did not come (Dispatch/MarkMissed)


class TripArchived(Value, TripEvent):
    """The trip ran long enough ago (Policy.archive_after_ms): it leaves the owner's memory for
    its archive, kept in the owner's snapshot store (persistence/snapshot.py)."""

    trip_id: str
    at_ms: int


class TicketsPrinted(Value, TripEvent):
    """取票: the paper copies of tickets bought online were printed, at a kiosk or a counter
    (commands.PickUpTickets).  A ticket is picked up once; a counter reprints a lost one."""

    trip_id: str
    ticket_ids: tuple[str, ...]
    by: str  # the kiosk's (or seller's) account
    request_id: str  # the pick-up's: its retry is given the same tickets again
    at_ms: int


# --- orders ---------------------------------------------------------------------------------


class Payment(Value):
    method: str  # PayMethod's value
    provider_txn_id: str  # the provider's transaction id; the counter's receipt number for cash
    amount_fen: int
    paid_at_ms: int


class RefundPart(Value):
    """Money owed back on an order: for refunded tickets, or a payment that cannot be used."""

    refund_no: str  # `<order id>-R<n>`: what the provider's refund call is keyed by
    method: str
    provider_txn_id: str  # the payment it goes back through
    ticket_ids: tuple[str, ...]  # empty for a payment returned whole (late or duplicate)
    amount_fen: int
    fee_fen: int
    requested_at_ms: int
    why: str


class OrderCreated(Value, TripEvent):
    trip_id: str
    order_id: str
    hold_id: str
    buyer: str
    method: str
    amount_fen: int
    pay_by_ms: int
    at_ms: int
    # The hold's seats, kept with the order: a payment arriving after the hold expired re-tickets
    # these seats if they are still free.
    seats: tuple[int, ...] = ()
    from_stop: int = 0
    to_stop: int = 0
    fare_fen: int = 0
    holders: tuple[Holder, ...] = ()
    fares: tuple[Fare, ...] = ()  # the hold's, one per seat, when sold by ticket type
    shift_id: str = ""  # made by a counter seller in this shift


class PaymentRecorded(Value, TripEvent):
    trip_id: str
    order_id: str
    payment: Payment


class OrderTicketed(Value, TripEvent):
    trip_id: str
    order_id: str
    ticket_ids: tuple[str, ...]
    at_ms: int
    provider_txn_id: str = ""  # the payment the tickets were issued for: refunds go back through it


class OrderExpired(Value, TripEvent):
    trip_id: str
    order_id: str
    at_ms: int


class OrderCancelled(Value, TripEvent):
    trip_id: str
    order_id: str
    at_ms: int


class RefundRequested(Value, TripEvent):
    trip_id: str
    order_id: str
    refund: RefundPart


class RefundSettled(Value, TripEvent):
    trip_id: str
    order_id: str
    refund_no: str
    provider_refund_id: str
    at_ms: int


# --- handheld seat allotments (engine/handheld.py, docs/handheld.md) --------------------------


class AllotmentLent(Value, TripEvent):
    """Seats of one segment lent to a handheld: taken from the pool like a hold that never
    expires, which only the device may sell from (offline) and settle."""

    trip_id: str
    allotment_id: str
    device: str  # the account it is lent to
    seats: tuple[int, ...]
    from_stop: int
    to_stop: int
    at_ms: int


class SettledSale(Value):
    """One offline sale of an allotment, settled: the device's sale id, the ticket issued for it,
    what the device charged and when it sold."""

    sale_id: str
    ticket_id: str
    charged_fen: int
    sold_at_ms: int
    # The live ticket the passenger's document already held on an overlapping segment (the
    # counter's one-ticket-per-document rule), "" if none: the sale is issued all the same (it
    # happened), and the conflict reported (ScanConflicted, reason DOCUMENT_HAS_TICKET).
    document_conflict: str = ""


class AllotmentSettled(Value, TripEvent):
    """An allotment settled: every seat-leg it held goes back to the pool, and the tickets of its
    sales are issued by the TicketsIssued events journaled right after this one."""

    trip_id: str
    allotment_id: str
    sales: tuple[SettledSale, ...]
    at_ms: int


# --- seat quotas for stops (配载), blocked seats and extra runs (engine/seat_plan.py, docs/dispatch.md)


class SeatQuotaSet(Value, TripEvent):
    """Dispatch kept `seats` for passengers boarding at stop `stop`: sales boarding elsewhere may
    not take their legs from that stop on until the release time.  Replaces the stop's quota."""

    trip_id: str
    stop: int
    seats: tuple[int, ...]
    release_at_ms: int = 0  # an absolute release time, 0 for none
    release_before_min: int = 0  # or this many minutes before the stop's departure (a delay moves it), 0 for none
    shared: bool = False  # later stops may sell them too
    at_ms: int = 0


class SeatQuotaCleared(Value, TripEvent):
    trip_id: str
    stop: int
    at_ms: int = 0


class SeatsBlocked(Value, TripEvent):
    """Seats taken out of sale on every leg: for the crew, broken, or another reason."""

    trip_id: str
    seats: tuple[int, ...]
    reason: str = "other"  # crew, broken or other
    at_ms: int = 0


class SeatsUnblocked(Value, TripEvent):
    trip_id: str
    seats: tuple[int, ...]
    at_ms: int = 0


class VehicleChanged(Value, TripEvent):
    """Another coach runs the trip (Dispatch/ChangeVehicle): it has the layout's first
    `seat_count` seats.  The seats beyond are blocked ("vehicle") and the tickets on them moved as
    `reseated` says (ticket id, old seat index, new seat index); seats within that were blocked "vehicle"
    by an earlier, smaller coach come back into sale."""

    trip_id: str
    seat_count: int
    reseated: tuple[tuple[str, int, int], ...] = ()
    vehicle_name: str = ""
    at_ms: int = 0


class ExtraRunAdded(Value, TripEvent):
    """The trip just scheduled (TripScheduled in the same entry) is an extra run (加班) on the route
    of `source_trip_id`, added by dispatch."""

    trip_id: str
    source_trip_id: str
    at_ms: int = 0
