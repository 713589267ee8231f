"""TripShard: the Ray actor that owns a disjoint set of trips.

Synchronous on purpose: Ray runs one method of a synchronous actor at a time, which makes the actor
the single serialization point for its trips (no locks).  Each call carries a whole batch.
"""

from __future__ import annotations

import time

import ray

from keyun.engine.policy import Policy
from keyun.engine.shard import ShardEngine


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class TripShard:
    def __init__(self, shard_no: int, policy: Policy, check_invariants: bool = False):
        self.shard_no = shard_no
        self.engine = ShardEngine(policy, check=check_invariants)

    def apply(self, batch: list) -> list:
        """Apply a batch of commands and queries stamped with one `now`; reply per item.

        The journal goes between execute and return: the next step appends the batch's entries
        and fsyncs them before any reply leaves this method.
        """
        replies, _entries = self.engine.execute(batch, wall_clock_ms())
        return replies

    def ready(self) -> int:
        return self.shard_no


# Owners must never wait for a CPU slot on a 2-core machine (DESIGN: "Ray facts"), and Ray
# restarts a crashed owner; calls are not retried by Ray itself: the gateway retries with the
# same request ids, which the owner's idempotency window makes harmless.
RemoteTripShard = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(TripShard)
