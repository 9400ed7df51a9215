"""A Kraken WebSocket v2 client on trio-websocket: closed candles, tickers, order updates, fills and balances.

It keeps itself alive (``kraken_ws``): a JSON ``ping`` every ``ping_s`` seconds, a connection silent for
``3 * ping_s`` is dropped, and a dropped connection is reopened with growing pauses and subscribed again (with a
fresh token for private channels, since the old one may have expired while no connection held it).

Candles. Kraken's ohlc updates describe the candle still forming; this simulator's server sends each candle once
it has closed. Both are handled by one rule: a candle is published when its ``timestamp`` has reached the end of
its interval (it is complete), or when a later interval begins (the previous one is then complete) - each candle
once. From a first snapshot only the newest closed candle is published (history is the REST API's business);
after a reconnection, the candles closed while disconnected are.

Fills. ``executions`` are subscribed with a trade snapshot on every connection: the first one only marks what
is already known, later ones deliver the fills that happened while disconnected (Kraken's snapshot holds the
last 50). Each fill is published once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn

import msgspec
import structlog
import trio

from crypy.protocols import (
    Balance,
    BalanceSnapshot,
    Candle,
    Event,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    TimeInForce,
    timeframe_ms,
)

from .ccxt_convert import OHLC_MINUTES, KrakenNames
from .kraken_ws import KrakenSocket, Reconnecting

log = structlog.get_logger(__name__)

_STATUS = {
    "pending_new": OrderStatus.PENDING, "new": OrderStatus.OPEN, "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED, "canceled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED,
}


def _ms(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return round((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class KrakenFeed:
    """Subscriptions on one or two Kraken v2 endpoints (``private_url`` defaults to ``public_url``).

    ``ohlc`` lists ``(pair, timeframe)`` and ``tickers`` pairs, in crypy names. ``token`` (e.g.
    ``KrakenCcxtExchange.ws_token``) enables the private ``executions`` and ``balances`` channels;
    ``client_id_for`` turns the ``cl_ord_id`` Kraken reports back into crypy's client id.
    """

    def __init__(self, public_url: str, *, names: KrakenNames, ohlc: Iterable[tuple[str, str]] = (),
                 tickers: Iterable[str] = (), private_url: str | None = None,
                 token: Callable[[], Awaitable[str]] | None = None, client_id_for: Callable[[str], str] = str,
                 account: str = "main", ping_s: float = 5.0, backoff_s: float = 0.1,
                 max_backoff_s: float = 5.0) -> None:
        self._names = names
        self._ohlc = [(pair, timeframe, OHLC_MINUTES[timeframe]) for pair, timeframe in ohlc]
        self._tickers = list(tickers)
        self._token = token
        self._client_id_for = client_id_for
        self._account = account
        private = private_url or public_url
        self._urls: dict[str, list[str]] = {}
        if self._ohlc or self._tickers:
            self._urls.setdefault(public_url, []).append("public")
        if token is not None:
            self._urls.setdefault(private, []).append("private")
        self._links = {url: Reconnecting(url, name="kraken feed", ping_s=ping_s, backoff_s=backoff_s,
                                         max_backoff_s=max_backoff_s) for url in self._urls}
        self._forming: dict[tuple[str, str], Candle] = {}
        self._last_candle: dict[tuple[str, str], int] = {}
        self._orders: dict[str, Order] = {}
        self._fees: dict[str, Decimal] = {}
        self._fills_seen: set[str] = set()
        self._fills_primed = False
        self._private_subscriptions = 0

    @property
    def connections(self) -> int:
        """How many connections were opened: more than one per URL means the feed reconnected."""
        return sum(link.connects for link in self._links.values())

    async def run(self, send: trio.MemorySendChannel[Event],
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Deliver events to ``send`` until cancelled or until the receiving side is closed."""
        try:
            async with trio.open_nursery() as nursery:
                for url, kinds in self._urls.items():
                    nursery.start_soon(self._keep_connected, self._links[url], kinds, send)
                task_status.started()
        except* (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # nobody listens any more

    @asynccontextmanager
    async def events(self, buffer: int = 1000) -> AsyncIterator[trio.MemoryReceiveChannel[Event]]:
        """Run the feed for the duration of the block and yield the channel of its events."""
        send, receive = trio.open_memory_channel[Event](buffer)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run, send)
            async with receive:
                yield receive
            nursery.cancel_scope.cancel()

    async def _keep_connected(self, link: Reconnecting, kinds: list[str],
                              send: trio.MemorySendChannel[Event]) -> NoReturn:
        async def session(socket: KrakenSocket) -> NoReturn:
            for params in await self._subscriptions(kinds):
                await socket.request("subscribe", **params)
            if "private" in kinds:  # the first subscription's trade snapshot is history, later ones news
                self._fills_primed = self._private_subscriptions > 0
                self._private_subscriptions += 1
            link.healthy()
            await socket.read(deliver)

        async def deliver(message: Any) -> None:
            for event in self._events(message):
                await send.send(event)

        await link.run(session)

    async def _subscriptions(self, kinds: list[str]) -> list[dict[str, Any]]:
        """The ``params`` of every subscription a connection of these kinds makes."""
        requests: list[dict[str, Any]] = []
        if "public" in kinds:
            pairs = {pair for pair, _, _ in self._ohlc} | set(self._tickers)
            symbols = {pair: self._names.market(pair)["symbol"] for pair in pairs}
            for interval in sorted({minutes for _, _, minutes in self._ohlc}):
                chosen = sorted({symbols[p] for p, _, m in self._ohlc if m == interval})
                requests.append({"channel": "ohlc", "symbol": chosen, "interval": interval})
            if self._tickers:
                chosen = sorted(symbols[p] for p in self._tickers)
                requests.append({"channel": "ticker", "symbol": chosen})
        if "private" in kinds and self._token is not None:
            token = await self._token()
            requests.append({"channel": "executions", "token": token, "snap_orders": True, "snap_trades": True})
            requests.append({"channel": "balances", "token": token})
        return requests

    def _events(self, message: Any) -> list[Event]:
        """The crypy events one v2 message carries (none for acks, pongs, heartbeats and status)."""
        if not isinstance(message, dict):
            return []
        if message.get("success") is False:
            log.warning("kraken feed request refused", method=message.get("method"), error=message.get("error"))
            return []
        channel, data = message.get("channel"), message.get("data")
        if not isinstance(data, list):
            return []
        snapshot = message.get("type") == "snapshot"
        if channel == "ohlc":
            return self._candles(data, snapshot)
        if channel == "ticker":
            return [Ticker(ts=_ms(item["timestamp"]) if "timestamp" in item else _now_ms(),
                           pair=self._names.pair(item["symbol"]), bid=float(item["bid"]), ask=float(item["ask"]),
                           last=float(item["last"])) for item in data]
        if channel == "executions":
            return self._executions(data, snapshot)
        if channel == "balances":
            return self._balances(data)
        return []

    def _candles(self, items: list[dict[str, Any]], snapshot: bool) -> list[Event]:
        closed: dict[tuple[str, str], list[Candle]] = {}
        for item in items:
            pair, minutes = self._names.pair(item["symbol"]), int(item["interval"])
            timeframe = next((tf for tf, m in OHLC_MINUTES.items() if m == minutes), f"{minutes}m")
            key = (pair, timeframe)
            begin = _ms(item["interval_begin"])
            candle = Candle(ts=begin, pair=pair, timeframe=timeframe, open=float(item["open"]),
                            high=float(item["high"]), low=float(item["low"]), close=float(item["close"]),
                            volume=float(item["volume"]))
            forming = self._forming.get(key)
            if forming is not None and forming.ts < begin:
                closed.setdefault(key, []).append(forming)
                del self._forming[key]
            stamp = item.get("timestamp")
            if stamp is not None and _ms(stamp) >= begin + timeframe_ms(timeframe):
                closed.setdefault(key, []).append(candle)
            else:
                self._forming[key] = candle
        events: list[Event] = []
        for key, candles in closed.items():
            first_time = key not in self._last_candle
            fresh = [c for c in candles if c.ts > self._last_candle.get(key, -1)]
            if snapshot and first_time:
                fresh = fresh[-1:]
            if fresh:
                self._last_candle[key] = fresh[-1].ts
                events.extend(fresh)
        return events

    def _executions(self, items: list[dict[str, Any]], snapshot: bool) -> list[Event]:
        events: list[Event] = []
        trades = [item for item in items if item.get("exec_type") == "trade"]
        for item in trades:
            fill = self._fill(item)
            if fill.id in self._fills_seen:
                continue
            self._fills_seen.add(fill.id)
            self._fees[fill.order_id] = self._fees.get(fill.order_id, Decimal(0)) + fill.fee
            if self._fills_primed or not snapshot:
                events.append(fill)
        for item in items:
            if item.get("exec_type") != "trade":
                order = self._order(item)
                if order is not None:
                    events.append(order)
        return events

    def _fill(self, item: dict[str, Any]) -> Fill:
        fees = item.get("fees") or []
        pair = self._names.pair(item["symbol"])
        return Fill(ts=_ms(item["timestamp"]), id=str(item["exec_id"]), order_id=str(item["order_id"]),
                    client_id=self._client_id_for(str(item.get("cl_ord_id") or "")), pair=pair,
                    side=Side(item["side"]), price=Decimal(str(item["last_price"])),
                    amount=Decimal(str(item["last_qty"])), fee=sum((Decimal(str(f["qty"])) for f in fees), Decimal(0)),
                    fee_asset=self._names.asset(str(fees[0]["asset"])) if fees else pair.partition("/")[2],
                    liquidity="maker" if item.get("liquidity_ind") == "m" else "taker")

    def _order(self, item: dict[str, Any]) -> Order | None:
        """An order's new state: the update merged into what was known, since updates may carry only changes."""
        order_id = str(item["order_id"])
        known = self._orders.get(order_id)
        if known is None and not {"symbol", "side", "order_type", "order_qty"} <= item.keys():
            log.warning("kraken feed: update for an order never described", order_id=order_id)
            return None
        ts = _ms(item["timestamp"]) if "timestamp" in item else (known.ts if known else 0)
        changes: dict[str, Any] = {"ts": ts}
        status = _STATUS.get(str(item.get("order_status", item.get("exec_type"))))
        if status is not None:
            changes["status"] = status
            if status.is_terminal:
                changes["closed"] = ts
        if "symbol" in item:
            changes["pair"] = self._names.pair(item["symbol"])
        for key, field, kind in (("side", "side", Side), ("order_type", "order_type", OrderType),
                                 ("order_qty", "amount", _dec), ("limit_price", "price", _dec),
                                 ("cum_qty", "filled", _dec), ("stop_price", "trigger_price", _dec),
                                 ("reason", "reason", str), ("post_only", "post_only", bool),
                                 ("order_userref", "userref", int)):
            if key in item:
                changes[field] = kind(item[key])
        if "cl_ord_id" in item:
            changes["client_id"] = self._client_id_for(str(item["cl_ord_id"]))
        if "time_in_force" in item:
            changes["time_in_force"] = TimeInForce(str(item["time_in_force"]).lower())
        if "filled" in changes and changes["filled"] > 0 and "avg_price" in item:
            changes["avg_price"] = _dec(item["avg_price"])
        changes["fee"] = self._fees.get(order_id, Decimal(0))
        if known is None:
            order = Order(**({"id": order_id, "client_id": "", "price": None, "created": ts,
                              "status": OrderStatus.PENDING} | changes))
        else:
            order = msgspec.structs.replace(known, **changes)
        if order.status.is_terminal:
            self._orders.pop(order_id, None)
        else:
            self._orders[order_id] = order
        return order

    def _balances(self, items: list[dict[str, Any]]) -> list[Event]:
        """Totals only: v2 does not say what orders hold, so ``held`` is 0 here; REST ``balances()`` has it."""
        found: dict[str, Balance] = {}
        latest = 0
        for item in items:
            if "balance" not in item:
                continue
            asset = self._names.asset(str(item["asset"]))
            found[asset] = Balance(asset=asset, total=Decimal(str(item["balance"])))
            latest = max(latest, _ms(item["timestamp"]) if "timestamp" in item else 0)
        if not found:
            return []
        return [BalanceSnapshot(ts=latest or _now_ms(), account=self._account, balances=found)]

