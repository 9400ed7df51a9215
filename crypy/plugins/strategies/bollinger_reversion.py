"""Bollinger mean reversion: buy a close below the lower band, sell once the close is back above the mean."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ..indicators import Bollinger, Indicator
from ..strategy import ExitRules, Feature, Number, Strategy
from .sizing import strength


class BollingerReversion(Strategy):
    """Entry while the close is below the lower band (``width`` standard deviations under the ``window`` mean);
    exit when it closes above the mean; no signal (hold) in between.

    Strength: the depth below the lower band in half band widths, ``(lower - close) / (mid - lower)``, clipped to
    [0.1, 1] (``sizing.strength``): with width 2, a close 2 standard deviations under the band takes a full
    position. The target follows the depth on every candle below the band.
    """

    name: ClassVar[str] = "bollinger_reversion"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (2, 500), "width": (0.5, 5.0)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20, "width": 2.0}
    exits: ClassVar[ExitRules] = ExitRules(stop_loss=0.05, take_profit=0.08)
    lookback: ClassVar[int] = 1

    def features(self) -> dict[str, Feature | Indicator]:
        return {"bands": Bollinger(window=self.params["window"], k=self.params["width"])}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        close, mid, lower = frame["close"], frame["bands.mid"], frame["bands.lower"]
        with np.errstate(divide="ignore", invalid="ignore"):  # zero width only where nothing moved: no entry
            entry = strength((lower - close) / (mid - lower))
        return np.where(close < lower, entry, np.where(close > mid, 0.0, np.nan))
