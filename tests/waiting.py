"""Waiting for real processes (a restarted owner, a subprocess, a notification on its way): poll a
condition until a deadline.  The only place a test pauses; time that a test needs to pass, it
moves with the server's clock instead (keyun.common.clock)."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Between two checks: short next to what tests wait for, long enough not to busy-wait.
POLL_S = 0.05


def wait_until(predicate: Callable[[], T], timeout_s: float, what: str, poll_s: float = POLL_S) -> T:
    """The first true value `predicate` returns; AssertionError naming `what` if none came
    within `timeout_s`."""
    give_up_at = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > give_up_at:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(poll_s)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout_s: float,
    what: str,
    poll_s: float = POLL_S,
) -> T:
    """As wait_until, inside an event loop; `predicate` may be a coroutine function."""
    give_up_at = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > give_up_at:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(poll_s)


def repeat_until(stop: threading.Event, action: Callable[[], object], every_s: float) -> None:
    """Run `action` every `every_s` until `stop` is set: a sampler's loop, in a thread of its own."""
    while not stop.is_set():
        action()
        stop.wait(every_s)
