"""bench.load's window arithmetic: what counts towards throughput and what towards latency."""

from __future__ import annotations

import pytest

from bench.load import tally


def test_throughput_counts_calls_ending_in_the_window_latency_calls_starting_in_it():
    calls = [
        (0.0, 2.5, "ok"),  # the warm-up's opening burst, ending inside: throughput, not latency
        (1.5, 2.0, "ok"),  # ends exactly as the window opens: throughput, not latency
        (3.0, 3.4, "refused"),  # wholly inside: both
        (4.0, 9.0, "ok"),  # starts inside, ends after the window: latency, not throughput
        (9.0, 9.5, "failed"),  # wholly after
    ]
    measured = tally(calls, measure_from=2.0, stop_at=5.0)
    assert (measured["ok"], measured["refused"], measured["failed"]) == (2, 1, 0)
    assert measured["latencies"] == pytest.approx([0.4, 5.0])
    assert measured["active_seconds"] == pytest.approx(1.4)  # the last counted call ended at 3.4


def test_an_empty_window():
    measured = tally([(0.0, 1.0, "ok")], measure_from=2.0, stop_at=5.0)
    assert (measured["ok"], measured["latencies"], measured["active_seconds"]) == (0, [], 0.0)
