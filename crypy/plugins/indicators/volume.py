"""Volume-weighted average price over a rolling window of candles (as ``ta``: typical price (H+L+C)/3)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Number, Series
from .moving import WindowIndicator
from .windows import as_series, window_sum


class VWAP(WindowIndicator):
    """Sum of typical price x volume over the last ``window`` candles divided by their volume.

    NaN where the window traded nothing (no price to weight).
    """

    name = "vwap"
    defaults: ClassVar[dict[str, Number]] = {"window": 14}
    outputs = ("vwap",)

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        volume = as_series(volume)
        typical = (as_series(high) + as_series(low) + as_series(close)) / 3.0
        traded = window_sum(volume, self.window)
        with np.errstate(divide="ignore", invalid="ignore"):
            vwap = window_sum(typical * volume, self.window) / traded
        return {"vwap": np.where(traded > 0, vwap, np.nan)}
