"""Kraken (or the Kraken-compatible simulator) behind the ``Exchange`` interface, through the sync ccxt client.

Requests go through ccxt's raw endpoint methods (``private_post_addorder``...) so that amounts come from
Kraken's strings, exactly, not from ccxt's floats; ``CcxtTransport`` runs them in worker threads.

Orders are idempotent: each carries a ``cl_ord_id`` derived from crypy's client id. When a placement ends
ambiguously (timeout, dropped connection, ``EService:Unavailable``), the adapter asks the exchange for that
``cl_ord_id`` before sending again, and only re-sends when the exchange has no such order.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import trio

from crypy.protocols import (
    Balance,
    Candle,
    Fill,
    MarketInfo,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    TimeInForce,
    timeframe_ms,
)

from . import ccxt_convert as convert
from .base import Capabilities, ExchangeError, ExchangeUnavailable, OrderRejected, PublicTrade
from .ccxt_transport import CcxtTransport
from .kraken_executions import ExecutionNotice, KrakenExecutions

UNKNOWN_ORDER = "EOrder:Unknown order"
_QUERY_BATCH = 50


class KrakenCcxtExchange(CcxtTransport):
    """One Kraken account. Without keys only public data works (private calls raise ``ExchangeAuthError``).

    ``rest_url`` points it at another Kraken-compatible server (the simulator); ``ws_private_url`` is its private
    WebSocket, for pushed order news (``watch_orders``); ``clock`` replaces the wall clock (a replay's time).
    """

    def __init__(self, api_key: str | None, secret: str | None, *, account: str = "main", name: str = "kraken",
                 rest_url: str | None = None, timeout_s: float = 10, retries: int = 3, backoff_s: float = 0.25,
                 rate_limit: bool = True, connect_timeout_s: float = 3.0, ws_private_url: str | None = None,
                 clock: Callable[[], int] | None = None) -> None:
        super().__init__(api_key, secret, account=account, name=name, rest_url=rest_url, timeout_s=timeout_s,
                         retries=retries, backoff_s=backoff_s, rate_limit=rate_limit,
                         connect_timeout_s=connect_timeout_s)
        self._clock = clock
        self._markets_lock = trio.Lock()
        self._names: convert.KrakenNames | None = None
        self._capabilities: Capabilities | None = None
        self._client_ids: dict[str, str] = {}  # cl_ord_id sent -> crypy client id
        self._order_clients: dict[str, str] = {}  # order txid -> crypy client id
        self._at_cursor: set[str] = set()  # ids of the fills whose time is the last cursor handed out
        self.executions = KrakenExecutions(ws_private_url, self.ws_token, client_id_for=self.client_id_for,
                                           clock=self.now_ms)

    def __repr__(self) -> str:
        return f"KrakenCcxtExchange(name={self.name!r}, account={self.account!r}, rest_url={self.rest_url!r})"

    def now_ms(self) -> int:
        """Wall time, or the given ``clock``: an in-process simulator's market time runs faster than the wall."""
        return self._clock() if self._clock is not None else int(time.time() * 1000)

    async def names(self) -> convert.KrakenNames:
        """Kraken's spellings of every pair and asset (loads the markets once)."""
        async with self._markets_lock:
            if self._names is None:
                await self._retrying(lambda: self._call(self._ccxt.load_markets))
                self._names = convert.KrakenNames.from_ccxt(self._ccxt.markets, self._ccxt.currencies)
        return self._names

    async def _market(self, pair: str) -> dict[str, Any]:
        try:
            return (await self.names()).market(pair)
        except KeyError:
            raise ExchangeError(f"EQuery:Unknown asset pair ({pair})") from None

    def client_id_for(self, cl_ord_id: str) -> str:
        """crypy's client id for a ``cl_ord_id`` this adapter sent (the WebSocket feed reports the latter)."""
        return self._client_ids.get(cl_ord_id, cl_ord_id)

    async def ws_token(self) -> str:
        """A token for Kraken's private WebSocket (valid 15 minutes unless a connection uses it)."""
        return str((await self._result(self._ccxt.private_post_getwebsocketstoken))["token"])

    async def watch_orders(self, changed: trio.MemorySendChannel[ExecutionNotice],
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hints that an order changed, pushed by the private WebSocket (``KrakenExecutions``); REST stays the truth."""
        await self.executions.run(changed, task_status=task_status)

    # -- market data ----------------------------------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        """Kraken publishes no list of order types: with keys, each type is tried once with ``validate=true``
        (nothing is placed) and only an ``Invalid arguments:ordertype`` refusal rules it out."""
        if self._capabilities is None:
            names = await self.names()
            status = {pair: str(market["info"].get("status", "online")) for pair, market in names.by_crypy.items()}
            self._capabilities = Capabilities(
                order_types=await self._order_types(names) if self._secrets else frozenset(OrderType),
                time_in_force=frozenset(TimeInForce), post_only=True, amend=True, max_candles=720,
                pair_status={pair: s for pair, s in status.items() if s != "online"})
        return self._capabilities

    async def _order_types(self, names: convert.KrakenNames) -> frozenset[OrderType]:
        pair = "XBT/USD" if "XBT/USD" in names.by_crypy else next(iter(names.by_crypy))
        market, last = names.market(pair), Decimal(str((await self.ticker(pair)).last))
        accepted = set()
        for order_type in OrderType:
            params = convert.add_order_params(
                market=market, cl_ord_id="", side=Side.BUY, order_type=order_type,
                amount=Decimal(str(market["info"].get("ordermin") or 1)), price=last / 2, trigger_price=last * 2,
                trailing_offset=last / 100, trailing_percent=False, post_only=False,
                time_in_force=TimeInForce.GTC, expire_ts=0)
            validate = functools.partial(self._call, self._ccxt.private_post_addorder, params | {"validate": "true"},
                                         order=True)
            try:
                await self._retrying(validate)
            except OrderRejected as exc:
                if str(exc).startswith("EGeneral:Invalid arguments:ordertype"):
                    continue
            accepted.add(order_type)
        return frozenset(accepted)

    async def markets(self) -> dict[str, MarketInfo]:
        names = await self.names()
        return {pair: convert.market_info(pair, market) for pair, market in names.by_crypy.items()}

    async def timeframes(self, pair: str) -> list[str]:
        """Kraken's OHLC intervals: Kraken serves them all for every pair. (The simulator serves only those it
        replays and refuses the others with ``EGeneral:Invalid arguments:interval``.)"""
        await self._market(pair)
        return list(convert.OHLC_MINUTES)

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        market = await self._market(pair)
        if timeframe not in convert.OHLC_MINUTES:
            known = ", ".join(convert.OHLC_MINUTES)
            raise ExchangeError(f"EGeneral:Invalid arguments:interval ({timeframe}; Kraken has {known})")
        params: dict[str, Any] = {"pair": market["id"], "interval": convert.OHLC_MINUTES[timeframe]}
        if since_ms is not None:  # Kraken's since is exclusive and in seconds: ask one interval early
            params["since"] = max(0, (since_ms - timeframe_ms(timeframe)) // 1000)
        result = await self._result(self._ccxt.public_get_ohlc, params)
        rows = result.get(market["id"]) or next((v for k, v in result.items() if k != "last"), [])
        found = convert.candles(rows, result.get("last"), pair, timeframe)
        if since_ms is None:
            return found[-limit:]
        return [c for c in found if c.ts >= since_ms][:limit]

    async def ticker(self, pair: str) -> Ticker:
        market = await self._market(pair)
        result = await self._result(self._ccxt.public_get_ticker, {"pair": market["id"]})
        entry = result.get(market["id"]) or next(iter(result.values()))
        return Ticker(ts=self.now_ms(), pair=pair, bid=float(entry["b"][0]), ask=float(entry["a"][0]),
                      last=float(entry["c"][0]))

    async def public_trades(self, pair: str, since_ms: int) -> list[PublicTrade]:
        market = await self._market(pair)
        params = {"pair": market["id"], "since": convert.trades_since(since_ms)}
        return convert.public_trades(await self._result(self._ccxt.public_get_trades, params), market["id"])

    # -- account --------------------------------------------------------------------------------------------

    async def balances(self) -> dict[str, Balance]:
        names = await self.names()
        return convert.balances(await self._result(self._ccxt.private_post_balanceex), names)

    async def _orders(self, raw: dict[str, dict[str, Any]]) -> list[Order]:
        names = await self.names()
        orders = [convert.order(txid, entry, names, self._client_ids) for txid, entry in raw.items()]
        for order in orders:
            self._order_clients.setdefault(order.id, order.client_id)
        return sorted(orders, key=lambda o: (o.created, o.id))

    async def open_orders(self) -> list[Order]:
        return await self._orders((await self._result(self._ccxt.private_post_openorders))["open"])

    async def order(self, order_id: str) -> Order:
        found = await self._orders(await self._result(self._ccxt.private_post_queryorders, {"txid": order_id}))
        if not found:
            raise ExchangeError(f"{UNKNOWN_ORDER} ({order_id})")
        return found[0]

    async def orders(self, order_ids: Sequence[str]) -> dict[str, Order]:
        found: dict[str, Order] = {}
        for i in range(0, len(order_ids), _QUERY_BATCH):
            batch = ",".join(order_ids[i:i + _QUERY_BATCH])
            found.update((o.id, o) for o in await self._orders(
                await self._result(self._ccxt.private_post_queryorders, {"txid": batch})))
        return found

    async def order_by_client_id(self, client_id: str) -> Order | None:
        self.recall_client_ids([client_id])
        return await self._by_client_id(convert.kraken_client_id(client_id))

    def recall_client_ids(self, client_ids: Iterable[str]) -> None:
        self._client_ids.update((convert.kraken_client_id(client_id), client_id) for client_id in client_ids)

    async def _by_client_id(self, cl_ord_id: str) -> Order | None:
        """The order placed with ``cl_ord_id``, open or closed, or None when the exchange has none."""
        params = {"cl_ord_id": cl_ord_id}
        for fn, key in ((self._ccxt.private_post_openorders, "open"), (self._ccxt.private_post_closedorders, "closed")):
            found = await self._orders((await self._result(fn, params)).get(key) or {})
            if found:
                return found[0]
        return None

    async def place_order(self, *, client_id: str, pair: str, side: Side, order_type: OrderType, amount: Decimal,
                          price: Decimal | None = None, trigger_price: Decimal | None = None,
                          trailing_offset: Decimal | None = None, trailing_percent: bool = False,
                          post_only: bool = False, time_in_force: TimeInForce = TimeInForce.GTC,
                          expire_ts: int = 0) -> Order:
        """Place once: after an ambiguous failure, look the order up by its ``cl_ord_id`` before sending again."""
        market = await self._market(pair)
        cl_ord_id = convert.kraken_client_id(client_id)
        try:
            params = convert.add_order_params(
                market=market, cl_ord_id=cl_ord_id, side=side, order_type=order_type, amount=amount, price=price,
                trigger_price=trigger_price, trailing_offset=trailing_offset, trailing_percent=trailing_percent,
                post_only=post_only, time_in_force=time_in_force, expire_ts=expire_ts)
        except ValueError as exc:
            raise OrderRejected(f"EGeneral:Invalid arguments ({exc})") from None
        self._client_ids[cl_ord_id] = client_id
        failure: ExchangeError | None = None
        for tries in range(self.retries + 1):
            params["deadline"] = self._deadline()
            try:
                response = await self._call(self._ccxt.private_post_addorder, params, order=True)
            except ExchangeUnavailable as exc:
                failure = exc
            except OrderRejected as exc:
                if failure is None:  # a first refusal is final; after an ambiguous try it may mean "already placed"
                    raise
                failure = exc
            else:
                txid = str(response["result"]["txid"][0])
                self._order_clients[txid] = client_id
                try:
                    return await self.order(txid)  # the exchange's own view: its time, its status
                except ExchangeError:  # placed for sure; the details can wait for the next poll
                    return convert.sent_order(txid, client_id, pair, params, self.now_ms())
            try:
                placed = await self._by_client_id(cl_ord_id)
            except ExchangeUnavailable as exc:
                raise ExchangeUnavailable(f"order {client_id} may or may not be placed ({failure}); "
                                          f"looking it up failed: {exc}") from None
            if placed is not None:
                return placed
            if isinstance(failure, OrderRejected):
                raise failure
            if tries < self.retries:
                await trio.sleep(self._pause(tries))
        raise ExchangeUnavailable(f"order {client_id} not placed after {self.retries + 1} tries: {failure}")

    def _deadline(self) -> str:
        """Kraken drops an order still queued at its ``deadline`` (2 to 60 s ahead). Set to when this client stops
        waiting, an order whose request timed out can no longer be placed once the lookup that decides whether to
        send it again runs (exactly so for ``timeout_s`` >= 2; a shorter timeout narrows the window only)."""
        seconds = min(max(self._timeout_s, 2.0), 60.0)
        moment = datetime.fromtimestamp(time.time() + seconds, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    async def amend_order(self, order_id: str, *, amount: Decimal | None = None, price: Decimal | None = None,
                          trigger_price: Decimal | None = None) -> Order:
        """AmendOrder: setting absolute values, so retrying it is harmless."""
        current = await self.order(order_id)
        info = (await self._market(current.pair))["info"]
        params: dict[str, str] = {"txid": order_id}
        if amount is not None:
            params["order_qty"] = convert.plain(convert.rounded_amount(amount, int(info["lot_decimals"])))
        for key, value in (("limit_price", price), ("trigger_price", trigger_price)):
            if value is not None:
                params[key] = convert.plain(convert.rounded_price(value, int(info["pair_decimals"])))
        await self._retrying(lambda: self._call(self._ccxt.private_post_amendorder, params, order=True))
        return await self.order(order_id)

    async def cancel_order(self, order_id: str) -> Order:
        """Cancel, retrying while unavailable; "unknown order" after an ambiguous try means the first one worked."""
        ambiguous = False
        for tries in range(self.retries + 1):
            try:
                await self._call(self._ccxt.private_post_cancelorder, {"txid": order_id})
                break
            except ExchangeUnavailable:
                if tries == self.retries:
                    raise
                ambiguous = True
                await trio.sleep(self._pause(tries))
            except ExchangeError:
                if not ambiguous:
                    raise
                current = await self.order(order_id)
                if current.status is not OrderStatus.CANCELLED:
                    raise
                return current
        return await self.order(order_id)

    async def fills_since(self, cursor: int) -> tuple[list[Fill], int]:
        """Trades after ``cursor`` (a trade time in ms; 0 = all), oldest first, and the next cursor.

        Kraken filters by whole seconds, so a second earlier is asked for and the overlap dropped: trades older
        than the cursor, and those at the cursor's own millisecond that were handed out before.
        """
        names = await self.names()
        raw: dict[str, dict[str, Any]] = {}
        start = max(0, cursor // 1000 - 1)
        while True:  # TradesHistory pages 50 at a time, newest first
            page = await self._result(self._ccxt.private_post_tradeshistory, {"start": start, "ofs": len(raw)})
            trades = page.get("trades") or {}
            before = len(raw)
            raw.update(trades)
            if len(raw) == before or len(raw) >= int(page.get("count") or 0):
                break
        fresh = {tid: t for tid, t in reversed(raw.items())  # oldest first: execution order within one ms
                 if (ts := convert.to_ms(t["time"])) > cursor or (ts == cursor and tid not in self._at_cursor)}
        clients = await self._clients_of(str(t["ordertxid"]) for t in fresh.values())
        fills = sorted((convert.fill(tid, t, names, clients.get(str(t["ordertxid"]), "")) for tid, t in fresh.items()),
                       key=lambda f: f.ts)
        if fills:
            cursor = fills[-1].ts
            self._at_cursor = {tid for tid, t in raw.items() if convert.to_ms(t["time"]) == cursor}
        return fills, cursor

    async def _clients_of(self, order_ids: Iterable[str]) -> dict[str, str]:
        """crypy client ids of orders, asking the exchange (QueryOrders) about the ones this adapter never saw."""
        missing = sorted({oid for oid in order_ids if oid not in self._order_clients})
        for i in range(0, len(missing), _QUERY_BATCH):
            await self._orders(await self._result(self._ccxt.private_post_queryorders,
                                                  {"txid": ",".join(missing[i:i + _QUERY_BATCH])}))
        return self._order_clients

