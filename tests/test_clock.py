"""The one clock (keyun.common.clock): the real one, and the one tests move by hand."""

from __future__ import annotations

import threading
import time

import pytest

from keyun.common.clock import SYSTEM_CLOCK, ManualClock

from .clocks import OffsetClock


def test_the_system_clock_reads_epoch_milliseconds_and_a_monotonic_clock():
    assert abs(SYSTEM_CLOCK.now_ms() - time.time() * 1000) < 1_000
    first = SYSTEM_CLOCK.monotonic()
    assert SYSTEM_CLOCK.monotonic() >= first


def test_a_manual_clock_stands_still_until_advanced():
    clock = ManualClock(start_ms=1_000_000)
    assert (clock.now_ms(), clock.monotonic()) == (1_000_000, 0.0)
    clock.advance(1_500)
    clock.advance_s(0.25)
    assert (clock.now_ms(), clock.monotonic()) == (1_001_750, 1.75)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert abs(ManualClock().now_ms() - SYSTEM_CLOCK.now_ms()) < 1_000  # starts at real time by default


def test_a_manual_clock_moved_from_many_threads_loses_no_step():
    clock = ManualClock(start_ms=0)
    threads = [threading.Thread(target=lambda: [clock.advance(1) for _ in range(1_000)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (clock.now_ms(), clock.monotonic()) == (8_000, 8.0)


def test_an_offset_clock_runs_with_real_time_and_jumps_ahead():
    clock = OffsetClock()
    assert abs(clock.now_ms() - SYSTEM_CLOCK.now_ms()) < 1_000
    clock.advance_s(60)
    assert 59_000 < clock.now_ms() - SYSTEM_CLOCK.now_ms() < 61_000
    assert 59 < clock.monotonic() - SYSTEM_CLOCK.monotonic() < 61
