"""A small limiter of attempts per client address, for the site's sign-up and login forms."""

from __future__ import annotations

import time
from collections import deque

# Addresses remembered at most; beyond it, the quiet ones are forgotten (bounded memory).
MAX_ADDRESSES = 10_000


class AddressLimiter:
    """At most `limit` attempts per client address in a sliding window of `window_s` seconds."""

    def __init__(self, limit: int, window_s: float, clock=time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self.attempts: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> float:
        """0 when an attempt from `address` may go ahead now (and counts it), else seconds to wait."""
        now = self.clock()
        recent = self.attempts.setdefault(address, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if len(recent) >= self.limit:
            return recent[0] + self.window_s - now
        recent.append(now)
        if len(self.attempts) > MAX_ADDRESSES:  # forget addresses quiet for a window
            for quiet in [a for a, times in self.attempts.items() if not times or times[-1] <= now - self.window_s]:
                del self.attempts[quiet]
        return 0.0
