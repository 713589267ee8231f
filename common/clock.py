"""One clock for every part that reads time: the real one, or one a test moves by hand.

`now_ms()` is wall time in epoch milliseconds: what holds, tokens, sessions, payments and audit
records are stamped with and compared against.  `monotonic()` is seconds from an arbitrary start,
for how long something has been kept (a cached session, a shared answer).  A ManualClock moves
both only when a test calls `advance`, so a test of an expiry advances past it instead of sleeping.

`KEYUN_TEST_CLOCK_SHIFT_MS`, when set in the environment, moves the system clock's wall time by
that many milliseconds in every Keyun process that inherits it (the server, its owners and payment
sandbox, and the CLI): the README's test runs a whole demo at a chosen date and hour with it.  It
is for tests only; `keyun serve` says so loudly when it is set.

Owners run in other processes, where no test's ManualClock can reach: the gateway stamps each batch
with its clock's now_ms, and an owner's engine takes the later of that stamp and its last now
(actors/trip_shard.py).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall time, epoch milliseconds."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; never goes back."""
        ...


# Beijing time: the zone of every station's timetable, and of the dates people type and read.
CHINA = dt.timezone(dt.timedelta(hours=8))

TEST_SHIFT_ENV = "KEYUN_TEST_CLOCK_SHIFT_MS"


class SystemClock:
    """The real clock, moved by `shift_ms` when a test asks for another date and hour."""

    def __init__(self, shift_ms: int = 0):
        self.shift_ms = shift_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift_ms

    def monotonic(self) -> float:
        return time.monotonic()


def test_shift_ms(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The shift a test asked for, in milliseconds (0 when none); a value that is not a whole
    number is refused rather than ignored, so a test never runs at the wrong time unawares."""
    text = environ.get(TEST_SHIFT_ENV, "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise SystemExit(f"{TEST_SHIFT_ENV}={text!r}: must be a whole number of milliseconds") from None


SYSTEM_CLOCK: Clock = SystemClock(test_shift_ms())


class ManualClock:
    """A clock that stands still until `advance` moves it; safe to read and move from any thread.
    It starts at `start_ms` (default: the real time now, so TOTP codes and certificates, which
    other parties compute from real time, still agree with it)."""

    def __init__(self, start_ms: int | None = None):
        self._lock = threading.Lock()
        self._now_ms = SYSTEM_CLOCK.now_ms() if start_ms is None else start_ms
        self._advanced_ms = 0  # monotonic() counts from 0, in whole milliseconds

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def monotonic(self) -> float:
        with self._lock:
            return self._advanced_ms / 1000

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"a clock only moves forward, not by {ms} ms")
        with self._lock:
            self._now_ms += ms
            self._advanced_ms += ms

    def advance_s(self, s: float) -> None:
        self.advance(round(s * 1000))
