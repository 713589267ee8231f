"""Replay speed and recovery time of one owner with a log of N events (default 1,000,000).

    python -m bench.replay [--events 1000000] [--trips 5000] [--json out.json]

Builds a real owner directory (write-ahead log with one fsync per batch, as in service) from a
station-like mix of sales, refunds, holds and check-ins, then recovers it cold in a fresh engine,
twice: from a log that was never snapshotted (raw replay speed), and as in service, where the owner
snapshots every SNAPSHOT_EVERY_EVENTS events or SNAPSHOT_EVERY_S seconds (what a restart costs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path

from keyun.engine import commands as cmd
from keyun.engine.network import Stop, TripSpec, standard_rows
from keyun.engine.policy import Policy
from keyun.engine.reasons import Rejection
from keyun.engine.shard import ShardEngine
from keyun.persistence.progress import Progress
from keyun.persistence.store import OwnerStore

STOPS = 10
BATCH = 500
START = int(dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def trip_spec(n: int) -> TripSpec:
    stops = tuple(Stop(f"S{k}", f"Stop {k}", 30 * k) for k in range(STOPS))
    fares = tuple((i, j, 500 * (j - i)) for i in range(STOPS) for j in range(i + 1, STOPS))
    return TripSpec(
        f"B{n}-20300102",
        f"B{n}",
        "R1",
        "Bench line",
        "OP",
        "Bench Coaches",
        "53 seats",
        START + 86_400_000,
        stops,
        standard_rows(53),
        fares,
    )


def build(directory: Path, events: int, trips: int, with_snapshots: bool, seed: int = 1) -> tuple[int, float]:
    """Write an owner directory holding about `events` events; return (events, seconds).

    With snapshots, the owner snapshots as it does in service (store.snapshot_due)."""
    rng = random.Random(seed)
    engine, store = ShardEngine(Policy()), OwnerStore(directory)
    store.recover(engine)
    specs = [trip_spec(n) for n in range(trips)]
    now, written, requests = START, 0, 0
    progress = Progress("build log", events, " events")
    started = time.perf_counter()
    for first in range(0, trips, BATCH):
        _, entries = engine.execute(
            [cmd.ScheduleTrip(f"s{n}", specs[n]) for n in range(first, min(first + BATCH, trips))], now
        )
        store.commit(now, entries)
    sold: list[str] = []
    while written < events:
        now += 50
        batch = []
        for _ in range(BATCH):
            requests += 1
            roll = rng.random()
            if sold and roll < 0.25:
                batch.append(cmd.Refund(f"r{requests}", sold.pop(rng.randrange(len(sold)))))
            elif roll < 0.30:
                a = rng.randrange(STOPS - 1)
                batch.append(
                    cmd.PlaceHold(
                        f"r{requests}",
                        specs[rng.randrange(trips)].trip_id,
                        f"S{a}",
                        f"S{rng.randrange(a + 1, STOPS)}",
                        seat_count=1,
                        ttl_ms=1000,
                    )
                )
            else:
                a = rng.randrange(STOPS - 1)
                batch.append(
                    cmd.Sell(
                        f"r{requests}",
                        specs[rng.randrange(trips)].trip_id,
                        f"S{a}",
                        f"S{rng.randrange(a + 1, STOPS)}",
                        seat_count=rng.choice([1, 1, 2]),
                    )
                )
        replies, entries = engine.execute(batch, now)
        sold.extend(
            t.ticket_id for r in replies if not isinstance(r, Rejection) and hasattr(r, "tickets") for t in r.tickets
        )
        store.commit(now, entries)
        if with_snapshots and store.snapshot_due():
            store.snapshot(engine)
        added = sum(len(e.events) for e in entries)
        written += added
        progress.advance(added)
    progress.finish()
    store.close()
    return written, time.perf_counter() - started


def recover(directory: Path) -> dict:
    engine, store = ShardEngine(Policy()), OwnerStore(directory)
    report = store.recover(engine)
    store.close()
    return dict(vars(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--trips", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    results = {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, "
            f"{platform.python_implementation()} {platform.python_version()}"
        )
    }
    with tempfile.TemporaryDirectory() as tmp:
        # The log alone, never snapshotted: raw replay speed.
        log_only = Path(tmp) / "log-only"
        events, build_s = build(log_only, args.events, args.trips, with_snapshots=False)
        cold = recover(log_only)
        results.update(
            events=events,
            log_bytes=sum(p.stat().st_size for p in (log_only / "wal").glob("*.wal")),
            build_seconds=build_s,
            recovery_from_log_only=cold,
            replay_events_per_second=cold["events_replayed"] / cold["seconds"],
        )
        shutil.rmtree(log_only)
        # The same history with the service's snapshot policy: what a restart really costs.
        in_service = Path(tmp) / "in-service"
        build(in_service, args.events, args.trips, with_snapshots=True)
        results["recovery_in_service"] = recover(in_service)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
