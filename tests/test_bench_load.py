"""bench.load's window arithmetic: what counts towards throughput and what towards latency."""

from __future__ import annotations

import pytest

from bench.load import Result, percentiles, stock_warning, tally


def test_throughput_counts_calls_ending_in_the_window_latency_calls_starting_in_it():
    calls = [
        (0.0, 2.5, "ok", "Sell"),  # the warm-up's opening burst, ending inside: throughput, not latency
        (1.5, 2.0, "ok", "Sell"),  # ends exactly as the window opens: throughput, not latency
        (3.0, 3.4, "refused", "Sell"),  # wholly inside: both
        (4.0, 9.0, "ok", "SearchTrips"),  # starts inside, ends after the window: latency, not throughput
        (9.0, 9.5, "failed", "Sell"),  # wholly after
    ]
    measured = tally(calls, measure_from=2.0, stop_at=5.0)
    assert (measured["ok"], measured["refused"], measured["failed"]) == (2, 1, 0)
    assert measured["latencies"] == pytest.approx([0.4, 5.0])
    assert measured["by_rpc"] == {"Sell": pytest.approx([0.4]), "SearchTrips": pytest.approx([5.0])}
    assert measured["active_seconds"] == pytest.approx(1.4)  # the last counted call ended at 3.4


def test_an_empty_window():
    measured = tally([(0.0, 1.0, "ok", "Echo")], measure_from=2.0, stop_at=5.0)
    assert (measured["ok"], measured["latencies"], measured["by_rpc"], measured["active_seconds"]) == (0, [], {}, 0.0)


def test_percentiles_of_sorted_latencies():
    assert percentiles([n / 1000 for n in range(1, 101)]) == pytest.approx({"p50_ms": 51, "p95_ms": 96, "p99_ms": 100})
    assert percentiles([]) == {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}


def test_the_chart_shows_each_scenario_and_the_rpcs_of_a_mixed_one(tmp_path):
    from xml.etree import ElementTree

    from bench.chart import write_chart
    from bench.load import Result

    echo = Result("echo", 100, 100, 0, 0, 1.0, 100.0, 300.0, 350.0, 400.0, 1.0)
    mixed = Result(
        "mixed",
        50,
        50,
        0,
        0,
        1.0,
        50.0,
        500.0,
        900.0,
        1000.0,
        0.5,
        by_rpc={
            "SearchTrips": {"calls": 30, "p50_ms": 450.0, "p95_ms": 800.0, "p99_ms": 950.0},
            "Sell": {"calls": 20, "p50_ms": 600.0, "p95_ms": 950.0, "p99_ms": 1000.0},
        },
    )
    chart = tmp_path / "load.svg"
    write_chart(chart, [echo, mixed])
    texts = [t.text for t in ElementTree.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert ["echo", "mixed", "SearchTrips", "Sell"] == [
        t for t in texts if t in ("echo", "mixed", "SearchTrips", "Sell")
    ]
    assert "450 / 950" in texts and "50/s  0.50x" in texts


def test_a_ticket_scenario_that_ran_out_of_tickets_says_so():
    def result(name, calls, seconds):
        return Result(name, calls, calls, 0, 0, seconds, calls / seconds, 1.0, 2.0, 3.0)

    assert "warm-up" in stock_warning(result("gate", 0, 15.0), 15.0, 2000)
    assert "ran out 1.5 s into the 15 s window" in stock_warning(result("refund", 4000, 1.5), 15.0, 8000)
    assert stock_warning(result("gate", 40000, 14.9), 15.0, 40000) is None
    assert stock_warning(result("sell", 0, 15.0), 15.0, 2000) is None  # sales need no stock
