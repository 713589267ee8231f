"""Prometheus metrics of the durability layer (log, snapshots, recovery), observed in the owner processes.

They sit in the owner process's registry, which an owner hands to the gateway on each scrape
(TripShard.metrics); the owners' own metrics join it in keyun.actors.metrics.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

OWNER_REGISTRY = CollectorRegistry()

FSYNC_SECONDS = Histogram(
    "keyun_wal_fsync_seconds",
    "Time to write and fsync one batch's log record",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=OWNER_REGISTRY,
)
RECORD_BYTES = Histogram(
    "keyun_wal_record_bytes",
    "Size of one batch's log record",
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576),
    registry=OWNER_REGISTRY,
)
SNAPSHOT_SECONDS = Histogram(
    "keyun_snapshot_seconds",
    "Time to write one incremental snapshot (on the owner's snapshot thread)",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
    registry=OWNER_REGISTRY,
)
SNAPSHOT_PAUSE_SECONDS = Histogram(
    "keyun_snapshot_pause_seconds",
    "Time the owner stopped between two batches to take a snapshot's changes",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
    registry=OWNER_REGISTRY,
)
RECOVERY_SECONDS = Histogram(
    "keyun_recovery_seconds",
    "Time an owner took to load its snapshot and replay its log",
    buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
    registry=OWNER_REGISTRY,
)
REPLAYED_EVENTS = Counter(
    "keyun_replayed_events_total", "Events replayed from the log during recovery", registry=OWNER_REGISTRY
)
