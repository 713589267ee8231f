"""Nothing acknowledged is ever lost: restarts, kill -9 of the whole server, owner crashes, backups."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import ray
from grpc_health.v1 import health_pb2, health_pb2_grpc

from keyun.terminals.client import KeyunClient

from .audit import Load, audit
from .conftest import ServerThread, logged_in, schedule_trip
from .waiting import repeat_until, wait_until

KEYUN = str(Path(sys.executable).parent / "keyun")
HEALTH_POLL_S = 0.02
BOARDING = dt.timedelta(minutes=30)  # inside the check-in window, so the load can check in


def trips(client: KeyunClient, prefix: str, count: int = 3) -> list[str]:
    return [schedule_trip(client, f"{prefix}{n}", BOARDING, vehicle="coach45") for n in range(count)]


def test_a_restarted_server_serves_what_it_sold(ray_session, tmp_path):
    first = ServerThread(tmp_path, shards=2)
    with logged_in(KeyunClient(first.target)) as client:
        trip_ids = trips(client, "R")
        sold = client.sell(trip_ids[0], "AAA", "DDD", seat_count=3)
        refunded = client.refund(sold.tickets[0].ticket_id)
        checked = client.check_in(sold.tickets[1].ticket_id, "G7")
        client.hold(trip_ids[1], "AAA", "BBB", seat_numbers=("9",))
    first.stop()

    second = ServerThread(tmp_path, shards=2)
    try:
        with logged_in(KeyunClient(second.target)) as client:
            assert client.ticket(refunded.ticket_id) == refunded
            assert client.ticket(checked.ticket_id) == checked
            assert client.ticket(sold.tickets[2].ticket_id).status == sold.tickets[2].status
            # The hold survived too, and the retried sale is answered from the recovered window.
            assert not next(
                s for row in client.seat_map(trip_ids[1], "AAA", "BBB").rows for s in row.seats if s.seat_number == "9"
            ).free
    finally:
        second.stop()


def test_owner_crashes_mid_load_lose_nothing(ray_session, tmp_path):
    server = ServerThread(tmp_path, shards=2)
    try:
        with logged_in(KeyunClient(server.target)) as client:
            trip_ids = trips(client, "A")
            health = HealthWatch(client).start()
            load = Load(server.target, trip_ids).start()
            for crash in range(3):
                load.wait_for(40 * (crash + 1))
                ray.kill(server.server.pool.actors[crash % 2], no_restart=False)
            load.wait_for(load.record.acknowledged + 40)
            record = load.stop()
            restarts = sum(b.retries for b in server.server.pool.batchers)
            assert restarts > 0, "the kills were not noticed"
            assert audit(client, trip_ids, record) > 0
            seen = health.stop()
            # Health told the truth: not serving while an owner recovered, serving again after.
            assert health_pb2.HealthCheckResponse.NOT_SERVING in seen
            assert seen[-1] == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop()


class HealthWatch:
    """Polls the standard health service every HEALTH_POLL_S in a thread; records each change."""

    def __init__(self, client: KeyunClient):
        self.stub = health_pb2_grpc.HealthStub(client.channel)
        self.seen: list[int] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=repeat_until,
            args=(self.stopping, self._sample, HEALTH_POLL_S),
            daemon=True,
        )

    def start(self) -> HealthWatch:
        self.thread.start()
        return self

    def _sample(self) -> None:
        status = self.stub.Check(health_pb2.HealthCheckRequest(service="keyun.v1.Sales"), timeout=5).status
        if not self.seen or self.seen[-1] != status:
            self.seen.append(status)

    def stop(self, settle_s: float = 5.0) -> list[int]:
        """Stop once health reads SERVING again; return the changes seen."""

        def serving() -> bool:
            return bool(self.seen) and self.seen[-1] == health_pb2.HealthCheckResponse.SERVING

        wait_until(serving, settle_s, "health SERVING again")
        self.stopping.set()
        self.thread.join(timeout=10)
        return self.seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`keyun serve` as its own session of processes (the gateway, Ray, the owners)."""

    def __init__(self, data_dir: Path, port: int):
        self.process = subprocess.Popen(
            [KEYUN, "serve", "--demo", "--port", str(port), "--shards", "2", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "RAY_ADDRESS": ""},
        )
        self.output: list[str] = []
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        assert ready.wait(120), "".join(self.output)

    def _read(self, ready: threading.Event) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("keyun listening on "):
                ready.set()

    def kill_everything(self) -> None:
        """kill -9 every process of the server's session: gateway, Ray and owners at once."""
        session = self.process.pid  # start_new_session made the gateway its session's leader
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                if os.getsid(pid) == session:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        finally:
            self.kill_everything()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills a process session via /proc")
def test_kill_9_of_the_whole_server_loses_no_acknowledged_write(tmp_path):
    port, data_dir = free_port(), tmp_path / "data"
    target = f"127.0.0.1:{port}"
    server = ServerProcess(data_dir, port)
    with logged_in(KeyunClient(target)) as client:
        trip_ids = trips(client, "K")
    load = Load(target, trip_ids).start()
    rng = random.Random(11)
    for _ in range(3):
        load.wait_for(load.record.acknowledged + 30 + rng.randrange(30))  # a crash at a random point of the load
        server.kill_everything()
        server = ServerProcess(data_dir, port)
    load.wait_for(load.record.acknowledged + 30)
    record = load.stop()
    try:
        with logged_in(KeyunClient(target)) as client:
            assert audit(client, trip_ids, record) > 0
        assert record.retried > 0, "no operation saw the server down"
    finally:
        server.stop()
    verify = subprocess.run([KEYUN, "wal", "verify", "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert verify.returncode == 0 and "ok" in verify.stdout, verify.stderr
    dump = subprocess.run(
        [KEYUN, "wal", "dump", "--data-dir", str(data_dir), "--shard", "accounts", "--json"],
        capture_output=True,
        text=True,
    )
    rows = [json.loads(line) for line in dump.stdout.splitlines()]
    assert dump.returncode == 0 and any(row.get("command") == "StartSession" for row in rows), dump.stderr
    assert "$argon2id$" not in dump.stdout  # the demo accounts' password hashes are in that log, redacted


def test_a_backup_taken_under_load_restores_and_serves_the_same_tickets(ray_session, tmp_path):
    data_dir, backup_dir, restored_dir = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    server = ServerThread(data_dir, shards=2)
    try:
        with logged_in(KeyunClient(server.target)) as client:
            trip_ids = trips(client, "B")
        load = Load(server.target, trip_ids).start()
        load.wait_for(60)
        with load.record.lock:
            before = dict(load.record.sold)
        backup = subprocess.run(
            [KEYUN, "backup", "--data-dir", str(data_dir), "--to", str(backup_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert backup.returncode == 0, backup.stderr
        load.stop()
    finally:
        server.stop()

    restore = subprocess.run(
        [KEYUN, "restore", "--from", str(backup_dir), "--data-dir", str(restored_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restore.returncode == 0, restore.stderr
    # The station's keys, as a real restore uses: the accounts' personal data (display names too) is encrypted
    # under them.
    restored = ServerThread(restored_dir, shards=2, key_dir=data_dir.resolve().parent / f"{data_dir.name}-keys")
    try:
        with logged_in(KeyunClient(restored.target)) as client:
            for ticket_id, (seat, a, b) in before.items():
                ticket = client.ticket(ticket_id)
                assert (ticket.seat_number, ticket.from_stop.code, ticket.to_stop.code) == (seat, a, b)
            assert client.manifest(trip_ids[0]).tickets_issued > 0
    finally:
        restored.stop()


def test_restore_refuses_a_damaged_backup(ray_session, tmp_path):
    server = ServerThread(tmp_path / "data", shards=2)
    try:
        with logged_in(KeyunClient(server.target)) as client:
            client.sell(trips(client, "D", count=1)[0], "AAA", "BBB", seat_count=1)
        subprocess.run(
            [KEYUN, "backup", "--data-dir", str(tmp_path / "data"), "--to", str(tmp_path / "b")],
            check=True,
            capture_output=True,
        )
    finally:
        server.stop()
    segment = next((tmp_path / "b").rglob("*.wal"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    result = subprocess.run(
        [KEYUN, "restore", "--from", str(tmp_path / "b"), "--data-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "damaged" in result.stderr and segment.name in result.stderr


def test_a_gateway_started_with_another_shard_count_refuses_to_serve(ray_session, tmp_path):
    """A trip goes to shard crc32(trip_id) % shards: a gateway counting differently from the owners
    it finds by name would send a trip's calls to an owner that does not hold it, and could
    schedule the same trip on two owners."""
    from keyun.gateway.owners import ShardCountMismatch, running_pool_size

    instance = f"test-count-{uuid.uuid4().hex[:6]}"
    first = ServerThread(tmp_path / "a", shards=2, instance=instance)
    try:
        with pytest.raises(ShardCountMismatch, match="pool of 2 shards, and this gateway with --shards 1"):
            ServerThread(tmp_path / "b", shards=1, instance=instance)  # its own data path passes the local check
        with pytest.raises(ShardCountMismatch, match="pool of 2 shards, and this gateway with --shards 3"):
            ServerThread(tmp_path / "c", shards=3, instance=instance)
        # Refused before it made an owner for a third shard, which would have made a directory.
        assert running_pool_size(instance) == 2 and not (tmp_path / "c" / "shards").exists()
        with logged_in(KeyunClient(first.target)) as client:  # the first goes on serving
            trip_id = schedule_trip(client, "COUNT", dt.timedelta(hours=3))
            assert client.sell(trip_id, "AAA", "BBB", seat_count=1).tickets
    finally:
        first.stop()
