"""Ticket types and fare components: what each seat of a sale costs, by the station's rules.

The national road passenger rules (交通运输部《道路旅客运输及客运站管理规定》, 交运规〔2019〕17号)
give the defaults, and a station sets its own in the `[fares]` table of its policy file
(engine/policy.py, docs/tickets.md):

- full fare (全票): the segment's fare from the network file;
- child (儿童票, 6 to under 14 on the travel date): half fare, with a seat;
- free child (免票儿童, under 6): no seat of their own, one per fare-paying adult, and no more than
  10 % of the coach's rated seats on one trip;
- concession (优待票: disabled servicemen, injured police and fire-rescue personnel, ...): half
  fare, with the proving document recorded;
- student (学生票): half fare, or the station's percentage, on schedules that offer it.

On vehicles of 9 seats or fewer neither child fare applies.  Every ticket's price is the sum of
its components: the base fare (after the type's percentage, the station's rounding and its
minimum fare), the station service fee (站务费), the fuel surcharge and, when bought, the
passenger accident insurance (乘意险).
"""

from __future__ import annotations

from enum import Enum

from .events import Fare, Holder
from .values import Value


class TicketType(Enum):
    FULL = "full"
    CHILD = "child"
    FREE_CHILD = "free_child"  # rides on a fare-paying adult's ticket (Fare.free_child), never on a seat
    CONCESSION = "concession"
    STUDENT = "student"


# The types a seat is sold as, and those of a fare-paying adult, who may take one free child along.
SEAT_TYPES = frozenset(
    {TicketType.FULL.value, TicketType.CHILD.value, TicketType.CONCESSION.value, TicketType.STUDENT.value}
)
ADULT_TYPES = frozenset({TicketType.FULL.value, TicketType.CONCESSION.value, TicketType.STUDENT.value})
# The types that need the passenger's resident ID: a child's age is read from it, a concession's
# holder is named by it.
IDENTIFIED_TYPES = frozenset({TicketType.CHILD.value, TicketType.FREE_CHILD.value, TicketType.CONCESSION.value})
CHILD_TYPES = frozenset({TicketType.CHILD.value, TicketType.FREE_CHILD.value})
FULL = TicketType.FULL.value
ONLY_FULL = frozenset({FULL})  # the ticket types of a sale of full fares only

# A ticket's components that a refund can give back (insurance is always given back in full).
COMPONENTS = ("base", "service_fee", "fuel_surcharge")
ROUNDINGS = ("half_up", "half_down", "up", "down")
ROUND_STEPS_FEN = (1, 10, 50, 100)
DOCUMENT_RULES = ("overlapping", "trip", "off")  # to the fen, the jiao, half a yuan, a yuan

# Children's ages, in whole years on the travel date: a child ticket from CHILD_FROM_AGE to under
# CHILD_UNTIL_AGE, a free child under CHILD_FROM_AGE.
CHILD_FROM_AGE, CHILD_UNTIL_AGE = 6, 14


class FareRules(Value):
    """A station's fare rules (the `[fares]` table of its policy file).  The defaults change no
    fare sold before ticket types existed: no service fee and no fuel surcharge unless the station
    sets them, fares kept to the fen, no minimum beyond the network's own."""

    child_percent: int = 50
    concession_percent: int = 50
    student_percent: int = 50
    service_fee_fen: int = 0
    fuel_surcharge_fen: int = 0
    insurance_fen: int = 300  # 乘意险 sold with a ticket when the passenger asks for it
    round_to_fen: int = 1
    rounding: str = "half_up"
    minimum_fare_fen: int = 0
    refundable: tuple[str, ...] = COMPONENTS
    # 实名制: how many live tickets a document may hold on one trip.  "overlapping": none whose
    # segments share a leg (a passenger sits in one seat at a time); "trip": one on the whole trip,
    # whatever the segments; "off": no limit.
    one_ticket_per_document: str = "overlapping"
    free_child_percent: int = 10  # free children on a trip, at most this share of its rated seats
    small_vehicle_seats: int = 9  # vehicles of this many seats or fewer sell no child fares

    @property
    def itemises(self) -> bool:
        """Whether a full-fare ticket costs more than its base: then every sale is priced here."""
        return bool(self.service_fee_fen or self.fuel_surcharge_fen)

    def percent(self, ticket_type: str) -> int:
        if ticket_type == FULL:  # most seats: no enum look-up (an enum's .value is a property)
            return 100
        if ticket_type == TicketType.CHILD.value:
            return self.child_percent
        if ticket_type == TicketType.CONCESSION.value:
            return self.concession_percent
        if ticket_type == TicketType.STUDENT.value:
            return self.student_percent
        return 100

    def fare(self, full_fen: int, ticket_type: str, insured: bool, free_child: Holder | None = None) -> Fare:
        """One seat's fare of a segment whose full fare is `full_fen`."""
        percent = self.percent(ticket_type)
        base = full_fen if percent == 100 else round_fen(full_fen * percent, 100, self.round_to_fen, self.rounding)
        return Fare(
            ticket_type,
            max(base, self.minimum_fare_fen),
            self.service_fee_fen,
            self.fuel_surcharge_fen,
            self.insurance_fen if insured else 0,
            free_child,
        )

    def refund_basis_fen(self, fare: Fare | None, price_fen: int) -> int:
        """The part of a ticket's price its refund fee is worked out on, and which goes back less
        the fee: the refundable components (all of a ticket sold before components existed)."""
        if fare is None:
            return price_fen
        parts = {"base": fare.base_fen, "service_fee": fare.service_fee_fen, "fuel_surcharge": fare.fuel_surcharge_fen}
        return sum(parts[name] for name in self.refundable)


def round_fen(numerator: int, denominator: int, step_fen: int, rounding: str) -> int:
    """numerator / denominator fen, rounded to a multiple of step_fen, in whole numbers only."""
    unit = denominator * step_fen
    whole, rest = divmod(numerator, unit)
    if rounding == "half_up":
        whole += 2 * rest >= unit
    elif rounding == "half_down":
        whole += 2 * rest > unit
    elif rounding == "up":
        whole += rest > 0
    return whole * step_fen


def free_child_limit(rules: FareRules, rated_seats: int) -> int:
    """How many free children a coach of `rated_seats` may carry on one trip."""
    return rated_seats * rules.free_child_percent // 100


def age_on(birth_yyyymmdd: str, year: int, month: int, day: int) -> int:
    """Whole years of age on a date, from a YYYYMMDD birth date (a resident ID's characters 7-14)."""
    born_year, born_month, born_day = int(birth_yyyymmdd[:4]), int(birth_yyyymmdd[4:6]), int(birth_yyyymmdd[6:8])
    return year - born_year - ((month, day) < (born_month, born_day))
