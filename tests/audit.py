"""A recorded load and an auditor: what was acknowledged must be there, once, after any crash.

Workers sell, refund and check in through the client library.  Each operation keeps its request id
and is retried until the server answers it, however long the server is down, so every operation
ends acknowledged or refused, never unknown.  The auditor then checks the server against the
record: every acknowledged ticket is there with its seat and segment, refunds and check-ins that
were acknowledged stuck, no ticket exists that no acknowledged sale produced (nothing was applied
twice), and no seat-leg is held by two live tickets.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field

import grpc

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2

from .conftest import logged_in
from .waiting import wait_until

STOPS = ["AAA", "BBB", "CCC", "DDD"]
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
# However long a crash and restart take, a worker keeps retrying an operation this long.
GIVE_UP_AFTER_S = 180.0


@dataclass
class Record:
    sold: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # ticket id -> (seat, from, to)
    refunded: set[str] = field(default_factory=set)
    checked_in: set[str] = field(default_factory=set)
    refusals: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    """`workers` threads doing random operations on `trip_ids` until stop()."""

    def __init__(self, target: str, trip_ids: list[str], workers: int = 6, seed: int = 1):
        self.target, self.trip_ids = target, trip_ids
        self.record = Record()
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        # The workers share one account, and the accounts owner checks at most max_failed_logins
        # of its passwords at a time (TOO_MANY_LOGIN_ATTEMPTS beyond): they log in one by one.
        self.ready = threading.Semaphore(0)  # released by each worker once logged in (or failed to)
        self.logging_in = threading.Lock()
        self.threads = [
            threading.Thread(target=self._work, args=(random.Random(seed + n),), daemon=True) for n in range(workers)
        ]

    def start(self) -> Load:
        """Start the workers and return once each has logged in, so that a crash a test causes
        later never lands on a login."""
        for thread in self.threads:
            thread.start()
        for _ in self.threads:
            assert self.ready.acquire(timeout=60), "a load worker did not log in within 60 s"
        return self

    def stop(self) -> Record:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=GIVE_UP_AFTER_S + 30)
        assert not self.errors, self.errors
        return self.record

    def wait_for(self, acknowledged: int, timeout_s: float = 60.0) -> None:
        wait_until(lambda: self.record.acknowledged >= acknowledged, timeout_s, f"{acknowledged} acknowledged")

    def _work(self, rng: random.Random) -> None:
        try:
            with self.logging_in:
                client = logged_in(KeyunClient(self.target, deadline_s=5.0, attempts=1))
        except BaseException as error:  # reported by stop()
            self.errors.append(error)
            return
        finally:
            self.ready.release()
        mine: list[str] = []
        try:
            while not self.stopping.is_set():
                self._one(client, rng, mine)
        except BaseException as error:  # reported by stop()
            self.errors.append(error)
        finally:
            client.close()

    def _one(self, client: KeyunClient, rng: random.Random, mine: list[str]) -> None:
        roll = rng.random()
        if mine and roll < 0.2:
            ticket_id = mine.pop(rng.randrange(len(mine)))
            if self._until_answered(lambda rid: client.refund(ticket_id, request_id=rid)) is not None:
                with self.record.lock:
                    self.record.refunded.add(ticket_id)
        elif mine and roll < 0.4:
            ticket_id = mine.pop(rng.randrange(len(mine)))
            if self._until_answered(lambda rid: client.check_in(ticket_id, "G1", request_id=rid)) is not None:
                with self.record.lock:
                    self.record.checked_in.add(ticket_id)
        else:
            trip_id = rng.choice(self.trip_ids)
            a = rng.randrange(3)
            b = rng.randrange(a + 1, 4)
            count = rng.choice([1, 2])  # drawn once: a retry must repeat the very same request
            sold = self._until_answered(
                lambda rid: client.sell(trip_id, STOPS[a], STOPS[b], seat_count=count, request_id=rid)
            )
            if sold is not None:
                with self.record.lock:
                    for t in sold.tickets:
                        self.record.sold[t.ticket_id] = (t.seat_number, t.from_stop.code, t.to_stop.code)
                mine.extend(t.ticket_id for t in sold.tickets)

    def _until_answered(self, call):
        """The call's result, or None if the server refused it; retried with one request id until answered."""
        request_id = uuid.uuid4().hex

        def answered() -> tuple | None:
            """(result,) or (None,) once the server answered; None while it is unavailable."""
            try:
                result = call(request_id)
            except KeyunError as error:
                if error.code in TRANSIENT:
                    with self.record.lock:
                        self.record.retried += 1
                    return None
                assert error.reason != "REQUEST_ID_REUSED", error
                with self.record.lock:
                    self.record.refusals[error.reason] = self.record.refusals.get(error.reason, 0) + 1
                return (None,)
            with self.record.lock:
                self.record.acknowledged += 1
            return (result,)

        (result,) = wait_until(answered, GIVE_UP_AFTER_S, "the server answered (it stayed unavailable)", poll_s=0.2)
        return result


def audit(client: KeyunClient, trip_ids: list[str], record: Record) -> int:
    """Check the server against the record; return the number of tickets checked."""
    found: dict[str, common_pb2.Ticket] = {}
    for trip_id in trip_ids:
        token = ""
        while True:
            page = client.manifest(trip_id, page_size=500, page_token=token)
            found.update((t.ticket_id, t) for t in page.tickets)
            token = page.next_page_token
            if not token:
                break
    missing = set(record.sold) - set(found)
    assert not missing, f"acknowledged tickets lost: {sorted(missing)[:5]}"
    extra = set(found) - set(record.sold)
    assert not extra, f"tickets no acknowledged sale produced (applied twice?): {sorted(extra)[:5]}"
    for ticket_id, (seat, a, b) in record.sold.items():
        ticket = found[ticket_id]
        assert (ticket.seat_number, ticket.from_stop.code, ticket.to_stop.code) == (seat, a, b), ticket_id
        expected = (
            common_pb2.TICKET_STATUS_REFUNDED
            if ticket_id in record.refunded
            else common_pb2.TICKET_STATUS_CHECKED_IN
            if ticket_id in record.checked_in
            else common_pb2.TICKET_STATUS_ISSUED
        )
        assert ticket.status == expected, (ticket_id, ticket.status, expected)
    legs_taken: dict[tuple[str, str], set[int]] = {}
    for ticket in found.values():
        if ticket.status == common_pb2.TICKET_STATUS_REFUNDED:
            continue
        legs = set(range(STOPS.index(ticket.from_stop.code), STOPS.index(ticket.to_stop.code)))
        taken = legs_taken.setdefault((ticket.trip.trip_id, ticket.seat_number), set())
        assert not taken & legs, f"{ticket.trip.trip_id} seat {ticket.seat_number} sold twice on legs {taken & legs}"
        taken |= legs
    return len(found)
