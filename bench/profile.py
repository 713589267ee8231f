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
            sampler = threading.Thread(target=_sample, args=(py_spy, server.pid, args.seconds, raw))
            sampler.start()
            print(
                f"running {args.scenario}: {args.concurrency} concurrent calls; sampling the gateway (pid "
                f"{server.pid}) for {args.seconds:.0f} s ...",
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
    print(f"\n{'inclusive':>9} {'self':>6}  function ({total} samples of the gateway's threads)")
    for name, own, inclusive in rows:
        print(f"{100 * inclusive / total:>8.1f}% {100 * own / total:>5.1f}%  {name}")
    chart = raw.with_suffix(".svg")
    write_flame(chart, stacks, f"keyun gateway during {args.scenario}, {result.throughput:.0f} calls/s")
    print(f"\nwrote {raw} and {chart}", file=sys.stderr)


def _sample(py_spy: str, pid: int, seconds: float, raw: Path) -> None:
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
            "--nonblocking",
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


if __name__ == "__main__":
    main()
