"""The AuditLog owner: durable batches, a daily purge inside apply, and a restart by Ray that
continues the same chain from disk."""

from __future__ import annotations

import time
import uuid

import lmdb
import msgpack
import pytest
import ray

from keyun.actors.audit_log import PURGE_EVERY_MS, AuditLog, audit_actor
from keyun.engine.audit import ChainProblem
from keyun.engine.reasons import Reason, Rejection
from keyun.persistence.audit_store import AuditStore

from ..conftest import restarted
from .conftest import DAY_MS, NOW_MS, data_directory, keyun_in_process, make_record


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def fresh(first: int, count: int) -> list:
    """Records stamped now, so the owner's own daily purge keeps them."""
    stamp = now_ms()
    return [make_record(n, at_ms=stamp + n) for n in range(first, first + count)]


def test_a_retention_under_180_days_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match="at least 180 days"):
        AuditLog(str(tmp_path), retention_days=179)
    with pytest.raises(ValueError, match="at least 180 days"):
        audit_actor("never-started", tmp_path, retention_days=90)
    assert not (tmp_path / "audit").exists()


def test_apply_purges_old_records_once_a_day(tmp_path):
    owner = AuditLog(str(tmp_path), retention_days=180)
    try:
        old = [make_record(n, at_ms=NOW_MS - 200 * DAY_MS + n) for n in range(1, 6)]
        assert owner._apply(old, NOW_MS) == [1, 2, 3, 4, 5]
        assert owner.store.count() == 0 and owner.store.anchor()[0] == 5  # purged right after the first batch
        later = [make_record(n, at_ms=NOW_MS - 200 * DAY_MS + n) for n in range(6, 9)]
        assert owner._apply(later, NOW_MS + PURGE_EVERY_MS - 1) == [6, 7, 8]
        assert owner.store.count() == 3  # not yet a day since the last purge
        assert owner._apply([make_record(9, at_ms=NOW_MS)], NOW_MS + PURGE_EVERY_MS) == [9]
        assert [seq for seq, _ in owner.store.tail(10)] == [9]
        report = owner.verify()
        assert report.ok and report.anchor_seq == 8 and report.head_seq == 9
        refused = owner.purge(NOW_MS, 30)
        assert isinstance(refused, Rejection) and refused.reason is Reason.RETENTION_TOO_SHORT
    finally:
        owner.store.close()


def test_a_malformed_batch_is_refused_without_changing_anything(tmp_path):
    owner = AuditLog(str(tmp_path))
    try:
        with pytest.raises(ValueError):
            owner.apply([make_record(1, at_ms=now_ms()), {"record_id": "not-a-record"}])
        assert owner.head()[0] == 0
    finally:
        owner.store.close()


def test_malformed_values_from_an_owner_are_stored_as_a_record_that_says_so(tmp_path):
    """An owner journaled them and resends them until stored: refusing them would block its outbox."""
    from keyun.actors.packed import pack
    from keyun.engine.audit import MALFORMED

    owner = AuditLog(str(tmp_path))
    try:
        good = make_record(1, at_ms=now_ms())
        bad_outcome = (*good.values()[:9], "not a reason", "")  # a bug upstream: the outcome is no reason name
        bad_id = make_record(3, at_ms=now_ms()).values()
        bad_id = (bad_id[0], "x" * 100, *bad_id[2:])  # too long a record id
        batch = pack(
            [good.values(), (*bad_outcome[:1], "rec-bad-outcome", *bad_outcome[2:]), bad_id, ("not", "enough")]
        )
        assert owner.apply_values(batch) == [1, 2, 3, 4]
        assert owner.apply_values(batch) == [1, 2, 3, 4]  # resent as the forwarder does: stored once
        stored = {seq: record for seq, record in owner.store.tail(10)}
        assert stored[1] == good
        assert (
            stored[2].record_id == "rec-bad-outcome"
            and stored[2].outcome == MALFORMED
            and "'not a reason'" in stored[2].detail
        )
        assert stored[2].action == good.action and stored[2].actor == good.actor  # what could be kept is kept
        assert stored[3].record_id.startswith("malformed-") and stored[3].outcome == MALFORMED
        assert stored[4].record_id.startswith("malformed-") and stored[4].action == "unknown"
        assert owner.verify().ok
    finally:
        owner.store.close()


def test_a_killed_audit_owner_restarts_and_its_chain_continues(ray_session, tmp_path):
    data_dir = data_directory(tmp_path / "data")
    instance = f"test-{uuid.uuid4().hex[:8]}"
    actor = audit_actor(instance, data_dir)
    try:
        first = fresh(1, 5)
        assert ray.get(actor.apply.remote(first)) == [1, 2, 3, 4, 5]
        before = ray.get(actor.ready.remote())
        assert before["head_seq"] == 5 and before["records"] == 5
        assert (
            ray.get(audit_actor(instance, data_dir).ready.remote())["pid"] == before["pid"]
        )  # found by name, not a second owner
        head = ray.get(actor.head.remote())
        # An operator verifies from another process while the owner runs.
        assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir)) == 0

        ray.kill(actor, no_restart=False)
        assert restarted(actor, before["pid"])["head_seq"] == 5  # reopened from disk
        assert ray.get(actor.apply.remote(fresh(6, 5))) == [6, 7, 8, 9, 10]
        # The gateway resends the batch it sent before the crash: nothing is stored twice.
        assert ray.get(actor.apply.remote(first)) == [1, 2, 3, 4, 5]

        report = ray.get(actor.verify.remote(expect_head=head))
        assert report.ok and report.checked == 10 and report.expected_head_checked
        rows, before_seq = ray.get(actor.query.remote(page_size=4))
        assert [seq for seq, _ in rows] == [10, 9, 8, 7] and before_seq == 7
        assert [record.record_id for _, record in rows] == [f"rec-{n:06d}" for n in (10, 9, 8, 7)]
        assert ray.get(actor.backup_to.remote(str(tmp_path / "copy"))) == 10
    finally:
        ray.kill(actor, no_restart=True)
    copy = AuditStore(tmp_path / "copy", readonly=True)
    try:
        assert copy.verify().ok and copy.count() == 10
    finally:
        copy.close()


def test_an_owner_started_on_a_tampered_log_starts_and_reports_it(ray_session, tmp_path):
    data_dir = data_directory(tmp_path / "data")
    actor = audit_actor(f"test-{uuid.uuid4().hex[:8]}", data_dir)
    try:
        ray.get(actor.apply.remote(fresh(1, 4)))
    finally:
        ray.kill(actor, no_restart=True)
    AuditStore(data_dir / "audit", wait_for_lock_s=10).close()  # the killed owner's lock went with its process
    env = lmdb.open(str(data_dir / "audit"), max_dbs=3)
    with env.begin(write=True) as txn:
        records = env.open_db(b"records", txn=txn, create=False)
        values = msgpack.unpackb(txn.get((2).to_bytes(8, "big"), db=records))
        values[1] += 1  # at_ms: the record now claims another time
        txn.put((2).to_bytes(8, "big"), msgpack.packb(values), db=records)
    env.close()
    actor = audit_actor(f"test-{uuid.uuid4().hex[:8]}", data_dir)
    try:
        report = ray.get(actor.verify.remote())
        assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, 2)
    finally:
        ray.kill(actor, no_restart=True)
