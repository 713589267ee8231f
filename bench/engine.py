"""The pure engine in one process: hold+confirm throughput, and memory for a large timetable.

    python -m bench.engine [--trips 10000] [--pairs 200000]

No Ray, no gRPC, no disk: the ceiling of what one owner's sequential core can do, and how much
memory 10,000 trips of 53 seats over 10 stops take (the issue's target: under 1 GiB across all
owners).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import time

from keyun.actors.trip_shard import GC_THRESHOLDS
from keyun.engine import commands as cmd
from keyun.engine.limits import MAX_BATCH
from keyun.engine.policy import Policy
from keyun.engine.reasons import Rejection
from keyun.engine.shard import ShardEngine

from .replay import START, STOPS, trip_spec


def rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes); 0 where unknown."""
    try:
        import resource  # POSIX only
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if platform.system() == "Linux" else peak / 1024**2


def schedule(engine: ShardEngine, trips: int) -> None:
    for first in range(0, trips, MAX_BATCH):
        engine.execute([cmd.ScheduleTrip(f"s{n}", trip_spec(n)) for n in range(first, min(first + MAX_BATCH, trips))], START)


def hold_confirm(engine: ShardEngine, trips: int, pairs: int, seed: int = 1) -> tuple[int, float]:
    """Hold one seat on a random short segment, then confirm it, in batches as owners see them."""
    rng = random.Random(seed)
    now, done, started = START, 0, time.perf_counter()
    while done < pairs:
        now += 1
        holds = []
        for n in range(MAX_BATCH // 2):
            a = rng.randrange(STOPS - 1)
            holds.append(cmd.PlaceHold(f"h{done + n}", trip_spec_id(rng.randrange(trips)), f"S{a}", f"S{min(STOPS - 1, a + rng.choice([1, 2]))}", seat_count=1))
        replies, _ = engine.execute(holds, now)
        confirms = [cmd.ConfirmHold(f"c{done + n}", r.hold_id) for n, r in enumerate(replies) if not isinstance(r, Rejection)]
        engine.execute(confirms, now)
        done += len(confirms)
    return done, time.perf_counter() - started


def trip_spec_id(n: int) -> str:
    return f"B{n}-20300102"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trips", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=200_000)
    args = parser.parse_args()
    baseline = rss_mib()
    engine = ShardEngine(Policy())
    started = time.perf_counter()
    schedule(engine, args.trips)
    schedule_s = time.perf_counter() - started
    gc.collect()
    after_schedule = rss_mib()
    gc.freeze()  # as an owner does after recovery
    gc.set_threshold(*GC_THRESHOLDS)
    pairs, seconds = hold_confirm(engine, args.trips, args.pairs)
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
        "trips": args.trips,
        "seats_per_trip": 53,
        "stops_per_trip": STOPS,
        "schedule_seconds": schedule_s,
        "memory_for_trips_mib": after_schedule - baseline,
        "hold_confirm_pairs": pairs,
        "hold_confirm_per_second": pairs / seconds,
        "peak_rss_after_sales_mib": rss_mib(),
        "tickets_sold": sum(len(t.tickets) for t in engine.state.trips.values()),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
