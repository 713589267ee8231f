"""The payment sandbox as a real process, and a rig that talks to it the way Keyun does.

One `keyun sandbox-pay` subprocess per test module (it makes real RSA keys on first start).  Each
test runs its own event loop (`run`), holding real wallet clients, a real NotificationReceiver on a
free port, and a JSON client for the sandbox's control API.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from keyun.common.clock import SYSTEM_CLOCK
from keyun.gateway.payments.base import BadNotification, Method, Notification, check_amount
from keyun.gateway.payments.card import CardAcquirer
from keyun.gateway.payments.providers import Providers
from keyun.gateway.payments.receiver import NotificationReceiver
from keyun.gateway.payments.wallets import AliPay, WePay

from ..waiting import wait_until_async

# The sandbox makes six RSA keys on first start; generous, since the machine is shared.
START_TIMEOUT_S = 60
# How long a test waits for notifications the sandbox was asked to send (retries take about 3 s).
WAIT_TIMEOUT_S = 15


@dataclass
class SandboxProcess:
    process: subprocess.Popen
    keys_dir: Path
    state_path: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_sandbox(keys_dir: Path, state_path: Path) -> SandboxProcess:
    command = [
        sys.executable,
        "-m",
        "keyun.sandboxes.payments.server",
        "--port",
        "0",
        "--keys-dir",
        str(keys_dir),
        "--state",
        str(state_path),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = _first_line(process)
    prefix = "sandbox-pay listening on 127.0.0.1:"
    if not line.startswith(prefix):
        process.kill()
        raise AssertionError(f"the sandbox did not start: {line!r} {process.stderr.read()}")
    return SandboxProcess(process, keys_dir, state_path, int(line.removeprefix(prefix)))


def _first_line(process: subprocess.Popen) -> str:
    result: list[str] = []

    async def read() -> None:
        result.append(await asyncio.to_thread(process.stdout.readline))

    asyncio.run(asyncio.wait_for(read(), START_TIMEOUT_S))
    return result[0].strip()


def stop_sandbox(sandbox: SandboxProcess) -> int:
    sandbox.process.terminate()
    code = sandbox.process.wait(timeout=30)
    sandbox.process.stdout.close()
    sandbox.process.stderr.close()
    return code


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sandbox-pay")
    running = start_sandbox(directory / "keys", directory / "state.json")
    yield running
    assert stop_sandbox(running) == 0


def order_no(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def run(coroutine):
    return asyncio.run(coroutine)


@dataclass
class Rig:
    """Keyun's side of the wire: clients, a receiver, and what its handler saw."""

    sandbox: SandboxProcess
    providers: Providers
    wepay: WePay
    alipay: AliPay
    card: CardAcquirer
    control: aiohttp.ClientSession
    receiver: NotificationReceiver | None = None
    notify_base: str = "http://127.0.0.1:9"  # without a receiver: the discard port, nobody answers
    expected_fen: dict[str, int] = field(default_factory=dict)  # order number → the order's amount
    received: list[Notification] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # reasons the handler refused with
    failing: set[str] = field(default_factory=set)  # orders whose handling crashes

    def wallet(self, method: Method) -> WePay | AliPay:
        return {Method.WALLET_A: self.wepay, Method.WALLET_B: self.alipay}[method]

    def notify_url(self, method: Method) -> str:
        return f"{self.notify_base}/notify/{method.value}"

    async def handle(self, notification: Notification) -> None:
        """What Keyun's handler does first: the amount must be the order's."""
        if notification.merchant_order_no in self.failing:
            raise RuntimeError("the owner is down")
        try:
            check_amount(notification, self.expected_fen[notification.merchant_order_no])
        except BadNotification as refused:
            self.refused.append(refused.reason)
            raise
        self.received.append(notification)

    async def create(self, method: Method, amount_fen: int, ttl_ms: int = 15 * 60 * 1000, prefix: str = "T"):
        number = order_no(prefix)
        self.expected_fen[number] = amount_fen
        start = await self.wallet(method).create(
            number, amount_fen, "甲站→丁站 2 tickets", self.notify_url(method), SYSTEM_CLOCK.now_ms() + ttl_ms
        )
        return number, start

    async def post(self, path: str, document: dict) -> tuple[int, dict]:
        async with self.control.post(self.sandbox.base_url + path, json=document) as response:
            return response.status, await response.json()

    async def pay(self, method: Method, number: str, **options) -> dict:
        status, document = await self.post(
            "/sandbox/pay", {"provider": method.value, "merchant_order_no": number, **options}
        )
        assert status == 200, document
        return document

    async def payment(self, provider: str, number: str) -> dict:
        async with self.control.get(
            self.sandbox.base_url + "/sandbox/payments", params={"provider": provider, "merchant_order_no": number}
        ) as response:
            (payment,) = (await response.json())["payments"]
            return payment

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for what the sandbox was asked to do (bounded; never a timing assert)."""
        await wait_until_async(condition, WAIT_TIMEOUT_S, "what the sandbox was asked to do", poll_s=0.02)

    async def deliveries_settled(self, provider: str, number: str, count: int) -> list[dict]:
        """Wait until `count` deliveries of a payment were acknowledged or given up."""

        async def settled() -> list[dict] | None:
            deliveries = (await self.payment(provider, number))["deliveries"]
            return deliveries if sum(1 for d in deliveries if d["acked"] or d.get("gave_up")) >= count else None

        return await wait_until_async(settled, WAIT_TIMEOUT_S, f"{count} deliveries of {number} answered")


class rig:
    """`async with rig(sandbox) as r:` a Rig with its receiver listening."""

    def __init__(self, sandbox: SandboxProcess, receive: bool = True, **receiver_options):
        self.sandbox, self.receive, self.receiver_options = sandbox, receive, receiver_options

    async def __aenter__(self) -> Rig:
        providers = Providers.load(self.sandbox.keys_dir)
        wallets = providers.wallets
        self.r = Rig(
            self.sandbox,
            providers,
            wallets[Method.WALLET_A],
            wallets[Method.WALLET_B],
            providers.card,
            aiohttp.ClientSession(),
        )
        if self.receive:
            self.r.receiver = NotificationReceiver(wallets, self.r.handle, **self.receiver_options)
            port = await self.r.receiver.start("127.0.0.1", 0)
            self.r.notify_base = f"http://127.0.0.1:{port}"
        return self.r

    async def __aexit__(self, *exc) -> None:
        if self.r.receiver is not None:
            await self.r.receiver.stop()
        await self.r.providers.aclose()
        await self.r.control.close()
