"""The indicator interface: declared, validated parameters; a vectorized ``compute``; an incremental ``live``.

Both forms are built to give the same floats (same operations in the same order), so a live trader sees exactly
the values a backtest saw. Window indicators get their live form for free from ``WindowLive``: it keeps the
last candles and runs ``compute`` on them, which is exact because every value depends only on its window.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

Series = dict[str, np.ndarray]
Values = dict[str, float]
Number = int | float


class LiveIndicator(Protocol):
    """An indicator fed one closed candle at a time; ``None`` until its warmup has passed."""

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> Values | None: ...


@runtime_checkable
class BulkLiveIndicator(LiveIndicator, Protocol):
    """A live indicator that can also take a chunk of closed candles at once, for fast replays.

    ``update_many`` must leave the same state and give the same floats as ``update`` on each row in turn: one
    array per output, NaN on the rows where ``update`` would return ``None``.
    """

    def update_many(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    volume: np.ndarray) -> Series: ...


class Indicator(ABC):
    """Base of every indicator. A parameter whose range bounds are ints must be an int; bounds are inclusive.

    ``warmup`` is the number of leading candles without a value: ``compute`` gives NaN there and ``live()``
    returns ``None`` for that many updates.
    """

    name: ClassVar[str]
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]]
    defaults: ClassVar[dict[str, Number]]
    outputs: ClassVar[tuple[str, ...]]

    def __init__(self, **params: Number) -> None:
        unknown = sorted(set(params) - set(self.param_ranges))
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                             f"known: {', '.join(self.param_ranges)}")
        self.params: dict[str, Number] = {}
        for key, (low, high) in self.param_ranges.items():
            value = params.get(key, self.defaults[key])
            integral = isinstance(low, int) and isinstance(high, int)
            kinds = (int, np.integer) if integral else (int, float, np.integer, np.floating)
            kind = "an int" if integral else "a number"
            if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high \
                    or (not integral and not math.isfinite(value)):
                raise ValueError(f"{self.name}: {key} must be {kind} in [{low}, {high}], got {value!r}")
            self.params[key] = int(value) if integral else float(value)
        self.check()

    def check(self) -> None:
        """Constraints between parameters, beyond each one's range; raise ValueError naming them."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"

    @property
    @abstractmethod
    def warmup(self) -> int: ...

    @abstractmethod
    def compute(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                volume: np.ndarray) -> Series: ...

    @abstractmethod
    def live(self) -> LiveIndicator: ...


class WindowLive:
    """The live form of an indicator whose value at ``i`` depends only on candles ``i - warmup .. i``."""

    def __init__(self, indicator: Indicator) -> None:
        self._indicator = indicator
        self._size = indicator.warmup + 1
        self._columns: tuple[deque[float], ...] = tuple(deque(maxlen=self._size) for _ in range(5))

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> Values | None:
        for column, value in zip(self._columns, (open, high, low, close, volume), strict=True):
            column.append(value)
        if len(self._columns[0]) < self._size:
            return None
        series = self._indicator.compute(*(np.array(column, dtype=np.float64) for column in self._columns))
        return {key: float(values[-1]) for key, values in series.items()}

    def update_many(self, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    volume: np.ndarray) -> Series:
        """``update`` on each row in turn (``BulkLiveIndicator``) from ONE ``compute`` over the kept candles and the
        chunk: every chunk row's whole window is in there, and its value depends on that window only, as ``update``
        assumes too."""
        chunk = [np.asarray(column, dtype=np.float64) for column in (open, high, low, close, volume)]
        kept = len(self._columns[0])
        start = kept - min(kept, self._size - 1)  # the first kept candle a window of the chunk reaches back to
        series = self._indicator.compute(*(np.concatenate((np.array(column, dtype=np.float64)[start:], new))
                                           for column, new in zip(self._columns, chunk, strict=True)))
        for column, new in zip(self._columns, chunk, strict=True):
            column.extend(new.tolist())
        unready = max(self._size - 1 - kept, 0)  # chunk rows before the window is full: ``update`` gives None
        out = {key: np.array(values[kept - start:], dtype=np.float64) for key, values in series.items()}
        for values in out.values():
            values[:unready] = np.nan
        return out


class Ewm:
    """pandas' ``ewm(alpha=..., adjust=False).mean()`` one value at a time, with pandas' own float operations.

    pandas turns every spec into a centre of mass and back (``alpha = 1 / (1 + com)``), and divides each step by
    ``(1 - alpha) + alpha`` as computed in floats; both are copied so the values match ``ta`` too.
    """

    def __init__(self, *, span: float | None = None, alpha: float | None = None) -> None:
        com = (span - 1) / 2 if span is not None else (1 - alpha) / alpha  # type: ignore[operator]
        self._new = 1.0 / (1.0 + com)
        self._old = 1.0 - self._new
        self.value = math.nan

    def update(self, x: float) -> float:
        if self.value != self.value:
            self.value = x
        elif self.value != x:
            self.value = (self._old * self.value + self._new * x) / (self._old + self._new)
        return self.value

    def update_many(self, values: np.ndarray) -> np.ndarray:
        """``update`` on each value in turn, the same floats: a history evaluation's hot loop (every candle of every
        parameter set), so one comprehension, no method call per value, and no division by pandas' divisor, which
        is exactly 1 (and dividing by 1 changes no bit) whenever alpha is in (0, 1]: every span and window >= 1."""
        old, new, value = self._old, self._new, self.value
        if old + new != 1.0:  # a nonsensical alpha: step exactly as ``update`` does
            return np.array([self.update(x) for x in values.tolist()], dtype=np.float64)
        out = [value := x if value != value else value if value == x else old * value + new * x
               for x in values.tolist()]
        self.value = value
        return np.array(out, dtype=np.float64)


def ewm_series(values: np.ndarray, ewm: Ewm) -> np.ndarray:
    """``ewm`` run over a whole series: sequential by nature, and the same steps as the live form."""
    return ewm.update_many(values)


def nan_before(values: np.ndarray, warmup: int) -> np.ndarray:
    """``values`` with the first ``warmup`` entries set to NaN (in place), for recursions seeded earlier."""
    values[:warmup] = np.nan
    return values
