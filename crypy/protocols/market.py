"""Market data: what the exchange says prices are.

Candle prices are floats: they are observations, not money held. Anything that becomes money (an order
price, a fill) is turned into a ``Decimal`` and rounded to the market's precision at the exchange boundary.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import msgspec

from .base import Event


@functools.lru_cache(maxsize=64)
def timeframe_ms(timeframe: str) -> int:
    """Length of a timeframe such as ``1m``, ``15m``, ``1h``, ``1d`` in milliseconds (cached: called per candle)."""
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    try:
        count, unit = int(timeframe[:-1]), timeframe[-1]
        return count * units[unit]
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"unknown timeframe {timeframe!r} (expected e.g. 1m, 15m, 1h, 1d)") from None


class Candle(Event, frozen=True, kw_only=True):
    """One OHLCV candle. ``ts`` is the candle's OPEN time; a candle is only published once closed."""

    pair: str
    timeframe: str
    open: float
    high: float
    low: float
    close: float
    volume: float


class CandleBatch(Event, frozen=True, kw_only=True):
    """Consecutive candles of one pair and timeframe as columns: the cheap way to move history in bulk."""

    pair: str
    timeframe: str
    times: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    request_id: str = ""

    @classmethod
    def from_candles(cls, pair: str, timeframe: str, candles: Sequence[Candle], *, ts: int,
                     request_id: str = "") -> CandleBatch:
        return cls(
            ts=ts,
            pair=pair,
            timeframe=timeframe,
            times=[c.ts for c in candles],
            open=[c.open for c in candles],
            high=[c.high for c in candles],
            low=[c.low for c in candles],
            close=[c.close for c in candles],
            volume=[c.volume for c in candles],
            request_id=request_id,
        )

    def __len__(self) -> int:
        return len(self.times)

    def candles(self) -> Iterator[Candle]:
        for t, o, h, lo, c, v in zip(self.times, self.open, self.high, self.low, self.close, self.volume, strict=True):
            yield Candle(ts=t, pair=self.pair, timeframe=self.timeframe, open=o, high=h, low=lo, close=c, volume=v)


class Ticker(Event, frozen=True, kw_only=True):
    """Best bid/ask and last trade price of a pair."""

    pair: str
    bid: float
    ask: float
    last: float


class HistoryRequest(Event, frozen=True, kw_only=True):
    """An actor asks the desk for cached candles; the desk answers with a ``CandleBatch`` carrying ``request_id``."""

    request_id: str
    requester: str
    pair: str
    timeframe: str
    limit: int = 720


class MarketInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What an exchange allows on one pair: precision and minimums (the subset the desk and traders need)."""

    pair: str
    base: str
    quote: str
    price_decimals: int
    amount_decimals: int
    min_amount: str
    min_cost: str
    maker_fee: str
    taker_fee: str
