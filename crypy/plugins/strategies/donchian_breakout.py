"""Donchian breakout: buy a close above the previous candle's channel high, sell below the exit channel's low."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ..indicators import ATR, Donchian, Indicator
from ..strategy import ExitRules, Feature, Number, Strategy, previous
from .sizing import strength


class DonchianBreakout(Strategy):
    """Entry when the close breaks above the highest high of the ``window`` candles before it; exit when it falls
    below the lowest low of the ``exit_window`` candles before it (a shorter window gives back less, as the
    turtles did); no signal (hold) in between. A volatility filter, ``min_break`` average true ranges, ignores
    breaks too small to tell from noise (0, the default, takes every break).

    Strength: the breakout's distance in average true ranges, ``(close - upper) / ATR(atr_window)``, clipped to
    [0.1, 1] (``sizing.strength``): a close a full ATR beyond the channel is a decisive break, a marginal poke
    through a noisy one. The channels are the previous candle's, since a close can never exceed its own high.
    """

    name: ClassVar[str] = "donchian_breakout"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {
        "window": (2, 500), "exit_window": (1, 500), "atr_window": (1, 200), "min_break": (0.0, 2.0)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20, "exit_window": 10, "atr_window": 14, "min_break": 0.0}
    exits: ClassVar[ExitRules] = ExitRules(stop_loss=0.05, trailing_stop=0.08)
    lookback: ClassVar[int] = 2

    def features(self) -> dict[str, Feature | Indicator]:
        return {"entry": Donchian(window=self.params["window"]), "exit": Donchian(window=self.params["exit_window"]),
                "atr": ATR(window=self.params["atr_window"])}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        close = frame["close"]
        upper, lower = previous(frame["entry.upper"]), previous(frame["exit.lower"])
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero ATR only where nothing moved: no breakout
            atrs = (close - upper) / frame["atr"]
        entry = (close > upper) & (atrs >= self.params["min_break"])
        return np.where(entry, strength(atrs), np.where(close < lower, 0.0, np.nan))
