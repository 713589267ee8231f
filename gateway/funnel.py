"""The funnel recorder: searches and seat-map views, sampled and de-identified, sent to the report
projector in batches for behaviour analysis (docs/reporting.md, "Behaviour analysis").

A search is no owner's event, so nothing else records it.  Recording must not slow the call:

- On the request path, a call only appends a small tuple to a bounded in-memory queue (the raw
  token, the caller's address and what was searched).  No signature check, no HMAC, no I/O.  When
  the queue is full the event is dropped and counted (`keyun_funnel_events_dropped_total`).
- A background task takes the queue in batches every FLUSH_S.  It works out who called (the
  token's session, from the session cache, and the account's roles), turns the account into its
  keyed pseudonym, and sends the batch to the report projector as one Ray call.  The projector
  appends it to the bounded `funnel_events` table of the reporting store.

Sampling is by session: a session is kept or left out whole (so its funnel stays whole), decided
from a checksum of its token (or of the caller's address when nobody is logged in).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine.channels import PSEUDONYM_CONTEXT, channel_of

from .auth import bearer_token

log = logging.getLogger("keyun.funnel")

QUEUE_CAPACITY = 10_000  # events waiting to be sent; beyond it they are dropped and counted
BATCH = 1_000  # events per call to the projector
FLUSH_S = 0.5  # how often the queue is sent: how stale the funnel is at most, when all goes well
MAX_STREAM_ROWS = 5_000_000  # the stream's bound in the reporting store: the oldest are pruned first
MAX_KNOWN_TOKENS = 10_000


@dataclass(frozen=True)
class Seen:
    """One call as recorded on the request path: nothing worked out yet."""

    kind: str  # searched | seat_map
    at_ms: int
    token: str
    peer: str
    from_station: str
    to_station: str
    travel_date: str
    trip_id: str
    results: int
    sold_out: bool


class FunnelRecorder:
    def __init__(
        self,
        send: Callable[[list[tuple], int], Awaitable[Any]] | None,
        pseudonym_key: Callable[[str, str], bytes],
        who: Callable[[str], Awaitable[tuple[str, str] | None]],
        registry: CollectorRegistry,
        sample_rate: float = 1.0,
        clock: Clock = SYSTEM_CLOCK,
    ):
        """`send(batch, max_rows)`: to the report projector (None: reports are off, nothing is
        recorded).  `pseudonym_key`: the keyring's blind index.  `who(token)`: the calling
        account's id and comma-joined roles, or None."""
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"the funnel's sample rate must be within 0..1, not {sample_rate}")
        self.send = send
        self.pseudonym_key = pseudonym_key
        self.who = who
        self.sample_rate = sample_rate
        self.clock = clock
        self.capacity = QUEUE_CAPACITY
        self.max_rows = MAX_STREAM_ROWS
        self.flush_s = FLUSH_S
        self.queue: deque[Seen] = deque()
        self.task: asyncio.Task | None = None
        self.wake = asyncio.Event()
        self.known: dict[str, tuple[str, str] | None] = {}  # token -> (account id, roles)
        self.recorded = Counter(
            "keyun_funnel_events_recorded_total", "Funnel events (searches, seat maps) sent on", registry=registry
        )
        self.dropped = Counter(
            "keyun_funnel_events_dropped_total",
            "Funnel events dropped: the gateway's queue was full, or the projector did not take a batch",
            ["why"],
            registry=registry,
        )
        for why in ("queue_full", "not_sent"):
            self.dropped.labels(why)  # shown as 0 before the first

    # -- on the request path: cheap ------------------------------------------------------------

    def searched(self, context: Any, request: Any, offers: list[Any]) -> None:
        sold_out = bool(offers) and all(offer.seats_free == 0 for offer in offers)
        self._note(
            context, "searched", request.from_station, request.to_station, request.date, "", len(offers), sold_out
        )

    def seat_map(self, context: Any, request: Any) -> None:
        self._note(context, "seat_map", request.from_station, request.to_station, "", request.trip_id, 0, False)

    def _note(self, context: Any, kind: str, *fields: Any) -> None:
        if self.send is None or self.sample_rate == 0.0:
            return
        token = bearer_token(context)[:4096]
        peer = _host(context.peer() or "")
        if self.sample_rate < 1.0 and zlib.crc32((token or peer).encode()) >= self.sample_rate * 2**32:
            return
        if len(self.queue) >= self.capacity:
            self.dropped.labels("queue_full").inc()
            return
        from_station, to_station, travel_date, trip_id, results, sold_out = fields
        self.queue.append(
            Seen(
                kind,
                self.clock.now_ms(),
                token,
                peer,
                str(from_station)[:16],
                str(to_station)[:16],
                str(travel_date)[:10],
                str(trip_id)[:64],
                int(results),
                bool(sold_out),
            )
        )

    # -- off the request path ------------------------------------------------------------------

    def start(self) -> None:
        if self.send is not None and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="funnel-flush")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        await self.flush()  # what is queued still goes, if the projector takes it

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), self.flush_s)
            except TimeoutError:
                pass
            self.wake.clear()
            try:
                await self.flush()
            except Exception:  # never let the recorder stop for good: the next round tries again
                log.exception("funnel: a batch could not be prepared")

    async def flush(self) -> int:
        """Send everything queued now, in batches; return the events sent."""
        sent = 0
        while self.queue and self.send is not None:
            batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
            rows = [await self._row(seen) for seen in batch]
            try:
                await self.send(rows, self.max_rows)
            except Exception as error:  # the projector down or restarting: the batch is lost, and counted
                self.dropped.labels("not_sent").inc(len(rows))
                log.warning("funnel: %d events not recorded (%s)", len(rows), error)
                return sent
            self.recorded.inc(len(rows))
            sent += len(rows)
        return sent

    async def _row(self, seen: Seen) -> tuple:
        """The event as stored: the caller as a channel and a pseudonym, never the account id."""
        caller = await self._caller(seen.token) if seen.token else None
        if caller is None:
            channel, session = "web", self._pseudonym(f"peer:{seen.peer}")  # nobody logged in: a web visitor
        else:
            account_id, roles = caller
            channel, session = channel_of(roles) or "other", self._pseudonym(f"account:{account_id}")
        return (
            seen.at_ms,
            seen.kind,
            channel,
            session,
            seen.from_station,
            seen.to_station,
            seen.travel_date,
            seen.trip_id,
            seen.results,
            seen.sold_out,
            self.sample_rate,
        )

    async def _caller(self, token: str) -> tuple[str, str] | None:
        if token not in self.known:
            if len(self.known) >= MAX_KNOWN_TOKENS:
                self.known.clear()
            try:
                self.known[token] = await self.who(token)
            except Exception:  # the accounts owner busy: this event counts as a visitor's
                return None
        return self.known[token]

    def _pseudonym(self, key: str) -> str:
        # The report projector's pseudonyms (persistence/reports.py): an account's searches and its
        # orders carry the same one.
        return self.pseudonym_key(key, PSEUDONYM_CONTEXT)[:12].hex()


def _host(peer: str) -> str:
    """`ipv4:127.0.0.1:5000` → `ipv4:127.0.0.1` (the port changes with every connection)."""
    return peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer
