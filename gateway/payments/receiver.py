"""Keyun's endpoint for wallet notifications: `POST /notify/wepay` and `POST /notify/alipay`.

A notification is verified by its provider (signature, decryption, freshness) and then handed to
`handle`, which records the payment in the order's owner.  The provider's acknowledgement goes
back only after `handle` returned, so if Keyun crashes or `handle` fails the provider keeps
resending, as wallets do, until one delivery is recorded.  Refusals answer an error status and log
the reason, never the body.

The receiver does not deduplicate: the order's owner does, by the provider's transaction id, so
`handle` must be idempotent.  The receiver counts the duplicates it sees, for metrics.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import WALLETS, Method

from .base import BAD_SIGNATURE, UNKNOWN_PROVIDER, BadNotification, Notification, WalletProvider

log = logging.getLogger("keyun.payments")

# A notification is a few hundred bytes; nothing legitimate comes near 64 KiB, and a bound keeps
# a flood of large bodies from costing memory.
MAX_NOTIFICATION_BYTES = 64 * 1024
# Transaction ids remembered for counting duplicates: providers resend within hours, and a large
# station's day is about 100,000 payments.  Older ones fall out and are simply not counted.
MAX_REMEMBERED_TXNS = 100_000
# Outcomes, the `outcome` label's bounded values.
ACCEPTED, DUPLICATE, HANDLER_FAILED = "accepted", "duplicate", "handler_failed"

Handler = Callable[[Notification], Awaitable[None]]


class HandlerFailed(Exception):
    """`handle` raised: the notification was verified but not recorded."""


class NotificationReceiver:
    """An aiohttp app receiving the wallets' notifications; start() it inside the gateway."""

    def __init__(
        self,
        providers: Mapping[Method, WalletProvider],
        handle: Handler,
        registry: CollectorRegistry | None = None,
        now_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms,
        refused: Callable[[str, str, str], Awaitable[None]] | None = None,
    ):
        """`registry`: the gateway's Prometheus registry (one receiver per registry); a private one if None."""
        assert all(method in WALLETS for method in providers), "only wallets notify"
        self.providers = dict(providers)
        self.handle = handle
        self.refused = refused  # told (provider, reason, body digest) of every refused notification: the audit trail
        self.now_ms = now_ms
        self.duplicates_seen = 0
        self._seen: OrderedDict[tuple[Method, str], None] = OrderedDict()
        self.notifications = Counter(
            "keyun_payment_notifications_total",
            "Wallet notifications received, by provider and outcome",
            ["provider", "outcome"],
            registry=registry or CollectorRegistry(),
        )
        self.app = web.Application(client_max_size=MAX_NOTIFICATION_BYTES)
        self.app.router.add_post("/notify/{provider}", self._notify)
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port); return the bound port."""
        assert self._runner is None, "started already"
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _notify(self, request: web.Request) -> web.Response:
        name = request.match_info["provider"]
        provider = next((p for m, p in self.providers.items() if m.value == name), None)
        if provider is None:
            self.notifications.labels("unknown", UNKNOWN_PROVIDER).inc()
            return _refusal(404, UNKNOWN_PROVIDER)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.notifications.labels(name, "TOO_LARGE").inc()
            return _refusal(413, "TOO_LARGE")
        try:
            notification = provider.parse_notification(request.headers, body, self.now_ms())
            await self._handle(name, notification)
        except BadNotification as refused:  # from the provider, or check_amount in the handler
            self.notifications.labels(name, refused.reason).inc()
            log.warning("payment notification refused: provider=%s %s", name, refused)
            if self.refused is not None:
                await self.refused(name, refused.reason, hashlib.sha256(body).hexdigest())
            return _refusal(401 if refused.reason == BAD_SIGNATURE else 400, refused.reason)
        except HandlerFailed:
            self.notifications.labels(name, HANDLER_FAILED).inc()
            return _refusal(500, HANDLER_FAILED)
        self._remember(notification)
        status, ack, content_type = provider.notification_ack()
        return web.Response(status=status, body=ack, content_type=content_type)

    async def _handle(self, name: str, notification: Notification) -> None:
        try:
            await self.handle(notification)
        except BadNotification:
            raise
        except Exception as error:  # no ack, so the provider sends it again later
            log.error(
                "payment notification not recorded: provider=%s txn=%s error=%s",
                name,
                notification.provider_txn_id,
                type(error).__name__,
            )
            raise HandlerFailed from error

    def _remember(self, notification: Notification) -> None:
        """Count a transaction handled before as a duplicate (after handling, so of two deliveries
        handled at once the second to finish is the duplicate)."""
        key = (notification.method, notification.provider_txn_id)
        duplicate = key in self._seen
        self.duplicates_seen += duplicate
        self._seen[key] = None
        self._seen.move_to_end(key)
        if len(self._seen) > MAX_REMEMBERED_TXNS:
            self._seen.popitem(last=False)
        self.notifications.labels(notification.method.value, DUPLICATE if duplicate else ACCEPTED).inc()


def _refusal(status: int, reason: str) -> web.Response:
    """WeChat Pay's failure shape; to Alipay anything but `success` is a failure too."""
    return web.Response(
        status=status, body=json.dumps({"code": "FAIL", "message": reason}).encode(), content_type="application/json"
    )
