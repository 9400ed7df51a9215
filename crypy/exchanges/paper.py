"""Paper trading: Kraken's real public data, with orders filled locally by the simulator's matching engine.

Market data (markets, timeframes, candles, ticker) comes from a ``KrakenCcxtExchange`` used without keys.
Balances, orders and fills live in a private ``MatchingEngine`` - the same engine the simulator runs - opened with
a paper balance and fed every candle that closes on the exchange, so an order fills exactly as it would in the
simulator at the same prices.

Time, for the engine, is the close of the newest candle it has been fed: an order placed now is decided by the
candles that close after it, never by one it could have seen. Before an order is placed the engine catches up
with the exchange; other calls catch up at most every ``refresh_s`` seconds (the exchange's public API is rate
limited), and only for the pairs that have live orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import trio

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderType, Side, Ticker, TimeInForce, timeframe_ms
from crypy.simulator import errors as sim_errors
from crypy.simulator.engine import MatchingEngine
from crypy.simulator.markets import MarketSpec

from .base import Capabilities, PublicTrade
from .ccxt_kraken import KrakenCcxtExchange
from .simulated import translated_sim_errors

PAPER_ACCOUNT = "paper"


def market_spec(pair: str, market: Mapping[str, Any]) -> MarketSpec:
    """The simulator's rules for a pair, from its raw Kraken AssetPairs entry (fees in percent, as Kraken's)."""
    info = market["info"]
    base, _, quote = pair.partition("/")
    taker = tuple((Decimal(str(volume)), Decimal(str(rate))) for volume, rate in info.get("fees") or [[0, 0]])
    maker = tuple((Decimal(str(volume)), Decimal(str(rate))) for volume, rate in info.get("fees_maker") or taker)
    rules: dict[str, Any] = dict(
        pair=pair, base=base, quote=quote, price_decimals=int(info["pair_decimals"]),
        amount_decimals=int(info["lot_decimals"]), cost_decimals=int(info.get("cost_decimals", 8)),
        min_amount=Decimal(str(info.get("ordermin") or 0)), min_cost=Decimal(str(info.get("costmin") or 0)),
        maker_fee=maker[0][1] / 100, taker_fee=taker[0][1] / 100)
    try:
        return MarketSpec(**rules, fee_tiers=taker, maker_tiers=maker)
    except ValueError:  # tiers the engine cannot use (e.g. rising with volume): the base tier alone
        return MarketSpec(**rules)


class PaperExchange:
    """A paper account on Kraken's live prices: public calls go to ``public``, private ones to a local engine."""

    def __init__(self, public: KrakenCcxtExchange, balances: Mapping[str, Decimal] | None = None, *,
                 timeframe: str = "1m", refresh_s: float = 5.0, spread: Decimal = Decimal("0.0005"),
                 fill_share: Decimal = Decimal("0.25")) -> None:
        self.name = public.name
        self.account = PAPER_ACCOUNT
        self.public = public
        self.timeframe = timeframe
        self._step = timeframe_ms(timeframe)
        self._balances = dict(balances if balances is not None else {"USD": Decimal(10000)})
        self._refresh_s = refresh_s
        self._spread, self._fill_share = spread, fill_share
        self._engine: MatchingEngine | None = None
        self._lock = trio.Lock()
        self._fed: dict[str, int] = {}  # pair -> open time of the newest candle fed
        self._refreshed = float("-inf")

    def __repr__(self) -> str:
        return f"PaperExchange(public={self.public!r}, timeframe={self.timeframe!r})"

    def now_ms(self) -> int:
        return self.public.now_ms()

    async def _ready(self) -> MatchingEngine:
        if self._engine is None:
            names = await self.public.names()
            engine = MatchingEngine({pair: market_spec(pair, market) for pair, market in names.by_crypy.items()},
                                    self._spread, fill_share=self._fill_share)
            engine.open_account(PAPER_ACCOUNT, self._balances)
            self._engine = engine
        return self._engine

    def market_time(self, pair: str) -> int:
        """The engine's now for ``pair``: when the newest candle it was fed closed (0 before any)."""
        return self._fed[pair] + self._step if pair in self._fed else 0

    async def catch_up(self, pairs: list[str] | None = None) -> list[Fill]:
        """Feed the engine every candle closed since the last one it saw (just the latest, the first time), for
        ``pairs`` or for every pair with live orders; returns the fills that produced."""
        engine = await self._ready()
        if pairs is None:
            pairs = sorted({order.pair for order in engine.open_orders(PAPER_ACCOUNT)})
        fills: list[Fill] = []
        async with self._lock:
            for pair in pairs:
                for candle in await self._new_candles(pair):
                    with translated_sim_errors():
                        fills.extend(engine.on_candle(candle))
                    self._fed[pair] = candle.ts
            self._refreshed = trio.current_time()
        return fills

    async def feed(self, candle: Candle) -> list[Fill]:
        """A candle that just closed (from a WebSocket feed): matched at once instead of at the next catch-up.

        Only the candle right after the newest one fed is taken directly; after a gap (or before any candle)
        the REST catch-up fills in, so the engine never skips or repeats a candle.
        """
        engine = await self._ready()
        if candle.timeframe != self.timeframe:
            return []
        async with self._lock:
            newest = self._fed.get(candle.pair)
            if newest is not None and candle.ts == newest + self._step:
                with translated_sim_errors():
                    fills = engine.on_candle(candle)
                self._fed[candle.pair] = candle.ts
                return fills
        if newest is None or candle.ts > newest:
            return await self.catch_up([candle.pair])
        return []

    async def _new_candles(self, pair: str) -> list[Candle]:
        if pair not in self._fed:
            return await self.public.candles(pair, self.timeframe, limit=1)
        found: list[Candle] = []
        while True:
            since = (found[-1].ts if found else self._fed[pair]) + self._step
            page = await self.public.candles(pair, self.timeframe, since_ms=since)
            found.extend(page)
            if len(page) < 720:
                return found

    async def _fresh(self) -> MatchingEngine:
        """The engine, caught up if the last catch-up is older than ``refresh_s``."""
        if trio.current_time() - self._refreshed >= self._refresh_s:
            await self.catch_up()
        return await self._ready()

    # -- public data: the exchange's -------------------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        public = await self.public.capabilities()
        return Capabilities(order_types=frozenset(OrderType), time_in_force=frozenset(TimeInForce), post_only=True,
                            amend=True, max_candles=public.max_candles, pair_status=public.pair_status,
                            persistent=False)

    async def markets(self) -> dict[str, MarketInfo]:
        return await self.public.markets()

    async def timeframes(self, pair: str) -> list[str]:
        return await self.public.timeframes(pair)

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        return await self.public.candles(pair, timeframe, since_ms, limit)

    async def ticker(self, pair: str) -> Ticker:
        return await self.public.ticker(pair)

    async def public_trades(self, pair: str, since_ms: int) -> list[PublicTrade]:
        return await self.public.public_trades(pair, since_ms)

    # -- the paper account: the engine's ----------------------------------------------------------------------

    async def balances(self) -> dict[str, Balance]:
        return (await self._fresh()).balances(PAPER_ACCOUNT)

    async def place_order(self, *, client_id: str, pair: str, side: Side, order_type: OrderType, amount: Decimal,
                          price: Decimal | None = None, trigger_price: Decimal | None = None,
                          trailing_offset: Decimal | None = None, trailing_percent: bool = False,
                          post_only: bool = False, time_in_force: TimeInForce = TimeInForce.GTC,
                          expire_ts: int = 0) -> Order:
        engine = await self._ready()
        await self.catch_up([pair])
        with translated_sim_errors():
            return engine.place(
                PAPER_ACCOUNT, client_id=client_id, pair=pair, side=side, order_type=order_type, amount=amount,
                price=price, trigger_price=trigger_price, trailing_offset=trailing_offset,
                trailing_percent=trailing_percent, post_only=post_only, time_in_force=time_in_force,
                expire_ts=expire_ts, now_ms=self.market_time(pair))

    async def amend_order(self, order_id: str, *, amount: Decimal | None = None, price: Decimal | None = None,
                          trigger_price: Decimal | None = None) -> Order:
        engine = await self._fresh()
        with translated_sim_errors():
            pair = engine.order(PAPER_ACCOUNT, order_id).pair
            return engine.amend(PAPER_ACCOUNT, order_id, amount=amount, price=price, trigger_price=trigger_price,
                                now_ms=self.market_time(pair))

    async def cancel_order(self, order_id: str) -> Order:
        engine = await self._fresh()
        with translated_sim_errors():
            pair = engine.order(PAPER_ACCOUNT, order_id).pair
            return engine.cancel(PAPER_ACCOUNT, order_id, now_ms=self.market_time(pair))

    async def open_orders(self) -> list[Order]:
        return (await self._fresh()).open_orders(PAPER_ACCOUNT)

    async def order(self, order_id: str) -> Order:
        engine = await self._fresh()
        with translated_sim_errors():
            return engine.order(PAPER_ACCOUNT, order_id)

    async def orders(self, order_ids: Sequence[str]) -> dict[str, Order]:
        engine = await self._fresh()
        found = {}
        for order_id in order_ids:
            try:
                found[order_id] = engine.order(PAPER_ACCOUNT, order_id)
            except sim_errors.ExchangeError:
                continue
        return found

    async def order_by_client_id(self, client_id: str) -> Order | None:
        engine = await self._fresh()
        try:
            return engine.order_by_client_id(PAPER_ACCOUNT, client_id)
        except sim_errors.ExchangeError:
            return None

    async def watch_orders(self, changed: trio.MemorySendChannel[Any],
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Paper fills happen in this process: the desk's polls see them at once."""
        task_status.started()

    def recall_client_ids(self, client_ids: Iterable[str]) -> None:
        """A paper account lives as long as its process: there is nothing earlier to translate."""

    async def fills_since(self, cursor: int) -> tuple[list[Fill], int]:
        fills = (await self._fresh()).fills(PAPER_ACCOUNT, cursor)
        return fills, cursor + len(fills)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the engine caught up every ``refresh_s`` even when nobody asks (fills then happen on time)."""
        task_status.started()
        while True:
            await self.catch_up()
            await trio.sleep(self._refresh_s)

    async def close(self) -> None:
        await self.public.close()
