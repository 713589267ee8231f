"""Where the gateway's time goes under load: py-spy samples the gateway process during a scenario.

    python -m bench.profile [--scenario sell] [--seconds 10] [--concurrency 1000] [--out bench/results]

Starts `keyun serve` as bench.load does (embedded Ray, durable owners, authentication and audit on),
runs one scenario closed-loop, and once its warm-up is over samples the gateway with py-spy for
`--seconds`.  Prints the scenario's figures and the functions holding the most samples, and writes
the samples (py-spy's raw collapsed stacks) and an icicle chart (SVG: open it in a browser, hover a
box for its full name) to --out.  py-spy comes with the dev dependencies (`make test` installs them);
it needs permission to read the gateway's memory, which a process of the same user has on Linux
unless ptrace is restricted (then run as root).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import load
from .flame import read_stacks, top_functions, write_flame

SAMPLES_PER_S = 200
CLIENT_START_S = 2.0  # spawning the client processes and logging in, before their warm-up starts
# --process: the gateway, or the Ray actor class whose worker process to sample
PROCESSES = {"gateway": "", "trips": "TripShard", "accounts": "AccountShard", "audit": "AuditLog"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scenario",
        default="sell",
        choices=["echo", "owner-echo", "sell", "counter", "rush", "mixed", "gate", "refund"],
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="how long to sample (the scenario runs a little longer)"
    )
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=load.STOCK, help="tickets sold beforehand for gate and refund")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument(
        "--process",
        default="gateway",
        choices=sorted(PROCESSES),
        help="which process to sample: the gateway, or one of the Ray actors' worker processes",
    )
    parser.add_argument("--native", action="store_true", help="also sample native (C/C++) frames (py-spy --native)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy (it is among the dev dependencies)")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = args.out / f"profile-{args.scenario}-{stamp}.txt"
    with tempfile.TemporaryDirectory() as tmp:
        server, target = load.start_server(Path(tmp) / "data", workers=1)
        try:
            trip_ids, date = load.prepare(target)
            tickets = load.boarding_stock(target, "PS", args.stock) if args.scenario in ("gate", "refund") else []
            pid = server.pid if args.process == "gateway" else actor_pid(PROCESSES[args.process])
            sampler = threading.Thread(target=_sample, args=(py_spy, pid, args.seconds, raw, args.native))
            sampler.start()
            print(
                f"running {args.scenario}: {args.concurrency} concurrent calls; sampling the {args.process} (pid "
                f"{pid}) for {args.seconds:.0f} s ...",
                file=sys.stderr,
                flush=True,
            )
            result = load.run_scenario(
                args.scenario, target, args.concurrency, 1, args.seconds + CLIENT_START_S + 1.0, trip_ids, date, tickets
            )
            sampler.join()
        finally:
            load.stop_server(server)
    print(
        f"{result.scenario}: {result.throughput:.0f} calls/s, p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
        f"{result.failed} failed"
    )
    stacks = read_stacks(raw)
    if not stacks:
        raise SystemExit(f"py-spy recorded nothing (see {raw}); is ptrace allowed here?")
    total, rows = top_functions(stacks)
    print(f"\n{'inclusive':>9} {'self':>6}  function ({total} samples of the {args.process}'s threads)")
    for name, own, inclusive in rows:
        print(f"{100 * inclusive / total:>8.1f}% {100 * own / total:>5.1f}%  {name}")
    chart = raw.with_suffix(".svg")
    write_flame(chart, stacks, f"keyun {args.process} during {args.scenario}, {result.throughput:.0f} calls/s")
    print(f"\nwrote {raw} and {chart}", file=sys.stderr)


def actor_pid(actor_class: str) -> int:
    """The pid of the Ray worker process running an actor of this class (Ray titles it `ray::Class`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(f"ray::{actor_class}"):
            return int(entry.name)
    raise SystemExit(f"no Ray worker runs a {actor_class} here")


def _sample(py_spy: str, pid: int, seconds: float, raw: Path, native: bool = False) -> None:
    time.sleep(CLIENT_START_S + load.WARMUP_S)  # sample the steady state, not the start
    subprocess.run(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(SAMPLES_PER_S),
            "--format",
            "raw",
            # native frames need the process paused while its stack is read
            *(["--native"] if native else ["--nonblocking"]),
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


if __name__ == "__main__":
    main()
