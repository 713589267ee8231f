"""HTTP to the providers, and the time formats they share.

One aiohttp session per provider client, bounded in time and in the size of what it reads.
Anything that goes wrong on the way (no connection, a timeout, a body too large) is a
ProviderUnavailable: the caller may retry with the same numbers, which providers treat as the same
request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping

import aiohttp

from .base import ProviderUnavailable

# China Standard Time: the wallets and UnionPay write local times in it.
CHINA = dt.timezone(dt.timedelta(hours=8))
# A provider call gives up after this long: providers answer in well under a second, and a counter
# clerk or a passenger's phone should see an error to retry rather than wait.
REQUEST_TIMEOUT_S = 10.0
# The longest answer read from a provider.  A bill of a big station's day (100,000 lines of about
# 200 bytes) fits; nothing else comes near.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


def china_time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, CHINA).replace(microsecond=0)


def parse_china_time(text: str, pattern: str) -> int:
    """A provider's local time (no zone written) to epoch ms."""
    return int(dt.datetime.strptime(text, pattern).replace(tzinfo=CHINA).timestamp() * 1000)


def rfc3339(ms: int) -> str:
    """WePay's times: 2024-01-31T10:00:00+08:00."""
    return china_time(ms).isoformat()


def parse_rfc3339(text: str) -> int:
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("a time without a zone")
    return int(parsed.timestamp() * 1000)


def day_bounds_ms(day: dt.date) -> tuple[int, int]:
    """A bill day in China time, as [start, end) epoch ms."""
    start = dt.datetime.combine(day, dt.time(), CHINA)
    return int(start.timestamp() * 1000), int((start + dt.timedelta(days=1)).timestamp() * 1000)


async def read_bounded(response: aiohttp.ClientResponse, limit_bytes: int) -> bytes | None:
    """The whole body, or None if it is longer than the limit (read no further than that)."""
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class HttpClient:
    """A lazily opened aiohttp session, closed by `aclose()` or `async with`."""

    def __init__(self, session: aiohttp.ClientSession | None = None):
        self._session = session
        self._owns_session = session is None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
        return self._session

    async def send(self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None) -> tuple[int, Mapping[str, str], bytes]:
        """One request; (status, headers, body).  Network trouble is ProviderUnavailable."""
        session = await self._http()
        try:
            async with session.request(method, url, data=body or None, headers=dict(headers or {}), allow_redirects=False) as response:
                data = await read_bounded(response, MAX_RESPONSE_BYTES)
                if data is None:
                    raise ProviderUnavailable("RESPONSE_TOO_LARGE", f"{method} {url}: more than {MAX_RESPONSE_BYTES} bytes")
                return response.status, response.headers, data
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise ProviderUnavailable("NETWORK", f"{method} {url}: {type(error).__name__}") from None

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
