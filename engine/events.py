"""Events: what happened to a trip.  The journal stores these; replay folds them with `evolve`.

Events carry decided facts (seat indices, ids, amounts, times), never the rules that produced them,
so replaying an old log under a new refund policy rebuilds exactly the old state.
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import TripSpec


@dataclass(frozen=True, slots=True)
class Holder:
    """The real-name passenger a ticket is for: which frequent passenger of the buyer's account,
    and the masked name and document printed on the ticket.  The full values stay encrypted with
    the accounts owner; a gate reads them through an audited look-up."""

    account_id: str
    passenger_id: str
    name_masked: str
    document_type: str
    document_masked: str


@dataclass(frozen=True, slots=True)
class TripScheduled:
    spec: TripSpec

    @property
    def trip_id(self) -> str:
        return self.spec.trip_id


@dataclass(frozen=True, slots=True)
class HoldPlaced:
    trip_id: str
    hold_id: str
    seats: tuple[int, ...]
    from_stop: int
    to_stop: int
    fare_fen: int  # per seat
    expires_at_ms: int
    buyer: str = ""  # the passenger account that placed it; "" for staff and devices
    holders: tuple[Holder, ...] = ()  # one per seat, in seat order, when bought for named passengers


@dataclass(frozen=True, slots=True)
class HoldReleased:
    trip_id: str
    hold_id: str


@dataclass(frozen=True, slots=True)
class HoldExpired:
    trip_id: str
    hold_id: str


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket_id: str
    seat: int
    price_fen: int
    holder: Holder | None = None


@dataclass(frozen=True, slots=True)
class TicketsIssued:
    """Tickets for seats of one segment; from a hold (hold_id set) or sold directly (hold_id "")."""

    trip_id: str
    hold_id: str
    from_stop: int
    to_stop: int
    tickets: tuple[IssuedTicket, ...]
    at_ms: int
    buyer: str = ""


@dataclass(frozen=True, slots=True)
class TicketRefunded:
    trip_id: str
    ticket_id: str
    fee_fen: int
    refund_fen: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class TicketCheckedIn:
    trip_id: str
    ticket_id: str
    gate_id: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class TripDeparted:
    trip_id: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class TripCancelled:
    trip_id: str
    at_ms: int


Event = (
    TripScheduled | HoldPlaced | HoldReleased | HoldExpired | TicketsIssued | TicketRefunded
    | TicketCheckedIn | TripDeparted | TripCancelled
)
