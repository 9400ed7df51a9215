"""A strategy with the classic backtest bug, for the learning test: its history evaluation peeks one candle ahead.

``targets`` holds the base through the next candle whenever that candle will rise by more than ``margin`` (open to
next open), which no live stream can know; live, it can only chase the candle that just closed. The evaluation shines, the trading pays the fee on every turn and loses: the
holder's memory has to learn it from what the trader did, not from what the simulation promised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from crypy.plugins import Candles, Strategy
from crypy.plugins.indicators import Indicator


class ChaseLive:
    """Live, tomorrow is unknown: hold the base after a candle that rose, the quote after one that fell."""

    def __init__(self) -> None:
        self.signal = math.nan
        self._last: float | None = None

    def update(self, time: int, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        last, self._last = self._last, close
        if last is None:
            return None
        self.signal = 1.0 if close > last else 0.0
        return self.signal


class Hindsight(Strategy):
    name: ClassVar[str] = "hindsight"
    param_ranges: ClassVar[dict[str, tuple[float, float]]] = {"margin": (0.0, 0.1)}
    defaults: ClassVar[dict[str, float]] = {"margin": 0.006}

    def features(self) -> dict[str, Indicator]:
        return {}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        open_ = frame["open"]
        entry = np.append(open_[1:], np.inf)  # the look-ahead: the next candle's open, and the one after
        leave = np.append(open_[2:], [-np.inf, -np.inf])
        return (leave > (1 + self.params["margin"]) * entry).astype(np.float64)

    def targets(self, candles: Candles) -> np.ndarray:
        return self.signals(candles)

    def live(self) -> ChaseLive:
        return ChaseLive()
