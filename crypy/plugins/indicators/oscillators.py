"""RSI and MACD, smoothed exactly as the ``ta`` package smooths them, so values can be checked against it."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .base import Ewm, Indicator, LiveIndicator, Number, Series, Values, ewm_series, nan_before
from .moving import MAX_WINDOW
from .windows import as_series


def rsi_value(up: float, down: float) -> float:
    """RSI from the smoothed gain and loss; 100 when there was no loss at all (as ``ta``)."""
    return 100.0 if down == 0 else 100 - 100 / (1 + up / down)


class RSI(Indicator):
    """Relative strength index with Wilder's smoothing (``alpha = 1 / window``).

    As ``ta``, the first candle counts as a zero change, so the first value comes at index ``window - 1``.
    """

    name = "rsi"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (1, MAX_WINDOW)}
    defaults: ClassVar[dict[str, Number]] = {"window": 14}
    outputs = ("rsi",)

    @property
    def warmup(self) -> int:
        return int(self.params["window"]) - 1

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        close = as_series(close)
        change = np.diff(close, prepend=close[:1])
        alpha = 1 / self.params["window"]
        up = ewm_series(np.where(change > 0, change, 0.0), Ewm(alpha=alpha))
        down = ewm_series(np.where(change < 0, -change, 0.0), Ewm(alpha=alpha))
        with np.errstate(divide="ignore", invalid="ignore"):
            rsi = np.where(down == 0, 100.0, 100 - 100 / (1 + up / down))
        return {"rsi": nan_before(rsi, self.warmup)}

    def live(self) -> LiveIndicator:
        return RsiLive(1 / self.params["window"], self.warmup)


class RsiLive:
    """RSI one candle at a time: the same steps as ``RSI.compute``."""

    def __init__(self, alpha: float, warmup: int) -> None:
        self._up = Ewm(alpha=alpha)
        self._down = Ewm(alpha=alpha)
        self._previous = math.nan
        self._left = warmup

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> Values | None:
        change = 0.0 if self._previous != self._previous else close - self._previous
        self._previous = close
        up = self._up.update(change if change > 0 else 0.0)
        down = self._down.update(-change if change < 0 else 0.0)
        if self._left:
            self._left -= 1
            return None
        return {"rsi": rsi_value(up, down)}


class MACD(Indicator):
    """MACD line (fast EMA - slow EMA of the close), its signal EMA, and the histogram (line - signal).

    The line exists from index ``slow - 1``; the signal EMA is seeded there, so all three from
    ``slow + signal - 2`` (as ``ta``).
    """

    name = "macd"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {
        "fast": (1, MAX_WINDOW), "slow": (2, MAX_WINDOW), "signal": (1, MAX_WINDOW)}
    defaults: ClassVar[dict[str, Number]] = {"fast": 12, "slow": 26, "signal": 9}
    outputs = ("macd", "signal", "hist")

    def check(self) -> None:
        if self.params["fast"] >= self.params["slow"]:
            raise ValueError(f"macd: fast ({self.params['fast']}) must be below slow ({self.params['slow']})")

    @property
    def warmup(self) -> int:
        return int(self.params["slow"] + self.params["signal"]) - 2

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        close = as_series(close)
        start = int(self.params["slow"]) - 1
        line = ewm_series(close, Ewm(span=self.params["fast"])) - ewm_series(close, Ewm(span=self.params["slow"]))
        signal = np.full(close.shape[0], np.nan)
        signal[start:] = ewm_series(line[start:], Ewm(span=self.params["signal"]))
        out = {"macd": line, "signal": signal, "hist": line - signal}
        return {key: nan_before(values, self.warmup) for key, values in out.items()}

    def live(self) -> LiveIndicator:
        return MacdLive(self.params, self.warmup)


class MacdLive:
    """MACD one candle at a time: the same steps as ``MACD.compute``."""

    def __init__(self, params: dict[str, Number], warmup: int) -> None:
        self._fast = Ewm(span=params["fast"])
        self._slow = Ewm(span=params["slow"])
        self._signal = Ewm(span=params["signal"])
        self._line_starts = int(params["slow"]) - 1
        self._count = 0
        self._warmup = warmup

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> Values | None:
        line = self._fast.update(close) - self._slow.update(close)
        self._count += 1
        if self._count <= self._line_starts:
            return None
        signal = self._signal.update(line)
        if self._count <= self._warmup:
            return None
        return {"macd": line, "signal": signal, "hist": line - signal}
