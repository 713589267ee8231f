"""`make run`'s path for real: `keyun serve --demo` as a process, driven by the terminal commands."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from keyun.common.clock import SYSTEM_CLOCK
from keyun.gateway import credentials
from keyun.gateway.demo_accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET

from .waiting import wait_until

BIN = Path(sys.executable).parent
KEYUN = str(BIN / "keyun")
CHINA = dt.timezone(dt.timedelta(hours=8))
DEMO = Path(__file__).parent.parent / "gateway" / "demo" / "hebei.toml"
START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    process = subprocess.Popen(
        [KEYUN, "serve", "--demo", "--port", "0", "--shards", "2", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = []
    while True:
        line = lines.get(timeout=START_TIMEOUT_S)
        seen.append(line)
        if line.startswith("keyun listening on "):
            break
        assert process.poll() is None, "".join(seen)
    yield line.split()[-1]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


def keyun(*args: str, ok: bool | None = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a `keyun` command; unless `ok` is None, check that it succeeded (or, False, failed)."""
    # The station's duty manager of the demo data, unless `env` says who: sells, checks in and loads networks.
    login = env or {"KEYUN_USER": "master", "KEYUN_PASSWORD": DEMO_PASSWORD}
    result = subprocess.run([KEYUN, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **login})
    assert ok is None or (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


def test_a_counter_and_a_gate_against_the_demo_network(demo_server):
    server = ("--server", demo_server)
    stations = keyun("counter", "stations", *server).stdout
    assert "SJZ" in stations and "石家庄客运总站" in stations and "BJ" in stations

    tomorrow = (dt.datetime.now(CHINA) + dt.timedelta(days=1)).date().isoformat()
    offers = json.loads(keyun("counter", "search", "SJZ", "BD", "--date", tomorrow, "--json", *server).stdout)["offers"]
    assert len(offers) >= 3 and all(o["seats_free"] > 0 and int(o["fare_fen"]) > 0 for o in offers)
    trip_id = offers[0]["trip"]["trip_id"]

    seat_map = keyun("counter", "seats", trip_id, "SJZ", "BD", *server).stdout
    assert "free" in seat_map and "front" in seat_map

    sold = json.loads(keyun("counter", "sell", trip_id, "SJZ", "BD", "--count", "2", "--json", *server).stdout)
    ticket_ids = [t["ticket_id"] for t in sold["tickets"]]
    assert len(ticket_ids) == 2 and int(sold["total_fen"]) == 2 * int(offers[0]["fare_fen"])

    printed = keyun("counter", "ticket", ticket_ids[0], *server).stdout
    assert ticket_ids[0] in printed and "valid" in printed and "石家庄客运总站" in printed

    taken = keyun(
        "counter", "sell", trip_id, "SJZ", "BD", "--seats", sold["tickets"][0]["seat_number"], *server, ok=False
    )
    assert "SEAT_TAKEN" in taken.stderr

    early = keyun("gate", "checkin", ticket_ids[1], "--gate", "G1", *server, ok=False)
    assert "NOT_YET_BOARDING" in early.stderr

    refunded = keyun("counter", "refund", ticket_ids[0], *server).stdout
    assert "refunded" in refunded

    manifest = keyun("gate", "manifest", trip_id, *server).stdout
    assert "2 issued, 0 checked in, 1 refunded" in manifest


def admin_code(login: str, used: dict[str, int], secret: str = DEMO_TOTP_SECRET) -> str:
    """A TOTP code an administrator has not used yet (each is good once per account)."""
    step = max(credentials.totp_step(SYSTEM_CLOCK.now_ms()), used.get(login, 0))
    used[login] = step + 1
    return credentials.totp_code(secret, step * credentials.TOTP_STEP_MS)


def test_administrators_manage_staff_from_the_command_line(demo_server, tmp_path):
    server, used = ("--server", demo_server), {}
    sessions = {
        login: {"KEYUN_SESSION": str(tmp_path / f"{login}.json"), "KEYUN_NEW_PASSWORD": "Cli-Seller-2026"}
        for login in ("sysadmin", "secadmin")
    }
    for login, env in sessions.items():  # once each: the session file carries them through the commands below
        assert (
            "logged in as"
            in keyun(
                "login", login, "--totp", admin_code(login, used), *server, env={**env, "KEYUN_PASSWORD": DEMO_PASSWORD}
            ).stdout
        )
        assert oct((tmp_path / f"{login}.json").stat().st_mode & 0o777) == "0o600"

    def as_admin(login: str, *args: str, **kw) -> subprocess.CompletedProcess:
        return keyun(*args, *server, env=sessions[login], **kw)

    created = json.loads(as_admin("sysadmin", "staff", "create", "wang", "--display-name", "王售票", "--json").stdout)[
        "account"
    ]
    assert not created.get("roles")  # the system administrator creates; only the security administrator grants
    device = as_admin("sysadmin", "staff", "create", "kiosk9", "--kind", "device").stdout
    assert "device secret (shown once" in device
    secret = device.split("device secret (shown once; the device logs in with it): ")[1].split()[0]
    assert (
        "logged in as kiosk9"
        in keyun(
            "login", "kiosk9", *server, env={"KEYUN_SESSION": str(tmp_path / "kiosk.json"), "KEYUN_PASSWORD": secret}
        ).stdout
    )
    as_admin(
        "sysadmin", "staff", "grant", created["account_id"], "--roles", "ticket_seller", "--stations", "SJZ", ok=False
    )  # not theirs to grant
    granted = as_admin(
        "secadmin", "staff", "grant", created["account_id"], "--roles", "ticket_seller", "--stations", "SJZ"
    ).stdout
    assert "ticket_seller" in granted and "stations=SJZ" in granted
    kiosk_id = device.split()[0]
    assert (
        "cash-acceptor"
        in as_admin(
            "secadmin", "staff", "grant", kiosk_id, "--roles", "kiosk_device", "--stations", "SJZ", "--cash-acceptor"
        ).stdout
    )
    listing = as_admin("sysadmin", "staff", "list").stdout
    assert "wang" in listing and "kiosk9" in listing and "auditor" in listing
    assert [line for line in listing.splitlines() if "cash-acceptor" in line] == [
        line for line in listing.splitlines() if "kiosk9" in line
    ]
    tomorrow = (dt.datetime.now(CHINA) + dt.timedelta(days=1)).strftime("%Y%m%d")
    seller = {"KEYUN_USER": "wang", "KEYUN_PASSWORD": "Cli-Seller-2026"}

    def sell_as_wang() -> subprocess.CompletedProcess | None:
        sold = keyun("counter", "sell", f"K101-{tomorrow}", "SJZ", "BD", "--count", "1", *server, env=seller, ok=None)
        return sold if sold.returncode == 0 else None

    # A role granted reaches a gateway's session cache within a second (SESSION_RECHECK_S).
    assert "total ¥" in wait_until(sell_as_wang, 30, "the granted role lets wang sell").stdout
    refused = keyun("counter", "sell", f"K105-{tomorrow}", "BD", "BJ", "--count", "1", *server, env=seller, ok=False)
    assert "PERMISSION_DENIED" in refused.stderr  # another station's sale
    # Unlocking is the security administrator's (the lock-out itself: test_security.py).
    assert "PERMISSION_DENIED" in as_admin("sysadmin", "staff", "unlock", created["account_id"], ok=False).stderr
    unlocked = json.loads(as_admin("secadmin", "staff", "unlock", created["account_id"], "--json").stdout)
    assert unlocked["account_id"] == created["account_id"]
    as_admin("sysadmin", "staff", "disable", created["account_id"])
    assert "ACCOUNT_DISABLED" in keyun("counter", "stations", *server, env=seller, ok=False).stderr
    as_admin("sysadmin", "logout")
    assert not (tmp_path / "sysadmin.json").exists()
    assert "NOT_AUTHENTICATED" in as_admin("sysadmin", "staff", "list", ok=False).stderr


def test_a_production_station_starts_without_accounts_and_is_set_up_once(tmp_path):
    process = subprocess.Popen(
        [KEYUN, "serve", "--port", "0", "--shards", "1", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("keyun listening on "):
                break
        target = seen[-1].split()[-1]
        token = next(line.strip() for line in seen if line.startswith("    "))
        assert "setup token" in "".join(seen)
        server = ("--server", target)
        passwords = {
            f"KEYUN_{role}_PASSWORD": "Prod-Admin-2026" for role in ("SYSTEM_ADMIN", "SECURITY_ADMIN", "AUDIT_ADMIN")
        }
        names = ("--system-admin", "root", "--security-admin", "keeper", "--audit-admin", "watcher")
        assert (
            "SETUP_CLOSED"
            in keyun("setup", "--token", "not-the-token", *names, *server, env=passwords, ok=False).stderr
        )
        done = keyun("setup", "--token", token, *names, *server, env=passwords).stdout
        secret = next(
            line.split("secret ")[1].strip() for line in done.splitlines() if line.strip().startswith("root ")
        )
        assert "SETUP_CLOSED" in keyun("setup", "--token", token, *names, *server, env=passwords, ok=False).stderr
        root = {"KEYUN_USER": "root", "KEYUN_PASSWORD": "Prod-Admin-2026"}
        listing = keyun("staff", "list", "--totp", admin_code("root", {}, secret), *server, env=root).stdout
        assert {"root", "keeper", "watcher"} <= set(listing.split()) and "master" not in listing
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_network_check_names_the_bad_field(tmp_path):
    assert "ok" in keyun("network", "check", str(DEMO)).stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace('station = "DZ"', 'station = "XXX"', 1), encoding="utf-8")
    result = keyun("network", "check", str(bad), ok=False)
    assert "routes[0].stops[1].station" in result.stderr and "XXX" in result.stderr


def test_every_verb_has_help():
    for verb in (["serve"], ["counter", "sell"], ["counter", "search"], ["gate", "checkin"], ["network", "load"]):
        assert "usage: keyun" in keyun(*verb, "--help").stdout


def test_serve_refuses_a_bad_policy_file_before_starting(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text("hold_minutes = 90\nrefund_tier = []\n", encoding="utf-8")
    result = subprocess.run(
        [KEYUN, "serve", "--policy", str(policy), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "hold_minutes: at most 30" in result.stderr and "refund_tier: unknown key" in result.stderr


def test_serve_refuses_bad_numbers_before_starting(tmp_path):
    for flag, value, message in (
        ("--shards", "0", "--shards and --workers must be at least 1"),
        ("--search-cache-ms", "-1", "--search-cache-ms must not be negative"),
    ):
        result = subprocess.run(
            [KEYUN, "serve", flag, value, "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60
        )
        assert (result.returncode, result.stderr.strip()) == (2, message)
    assert not (tmp_path / "d").exists()


def test_serve_refuses_an_unknown_event_loop_before_starting(tmp_path):
    env = {**os.environ, "KEYUN_EVENT_LOOP": "trio"}
    result = subprocess.run(
        [KEYUN, "serve", "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60, env=env
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "keyun serve: KEYUN_EVENT_LOOP must be one of uvloop, asyncio, not 'trio'",
    )
    assert not (tmp_path / "d").exists()


def test_the_default_shard_count_is_the_data_directorys_or_one_per_four_cpus(tmp_path, monkeypatch):
    from keyun.app.serve import default_shards
    from keyun.persistence import layout

    for cpus, shards in ((1, 1), (2, 1), (7, 1), (8, 2), (None, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cpus=cpus: cpus)
        assert default_shards(tmp_path / "new") == shards
    layout.prepare(tmp_path / "made", 3)  # made with 3: a trip's shard depends on the count
    assert default_shards(tmp_path / "made") == 3
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / layout.MANIFEST).write_text("{not json", encoding="utf-8")
    result = subprocess.run(
        [KEYUN, "serve", "--data-dir", str(tmp_path / "bad")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "unreadable" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading is Linux behaviour")
def test_workers_share_one_port_and_the_owners(tmp_path):
    import socket
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    from keyun.terminals.client import KeyunClient

    from .conftest import logged_in

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        metrics_port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            KEYUN,
            "serve",
            "--workers",
            "2",
            "--demo",
            "--port",
            "0",
            "--shards",
            "2",
            "--metrics-port",
            str(metrics_port),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    try:
        line = next(line for line in process.stdout if line.startswith("keyun listening on "))
        assert "(2 gateway processes)" in line
        target = line.split()[3]
        tomorrow = (dt.datetime.now(CHINA) + dt.timedelta(days=1)).strftime("%Y%m%d")
        sold = set()
        for _ in range(24):  # a new connection each time: the kernel picks a process per connection
            with logged_in(KeyunClient(target)) as client:
                sold |= {t.ticket_id for t in client.sell(f"K103-{tomorrow}", "SJZ", "BD", seat_count=1).tickets}
        assert len(sold) == 24  # both gateways reached the same owners: no seat sold twice
        per_process = []
        for port in (metrics_port, metrics_port + 1):
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
            per_process.append(
                sum(
                    s.value
                    for s in samples
                    if s.name == "keyun_rpc_requests_total" and s.labels.get("method") == "Sell"
                )
            )
            assert {s.labels["generation"] for s in samples if s.name == "keyun_gateway_gc_seconds_count"} == {
                "0",
                "1",
                "2",
            }
        assert sum(per_process) == 24 and all(count > 0 for count in per_process), per_process
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_network_diff_shows_a_changed_fare_and_changes_nothing(demo_server, tmp_path):
    """`keyun network diff` against the demo network the server keeps: the same file changes
    nothing; a dearer route changes its schedules' fares, and the trips would take them."""
    server = ("--server", demo_server)
    dispatcher = {"KEYUN_USER": "dispatcher", "KEYUN_PASSWORD": DEMO_PASSWORD}
    same = keyun("network", "diff", str(DEMO), *server, env=dispatcher).stdout
    assert "schedule changed" not in same and "trips to replace (unsold): 0" in same
    dearer = tmp_path / "dearer.toml"
    dearer.write_text(DEMO.read_text(encoding="utf-8").replace("fen_per_km = 30", "fen_per_km = 45", 1))
    tomorrow = (dt.datetime.now(CHINA).date() + dt.timedelta(days=1)).isoformat()
    diff = keyun("network", "diff", str(dearer), "--from", tomorrow, *server, env=dispatcher).stdout
    assert f"from {tomorrow}" in diff and "(fares)" in diff and "trips to replace (unsold): 0" not in diff
    # Nothing changed: the same diff again.
    assert keyun("network", "diff", str(dearer), "--from", tomorrow, *server, env=dispatcher).stdout == diff
