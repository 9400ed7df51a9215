"""RSI mean reversion: buy an oversold market, sized by how oversold it is, and sell once it has recovered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ..indicators import RSI, Indicator
from ..strategy import ExitRules, Feature, Number, Strategy
from .sizing import strength


class RsiReversion(Strategy):
    """Entry while RSI(window) < oversold, exit once RSI > exit_level, no signal (hold) in between.

    Strength: the depth below the oversold line as a fraction of it, ``(oversold - rsi) / oversold``, clipped to
    [0.1, 1] (``sizing.strength``): with oversold 30, RSI 27 buys a tenth, RSI 15 half, RSI 0 everything. The
    target follows the depth on every oversold candle, so a deeper dip adds to the position.
    """

    name: ClassVar[str] = "rsi_reversion"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {
        "window": (2, 200), "oversold": (5.0, 50.0), "exit_level": (20.0, 95.0)}
    defaults: ClassVar[dict[str, Number]] = {"window": 14, "oversold": 30.0, "exit_level": 55.0}
    exits: ClassVar[ExitRules] = ExitRules(stop_loss=0.05, take_profit=0.08)
    lookback: ClassVar[int] = 1

    def check(self) -> None:
        if self.params["oversold"] >= self.params["exit_level"]:
            raise ValueError(f"{self.name}: oversold must be < exit_level, got oversold={self.params['oversold']}, "
                             f"exit_level={self.params['exit_level']}")

    def features(self) -> dict[str, Feature | Indicator]:
        return {"rsi": RSI(window=self.params["window"])}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        rsi, oversold = frame["rsi"], self.params["oversold"]
        entry = strength((oversold - rsi) / oversold)
        return np.where(rsi < oversold, entry, np.where(rsi > self.params["exit_level"], 0.0, np.nan))
