"""The connection part every Kraken WebSocket v2 client shares: keep one connection open, alive and reopened.

A connection pings (JSON ``ping``) every ``ping_s`` seconds and is dropped when silent for ``3 * ping_s``, since a
half-open TCP connection would otherwise look like a quiet market forever. A dropped connection is reopened after
a pause that doubles up to a cap, and the pause starts over once the client says the new connection is healthy
(subscribed), so a server that keeps refusing is not hammered. A frame that is not JSON is logged and skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, NoReturn

import msgspec
import structlog
import trio
import trio_websocket

log = structlog.get_logger(__name__)

_DECODER = msgspec.json.Decoder(float_hook=Decimal)  # money stays exact: JSON numbers become Decimals
_ENCODER = msgspec.json.Encoder()


class Stale(Exception):
    """The server went quiet for longer than pings allow."""


class Refused(Exception):
    """The server refused a request the client cannot do without (e.g. a subscription with an invalid token)."""


_DISCONNECTS = (trio_websocket.ConnectionClosed, trio_websocket.HandshakeError, trio_websocket.DisconnectionTimeout,
                OSError, Stale)


class KrakenSocket:
    """One open v2 connection: numbered requests, and a reader that pings on schedule and notices silence."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, ping_s: float) -> None:
        self._ws = ws
        self._ping_s = ping_s
        self._req_ids = itertools.count(1)

    async def request(self, method: str, **params: Any) -> int:
        """Send ``{"method", "params", "req_id"}`` and return the ``req_id`` the reply will echo."""
        req_id = next(self._req_ids)
        await self._ws.send_message(_ENCODER.encode({"method": method, "params": params, "req_id": req_id}).decode())
        return req_id

    async def read(self, handle: Callable[[Any], Awaitable[None]]) -> NoReturn:
        """Hand every decoded message to ``handle`` until the connection drops or goes stale. ``handle`` runs
        outside the timeout scope, so a timeout can never cancel it half-way (and lose what it was sending)."""
        next_ping = last_heard = trio.current_time()
        next_ping += self._ping_s
        while True:
            text: str | bytes | None = None
            with trio.move_on_at(min(next_ping, last_heard + 3 * self._ping_s)):
                text = await self._ws.get_message()
            now = trio.current_time()
            if text is not None:
                last_heard = now
                try:
                    message = _DECODER.decode(text)
                except msgspec.DecodeError as exc:
                    log.warning("kraken ws: frame is not JSON, skipped", error=str(exc), frame=str(text)[:200])
                else:
                    await handle(message)
            elif now >= last_heard + 3 * self._ping_s:
                raise Stale(f"nothing received for {3 * self._ping_s:g} s")
            if now >= next_ping:
                next_ping = now + self._ping_s
                await self._ws.send_message(_ENCODER.encode({"method": "ping", "req_id": next(self._req_ids)}).decode())


class Reconnecting:
    """Runs a client's ``session`` on a connection to ``url``, and on a new one whenever it ends, until cancelled.

    ``name`` tells clients apart in the log. A closed or broken channel (the client's consumer went away) ends
    the loop by propagating; every other failure is logged and retried.
    """

    def __init__(self, url: str, *, name: str, ping_s: float, backoff_s: float, max_backoff_s: float) -> None:
        self.url = url
        self.name = name
        self._ping_s = ping_s
        self._backoff_s = self._pause = backoff_s
        self._max_backoff_s = max_backoff_s
        self.connects = 0
        """Connections opened: more than one means the client reconnected."""
        self.disconnects = 0
        """Opened connections that ended."""

    def healthy(self) -> None:
        """The current connection works (e.g. its subscriptions were accepted): the next pause starts over."""
        self._pause = self._backoff_s

    async def run(self, session: Callable[[KrakenSocket], Awaitable[NoReturn]]) -> NoReturn:
        while True:
            opened = False
            try:
                async with trio_websocket.open_websocket_url(self.url, connect_timeout=5, disconnect_timeout=1) as ws:
                    opened = True
                    self.connects += 1
                    await session(KrakenSocket(ws, self._ping_s))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise
            except _DISCONNECTS as exc:
                log.warning("kraken ws: disconnected", client=self.name, url=self.url, error=_describe(exc),
                            retry_in=self._pause)
            except Refused as exc:
                log.error("kraken ws: request refused", client=self.name, url=self.url, error=str(exc),
                          retry_in=self._pause)
            except Exception as exc:  # e.g. no token: the exchange may be back later, so retry rather than end
                log.warning("kraken ws: error", client=self.name, url=self.url, error=_describe(exc),
                            retry_in=self._pause)
            finally:
                if opened:
                    self.disconnects += 1
            await trio.sleep(self._pause)
            self._pause = min(self._pause * 2, self._max_backoff_s)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
