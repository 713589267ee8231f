"""Boarding credentials on one core: how many a gate verifies per second, and how many the gateway signs.

    python -m bench.credentials [--seconds 3] [--json FILE]

Everything a gate does to a scanned credential before its local look-ups (keyun.common.eticket.
verify: base64url, msgpack decode, key look-up, Ed25519 verification, validity window), and what
the gateway does per ticket in a reply (keyun.gateway.etickets.Issuer.credential: the boarding pass
built from the ticket's view and signed).  Beside them, in the same run, the bare Ed25519 verify
and sign of the same bytes (the cryptography library, OpenSSL): the figures are also ratios to
that floor, which is what stays comparable across machines.  The process is pinned to one CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keyun.common import eticket
from keyun.engine.decide import TripStatus
from keyun.engine.events import Holder
from keyun.engine.policy import Policy
from keyun.engine.state import TicketStatus
from keyun.engine.views import StopView, TicketView, TripView
from keyun.gateway.etickets import Issuer

NOW_MS = 1_800_000_000_000


class _Keys:
    """Credential keys in memory, shaped as the gateway's key source."""

    def __init__(self) -> None:
        self.signing_key = Ed25519PrivateKey.generate()
        self.current_key_id = eticket.key_id_of(self.signing_key.public_key())
        self.digest_key = bytes(32)

    def keys(self) -> tuple:
        return ()

    def public_keys(self) -> dict:
        return {self.current_key_id: self.signing_key.public_key()}

    def reload(self) -> None:
        pass

    def reload_if_changed(self) -> bool:
        return False


def ticket_view() -> TicketView:
    """A named ticket on a four-stop trip, as an owner renders it."""
    stops = tuple(StopView(code, code, NOW_MS + n * 3_600_000) for n, code in enumerate(("SJZ", "BD", "ZZ", "BJ")))
    trip = TripView(
        "K101-20270115", "K101", "R1", "石家庄—北京", "河北客运", "宇通 ZK6122", stops, TripStatus.ON_SALE, 45
    )
    holder = Holder("a1", "p1", "吴**", "RESIDENT_ID", "110105********002X", bytes(16))
    return TicketView(
        "K101-20270115-T12", trip, stops[0], stops[3], "12", 9000, TicketStatus.ISSUED, NOW_MS, 0, "", 0, 0, 0, holder
    )


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second of `work` over about `seconds` (after a short warm-up)."""
    for _ in range(200):
        work()
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while (now := time.perf_counter()) < deadline:
        for _ in range(200):
            work()
        done += 200
    return done / (now - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement and round (default 1)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="the four measurements take turns this often; the best of each counts"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})
    try:
        return _measure(args)
    finally:
        if pinned:  # as it was: a caller in the same process (a test) is not left on one CPU
            os.sched_setaffinity(0, cpus)


def _measure(args: argparse.Namespace) -> int:

    keys = _Keys()
    issuer = Issuer(keys, Policy(), 8 * 60)
    view = ticket_view()
    credential = issuer.credential(view)
    public = keys.public_keys()
    payload, signature = eticket.parse(credential)[1:]
    signed = eticket.SIGNED_LABEL + payload
    verify_key = keys.signing_key.public_key()
    now_s = NOW_MS // 1000

    work = {
        "verify_per_s": lambda: eticket.verify(credential, public, now_s),
        "ed25519_verify_per_s": lambda: verify_key.verify(signature, signed),
        "sign_per_s": lambda: issuer.credential(view),
        "ed25519_sign_per_s": lambda: keys.signing_key.sign(signed),
    }
    # Taking turns, and keeping each one's best round, so a neighbour's burst on a shared machine
    # lowers one round of one figure rather than a whole figure and its ratio.
    best = dict.fromkeys(work, 0.0)
    for _ in range(args.rounds):
        for name, call in work.items():
            best[name] = max(best[name], rate(call, args.seconds))
    results: dict = {"credential_chars": len(credential), **best}
    results["verify_vs_ed25519"] = results["verify_per_s"] / results["ed25519_verify_per_s"]
    results["sign_vs_ed25519"] = results["sign_per_s"] / results["ed25519_sign_per_s"]
    # On a shared machine the figures move with the neighbours; the ratios much less.
    results["load_average_1min"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, CPython {sys.version.split()[0]}"
    for name, value in results.items():
        print(f"{name:<24} {value:,.2f}" if isinstance(value, float) else f"{name:<24} {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
