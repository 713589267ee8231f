"""Events: what happened to a trip.  The journal stores these; replay folds them with `evolve`.

Events carry decided facts (seat indices, ids, amounts, times), never the rules that produced them,
so replaying an old log under a new refund policy rebuilds exactly the old state.
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import TripSpec


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


@dataclass(frozen=True, slots=True)
class TicketsIssued:
    """Tickets for seats of one segment; from a hold (hold_id set) or sold directly (hold_id "")."""

    trip_id: str
    hold_id: str
    from_stop: int
    to_stop: int
    tickets: tuple[IssuedTicket, ...]
    at_ms: int


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
