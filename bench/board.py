"""The departure board under 1,000 screens: the web process's memory, and how long a delay takes
to reach the last screen.

    python -m bench.board --server HOST:PORT [--clients 1000] [--json FILE]

Against a running `keyun serve --demo` (the password of the demo accounts from KEYUN_PASSWORD,
else the demo's own).  It loads a one-schedule network of its own (stations BNA → BNB, leaving
today), starts `keyun web` as its own process logged in as the board device `board1`, and opens
`--clients` Server-Sent Event streams on /board/events?station=BNA from this process (aiohttp).
Once every screen has the day, it measures the web process's resident memory (VmRSS), then
delays the trip through Dispatch/DelayTrip and records, for every screen, the time from the call
to the event carrying the delay.

Prints the memory (before the screens and with them) and p50, p99 and max of the delay in
milliseconds over every screen; the last screen's is the max.  The screens and the web process
share the machine's CPUs with the server, so the figures are of the whole station on one machine.
Figures go to BENCHMARKS.md as measured; no test asserts them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from keyun.terminals.client import KeyunClient

CHINA = dt.timezone(dt.timedelta(hours=8))
STATION = "BNA"
DELAY_MIN = 17
READY_S = 120.0  # every screen has the day within this, or the run fails
ARRIVE_S = 60.0  # every screen hears of the delay within this, or the run fails

NETWORK = """
format = 1
utc_offset = "+08:00"

[[stations]]
code = "BNA"
name = "基准甲站"
[[stations]]
code = "BNB"
name = "基准乙站"

[[operators]]
id = "BENCHOP"
name = "基准客运"

[[vehicles]]
id = "coach45"
name = "45座大客"
seats = 45

[[routes]]
id = "BENCHLINE"
name = "甲—乙"
fen_per_km = 30
stops = [{{ station = "BNA", minutes = 0, km = 0 }}, {{ station = "BNB", minutes = 60, km = 80 }}]

[[schedules]]
id = "{schedule}"
route = "BENCHLINE"
operator = "BENCHOP"
vehicle = "coach45"
departs = "{departs:%H:%M}"
"""


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "screens": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def demo_password() -> str:
    if os.environ.get("KEYUN_PASSWORD"):
        return os.environ["KEYUN_PASSWORD"]
    from keyun.gateway.demo_accounts import DEMO_PASSWORD  # the demo's, as `keyun serve --demo` prints it

    return DEMO_PASSWORD


def schedule_trip(client: KeyunClient) -> str:
    """A trip leaving BNA later today (the board shows today); its trip id."""
    now = dt.datetime.now(CHINA)
    left_min = int(
        (dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), CHINA) - now).total_seconds() / 60
    )
    if left_min < 100:
        raise SystemExit("bench.board: too close to midnight (Beijing time) for a trip later today; run it again later")
    departs = now + dt.timedelta(minutes=min(180, left_min - 20))
    schedule = f"BN{random.randrange(10**6):06d}"
    client.load_network(NETWORK.format(schedule=schedule, departs=departs), departs.date().isoformat(), 1)
    return f"{schedule}-{departs:%Y%m%d}"


def start_web(server: str, folder: Path, password: str) -> tuple[subprocess.Popen, str]:
    secret = folder / "board.password"
    secret.write_text(password)
    secret.chmod(0o600)
    command = [sys.executable, "-m", "keyun.terminals.web.cli", "--server", server, "--port", "0"]
    command += ["--cookie-key", str(folder / "cookie.key"), "--device", "board", "board1", str(secret)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline().strip() if process.stdout else ""
    if not line.startswith("keyun web on "):
        process.kill()
        raise SystemExit(f"bench.board: keyun web did not start: {line!r}")
    return process, line.removeprefix("keyun web on ").split(" ")[0].rstrip("/")


class Screen:
    """One SSE client: when it had the day with the trip, and when it heard of the delay."""

    def __init__(self, trip_id: str):
        self.trip_id = trip_id
        self.ready = asyncio.Event()
        self.delayed_at = 0.0
        self.heard = asyncio.Event()

    def look(self, line: str) -> None:
        if not line.startswith("data: ") or self.trip_id not in line:
            return
        data = json.loads(line[6:])
        for departure in data.get("departures", ()):
            if departure["id"] != self.trip_id:
                continue
            self.ready.set()
            if departure["delay"] == DELAY_MIN and not self.heard.is_set():
                self.delayed_at = time.monotonic()
                self.heard.set()

    async def watch(self, session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as reply:
            reply.raise_for_status()
            async for raw in reply.content:
                self.look(raw.decode())
                if self.heard.is_set():
                    return


async def measure(web_url: str, web_pid: int, client: KeyunClient, trip_id: str, clients: int) -> dict:
    url = f"{web_url}/board/events?station={STATION}"
    screens = [Screen(trip_id) for _ in range(clients)]
    idle_mib = rss_mib(web_pid)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(screen.watch(session, url)) for screen in screens]
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in screens)), READY_S)
        connected_s = time.monotonic() - started
        with_screens_mib = rss_mib(web_pid)
        asked = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, client.delay, trip_id, DELAY_MIN)
        answered_s = time.monotonic() - asked
        await asyncio.wait_for(asyncio.gather(*(s.heard.wait() for s in screens)), ARRIVE_S)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients,
        "all_connected_s": round(connected_s, 2),
        "web_rss_mib_idle": idle_mib,
        "web_rss_mib_with_clients": with_screens_mib,
        "web_rss_kib_per_client": round((with_screens_mib - idle_mib) * 1024 / clients, 1),
        "delay_trip_call_ms": round(answered_s * 1000, 1),  # DelayTrip's own round trip, part of every figure below
        "delay_to_screen": percentiles([s.delayed_at - asked for s in screens]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="a running `keyun serve --demo` (HOST:PORT)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    password = demo_password()
    client = KeyunClient(args.server)
    client.login("master", password)
    result: dict[str, object] = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs".strip(),
        "python": platform.python_version(),
        "load_1min": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as directory:
        trip_id = schedule_trip(client)
        web, web_url = start_web(args.server, Path(directory), password)
        try:
            result.update(asyncio.run(measure(web_url, web.pid, client, trip_id, args.clients)))
        finally:
            web.terminate()
            web.wait(timeout=30)
            client.close()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
