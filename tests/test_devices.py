"""The device registry through gRPC against a real server: register, heartbeat, offline and
behind as time passes, the metrics, disabling (refused at once, told so), a restart, and who may."""

from __future__ import annotations

import json

import grpc
import pytest
import ray

from keyun.common.clock import SYSTEM_CLOCK
from keyun.engine.accounts import AccountRules
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, audit_pb2, audit_pb2_grpc, devices_pb2, diagnostics_pb2, staff_pb2

from .conftest import ServerThread, logged_in
from .test_metrics import scrape, value

OFFLINE_MS, BEHIND_MS = 60_000, 120_000
RULES = AccountRules(device_offline_ms=OFFLINE_MS, device_behind_ms=BEHIND_MS)
GATE, KIOSK = devices_pb2.DEVICE_KIND_GATE, devices_pb2.DEVICE_KIND_KIOSK
ONLINE, OFFLINE, BEHIND, DISABLED = (
    devices_pb2.DEVICE_STATE_ONLINE,
    devices_pb2.DEVICE_STATE_OFFLINE,
    devices_pb2.DEVICE_STATE_BEHIND,
    devices_pb2.DEVICE_STATE_DISABLED,
)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("devices"), shards=1, account_rules=RULES)
    server.metrics_port = server.server.metrics.serve("127.0.0.1", 0)
    yield server
    server.stop()


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


def device_login(station, login_name: str) -> KeyunClient:
    client = KeyunClient(station.target)
    client.login(login_name, DEMO_PASSWORD)
    return client


def echo(client: KeyunClient) -> None:
    client.call(
        client.channel.unary_unary(
            "/keyun.v1.Diagnostics/Echo",
            request_serializer=diagnostics_pb2.EchoRequest.SerializeToString,
            response_deserializer=diagnostics_pb2.EchoResponse.FromString,
        ),
        diagnostics_pb2.EchoRequest(),
    )


def test_register_heartbeat_offline_behind_metrics_disable_and_enable(station):
    admin = logged_in(KeyunClient(station.target), "sysadmin", clock=station.clock)
    gate = device_login(station, "gate1")
    gate_account = gate.account.account_id

    # Only the system administrator (device_manage) registers; a gate cannot register itself.
    for login in ("seller", "dispatcher", "master"):
        with logged_in(KeyunClient(station.target), login) as other:
            error = refused(other.register_device, GATE, "AAA", "3", gate_account)
            assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    assert refused(gate.register_device, GATE, "AAA", "3", gate_account).code is grpc.StatusCode.PERMISSION_DENIED

    # Bad input is refused with its reason and changes nothing.
    assert refused(admin.register_device, 0, "AAA", "3", gate_account).reason == "MISSING_FIELD"
    assert refused(admin.register_device, GATE, "AAA", "", gate_account).reason == "MISSING_FIELD"
    assert refused(admin.register_device, GATE, "AAA", "3").reason == "MISSING_FIELD"
    assert refused(admin.register_device, GATE, "AAA", "3", "A999999").reason == "UNKNOWN_ACCOUNT"
    seller = logged_in(KeyunClient(station.target), "seller")
    staff_account = refused(admin.register_device, GATE, "AAA", "3", seller.account.account_id)
    assert (staff_account.code, staff_account.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    assert not admin.devices_page().devices

    device = admin.register_device(GATE, "AAA", "3", gate_account, "gate-aaa-3")
    assert (device.kind, device.station, device.lane, device.account_id, device.state) == (
        GATE,
        "AAA",
        "3",
        gate_account,
        OFFLINE,  # registered, not heard from yet
    )
    assert not device.HasField("last_seen")
    again = refused(admin.register_device, KIOSK, "AAA", "4", gate_account)
    assert (again.code, again.reason) == (grpc.StatusCode.ALREADY_EXISTS, "DEVICE_EXISTS")
    assert refused(admin.register_device, KIOSK, "AAA", "4", "", "gate-aaa-3").reason == "DEVICE_EXISTS"

    # A heartbeat from the gate's own account: online.
    now = station.clock.now_ms()
    beat = gate.heartbeat("keyun-gate 1.0", queue_depth=0, last_sync_ms=now)
    assert beat.device.state == ONLINE and beat.offline_after_seconds == OFFLINE_MS // 1000
    listed = admin.devices_page()
    assert [(d.device_id, d.state, d.version) for d in listed.devices] == [(device.device_id, ONLINE, "keyun-gate 1.0")]
    assert (listed.offline_after_seconds, listed.behind_after_seconds) == (OFFLINE_MS // 1000, BEHIND_MS // 1000)
    # A dispatcher sees the devices (device_read) without managing them.
    with logged_in(KeyunClient(station.target), "dispatcher") as dispatcher:
        assert [d.state for d in dispatcher.devices_page(station="AAA").devices] == [ONLINE]
    # A device account registered to no device has nothing to report to.
    with device_login(station, "kiosk1") as kiosk:
        assert refused(kiosk.heartbeat, "keyun-kiosk 1.0").reason == "DEVICE_NOT_REGISTERED"

    # No heartbeat for longer than the threshold: offline.
    station.clock.advance(OFFLINE_MS + 1000)
    assert admin.device(device.device_id).state == OFFLINE
    assert [d.device_id for d in admin.devices_page(state=OFFLINE).devices] == [device.device_id]
    assert not admin.devices_page(state=ONLINE).devices

    # Back, but with scans waiting in its offline queue: behind.
    now = station.clock.now_ms()
    beat = gate.heartbeat("keyun-gate 1.0", queue_depth=7, last_sync_ms=now - 40_000, oldest_unsynced_ms=now - 30_000)
    assert (beat.device.state, beat.device.queue_depth) == (BEHIND, 7)
    assert beat.device.oldest_unsynced_at.ToMilliseconds() == now - 30_000
    samples = scrape(station.metrics_port)
    assert value(samples["keyun_devices"], "keyun_devices", kind="gate", state="behind") == 1
    assert value(samples["keyun_devices"], "keyun_devices", state="online") == 0
    assert len(samples["keyun_devices"]) == 20  # every kind (gate, kiosk, handheld, counter, board) by every state
    age = value(
        samples["keyun_device_oldest_unsynced_scan_age_seconds"], "keyun_device_oldest_unsynced_scan_age_seconds"
    )
    assert 30 <= age < 60

    # An empty queue but a last sync older than the threshold: still behind.
    now = station.clock.now_ms()
    assert gate.heartbeat("keyun-gate 1.1", last_sync_ms=now - BEHIND_MS - 1000).device.state == BEHIND
    assert gate.heartbeat("keyun-gate 1.1", last_sync_ms=now).device.state == ONLINE
    samples = scrape(station.metrics_port)
    assert value(samples["keyun_devices"], "keyun_devices", kind="gate", state="online") == 1
    assert (
        value(samples["keyun_device_oldest_unsynced_scan_age_seconds"], "keyun_device_oldest_unsynced_scan_age_seconds")
        == 0
    )

    # Bad reports are refused.
    assert refused(gate.heartbeat, "v", queue_depth=-1).reason == "INVALID_FIELD"
    assert refused(gate.heartbeat, "v", queue_depth=0, oldest_unsynced_ms=now).reason == "INVALID_FIELD"

    # Disabled: the gate's very next call is refused, its heartbeat says so, and so does a new login.
    echo(gate)
    spare = device_login(station, "gate1")  # a second session of the gate's, opened before
    disabled = admin.disable_device(device.device_id)
    assert (disabled.disabled, disabled.state) == (True, DISABLED)
    error = refused(echo, gate)
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "DEVICE_DISABLED")
    assert gate.heartbeat("keyun-gate 1.1").device.state == DISABLED
    spare.logout()  # ending its own session is allowed
    error = refused(device_login, station, "gate1")
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "DEVICE_DISABLED")
    samples = scrape(station.metrics_port)
    assert value(samples["keyun_devices"], "keyun_devices", kind="gate", state="disabled") == 1
    assert admin.disable_device(device.device_id).disabled  # idempotent
    assert refused(admin.disable_device, "D999999").code is grpc.StatusCode.NOT_FOUND
    assert refused(admin.disable_device, "gate1").reason == "INVALID_FIELD"

    # Enabled again: it works at once.
    assert not admin.enable_device(device.device_id).disabled
    echo(gate)
    assert gate.heartbeat("keyun-gate 1.1", last_sync_ms=station.clock.now_ms()).device.state == ONLINE

    # Every change is in the audit log, and the refusal too.
    with logged_in(KeyunClient(station.target), "auditor", clock=station.clock) as auditor:
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords, audit_pb2.ListRecordsRequest(page_size=500)
        ).records
    actions = [
        (r.action, r.target, r.reason) for r in records if "Devices/" in r.action or r.reason == "DEVICE_DISABLED"
    ]
    assert ("keyun.v1.Devices/RegisterDevice", gate_account, "") in actions
    assert ("keyun.v1.Devices/DisableDevice", device.device_id, "") in actions
    assert ("keyun.v1.Devices/EnableDevice", device.device_id, "") in actions
    assert any(reason == "DEVICE_DISABLED" for _, _, reason in actions)
    assert not any(action == "keyun.v1.Devices/Heartbeat" for action, _, _ in actions)  # not audited


def test_the_registry_survives_a_restart(ray_session, tmp_path):
    first = ServerThread(tmp_path, shards=1, account_rules=RULES)
    try:
        admin = logged_in(KeyunClient(first.target), "sysadmin", clock=first.clock)
        gate = device_login(first, "gate1")
        handheld = device_login(first, "handheld1")
        kept = admin.register_device(GATE, "AAA", "1", gate.account.account_id)
        gone = admin.register_device(devices_pb2.DEVICE_KIND_HANDHELD, "AAA", "K101", handheld.account.account_id)
        counter = admin.register_device(devices_pb2.DEVICE_KIND_COUNTER, "BBB", "c2", certificate_name="counter-bbb-2")
        gate.heartbeat("keyun-gate 2.0", last_sync_ms=first.clock.now_ms())
        admin.disable_device(gone.device_id)
        # Heartbeats are kept in memory and saved with the owner's snapshots.
        ray.get(first.server.owners.accounts.snapshot.remote())
    finally:
        first.stop()
    second = ServerThread(tmp_path, shards=1, account_rules=RULES)
    try:
        second.clock.advance(31_000)  # the administrators' next TOTP code
        admin = logged_in(KeyunClient(second.target), "sysadmin", clock=second.clock)
        listed = {d.device_id: d for d in admin.devices_page().devices}
        assert set(listed) == {kept.device_id, gone.device_id, counter.device_id}
        assert listed[kept.device_id].version == "keyun-gate 2.0"  # from the snapshot
        assert listed[gone.device_id].state == DISABLED
        assert listed[counter.device_id].certificate_name == "counter-bbb-2"
        assert [d.device_id for d in admin.devices_page(station="BBB").devices] == [counter.device_id]
        assert [d.device_id for d in admin.devices_page(kind=GATE).devices] == [kept.device_id]
        first_page = admin.devices_page(page_size=2)
        assert len(first_page.devices) == 2 and first_page.next_page_token
        rest = admin.devices_page(page_size=2, page_token=first_page.next_page_token)
        assert [d.device_id for d in [*first_page.devices, *rest.devices]] == sorted(listed)
        assert refused(device_login, second, "handheld1").reason == "DEVICE_DISABLED"
        # A dispatcher of station BBB sees BBB's devices only.
        made = admin.call(
            admin.staff.CreateAccount,
            staff_pb2.CreateAccountRequest(
                request_id="ops-bbb", kind=accounts_pb2.ACCOUNT_KIND_STAFF, login_name="ops.bbb", password=DEMO_PASSWORD
            ),
        ).account
        with logged_in(KeyunClient(second.target), "secadmin", clock=second.clock) as secadmin:
            secadmin.call(
                secadmin.staff.GrantRoles,
                staff_pb2.GrantRolesRequest(
                    request_id="ops-bbb-roles", account_id=made.account_id, roles=["dispatcher"], stations=["BBB"]
                ),
            )
        with device_login(second, "ops.bbb") as ops:
            assert [d.device_id for d in ops.devices_page().devices] == [counter.device_id]
            assert ops.device(counter.device_id).station == "BBB"
            for call in (lambda: ops.devices_page(station="AAA"), lambda: ops.device(kept.device_id)):
                assert (refused(call).code, refused(call).reason) == (
                    grpc.StatusCode.PERMISSION_DENIED,
                    "PERMISSION_DENIED",
                )
        assert device_login(second, "gate1").heartbeat("keyun-gate 2.0").device.state == ONLINE
    finally:
        second.stop()


def test_the_keyun_device_commands(station, tmp_path):
    """`keyun device register|list|show|disable|enable|heartbeat`, each with --json, as processes."""
    from keyun.gateway.credentials import totp_code
    from keyun.gateway.demo_accounts import DEMO_TOTP_SECRET

    from .test_cli import keyun

    station.clock.advance(31_000)  # a TOTP step the administrator has not used yet
    shift = {"KEYUN_TEST_CLOCK_SHIFT_MS": str(station.clock.now_ms() - SYSTEM_CLOCK.now_ms())}
    admin = {**shift, "KEYUN_SESSION": str(tmp_path / "admin.json"), "KEYUN_PASSWORD": DEMO_PASSWORD}
    server = ("--server", station.target)
    code = totp_code(DEMO_TOTP_SECRET, station.clock.now_ms())
    assert "logged in as sysadmin" in keyun("login", "sysadmin", "--totp", code, *server, env=admin).stdout
    handheld = {**shift, "KEYUN_USER": "handheld1", "KEYUN_PASSWORD": DEMO_PASSWORD}
    with device_login(station, "handheld1") as client:
        account = client.account.account_id

    made = json.loads(
        keyun(
            "device", "register", "handheld", "AAA", "K101", "--account", account, "--json", *server, env=admin
        ).stdout
    )
    assert (made["kind"], made["station"], made["lane"], made["state"]) == (
        "DEVICE_KIND_HANDHELD",
        "AAA",
        "K101",
        "DEVICE_STATE_OFFLINE",
    )
    device_id = made["device_id"]
    beat = keyun(
        "device",
        "heartbeat",
        "--version",
        "hh 3.1",
        "--queue-depth",
        "2",
        "--last-sync-ago",
        "5",
        "--oldest-unsynced-ago",
        "20",
        *server,
        env=handheld,
    ).stdout
    assert f"{device_id}  handheld at AAA lane K101: behind" in beat
    listed = keyun("device", "list", "--kind", "handheld", *server, env=admin).stdout
    assert device_id in listed and "behind" in listed and "hh 3.1" in listed
    shown = json.loads(keyun("device", "show", device_id, "--json", *server, env=admin).stdout)
    assert (shown["queue_depth"], shown["version"]) == ("2", "hh 3.1")
    assert json.loads(keyun("device", "disable", device_id, "--json", *server, env=admin).stdout)["disabled"]
    refused_login = keyun("device", "heartbeat", *server, env=handheld, ok=False)
    assert "DEVICE_DISABLED" in refused_login.stdout + refused_login.stderr
    assert "disabled" in keyun("device", "list", "--state", "disabled", *server, env=admin).stdout
    enabled = json.loads(keyun("device", "enable", device_id, "--json", *server, env=admin).stdout)
    assert not enabled.get("disabled")
    assert ": online" in keyun("device", "heartbeat", "--last-sync-ago", "1", *server, env=handheld).stdout
    # Not a system administrator: refused with the reason.
    seller = {**shift, "KEYUN_USER": "seller", "KEYUN_PASSWORD": DEMO_PASSWORD}
    denied = keyun("device", "register", "gate", "AAA", "9", "--certificate", "g9", *server, env=seller, ok=False)
    assert "PERMISSION_DENIED" in denied.stdout + denied.stderr


def test_a_counter_known_by_its_certificate_is_refused_when_disabled(ray_session, tmp_path):
    """With client certificates, a device registered by its certificate's name (a counter, where
    sellers log in with their own accounts) is refused for every call made with it, logins too."""
    from keyun.gateway import tls

    certs = tmp_path / "tls"
    tls.init_station_certs(certs, "甲站", [])
    for name in ("counter-c1", "counter-c2"):
        tls.issue_client_cert(certs, name)

    def at(counter: str) -> dict:
        clients = certs / "clients"
        return {
            "ca_file": certs / "ca.pem",
            "cert_file": clients / f"{counter}.pem",
            "key_file": clients / f"{counter}.key",
        }

    server = ServerThread(tmp_path / "data", shards=1, tls=tls.TlsConfig(certs, require_client_cert=True))
    try:
        admin = logged_in(KeyunClient(server.target, **at("counter-c2")), "sysadmin", clock=server.clock)
        counter = admin.register_device(devices_pb2.DEVICE_KIND_COUNTER, "AAA", "c1", certificate_name="counter-c1")
        seller = logged_in(KeyunClient(server.target, **at("counter-c1")), "seller")
        beat = seller.heartbeat("counter 1.0", last_sync_ms=server.clock.now_ms())
        assert (beat.device.device_id, beat.device.state) == (counter.device_id, ONLINE)

        admin.disable_device(counter.device_id)
        for call in (
            lambda: echo(seller),
            seller.stations,
            lambda: logged_in(KeyunClient(server.target, **at("counter-c1")), "seller"),
        ):
            error = refused(call)
            assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "DEVICE_DISABLED")
        assert seller.heartbeat("counter 1.0").device.state == DISABLED
        with logged_in(KeyunClient(server.target, **at("counter-c2")), "seller") as elsewhere:
            echo(elsewhere)  # the same seller at another counter works

        admin.enable_device(counter.device_id)
        echo(seller)
        assert seller.stations() == []
    finally:
        server.stop()
