"""Load scenarios against a real Keyun, each compared with the echo ceiling measured in the same run.

    python -m bench.load [--scenarios echo,owner-echo,sell,counter,rush,mixed,gate,refund] [--concurrency 1000]
                         [--seconds 15] [--processes 1] [--stock 40000] [--target HOST:PORT [--ca ca.pem]]
                         [--workers 1] [--shards N] [--share-session] [--out bench/results]

Scenarios: echo (the ceiling), owner-echo (the same echo, which also makes one round trip to a trip
owner that does nothing: the ceiling of any call that reaches an owner), sell (durable sales spread
over 397 trips), counter (the same sales, each to a real-name walk-in passenger: a resident ID
validated, encrypted and blind-indexed by the gateway, one live ticket per document checked by the
owner; three in ten buy the accident insurance), rush (everyone after the
same 3 trips, which sell out at once), mixed (a station day: searches, seat maps, sales), gate
(check-ins on coaches now boarding), refund (a refund storm on coaches leaving soon).

Without --target it starts `keyun serve --demo` (embedded Ray, a fresh data directory, the server's
default shard count unless --shards says otherwise) and loads a bench network.  Every call is
authenticated, audited where the RPC mutates, as in service: the load logs in as the demo duty
manager, or as KEYUN_USER / KEYUN_PASSWORD on a --target.  Each scenario runs closed-loop:
`concurrency` calls always in flight, split over `processes` client processes (asyncio gRPC).  \
The echo scenario sends a no-op RPC with a request and
a reply of the same sizes as a sale's through the same gateway stack: what Python gRPC itself can
carry here.  Every other figure is also given as a ratio to it.

Results: a table on stdout, JSON and an SVG chart in --out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc

from keyun.common.platform import install_event_loop_policy
from keyun.engine.identity import id_check_char
from keyun.persistence.layout import recorded_shards
from keyun.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    gate_pb2,
    gate_pb2_grpc,
    sales_pb2,
    sales_pb2_grpc,
)

from .chart import write_chart

CHINA = dt.timezone(dt.timedelta(hours=8))
STOPS = [f"B{n:02d}" for n in range(10)]
# Sale trips, two minutes apart from 06:00 tomorrow (all on one date, for the mixed scenario's
# searches).  Single seats on one- and two-stop segments fill a trip after about 350 sales, so 397
# trips hold well over 100,000: more than sell and mixed together sell at 3,000 calls/s, so neither
# runs into sold-out trips, whose refusals are cheaper than sales.
TRIPS = 400
TRIP_STEP = dt.timedelta(minutes=2)
RUSH_TRIPS = 3
# Boarding happens at the first stop only (the others are hours away): 800 x 53 seats hold the
# default stock.  The stock must outlast the warm-up and the window: 12,000 tickets lasted about
# 3 s at 3,800 check-ins a second.
BOARDING_TRIPS = 800
STOCK = 40_000
PRESELL_CONCURRENCY = 200
WARMUP_S = 2.0
CA_ENV = "KEYUN_CA"  # the station CA for a TLS --target; spawned client processes inherit it
# Who the load logs in as: the demo station's duty manager unless a --target's own account is given.
USER_ENV, PASSWORD_ENV = "KEYUN_USER", "KEYUN_PASSWORD"
DEFAULT_USER = "master"
CLIENT_CHANNELS = 8  # calls spread over a few HTTP/2 connections, as many terminals would
# The counter scenario's walk-in passengers are born on one of these days (YYYYMMDD), written out
# once rather than by date arithmetic and strftime per sale: the load client shares the machine.
BIRTH_DATES = [f"{dt.date(1960, 1, 1) + dt.timedelta(days=n):%Y%m%d}" for n in range(40 * 365)]


@dataclass
class Result:
    scenario: str
    calls: int
    ok: int
    refused: int  # answered with a business rejection (sold out, already refunded, ...)
    failed: int  # transport or server errors
    seconds: float
    throughput: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ratio_to_echo: float = 0.0
    # For a scenario of several RPCs (mixed): {rpc: {"calls", "p50_ms", "p95_ms", "p99_ms"}}, from
    # the calls that started in the window.
    by_rpc: dict[str, dict[str, float]] = field(default_factory=dict)


def bench_network(departures: list[tuple[str, dt.datetime]]) -> str:
    """A 10-stop line with 53-seat coaches and one schedule per (id, departure)."""
    stations = "\n".join(f'[[stations]]\ncode = "{code}"\nname = "Bench {code}"\n' for code in STOPS)
    stops = ", ".join(f'{{ station = "{code}", minutes = {30 * n}, km = {40 * n} }}' for n, code in enumerate(STOPS))
    schedules = "\n".join(
        f'[[schedules]]\nid = "{schedule_id}"\nroute = "BENCH"\noperator = "BENCH"\nvehicle = "coach53"\n'
        f'departs = "{departs:%H:%M}"\n'
        for schedule_id, departs in departures
    )
    return f"""format = 1
utc_offset = "+08:00"
{stations}
[[operators]]
id = "BENCH"
name = "Bench Coaches"

[[vehicles]]
id = "coach53"
name = "53 seats"
seats = 53

[[routes]]
id = "BENCH"
name = "Bench line"
fen_per_km = 30
stops = [{stops}]

{schedules}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    data_dir: Path, workers: int, own_session: bool = True, shards: int | None = None, reports: bool = True
) -> tuple[subprocess.Popen, str]:
    """Start `keyun serve --demo` and wait until it listens.

    By default the server runs in a session of its own.  Linux's autogroup scheduler (on by default)
    then shares the CPU between the server's processes together and the client's, rather than
    thread by thread, which gives the higher echo ceiling here.  `own_session=False` keeps the
    server in the client's session (its own process group still, so it stops as a whole); see
    BENCHMARKS.md for what that changes.  `shards`: trip owners (default: keyun serve's own).
    `reports`: with the report projector (keyun serve's default), else --no-reports.
    """
    port = free_port()
    keyun = str(Path(sys.executable).parent / "keyun")
    process = subprocess.Popen(
        [
            keyun,
            "serve",
            "--demo",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "WARNING",
            *(["--shards", str(shards)] if shards else []),
            *([] if reports else ["--no-reports"]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RAY_ADDRESS": ""},
        **({"start_new_session": True} if own_session else {"process_group": 0}),
    )
    for line in process.stdout:
        if line.startswith("keyun listening on "):
            # Keep reading what the server prints, so a full pipe never blocks it.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, f"127.0.0.1:{port}"
    raise SystemExit("keyun serve did not start")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):  # POSIX: the server's whole session, Ray included
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()


class LagSampler:
    """The report projector's lag during a scenario (docs/reporting.md): ProjectionStatus twice a
    second from a thread of its own; the most records behind and seconds behind seen, and how long
    it took to catch up after the scenario ended."""

    def __init__(self, target: str):
        self.client = logged_in_client(target)
        self.max_records = 0
        self.max_seconds = 0.0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _behind(self) -> tuple[int, float]:
        status = self.client.projection_status()
        return sum(owner.behind for owner in status.owners), status.behind_seconds

    def _run(self) -> None:
        while not self.stopping.wait(0.5):
            records, seconds = self._behind()
            self.max_records, self.max_seconds = max(self.max_records, records), max(self.max_seconds, seconds)

    def __enter__(self) -> LagSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join()
        ended = time.monotonic()
        while self._behind()[0] and time.monotonic() - ended < 120:
            time.sleep(0.1)
        self.catch_up_s = time.monotonic() - ended
        self.client.close()

    def summary(self) -> dict:
        return {
            "max_records_behind": self.max_records,
            "max_seconds_behind": round(self.max_seconds, 2),
            "caught_up_after_s": round(self.catch_up_s, 2),
        }


def logged_in_client(target: str):
    """A client logged in as the bench's account (every call is authenticated, as in service)."""
    from keyun.gateway.demo_accounts import DEMO_PASSWORD
    from keyun.terminals.client import KeyunClient

    client = KeyunClient(target, deadline_s=60, ca_file=os.environ.get(CA_ENV) or None)
    client.login(os.environ.get(USER_ENV) or DEFAULT_USER, os.environ.get(PASSWORD_ENV) or DEMO_PASSWORD)
    return client


def access_metadata(target: str) -> tuple:
    """Metadata carrying a fresh access token (good for 15 minutes: one per scenario)."""
    with logged_in_client(target) as client:
        return (("authorization", f"Bearer {client.access_token}"),)


def schedule(target: str, prefix: str, count: int, first: dt.datetime, step: dt.timedelta) -> list[str]:
    """Schedule `count` trips from `first`, `step` apart (all on first's date); return their ids."""
    departures = [(f"{prefix}{n:03d}", first + n * step) for n in range(count)]
    with logged_in_client(target) as client:
        client.load_network(bench_network(departures), first.date().isoformat(), 1)
    return [f"{schedule_id}-{first:%Y%m%d}" for schedule_id, _ in departures]


def prepare(target: str) -> tuple[list[str], str]:
    """Schedule the sale trips (tomorrow, so on sale all day); return their ids and the date."""
    first = (dt.datetime.now(CHINA) + dt.timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
    return schedule(target, "BN", TRIPS, first, TRIP_STEP), first.date().isoformat()


async def _presell(target: str, trip_ids: list[str], count: int) -> list[str]:
    """Sell `count` single seats from the first stop over the trips; return the ticket ids."""
    metadata = await asyncio.to_thread(access_metadata, target)
    channel = open_channel(target)
    sales = sales_pb2_grpc.SalesStub(channel)
    pending = iter(range(count))
    tickets: list[str] = []

    async def seller() -> None:
        for n in pending:
            request = sales_pb2.SellRequest(
                request_id=uuid.uuid4().hex,
                trip_id=trip_ids[n % len(trip_ids)],
                from_station=STOPS[0],
                to_station=STOPS[1 + n % (len(STOPS) - 1)],
                seat_count=1,
            )
            tickets.extend(t.ticket_id for t in (await sales.Sell(request, timeout=60, metadata=metadata)).tickets)

    await asyncio.gather(*(seller() for _ in range(PRESELL_CONCURRENCY)))
    await channel.close()
    return tickets


def boarding_stock(target: str, prefix: str, count: int) -> list[str]:
    """Tickets on trips now boarding (leaving in 40 minutes), for the gate and refund scenarios."""
    first = dt.datetime.now(CHINA) + dt.timedelta(minutes=40)
    trip_ids = schedule(target, prefix, BOARDING_TRIPS, first, dt.timedelta(0))
    print(f"selling {count} tickets for the {prefix} scenario ...", file=sys.stderr, flush=True)
    return asyncio.run(_presell(target, trip_ids, count))


def sample_sizes() -> tuple[int, int]:
    """Bytes of a typical sale request and reply, for an echo of the same size."""
    request = sales_pb2.SellRequest(
        request_id=uuid.uuid4().hex, trip_id="BN000-20300101", from_station="B01", to_station="B03", seat_count=1
    )
    return request.ByteSize(), 1100  # a SellResponse with one ticket and its trip's 10 stops is about 1.1 kB


class Scenario:
    """Builds the next call of a client task: (rpc callable, request)."""

    def __init__(self, name: str, stubs: dict, trip_ids: list[str], date: str, rng: random.Random, tickets: list[str]):
        self.name, self.stubs, self.trip_ids, self.date, self.rng = name, stubs, trip_ids, date, rng
        self.tickets = tickets  # for gate and refund: each ticket is used once
        self.request_bytes, self.response_bytes = sample_sizes()

    def next_call(self, channel_index: int):
        stubs = {k: v[channel_index] for k, v in self.stubs.items()}
        if self.name in ("gate", "refund"):
            if not self.tickets:
                return None
            ticket_id = self.tickets.pop()
            if self.name == "gate":
                return stubs["gate"].CheckIn, gate_pb2.CheckInRequest(
                    request_id=uuid.uuid4().hex, ticket_id=ticket_id, gate_id=f"G{channel_index}"
                )
            return stubs["sales"].Refund, sales_pb2.RefundRequest(request_id=uuid.uuid4().hex, ticket_id=ticket_id)
        if self.name in ("echo", "owner-echo"):
            request = diagnostics_pb2.EchoRequest(
                payload=bytes(self.request_bytes),
                response_bytes=self.response_bytes,
                via_owner=self.name == "owner-echo",
            )
            return stubs["diag"].Echo, request
        if self.name == "sell":
            return stubs["sales"].Sell, self._sell(self.trip_ids[RUSH_TRIPS:])
        if self.name == "counter":  # the sales of `sell`, each to a walk-in passenger by document
            request = self._sell(self.trip_ids[RUSH_TRIPS:])
            request.ClearField("seat_count")  # one seat per seated passenger
            request.passengers.append(self._walk_in())
            return stubs["sales"].Sell, request
        if self.name == "rush":  # everyone after the same few trips, which sell out within a second
            return stubs["sales"].Sell, self._sell(self.trip_ids[:RUSH_TRIPS])
        roll = self.rng.random()  # mixed station day
        if roll < 0.5:
            a = self.rng.randrange(len(STOPS) - 1)
            return stubs["catalog"].SearchTrips, catalog_pb2.SearchTripsRequest(
                from_station=STOPS[a],
                to_station=STOPS[self.rng.randrange(a + 1, len(STOPS))],
                date=self.date,
                page_size=20,
            )
        if roll < 0.6:
            return stubs["catalog"].GetSeatMap, catalog_pb2.GetSeatMapRequest(
                trip_id=self.rng.choice(self.trip_ids), from_station=STOPS[0], to_station=STOPS[-1]
            )
        return stubs["sales"].Sell, self._sell(self.trip_ids[RUSH_TRIPS:])

    def _walk_in(self) -> sales_pb2.WalkInPassenger:
        """An adult with a valid resident ID drawn at random (14.6 million of them: two sales on one
        trip rarely name one document, which its owner would refuse)."""
        born = BIRTH_DATES[self.rng.randrange(len(BIRTH_DATES))]
        first17 = f"110101{born}{self.rng.randrange(1000):03d}"
        return sales_pb2.WalkInPassenger(
            document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
            document_number=first17 + id_check_char(first17),
            name="张三丰",
            ticket_type=common_pb2.TICKET_TYPE_FULL,
            insurance=self.rng.random() < 0.3,
        )

    def _sell(self, trip_ids: list[str]) -> sales_pb2.SellRequest:
        a = self.rng.randrange(len(STOPS) - 1)
        b = min(len(STOPS) - 1, a + self.rng.choice([1, 1, 2]))
        return sales_pb2.SellRequest(
            request_id=uuid.uuid4().hex,
            trip_id=self.rng.choice(trip_ids),
            from_station=STOPS[a],
            to_station=STOPS[b],
            seat_count=1,
        )


def open_channel(target: str) -> grpc.aio.Channel:
    """TLS when a CA is given (--ca, handed to client processes through the environment)."""
    ca_file = os.environ.get(CA_ENV)
    if not ca_file:
        return grpc.aio.insecure_channel(target)
    from keyun.common.tls import channel_credentials

    return grpc.aio.secure_channel(target, channel_credentials(ca_file))


# The stubs a Scenario calls, one of each per channel.
STUBS = {
    "sales": sales_pb2_grpc.SalesStub,
    "catalog": catalog_pb2_grpc.CatalogStub,
    "diag": diagnostics_pb2_grpc.DiagnosticsStub,
    "gate": gate_pb2_grpc.GateStub,
}
TICKET_SOLD = common_pb2.TICKET_STATUS_ISSUED

BUSINESS_CODES = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.NOT_FOUND}


async def _client(
    target: str,
    scenario_name: str,
    concurrency: int,
    seconds: float,
    trip_ids: list[str],
    date: str,
    seed: int,
    tickets: list[str],
    metadata: tuple,
) -> dict:
    channels = [open_channel(target) for _ in range(CLIENT_CHANNELS)]
    stubs = {name: [make(c) for c in channels] for name, make in STUBS.items()}
    scenario = Scenario(scenario_name, stubs, trip_ids, date, random.Random(seed), tickets)
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + WARMUP_S
    stop_at = measure_from + seconds
    calls: list[tuple[float, float, str, str]] = []  # (started, ended, outcome, rpc)

    async def task(n: int) -> None:
        while loop.time() < stop_at:
            call = scenario.next_call(n % CLIENT_CHANNELS)
            if call is None:  # out of tickets: the scenario is over for this task
                return
            rpc, request = call
            started = loop.time()
            try:
                await rpc(request, timeout=30, metadata=metadata)
                outcome = "ok"
            except grpc.aio.AioRpcError as error:
                outcome = "refused" if error.code() in BUSINESS_CODES else "failed"
            calls.append((started, loop.time(), outcome, type(request).__name__.removesuffix("Request")))

    await asyncio.gather(*(task(n) for n in range(concurrency)))
    for channel in channels:
        await channel.close()
    return tally(calls, measure_from, stop_at)


def tally(calls: list[tuple[float, float, str, str]], measure_from: float, stop_at: float) -> dict:
    """What one client measured in the window [measure_from, stop_at].

    Throughput counts every call that ends inside the window, whenever it started: counting only
    calls that also started inside would leave out the window's first latency's worth.  Latency
    takes every call that starts inside the window, however late it ends: calls still in flight
    from the warm-up's opening burst would otherwise inflate the tail.  Latencies are also kept by
    RPC, for scenarios that mix several.
    """
    counts = {"ok": 0, "refused": 0, "failed": 0}
    latencies: list[float] = []
    by_rpc: dict[str, list[float]] = {}
    last_end = measure_from  # a scenario may run out of tickets before the window closes
    for started, ended, outcome, rpc in calls:
        if measure_from <= ended <= stop_at:
            counts[outcome] += 1
            last_end = max(last_end, ended)
        if measure_from <= started < stop_at:
            latencies.append(ended - started)
            by_rpc.setdefault(rpc, []).append(ended - started)
    return {"latencies": latencies, "by_rpc": by_rpc, "active_seconds": last_end - measure_from, **counts}


def _client_process(args: tuple, results) -> None:
    install_event_loop_policy()
    results.put(asyncio.run(_client(*args)))


def run_scenario(
    name: str,
    target: str,
    concurrency: int,
    processes: int,
    seconds: float,
    trip_ids: list[str],
    date: str,
    tickets: list[str],
    seed: int = 0,
) -> Result:
    """`seed`: the first client process's random seed (the next ones count on from it).  A run that
    measures a scenario twice gives each its own, or the second counter would name the first's
    documents again, and be refused."""
    results = multiprocessing.get_context("spawn").Queue()
    per_process = max(1, concurrency // processes)
    metadata = access_metadata(target)
    workers = [
        multiprocessing.get_context("spawn").Process(
            target=_client_process,
            args=(
                (target, name, per_process, seconds, trip_ids, date, seed + n, tickets[n::processes], metadata),
                results,
            ),
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    parts = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    latencies = sorted(latency for part in parts for latency in part["latencies"])
    ok, refused, failed = (sum(part[k] for part in parts) for k in ("ok", "refused", "failed"))
    calls = ok + refused + failed
    by_rpc: dict[str, list[float]] = {}
    for part in parts:
        for rpc, values in part["by_rpc"].items():
            by_rpc.setdefault(rpc, []).extend(values)
    breakdown = (
        {rpc: {"calls": len(values), **percentiles(sorted(values))} for rpc, values in sorted(by_rpc.items())}
        if len(by_rpc) > 1
        else {}
    )
    active = max((part["active_seconds"] for part in parts), default=0.0) or seconds
    return Result(name, calls, ok, refused, failed, active, calls / active, **percentiles(latencies), by_rpc=breakdown)


def stock_warning(result: Result, seconds: float, stock: int) -> str | None:
    """Why a ticket-spending scenario's figure means little, if it ran out of its tickets."""
    if result.scenario not in ("gate", "refund"):
        return None
    if result.calls == 0:
        return (
            f"{result.scenario}: its {stock:,} tickets were all used in the {WARMUP_S:.0f} s warm-up, so nothing "
            "was measured: give --stock more"
        )
    if result.seconds < 0.9 * seconds:
        return (
            f"{result.scenario}: its {stock:,} tickets ran out {result.seconds:.1f} s into the {seconds:.0f} s "
            "window, so its rate is over those seconds only: give --stock more"
        )
    return None


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50, p95 and p99 in ms of sorted latencies in seconds (0 for none)."""

    def at(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def machine() -> str:
    """Architecture, CPU model and count, Python: the same host kind can vary in speed from day to day."""
    model = ""
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    return (
        f"{platform.machine()}, {model + ', ' if model else ''}{os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def table(results: list[Result]) -> str:
    lines = [
        f"{'scenario':<10} {'calls/s':>9} {'x echo':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'ok':>8} "
        f"{'refused':>8} {'failed':>7}"
    ]
    for r in results:
        lines.append(
            f"{r.scenario:<10} {r.throughput:>9.0f} {r.ratio_to_echo:>7.2f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} "
            f"{r.p99_ms:>8.1f} {r.ok:>8} {r.refused:>8} {r.failed:>7}"
        )
        for rpc, figures in r.by_rpc.items():  # latency by RPC, under a scenario that mixes several
            lines.append(
                f"  {rpc:<14} {'':>9} {figures['p50_ms']:>8.1f} {figures['p95_ms']:>8.1f} {figures['p99_ms']:>8.1f}  "
                f"({figures['calls']} calls started)"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="echo,owner-echo,sell,counter,rush,mixed,gate,refund")
    parser.add_argument("--stock", type=int, default=STOCK, help="tickets sold beforehand for each of gate and refund")
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--workers", type=int, default=1, help="gateway processes of the server started (keyun serve --workers)"
    )
    parser.add_argument(
        "--shards", type=int, help="trip owners of the server started (default: keyun serve's, one per 4 CPUs)"
    )
    parser.add_argument(
        "--share-session",
        action="store_true",
        help="start the server in this session, so the kernel schedules its threads and the client's as equals (see "
        "BENCHMARKS.md)",
    )
    parser.add_argument(
        "--no-reports",
        dest="reports",
        action="store_false",
        help="start the server without the report projector (keyun serve --no-reports); with it (the default), "
        "its lag is sampled during each scenario",
    )
    parser.add_argument("--target", help="an already running Keyun (it must not hold the bench trips yet)")
    parser.add_argument("--ca", type=Path, help="the station CA (ca.pem) of a TLS --target (default: env KEYUN_CA)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if args.ca:
        os.environ[CA_ENV] = str(args.ca)
    elif not args.target:
        os.environ.pop(CA_ENV, None)  # the server started here is plain text on loopback
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    if "echo" not in names:
        names.insert(0, "echo")  # every figure is a ratio to it
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        process, target = (
            (None, args.target)
            if args.target
            else start_server(
                data_dir, args.workers, own_session=not args.share_session, shards=args.shards, reports=args.reports
            )
        )
        shards = None if args.target else recorded_shards(data_dir)
        try:
            trip_ids, date = prepare(target)
            results = []
            lags: dict[str, dict] = {}
            stock = {
                name: boarding_stock(target, f"{name[0].upper()}S", args.stock)
                for name in names
                if name in ("gate", "refund")
            }
            for name in names:
                print(
                    f"running {name}: {args.concurrency} concurrent calls for {args.seconds:.0f} s ...",
                    file=sys.stderr,
                    flush=True,
                )
                sampling = LagSampler(target) if args.reports and not args.target else contextlib.nullcontext()
                with sampling:
                    results.append(
                        run_scenario(
                            name,
                            target,
                            args.concurrency,
                            args.processes,
                            args.seconds,
                            trip_ids,
                            date,
                            stock.get(name, []),
                            seed=1000 * len(results),
                        )
                    )
                if isinstance(sampling, LagSampler):
                    lags[name] = sampling.summary()
        finally:
            if process is not None:
                stop_server(process)
    echo = next(r for r in results if r.scenario == "echo")
    for r in results:
        r.ratio_to_echo = r.throughput / echo.throughput if echo.throughput else 0.0
    print(table(results))
    for name, lag in lags.items():
        print(
            f"report projector, {name}: at most {lag['max_records_behind']} log records and "
            f"{lag['max_seconds_behind']} s behind; caught up {lag['caught_up_after_s']} s after the load stopped"
        )
    for warning in filter(None, (stock_warning(r, args.seconds, args.stock) for r in results)):
        print(f"warning: {warning}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = {
        "machine": machine(),
        "concurrency": args.concurrency,
        "processes": args.processes,
        "seconds": args.seconds,
        "gateway_workers": args.workers,
        "shards": shards,
        "server_session": "shared" if args.share_session else "own",
        "reports": args.reports and not args.target,
        "report_lag": lags,
        "results": [asdict(r) for r in results],
    }
    (args.out / f"load-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    write_chart(args.out / f"load-{stamp}.svg", results)
    print(f"wrote {args.out}/load-{stamp}.json and .svg", file=sys.stderr)


if __name__ == "__main__":
    main()
