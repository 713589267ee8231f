"""Shared fixtures: one Ray per test session, real Keyun servers on port 0, and a test network.

pytest loads this file for every test below tests/, the engine's too, so it imports Ray, gRPC and
the gateway only inside the functions that start or reach a server: `make test-fast` runs the
engine's tests without them (tests/engine/server_free.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from keyun.common.clock import SYSTEM_CLOCK, Clock

from .clocks import OffsetClock
from .waiting import wait_until

if TYPE_CHECKING:
    from keyun.terminals.client import KeyunClient

CHINA = dt.timezone(dt.timedelta(hours=8))

# A four-stop line with a 2+1 minibus; fares fixed so tests can check amounts.
STATIONS = """
format = 1
utc_offset = "+08:00"

[[stations]]
code = "AAA"
name = "甲站"
[[stations]]
code = "BBB"
name = "乙站"
[[stations]]
code = "CCC"
name = "丙站"
[[stations]]
code = "DDD"
name = "丁站"

[[operators]]
id = "TESTOP"
name = "测试客运"

[[vehicles]]
id = "mini12"
name = "12座中巴"
rows = [["1", "2", "", "3"], ["4", "5", "", "6"], ["7", "8", "", "9"], ["10", "11", "", "12"]]

[[vehicles]]
id = "coach45"
name = "45座大客"
seats = 45

[[routes]]
id = "LINE"
name = "甲—丁"
fen_per_km = 30
stops = [
  { station = "AAA", minutes = 0, km = 0 },
  { station = "BBB", minutes = 40, km = 50 },
  { station = "CCC", minutes = 80, km = 100 },
  { station = "DDD", minutes = 120, km = 150 },
]
fares = [{ from = "AAA", to = "DDD", fen = 4000 }]
"""
# Default fares from 30 fen/km rounded to whole yuan: AAA→BBB 15.00, BBB→DDD 30.00, AAA→CCC 30.00.


def network_with_schedule(schedule_id: str, departs: dt.datetime, vehicle: str) -> str:
    return (
        STATIONS
        + f"""
[[schedules]]
id = "{schedule_id}"
route = "LINE"
operator = "TESTOP"
vehicle = "{vehicle}"
departs = "{departs:%H:%M}"
"""
    )


class _Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOG_LINES.append(self.format(record))


LOG_LINES: list[str] = []


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory):
    from keyun.actors.ray_runtime import start_ray

    keyun_log = logging.getLogger("keyun")
    keyun_log.addHandler(_Capture(logging.DEBUG))
    keyun_log.setLevel(logging.DEBUG)
    # The session's Ray is embedded as keyun serve's is: on loopback, with a token of its own.
    start_ray(tmp_path_factory.mktemp("ray-keys"), cpus=2)
    yield


class ServerThread:
    """A real Keyun server (grpc.aio on uvloop, real Ray owners) on its own event loop thread.

    Its `clock` is every part of the server's time: tests move it forward to pass a deadline.  By
    default an OffsetClock (real time, plus what tests advance), since TOTP codes and certificates
    go by real time; a ManualClock where nothing does."""

    def __init__(
        self,
        data_dir,
        shards: int,
        policy=None,
        tls=None,
        account_rules=None,
        key_dir=None,
        demo_accounts=True,
        payments_dir=None,
        instance=None,
        clock: Clock | None = None,
        demo_network: bool = False,
        sms_dir=None,
        port: int = 0,
        reports: bool = False,
        authority=None,
    ):
        """`port`: 0 picks a free one; a restarted server may take its predecessor's again."""
        from keyun.app.server import create_server
        from keyun.common.platform import install_event_loop_policy
        from keyun.gateway.credentials import FAST_TEST_PARAMS

        install_event_loop_policy()
        self.clock = clock or OffsetClock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = create_server(
            instance or f"test-{uuid.uuid4().hex[:8]}",
            data_dir,
            shards,
            policy,
            check_invariants=True,
            tls=tls,
            password_params=FAST_TEST_PARAMS,
            demo_accounts=demo_accounts,
            account_rules=account_rules,
            key_dir=key_dir,
            payments_dir=payments_dir,
            clock=self.clock,
            demo_network=demo_network,
            sms_dir=sms_dir,
            reports=reports,
            authority=authority,
        )
        self.data_dir = data_dir
        self.port = self.run(self.server.start("127.0.0.1", port))
        self.target = f"127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """Everything logged so far: this process's Keyun loggers and every Ray worker's log files."""
        import ray

        session = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
        files = [p.read_text(errors="replace") for p in session.glob("*") if p.is_file()]
        return "\n".join([*LOG_LINES, *files])

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.run(self.server.stop(0))
        self.server.kill()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class Keyun:
    """A running server and helpers to schedule test trips on it."""

    server: ServerThread
    client: KeyunClient
    numbers: itertools.count

    @property
    def target(self) -> str:
        return self.server.target

    @property
    def clock(self) -> Clock:
        return self.server.clock

    def trip(self, departs_in: dt.timedelta, vehicle: str = "mini12") -> str:
        """Schedule a fresh trip on LINE leaving AAA `departs_in` from now; return its trip id."""
        return schedule_trip(self.client, f"T{next(self.numbers)}", departs_in, vehicle)


def schedule_trip(client: KeyunClient, schedule_id: str, departs_in: dt.timedelta, vehicle: str = "mini12") -> str:
    """Load a one-schedule network for the day of its departure; return the trip id."""
    departs = dt.datetime.now(CHINA) + departs_in
    client.load_network(network_with_schedule(schedule_id, departs, vehicle), departs.date().isoformat(), 1)
    return f"{schedule_id}-{departs:%Y%m%d}"


def restarted(actor, old_pid: int, wait_s: float = 60.0) -> dict:
    """Wait for Ray to replace an owner's killed process (ray.kill returns before the process is
    gone, and a call may still reach it), as the gateway's batcher waits by resending; return
    what the new one's ready() says."""
    import ray

    def replaced() -> dict | None:
        try:
            ready = ray.get(actor.ready.remote(), timeout=wait_s)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            return None
        return ready if ready["pid"] != old_pid else None

    return wait_until(replaced, wait_s, "the owner restarted", poll_s=0.1)


def logged_in(client: KeyunClient, login_name: str = "master", clock: Clock = SYSTEM_CLOCK) -> KeyunClient:
    """Log a client in as one of the demo accounts every test server has (administrators with
    the demo TOTP secret's code at the server's `clock`)."""
    from keyun.gateway.credentials import totp_code
    from keyun.gateway.demo_accounts import ADMIN_ROLES, DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_TOTP_SECRET

    admin = any(ADMIN_ROLES & set(a.roles) for a in DEMO_ACCOUNTS if a.login_name == login_name)
    code = totp_code(DEMO_TOTP_SECRET, clock.now_ms()) if admin else ""
    client.login(login_name, DEMO_PASSWORD, code)
    return client


@pytest.fixture(scope="module")
def keyun(ray_session, tmp_path_factory):
    from keyun.terminals.client import KeyunClient

    server = ServerThread(tmp_path_factory.mktemp("data"), shards=2)
    client = logged_in(KeyunClient(server.target), clock=server.clock)
    yield Keyun(server, client, itertools.count(1))
    client.close()
    server.stop()
