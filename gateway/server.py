"""The grpc.aio server: services, health, reflection; and starting Ray for it."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import grpc
import ray
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from keyun.engine.policy import Policy
from keyun.persistence import layout
from keyun.v1 import (
    catalog_pb2,
    catalog_pb2_grpc,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    dispatch_pb2,
    dispatch_pb2_grpc,
    gate_pb2,
    gate_pb2_grpc,
    sales_pb2,
    sales_pb2_grpc,
)

from .metrics import GatewayMetrics, MetricsInterceptor, OwnerCollector
from .owners import OwnerPool
from .services import CatalogService, DiagnosticsService, DispatchService, Gateway, GateService, SalesService
from .tls import CA_CERT, TlsConfig, TlsError, is_loopback, server_credentials

log = logging.getLogger("keyun.gateway")

SERVICE_NAMES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in ((catalog_pb2, "Catalog"), (sales_pb2, "Sales"), (gate_pb2, "Gate"), (dispatch_pb2, "Dispatch"), (diagnostics_pb2, "Diagnostics"))
)

# The object store only carries small batches; Ray's default reserves 30 % of RAM for it.
OBJECT_STORE_BYTES = 256 * 1024 * 1024

# How often health is brought in line with the owners' state, and how long it stays NOT_SERVING
# after an owner came back (a restart can take less than one poll; checkers should still see it,
# and a load balancer should not flap).
HEALTH_POLL_S = 0.1
HEALTH_HOLD_DOWN_S = 1.0

# Seconds in-flight calls get to finish when the server stops.
STOP_GRACE_S = 5.0

# A batch of up to MAX_BATCH commands is far below this; it guards against absurd requests.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def start_ray(address: str | None = None, cpus: int | None = None) -> None:
    """Join a Ray cluster at `address`, or start an embedded one sized for a small machine."""
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, namespace="keyun", logging_level=logging.WARNING, log_to_driver=False)
        return
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
        log_to_driver=False,
        namespace="keyun",
    )


def install_event_loop_policy() -> None:
    """uvloop where it exists (not on Windows); asyncio's own loop otherwise."""
    if sys.platform == "win32":
        return
    try:
        import uvloop
    except ImportError:
        log.info("uvloop is not installed; using the default asyncio event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class KeyunServer:
    def __init__(self, pool: OwnerPool, metrics: GatewayMetrics, utc_offset_min: int = 8 * 60, tls: TlsConfig | None = None):
        self.pool = pool
        self.tls = tls
        self.metrics = metrics
        metrics.registry.register(OwnerCollector(pool))
        self.gateway = Gateway(pool, utc_offset_min)
        self.health = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.serving = health_pb2.HealthCheckResponse.UNKNOWN
        self.health_watch: asyncio.Task | None = None

    @classmethod
    def create(
        cls, instance: str, data_dir: Path, shards: int, policy: Policy | None = None, check_invariants: bool = False,
        detached: bool = False, utc_offset_min: int = 8 * 60, owner_resource: str | None = None, tls: TlsConfig | None = None,
    ) -> KeyunServer:
        """Owners for `data_dir` (checked and prepared for `shards`) behind a new server; with
        `tls`, it serves TLS from those certificates, else plain text on loopback only."""
        layout.prepare(data_dir, shards)
        metrics = GatewayMetrics()
        pool = OwnerPool(instance, shards, policy or Policy(), data_dir, check_invariants, detached, metrics, owner_resource)
        return cls(pool, metrics, utc_offset_min, tls)

    async def start(self, host: str = "127.0.0.1", port: int = 0, reuse_port: bool = False) -> int:
        """Bind and serve; return the bound port (useful with port 0).

        Only with reuse_port may other processes bind the same port (keyun serve --workers);
        otherwise a second Keyun on a taken port fails instead of silently sharing it.
        """
        credentials = self._credentials(host)
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.so_reuseport", 1 if reuse_port else 0)]
        server = grpc.aio.server(interceptors=[MetricsInterceptor(self.metrics)], options=options)
        catalog_pb2_grpc.add_CatalogServicer_to_server(CatalogService(self.gateway), server)
        sales_pb2_grpc.add_SalesServicer_to_server(SalesService(self.gateway), server)
        gate_pb2_grpc.add_GateServicer_to_server(GateService(self.gateway), server)
        dispatch_pb2_grpc.add_DispatchServicer_to_server(DispatchService(self.gateway), server)
        diagnostics_pb2_grpc.add_DiagnosticsServicer_to_server(DiagnosticsService(), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.port = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
        await server.start()
        self.server = server
        self._log_transport(host)
        reports = await self.pool.ready()
        log.info("owners recovered: %s", ", ".join(f"shard {r['shard']}: {r['trips']} trips, {r['events_replayed']} events replayed" for r in reports))
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        self.health_watch = asyncio.create_task(self._watch_health())
        log.info("Keyun serving on %s:%d with %d trip shards", host, self.port, len(self.pool.actors))
        return self.port

    def _credentials(self, host: str) -> grpc.ServerCredentials | None:
        """TLS credentials when configured; None (plain text) only for a loopback host."""
        if self.tls is not None:
            return server_credentials(self.tls.directory, self.tls.require_client_cert)
        if not is_loopback(host):
            raise TlsError(f"plain text is only allowed on loopback, not on {host}: give the server a TLS configuration")
        return None

    def _log_transport(self, host: str) -> None:
        if self.tls is None:
            log.warning("serving plain text (no TLS) on %s: plain text is only allowed on loopback; any other address gets TLS", host)
            return
        clients = "client certificates from the station CA required" if self.tls.require_client_cert else "no client certificates"
        log.info("serving TLS on %s with the certificates in %s (%s); terminals trust %s", host, self.tls.directory, clients, self.tls.directory / CA_CERT)

    async def _set_health(self, status: int) -> None:
        self.serving = status
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def _watch_health(self) -> None:
        """NOT_SERVING while any owner is down or recovering (its batcher is resending), so load
        balancers and operators see it; SERVING again once every owner answers."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEALTH_POLL_S)
            settling = loop.time() - HEALTH_HOLD_DOWN_S
            down = any(b.owner_down or b.owner_back_at > settling for b in self.pool.batchers)
            wanted = health_pb2.HealthCheckResponse.NOT_SERVING if down else health_pb2.HealthCheckResponse.SERVING
            if wanted != self.serving:
                log.warning("health: %s", "an owner is down or recovering: NOT_SERVING" if down else "every owner answers: SERVING")
                await self._set_health(wanted)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        if self.health_watch is not None:
            self.health_watch.cancel()
            self.health_watch = None
        if self.server is not None:
            await self.server.stop(grace_s)
            self.server = None
