"""Walk-in passengers (实名制 without an account): a Sell or Hold request's `passengers`, checked,
encrypted and masked into what the trip owner keeps.

A counter, kiosk or handheld sells to a passenger by document type, number and name.  Here the
gateway, which alone holds the station's field keys, validates the document as it does for
frequent passengers (engine/identity.py), checks a child's age from the resident ID's birth date
on the travel date, and turns each passenger into an engine Holder: the name and number masked
as printed, encrypted for the record, and the document's keyed blind index, the same one the
accounts owner keeps for frequent passengers, so that the trip owner can hold one document to one
live ticket on a trip (per overlapping segment, or per trip, as the station's policy says),
whatever the channel sold it.  Plain text never leaves the gateway.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keyun.engine import identity
from keyun.engine.commands import TicketRequest
from keyun.engine.events import Holder
from keyun.engine.fares import ADULT_TYPES, CHILD_FROM_AGE, CHILD_UNTIL_AGE, IDENTIFIED_TYPES, TicketType, age_on
from keyun.engine.limits import MAX_SEATS_PER_HOLD
from keyun.engine.reasons import Reason, Rejected, element, invalid, reject
from keyun.v1 import common_pb2

from .credentials import StationKeys

# (document type, number) -> the keyed digest a gate matches an identity card with (etickets.py).
Digest = Callable[[str, str], bytes]

DOCUMENT_OF_PROTO = {getattr(common_pb2, f"DOCUMENT_TYPE_{kind.name}"): kind for kind in identity.DocumentType}
TICKET_TYPE_OF_PROTO = {getattr(common_pb2, f"TICKET_TYPE_{kind.name}"): kind.value for kind in TicketType}
TICKET_TYPE_OF_PROTO[common_pb2.TICKET_TYPE_UNSPECIFIED] = TicketType.FULL.value
# The blind index the accounts owner keeps of frequent passengers' documents (AddPassenger): the
# same key and context, so a document is one document whichever channel sold its ticket.
DOCUMENT_INDEX_CONTEXT = "passenger.document"
# Ciphers of walk-in passengers are bound to their field: moved to another field, they do not decrypt.
NAME_CONTEXT, DOCUMENT_CONTEXT, PROOF_CONTEXT = "walk-in.name", "walk-in.document", "walk-in.proof"
PHONE_CONTEXT = "walk-in.phone"
# The blind index of passengers' phone numbers, walk-in and frequent alike (FindPassengerTickets).
PHONE_INDEX_CONTEXT = "passenger.phone"
MAX_PROOF_TYPE_CHARS = 20
# Ticket types' values, read once: an enum member's .value is a property, and each sale compares
# every passenger's type several times.
CHILD, FREE_CHILD, CONCESSION = TicketType.CHILD.value, TicketType.FREE_CHILD.value, TicketType.CONCESSION.value
PROOF_NUMBER = re.compile(r"[A-Z0-9-]{4,32}")


@dataclass(frozen=True, slots=True)
class WalkIn:
    """One passenger of the request, checked, in plain text until sealed."""

    index: int  # in the request's `passengers`
    kind: identity.DocumentType
    number: str
    name: str
    ticket_type: str
    insured: bool
    proof_type: str
    proof_number: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Sealed:
    """What the sale sends its trip owner: a holder and a ticket request per seat."""

    holders: tuple[Holder, ...]
    tickets: tuple[TicketRequest, ...]


def parse(passengers: Sequence[Any]) -> list[WalkIn]:
    """Every passenger of the request checked (document, name, type, proof), or Rejected naming
    the field at fault; the message never repeats a document number."""
    if len(passengers) > 2 * MAX_SEATS_PER_HOLD:
        raise invalid("passengers", f"at most {MAX_SEATS_PER_HOLD} seated passengers and a free child each")
    return [_one(index, p) for index, p in enumerate(passengers)]


def _one(index: int, p: Any) -> WalkIn:
    where = element("passengers", index)
    kind = DOCUMENT_OF_PROTO.get(p.document_type)
    if kind is None:
        raise invalid(f"{where}.document_type", "choose a document type")
    number = identity.normalize_document(kind, p.document_number, f"{where}.document_number")
    try:
        name = identity.check_person_name(p.name)
    except Rejected as rejected:
        raise invalid(f"{where}.name", rejected.rejection.message.removeprefix("name: ")) from None
    ticket_type = TICKET_TYPE_OF_PROTO.get(p.ticket_type)
    if ticket_type is None:
        raise invalid(f"{where}.ticket_type", "choose a ticket type")
    if ticket_type in IDENTIFIED_TYPES and kind is not identity.DocumentType.RESIDENT_ID:
        raise Rejected(
            reject(
                Reason.IDENTITY_REQUIRED,
                f"{where}: a {ticket_type} ticket is sold against the passenger's resident ID (居民身份证), "
                "whose birth date or holder it is checked by",
                field=f"{where}.document_type",
            )
        )
    if ticket_type == FREE_CHILD and p.insurance:
        raise invalid(f"{where}.insurance", "a free child rides on an adult's ticket: no insurance is sold for them")
    proof_type, proof_number = _proof(where, ticket_type, p.proof_type, p.proof_number)
    try:
        phone = identity.normalize_phone(p.phone) if p.phone else ""
    except Rejected as rejected:
        raise invalid(f"{where}.phone", rejected.rejection.message.removeprefix("phone: ")) from None
    return WalkIn(index, kind, number, name, ticket_type, bool(p.insurance), proof_type, proof_number, phone)


def _proof(where: str, ticket_type: str, proof_type: str, proof_number: str) -> tuple[str, str]:
    """A concession's proving document, which it must have; other types take none."""
    if ticket_type != CONCESSION:
        if proof_type or proof_number:
            raise invalid(f"{where}.proof_type", "only a concession ticket records a proving document")
        return "", ""
    kind = unicodedata.normalize("NFC", proof_type).strip()
    if not kind or len(kind) > MAX_PROOF_TYPE_CHARS or not kind.isprintable():
        raise invalid(
            f"{where}.proof_type", f"name the proving document (残疾军人证, ...), 1-{MAX_PROOF_TYPE_CHARS} characters"
        )
    number = unicodedata.normalize("NFKC", proof_number).strip().upper()
    if not PROOF_NUMBER.fullmatch(number):
        raise invalid(f"{where}.proof_number", "the proving document's number: 4-32 letters, digits or dashes")
    return kind, number


def document_index(keys: StationKeys, kind: identity.DocumentType, number: str) -> bytes:
    """A document's blind index, as sales put it on tickets (number already normalized)."""
    return keys.blind_index(f"{kind.name}:{number}", DOCUMENT_INDEX_CONTEXT)


def phone_index(keys: StationKeys, phone: str) -> bytes:
    return keys.blind_index(phone, PHONE_INDEX_CONTEXT)


# Sales/FindPassengerTickets: the stated purpose, and how many tickets one look-up returns.
MAX_PURPOSE_CHARS = 200
DEFAULT_TRACE_PAGE, MAX_TRACE_PAGE = 50, 200


def purpose(text: str) -> str:
    """Why personal data is looked up: required, one printable line, recorded in the audit log."""
    stated = text.strip()
    if not stated:
        raise Rejected(
            reject(Reason.MISSING_FIELD, "purpose: say why the passenger's tickets are needed", field="purpose")
        )
    if len(stated) > MAX_PURPOSE_CHARS or not stated.isprintable():
        raise invalid("purpose", f"at most {MAX_PURPOSE_CHARS} printable characters")
    return stated


def trace_key(keys: StationKeys, request: Any) -> tuple[bytes, bytes, str]:
    """The blind index a look-up searches by (document's or phone's) and its masked form for the
    audit record; Rejected naming the field when neither or both are given, or one is malformed."""
    if request.phone and (request.document_number or request.document_type):
        raise invalid("phone", "give a document or a phone number, not both")
    if request.phone:
        try:
            phone = identity.normalize_phone(request.phone)
        except Rejected as rejected:
            raise invalid("phone", rejected.rejection.message.removeprefix("phone: ")) from None
        return b"", phone_index(keys, phone), identity.mask_phone(phone)
    if not request.document_number:
        raise Rejected(
            reject(Reason.MISSING_FIELD, "document_number: give a document or a phone number", field="document_number")
        )
    kind = DOCUMENT_OF_PROTO.get(request.document_type)
    if kind is None:
        raise invalid("document_type", "choose a document type")
    number = identity.normalize_document(kind, request.document_number)
    return document_index(keys, kind, number), b"", f"{kind.name} {identity.mask_document(number)}"


def needs_travel_date(walk_ins: list[WalkIn]) -> bool:
    return any(w.ticket_type in (CHILD, FREE_CHILD) for w in walk_ins)


def check_ages(walk_ins: list[WalkIn], travel_date: dt.date) -> None:
    """A child is 6 to under 14, a free child under 6, on the travel date (the station's date of the
    coach leaving the passenger's stop), by the resident ID's birth date."""
    for w in walk_ins:
        if w.ticket_type not in (CHILD, FREE_CHILD):
            continue
        age = age_on(w.number[6:14], travel_date.year, travel_date.month, travel_date.day)
        where = element("passengers", w.index)
        if age < 0:
            raise invalid(f"{where}.document_number", f"the passenger is born after the travel date {travel_date}")
        if w.ticket_type == CHILD and not CHILD_FROM_AGE <= age < CHILD_UNTIL_AGE:
            raise Rejected(
                reject(
                    Reason.AGE_NOT_CHILD,
                    f"{where}: a child ticket is for ages {CHILD_FROM_AGE} to under {CHILD_UNTIL_AGE} on the "
                    f"travel date {travel_date}; this passenger is {age}",
                    field=f"{where}.ticket_type",
                    age=age,
                )
            )
        if w.ticket_type == FREE_CHILD and age >= CHILD_FROM_AGE:
            raise Rejected(
                reject(
                    Reason.AGE_NOT_FREE_CHILD,
                    f"{where}: a free child is under {CHILD_FROM_AGE} on the travel date {travel_date}; this "
                    f"passenger is {age}: sell a child ticket",
                    field=f"{where}.ticket_type",
                    age=age,
                )
            )


def seats_of(walk_ins: list[WalkIn]) -> int:
    """How many seats the passengers take: all but the free children."""
    return sum(1 for w in walk_ins if w.ticket_type != FREE_CHILD)


def seal(keys: StationKeys, walk_ins: list[WalkIn], digest: Digest | None = None) -> Sealed:
    """Holders and ticket requests, one per seat; each free child rides with the next fare-paying
    adult of the sale (in the request's order) who has none.  `digest` gives each holder the keyed
    digest of their document that a gate matches a scanned identity card with (gateway/etickets.py)."""
    seated = [w for w in walk_ins if w.ticket_type != FREE_CHILD]
    adults = [k for k, w in enumerate(seated) if w.ticket_type in ADULT_TYPES]
    free_children = [w for w in walk_ins if w.ticket_type == FREE_CHILD]
    if len(free_children) > len(adults):
        extra = free_children[len(adults)]
        raise Rejected(
            reject(
                Reason.FREE_CHILD_NEEDS_ADULT,
                f"{element('passengers', extra.index)}: one free child rides with each fare-paying adult "
                f"(full, concession or student ticket), and this sale has {len(adults)}: "
                "a second child pays the child fare",
                field=element("passengers", extra.index),
            )
        )
    riding = {adults[k]: _holder(keys, child, digest) for k, child in enumerate(free_children)}
    return Sealed(
        tuple(_holder(keys, w, digest) for w in seated),
        tuple(TicketRequest(w.ticket_type, w.insured, riding.get(k)) for k, w in enumerate(seated)),
    )


def _holder(keys: StationKeys, w: WalkIn, digest: Digest | None) -> Holder:
    kind = w.kind.name  # an enum's name is a property: read once
    return Holder(
        "",
        "",
        identity.mask_name(w.name),
        kind,
        identity.mask_document(w.number),
        document_index(keys, w.kind, w.number),  # the one definition: every channel's index must match
        keys.encrypt(w.name, NAME_CONTEXT),
        keys.encrypt(w.number, DOCUMENT_CONTEXT),
        w.proof_type,
        identity.mask_document(w.proof_number) if w.proof_number else "",
        keys.encrypt(w.proof_number, PROOF_CONTEXT) if w.proof_number else b"",
        phone_index(keys, w.phone) if w.phone else b"",
        keys.encrypt(w.phone, PHONE_CONTEXT) if w.phone else b"",
        digest(kind, w.number) if digest is not None else b"",
    )


def travel_date(stops: Sequence[Any], from_station: str, utc_offset_min: int) -> dt.date | None:
    """The station's date of the coach leaving `from_station`, from a trip view's stops; None when
    the trip has no such stop (the owner refuses the segment then)."""
    for stop in stops:
        if stop.code == from_station:
            zone = dt.timezone(dt.timedelta(minutes=utc_offset_min))
            return dt.datetime.fromtimestamp(stop.departs_at_ms / 1000, tz=zone).date()
    return None
