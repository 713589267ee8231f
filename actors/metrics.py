"""Prometheus metrics of the owners, observed in the owner processes.

They join the durability layer's (keyun.persistence.metrics) in the owner process's registry,
which an owner hands to the gateway on each scrape (TripShard.metrics); the gateway labels them
with the shard and serves them with its own.
"""

from prometheus_client import Counter, Gauge, Histogram, ProcessCollector

from keyun.common.gc_pauses import GC_BUCKETS
from keyun.persistence.metrics import OWNER_REGISTRY

# The owner process itself: resident memory (an owner keeps every trip it was given), CPU seconds,
# open files.  Linux only; elsewhere the collector reports nothing.
ProcessCollector(namespace="keyun_owner", registry=OWNER_REGISTRY)

BATCH_COMMANDS = Histogram(
    "keyun_owner_batch_commands",
    "Commands and queries in one owner batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 512),
    registry=OWNER_REGISTRY,
)
AUDIT_OUTBOX_RECORDS = Gauge(
    "keyun_audit_outbox_records",
    "Audit records this owner journaled that the audit owner has not stored yet",
    registry=OWNER_REGISTRY,
)
TRIPS_HELD = Gauge(
    "keyun_owner_trips", "Trips the owner holds in memory (archived trips leave it)", registry=OWNER_REGISTRY
)
TRIPS_ARCHIVED = Gauge(
    "keyun_owner_trips_archived", "Trips the owner archived, of which it keeps only the id", registry=OWNER_REGISTRY
)
AUDIT_RECORDS_SENT = Counter(
    "keyun_audit_records_sent_total",
    "Audit records this owner sent on to the audit owner and saw stored",
    registry=OWNER_REGISTRY,
)
GC_SECONDS = Histogram(
    "keyun_owner_gc_seconds",
    "Pauses of the owner's cyclic garbage collector, by generation",
    ["generation"],
    buckets=GC_BUCKETS,
    registry=OWNER_REGISTRY,
)
