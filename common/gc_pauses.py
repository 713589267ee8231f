"""Pauses of the cyclic garbage collector, observed the same way in the gateway and in the owners."""

import gc
import time

GC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def observe_collections(histogram) -> None:
    """Observe the pause of every collection of this process's cyclic collector in `histogram` (a
    prometheus Histogram labelled by generation): the collector stops everything else while it runs."""
    started = time.perf_counter()
    by_generation = {generation: histogram.labels(str(generation)) for generation in range(3)}

    def callback(phase: str, info: dict) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            by_generation[info["generation"]].observe(time.perf_counter() - started)

    gc.callbacks.append(callback)
