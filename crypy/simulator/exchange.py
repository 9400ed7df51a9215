"""The simulated exchange as one object: recorded markets replayed on a clock, with a matching engine trading them.

Everything an adapter calls is synchronous and cheap, so an adapter can serve a REST or WebSocket request
straight from it; only ``run`` is async (it drives market time).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import trio

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderType, Side, Ticker

from .candles import bundled_candle_files, load_candles
from .engine import NO_PRICE_YET, MatchingEngine
from .errors import UNKNOWN_PAIR, ExchangeError
from .markets import DEFAULT_MARKETS, MarketSpec
from .matching import ask, bid
from .replay import MAX_ROWS, MarketReplay

INVALID_INTERVAL = "EGeneral:Invalid arguments:interval"


def _bundled_files() -> list[str]:
    return [str(path) for path in bundled_candle_files()]


def _default_accounts() -> dict[str, dict[str, Decimal]]:
    return {"default": {"USD": Decimal(10000), "XBT": Decimal("0.25")}}


class SimConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What to simulate. A Struct so it can be read from a config file with ``msgspec.convert``.

    ``markets`` defaults to ``DEFAULT_MARKETS``; either way only the pairs present in the data are traded.
    """

    data_files: list[str] = msgspec.field(default_factory=_bundled_files)
    speed: float = 3600.0
    warmup: int = 720
    spread: Decimal = Decimal("0.0005")
    seed: int = 0
    accounts: dict[str, dict[str, Decimal]] = msgspec.field(default_factory=_default_accounts)
    markets: dict[str, MarketSpec] | None = None


class SimExchange:
    """A whole exchange in-process: market data, accounts, orders and fills."""

    def __init__(self, config: SimConfig) -> None:
        series = {Path(file).name: load_candles(file) for file in config.data_files}
        self._replay = MarketReplay(series, config.speed, config.warmup)
        known = DEFAULT_MARKETS if config.markets is None else config.markets
        missing = [pair for pair in self._replay.pairs if pair not in known]
        if missing:
            raise ValueError(
                f"no market spec for {', '.join(missing)} (known: {', '.join(sorted(known))}); add it to SimConfig.markets"
            )
        self._engine = MatchingEngine({pair: known[pair] for pair in self._replay.pairs}, config.spread, config.seed)
        for name, balances in config.accounts.items():
            self._engine.open_account(name, balances)
        self._matching_timeframe = {pair: timeframes[0] for pair, timeframes in self._replay.timeframes.items()}
        for pair, timeframe in self._matching_timeframe.items():
            for candle in self._replay.closed_candles(pair, timeframe, limit=1):
                self._engine.on_candle(candle)

    @property
    def finished(self) -> trio.Event:
        """Set when the data has run out; the exchange still answers queries afterwards."""
        return self._replay.finished

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._replay.run(self._on_close, task_status=task_status)

    def now_ms(self) -> int:
        return self._replay.now_ms()

    def markets(self) -> dict[str, MarketInfo]:
        return {pair: spec.info() for pair, spec in self._engine.markets.items()}

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
        self._require_pair(pair)
        last = self._engine.last_price(pair)
        if last is None:
            raise ExchangeError(NO_PRICE_YET, f"no price for {pair} yet")
        spec, spread = self._engine.markets[pair], self._engine.spread
        return Ticker(
            ts=self.now_ms(), pair=pair, bid=float(bid(spec, last, spread)), ask=float(ask(spec, last, spread)),
            last=float(last),
        )

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
    ) -> Order:
        return self._engine.place(
            account, client_id=client_id, pair=pair, side=side, order_type=order_type, amount=amount, price=price,
            now_ms=self.now_ms(),
        )

    def cancel_order(self, account: str, order_id: str) -> Order:
        return self._engine.cancel(account, order_id, now_ms=self.now_ms())

    def order(self, account: str, order_id: str) -> Order:
        return self._engine.order(account, order_id)

    def orders(self, account: str) -> list[Order]:
        return self._engine.orders(account)

    def open_orders(self, account: str) -> list[Order]:
        return self._engine.open_orders(account)

    def fills(self, account: str, since_index: int = 0) -> list[Fill]:
        return self._engine.fills(account, since_index)

    def _on_close(self, candle: Candle) -> None:
        """Match on each pair's finest timeframe only, so a pair replayed in two timeframes trades once."""
        if candle.timeframe == self._matching_timeframe[candle.pair]:
            self._engine.on_candle(candle)

    def _require_pair(self, pair: str) -> None:
        if pair not in self._matching_timeframe:
            raise ExchangeError(UNKNOWN_PAIR, pair)
