"""Sending text messages: the provider interface Keyun sends through, and its HTTP client.

`SmsProvider.send(to, text, idempotency_key)` returns the provider's message id, or raises
SmsFailed (`retryable`: try again later with the same key).  The key makes a resend the same
message: a provider that saw it answers with the first message's id and sends nothing.
`HttpSmsProvider` speaks keyun.common.sms_wire (the API of `keyun sandbox-sms`); a real operator's
gateway gets a class of its own with the same method.  Numbers go into logs masked, the secret never.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

import aiohttp

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.common.sms_wire import (
    KEY_HEADER,
    SEND_PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SmsConfig,
    mask_number,
    read_config,
    signature,
)

log = logging.getLogger("keyun.sms")

# An SMS gateway answers in well under a second; a send stuck longer is retried later.
REQUEST_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024


class SmsFailed(Exception):
    """A send that did not go out.  `retryable`: the provider or the network failed, not the request."""

    def __init__(self, code: str, message: str, retryable: bool):
        super().__init__(f"{code}: {message}")
        self.code, self.retryable = code, retryable


class SmsProvider(Protocol):
    async def send(self, to: str, text: str, idempotency_key: str) -> str: ...

    async def aclose(self) -> None: ...


class HttpSmsProvider:
    """The HTTP client of an SMS gateway with keyun.common.sms_wire's API (`keyun sandbox-sms`)."""

    def __init__(self, config: SmsConfig, clock: Clock = SYSTEM_CLOCK):
        self.config = config
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None

    @classmethod
    def from_dir(cls, directory: Path, clock: Clock = SYSTEM_CLOCK) -> HttpSmsProvider:
        return cls(read_config(directory), clock)

    async def send(self, to: str, text: str, idempotency_key: str) -> str:
        body = json.dumps({"to": to, "text": text, "idempotency_key": idempotency_key}, ensure_ascii=False).encode()
        # The provider checks the signature against its own clock: real time, not a test's shifted one.
        timestamp_ms = SYSTEM_CLOCK.now_ms()
        headers = {
            "Content-Type": "application/json",
            KEY_HEADER: self.config.key_id,
            TIMESTAMP_HEADER: str(timestamp_ms),
            SIGNATURE_HEADER: signature(self.config.secret, "POST", SEND_PATH, timestamp_ms, body),
        }
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
        try:
            async with self.session.post(self.config.base_url + SEND_PATH, data=body, headers=headers) as response:
                answer = await response.content.read(MAX_RESPONSE_BYTES)
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning("SMS to %s: no answer from the provider (%s)", mask_number(to), type(error).__name__)
            raise SmsFailed("NETWORK", type(error).__name__, retryable=True) from None
        try:
            document = json.loads(answer)
        except ValueError:
            document = {}
        if status == 200 and isinstance(document, dict) and document.get("message_id"):
            return str(document["message_id"])
        code = str(document.get("error", f"HTTP_{status}")) if isinstance(document, dict) else f"HTTP_{status}"
        log.warning("SMS to %s refused by the provider: %s (HTTP %d)", mask_number(to), code, status)
        # 5xx and 429: the provider's trouble, worth another try; 4xx: this request will never go.
        raise SmsFailed(code, f"HTTP {status}", retryable=status >= 500 or status == 429)

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
