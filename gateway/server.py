"""The grpc.aio server: services, health, reflection.  keyun.app.server assembles it with its owners and keys."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine import accounts as ac
from keyun.engine import commands as cmd
from keyun.engine.policy import Policy
from keyun.engine.reasons import Rejection
from keyun.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    board_pb2,
    board_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    devices_pb2,
    devices_pb2_grpc,
    diagnostics_pb2,
    diagnostics_pb2_grpc,
    dispatch_pb2,
    dispatch_pb2_grpc,
    fleet_pb2,
    fleet_pb2_grpc,
    gate_pb2,
    gate_pb2_grpc,
    handheld_pb2,
    handheld_pb2_grpc,
    notices_pb2,
    notices_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
    sales_pb2,
    sales_pb2_grpc,
    shifts_pb2,
    shifts_pb2_grpc,
    staff_pb2,
    staff_pb2_grpc,
    uploads_pb2,
    uploads_pb2_grpc,
)

from . import credentials, flow_lines
from .account_services import AccountDesk, AccountsService, AuditService, Secrets, StaffService, seal_display_names
from .auth import Auth, AuthInterceptor, SessionCache, TripDirectory
from .board_services import BoardService
from .connection_limits import DEFAULT_CONNECTION_LIMITS, ConnectionLimits
from .demo_accounts import create_demo_accounts
from .demo_network import load_demo_window
from .device_services import DevicesService
from .etickets import CredentialKeySource, Issuer
from .fleet_services import FleetService
from .funnel import FunnelRecorder
from .handheld_services import HandheldService
from .metrics import DeviceCollector, GatewayMetrics, MetricsInterceptor, OwnerCollector, ReportCollector
from .network_loader import local_today
from .notices import NoticeDesk, NoticesService
from .order_services import CounterOnly, OrderDesk, OrdersService
from .owners import (
    Overloaded,
    OwnerFailed,
    Owners,
    OwnerUnavailable,
    ShardCountMismatch,
    accounts_batcher,
    ask_reports,
    audit_batcher,
)
from .payment_desk import NotificationDesk, ProviderDesk, receiver_for
from .reflection import add_reflection
from .report_services import ReportsService
from .services import CatalogService, DiagnosticsService, DispatchService, GateService, Gateway, SalesService
from .shared_answers import SEARCH_CACHE_S, SharedAnswers
from .shift_services import CounterDesk, ShiftsService
from .sms import HttpSmsProvider
from .station_rules_services import StationRulesService, rules_in_force
from .timetable import Timetable, TimetableMetrics
from .tls import CA_CERT, CA_KEY, TlsConfig, TlsError, is_loopback, server_credentials
from .upload_services import UploadsService

log = logging.getLogger("keyun.gateway")

SERVICE_NAMES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (catalog_pb2, "Catalog"),
        (sales_pb2, "Sales"),
        (gate_pb2, "Gate"),
        (dispatch_pb2, "Dispatch"),
        (diagnostics_pb2, "Diagnostics"),
        (accounts_pb2, "Accounts"),
        (staff_pb2, "Staff"),
        (audit_pb2, "Audit"),
        (orders_pb2, "Orders"),
        (devices_pb2, "Devices"),
        (shifts_pb2, "Shifts"),
        (handheld_pb2, "Handheld"),
        (notices_pb2, "Notices"),
        (board_pb2, "Board"),
        (reports_pb2, "Reports"),
        (uploads_pb2, "Uploads"),
        (fleet_pb2, "Fleet"),
        (policy_pb2, "StationRules"),
    )
)

# How often health is brought in line with the owners' state, and how long it stays NOT_SERVING
# after an owner came back (a restart can take less than one poll; checkers should still see it,
# and a load balancer should not flap).
HEALTH_POLL_S = 0.1
HEALTH_HOLD_DOWN_S = 1.0

# How often the gateway finishes or undoes rebookings whose saga was cut off and whose tickets nobody asked for
# since (Gateway.resolve_interrupted_moves): a hold of one lasts until then, and the poll costs one
# query per owner.
MOVE_SWEEP_S = 10.0

# Seconds in-flight calls get to finish when the server stops.
STOP_GRACE_S = 5.0

# A batch of up to MAX_BATCH commands is far below this; it guards against absurd requests.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class GenericHandlersOnly:
    """A server as the generated `add_*Servicer_to_server` functions see it: every method is served
    through generic handlers, none as a registered method.

    grpcio's asyncio server (1.85) runs an accept loop per registered method beside the generic
    one, taking a call from each in turn (grpc/grpc#41796).  At saturation that serves the busiest
    method last: in the mixed bench, searches waited 1.2 s at the median while seat maps took 35 ms.
    Echo and sell also ran 13-24 % slower with registered methods (BENCHMARKS.md).  With generic
    handlers alone, calls are taken first come, first served.
    """

    def __init__(self, server: grpc.aio.Server):
        self.server = server

    def add_generic_rpc_handlers(self, handlers) -> None:
        self.server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers) -> None:
        """Ignored: the generated code registers the same handlers as generic ones too."""


class KeyunServer:
    def __init__(
        self,
        owners: Owners,
        metrics: GatewayMetrics,
        keyring: credentials.StationKeys,
        utc_offset_min: int = 8 * 60,
        tls: TlsConfig | None = None,
        password_params: credentials.HashParams = credentials.PRODUCTION_PARAMS,
        demo_accounts: bool = False,
        payments_dir: Path | None = None,
        search_cache_s: float = SEARCH_CACHE_S,
        connection_limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
        clock: Clock = SYSTEM_CLOCK,
        demo_network: bool = False,
        credential_keys: CredentialKeySource | None = None,
        policy: Policy | None = None,
        account_rules: ac.AccountRules | None = None,
        sms_dir: Path | None = None,
        funnel_sample: float = 1.0,
    ):
        """Every part that reads time reads `clock` (keyun.common.clock); the owners get its time
        with each batch."""
        pool = owners.pool
        self.clock = clock
        self.connection_limits = connection_limits
        self.searches = SharedAnswers(search_cache_s, metrics.search_answers, clock=clock)
        self.owners = owners
        self.pool = pool
        self.tls = tls
        self.metrics = metrics
        self.demo_accounts = demo_accounts
        self.demo_network = demo_network  # the demo's trips, scheduled for the advance-sale window every day
        self.setup_token: str | None = None
        self.gateway = Gateway(pool, utc_offset_min, clock=clock)
        self.accounts = accounts_batcher(owners.accounts, metrics, clock)
        self.timetable_metrics = TimetableMetrics(metrics.registry)
        # The kept network: every process loads and diffs with it; the first one rolls it daily.
        self.gateway.timetable = Timetable(self.gateway, self.accounts, self.timetable_metrics)
        self.gateway.rules_in_force = rules_in_force(self.gateway, self.accounts)
        metrics.registry.register(OwnerCollector(pool, self.accounts))
        self.account_rules = account_rules or ac.AccountRules()  # the accounts owner's: device thresholds
        metrics.registry.register(DeviceCollector(owners.accounts, clock))
        if owners.reports is not None:
            metrics.registry.register(ReportCollector(owners.reports))
        self.audit = audit_batcher(owners.audit, metrics, clock)
        signer = credentials.TokenSigner(keyring.signing_key, keyring.verify_key)
        trips = TripDirectory(lambda trip_id: pool.submit(cmd.GetTrip(trip_id)))
        self.auth = Auth(signer, SessionCache(self.accounts.submit, clock), trips, self.audit.submit, clock)
        # Searches and seat maps for behaviour analysis, sent to the report projector (gateway/funnel.py).
        self.funnel = FunnelRecorder(
            self._send_funnel if owners.reports is not None else None,
            keyring.blind_index,
            self._who,
            metrics.registry,
            funnel_sample,
            clock,
        )
        self.auth.client_certs = tls is not None and tls.require_client_cert
        self.desk = AccountDesk(
            self.accounts,
            Secrets(keyring, credentials.PasswordHasher(password_params), signer),
            self.auth,
            metrics.login_password_checks,
        )
        self.gateway.resolve_holders = self.desk.holders
        if credential_keys is not None:  # boarding credentials (gateway/etickets.py)
            self.gateway.issuer = Issuer(credential_keys, policy or Policy(), utc_offset_min, clock)
            self.desk.document_digest = self.gateway.issuer.document_digest
        self.gateway.policy = policy or Policy()
        self.gateway.keys = keyring  # walk-in passengers' documents, encrypted at the gateway (walk_in.py)
        self.gateway.counter = CounterDesk(self.gateway, self.accounts)
        self.orders = OrderDesk(self.gateway, CounterOnly(), clock)
        self.gateway.settle_order = self.orders.settle
        self.gateway.sessions = self.auth.sessions
        # SMS codes and notices to passengers (gateway/notices.py); without an SMS provider notices
        # are still recorded (and listed), and Register needs no code.
        provider = HttpSmsProvider.from_dir(sms_dir, clock) if sms_dir is not None else None
        self.notices = NoticeDesk(self.desk, pool.submit, provider, metrics.registry, clock, utc_offset_min)
        self.desk.notices = self.notices
        self.gateway.notices = self.notices
        self.orders.notices = self.notices
        self.payments_dir = payments_dir  # wallets and the card acquirer, started with the server
        self.notify_port = 0  # where providers send notifications; 0 picks a free port
        self.notify_url = ""  # how providers reach it (a proxy's https URL); default http://HOST:PORT
        self.receive_notifications = True  # False in --workers helpers, which send providers to the first process
        self.receiver = None
        self.health = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.serving = health_pb2.HealthCheckResponse.UNKNOWN
        self.health_watch: asyncio.Task | None = None
        self.move_sweep: asyncio.Task | None = None
        self.flow_sweep: asyncio.Task | None = None  # departs flow coaches at their maximum wait
        self.demo_rolling: asyncio.Task | None = None

    async def _send_funnel(self, batch: list[tuple], max_rows: int) -> None:
        await ask_reports(self.owners.reports, "record_funnel", batch, max_rows)

    async def _who(self, token: str) -> tuple[str, str] | None:
        """The account id and roles behind an access token (for the funnel recorder), or None."""
        claims = self.auth.claims(token, self.clock.now_ms())
        if isinstance(claims, Rejection) or claims.kind != credentials.ACCESS:
            return None
        account = await self.auth.sessions.account(claims.session_id)
        return None if account is None else (account.account_id, ",".join(account.roles))

    async def start_payments(self, host: str, notify_port: int = 0) -> int:
        """Connect the providers of `payments_dir` and listen for their notifications; return the
        notification port.  Providers reach it at http://HOST:PORT/notify/<provider>."""
        desk = ProviderDesk.from_key_dir(self.payments_dir, "", self.clock)
        self.orders.payments = desk
        if not self.receive_notifications:  # a --workers helper: the first process receives for all
            desk.notify_base_url = self.notify_url
            log.info("payments: notifications go to %s", self.notify_url)
            return 0
        self.receiver = receiver_for(
            desk, NotificationDesk(self.orders, self.audit.submit, self.clock), self.metrics.registry
        )
        bound = await self.receiver.start(host, notify_port)
        desk.notify_base_url = (
            self.notify_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{bound}"
        )
        offered = [*(method.value for method in desk.wallets), *(["card"] if desk.acquirer else [])]
        log.info(
            "payments: %s%s; notifications on port %d",
            ", ".join(offered),
            " (sandbox: no real money)" if desk.sandbox else "",
            bound,
        )
        return bound

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, reuse_port: bool = False, primary: bool = True
    ) -> int:
        """Bind and serve; return the bound port (useful with port 0).

        Only with reuse_port may other processes bind the same port (keyun serve --workers);
        otherwise a second Keyun on a taken port fails instead of silently sharing it.  The
        primary process (not a --workers helper) creates demo accounts or opens the first setup, and
        keeps the demo network's trips scheduled.
        """
        credentials = self._credentials(host)
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            *self.connection_limits.channel_options(),
        ]
        # Metrics outermost, so refused calls are counted too; then who may call what.
        server = grpc.aio.server(
            interceptors=[MetricsInterceptor(self.metrics), AuthInterceptor(self.auth)], options=options
        )
        services = GenericHandlersOnly(server)
        catalog_pb2_grpc.add_CatalogServicer_to_server(
            CatalogService(self.gateway, self.searches, self.funnel), services
        )
        sales_pb2_grpc.add_SalesServicer_to_server(SalesService(self.gateway), services)
        gate_pb2_grpc.add_GateServicer_to_server(GateService(self.gateway, self.auth), services)
        dispatch_pb2_grpc.add_DispatchServicer_to_server(DispatchService(self.gateway, self.auth, self.desk), services)
        diagnostics_pb2_grpc.add_DiagnosticsServicer_to_server(DiagnosticsService(self.gateway), services)
        accounts_pb2_grpc.add_AccountsServicer_to_server(AccountsService(self.desk), services)
        staff_pb2_grpc.add_StaffServicer_to_server(StaffService(self.desk), services)
        audit_pb2_grpc.add_AuditServicer_to_server(AuditService(self.owners.audit, self.owners.audit_flushed), services)
        orders_pb2_grpc.add_OrdersServicer_to_server(OrdersService(self.orders), services)
        devices_pb2_grpc.add_DevicesServicer_to_server(DevicesService(self.desk, self.account_rules), services)
        shifts_pb2_grpc.add_ShiftsServicer_to_server(
            ShiftsService(self.gateway.counter, self.gateway.utc_offset_min), services
        )
        handheld_pb2_grpc.add_HandheldServicer_to_server(HandheldService(self.gateway), services)
        notices_pb2_grpc.add_NoticesServicer_to_server(NoticesService(self.notices), services)
        board_pb2_grpc.add_BoardServicer_to_server(BoardService(self.gateway, self.desk, self.clock), services)
        reports_pb2_grpc.add_ReportsServicer_to_server(
            ReportsService(
                self.owners.reports, self.gateway.utc_offset_min, self.funnel.sample_rate, self.desk, self.clock
            ),
            services,
        )
        uploads_pb2_grpc.add_UploadsServicer_to_server(UploadsService(self.owners.reports), services)
        fleet_pb2_grpc.add_FleetServicer_to_server(FleetService(self.gateway, self.desk), services)
        policy_pb2_grpc.add_StationRulesServicer_to_server(
            StationRulesService(self.gateway, self.desk, self.owners.pool), services
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, services)
        # As reflection.enable_server_reflection does for an asyncio server, through `services`.
        add_reflection(services, (*SERVICE_NAMES, health.SERVICE_NAME))
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.port = (
            server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
        )
        await server.start()
        self.server = server
        self._log_transport(host)
        try:
            reports = await self.pool.ready()
        except ShardCountMismatch:
            await self.stop(0)  # serve nothing: calls would reach the wrong owners
            raise
        log.info(
            "owners recovered: %s",
            ", ".join(
                f"shard {r['shard']}: {r['trips']} trips, {r['events_replayed']} events replayed" for r in reports
            ),
        )
        await asyncio.gather(self.owners.accounts.ready.remote(), self.owners.audit.ready.remote())
        if self.payments_dir is not None:
            await self.start_payments(host, self.notify_port)
        if primary:
            self.notices.start()  # one sender, in the first process: a delivery is tried by one sender at a time
            sealed = await seal_display_names(self.desk)
            if sealed:
                log.warning("encrypted %d display names stored in the clear by an earlier version", sealed)
            await (create_demo_accounts(self.desk) if self.demo_accounts else self._offer_setup())
            # Every station's kept network rolls each day (gateway/timetable.py), in this process
            # only; the demo's too, loaded first at every start.
            rolled = None
            if self.demo_network:
                rolled = local_today(self.gateway.utc_offset_min, self.clock.now_ms())
                await load_demo_window(self.gateway, rolled)
            self.demo_rolling = asyncio.create_task(self.gateway.timetable.keep_rolling(rolled))
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        self.health_watch = asyncio.create_task(self._watch_health())
        self.move_sweep = asyncio.create_task(self._sweep_moves())
        self.flow_sweep = asyncio.create_task(self._sweep_flow_lines())
        self.funnel.start()
        shards = len(self.pool.actors)
        log.info(
            "Keyun serving on %s:%d with %d trip %s", host, self.port, shards, "shard" if shards == 1 else "shards"
        )
        return self.port

    async def _offer_setup(self) -> None:
        """A station without administrators gets a one-time setup token (cli prints it once)."""
        status = await self.accounts.submit(ac.SetupStatus())
        if status.set_up:
            return
        self.setup_token = credentials.new_setup_token()
        await self.accounts.submit(ac.OpenSetup(hashlib.sha256(self.setup_token.encode()).digest()))

    def kill(self) -> None:
        """Stop every owner actor of this server for good (tests)."""
        self.owners.kill()

    def _credentials(self, host: str) -> grpc.ServerCredentials | None:
        """TLS credentials when configured; None (plain text) only for a loopback host."""
        if self.tls is not None:
            return server_credentials(self.tls.directory, self.tls.require_client_cert)
        if not is_loopback(host):
            raise TlsError(
                f"plain text is only allowed on loopback, not on {host}: give the server a TLS configuration"
            )
        return None

    def _log_transport(self, host: str) -> None:
        if self.tls is None:
            log.warning(
                "serving plain text (no TLS) on %s: plain text is only allowed on loopback; any other address gets TLS",
                host,
            )
            return
        clients = (
            "client certificates from the station CA required"
            if self.tls.require_client_cert
            else "no client certificates"
        )
        # Serving never needs the CA's key; say where it is, so an operator sees the key lying here.
        ca_key = (
            f"the station CA's key {self.tls.directory / CA_KEY} is on this server (keyun certs init --offline keeps "
            "it off)"
            if (self.tls.directory / CA_KEY).exists()
            else "the station CA's key is not on this server (offline CA)"
        )
        log.info(
            "serving TLS on %s with the certificates in %s (%s); terminals trust %s; %s",
            host,
            self.tls.directory,
            clients,
            self.tls.directory / CA_CERT,
            ca_key,
        )

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
            down = any(
                b.owner_down or b.owner_back_at > settling for b in (*self.pool.batchers, self.accounts, self.audit)
            )
            wanted = health_pb2.HealthCheckResponse.NOT_SERVING if down else health_pb2.HealthCheckResponse.SERVING
            if wanted != self.serving:
                log.warning(
                    "health: %s",
                    "an owner is down or recovering: NOT_SERVING" if down else "every owner answers: SERVING",
                )
                await self._set_health(wanted)

    async def _sweep_moves(self) -> None:
        """Finish or undo interrupted rebookings now and then (MOVE_SWEEP_S); an owner that cannot answer
        now is asked again at the next sweep."""
        while True:
            await asyncio.sleep(MOVE_SWEEP_S)
            try:
                swept = await self.gateway.resolve_interrupted_moves()
            except (OwnerUnavailable, Overloaded, OwnerFailed) as error:
                log.warning(
                    "sweeping interrupted rebookings: an owner did not answer (%r); trying again in %.0f s",
                    error,
                    MOVE_SWEEP_S,
                )
                continue
            if swept:
                log.warning("finished or undid %d rebookings whose saga was interrupted", swept)

    async def _sweep_flow_lines(self) -> None:
        """Depart departure-when-full coaches at their maximum wait (gateway/flow_lines.py) now and
        then; an owner that cannot answer now is asked again at the next sweep."""
        while True:
            await asyncio.sleep(flow_lines.FLOW_SWEEP_S)
            try:
                departed = await flow_lines.depart_due(self.gateway)
            except (OwnerUnavailable, Overloaded, OwnerFailed) as error:
                log.warning("departing flow coaches: an owner did not answer (%r); trying again", error)
                continue
            if departed:
                log.info("departed %d flow coaches at their maximum wait: %s", len(departed), ", ".join(departed))

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        for task in (self.health_watch, self.move_sweep, self.demo_rolling, self.flow_sweep):
            if task is not None:
                task.cancel()
        self.health_watch = self.move_sweep = self.demo_rolling = self.flow_sweep = None
        await self.funnel.stop()
        await self.notices.stop()
        if self.server is not None:
            await self.server.stop(grace_s)
            self.server = None
        if self.receiver is not None:
            await self.receiver.stop()
            self.receiver = None
