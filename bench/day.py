"""A station's day at speed: 100,000 mixed transactions, timed, then a crash, then every sale checked.

    python -m bench.day [--transactions 100000] [--concurrency 1000] [--out bench/results]

Starts `keyun serve --demo` as bench.load does (embedded Ray, durable trip owners, authentication and
audit on) and runs the mixed scenario (50 % searches, 10 % seat maps, 40 % sales) from one client
process with `concurrency` calls in flight until `transactions` calls have been answered.  Then it
kills the whole server with SIGKILL (gateway, Ray and owners together: nothing gets to flush),
restarts it on the same data directory, and checks every sale the client was told succeeded:

- **lost acknowledgements:** each acknowledged ticket must come back from `Sales/GetTicket` with
  the trip, seat and stops it was sold with, still sold;
- **oversell:** no two acknowledged tickets may hold the same seat of the same trip on an
  overlapping stretch of the route;
- **audit:** every acknowledged sale must have its audit record (`Audit/ListRecords`, read as
  the demo station's audit administrator): per trip, at least as many `Sales/Sell` records with
  outcome OK as sales acknowledged.

Prints the figures, and writes JSON and an SVG chart of calls answered per second to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc

from keyun.engine.limits import MAX_PAGE_SIZE
from keyun.persistence.layout import recorded_shards
from keyun.v1 import sales_pb2, sales_pb2_grpc

from . import load
from .chart import write_timeline

PROGRESS_EVERY = 10_000
TARGET_S = 60.0  # issue 4: a day's 100,000 transactions in under a minute
AUDITOR = "auditor"  # the demo station's audit administrator (keyun serve --demo)
CHECK_CONCURRENCY = 200
KILL_WAIT_S = 30.0


@dataclass(frozen=True)
class Sale:
    """What the client was told it bought."""

    ticket_id: str
    trip_id: str
    seat: str
    from_stop: str
    to_stop: str

    @classmethod
    def of(cls, ticket) -> Sale:
        """A Ticket message as a Sale, to compare what was acknowledged with what is held."""
        return cls(
            ticket.ticket_id, ticket.trip.trip_id, ticket.seat_number, ticket.from_stop.code, ticket.to_stop.code
        )


@dataclass
class Day:
    transactions: int
    seconds: float
    ok: int
    refused: int
    failed: int
    sales_acknowledged: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    restart_seconds: float = 0.0
    tickets_checked: int = 0
    lost: int = 0
    oversold: int = 0
    unaudited: int = 0


def oversold(sales: list[Sale]) -> list[tuple[Sale, Sale]]:
    """Pairs of sales holding one seat of one trip on overlapping stretches (stops as in load.STOPS)."""
    stretches: dict[tuple[str, str], list[tuple[int, int, Sale]]] = {}
    for sale in sales:
        stretch = (load.STOPS.index(sale.from_stop), load.STOPS.index(sale.to_stop), sale)
        stretches.setdefault((sale.trip_id, sale.seat), []).append(stretch)
    clashes = []
    for held in stretches.values():
        held.sort(key=lambda s: s[0])
        for (_, end, earlier), (start, _, later) in zip(held, held[1:]):
            if start < end:
                clashes.append((earlier, later))
    return clashes


async def run_day(
    target: str, transactions: int, concurrency: int, trip_ids: list[str], date: str, metadata: tuple
) -> tuple[Day, list[Sale], list[float]]:
    """Mixed calls until `transactions` have been answered; the sales acknowledged, and when each call ended."""
    channels = [load.open_channel(target) for _ in range(load.CLIENT_CHANNELS)]
    stubs = {name: [make(c) for c in channels] for name, make in load.STUBS.items()}
    scenario = load.Scenario("mixed", stubs, trip_ids, date, random.Random(0), [])
    counts = {"ok": 0, "refused": 0, "failed": 0}
    sales: list[Sale] = []
    latencies: list[float] = []
    ended_at: list[float] = []
    started_calls = 0
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def task(n: int) -> None:
        nonlocal started_calls
        while started_calls < transactions:
            started_calls += 1
            rpc, request = scenario.next_call(n % load.CLIENT_CHANNELS)
            started = loop.time()
            try:
                reply = await rpc(request, timeout=30, metadata=metadata)
                counts["ok"] += 1
                if isinstance(request, sales_pb2.SellRequest):
                    sales.extend(Sale.of(ticket) for ticket in reply.tickets)
            except grpc.aio.AioRpcError as error:
                counts["refused" if error.code() in load.BUSINESS_CODES else "failed"] += 1
            now = loop.time()
            latencies.append(now - started)
            ended_at.append(now - began)
            if len(ended_at) % PROGRESS_EVERY == 0:
                print(
                    f"  {len(ended_at):,} of {transactions:,} transactions answered ({now - began:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )

    await asyncio.gather(*(task(n) for n in range(concurrency)))
    for channel in channels:
        await channel.close()
    latencies.sort()
    day = Day(
        transactions,
        max(ended_at, default=0.0),
        counts["ok"],
        counts["refused"],
        counts["failed"],
        len(sales),
        **load.percentiles(latencies),
    )
    return day, sales, ended_at


async def lost_sales(target: str, sales: list[Sale], metadata: tuple) -> list[Sale]:
    """The acknowledged sales the server does not hold as sold, exactly as acknowledged."""
    channel = load.open_channel(target)
    tickets = sales_pb2_grpc.SalesStub(channel)
    pending = iter(sales)
    lost: list[Sale] = []
    checked = 0

    async def checker() -> None:
        nonlocal checked
        for sale in pending:
            try:
                ticket = (
                    await tickets.GetTicket(
                        sales_pb2.GetTicketRequest(ticket_id=sale.ticket_id), timeout=60, metadata=metadata
                    )
                ).ticket
                if Sale.of(ticket) != sale or ticket.status != load.TICKET_SOLD:
                    lost.append(sale)
            except grpc.aio.AioRpcError:
                lost.append(sale)
            checked += 1
            if checked % PROGRESS_EVERY == 0:
                print(f"  {checked:,} of {len(sales):,} tickets checked", file=sys.stderr, flush=True)

    await asyncio.gather(*(checker() for _ in range(CHECK_CONCURRENCY)))
    await channel.close()
    return lost


def audit_reader(target: str):
    """A client logged in as the demo station's audit administrator (password and TOTP code)."""
    from keyun.gateway.credentials import totp_code
    from keyun.gateway.demo_accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET
    from keyun.terminals.client import KeyunClient

    auditor = KeyunClient(target, deadline_s=120)
    auditor.login(AUDITOR, DEMO_PASSWORD, totp_code(DEMO_TOTP_SECRET, time.time_ns() // 1_000_000))
    return auditor


def unaudited_sales(auditor, sales: list[Sale], since_ms: int) -> int:
    """How many acknowledged sales lack an audit record: per trip, sales acknowledged less
    `Sales/Sell` records with outcome OK since `since_ms` (each sale here is one call for one
    seat).  `auditor`: a client logged in with the audit_admin role."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from keyun.v1 import audit_pb2, audit_pb2_grpc

    since = Timestamp()
    since.FromMilliseconds(since_ms)
    recorded: Counter[str] = Counter()
    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    token = ""
    while True:
        page = auditor.call(
            audit.ListRecords,
            audit_pb2.ListRecordsRequest(
                action="keyun.v1.Sales/Sell",
                outcome=audit_pb2.AUDIT_OUTCOME_OK,
                since=since,
                page_size=MAX_PAGE_SIZE,
                page_token=token,
            ),
        )
        recorded.update(record.target for record in page.records)
        token = page.next_page_token
        if not token:
            break
    return sum((Counter(sale.trip_id for sale in sales) - recorded).values())


def crash(process) -> None:
    """SIGKILL the server's whole process group (gateway, Ray, owners) and wait until it is gone."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    give_up = time.monotonic() + KILL_WAIT_S
    while time.monotonic() < give_up:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise SystemExit("the killed server's processes did not go away")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    if args.transactions < 1 or args.concurrency < 1:
        parser.error("--transactions and --concurrency must be at least 1")
    os.environ.pop(load.CA_ENV, None)  # the server started here is plain text on loopback
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        process, target = load.start_server(data_dir, workers=1)
        try:
            trip_ids, date = load.prepare(target)
            began_ms = time.time_ns() // 1_000_000
            print(
                f"running the mixed scenario for {args.transactions:,} transactions, {args.concurrency} in flight ...",
                file=sys.stderr,
                flush=True,
            )
            day, sales, ended_at = asyncio.run(
                run_day(target, args.transactions, args.concurrency, trip_ids, date, load.access_metadata(target))
            )
            print("killing the server (SIGKILL) and restarting it on the same data ...", file=sys.stderr, flush=True)
            crash(process)
            restarted = time.monotonic()
            process, target = load.start_server(data_dir, workers=1)
            day.restart_seconds = time.monotonic() - restarted
            print(f"checking the {len(sales):,} acknowledged sales ...", file=sys.stderr, flush=True)
            lost = asyncio.run(lost_sales(target, sales, load.access_metadata(target)))
            print("checking their audit records ...", file=sys.stderr, flush=True)
            with audit_reader(target) as auditor:
                day.unaudited = unaudited_sales(auditor, sales, began_ms)
            shards = recorded_shards(data_dir)
        finally:
            load.stop_server(process)
    day.tickets_checked, day.lost, day.oversold = len(sales), len(lost), len(oversold(sales))
    print(report(day))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"day-{stamp}.json").write_text(
        json.dumps(
            {"machine": load.machine(), "concurrency": args.concurrency, "shards": shards, **asdict(day)}, indent=2
        )
        + "\n"
    )
    write_timeline(
        args.out / f"day-{stamp}.svg",
        ended_at,
        f"{day.transactions:,} mixed transactions: calls answered per second",
        TARGET_S if day.transactions == 100_000 else None,
    )
    print(f"wrote {args.out}/day-{stamp}.json and .svg", file=sys.stderr)
    if day.lost or day.oversold or day.unaudited:
        raise SystemExit(
            f"{day.lost} acknowledged sales lost, {day.oversold} seats oversold, {day.unaudited} sales without an "
            "audit record"
        )


def report(day: Day) -> str:
    rate = day.transactions / day.seconds if day.seconds else 0.0
    return "\n".join(
        [
            f"{day.transactions:,} transactions in {day.seconds:.1f} s ({rate:,.0f}/s): {day.ok:,} ok, {day.refused:,} "
            f"refused, {day.failed:,} failed",
            f"latency ms: p50 {day.p50_ms:.0f}, p95 {day.p95_ms:.0f}, p99 {day.p99_ms:.0f}",
            f"after SIGKILL and a restart ({day.restart_seconds:.1f} s to listening): {day.tickets_checked:,} "
            "acknowledged sales checked, "
            f"{day.lost} lost, {day.oversold} seats oversold, {day.unaudited} without an audit record",
        ]
    )


if __name__ == "__main__":
    main()
