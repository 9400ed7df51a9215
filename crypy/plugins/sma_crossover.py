"""SMA crossover: hold the base asset while the fast moving average is above the slow one."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .indicators import sma
from .strategy import Strategy, int_param

# Two averages of the same flat prices differ by rounding alone (10 or 30 equal closes summed one by one do not
# give exactly 10x and 30x): a gap this small relative to the price is a tie, not a crossover.
_ROUNDING_NOISE = 1e-10


class SmaCrossover(Strategy):
    """Target 1 when SMA(fast) > SMA(slow), else 0 (a tie, up to rounding, is no trend: no base exposure)."""

    name: ClassVar[str] = "sma_crossover"

    def __init__(self, fast: int = 10, slow: int = 30) -> None:
        self._fast = int_param("fast", fast)
        self._slow = int_param("slow", slow)
        if self._fast >= self._slow:
            raise ValueError(f"fast must be < slow, got fast={self._fast}, slow={self._slow}")

    @property
    def params(self) -> dict[str, int | float]:
        return {"fast": self._fast, "slow": self._slow}

    @property
    def warmup(self) -> int:
        return self._slow

    def targets(self, close: np.ndarray) -> np.ndarray:
        fast, slow = sma(close, self._fast), sma(close, self._slow)
        return (fast - slow > _ROUNDING_NOISE * slow).astype(np.int8)
