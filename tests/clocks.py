"""A clock for test servers whose clients work from real time."""

from __future__ import annotations

import threading

from keyun.common.clock import SYSTEM_CLOCK


class OffsetClock:
    """Real time plus an offset that a test advances: for a server whose tests log administrators
    in with TOTP codes (computed from real time, each good once per 30 s step, which a clock
    standing still would run out of) and still need to jump past a deadline.  Where nothing needs
    real time, a test server takes keyun.common.clock.ManualClock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._offset_ms = 0

    def now_ms(self) -> int:
        with self._lock:
            return SYSTEM_CLOCK.now_ms() + self._offset_ms

    def monotonic(self) -> float:
        with self._lock:
            return SYSTEM_CLOCK.monotonic() + self._offset_ms / 1000

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError(f"a clock only moves forward, not by {ms} ms")
        with self._lock:
            self._offset_ms += ms

    def advance_s(self, s: float) -> None:
        self.advance(round(s * 1000))
