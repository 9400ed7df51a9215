"""Statistics of the close over a window: volatility of log returns and the slope of a least-squares line."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Number, Series
from .moving import MAX_WINDOW, WindowIndicator
from .windows import as_series, per_window, row_std, row_sums


class Volatility(WindowIndicator):
    """Sample standard deviation (ddof 1) of the last ``window`` log returns of the close, not annualised.

    ``window`` returns need ``window + 1`` closes, so the first value comes at index ``window``.
    """

    name = "volatility"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (2, MAX_WINDOW)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20}
    outputs = ("volatility",)

    @property
    def warmup(self) -> int:
        return self.window

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        close = as_series(close)
        returns = np.log(close[1:] / close[:-1])
        std = per_window(returns, self.window, lambda block: row_std(block, 1))
        return {"volatility": np.concatenate(([np.nan] * min(1, close.shape[0]), std))}


class LinregSlope(WindowIndicator):
    """Slope per candle of the least-squares line through the last ``window`` closes (x = 0 .. window - 1).

    Computed on centred x and y, ``sum((x - mean x)(y - mean y)) / sum((x - mean x)^2)``, which keeps the
    rounding small next to the price level.
    """

    name = "linreg_slope"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (2, MAX_WINDOW)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20}
    outputs = ("linreg_slope",)

    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series:
        n = self.window
        x = np.arange(n, dtype=np.float64) - (n - 1) / 2
        sxx = float(np.dot(x, x))

        def slope(block: np.ndarray) -> np.ndarray:
            return row_sums((block - (row_sums(block) / n)[:, None]) * x) / sxx

        return {"linreg_slope": per_window(close, n, slope)}
