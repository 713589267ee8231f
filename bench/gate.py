"""A gate lane's decision time, offline and online: from the scanned line to the answer.

    python -m bench.gate [--scans 400] [--server HOST:PORT --user inspector] [--json FILE]

Offline: a lane (keyun.terminals.gate_lane.Lane, its journal in a temporary directory) holding
the boarding sets of 10 trips of 45 tickets, deciding alone: the credential verified (Ed25519),
the local checks (terminals/boarding_core.py), and the scan journaled in sqlite with
synchronous=FULL (an fsync) before the answer.  Each scan is a different ticket's credential, so
every one passes and is written.

Online (with --server, a running `keyun serve --demo`; the password from KEYUN_PASSWORD): the
same lane deciding through Gate/CheckIn.  It sells four tickets on the demo's shuttle boarding at
SJZ now (as `master`) and scans their credentials `--scans` times in turn: each first scan checks
a ticket in, the others are refused by the server; every one is a round trip and a journal write.

Prints p50, p99 and max in milliseconds.  Figures go to BENCHMARKS.md as measured; no test
asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keyun.common import eticket
from keyun.terminals import boarding_core as core
from keyun.terminals.client import KeyunClient
from keyun.terminals.gate_lane import Journal, Lane


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "scans": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def offline(scans: int, directory: Path) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    key_id = eticket.key_id_of(key.public_key())
    now = int(time.time())
    lane = Lane("G1", "SJZ", Journal(directory), KeyunClient("127.0.0.1:9"), lambda client: None)
    lane.online = False  # never asks the server: the address above is never dialled
    lane.state.public_keys = {key_id: key.public_key()}
    lane.state.digest_key = bytes(32)
    credentials = []
    for n in range(scans):
        trip_id, ticket_id = f"S{n % 10:04d}-20300101", f"S{n % 10:04d}-20300101-{n:04d}"
        lane.state.entries[ticket_id] = core.Entry(ticket_id, trip_id, str(n % 45 + 1), "SJZ", "SJZY", now + 1800)
        boarding = eticket.BoardingPass(
            1, key_id, ticket_id, trip_id, "2030-01-01", "SJZ", "SJZY", str(n % 45 + 1), "full",
            now + 1800, now - 3600, now + 90_000, "吴**", bytes(16),
        )  # fmt: skip
        credentials.append(eticket.sign(boarding, key))
    return percentiles(timed(lane, credentials))


def timed(lane: Lane, scans: list[str], expect_pass: bool = True) -> list[float]:
    samples = []
    for text in scans:
        start = time.perf_counter()
        decision = lane.scan(text)
        samples.append(time.perf_counter() - start)
        assert decision.passed or not expect_pass, decision
    return samples


def online(scans: int, server: str, user: str, directory: Path) -> dict[str, float]:
    """A few tickets sold on the boarding shuttle, each scanned again and again: the first scan of
    each checks it in, the later ones are refused ALREADY_CHECKED_IN by the server; both are an
    online decision (one Gate/CheckIn)."""
    password = os.environ["KEYUN_PASSWORD"]
    seller = KeyunClient(server)
    seller.login("master", password)
    now = time.time()
    trip = next(t for t in seller.boarding_trips("SJZ").trips if 120 <= t.departs_at.seconds - now <= 3600)
    codes = [stop.code for stop in trip.trip.stops]
    sold = seller.sell(trip.trip.trip_id, "SJZ", codes[codes.index("SJZ") + 1], seat_count=4)
    credentials = [ticket.credential for ticket in sold.tickets]
    lane = Lane("G1", "SJZ", Journal(directory), KeyunClient(server, attempts=1), lambda c: c.login(user, password))
    lane.sync()
    samples = timed(lane, [credentials[n % len(credentials)] for n in range(scans)], expect_pass=False)
    assert lane.online, "the lane went offline during the run"
    return percentiles(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=400)
    parser.add_argument("--server", help="a running `keyun serve --demo`, for the online figures")
    parser.add_argument("--user", default="inspector")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result: dict[str, object] = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs".strip(),
        "python": platform.python_version(),
        "load_1min": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as directory:
        result["offline"] = offline(args.scans, Path(directory) / "offline")
        if args.server:
            result["online"] = online(args.scans, args.server, args.user, Path(directory) / "online")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
