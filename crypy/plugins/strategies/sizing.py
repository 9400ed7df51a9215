"""How a breakout's or a dip's size becomes a signal strength, the same way for every built-in strategy."""

from __future__ import annotations

import numpy as np

MIN_STRENGTH = 0.1
"""The smallest entry: a barely triggered rule still takes a position worth the fees, but a small one."""


def strength(score: np.ndarray) -> np.ndarray:
    """``score`` (0 at the trigger, 1 at a full-conviction move) clipped to [MIN_STRENGTH, 1]; NaN stays NaN."""
    return np.clip(score, MIN_STRENGTH, 1.0)
