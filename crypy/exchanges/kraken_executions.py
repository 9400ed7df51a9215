"""Kraken's private WebSocket v2 ``executions`` channel as push hints: "this order of the account changed".

REST stays the source of truth: a notice only tells the desk which order to read again, sooner than its poll
would. So nothing here is kept or reconciled. A dropped connection only delays hints: the client reconnects
with a fresh token (the old one may have expired while no connection held it), and after every reconnection
sends one ``reconnected`` notice so the desk re-reads everything it may have missed in between. A frame or item
that is not what Kraken sends is logged and skipped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import msgspec
import structlog
import trio

from .kraken_ws import KrakenSocket, Reconnecting, Refused

log = structlog.get_logger(__name__)

RECONNECTED = "reconnected"
"""The ``exec_type`` of the notice sent after each reconnection (its other fields are empty)."""


class ExecutionNotice(msgspec.Struct, frozen=True):
    """One ``executions`` item, reduced to what says which order changed and how.

    ``exec_type`` and ``order_status`` are Kraken's words (``new``, ``trade``, ``filled``, ``canceled``...);
    ``client_id`` is the item's ``cl_ord_id`` as the client's ``client_id_for`` translates it ("" when none).
    ``ts`` is the item's time in milliseconds.
    """

    order_id: str
    client_id: str
    exec_type: str
    order_status: str
    ts: int


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _ms(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return round((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def notices_in(message: Any, client_id_for: Callable[[str], str] = str) -> list[ExecutionNotice]:
    """The notices one decoded v2 message carries: none for anything but ``executions`` data (snapshot or update).

    Items that are not well-formed are logged and skipped; the others still count.
    """
    if not isinstance(message, dict):
        log.warning("kraken executions: unexpected message skipped", message=str(message)[:200])
        return []
    if message.get("channel") != "executions":
        return []
    data = message.get("data")
    if not isinstance(data, list):
        log.warning("kraken executions: message without a data list skipped", message=str(message)[:200])
        return []
    notices: list[ExecutionNotice] = []
    for item in data:
        try:
            notices.append(_notice(item, client_id_for))
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("kraken executions: malformed item skipped", error=f"{type(exc).__name__}: {exc}",
                        item=str(item)[:200])
    return notices


def _notice(item: Any, client_id_for: Callable[[str], str]) -> ExecutionNotice:
    if not isinstance(item, dict):
        raise TypeError("an item is not an object")
    order_id, exec_type = item["order_id"], item["exec_type"]
    cl_ord_id, order_status = item.get("cl_ord_id", ""), item.get("order_status", "")
    if not all(isinstance(value, str) for value in (order_id, exec_type, cl_ord_id, order_status)) or not order_id:
        raise TypeError("order_id, exec_type, cl_ord_id and order_status must be text, order_id not empty")
    return ExecutionNotice(order_id=order_id, client_id=client_id_for(cl_ord_id) if cl_ord_id else "",
                           exec_type=exec_type, order_status=order_status, ts=_ms(item["timestamp"]))


class KrakenExecutions:
    """The account's ``executions`` on ``ws_private_url`` (``None``: no private WebSocket, ``run`` does nothing).

    ``token`` fetches a WebSocket token (``KrakenCcxtExchange.ws_token``), once per connection. ``client_id_for``
    turns a ``cl_ord_id`` back into crypy's client id; ``clock`` stamps ``reconnected`` notices. A reconnection
    waits ``reconnect_s``, doubling up to ``max_reconnect_s`` while connections keep failing.
    """

    def __init__(self, ws_private_url: str | None, token: Callable[[], Awaitable[str]], *,
                 client_id_for: Callable[[str], str] = str, clock: Callable[[], int] = _wall_ms,
                 ping_s: float = 5.0, reconnect_s: float = 0.5, max_reconnect_s: float = 15.0) -> None:
        self._token = token
        self._client_id_for = client_id_for
        self._clock = clock
        self._link = None if ws_private_url is None else Reconnecting(
            ws_private_url, name="kraken executions", ping_s=ping_s, backoff_s=reconnect_s,
            max_backoff_s=max_reconnect_s)
        self.notices = 0
        """Notices sent, ``reconnected`` ones included."""
        self._subscribed = 0

    @property
    def connects(self) -> int:
        """Connections opened."""
        return 0 if self._link is None else self._link.connects

    @property
    def disconnects(self) -> int:
        """Opened connections that ended."""
        return 0 if self._link is None else self._link.disconnects

    async def run(self, send: trio.MemorySendChannel[ExecutionNotice],
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send notices until cancelled or until the receiving side is closed. Reports started once the first
        subscription is accepted, so a caller that waits for it misses no change from then on; until then (say,
        while the token is refused) it keeps retrying."""
        if self._link is None:
            task_status.started()
            return
        self._subscribed = 0
        link = self._link
        try:
            await link.run(lambda socket: self._session(socket, link, send, task_status))
        except* (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # nobody listens any more

    async def _session(self, socket: KrakenSocket, link: Reconnecting, send: trio.MemorySendChannel[ExecutionNotice],
                       task_status: trio.TaskStatus[None]) -> NoReturn:
        req_id = await socket.request("subscribe", channel="executions", token=await self._token(), snap_orders=True,
                                      snap_trades=False)

        async def handle(message: Any) -> None:
            if isinstance(message, dict) and message.get("req_id") == req_id and message.get("method") == "subscribe":
                if message.get("success") is not True:
                    raise Refused(f"executions subscription: {message.get('error')}")
                link.healthy()
                self._subscribed += 1
                if self._subscribed == 1:
                    task_status.started()
                else:
                    await self._send(send, ExecutionNotice(order_id="", client_id="", exec_type=RECONNECTED,
                                                           order_status="", ts=self._clock()))
                return
            if isinstance(message, dict) and message.get("success") is False:
                log.warning("kraken executions: request refused", method=message.get("method"),
                            error=message.get("error"))
            for notice in notices_in(message, self._client_id_for):
                await self._send(send, notice)

        await socket.read(handle)

    async def _send(self, send: trio.MemorySendChannel[ExecutionNotice], notice: ExecutionNotice) -> None:
        self.notices += 1  # first: a receiver may look at the count as soon as it has the notice
        await send.send(notice)
