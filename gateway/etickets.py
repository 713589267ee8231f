"""Boarding credentials on the server side: signing tickets' credentials, and revocation positions.

The format and the verifier are keyun.common.eticket (gates share them); the keys are the
station's credential keys (keyun.persistence.credential_keys), handed in by keyun.app.server.
docs/boarding.md describes the whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keyun.common import eticket
from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine.commands import MAX_DELAY_MIN, GetRevocations
from keyun.engine.decide import TripStatus
from keyun.engine.policy import Policy
from keyun.engine.reasons import Reason, Rejected, reject
from keyun.engine.state import TicketStatus
from keyun.engine.views import RevocationsView, TicketView

log = logging.getLogger("keyun.gateway")

# A credential is valid from this long before boarding opens at its stop (a passenger early at the
# gate, a gate's clock a little fast) ...
VALID_BEFORE_BOARDING_MS = 30 * 60 * 1000
# ... until this long after the coach's last stop: the longest delay dispatch can announce
# (engine.commands.MAX_DELAY_MIN) and an hour, so no delay outlasts a credential signed before it
# and none needs signing again.  Boarding times and a departed trip are the gate's own checks,
# against its boarding set.
VALID_AFTER_END_MS = MAX_DELAY_MIN * 60 * 1000 + 60 * 60 * 1000
# A ticket sold before ticket types existed is a full fare (全票).
DEFAULT_TICKET_TYPE = "full"


def ticket_type(view: TicketView) -> str:
    """What the ticket is sold as (engine.fares.TicketType's value): full, child, concession, ..."""
    return view.fare.ticket_type if view.fare is not None else DEFAULT_TICKET_TYPE


BOARDABLE = (TicketStatus.ISSUED, TicketStatus.CHECKED_IN)


class CredentialKeySource(Protocol):
    """The station's credential keys as the gateway uses them (persistence.credential_keys)."""

    @property
    def current_key_id(self) -> str: ...

    @property
    def signing_key(self) -> Ed25519PrivateKey: ...

    digest_key: bytes

    def keys(self) -> tuple: ...

    def public_keys(self) -> dict[str, Ed25519PublicKey]: ...

    def reload(self) -> None: ...

    def reload_if_changed(self) -> bool: ...


# How often a gateway looks whether `keyun keys rotate-credential` changed the keys, so it signs with
# a new key soon after a rotation even when no gate asks for the keys.
KEY_RECHECK_S = 10.0


class Issuer:
    """Signs a ticket's credential with the current credential key, and verifies scanned ones."""

    def __init__(self, keys: CredentialKeySource, policy: Policy, utc_offset_min: int, clock: Clock = SYSTEM_CLOCK):
        self.keys = keys
        self.policy = policy
        self.zone = dt.timezone(dt.timedelta(minutes=utc_offset_min))
        self.clock = clock
        self.checked_at = clock.monotonic()

    def credential(self, view: TicketView) -> str:
        """The credential text of a ticket that may board; "" for one that may not."""
        if view.status not in BOARDABLE or view.trip.status is TripStatus.CANCELLED:
            return ""
        if self.clock.monotonic() - self.checked_at >= KEY_RECHECK_S:
            self.checked_at = self.clock.monotonic()
            self.keys.reload_if_changed()
        return eticket.sign(self.boarding_pass(view), self.keys.signing_key)

    def boarding_pass(self, view: TicketView) -> eticket.BoardingPass:
        departs_ms = view.from_stop.departs_at_ms
        end_ms = max(stop.departs_at_ms for stop in view.trip.stops)
        holder = view.holder
        return eticket.BoardingPass(
            version=eticket.FORMAT_VERSION,
            key_id=self.keys.current_key_id,
            ticket_id=view.ticket_id,
            trip_id=view.trip.trip_id,
            travel_date=dt.datetime.fromtimestamp(departs_ms / 1000, self.zone).date().isoformat(),
            from_stop=view.from_stop.code,
            to_stop=view.to_stop.code,
            seat=view.seat_label,
            ticket_type=ticket_type(view),
            departs_at_s=departs_ms // 1000,
            valid_from_s=(departs_ms - self.policy.boarding_opens_ms - VALID_BEFORE_BOARDING_MS) // 1000,
            valid_until_s=(end_ms + VALID_AFTER_END_MS) // 1000,
            holder_name=holder.name_masked if holder is not None else "",
            document_digest=holder.document_digest if holder is not None else b"",
        )

    def verify(self, text: str, now_ms: int) -> eticket.BoardingPass:
        """The boarding pass of a scanned credential; Rejected with a CREDENTIAL_* reason otherwise.
        Keys are read again once when a credential names one this process does not know (another
        process rotated)."""
        try:
            return eticket.verify(text, self.keys.public_keys(), now_ms // 1000)
        except eticket.CredentialRefused as refused:
            if refused.reason is not Reason.CREDENTIAL_UNKNOWN_KEY:
                raise Rejected(reject(refused.reason, refused.message, field="credential")) from None
        self.keys.reload()
        try:
            return eticket.verify(text, self.keys.public_keys(), now_ms // 1000)
        except eticket.CredentialRefused as refused:
            raise Rejected(reject(refused.reason, refused.message, field="credential")) from None

    def document_digest(self, document_type: str, number: str) -> bytes:
        return eticket.document_digest(self.keys.digest_key, document_type, number)


# -- revocation positions -----------------------------------------------------------------------

# A position is "r1:" and trip=count pairs joined by ",": how many of each trip's revocations
# (kept in order in the trip's owner, engine.state.Revocation) the gate has seen.
POSITION_PREFIX = "r1:"
MAX_WATCHED_TRIPS = 200
MAX_POSITION_CHARS = 80 * MAX_WATCHED_TRIPS
_PAIR = re.compile(r"([A-Za-z0-9_-]{1,64})=([0-9]{1,9})")  # a trip id (MAX_ID_CHARS) and a count


def parse_position(text: str) -> dict[str, int]:
    """Counts per trip from a position; Rejected (INVALID_FIELD position) for anything else."""
    if not text:
        return {}
    if not text.startswith(POSITION_PREFIX) or len(text) > MAX_POSITION_CHARS:
        raise Rejected(reject(Reason.INVALID_FIELD, "position: give back a position a response said", field="position"))
    counts = {}
    body = text[len(POSITION_PREFIX) :]
    for pair in body.split(",") if body else ():
        match = _PAIR.fullmatch(pair)
        if match is None:
            raise Rejected(reject(Reason.INVALID_FIELD, "position: damaged", field="position"))
        counts[match[1]] = int(match[2])
    return counts


def format_position(counts: dict[str, int]) -> str:
    return POSITION_PREFIX + ",".join(f"{trip_id}={count}" for trip_id, count in sorted(counts.items()))


class RevocationFeed:
    """One poller of the trips that revocation watches follow, however many gates watch them.

    Every `poll_s` it asks each watched trip's owner for revocations past the newest position it
    knows (one small query per trip, not per watch), and when any trip's position grew it wakes
    every watch; a watch then reads its own delta from the owners for just the trips that moved.
    So a station with twenty lanes watching the same trips costs the owners what one lane does
    while nothing is revoked."""

    def __init__(self, submit: Callable[[Any], Awaitable[Any]], poll_s: float):
        self.submit = submit
        self.poll_s = poll_s
        self.known: dict[str, int] = {}  # trip -> the newest position seen
        self.departed: set[str] = set()
        self.watching: Counter[str] = Counter()
        self.changed = asyncio.Event()  # set (and replaced) whenever a known position grows
        self.task: asyncio.Task | None = None

    @contextmanager
    def watch(self, counts: dict[str, int]) -> Iterator[None]:
        """Follow these trips for as long as the block runs."""
        for trip_id, count in counts.items():
            self.watching[trip_id] += 1
            self.known[trip_id] = max(self.known.get(trip_id, 0), count)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield
        finally:
            for trip_id in counts:
                self.watching[trip_id] -= 1
                if self.watching[trip_id] <= 0:
                    del self.watching[trip_id]
                    self.known.pop(trip_id, None)
                    self.departed.discard(trip_id)

    def moved(self, counts: dict[str, int]) -> list[str]:
        """The trips whose known position is past a watch's."""
        return [trip_id for trip_id, count in counts.items() if self.known.get(trip_id, 0) > count]

    async def _run(self) -> None:
        while self.watching:
            await asyncio.sleep(self.poll_s)
            trips = list(self.watching)
            replies = await asyncio.gather(
                *(self.submit(GetRevocations(trip_id, self.known.get(trip_id, 0))) for trip_id in trips),
                return_exceptions=True,
            )
            grew = False
            for trip_id, reply in zip(trips, replies):
                if isinstance(reply, BaseException):  # an owner restarting: the next round asks again
                    log.debug("revocation feed: %s not answered this round: %r", trip_id, reply)
                    continue
                if not isinstance(reply, RevocationsView) or trip_id not in self.watching:
                    continue  # archived since, or nobody watches it any more
                if reply.departed:
                    self.departed.add(trip_id)
                if reply.position > self.known.get(trip_id, 0):
                    self.known[trip_id] = reply.position
                    grew = True
            if grew:
                woken, self.changed = self.changed, asyncio.Event()
                woken.set()
