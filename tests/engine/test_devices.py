"""The device registry's pure core, hosted by the accounts engine: registry changes are journaled
and replayed, heartbeats are not, and a device's state follows the time and the thresholds."""

from __future__ import annotations

import pytest

from keyun.engine import accounts as ac
from keyun.engine import devices as dv
from keyun.engine.policy import PolicyError, parse_account_rules
from keyun.engine.reasons import Reason, Rejected, Rejection

T0 = 1_800_000_000_000
RULES = ac.AccountRules(device_offline_ms=60_000, device_behind_ms=120_000)


def device_account(engine: ac.AccountsEngine, name: str) -> str:
    new = ac.NewAccount(ac.AccountKind.DEVICE, f"name:{name}", name, b"", b"", "argon2-hash", roles=("gate_device",))
    (view,), _ = engine.execute([ac.CreateAccount(f"create-{name}", new)], T0)
    return view.account_id


def beat(account_id: str, queue: int = 0, last_sync: int = 0, oldest: int = 0) -> dv.DeviceHeartbeat:
    return dv.DeviceHeartbeat(account_id, "", "gate 1.0", queue, last_sync, oldest)


def test_registry_changes_are_journaled_heartbeats_are_not_and_replay_rebuilds_the_registry():
    engine = ac.AccountsEngine(RULES)
    journal = []

    def run(item, now):
        (reply,), entries = engine.execute([item], now)
        journal.append((now, entries))
        return reply, entries

    new = ac.NewAccount(ac.AccountKind.DEVICE, "name:gate1", "gate1", b"", b"", "argon2-hash", roles=("gate_device",))
    account = run(ac.CreateAccount("create-gate1", new), T0)[0].account_id
    view, entries = run(dv.RegisterDevice("reg-1", dv.DeviceKind.GATE, "AAA", "3", account), T0)
    assert (view.device.device_id, view.state) == ("D000001", dv.DeviceState.OFFLINE)
    assert [type(e) for entry in entries for e in entry.events] == [dv.DeviceRegistered]

    seen, entries = run(beat(account, last_sync=T0), T0 + 1000)
    assert seen.state is dv.DeviceState.ONLINE and entries == []  # kept in memory only

    off, entries = run(dv.DisableDevice("off-1", "D000001"), T0 + 2000)
    assert off.state is dv.DeviceState.DISABLED and entries
    found = run(ac.FindLogin("name:gate1"), T0 + 2000)[0]
    assert found.account.device_disabled  # the gateway refuses the device's login and its calls
    assert run(dv.DisableDevice("off-1", "D000001"), T0 + 3000)[0] == off  # a retry: the first answer

    replayed = ac.AccountsEngine(RULES)
    for now, entries in journal:
        replayed.replay(now, entries)
    assert replayed.state.devices.devices == engine.state.devices.devices
    assert replayed.state.devices.seen == {}  # heartbeats are not in the log
    assert replayed.recent["off-1"] == engine.recent["off-1"]


def test_state_follows_time_queue_and_last_sync():
    engine = ac.AccountsEngine(RULES)
    account = device_account(engine, "gate1")
    engine.execute([dv.RegisterDevice("reg-1", dv.DeviceKind.GATE, "AAA", "3", account)], T0)

    def state(now: int) -> dv.DeviceState:
        return engine.execute([dv.GetDevice("D000001")], now)[0][0].state

    engine.execute([beat(account, last_sync=T0)], T0)
    assert state(T0 + 60_000) is dv.DeviceState.ONLINE
    assert state(T0 + 60_001) is dv.DeviceState.OFFLINE
    engine.execute([beat(account, queue=3, last_sync=T0, oldest=T0 - 5)], T0 + 70_000)
    assert state(T0 + 70_000) is dv.DeviceState.BEHIND
    engine.execute([beat(account, last_sync=T0)], T0 + 121_000)
    assert state(T0 + 121_000) is dv.DeviceState.BEHIND  # synced too long ago
    counts = engine.execute([dv.DeviceSummary()], T0 + 121_000)[0][0]
    assert (dv.DeviceKind.GATE, dv.DeviceState.BEHIND, 1) in counts.counts and len(counts.counts) == len(
        dv.DeviceKind
    ) * len(dv.DeviceState)


def test_refusals():
    engine = ac.AccountsEngine(RULES)
    account = device_account(engine, "gate1")
    staff = ac.NewAccount(ac.AccountKind.STAFF, "name:clerk", "clerk", b"", b"", "argon2-hash")
    (clerk,), _ = engine.execute([ac.CreateAccount("create-clerk", staff)], T0)

    def refusal(item) -> Reason:
        reply = engine.execute([item], T0)[0][0]
        assert isinstance(reply, Rejection), reply
        return reply.reason

    register = dv.RegisterDevice("reg-1", dv.DeviceKind.GATE, "AAA", "3", account)
    engine.execute([register], T0)
    assert refusal(dv.RegisterDevice("reg-2", dv.DeviceKind.KIOSK, "AAA", "4", account)) is Reason.DEVICE_EXISTS
    assert refusal(dv.RegisterDevice("reg-3", dv.DeviceKind.GATE, "AAA", "4", clerk.account_id)) is Reason.INVALID_FIELD
    assert refusal(dv.RegisterDevice("reg-4", dv.DeviceKind.GATE, "AAA", "4", "A999999")) is Reason.UNKNOWN_ACCOUNT
    assert refusal(dv.DisableDevice("off-9", "D000009")) is Reason.UNKNOWN_DEVICE
    assert refusal(beat(clerk.account_id)) is Reason.DEVICE_NOT_REGISTERED
    for bad in (
        lambda: dv.RegisterDevice("reg-5", dv.DeviceKind.GATE, "AAA", "3"),
        lambda: dv.RegisterDevice("reg-5", dv.DeviceKind.GATE, "", "3", account),
        lambda: dv.RegisterDevice("reg-5", dv.DeviceKind.GATE, "AAA", "lane 3", account),
        lambda: dv.DeviceHeartbeat(account, "", "x" * 40, 0, 0, 0),
        lambda: dv.DeviceHeartbeat(account, "", "v", 0, 0, T0),
        lambda: dv.GetDevice("gate1"),
    ):
        with pytest.raises(Rejected):
            bad()


def test_the_policy_file_sets_the_thresholds():
    rules = parse_account_rules({"accounts": {"device_offline_seconds": 45, "device_behind_seconds": 600}})
    assert (rules.device_offline_ms, rules.device_behind_ms) == (45_000, 600_000)
    assert parse_account_rules({}).device_offline_ms == dv.DEFAULT_OFFLINE_MS
    with pytest.raises(PolicyError):
        parse_account_rules({"accounts": {"device_offline_seconds": 1}})
