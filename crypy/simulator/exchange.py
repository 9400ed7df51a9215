"""The simulated exchange as one object: recorded markets replayed on a clock, with a matching engine trading them.

Everything an adapter calls is synchronous and cheap, so an adapter can serve a REST or WebSocket request
straight from it; only ``run`` is async (it drives market time). Account-scoped methods take the account first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec
import trio

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderType, Side, Ticker, TimeInForce

from .bookkeeping import Listener
from .candles import bundled_candle_files, load_candles
from .engine import MatchingEngine
from .errors import UNKNOWN_PAIR, ExchangeError
from .market_stats import BOOK_CANDLES, OrderBook, PublicTape, PublicTrade, TickerStats, order_book, ticker_stats
from .markets import DEFAULT_MARKETS, MarketSpec
from .matching import ask, bid
from .placement import NO_PRICE_YET
from .replay import MAX_ROWS, MarketReplay

INVALID_INTERVAL = "EGeneral:Invalid arguments:interval"


def _bundled_files() -> list[str]:
    return [str(path) for path in bundled_candle_files()]


def _default_accounts() -> dict[str, dict[str, Decimal]]:
    return {"default": {"USD": Decimal(10000), "XBT": Decimal("0.25")}}


class SimConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What to simulate. A Struct so it can be read from a config file with ``msgspec.convert``.

    ``markets`` defaults to ``DEFAULT_MARKETS``; either way only the pairs present in the data are traded.
    ``fill_share`` is the most of one candle's volume a resting limit order may fill (``MatchingEngine``).
    """

    data_files: list[str] = msgspec.field(default_factory=_bundled_files)
    speed: float = 3600.0
    warmup: int = 720
    spread: Decimal = Decimal("0.0005")
    seed: int = 0
    accounts: dict[str, dict[str, Decimal]] = msgspec.field(default_factory=_default_accounts)
    markets: dict[str, MarketSpec] | None = None
    fill_share: Decimal = Decimal("0.25")


class SimExchange:
    """A whole exchange in-process: market data, accounts, orders, fills and the public tape and book."""

    def __init__(self, config: SimConfig, candles: Mapping[str, list[Candle]] | None = None) -> None:
        """``candles``: the series of ``config.data_files`` already read, by file name (a backtest has read them to
        cut them to its range; reading them again would double the memory a long replay takes)."""
        series = dict(candles) if candles is not None else {
            Path(file).name: load_candles(file) for file in config.data_files}
        self._replay = MarketReplay(series, config.speed, config.warmup)
        known = DEFAULT_MARKETS if config.markets is None else config.markets
        missing = [pair for pair in self._replay.pairs if pair not in known]
        if missing:
            raise ValueError(
                f"no market spec for {', '.join(missing)} (known: {', '.join(sorted(known))}); "
                "add it to SimConfig.markets"
            )
        self._specs = {pair: known[pair] for pair in self._replay.pairs}
        self._engine = MatchingEngine(self._specs, config.spread, config.seed, config.fill_share)
        for name, balances in config.accounts.items():
            self._engine.open_account(name, balances)
        self._matching_timeframe = {pair: timeframes[0] for pair, timeframes in self._replay.timeframes.items()}
        self._tapes = {pair: PublicTape(spec) for pair, spec in self._specs.items()}
        self._candle_listeners: list[Callable[[Sequence[Candle]], None]] = []
        for pair, timeframe in self._matching_timeframe.items():
            history = self._replay.published(pair, timeframe)
            for candle in history:
                self._tapes[pair].record(candle, [])
            if history:
                self._engine.on_candle(history[-1])

    @property
    def finished(self) -> trio.Event:
        """Set when the data has run out; the exchange still answers queries afterwards."""
        return self._replay.finished

    @property
    def pairs(self) -> tuple[str, ...]:
        return self._replay.pairs

    @property
    def spread(self) -> Decimal:
        return self._engine.spread

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._replay.run(self._on_close, task_status=task_status)

    def start(self) -> None:
        """Start market time without ``run``: for a driver that closes candles itself (``close_next``)."""
        self._replay.start()

    def next_due(self) -> float | None:
        """The trio time the next candle closes at; None at the end of the data (``finished`` is then set)."""
        return self._replay.next_due()

    def upcoming(self, count: int) -> list[Candle]:
        """The next ``count`` candles to close, not closed yet (``MarketReplay.upcoming``)."""
        return self._replay.upcoming(count)

    def close_next(self) -> Candle:
        """Close the next candle as ``run`` would at its time: matching, the tape, then the candle listeners."""
        candle = self._replay.publish_next()
        self._on_close(candle)
        return candle

    @property
    def quiet(self) -> bool:
        """No order is live: candles may close in bulk (``close_quietly``)."""
        return self._engine.idle

    def due_in(self, index: int) -> float:
        """The trio time the candle ``index`` places after the next one closes at."""
        return self._replay.due_in(index)

    def closing_before(self, time: float, limit: int) -> int:
        """How many of the next ``limit`` candles close strictly before trio time ``time``."""
        return self._replay.closing_before(time, limit)

    def close_quietly(self, count: int) -> list[Candle]:
        """Close the next ``count`` candles at once while no order is live (``quiet``): what ``close_next`` would
        do to each, without a fill to decide, and each candle listener called once with them all."""
        candles = self._replay.publish_many(count)
        matching = [c for c in candles if c.timeframe == self._matching_timeframe[c.pair]]
        self._engine.pass_quietly(matching)
        for candle in matching:
            self._tapes[candle.pair].record(candle, [])
        for listener in self._candle_listeners:
            listener(candles)
        return candles

    def now_ms(self) -> int:
        return self._replay.now_ms()

    def add_listener(self, callback: Listener) -> None:
        """``callback(account, event)`` for every order change and fill, synchronously (``MatchingEngine``)."""
        self._engine.add_listener(callback)

    def add_candle_listener(self, callback: Callable[[Sequence[Candle]], None]) -> None:
        """``callback(candles)`` for every candle of every timeframe as it closes, after matching ran on it: one
        at a time, or many at once when a backtest closes them in bulk (``close_quietly``)."""
        self._candle_listeners.append(callback)

    def markets(self) -> dict[str, MarketInfo]:
        return {pair: spec.info() for pair, spec in self._specs.items()}

    def specs(self) -> dict[str, MarketSpec]:
        """The full trading rules (decimals, minimums, fee tiers) of every pair traded."""
        return dict(self._specs)

    def timeframes(self, pair: str) -> list[str]:
        """The timeframes replayed for ``pair``, finest first."""
        self._require_pair(pair)
        return list(self._replay.timeframes[pair])

    def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = MAX_ROWS) -> list[Candle]:
        self._require_pair(pair)
        if timeframe not in self._replay.timeframes[pair]:
            raise ExchangeError(INVALID_INTERVAL, f"{pair} has {', '.join(self._replay.timeframes[pair])}")
        return self._replay.closed_candles(pair, timeframe, since_ms, limit)

    def ticker(self, pair: str) -> Ticker:
        """Bid and ask half a spread around the last close: the prices a market order would get now."""
        spec, last = self._spec(pair), self._last(pair)
        spread = self._engine.spread
        return Ticker(
            ts=self.now_ms(), pair=pair, bid=float(bid(spec, last, spread)), ask=float(ask(spec, last, spread)),
            last=float(last),
        )

    def ticker_stats(self, pair: str) -> TickerStats:
        """Kraken's Ticker fields: best levels of ``order_book`` and 24 h / today statistics of the tape."""
        return ticker_stats(self._tapes[pair], self._spec(pair), self.order_book(pair, 1), self._last(pair),
                            self.now_ms())

    def order_book(self, pair: str, depth: int = 10) -> OrderBook:
        """Synthetic levels around the quotes merged with every account's resting limit orders, best first."""
        spec, last = self._spec(pair), self._last(pair)
        spread = self._engine.spread
        return order_book(spec, bid(spec, last, spread), ask(spec, last, spread),
                          self._tapes[pair].recent_candles(BOOK_CANDLES), self._engine.resting_orders(pair), depth,
                          self.now_ms())

    def public_trades(self, pair: str, since_ms: int | None = None, limit: int = 1000) -> list[PublicTrade]:
        """The tape: the latest ``limit`` trades, or the first ``limit`` at or after ``since_ms``; ids increase."""
        self._require_pair(pair)
        return self._tapes[pair].trades(since_ms, limit)

    def balances(self, account: str) -> dict[str, Balance]:
        return self._engine.balances(account)

    def place_order(
        self,
        account: str,
        client_id: str,
        pair: str,
        side: Side,
        order_type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        *,
        trigger_price: Decimal | None = None,
        trailing_offset: Decimal | None = None,
        trailing_percent: bool = False,
        post_only: bool = False,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_ts: int = 0,
        userref: int = 0,
        validate: bool = False,
    ) -> Order:
        """Place (or with ``validate`` only check) an order at the current market time (``MatchingEngine.place``)."""
        return self._engine.place(
            account, client_id=client_id, pair=pair, side=side, order_type=order_type, amount=amount, price=price,
            trigger_price=trigger_price, trailing_offset=trailing_offset, trailing_percent=trailing_percent,
            post_only=post_only, time_in_force=time_in_force, expire_ts=expire_ts, userref=userref,
            validate=validate, now_ms=self.now_ms(),
        )

    def amend_order(
        self,
        account: str,
        order_id: str,
        *,
        amount: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> Order:
        return self._engine.amend(account, order_id, amount=amount, price=price, trigger_price=trigger_price,
                                  now_ms=self.now_ms())

    def cancel_order(self, account: str, order_id: str) -> Order:
        return self._engine.cancel(account, order_id, now_ms=self.now_ms())

    def cancel_all(self, account: str) -> int:
        return self._engine.cancel_all(account, self.now_ms())

    def order(self, account: str, order_id: str) -> Order:
        return self._engine.order(account, order_id)

    def order_by_client_id(self, account: str, client_id: str) -> Order:
        return self._engine.order_by_client_id(account, client_id)

    def order_triggered(self, account: str, order_id: str) -> bool:
        """Whether a stop, take-profit or trailing order has fired (an ``Order`` event cannot say so)."""
        return self._engine.triggered(account, order_id)

    def orders(self, account: str) -> list[Order]:
        return self._engine.orders(account)

    def open_orders(self, account: str) -> list[Order]:
        return self._engine.open_orders(account)

    def closed_orders(self, account: str) -> list[Order]:
        return self._engine.closed_orders(account)

    def fill(self, account: str, fill_id: str) -> Fill:
        return self._engine.fill(account, fill_id)

    def fills(self, account: str, since_index: int = 0) -> list[Fill]:
        return self._engine.fills(account, since_index)

    def fee_rates(self, account: str, pair: str) -> tuple[Decimal, Decimal]:
        """``(maker, taker)`` fractions ``account`` pays on ``pair`` now, by its 30-day volume."""
        self._require_pair(pair)
        return self._engine.fee_rates(account, pair)

    def volume(self, account: str) -> Decimal:
        return self._engine.volume(account)

    def _on_close(self, candle: Candle) -> None:
        """Match on each pair's finest timeframe only, so a pair replayed in two timeframes trades once."""
        if candle.timeframe == self._matching_timeframe[candle.pair]:
            self._tapes[candle.pair].record(candle, self._engine.on_candle(candle))
        for listener in self._candle_listeners:
            listener((candle,))

    def _spec(self, pair: str) -> MarketSpec:
        self._require_pair(pair)
        return self._specs[pair]

    def _last(self, pair: str) -> Decimal:
        self._require_pair(pair)
        last = self._engine.last_price(pair)
        if last is None:
            raise ExchangeError(NO_PRICE_YET, f"no price for {pair} yet")
        return last

    def _require_pair(self, pair: str) -> None:
        if pair not in self._matching_timeframe:
            raise ExchangeError(UNKNOWN_PAIR, pair)
