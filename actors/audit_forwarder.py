"""AuditForwarder: sends the audit records an owner journaled on to the audit owner.

A sale's audit record is journaled by its trip owner with the sale itself (an account call's by
the accounts owner), in the same log record and fsync (engine.outbox.AuditNote), so the gateway
waits for one owner, not two.  The record then
sits in the owner's outbox until the audit owner has stored it.  This thread does the sending, so
the owner's own thread never waits for the audit owner:

- the owner hands over records once they are durable (`send`);
- the thread sends them in batches and resends a batch until the audit owner has stored it, however
  long that owner is down (record ids make a resend harmless: the audit log stores a record once);
- the owner drops what was stored from its outbox (`take_delivered`) at its next batch.

After a crash the outbox comes back from the snapshot and the log, and everything in it is sent
again: a record is stored once whether or not it had already arrived.

Each batch goes with the owner's last now (the gateway's stamp, see actors/trip_shard.py), which
is the audit owner's time for it: no owner reads a clock of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import ray

from keyun.engine.outbox import RECORD_ID_AT, AuditNote, AuditOutbox
from keyun.persistence.audit_store import MAX_AUDIT_BATCH

from . import metrics
from .packed import pack
from .ray_runtime import RAY_NAMESPACE

log = logging.getLogger("keyun.owner")

# audit_flushed runs in this concurrency group, on a thread of its own: batches stay one at a time
# in the default group.
AUDIT_GROUP = "audit"

GATHER_S = 0.05
FIRST_RETRY_DELAY_S = 0.05
MAX_RETRY_DELAY_S = 2.0


class AuditForwarder:
    def __init__(self, audit_name: str, owner: str):
        self.audit_name, self.owner = audit_name, owner
        self.queue: deque[tuple] = deque()  # AuditRecord values
        self.delivered: deque[str] = deque()  # record ids, for the owner's thread
        self.changed = threading.Condition()
        self.sending = 0  # records taken from the queue and not yet stored
        self.now_ms = 0  # the owner's now when it last handed over records
        metrics.AUDIT_OUTBOX_RECORDS.set_function(lambda: len(self.queue) + self.sending)
        self.thread = threading.Thread(target=self._run, name="audit-forwarder", daemon=True)
        self.thread.start()

    def send(self, records: list[tuple], now_ms: int) -> None:
        """Hand over durable records journaled at the owner's `now_ms` (from the owner's thread)."""
        if records:
            with self.changed:
                self.now_ms = max(self.now_ms, now_ms)
                self.queue.extend(records)
                self.changed.notify_all()

    def take_delivered(self) -> list[str]:
        """The ids of records stored since the last call (from the owner's thread)."""
        taken = []
        while self.delivered:
            taken.append(self.delivered.popleft())
        return taken

    def flush(self, timeout_s: float) -> bool:
        """Wait until every record handed over so far is stored; False if that took too long."""
        with self.changed:
            return self.changed.wait_for(lambda: not self.queue and not self.sending, timeout_s)

    def _run(self) -> None:
        audit = None
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.queue)
            time.sleep(GATHER_S)  # nobody waits for these: fewer, larger batches cost the audit owner less
            with self.changed:
                batch = [self.queue.popleft() for _ in range(min(len(self.queue), MAX_AUDIT_BATCH))]
                self.sending, now_ms = len(batch), self.now_ms
            delay_s, failing_since = FIRST_RETRY_DELAY_S, None
            while True:
                try:
                    if audit is None:
                        audit = ray.get_actor(self.audit_name, namespace=RAY_NAMESPACE)
                    ray.get(audit.apply_values.remote(pack(batch), now_ms))
                    break
                except Exception as error:  # the audit owner is down or restarting: keep the batch, try again
                    if failing_since is None:
                        failing_since = time.monotonic()
                        log.warning(
                            "%s: the audit owner did not take %d records (%s); they stay journaled here and are resent "
                            "until it does",
                            self.owner,
                            len(batch),
                            type(error).__name__,
                        )
                    audit = None  # find it again: it may have been replaced
                    time.sleep(delay_s)
                    delay_s = min(delay_s * 2, MAX_RETRY_DELAY_S)
            if failing_since is not None:
                log.warning(
                    "%s: the audit owner took the records after %.1f s", self.owner, time.monotonic() - failing_since
                )
            self.delivered.extend(record[RECORD_ID_AT] for record in batch)
            metrics.AUDIT_RECORDS_SENT.inc(len(batch))
            with self.changed:
                self.sending = 0
                self.changed.notify_all()


class SendsAuditRecords:
    """For an owner actor whose engine journals audit records (an `audit_outbox`): the forwarder's
    part in recovery and in every batch, and `audit_flushed`.  Without an audit owner's name,
    nothing is sent on (tests of the owner alone)."""

    forwarder: AuditForwarder | None = None

    def start_forwarding(self, audit_name: str | None, owner: str, outbox: AuditOutbox, now_ms: int) -> None:
        """After recovery (whose last now is `now_ms`): send whatever may not have arrived before
        the restart."""
        self.forwarder = AuditForwarder(audit_name, owner) if audit_name else None
        if self.forwarder is not None:
            self.forwarder.send(outbox.values(), now_ms)

    def take_delivered(self, outbox: AuditOutbox) -> None:
        """Before a batch: what the audit owner has stored leaves the outbox."""
        if self.forwarder is not None:
            outbox.delivered(self.forwarder.take_delivered())

    def forward(self, entries: list, now_ms: int) -> None:
        """After a batch applied at `now_ms` is durable: its audit records go on to the audit owner."""
        if self.forwarder is not None:
            self.forwarder.send([entry.record for entry in entries if type(entry) is AuditNote], now_ms)

    @ray.method(concurrency_group=AUDIT_GROUP)  # beside the batches: waiting here never holds one up
    def audit_flushed(self, timeout_s: float = 10.0) -> bool:
        """Wait until the audit owner has every audit record this owner journaled (before the audit
        log is read); False if that took longer than `timeout_s`."""
        return self.forwarder is None or self.forwarder.flush(timeout_s)
