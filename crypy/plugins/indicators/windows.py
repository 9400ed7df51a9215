"""Per-window reductions that give the same floats wherever the window sits in the array.

Each window is reduced on its own, oldest value first, instead of as a difference of cumulative sums. The
result at index ``i`` then depends only on ``values[i-n+1:i+1]``, bit for bit: a strategy re-run on just the
newest window reproduces its decision over the full history exactly (see ``strategy.WindowLive``), and an
incremental indicator that keeps the last ``n`` values and reduces them the same way agrees exactly with the
vectorized series. A cumsum difference would carry rounding from everything before the window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_BLOCK_ELEMENTS = 1 << 20  # bounds the temporary (rows x n) array of one block of windows
_COLUMN_SUMS_FROM_ROWS = 256  # measured: below it, one running-sum call beats a call per column


def check_length(n: int) -> None:
    """Refuse a window length that is not a positive int (bools excluded)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"window length must be a positive int, got {n!r}")


def as_series(values: np.ndarray) -> np.ndarray:
    """A contiguous float64 1-D copy or view, the layout ``window_view`` needs."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {values.shape}")
    return values


def window_view(values: np.ndarray, n: int) -> np.ndarray:
    """Overlapping windows of a contiguous array, one per row, as a view (``sliding_window_view`` costs ~20 µs)."""
    return np.ndarray((values.shape[0] - n + 1, n), dtype=values.dtype, buffer=values, strides=(values.itemsize,) * 2)


def per_window(values: np.ndarray, n: int, reduce: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``reduce`` applied to every window of ``n`` values (rows of a block); NaN for the first ``n - 1``."""
    check_length(n)
    values = as_series(values)
    out = np.full(values.shape[0], np.nan)
    rows = max(1, _BLOCK_ELEMENTS // n)
    for first in range(0, values.shape[0] - n + 1, rows):
        block = window_view(values[first:first + rows + n - 1], n)
        out[first + n - 1:first + n - 1 + block.shape[0]] = reduce(block)
    return out


def row_sums(block: np.ndarray) -> np.ndarray:
    """Each row summed strictly oldest first (``np.sum`` would pick a pairwise order that depends on shape).

    Many rows (a history's windows) are summed column by column, one add over all rows per column; few rows (a
    live window) as running sums along each row, whose (rows x n) partial sums cost more than per-column calls
    from a few hundred rows on. The order of the adds, and so every bit, is the same either way."""
    if block.shape[0] < _COLUMN_SUMS_FROM_ROWS:
        return np.add.accumulate(block, axis=1)[:, -1]
    sums = block[:, 0].copy()
    for column in range(1, block.shape[1]):
        sums += block[:, column]
    return sums


def window_sum(values: np.ndarray, n: int) -> np.ndarray:
    """Sum of each window of ``n`` values, oldest first; NaN for the first ``n - 1``."""
    return per_window(values, n, row_sums)


def row_std(block: np.ndarray, ddof: int) -> np.ndarray:
    """Standard deviation of each row, two-pass (mean first) so a large price level costs no precision."""
    n = block.shape[1]
    deviations = block - (row_sums(block) / n)[:, None]
    return np.sqrt(row_sums(deviations * deviations) / (n - ddof))
