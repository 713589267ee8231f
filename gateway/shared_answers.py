"""Answers to the same public query, shared for a moment.

A station's searches crowd onto a few routes and days: at a rush, hundreds of people a second ask
for the same From → To on the same date.  Each such search asks every owner.  Instead, the first
caller's owner round trip answers everyone who asks the same thing while it runs (single flight),
and the answer is kept for `ttl_s` after the owners were asked.  Seat counts in a search may
therefore be up to `ttl_s` (plus one round trip) old.  Nothing that decides is shared this way: a
sale, a hold and a seat map always ask the owner.

`ttl_s` 0 turns sharing off: every call asks the owners itself.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine.reasons import Rejection

# How long a search answer is kept by default (keyun serve --search-cache-ms).
SEARCH_CACHE_S = 1.0
# Answers kept at most; the least recently stored goes first.
MAX_SHARED_ANSWERS = 10_000


class SharedAnswers:
    def __init__(
        self,
        ttl_s: float,
        counter: Any = None,
        max_entries: int = MAX_SHARED_ANSWERS,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self.kept: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()  # key -> (expires at, answer)
        self.asking: dict[Hashable, asyncio.Future] = {}
        # A prometheus Counter labelled by where an answer came from (owners, shared, kept), or None.
        self.sources = (
            {source: counter.labels(source) for source in ("owners", "shared", "kept")} if counter is not None else None
        )

    async def answer(self, key: Hashable, ask: Callable[[], Awaitable[Any]]) -> Any:
        """The answer to `key`: kept, shared with a caller already asking, or asked anew with `ask`.

        Rejections are shared with concurrent callers but never kept.
        """
        if self.ttl_s <= 0:
            return await ask()
        kept = self.kept.get(key)
        if kept is not None and self.clock.monotonic() < kept[0]:
            self._count("kept")
            return kept[1]
        asking = self.asking.get(key)
        if asking is None:
            self._count("owners")
            asking = self.asking[key] = asyncio.ensure_future(self._ask(key, ask))
            asking.add_done_callback(_retrieve)  # every caller may have gone: not an unretrieved error
        else:
            self._count("shared")
        return await asyncio.shield(asking)  # one caller giving up does not cancel the others' answer

    async def _ask(self, key: Hashable, ask: Callable[[], Awaitable[Any]]) -> Any:
        asked_at = self.clock.monotonic()
        try:
            answer = await ask()
        finally:
            del self.asking[key]
        if not isinstance(answer, Rejection):
            self.kept[key] = (asked_at + self.ttl_s, answer)
            self.kept.move_to_end(key)
            if len(self.kept) > self.max_entries:
                self.kept.popitem(last=False)
        return answer

    def _count(self, source: str) -> None:
        if self.sources is not None:
            self.sources[source].inc()


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
