"""What one batch costs the gateway process: Ray pickling the batch itself, against codec batches.

    python -m bench.batches [--batch 8] [--in-flight 4] [--seconds 5]

One Ray actor answers every sale of a batch with a real sale's reply (a ticket with its trip and
stops).  The caller keeps `--in-flight` batches going from one asyncio loop, as the gateway does
with one batch per owner, first sending the list of commands as Ray call arguments (Ray pickles
them through cloudpickle), then as one blob of the engine's codec (actors/packed.py).  It
reports batches per second and the calling process's CPU per batch, all of its threads counted.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import ray

from keyun.actors.packed import PackedBatches, pack, unpack_replies
from keyun.actors.ray_runtime import start_ray
from keyun.common.platform import install_event_loop_policy
from keyun.engine import commands as cmd
from keyun.engine.policy import Policy
from keyun.engine.shard import ShardEngine

from .replay import START, trip_spec


@ray.remote(num_cpus=0)
class Answering:
    """Replies to every item with the same reply, so only the crossing is measured."""

    def __init__(self, reply):
        self.reply = reply

    def apply(self, batch: list) -> list:
        return [self.reply] * len(batch)

    def apply_packed(self, blob: bytes) -> bytes:
        return pack(self.apply(PackedBatches.unpack_calls(blob)))


async def measure(actor, batch: list, packed: bool, in_flight: int, seconds: float) -> tuple[float, float]:
    """(batches per second, CPU seconds of this process per batch)."""

    async def one() -> None:
        if packed:
            unpack_replies(await actor.apply_packed.remote(pack(batch)))
        else:
            await actor.apply.remote(batch)

    for _ in range(50):  # warm up
        await one()
    done = 0
    cpu_at, wall_at = time.process_time(), time.perf_counter()

    async def keep_sending() -> None:
        nonlocal done
        while time.perf_counter() - wall_at < seconds:
            await one()
            done += 1

    await asyncio.gather(*(keep_sending() for _ in range(in_flight)))
    return done / (time.perf_counter() - wall_at), (time.process_time() - cpu_at) / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="sales per batch")
    parser.add_argument("--in-flight", type=int, default=4, help="batches in flight at once")
    parser.add_argument("--seconds", type=float, default=5.0, help="per variant")
    args = parser.parse_args()
    engine = ShardEngine(Policy())
    engine.execute([cmd.ScheduleTrip("s1", trip_spec(1))], START)
    sales = [cmd.Sell(uuid.uuid4().hex, "B1-20300102", "S1", "S2", (), 1) for _ in range(args.batch)]
    replies, _ = engine.execute(sales, START + 1)
    install_event_loop_policy()
    start_ray(Path(tempfile.mkdtemp(prefix="keyun-bench-ray-")), cpus=2)
    actor = Answering.remote(replies[0])
    print(f"{args.batch} sales per batch, {args.in_flight} batches in flight, {args.seconds:.0f} s each")
    for name, packed in (("Ray pickles the batch", False), ("codec batch", True)):
        rate, cpu = asyncio.run(measure(actor, sales, packed, args.in_flight, args.seconds))
        print(f"{name:<22} {rate:>7.0f} batches/s  {1000 * cpu:.2f} ms CPU per batch")


if __name__ == "__main__":
    main()
