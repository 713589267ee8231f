"""The gateway's side of the owners: which shard owns a trip, and one batcher per shard.

This module is the gateway's one boundary to Ray and to keyun.actors: the rest of the gateway
holds owner handles and calls them through Batcher, `call_owner` and `scrape_metrics`.

Natural batching: each shard has at most one batch in flight; calls that arrive meanwhile wait in a
bounded queue and go together in the next batch.  No timers, so an idle system answers at once and
a busy one batches more.

Each send of a batch carries the gateway clock's now: the owner applies the batch at that time
(see actors/trip_shard.py), so the owners keep the time of the gateway's one clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray

from keyun.actors.account_shard import RemoteAccountShard
from keyun.actors.audit_log import audit_actor, audit_actor_name
from keyun.actors.packed import pack, unpack_replies, unpack_several_replies
from keyun.actors.ray_runtime import RAY_NAMESPACE
from keyun.actors.report_projector import RemoteReportProjector
from keyun.actors.trip_shard import RemoteTripShard
from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine import codec
from keyun.engine.accounts import AccountRules
from keyun.engine.limits import MAX_BATCH
from keyun.engine.policy import Policy

if TYPE_CHECKING:  # errors imports owners, and metrics imports errors
    from .metrics import GatewayMetrics

log = logging.getLogger("keyun.gateway")

# Calls waiting for one shard beyond this are refused with RESOURCE_EXHAUSTED: at ~100k commands/s
# per shard this is a tenth of a second of work, so a client waiting longer is better told to retry.
MAX_QUEUE_PER_SHARD = 10_000


class Overloaded(Exception):
    """The shard's queue is full."""


class OwnerUnavailable(Exception):
    """The owner stayed down longer than OWNER_RESTART_WAIT_S; the call may or may not have run."""


class ShardCountMismatch(Exception):
    """The owners found by name were made for another --shards than this gateway's."""


class OwnerFailed(Exception):
    """The owner call failed for a reason other than the owner dying: a bug to investigate."""


# How long a batch keeps being retried while its owner restarts and recovers.  Retrying is safe:
# the owner answers commands it already applied from its idempotency window.
OWNER_RESTART_WAIT_S = 30.0
FIRST_RETRY_DELAY_S = 0.05
MAX_RETRY_DELAY_S = 1.0


def shard_of(trip_id: str, shards: int) -> int:
    """Stable across processes and restarts, unlike hash()."""
    return zlib.crc32(trip_id.encode()) % shards


# What the audit owner answers a batch: each record's sequence number.
AUDIT_SEQS = codec.decoder(list[int])


class Batcher:
    def __init__(
        self,
        actor: Any,
        metrics: GatewayMetrics | None = None,
        clock: Clock = SYSTEM_CLOCK,
        unpack: Callable[[bytes], list] = unpack_replies,
    ):
        """`unpack`: decodes the owner's replies to a batch (actors/packed.py)."""
        self.actor = actor
        self.unpack = unpack
        self.metrics = metrics
        self.clock = clock
        self.waiting: list[tuple[Any, asyncio.Future, float]] = []
        self.draining: asyncio.Task | None = None
        self.batches = 0  # batches sent, for tests and metrics
        self.retries = 0  # batches resent after the owner died
        self.owner_down = False  # while a batch is being resent: the owner is dead or recovering
        self.owner_back_at = 0.0  # loop time when a resent batch last got through

    def queue_depth(self) -> int:
        return len(self.waiting)

    async def submit(self, item: Any) -> Any:
        if len(self.waiting) >= MAX_QUEUE_PER_SHARD:
            raise Overloaded()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append((item, future, loop.time()))
        if self.draining is None:
            self.draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                live = [(item, future) for item, future, _ in batch if not future.cancelled()]  # callers gone: drop
                if self.metrics is not None:
                    now = asyncio.get_running_loop().time()
                    for _, _, queued_at in batch:
                        self.metrics.queue_wait_seconds.observe(now - queued_at)
                    self.metrics.batch_items.observe(len(live))
                if live:
                    await self._send(live)
        finally:
            self.draining = None

    async def _send(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        """Send a batch; while its owner is down, resend the same batch until it answers."""
        self.batches += 1
        try:
            packed = pack([item for item, _ in batch])
        except Exception as error:  # never leave callers waiting on a batch that cannot be sent
            _fail(batch, OwnerFailed(repr(error)))
            return
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + OWNER_RESTART_WAIT_S
        delay_s = FIRST_RETRY_DELAY_S
        sent_at = loop.time()
        while True:
            try:
                replies = self.unpack(await self.actor.apply_packed.remote(packed, self.clock.now_ms()))
                break
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as error:
                if loop.time() > give_up_at:
                    _fail(batch, OwnerUnavailable(str(error)))  # owner_down stays set: health shows it
                    return
                self.retries += 1
                self.owner_down = True
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, MAX_RETRY_DELAY_S)
            except Exception as error:  # never leave callers waiting on a batch that cannot answer
                _fail(batch, OwnerFailed(repr(error)))
                return
        if self.owner_down:
            self.owner_down, self.owner_back_at = False, loop.time()
        if self.metrics is not None:
            self.metrics.owner_call_seconds.observe(loop.time() - sent_at)
        for (_, future), reply in zip(batch, replies, strict=True):
            if not future.done():
                future.set_result(reply)


def accounts_batcher(actor: Any, metrics: GatewayMetrics, clock: Clock) -> Batcher:
    """The accounts owner's batcher: SetUp and TouchSessions answer with several replies."""
    return Batcher(actor, metrics, clock, unpack=unpack_several_replies)


def audit_batcher(actor: Any, metrics: GatewayMetrics, clock: Clock) -> Batcher:
    """The audit owner's batcher: it answers each record's sequence number."""
    return Batcher(actor, metrics, clock, unpack=AUDIT_SEQS)


def _fail(batch: list[tuple[Any, asyncio.Future]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


def owner_options(detached: bool = False, owner_resource: str | None = None) -> dict[str, Any]:
    """Ray options every owner actor shares: found by name, so several gateways share one owner."""
    options: dict[str, Any] = {"namespace": RAY_NAMESPACE, "get_if_exists": True}
    if detached:
        options["lifetime"] = "detached"
    if owner_resource:
        # Owners must run where their data directory is: only nodes that advertise this custom
        # resource (`ray start --resources '{"keyun_owner": 64}'`) qualify.
        options["resources"] = {owner_resource: 1}
    return options


def accounts_owner(
    instance: str,
    data_dir: Path,
    rules: AccountRules,
    detached: bool = False,
    owner_resource: str | None = None,
    audit_name: str | None = None,
) -> Any:
    """`audit_name`: the audit owner the accounts owner sends the audit records it journals to."""
    return RemoteAccountShard.options(name=accounts_name(instance), **owner_options(detached, owner_resource)).remote(
        str(data_dir.resolve()), rules, audit_name
    )


def accounts_name(instance: str) -> str:
    return f"{instance}-accounts"


def trip_owner_name(instance: str, shard_no: int) -> str:
    return f"{instance}-trip-shard-{shard_no}"


def running_pool_size(instance: str, at_most: int = 4096) -> int:
    """How many trip owners of this instance run already, found by name (0 for none yet).  A
    gateway that joins them with another count must not create owners for shards they lack: an
    owner makes its data directory when it starts, and a directory more than the manifest names
    would make the data directory's next backup unrestorable."""
    size = 0
    while size < at_most:
        try:
            ray.get_actor(trip_owner_name(instance, size), namespace=RAY_NAMESPACE)
        except ValueError:  # no actor of that name
            break
        size += 1
    return size


def mismatch(found: int | str, shards: int) -> str:
    return (
        f"the trip owners were started as a pool of {found} shards, and this gateway with --shards {shards}: "
        "start it with the owners' count (every gateway must pass the same --shards)"
    )


class OwnerPool:
    """The fixed pool of TripShard actors, found by name so several gateways share them."""

    def __init__(
        self,
        instance: str,
        shards: int,
        policy: Policy,
        data_dir: Path,
        check_invariants: bool = False,
        detached: bool = False,
        metrics: GatewayMetrics | None = None,
        owner_resource: str | None = None,
        audit_name: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ):
        """`audit_name`: the audit owner the trip owners send the audit records they journal to;
        they read the station rules scheduled at runtime from the accounts owner (accounts_name).
        Raises ShardCountMismatch, before creating any owner, if owners of another pool size
        already run under these names."""
        found = running_pool_size(instance)
        if found and found != shards:
            raise ShardCountMismatch(mismatch(found, shards))
        options = owner_options(detached, owner_resource)
        self.actors = [
            RemoteTripShard.options(name=trip_owner_name(instance, n), **options).remote(
                n, policy, str(data_dir.resolve()), check_invariants, audit_name, shards, accounts_name(instance)
            )
            for n in range(shards)
        ]
        self.batchers = [Batcher(actor, metrics, clock) for actor in self.actors]

    async def ready(self) -> list[dict]:
        """Wait until every owner has recovered; return what each reports.  Raises
        ShardCountMismatch if the owners were made for another pool size: a trip goes to shard
        crc32(trip_id) % shards, so two counts would route one trip to two owners."""
        reports = list(await asyncio.gather(*(actor.ready.remote() for actor in self.actors)))
        counts = {report.get("shards") for report in reports} - {0, None}  # 0: made before owners knew
        if counts - {len(self.actors)}:
            raise ShardCountMismatch(mismatch(" and ".join(map(str, sorted(counts))), len(self.actors)))
        return reports

    async def snapshot(self) -> list[int]:
        return list(await asyncio.gather(*(actor.snapshot.remote() for actor in self.actors)))

    async def send_station_rules(self, view: Any) -> None:
        """Every trip owner gets the station rules scheduled at runtime (engine/station_rules.py)."""
        await call_owner(asyncio.gather(*(actor.station_rules.remote(view) for actor in self.actors)))

    def owner_of(self, trip_id: str) -> Batcher:
        return self.batchers[shard_of(trip_id, len(self.batchers))]

    async def submit(self, item: Any) -> Any:
        """Send a command or query to the owner of its trip."""
        return await self.owner_of(item.trip_id).submit(item)

    async def ask_all(self, item: Any) -> list[Any]:
        """Send a query to every owner (searches span all trips)."""
        return list(await asyncio.gather(*(batcher.submit(item) for batcher in self.batchers)))

    def kill(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)


async def audit_flushed(owners: list) -> None:
    """Wait until the audit owner has every audit record these owners (trip shards, accounts)
    journaled."""
    flushed = await call_owner(asyncio.gather(*(actor.audit_flushed.remote() for actor in owners)))
    if not all(flushed):
        raise OwnerUnavailable("an owner could not hand its audit records to the audit owner in time")


async def call_owner(call: Any) -> Any:
    """A direct (unbatched) call to an owner, its death reported as every owner's is."""
    try:
        return await call
    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as error:
        raise OwnerUnavailable(str(error)) from None


def scrape_metrics(actors: list, timeout_s: float) -> list[list | None]:
    """Each owner's own metric families, None for an owner that did not answer within `timeout_s`
    (all of them together)."""
    refs = [actor.metrics.remote() for actor in actors]
    results: list[list | None] = []
    deadline = time.monotonic() + timeout_s
    for ref in refs:
        try:
            results.append(ray.get(ref, timeout=max(0.0, deadline - time.monotonic())))
        except (ray.exceptions.RayError, TimeoutError) as error:
            log.warning("an owner did not answer the metrics scrape: %s", error)
            results.append(None)
    return results


def device_summary(accounts_actor: Any, now_ms: int, timeout_s: float) -> dict | None:
    """The accounts owner's device counts at `now_ms` (AccountShard.device_summary), None if it did
    not answer within `timeout_s`."""
    try:
        return ray.get(accounts_actor.device_summary.remote(now_ms), timeout=timeout_s)
    except (ray.exceptions.RayError, TimeoutError) as error:
        log.warning("the accounts owner did not answer the device metrics: %s", error)
        return None


def report_projector(
    instance: str,
    data_dir: Path,
    key_dir: Path,
    detached: bool = False,
    owner_resource: str | None = None,
    authority: tuple[str, Path] | None = None,
) -> Any:
    """The report projector of `data_dir` (actors/report_projector.py): found by name, or started.
    It runs where the owners' data directory is, as they do.  With `authority` (the platform's URL
    and the key file), it also uploads to the transport authority (docs/authority.md): the key
    file's path crosses to it, never the key."""
    return RemoteReportProjector.options(name=f"{instance}-reports", **owner_options(detached, owner_resource)).remote(
        str(data_dir.resolve()),
        str(key_dir.resolve()),
        authority=(authority[0], str(authority[1].resolve())) if authority is not None else None,
    )


async def ask_reports(projector: Any, method: str, *args: Any) -> Any:
    """A call to the report projector, awaited without blocking the event loop (its DuckDB query
    runs in its own process); its death is reported as an owner's is."""
    return await call_owner(getattr(projector, method).remote(*args))


@dataclass
class Owners:
    """Every owner actor of a station: trip shards, accounts, audit log; and the report projector
    reading their logs, None when reports are off."""

    pool: OwnerPool
    accounts: Any
    audit: Any
    reports: Any = None

    @classmethod
    def start(
        cls,
        instance: str,
        data_dir: Path,
        shards: int,
        policy: Policy,
        account_rules: AccountRules,
        check_invariants: bool = False,
        detached: bool = False,
        metrics: GatewayMetrics | None = None,
        owner_resource: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        reports_key_dir: Path | None = None,
        authority: tuple[str, Path] | None = None,
    ) -> Owners:
        """Find or start the owners of `data_dir`, and its report projector with `reports_key_dir`
        (the station's keys: it makes the passengers' pseudonyms with them).

        The trip and accounts owners send their audit records to the audit owner.
        """
        audit_name = audit_actor_name(instance)
        pool = OwnerPool(
            instance, shards, policy, data_dir, check_invariants, detached, metrics, owner_resource, audit_name, clock
        )
        accounts = accounts_owner(instance, data_dir, account_rules, detached, owner_resource, audit_name)
        reports = (
            report_projector(instance, data_dir, reports_key_dir, detached, owner_resource, authority)
            if reports_key_dir is not None
            else None
        )
        return cls(pool, accounts, audit_actor(instance, data_dir, detached, owner_resource), reports)

    def all_actors(self) -> list:
        return [*self.pool.actors, self.accounts, self.audit, *([self.reports] if self.reports is not None else [])]

    async def audit_flushed(self) -> None:
        """Wait until the audit owner has the records the trip and accounts owners journaled."""
        await audit_flushed([*self.pool.actors, self.accounts])

    def kill(self) -> None:
        """Stop every owner actor for good (tests)."""
        for actor in self.all_actors():
            ray.kill(actor, no_restart=True)
