"""SMA crossover: hold the base asset while the fast moving average is above the slow one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from ..indicators import SMA, Indicator
from ..strategy import ExitRules, Feature, Number, Strategy

# Two averages of the same flat prices differ by rounding alone (10 or 30 equal closes summed one by one do not
# give exactly 10x and 30x): a gap this small relative to the price is a tie, not a crossover.
_ROUNDING_NOISE = 1e-10


class SmaCrossover(Strategy):
    """Signal 1.0 while SMA(fast) > SMA(slow), else 0.0: a level, not an event, so the target always follows the
    trend (a tie, up to rounding, is no trend: no base exposure). No strength: a trend is held in full.

    The SMAs reduce each window afresh (``indicators.sma``), so the 1-row live frame gives the same bits.
    """

    name: ClassVar[str] = "sma_crossover"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"fast": (1, 500), "slow": (2, 2000)}
    defaults: ClassVar[dict[str, Number]] = {"fast": 10, "slow": 30}
    exits: ClassVar[ExitRules] = ExitRules(stop_loss=0.05, trailing_stop=0.10)
    lookback: ClassVar[int] = 1

    def __init__(self, fast: Number = 10, slow: Number = 30) -> None:
        super().__init__(fast=fast, slow=slow)

    def check(self) -> None:
        if self.params["fast"] >= self.params["slow"]:
            raise ValueError(f"{self.name}: fast must be < slow, got fast={self.params['fast']}, "
                             f"slow={self.params['slow']}")

    def features(self) -> dict[str, Feature | Indicator]:
        return {"fast": SMA(window=self.params["fast"]), "slow": SMA(window=self.params["slow"])}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        fast, slow = frame["fast"], frame["slow"]
        return np.where(fast - slow > _ROUNDING_NOISE * slow, 1.0, 0.0)
