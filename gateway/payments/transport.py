"""HTTP to the providers (their time formats and bounded reads are keyun.common.payments_wire.formats).

One aiohttp session per provider client, bounded in time and in the size of what it reads.
Anything that goes wrong on the way (no connection, a timeout, a body too large) is a
ProviderUnavailable: the caller may retry with the same numbers, which providers treat as the same
request.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from keyun.common.payments_wire.formats import read_bounded

from .base import ProviderUnavailable

# A provider call gives up after this long: providers answer in well under a second, and a counter
# clerk or a passenger's phone should see an error to retry rather than wait.
REQUEST_TIMEOUT_S = 10.0
# The longest answer read from a provider.  A bill of a big station's day (100,000 lines of about
# 200 bytes) fits; nothing else comes near.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


class HttpClient:
    """A lazily opened aiohttp session, closed by `aclose()` or `async with`."""

    def __init__(self, session: aiohttp.ClientSession | None = None):
        self._session = session
        self._owns_session = session is None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
        return self._session

    async def send(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request; (status, headers, body).  Network trouble is ProviderUnavailable."""
        session = await self._http()
        try:
            async with session.request(
                method, url, data=body or None, headers=dict(headers or {}), allow_redirects=False
            ) as response:
                data = await read_bounded(response, MAX_RESPONSE_BYTES)
                if data is None:
                    raise ProviderUnavailable(
                        "RESPONSE_TOO_LARGE", f"{method} {url}: more than {MAX_RESPONSE_BYTES} bytes"
                    )
                return response.status, response.headers, data
        except (TimeoutError, aiohttp.ClientError) as error:
            raise ProviderUnavailable("NETWORK", f"{method} {url}: {type(error).__name__}") from None

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
