"""What `keyun serve` exposes to the network (issue 16, items 2 and 5), on a real server process.

The embedded Ray listens on loopback only and takes only the token in the key directory; and the
gRPC server closes connections that never finish their handshake or stay idle, and keeps serving.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import selectors
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

from keyun.actors.ray_runtime import RAY_TOKEN_FILE
from keyun.terminals.client import KeyunClient

from .conftest import logged_in

KEYUN = str(Path(sys.executable).parent / "keyun")
START_TIMEOUT_S = 120
# Short limits, so the test sees them act; a real station keeps the defaults (seconds, minutes).
HANDSHAKE_TIMEOUT_MS = 1000
CONNECTION_IDLE_MS = 2000
IDLE_SOCKETS = 400
# Generous: far above the limits, far below grpc's own 120 s handshake timeout.
CLOSED_WITHIN_S = 60
# The client preface of HTTP/2 (RFC 9113, 3.4) and an empty SETTINGS frame: a complete handshake.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


class ServedProcess:
    """`keyun serve` as its own session of processes, with an environment free of Ray settings,
    so that whatever the server's Ray does, the server decided it."""

    def __init__(self, data_dir: Path, key_dir: Path):
        self.key_dir = key_dir
        env = {name: value for name, value in os.environ.items() if not name.startswith("RAY_")}
        self.process = subprocess.Popen(
            [
                KEYUN,
                "serve",
                "--demo",
                "--port",
                "0",
                "--shards",
                "1",
                "--data-dir",
                str(data_dir),
                "--key-dir",
                str(key_dir),
                "--handshake-timeout-ms",
                str(HANDSHAKE_TIMEOUT_MS),
                "--connection-idle-ms",
                str(CONNECTION_IDLE_MS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        seen = []
        while not (line := lines.get(timeout=START_TIMEOUT_S)).startswith("keyun listening on "):
            seen.append(line)
            assert self.process.poll() is None, "".join(seen)
        self.target = line.split()[-1]

    def processes(self) -> list[psutil.Process]:
        """Every process of the server's session: the gateway, Ray's and the owners'."""
        session = self.process.pid  # start_new_session made the gateway its session's leader
        found = []
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == session:
                    found.append(process)
            except (ProcessLookupError, PermissionError):
                pass
        return found

    def listening(self) -> list[tuple[str, str, int]]:
        """(process name, address, port) of every listening TCP socket of the server's processes."""
        sockets = []
        for process in self.processes():
            try:
                name = process.name()
                sockets += [
                    (name, c.laddr.ip, c.laddr.port)
                    for c in process.net_connections(kind="tcp")
                    if c.status == psutil.CONN_LISTEN
                ]
            except psutil.NoSuchProcess:
                pass
        return sockets

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = ServedProcess(tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("exposure") / "keys")
    yield server
    server.stop()


def test_bad_limits_and_a_readable_ray_token_are_refused_before_anything_starts(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("RAY_")}
    data_dir, key_dir = tmp_path / "data", tmp_path / "keys"
    for flag in ("--handshake-timeout-ms", "--connection-idle-ms", "--connection-age-ms"):
        refused = subprocess.run(
            [KEYUN, "serve", "--data-dir", str(data_dir), flag, "0"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert refused.returncode == 2 and f"{flag[2:].replace('-', '_')} must be at least 1 ms" in refused.stderr, (
            refused.stderr
        )

    key_dir.mkdir(mode=0o700)
    (key_dir / RAY_TOKEN_FILE).write_text("0" * 64)
    (key_dir / RAY_TOKEN_FILE).chmod(0o644)
    refused = subprocess.run(
        [KEYUN, "serve", "--data-dir", str(data_dir), "--key-dir", str(key_dir), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert refused.returncode == 2 and "chmod 600" in refused.stderr and RAY_TOKEN_FILE in refused.stderr, (
        refused.stderr
    )
    assert not data_dir.exists()


def on_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (
        getattr(ip, "ipv4_mapped", None) or ip
    ).is_loopback  # ::ffff:127.0.0.1 is IPv4's loopback on a dual-stack socket


def test_the_embedded_ray_listens_on_loopback_only_and_takes_only_keyuns_own_token(served):
    with logged_in(KeyunClient(served.target)) as client:  # the owners have answered: Ray's workers are up
        assert client.stations()
    listening = served.listening()
    names = {name for name, _, _ in listening}
    assert {"gcs_server", "raylet"} <= names, listening  # the look at the process tree found Ray
    assert [(n, a, p) for n, a, p in listening if not on_loopback(a)] == [], listening

    token_file = served.key_dir / RAY_TOKEN_FILE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(served.key_dir.stat().st_mode) == 0o700
    token = token_file.read_text().strip()
    gcs_port = next(port for name, _, port in listening if name == "gcs_server")
    with grpc.insecure_channel(f"127.0.0.1:{gcs_port}") as channel:
        gcs = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        assert gcs.GetClusterId(
            gcs_service_pb2.GetClusterIdRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=10
        ).cluster_id
        shared = Path.home() / ".ray" / "auth_token"  # every Ray cluster of this user reads it by default
        strangers = [[], [("authorization", "Bearer " + "0" * len(token))]]
        if shared.exists():
            strangers.append([("authorization", f"Bearer {shared.read_text().strip()}")])
        for metadata in strangers:
            with pytest.raises(grpc.RpcError) as refused:
                gcs.GetClusterId(gcs_service_pb2.GetClusterIdRequest(), metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_idle_and_half_open_connections_are_closed_and_the_server_keeps_serving(served):
    host, port = served.target.rsplit(":", 1)
    opened = {
        "silent": [connected(host, port, b"") for _ in range(IDLE_SOCKETS)],
        "half a preface": [connected(host, port, PREFACE[:10]) for _ in range(10)],
        "a preface without settings": [connected(host, port, PREFACE) for _ in range(10)],
        "HTTP/2 set up, then idle": [connected(host, port, PREFACE + EMPTY_SETTINGS) for _ in range(10)],
    }
    left_open = wait_until_closed(opened, CLOSED_WITHIN_S)
    assert left_open == dict.fromkeys(opened, 0)

    with grpc.insecure_channel(served.target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    with logged_in(KeyunClient(served.target)) as client:
        assert client.stations()


def connected(host: str, port: str, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection((host, int(port)), timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def wait_until_closed(opened: dict[str, list[socket.socket]], within_s: float) -> dict[str, int]:
    """Read every socket until the server closes it (EOF or reset); return how many of each kind
    it left open after `within_s`."""
    kind_of = {sock: kind for kind, socks in opened.items() for sock in socks}
    with selectors.DefaultSelector() as waiting:
        for sock in kind_of:
            sock.setblocking(False)
            waiting.register(sock, selectors.EVENT_READ)
        give_up_at = time.monotonic() + within_s
        while waiting.get_map() and time.monotonic() < give_up_at:
            for key, _ in waiting.select(timeout=1.0):
                if not closed_by_peer(key.fileobj):
                    continue  # the server's SETTINGS, or its GOAWAY before it closes
                waiting.unregister(key.fileobj)
                del kind_of[key.fileobj]
                key.fileobj.close()
    for sock in kind_of:
        sock.close()
    return {kind: sum(1 for k in kind_of.values() if k == kind) for kind in opened}


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
