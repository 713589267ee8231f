"""The web terminal's connection to the Keyun gateway: one grpc.aio channel, every call with the
caller's own token.

`call` retries what is safe to retry (the gateway applies a request id at most once) and refreshes
an expired access token once through the session that carried it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

import grpc

from keyun.common.tls import channel_credentials
from keyun.terminals.client import FIRST_BACKOFF_S, RETRYABLE, KeyunError
from keyun.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    board_pb2_grpc,
    catalog_pb2_grpc,
    devices_pb2_grpc,
    dispatch_pb2_grpc,
    gate_pb2_grpc,
    notices_pb2_grpc,
    orders_pb2_grpc,
    reports_pb2_grpc,
    sales_pb2_grpc,
)

DEADLINE_S = 5.0
ATTEMPTS = 3


class Tokens(Protocol):
    """Whoever holds an access token: a browser session or the web process's own device login."""

    access: str
    refresh: str

    def keep(self, access: str, refresh: str) -> None: ...


class WebGateway:
    def __init__(self, target: str, ca_file: Path | None = None):
        self.target = target
        if ca_file is None:
            self.channel = grpc.aio.insecure_channel(target)
        else:
            self.channel = grpc.aio.secure_channel(target, channel_credentials(ca_file, None, None))
        self.accounts = accounts_pb2_grpc.AccountsStub(self.channel)
        self.catalog = catalog_pb2_grpc.CatalogStub(self.channel)
        self.sales = sales_pb2_grpc.SalesStub(self.channel)
        self.orders = orders_pb2_grpc.OrdersStub(self.channel)
        self.dispatch = dispatch_pb2_grpc.DispatchStub(self.channel)
        self.gate = gate_pb2_grpc.GateStub(self.channel)
        self.devices = devices_pb2_grpc.DevicesStub(self.channel)
        self.notices = notices_pb2_grpc.NoticesStub(self.channel)  # ListMyNotices for the passenger site
        self.board = board_pb2_grpc.BoardStub(self.channel)
        self.reports = reports_pb2_grpc.ReportsStub(self.channel)  # the report pages (reports.py)

    async def close(self) -> None:
        await self.channel.close()

    async def call(self, method: Callable[..., Any], request: Any, tokens: Tokens | None = None) -> Any:
        """One unary call as the holder of `tokens` (none: an anonymous call such as Login)."""
        backoff_s = FIRST_BACKOFF_S
        refreshed = False
        attempt = 1
        while True:
            try:
                return await method(request, timeout=DEADLINE_S, metadata=_bearer(tokens))
            except grpc.aio.AioRpcError as rpc_error:
                error = KeyunError.from_rpc(rpc_error)
            if error.reason == "TOKEN_EXPIRED" and tokens is not None and tokens.refresh and not refreshed:
                await self.refresh(tokens)
                refreshed = True
                continue
            if error.code not in RETRYABLE or attempt >= ATTEMPTS:
                raise error
            await asyncio.sleep(error.retry_after_s or backoff_s)
            backoff_s *= 2
            attempt += 1

    async def refresh(self, tokens: Tokens) -> None:
        reply = await self.call(self.accounts.Refresh, accounts_pb2.RefreshRequest(refresh_token=tokens.refresh))
        tokens.keep(reply.access_token, reply.refresh_token)

    async def stream(
        self, method: Callable[..., Any], request: Any, tokens: Tokens | None = None
    ) -> AsyncIterator[Any]:
        """A server stream's messages; a refused or broken stream raises KeyunError."""
        call = method(request, metadata=_bearer(tokens))
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as rpc_error:
            raise KeyunError.from_rpc(rpc_error) from None
        finally:
            call.cancel()


class DeviceLogin:
    """The web process's own login as a device (the board's screen, a kiosk): logs in on first use
    and again whenever its session ends; holds the password only in memory."""

    def __init__(self, login_name: str, password: str):
        self.login_name = login_name
        self._password = password
        self.access = ""
        self.refresh = ""
        self._lock = asyncio.Lock()

    def keep(self, access: str, refresh: str) -> None:
        self.access, self.refresh = access, refresh

    async def tokens(self, gateway: WebGateway) -> DeviceLogin:
        async with self._lock:
            if not self.access:
                request = accounts_pb2.LoginRequest(login_name=self.login_name, password=self._password)
                reply = await gateway.call(gateway.accounts.Login, request)
                self.keep(reply.access_token, reply.refresh_token)
        return self

    def forget(self) -> None:
        """After NOT_AUTHENTICATED (a revoked session, a restarted station): log in afresh next time."""
        self.access = self.refresh = ""

    def __repr__(self) -> str:  # never the password or the tokens
        return f"DeviceLogin({self.login_name!r})"


def _bearer(tokens: Tokens | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {tokens.access}"),) if tokens is not None and tokens.access else ()
