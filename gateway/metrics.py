"""Prometheus metrics of a gateway and of the owners behind it, served on `--metrics-port`.

Gateway metrics are plain prometheus-client objects in a registry of their own (one per server,
so tests can run several).  Owner metrics live in the owner processes (keyun.actors.metrics);
a scrape asks every owner for them and adds a `shard` label.  Labels stay bounded: RPC method
names, gRPC status codes and shard numbers, never trip or ticket ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.common.gc_pauses import GC_BUCKETS
from keyun.engine.devices import DeviceKind, DeviceState

from .errors import Refused
from .owners import device_summary, scrape_metrics

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# A scrape waits at most this long for the owners' own metrics.
OWNER_SCRAPE_TIMEOUT_S = 2.0


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpcs = Counter(
            "keyun_rpc_requests_total",
            "RPCs answered, by method and gRPC status",
            ["method", "code"],
            registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "keyun_rpc_duration_seconds",
            "Time to answer an RPC, by method",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_items = Histogram(
            "keyun_gateway_batch_items",
            "Commands and queries per batch sent to an owner",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 512),
            registry=self.registry,
        )
        self.owner_call_seconds = Histogram(
            "keyun_owner_call_seconds",
            "Round trip of one batch to its owner (apply, journal, fsync)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait_seconds = Histogram(
            "keyun_owner_queue_wait_seconds",
            "Time a call waited for its owner's next batch",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.search_answers = Counter(
            "keyun_search_answers_total",
            "Search answers by source: asked of the owners, shared with an identical search in flight, or kept "
            "(--search-cache-ms)",
            ["source"],
            registry=self.registry,
        )
        self.gc_seconds = Histogram(
            "keyun_gateway_gc_seconds",
            "Pauses of the gateway's cyclic garbage collector, by generation",
            ["generation"],
            buckets=GC_BUCKETS,
            registry=self.registry,
        )
        self.tickets_sold = Counter("keyun_tickets_sold_total", "Tickets issued (one per seat)", registry=self.registry)
        self.holds = Counter("keyun_holds_total", "Holds placed", registry=self.registry)
        self.refunds = Counter("keyun_refunds_total", "Tickets refunded", registry=self.registry)
        self.check_ins = Counter("keyun_check_ins_total", "Tickets checked in", registry=self.registry)
        self.login_password_checks = Counter(
            "keyun_login_password_checks_total",
            "argon2id verifies run for logins, by whether the account exists (known, unknown)",
            ["account"],
            registry=self.registry,
        )

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics over HTTP; return the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server.server_address[1]


class OwnerCollector:
    """Queue depth and restarts per shard from the gateway's batchers, plus each owner's own metrics.
    The accounts owner is the shard "accounts"."""

    def __init__(self, pool, accounts_batcher=None):
        self.pool = pool
        self.accounts_batcher = accounts_batcher  # its actor answers metrics() too

    def _owners(self) -> list[tuple[str, object]]:
        """(shard label, batcher) of every owner scraped."""
        owners = [(str(shard), batcher) for shard, batcher in enumerate(self.pool.batchers)]
        return owners + ([("accounts", self.accounts_batcher)] if self.accounts_batcher is not None else [])

    def describe(self) -> list:
        return []  # collected fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "keyun_owner_queue_depth", "Calls waiting for an owner's next batch", labels=["shard"]
        )
        restarts = CounterMetricFamily(
            "keyun_owner_restarts", "Batches resent because their owner died and restarted", labels=["shard"]
        )
        up = GaugeMetricFamily("keyun_owner_up", "1 if the owner answered the metrics scrape", labels=["shard"])
        owners = self._owners()
        for shard, batcher in owners:
            depth.add_metric([shard], batcher.queue_depth())
            restarts.add_metric([shard], batcher.retries)
        yield depth
        yield restarts
        merged: dict[str, Metric] = {}
        for (shard, _), families in zip(
            owners, scrape_metrics([batcher.actor for _, batcher in owners], OWNER_SCRAPE_TIMEOUT_S), strict=True
        ):
            up.add_metric([shard], 0 if families is None else 1)
            for family in families or ():
                target = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for sample in family.samples:
                    target.add_sample(sample.name, {**sample.labels, "shard": shard}, sample.value)
        yield up
        yield from merged.values()


class ReportCollector:
    """The report projector's own metrics at each scrape (its lag: docs/reporting.md), and whether it
    answered (keyun_report_up)."""

    def __init__(self, projector):
        self.projector = projector

    def describe(self) -> list:
        return []  # collected fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        (families,) = scrape_metrics([self.projector], OWNER_SCRAPE_TIMEOUT_S)
        yield GaugeMetricFamily(
            "keyun_report_up",
            "1 if the report projector answered the metrics scrape",
            value=0 if families is None else 1,
        )
        yield from families or ()


class DeviceCollector:
    """The device registry at each scrape (docs/devices.md): devices by kind and state, and the age
    of the oldest scan a device holds unsynced, as the accounts owner computes them at this
    gateway's clock.  Labels are bounded: four kinds by four states, always all sixteen."""

    def __init__(self, accounts_actor, clock: Clock = SYSTEM_CLOCK):
        self.actor = accounts_actor
        self.clock = clock

    def describe(self) -> list:
        return []  # collected fresh on every scrape

    def collect(self) -> Iterator[Metric]:
        now_ms = self.clock.now_ms()
        summary = device_summary(self.actor, now_ms, OWNER_SCRAPE_TIMEOUT_S)
        if summary is None:
            return  # the owner did not answer: keyun_owner_up{shard="accounts"} says so
        devices = GaugeMetricFamily(
            "keyun_devices",
            "Registered devices by kind (gate, kiosk, handheld, counter) and state (online, offline, behind, disabled)",
            labels=["kind", "state"],
        )
        counted = {(kind, state): count for kind, state, count in summary["counts"]}
        for kind in DeviceKind:
            for state in DeviceState:
                devices.add_metric([kind.value, state.value], counted.get((kind.value, state.value), 0))
        yield devices
        oldest = summary["oldest_unsynced_ms"]
        yield GaugeMetricFamily(
            "keyun_device_oldest_unsynced_scan_age_seconds",
            "Age of the oldest scan an enabled device reported waiting in its offline queue (0: none waits)",
            value=max(0.0, (now_ms - oldest) / 1000) if oldest else 0.0,
        )


# Business counters by RPC: how many each successful reply adds.
def _counted(metrics: GatewayMetrics, method: str, response) -> None:
    if method in ("Sell", "Confirm"):
        metrics.tickets_sold.inc(len(response.tickets))
    elif method == "Hold":
        metrics.holds.inc()
    elif method == "Refund":
        metrics.refunds.inc()
    elif method == "CheckIn":
        metrics.check_ins.inc()


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every unary RPC by method and status code."""

    def __init__(self, metrics: GatewayMetrics):
        self.metrics = metrics
        self.wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        wrapped = self.wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None or handler.unary_unary is None:
                return handler
            wrapped = self.wrapped[method] = self._wrap(method.rsplit("/", 1)[-1], handler)
        return wrapped

    def _wrap(self, name: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        behavior, metrics = handler.unary_unary, self.metrics
        seconds, answered = (
            metrics.rpc_seconds.labels(name),
            metrics.rpcs.labels(name, "OK"),
        )  # looked up once, not per call

        async def timed(request, context):
            started = time.perf_counter()
            try:
                response = await behavior(request, context)
            except BaseException as error:
                seconds.observe(time.perf_counter() - started)
                metrics.rpcs.labels(name, context.code().name if context.code() is not None else "UNKNOWN").inc()
                if isinstance(error, Refused):  # the status is set on the context: grpc sends it, and no reply
                    return None
                raise
            seconds.observe(time.perf_counter() - started)
            answered.inc()
            _counted(metrics, name, response)
            return response

        return grpc.unary_unary_rpc_method_handler(
            timed, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
