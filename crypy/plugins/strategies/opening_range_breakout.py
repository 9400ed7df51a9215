"""Opening range breakout: buy a close above the session's opening range, flat by the session's end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ..indicators import Indicator
from ..strategy import ExitRules, Feature, Number, Strategy
from .opening_range import OpeningRange
from .sizing import strength


class OpeningRangeBreakout(Strategy):
    """Entry when the close breaks above the opening range high (the first ``range_minutes`` of the UTC day
    starting at ``session_hour``, see ``opening_range``); exit when it closes below the range low, and on the
    session's last candle whatever happened (an intraday trade is not carried into the next session); no signal
    (hold) otherwise, and during the range itself.

    Strength: the breakout's distance in range heights, ``(close - high) / (high - low)``, clipped to [0.1, 1]
    (``sizing.strength``): a move one full range height above it is a trend day, a poke through the high may fail.
    """

    name: ClassVar[str] = "opening_range_breakout"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"range_minutes": (1, 720), "session_hour": (0, 23)}
    defaults: ClassVar[dict[str, Number]] = {"range_minutes": 60, "session_hour": 0}
    exits: ClassVar[ExitRules] = ExitRules(stop_loss=0.02, take_profit=0.04)
    lookback: ClassVar[int] = 1

    def features(self) -> dict[str, Feature | Indicator]:
        return {"range": OpeningRange(int(self.params["range_minutes"]), int(self.params["session_hour"]))}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        close, high, low = frame["close"], frame["range.high"], frame["range.low"]
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero height: any break is a full one
            entry = strength((close - high) / (high - low))
        exit_ = (frame["range.last"] == 1.0) | (close < low)
        return np.where(exit_, 0.0, np.where(close > high, entry, np.nan))
