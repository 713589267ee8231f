"""`keyun serve` refuses what it cannot serve before it starts anything (a busy port, a data
directory without its keys), `keyun restore` prints the line that starts its result, and the payment
sandbox keeps its port across restarts.  Real processes, as tests/test_cli.py runs them."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import threading

import grpc
import pytest

from keyun.common.clock import SYSTEM_CLOCK
from keyun.gateway import credentials
from keyun.gateway.demo_accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET
from keyun.persistence.keyring import MANIFEST, Keyring, field_key_file
from keyun.terminals.client import KeyunClient, KeyunError

from .conftest import ServerThread
from .test_cli import KEYUN, START_TIMEOUT_S, keyun

FAILS_WITHIN_S = 30  # the check itself is instant; the rest is importing Keyun on a shared machine


class Started:
    """A `keyun` process that prints lines until a line starting with `ready`."""

    def __init__(self, *args: str, ready: str):
        self.process = subprocess.Popen(
            [KEYUN, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "RAY_ADDRESS": ""},
        )
        self.lines = lines = queue.Queue[str]()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        self.seen: list[str] = []
        while not (line := lines.get(timeout=START_TIMEOUT_S)).startswith(ready):
            self.seen.append(line)
            assert self.process.poll() is None, "".join(self.seen)
        self.address = line.split()[-1]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        assert status == 0, "".join(self.seen) + "".join(self.lines.queue)


def one_line_refusal(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"keyun {result.args[1]}: ") and "Traceback" not in result.stdout + result.stderr
    assert all(text in line for text in expected), line
    return line


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_busy_port_fails_at_once_and_leaves_nothing_behind(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        result = keyun("serve", "--demo", "--sandbox-pay", "--data-dir", str(data_dir), "--port", str(port), ok=None)
        one_line_refusal(result, f"port {port} on 127.0.0.1 is in use", "--port")
    assert list(tmp_path.iterdir()) == []  # no data, key or sandbox directory: nothing was started


def test_a_failed_start_stops_the_sandbox_it_started(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "keyun.json").write_text(json.dumps({"format": 2, "shards": 1}))
    result = keyun("serve", "--sandbox-pay", "--data-dir", str(data_dir), "--port", "0", "--shards", "2", ok=None)
    assert result.returncode == 2 and "start with --shards 1" in result.stderr, result.stderr
    sandbox_port = json.loads((tmp_path / "data-pay" / "port.json").read_text())["port"]
    assert not listening(sandbox_port)


ADMINS = {"system_admin": "sys", "security_admin": "sec", "audit_admin": "aud"}
PASSWORDS = {f"KEYUN_{role.upper()}_PASSWORD": f"Restore-{name}-2026" for role, name in ADMINS.items()}


def test_restore_prints_the_serve_line_with_the_keys_and_serve_refuses_the_data_without_them(tmp_path):
    original = tmp_path / "station"
    server = Started("serve", "--port", "0", "--shards", "1", "--data-dir", str(original), ready="keyun listening on ")
    try:  # a production station: its administrators made with the setup token, as the README says
        token = server.seen[-2].strip()
        logins = [f"--{role.replace('_', '-')}={name}" for role, name in ADMINS.items()]
        made = keyun("setup", "--token", token, *logins, "--json", "--server", server.address, env=PASSWORDS)
        secret = next(a["totp_secret"] for a in json.loads(made.stdout) if a["account"]["login_name"] == "sys")
        keyun("backup", "--data-dir", str(original), "--to", str(tmp_path / "backup"))
    finally:
        server.stop()
    restored = tmp_path / "restored"
    printed = keyun("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(restored)).stdout
    serve_line = shlex.split(printed.splitlines()[-1])
    assert serve_line == [
        "keyun", "serve", "--data-dir", str(restored), "--shards", "1", "--key-dir", str(tmp_path / "station-keys")
    ]  # fmt: skip

    # Without --key-dir the restored data has no keys: refused before anything is made.
    refused = keyun("serve", "--data-dir", str(restored), "--port", "0", ok=None)
    one_line_refusal(refused, str(restored), "holds encrypted data", "--key-dir", str(tmp_path / "station-keys"))
    other = tmp_path / "other-keys"
    keyun("keys", "init", "--key-dir", str(other))
    wrong = keyun("serve", "--data-dir", str(restored), "--port", "0", "--key-dir", str(other), ok=None)
    one_line_refusal(wrong, "are not the ones", "--key-dir")
    assert not (tmp_path / "restored-keys").exists()
    # Restored with other keys named: it says so before the line.
    elsewhere = tmp_path / "elsewhere"
    told = keyun("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(elsewhere), "--key-dir", str(other))
    assert f"first: the keys in {other} are not the ones this backup is encrypted with" in told.stdout
    assert told.stdout.splitlines()[-1].endswith(f"--key-dir {other}")

    # The line as printed serves the backup: its administrators, no new setup.
    again = Started(*serve_line[1:], "--port", "0", ready="keyun listening on ")
    try:
        assert not any("setup token" in line for line in again.seen), "".join(again.seen)
        code = credentials.totp_code(secret, SYSTEM_CLOCK.now_ms())
        password = PASSWORDS["KEYUN_SYSTEM_ADMIN_PASSWORD"]
        session = {"KEYUN_SESSION": str(tmp_path / "session.json"), "KEYUN_PASSWORD": password}
        login = keyun("login", "sys", "--totp", code, "--server", again.address, env=session)
        assert "logged in as sys" in login.stdout
    finally:
        again.stop()


def test_data_of_an_earlier_keyun_without_keys_is_refused_too(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "accounts").mkdir(parents=True)  # an owner stored something; keyun.json records no keys
    (data_dir / "keyun.json").write_text(json.dumps({"format": 2, "shards": 1}))
    result = keyun("serve", "--data-dir", str(data_dir), "--port", "0", ok=None)
    one_line_refusal(result, "holds encrypted data", str(tmp_path / "data-keys"), "--key-dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_field_under_a_key_the_station_lacks_is_a_clear_status(ray_session, tmp_path):
    data_dir = tmp_path / "data"
    ServerThread(data_dir, shards=1).stop()  # the demo administrators' TOTP secrets, under key k1
    key_dir = tmp_path / "data-keys"
    Keyring.open(key_dir).rotate()
    manifest = json.loads((key_dir / MANIFEST).read_text())
    manifest["field_keys"] = [k for k in manifest["field_keys"] if k["id"] != "k1"]
    (key_dir / MANIFEST).write_text(json.dumps(manifest))
    (key_dir / field_key_file("k1")).unlink()  # as an operator removing an old key too early would
    server = ServerThread(data_dir, shards=1, demo_accounts=False)
    try:
        client = KeyunClient(server.target, attempts=1)
        with pytest.raises(KeyunError) as caught:
            client.login("sysadmin", DEMO_PASSWORD, credentials.totp_code(DEMO_TOTP_SECRET, server.clock.now_ms()))
        error = caught.value
        assert (error.code, error.reason) == (grpc.StatusCode.INTERNAL, "KEYS_UNUSABLE")
        assert "--key-dir" in error.message and "Keyring" not in error.message
        client.close()
    finally:
        server.stop()


def test_the_sandbox_keeps_its_port_across_restarts(tmp_path):
    keys = ("--keys-dir", str(tmp_path / "pay"), "--state", str(tmp_path / "pay" / "state.json"))
    first = Started("sandbox-pay", "--port", "0", *keys, ready="sandbox-pay listening on ")
    port = int(first.address.rsplit(":", 1)[1])
    first.stop()
    second = Started("sandbox-pay", "--port", "0", *keys, ready="sandbox-pay listening on ")
    assert second.address == f"127.0.0.1:{port}"
    try:  # a second sandbox on the same keys finds its port taken, and says so
        result = keyun("sandbox-pay", *keys, ok=None)
        one_line_refusal(result, f"port {port} on 127.0.0.1", "is in use", "port.json", "--port")
    finally:
        second.stop()
