"""TripShard: the Ray actor that owns a disjoint set of trips, durably.

Synchronous on purpose: Ray runs one method of a synchronous actor at a time, which makes the actor
the single serialization point for its trips (no locks).  Each call carries a whole batch, which
is applied, journaled with one write and one fsync, and only then answered.

Recovery lives in __init__, because a restart by Ray reruns it: load the newest snapshot, replay
the log after it, check the invariants, then serve.

Time comes with each batch: the gateway stamps it with its clock's now (keyun.common.clock), and
the engine applies it at the later of that stamp and its own last now, so time never runs
backwards in an owner, whichever gateway sent the batch.  A test's ManualClock lives in the
gateway's process and cannot reach this one; the stamp carries its time here.  A batch without a
stamp (a tool calling `apply` itself) is applied at this process's real time.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

import ray

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.gc_pauses import observe_collections
from keyun.engine.commands import ListOrders
from keyun.engine.limits import MAX_ARCHIVED_TRIPS_LISTED
from keyun.engine.policy import Policy
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.shard import ShardEngine
from keyun.engine.state import record_buyers
from keyun.engine.station_rules import ScheduledRules, StationRulesView, policy_at
from keyun.engine.views import ARCHIVE_READS, OrdersView, answer_archived, orders_view
from keyun.persistence.store import OwnerStore

from . import metrics
from .audit_forwarder import AUDIT_GROUP, SendsAuditRecords
from .packed import PackedBatches
from .ray_runtime import RAY_NAMESPACE

log = logging.getLogger("keyun.owner")


# An owner holds millions of long-lived objects (tickets, holds, receipts) and makes few reference
# cycles.  Python's default thresholds (700, 10, 10) rescan the whole heap far too often: with
# these, bench/engine.py's hold+confirm rate went from 7,500 to 13,000 pairs/s.  Full collections
# stay rare; the young ones are kept small, because each stops the owner for as long as it scans:
# at 100,000 allocations a young collection took 60-190 ms under load, at 20,000 the engine bench
# runs just as fast (keyun_owner_gc_seconds).
GC_THRESHOLDS = (20_000, 10, 1000)
# SURVIVORS_FROZEN: at each snapshot the owner moves every object alive into the collector's
# permanent generation (gc.freeze), as it does after recovery.  What lives that long is the trips'
# state and the idempotency window, which form no reference cycles (a full collection after
# 20,000 holds and confirms and 2,000 refusals found nothing unreachable): freed by reference
# counting all the same, they need never be scanned again, so no full collection of millions of
# objects ever stops the owner.  With this, and the snapshot's changes handed over without copying
# (engine.shard.Changes), the owner's pause for the snapshot taken during bench.load's gate
# scenario went from 523 to 11 ms, a 278 ms collection in that window went away, and gate's p99
# went from 1,069 to 607 ms (BENCHMARKS.md).  Cyclic garbage frozen would never be freed: after
# five bench.load scenarios with a snapshot every 3 s, the 685,000 frozen objects held no cycle
# but 31 objects left by importing jsonschema at start (docs/operations.md).


def shard_directory(data_dir: Path, shard_no: int) -> Path:
    return data_dir / "shards" / f"{shard_no:04d}"


class TripShard(PackedBatches, SendsAuditRecords):
    def __init__(
        self,
        shard_no: int,
        policy: Policy,
        data_dir: str,
        check_invariants: bool = False,
        audit_name: str | None = None,
        shards: int = 0,
        accounts_name: str | None = None,
    ):
        """`audit_name`: the audit owner's Ray name, for the audit records of calls the gateway
        sends as engine.outbox.Audited (without one, nothing is sent on).  `shards`: the pool's
        size, which ready() reports so a gateway started with another --shards can tell.
        `accounts_name`: the accounts owner's Ray name, which keeps the station rules scheduled at
        runtime (engine/station_rules.py); `policy` is the base they change."""
        self.shard_no, self.shards = shard_no, shards
        self.base_policy, self.accounts_name = policy, accounts_name
        # The station rules scheduled at runtime, read from the accounts owner before the first
        # batch (None: not read yet) and sent again by the gateway after each change.
        self.rule_changes: tuple[ScheduledRules, ...] | None = None if accounts_name else ()
        self.rules_version = -1
        self.engine = ShardEngine(policy, check=check_invariants)
        self.store = OwnerStore(shard_directory(Path(data_dir), shard_no))
        report = self.store.recover(self.engine, progress=self._progress)  # also freezes what it rebuilt
        gc.set_threshold(*GC_THRESHOLDS)
        observe_collections(metrics.GC_SECONDS)
        log.warning(
            "shard %d recovered: snapshot at LSN %d, %d trips, replayed %d records (%d events) in %.2f s",
            shard_no,
            report.snapshot_lsn,
            report.trips,
            report.records_replayed,
            report.events_replayed,
            report.seconds,
        )
        self.recovery = report
        state = self.engine.state  # read at each scrape
        metrics.TRIPS_HELD.set_function(lambda: len(state.trips))
        metrics.TRIPS_ARCHIVED.set_function(lambda: len(state.archived))
        self.start_forwarding(audit_name, f"shard {shard_no}", self.engine.audit_outbox, self.engine.last_now)

    def _progress(self, records: int, events: int) -> None:
        log.warning("shard %d recovering: %d records, %d events replayed", self.shard_no, records, events)

    def apply(self, batch: list, now_ms: int | None = None) -> list:
        """Apply a batch at the gateway's stamp `now_ms` (see the module docstring), make it
        durable, then reply per item."""
        metrics.BATCH_COMMANDS.observe(len(batch))
        try:
            self.take_delivered(self.engine.audit_outbox)
            now = SYSTEM_CLOCK.now_ms() if now_ms is None else now_ms
            self._rules_in_force(max(now, self.engine.last_now))
            replies, entries = self.engine.execute(batch, now)
            answer_from_archive(self.engine, self.store, batch, replies)
            self.store.commit(self.engine.last_now, entries)
            self.forward(entries, self.engine.last_now)
            self.store.finish_snapshot()  # if the one being written is durable
            if self.store.snapshot_due():
                self.store.start_snapshot(self.engine)
                gc.freeze()  # see SURVIVORS_FROZEN
        except BaseException:
            # Memory may now be ahead of the log, or the disk failed: neither may answer another
            # call.  Dying makes Ray restart the owner, which recovers from what is on disk.
            log.exception("shard %d failed applying a batch; restarting from disk", self.shard_no)
            os._exit(1)
        return replies

    def _rules_in_force(self, now_ms: int) -> None:
        """Decide this batch by the station rules in force at its time: the base policy, or the
        latest change scheduled from before it.  The schedule is the accounts owner's, read once
        after a start (a restart included) and sent again by the gateway after every change, so
        no change reaches its time unknown here (a change must be scheduled for later than now)."""
        if self.rule_changes is None:
            accounts = ray.get_actor(self.accounts_name, namespace=RAY_NAMESPACE)
            view = ray.get(accounts.station_rules.remote(), timeout=RULES_READ_TIMEOUT_S)
            self.station_rules(view)
        assert self.rule_changes is not None
        self.engine.policy = policy_at(self.base_policy, self.rule_changes, now_ms)

    def station_rules(self, view: StationRulesView) -> int:
        """The station rules scheduled at runtime, from the gateway after a change: the newest
        list wins (two gateways' pushes may arrive out of order).  Returns the version kept."""
        if view.version > self.rules_version:
            self.rule_changes, self.rules_version = tuple(view.changes), view.version
        return self.rules_version

    def ready(self) -> dict:
        """Answered once recovery is done (calls queue behind __init__)."""
        return {
            "shard": self.shard_no,
            "shards": self.shards,
            "trips": self.recovery.trips,
            "events_replayed": self.recovery.events_replayed,
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
        }

    def metrics(self) -> list:
        """This owner's metric families, for the gateway's /metrics."""
        return list(metrics.OWNER_REGISTRY.collect())

    def snapshot(self) -> int:
        """Take a snapshot now (used before a backup and by operators); return the LSN it covers."""
        self.store.snapshot(self.engine)
        return self.store.snapshot_lsn


# How long a trip owner waits for the accounts owner's schedule of station rules after a start; if
# it is not there by then, the owner restarts and asks again (it may not decide by unknown rules).
RULES_READ_TIMEOUT_S = 120


def answer_from_archive(engine: ShardEngine, store: OwnerStore, batch: list, replies: list) -> None:
    """Reads of an archived trip, or of a ticket or an order of it, which the engine refused with
    TRIP_ARCHIVED, answered from the trip's last record: in the engine until the next snapshot
    takes it, in the store while that snapshot is written, then in the snapshot's archive (a
    passenger's old ticket, for an expense claim, say).  An account's ListOrders gets its
    archived orders added the same way."""
    for n, reply in enumerate(replies):
        if type(reply) is Rejection and reply.reason is Reason.TRIP_ARCHIVED and type(batch[n]) in ARCHIVE_READS:
            trip_id = batch[n].trip_id
            record = engine.archiving.get(trip_id) or store.archived_trip(trip_id)
            if record is not None:
                replies[n] = answer_archived(record, batch[n], engine.last_now, engine.policy)
        elif type(batch[n]) is ListOrders and type(reply) is OrdersView and batch[n].buyer:
            replies[n] = with_archived_orders(engine, store, batch[n], reply)


def with_archived_orders(engine: ShardEngine, store: OwnerStore, query: ListOrders, reply: OrdersView) -> OrdersView:
    """An account's order history goes on past the archive: its orders on the archived trips that
    ended last (MAX_ARCHIVED_TRIPS_LISTED) too."""
    records = {
        record.spec.trip_id: record for record in engine.archiving.values() if query.buyer in record_buyers(record)
    }
    for record in store.archived_trips_of(query.buyer, MAX_ARCHIVED_TRIPS_LISTED):
        records.setdefault(record.spec.trip_id, record)
    if not records:
        return reply
    archived = [
        view
        for record in records.values()
        for view in answer_archived(record, query, engine.last_now, engine.policy).orders
    ]
    return orders_view((*reply.orders, *archived))


# Owners must never wait for a CPU slot on a 2-core machine (DESIGN: "Ray facts"), and Ray
# restarts a crashed owner; calls are not retried by Ray itself: the gateway retries with the
# same request ids, which the owner's idempotency window makes harmless.
RemoteTripShard = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, concurrency_groups={AUDIT_GROUP: 1})(
    TripShard
)
