"""A trip owner's audit outbox: the audit records of the calls it answers are journaled with the
batch, and kept (across crashes and snapshots) until the audit owner has them."""

from __future__ import annotations

import ray

from keyun.actors.audit_log import audit_actor, audit_actor_name
from keyun.actors.packed import pack, unpack_replies
from keyun.actors.trip_shard import RemoteTripShard
from keyun.engine import commands as c
from keyun.engine import outbox as outbox_module
from keyun.engine import shard as shard_module
from keyun.engine.audit import AuditRecord
from keyun.engine.outbox import AuditBacklog, Audited, AuditNote
from keyun.engine.policy import Policy
from keyun.engine.reasons import Rejection
from keyun.persistence.admin import describe, dump_logs
from keyun.persistence.layout import prepare

from ..conftest import restarted
from .conftest import NOW, TRIP, A, B, Owner, schedule_batch


def audit(n: int) -> tuple:
    """What the gateway sends along with a call (a record's values): "OK" until the owner says otherwise."""
    return AuditRecord(
        f"{n:032x}", NOW, "S000001", "ticket_seller", "", "HD", "ipv4:127.0.0.1:5000", "keyun.v1.Sales/Sell", TRIP, "OK"
    ).values()


def record_id(n: int) -> str:
    return audit(n)[1]


def outcome(values: tuple) -> str:
    return AuditRecord.from_values(values).outcome


def test_audited_calls_are_journaled_with_their_outcome_and_kept_until_delivered(owner):
    owner.run(schedule_batch(), NOW)
    replies, entries = owner.run(
        [
            Audited(c.Sell("a1", TRIP, A, B, seat_count=1), audit(1)),
            c.Sell("a2", TRIP, A, B, seat_count=1),  # not audited here: the gateway records it itself
        ],
        NOW + 1000,
    )
    assert not any(isinstance(reply, Rejection) for reply in replies)
    assert [entry.record for entry in entries if type(entry) is AuditNote] == [audit(1)]
    # A refusal changes nothing, yet its audit record is journaled all the same.
    (refused,), entries = owner.run([Audited(c.Sell("a3", TRIP, A, B, seat_numbers=("99Z",)), audit(3))], NOW + 2000)
    assert isinstance(refused, Rejection)
    assert [type(e) for e in entries] == [shard_module.Refusal, AuditNote] and outcome(
        entries[1].record
    ) == refused.reason.name
    assert list(owner.engine.audit_outbox.records) == [record_id(1), record_id(3)]

    owner.crash()  # from the log alone
    assert [outcome(r) for r in owner.engine.audit_outbox.values()] == ["OK", refused.reason.name]

    owner.engine.audit_outbox.delivered([record_id(1)])
    owner.snapshot()  # keeps the outbox as it is now: record 3
    owner.run([Audited(c.Sell("a4", TRIP, A, B, seat_count=1), audit(4))], NOW + 3000)
    owner.crash()  # from the snapshot, then the log after it
    assert list(owner.engine.audit_outbox.records) == [record_id(3), record_id(4)]
    assert owner.report.events_replayed == 1  # the sale's one event; audit notes are no events


def test_a_full_outbox_turns_audited_calls_away_unapplied(owner, monkeypatch):
    monkeypatch.setattr(outbox_module, "MAX_AUDIT_OUTBOX", 2)
    owner.run(schedule_batch(), NOW)
    owner.run([Audited(c.Sell(f"b{n}", TRIP, A, B, seat_count=1), audit(n)) for n in (1, 2)], NOW + 1000)
    (backlog, sold), entries = owner.run(
        [Audited(c.Sell("b3", TRIP, A, B, seat_count=1), audit(3)), c.Sell("b4", TRIP, A, B, seat_count=1)], NOW + 2000
    )
    assert backlog == AuditBacklog(2) and not isinstance(
        sold, Rejection
    )  # a call that is not audited still goes through
    assert [type(entry) for entry in entries] == [shard_module.Entry] and "b3" not in owner.engine.recent
    assert owner.engine.state.trips[TRIP].tickets_issued == 3  # b1, b2 and b4; not b3
    owner.engine.audit_outbox.delivered([record_id(1)])
    (again,), _ = owner.run([Audited(c.Sell("b3", TRIP, A, B, seat_count=1), audit(3))], NOW + 3000)
    assert not isinstance(again, (Rejection, AuditBacklog))  # room again: the same request goes through


def test_wal_dump_shows_the_audit_records_a_trip_owner_journaled(tmp_path):
    prepare(tmp_path, 1)
    owner = Owner(tmp_path / "shards" / "0000")
    try:
        owner.run(schedule_batch(), NOW)
        owner.run(
            [
                Audited(c.Sell("d1", TRIP, A, B, seat_count=1), audit(7)),
                Audited(c.Sell("d2", TRIP, A, B, seat_numbers=("99Z",)), audit(8)),
            ],
            NOW + 1000,
        )
    finally:
        owner.close()
    rows = list(dump_logs(tmp_path))
    sold, refused = [row for row in rows if "audit" in row]
    assert (sold["audit"]["record_id"], sold["audit"]["outcome"], sold["audit"]["actor"]) == (
        record_id(7),
        "OK",
        "S000001",
    )
    assert describe(sold).split()[4:8] == ["audit", "keyun.v1.Sales/Sell", TRIP, "OK"]
    assert (refused["audit"]["record_id"], refused["audit"]["outcome"]) == (record_id(8), "UNKNOWN_SEAT")
    (refusal,) = [row for row in rows if "refused" in row]  # the refusal itself, for retries
    assert (refusal["request_id"], refusal["refused"]) == ("d2", "UNKNOWN_SEAT") and describe(refusal).endswith(
        "refused: UNKNOWN_SEAT"
    )
    assert sum(row.get("command") == "Sell" for row in rows) == 2 and all(describe(row) for row in rows)


def test_a_trip_owner_serves_without_the_audit_owner_and_sends_its_records_once_it_is_there(ray_session, tmp_path):
    instance = f"outbox-{tmp_path.name}"
    shard = RemoteTripShard.options(namespace="keyun").remote(
        0, Policy(), str(tmp_path), False, audit_actor_name(instance)
    )

    def apply(batch: list) -> list:
        return unpack_replies(ray.get(shard.apply_packed.remote(pack(batch)), timeout=60))

    apply(schedule_batch())
    replies = apply([Audited(c.Sell(f"f{n}", TRIP, A, B, seat_count=1), audit(n)) for n in (1, 2)])
    refused = apply([Audited(c.Sell("f3", TRIP, A, B, seat_numbers=("99Z",)), audit(3))])
    assert not any(isinstance(reply, Rejection) for reply in replies) and isinstance(refused[0], Rejection)
    assert ray.get(shard.audit_flushed.remote(0.5)) is False  # no audit owner yet: the records wait

    log = audit_actor(instance, tmp_path)
    ray.get(log.ready.remote(), timeout=120)  # a new worker process: slow on a busy machine
    assert ray.get(shard.audit_flushed.remote(30.0)) is True
    stored, _ = ray.get(log.query.remote(action="keyun.v1.Sales/Sell", page_size=10))
    assert sorted((record.record_id, record.outcome) for _, record in stored) == [
        (record_id(1), "OK"),
        (record_id(2), "OK"),
        (record_id(3), refused[0].reason.name),
    ]

    # A restarted trip owner sends its whole outbox again; the audit log keeps one copy of each.
    old_pid = ray.get(shard.ready.remote(), timeout=60)["pid"]
    ray.kill(shard, no_restart=False)
    restarted(shard, old_pid)
    assert ray.get(shard.audit_flushed.remote(30.0), timeout=60) is True
    assert ray.get(log.ready.remote())["records"] == 3
    ray.kill(shard, no_restart=True)
    ray.kill(log, no_restart=True)
