"""The plumbing under the Kraken adapter: one sync ccxt client, called from trio, one request at a time.

ccxt runs in worker threads (``trio.to_thread``) behind a ``CapacityLimiter(1)``: ccxt's sync rate limiter and its
nonce are not thread-safe. A call is never abandoned when its caller is cancelled (``abandon_on_cancel=False``): an
order that went out is waited for, so its id is not lost; ``timeout`` bounds that wait. Errors come out translated
into the ``Exchange`` interface's, with the credentials scrubbed from every message and log line.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
import trio

from .base import ExchangeUnavailable
from .ccxt_errors import Scrubbed, connect_failure, translate

T = TypeVar("T")

KRAKEN_URL = "https://api.kraken.com"


class CcxtTransport:
    """``retries`` bounds how often an unavailable exchange is asked again, ``backoff_s`` the first pause between
    tries (doubling, at most 2 s). ``rate_limit`` keeps ccxt's client-side limiter (Kraken's REST counter)."""

    def __init__(self, api_key: str | None, secret: str | None, *, account: str, name: str, rest_url: str | None,
                 timeout_s: float, retries: int, backoff_s: float, rate_limit: bool, connect_timeout_s: float) -> None:
        self.name = name
        self.account = account
        self.rest_url = (rest_url or KRAKEN_URL).rstrip("/")
        self.retries = retries
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._connect_timeout_s = min(connect_timeout_s, timeout_s)
        self._secrets = tuple(s for s in (api_key, secret) if s)
        self._logger = logging.getLogger(f"crypy.exchanges.ccxt.{name}.{account}")
        self._scrubbed = Scrubbed(self._secrets)
        self._logger.addFilter(self._scrubbed)
        self._ccxt = ccxt.kraken({"apiKey": api_key or "", "secret": secret or "", "timeout": round(timeout_s * 1000),
                                  "enableRateLimit": rate_limit, "logger": self._logger})
        self._ccxt.urls["api"]["public"] = self._ccxt.urls["api"]["private"] = self.rest_url
        self._limiter = trio.CapacityLimiter(1)
        self._reachable = False
        self.unavailable = 0
        """Calls that failed as "try again later" (timeouts, EService:Unavailable...), for status and tests."""

    async def _ensure_reachable(self) -> None:
        """Fail fast, naming the URL, when the server cannot be reached at all (refused, unknown host, no route),
        rather than after ccxt's timeout times the retries."""
        if self._reachable:
            return
        url = urlsplit(self.rest_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with trio.fail_after(self._connect_timeout_s):
                stream = await trio.open_tcp_stream(url.hostname or "", port)
            await stream.aclose()
        except trio.TooSlowError:
            raise ExchangeUnavailable(f"cannot reach {self.name} at {self.rest_url}: no answer within "
                                      f"{self._connect_timeout_s:g} s") from None
        except OSError as exc:
            raise ExchangeUnavailable(f"cannot reach {self.name} at {self.rest_url}: {connect_failure(exc)}") from None
        self._reachable = True

    async def _call(self, fn: Callable[..., T], *args: Any, order: bool = False) -> T:
        """One ccxt call in a worker thread, its exceptions translated (and scrubbed)."""
        await self._ensure_reachable()
        try:
            return await trio.to_thread.run_sync(functools.partial(fn, *args), abandon_on_cancel=False,
                                                 limiter=self._limiter)
        except Exception as exc:
            error = translate(exc, self._secrets, order=order)
            self.unavailable += isinstance(error, ExchangeUnavailable)
            raise error from None

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt`` again after a pause while the exchange is unavailable, at most ``retries`` more times.
        An unreachable server is reported at once: it is not going to come up within the retries."""
        await self._ensure_reachable()
        for tries in range(self.retries + 1):
            try:
                return await attempt()
            except ExchangeUnavailable:
                if tries == self.retries:
                    raise
                await trio.sleep(self._pause(tries))
        raise AssertionError("unreachable")

    def _pause(self, tries: int) -> float:
        return min(self._backoff_s * 2**tries, 2.0)

    async def _result(self, fn: Callable[[dict[str, Any]], Any], params: dict[str, Any] | None = None) -> Any:
        """The ``result`` of a request that changes nothing, so it is safe to retry."""
        response = await self._retrying(lambda: self._call(fn, params or {}))
        return response["result"]

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._ccxt.close, limiter=self._limiter)
        self._logger.removeFilter(self._scrubbed)

