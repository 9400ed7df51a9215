"""Price envelopes: Bollinger bands, Donchian channel, range over N bars, and the average true range."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .base import Indicator, LiveIndicator, Number, Series, Values
from .moving import MAX_WINDOW, WindowIndicator, sma
from .windows import as_series, per_window, row_std


class Bollinger(WindowIndicator):
    """Mean of the close over ``window`` and bands ``k`` population standard deviations (ddof 0) around it."""

    name = "bollinger"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (1, MAX_WINDOW), "k": (0.0, 100.0)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20, "k": 2.0}
    outputs = ("mid", "upper", "lower")

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        mid = sma(close, self.window)
        width = self.params["k"] * per_window(close, self.window, lambda block: row_std(block, 0))
        return {"mid": mid, "upper": mid + width, "lower": mid - width}


class Donchian(WindowIndicator):
    """Highest high and lowest low of the last ``window`` candles."""

    name = "donchian"
    defaults: ClassVar[dict[str, Number]] = {"window": 20}
    outputs = ("upper", "lower")

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        return {"upper": per_window(high, self.window, lambda block: block.max(axis=1)),
                "lower": per_window(low, self.window, lambda block: block.min(axis=1))}


class Range(WindowIndicator):
    """Highest high minus lowest low of the last ``window`` candles: how far price travelled."""

    name = "range"
    outputs = ("range",)

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        channel = Donchian(window=self.window).compute(open, high, low, close, volume)
        return {"range": channel["upper"] - channel["lower"]}


class ATR(Indicator):
    """Average true range with Wilder's smoothing, as ``ta``: the first value (index ``window - 1``) is the plain
    mean of the first ``window`` true ranges; the first true range is that candle's high - low."""

    name = "atr"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (1, MAX_WINDOW)}
    defaults: ClassVar[dict[str, Number]] = {"window": 14}
    outputs = ("atr",)

    @property
    def warmup(self) -> int:
        return int(self.params["window"]) - 1

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        high, low, close = as_series(high), as_series(low), as_series(close)
        previous = np.concatenate(([np.nan], close[:-1]))
        true_range = np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))
        return {"atr": AtrLive(int(self.params["window"])).smooth_many(true_range)}

    def live(self) -> LiveIndicator:
        return AtrLive(int(self.params["window"]))


class AtrLive:
    """ATR one candle at a time; ``smooth`` is the recursion ``ATR.compute`` runs too."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._first: list[float] = []
        self._atr = math.nan
        self._previous = math.nan

    def smooth(self, true_range: float) -> float:
        """Feed one true range; the ATR so far, NaN during warmup."""
        if len(self._first) < self._window:
            self._first.append(true_range)
            if len(self._first) == self._window:
                self._atr = sum(self._first) / self._window
        else:
            self._atr = (self._atr * (self._window - 1) + true_range) / self._window
        return self._atr

    def smooth_many(self, true_ranges: np.ndarray) -> np.ndarray:
        """``smooth`` on each true range in turn, the same floats, with one method call for the whole series."""
        out = true_ranges.tolist()
        filling = min(max(self._window - len(self._first), 0), len(out))
        for i in range(filling):
            out[i] = self.smooth(out[i])
        window, atr = self._window, self._atr
        for i in range(filling, len(out)):
            atr = (atr * (window - 1) + out[i]) / window
            out[i] = atr
        self._atr = atr
        return np.array(out, dtype=np.float64)

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> Values | None:
        previous, self._previous = self._previous, close
        if previous != previous:
            true_range = high - low
        else:
            true_range = max(high - low, abs(high - previous), abs(low - previous))
        atr = self.smooth(true_range)
        return None if atr != atr else {"atr": atr}
