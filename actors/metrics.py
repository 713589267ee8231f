"""Prometheus metrics of the durability layer, observed in the owner processes.

They sit in a registry of their own, which an owner hands to the gateway on each scrape
(TripShard.metrics); the gateway labels them with the shard and serves them with its own.
"""

import gc
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

OWNER_REGISTRY = CollectorRegistry()
# The owner process itself: resident memory (an owner keeps every trip it was given), CPU seconds,
# open files.  Linux only; elsewhere the collector reports nothing.
ProcessCollector(namespace="keyun_owner", registry=OWNER_REGISTRY)
GC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

FSYNC_SECONDS = Histogram(
    "keyun_wal_fsync_seconds", "Time to write and fsync one batch's log record",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=OWNER_REGISTRY,
)
RECORD_BYTES = Histogram("keyun_wal_record_bytes", "Size of one batch's log record", buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576), registry=OWNER_REGISTRY)
BATCH_COMMANDS = Histogram("keyun_owner_batch_commands", "Commands and queries in one owner batch", buckets=(1, 2, 5, 10, 20, 50, 100, 200, 512), registry=OWNER_REGISTRY)
SNAPSHOT_SECONDS = Histogram("keyun_snapshot_seconds", "Time to write one incremental snapshot (on the owner's snapshot thread)", buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10), registry=OWNER_REGISTRY)
SNAPSHOT_PAUSE_SECONDS = Histogram(
    "keyun_snapshot_pause_seconds", "Time the owner stopped between two batches to take a snapshot's changes",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10), registry=OWNER_REGISTRY,
)
RECOVERY_SECONDS = Histogram("keyun_recovery_seconds", "Time an owner took to load its snapshot and replay its log", buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60), registry=OWNER_REGISTRY)
REPLAYED_EVENTS = Counter("keyun_replayed_events_total", "Events replayed from the log during recovery", registry=OWNER_REGISTRY)
AUDIT_OUTBOX_RECORDS = Gauge(
    "keyun_audit_outbox_records", "Audit records this owner journaled that the audit owner has not stored yet", registry=OWNER_REGISTRY,
)
TRIPS_HELD = Gauge("keyun_owner_trips", "Trips the owner holds in memory (archived trips leave it)", registry=OWNER_REGISTRY)
TRIPS_ARCHIVED = Gauge("keyun_owner_trips_archived", "Trips the owner archived, of which it keeps only the id", registry=OWNER_REGISTRY)
AUDIT_RECORDS_SENT = Counter("keyun_audit_records_sent_total", "Audit records this owner sent on to the audit owner and saw stored", registry=OWNER_REGISTRY)
GC_SECONDS = Histogram(
    "keyun_owner_gc_seconds", "Pauses of the owner's cyclic garbage collector, by generation", ["generation"],
    buckets=GC_BUCKETS, registry=OWNER_REGISTRY,
)


def observe_collections(histogram: Histogram) -> None:
    """Observe the pause of every collection of this process's cyclic collector in `histogram`,
    labelled by generation: the collector stops everything else while it runs."""
    started = time.perf_counter()
    by_generation = {generation: histogram.labels(str(generation)) for generation in range(3)}

    def callback(phase: str, info: dict) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            by_generation[info["generation"]].observe(time.perf_counter() - started)

    gc.callbacks.append(callback)
