"""AccountShard: the Ray actor that owns accounts, sessions and frequent passengers, durably.

The same shape as TripShard: synchronous (one call at a time is the serialization point), a whole
batch per call, journaled with one write and one fsync before the reply, recovery in __init__.
One owner holds every account: a station's accounts are thousands, their traffic a few logins a
second, and session checks arrive batched.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ray

from keyun.common.clock import SYSTEM_CLOCK
from keyun.engine import devices
from keyun.engine.accounts import AccountEntry, AccountRules, AccountsEngine, SealDisplayNames
from keyun.engine.station_rules import GetStationRules, StationRulesView
from keyun.engine.station_rules import answer as answer_station_rules
from keyun.persistence.small_store import SmallStore

from . import metrics
from .audit_forwarder import AUDIT_GROUP, SendsAuditRecords
from .packed import PackedBatches

log = logging.getLogger("keyun.owner")


def accounts_directory(data_dir: Path) -> Path:
    return data_dir / "accounts"


class AccountShard(PackedBatches, SendsAuditRecords):
    def __init__(self, data_dir: str, rules: AccountRules | None = None, audit_name: str | None = None):
        """`audit_name`: the audit owner's Ray name, for the audit records of calls the gateway
        sends as engine.outbox.Audited (without one, nothing is sent on)."""
        self.engine = AccountsEngine(rules)
        self.store = SmallStore(accounts_directory(Path(data_dir)))
        replayed = self.store.recover(self.engine)
        log.warning("accounts recovered: %d accounts, replayed %d records", len(self.engine.state.accounts), replayed)
        self.start_forwarding(audit_name, "accounts", self.engine.audit_outbox, self.engine.last_now)

    def apply(self, batch: list, now_ms: int | None = None) -> list:
        """Apply a batch at the gateway's stamp `now_ms`, as TripShard does, make it durable, then
        reply per item."""
        try:
            self.take_delivered(self.engine.audit_outbox)
            replies, entries = self.engine.execute(batch, SYSTEM_CLOCK.now_ms() if now_ms is None else now_ms)
            self.store.commit(self.engine.last_now, entries)
            self.forward(entries, self.engine.last_now)
            if any(type(entry) is AccountEntry and type(entry.command) is SealDisplayNames for entry in entries):
                # The log before holds those names as text: snapshot the sealed state and drop it.
                self.store.compact(self.engine)
            elif self.store.snapshot_due():
                self.store.snapshot(self.engine)
        except BaseException:
            log.exception("the accounts owner failed applying a batch; restarting from disk")
            os._exit(1)
        return replies

    def station_rules(self) -> StationRulesView:
        """The station rules scheduled at runtime, for a trip owner that starts (actors/trip_shard.py)."""
        return answer_station_rules(self.engine.state.station_rules, GetStationRules())

    def metrics(self) -> list:
        """This owner's metric families, for the gateway's /metrics: its audit outbox and its
        process (the log and collector metrics of the registry are observed by trip owners only)."""
        return [
            family
            for family in metrics.OWNER_REGISTRY.collect()
            if family.name.startswith(("keyun_audit_", "keyun_owner_process_"))
        ]

    def device_summary(self, now_ms: int) -> dict:
        """The device registry's counts at the gateway's `now_ms`, for its /metrics: plain values
        (kind, state) -> count and the oldest unsynced scan (epoch ms, 0 for none)."""
        summary = devices.summary(self.engine.state.devices, now_ms, self.engine.rules.device_limits())
        return {
            "counts": [(kind.value, state.value, count) for kind, state, count in summary.counts],
            "oldest_unsynced_ms": summary.oldest_unsynced_ms,
        }

    def ready(self) -> dict:
        return {"accounts": len(self.engine.state.accounts), "pid": os.getpid()}

    def snapshot(self) -> int:
        self.store.snapshot(self.engine)
        return self.store.snapshot_lsn


RemoteAccountShard = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, concurrency_groups={AUDIT_GROUP: 1})(
    AccountShard
)
