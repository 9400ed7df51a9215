"""SMA crossover: hold the base asset while the fast moving average is above the slow one."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .indicators import sma
from .strategy import Strategy, int_param


class SmaCrossover(Strategy):
    """Target 1 when SMA(fast) > SMA(slow), else 0 (a tie is no trend, so no base exposure)."""

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
        return (sma(close, self._fast) > sma(close, self._slow)).astype(np.int8)
