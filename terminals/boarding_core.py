"""The gate's decision core: given one scan and what the lane holds locally, board or stop.

Pure: no network, no files, no clock of its own (the caller passes `now_s`), so that the gate
program (`keyun gate run`, terminals/gate_lane.py) and, later, the handheld decide alike, and so
that it is tested without a server.  docs/boarding.md describes the rules.

A scan is one of three texts (`classify`):
- a boarding credential, `KY1...`, verified with the station's public keys (common/eticket.py);
- a resident ID number, 18 characters, as an identity-card reader in keyboard mode sends it: the
  ticket is found by the keyed digest of the number (the number itself is never kept);
- anything else is taken as a ticket id, found in the local boarding sets.

Deciding is two steps, so that a lane online can let the server check the ticket in while still
using the same identification and real-name rule: `identify` finds the ticket (or stops), and
`local_checks` is what a lane decides by itself when the server cannot answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keyun.common import eticket
from keyun.engine.policy import Policy
from keyun.engine.reasons import Reason

RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
# ISO 7064 MOD 11-2, as GB 11643 defines the last character of a resident ID number.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Ticket statuses (as the boarding set names them) that may still board.
BOARDABLE = frozenset({"issued", "checked_in"})


class ScanKind:
    CREDENTIAL = "credential"
    DOCUMENT = "document"
    TICKET_ID = "ticket_id"


def classify(scan: str) -> str:
    text = scan.strip().upper()
    if text.startswith(eticket.PREFIX.upper()):
        return ScanKind.CREDENTIAL
    if len(text) == 18 and text[:17].isdigit():
        return ScanKind.DOCUMENT
    return ScanKind.TICKET_ID


def resident_id_valid(number: str) -> bool:
    """Whether an 18-character resident ID number has the right check character."""
    number = number.strip().upper()
    if not RESIDENT_ID.match(number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17]


@dataclass(frozen=True)
class Entry:
    """One ticket as the lane knows it: from its boarding set, or from a credential alone."""

    ticket_id: str
    trip_id: str
    seat: str
    from_stop: str
    to_stop: str
    departs_at_s: int  # when the coach leaves the boarding stop
    status: str = "issued"  # issued, checked_in, refunded, changed, void
    holder_name: str = ""  # masked
    document_digest: bytes = b""


@dataclass
class LocalState:
    """What one lane holds to decide without the server (terminals/gate_lane.py keeps it durable)."""

    station: str
    public_keys: Mapping[str, Any] = field(default_factory=dict)  # key id -> Ed25519PublicKey
    digest_key: bytes = b""
    entries: dict[str, Entry] = field(default_factory=dict)  # by ticket id, every trip boarding here
    trip_departs_s: dict[str, int] = field(default_factory=dict)  # with any delay, from ListBoardingTrips
    cancelled_trips: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)  # ticket ids (WatchRevocations)
    used: dict[str, str] = field(default_factory=dict)  # ticket id -> gate that let it through
    # Station policy, as the server applies it (engine/policy.py): boarding opens this long before
    # departure and closes this long after it.
    boarding_opens_s: int = Policy().boarding_opens_ms // 1000
    boarding_closes_s: int = Policy().boarding_closes_ms // 1000
    require_document_match: bool = False  # station policy: real-name boarding

    def mark_used(self, ticket_id: str, gate_id: str) -> None:
        self.used.setdefault(ticket_id, gate_id)


@dataclass(frozen=True)
class Decision:
    """Board (`passed`) or stop, with what the display shows."""

    passed: bool
    reason: str  # a Reason name, "" when passed
    message: str
    ticket_id: str = ""
    trip_id: str = ""
    seat: str = ""
    holder_name: str = ""
    awaiting_document: bool = False  # real-name boarding: the next scan must be the holder's card

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "message": self.message,
            "ticket_id": self.ticket_id,
            "trip_id": self.trip_id,
            "seat": self.seat,
            "holder_name": self.holder_name,
            "awaiting_document": self.awaiting_document,
        }


def stop(reason: Reason, message: str, entry: Entry | None = None) -> Decision:
    return Decision(False, reason.name, message, *_shown(entry))


def board(entry: Entry, message: str = "board") -> Decision:
    return Decision(True, "", message, *_shown(entry))


def _shown(entry: Entry | None) -> tuple[str, str, str, str]:
    if entry is None:
        return ("", "", "", "")
    return (entry.ticket_id, entry.trip_id, entry.seat, entry.holder_name)


@dataclass(frozen=True)
class Identified:
    """The ticket a scan names; `by_document` when the scan was the holder's own identity card."""

    entry: Entry
    by_document: bool


def identify(state: LocalState, scan: str, now_s: int) -> Identified | Decision:
    """The ticket a scan names, or a stop when the scan names none that may board here."""
    kind = classify(scan)
    if kind == ScanKind.CREDENTIAL:
        return _by_credential(state, scan, now_s)
    if kind == ScanKind.DOCUMENT:
        return _by_document(state, scan.strip().upper(), now_s)
    entry = state.entries.get(scan.strip())
    if entry is None:
        return stop(Reason.UNKNOWN_TICKET, f"no ticket {scan.strip()[:40]} boarding at this gate")
    return Identified(entry, False)


def _by_credential(state: LocalState, text: str, now_s: int) -> Identified | Decision:
    try:
        boarding_pass = eticket.verify(text, state.public_keys, now_s)
    except eticket.CredentialRefused as refused:
        return stop(refused.reason, refused.message)
    known = state.entries.get(boarding_pass.ticket_id)
    if known is not None:  # the boarding set is fresher than the credential (status, delay)
        return Identified(known, False)
    # Sold after the lane last fetched the set: the signed credential is enough to board.
    return Identified(
        Entry(
            ticket_id=boarding_pass.ticket_id,
            trip_id=boarding_pass.trip_id,
            seat=boarding_pass.seat,
            from_stop=boarding_pass.from_stop,
            to_stop=boarding_pass.to_stop,
            departs_at_s=boarding_pass.departs_at_s,
            holder_name=boarding_pass.holder_name,
            document_digest=boarding_pass.document_digest,
        ),
        False,
    )


def _by_document(state: LocalState, number: str, now_s: int) -> Identified | Decision:
    if not resident_id_valid(number):
        return stop(Reason.INVALID_DOCUMENT, "not a valid resident ID number: scan the card again")
    if not state.digest_key:
        return stop(Reason.NO_TICKET_FOR_DOCUMENT, "this gate has no document-digest key yet")
    digest = eticket.document_digest(state.digest_key, "RESIDENT_ID", number)
    found = [
        entry
        for entry in state.entries.values()
        if entry.document_digest == digest and entry.from_stop == state.station and entry.status in BOARDABLE
    ]
    # Of the holder's tickets here, the one whose coach leaves first and is not gone yet.
    found.sort(key=lambda entry: _departs(state, entry))
    upcoming = [entry for entry in found if _departs(state, entry) >= now_s] or found
    if not upcoming:
        return stop(Reason.NO_TICKET_FOR_DOCUMENT, "no ticket boarding at this gate for this identity card")
    unused = [entry for entry in upcoming if entry.ticket_id not in state.used and entry.status != "checked_in"]
    return Identified((unused or upcoming)[0], True)


def match_document(state: LocalState, pending: Entry, scan: str) -> Decision | None:
    """Real-name boarding, the scan after a ticket: None when it is the holder's card, else a stop."""
    number = scan.strip().upper()
    if classify(number) != ScanKind.DOCUMENT:
        return stop(Reason.DOCUMENT_REQUIRED, "scan the passenger's identity card", pending)
    if not resident_id_valid(number):
        return stop(Reason.INVALID_DOCUMENT, "not a valid resident ID number: scan the card again", pending)
    if eticket.document_digest(state.digest_key, "RESIDENT_ID", number) != pending.document_digest:
        return stop(Reason.DOCUMENT_MISMATCH, "the identity card is not this ticket's holder's", pending)
    return None


def needs_document(state: LocalState, found: Identified) -> bool:
    """Real-name boarding asks for the holder's card after a ticket (not after the card itself)."""
    return state.require_document_match and not found.by_document and bool(found.entry.document_digest)


def local_checks(state: LocalState, entry: Entry, now_s: int) -> Decision:
    """What the lane decides alone: revocations, station, boarding time, used already."""
    if entry.ticket_id in state.revoked or entry.status not in BOARDABLE:
        status = entry.status if entry.status not in BOARDABLE else "revoked"
        return stop(Reason.CREDENTIAL_REVOKED, f"ticket {entry.ticket_id} was {status}", entry)
    if entry.trip_id in state.cancelled_trips:
        return stop(Reason.TRIP_CANCELLED, f"trip {entry.trip_id} is cancelled", entry)
    if entry.from_stop != state.station:
        return stop(Reason.BOARDS_ELSEWHERE, f"this ticket boards at {entry.from_stop}", entry)
    departs = _departs(state, entry)
    if now_s < departs - state.boarding_opens_s:
        return stop(Reason.NOT_YET_BOARDING, "boarding has not opened yet", entry)
    if now_s > departs + state.boarding_closes_s:
        return stop(Reason.BOARDING_CLOSED, f"boarding for trip {entry.trip_id} has closed", entry)
    if entry.ticket_id in state.used or entry.status == "checked_in":
        gate = state.used.get(entry.ticket_id, "")
        return stop(
            Reason.ALREADY_CHECKED_IN,
            f"ticket {entry.ticket_id} already checked in" + (f" at gate {gate}" if gate else ""),
            entry,
        )
    return board(entry)


def decide(state: LocalState, scan: str, now_s: int, pending: Entry | None = None) -> Decision:
    """The whole offline decision for one scan; `pending` is the ticket awaiting its holder's card
    (the previous decision had `awaiting_document`).  The caller marks a passed ticket used."""
    if pending is not None:
        mismatch = match_document(state, pending, scan)
        return mismatch if mismatch is not None else local_checks(state, pending, now_s)
    found = identify(state, scan, now_s)
    if isinstance(found, Decision):
        return found
    checked = local_checks(state, found.entry, now_s)
    if checked.passed and needs_document(state, found):
        return awaiting(found.entry)
    return checked


def awaiting(entry: Entry) -> Decision:
    return Decision(
        False,
        Reason.DOCUMENT_REQUIRED.name,
        "scan the passenger's identity card",
        *_shown(entry),
        awaiting_document=True,
    )


def _departs(state: LocalState, entry: Entry) -> int:
    return state.trip_departs_s.get(entry.trip_id, entry.departs_at_s)
