"""The live form of a strategy: decisions one closed candle at a time, or a chunk of candles at once.

``update`` feeds each feature's live form, keeps the newest ``lookback`` frame rows and runs the strategy's
``rule`` on them (see ``strategy``). ``update_many`` gives the same floats for M candles at the cost of about one
``update``: features with a bulk form (``BulkLiveFeature``, e.g. window indicators through ``WindowLive``) take
the chunk at once, the others are fed row by row; the rule runs once over the kept rows and the chunk, which is
exact under the rule contract (row i depends only on rows ``i - lookback + 1 .. i``). A rule breaking that contract
would silently read later candles of the chunk, so every chunk re-runs the rule on one row's own ``lookback`` rows,
as ``update`` would, and refuses a different value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .indicators.base import BulkLiveIndicator, LiveIndicator

if TYPE_CHECKING:
    from .strategy import Strategy

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
"""The candle columns after ``time``, in the order every ``update`` takes them."""


class LiveFeature(Protocol):
    """A feature fed one closed candle at a time: its outputs, or ``None`` during its warmup."""

    def update(self, time: int, open: float, high: float, low: float, close: float,
               volume: float) -> dict[str, float] | None: ...


@runtime_checkable
class BulkLiveFeature(LiveFeature, Protocol):
    """A live feature that also takes a chunk of closed candles at once. ``update_many`` must leave the same state
    and give the same floats as ``update`` on each row in turn: one array per output, NaN where ``update`` would
    return ``None``. Optional: a feature without it is fed row by row."""

    def update_many(self, times: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]: ...


class LiveStrategy(Protocol):
    """Decides after each closed candle: the target, ``None`` while warming up; ``signal`` is the raw signal.

    ``update_many`` decides a chunk of M candles as M ``update`` calls would (the two mix freely): the targets
    (NaN for ``None``) and the signal after each.
    """

    signal: float

    def update(self, time: int, open: float, high: float, low: float, close: float, volume: float) -> float | None: ...

    def update_many(self, times: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class Latch:
    """``latch`` one signal at a time, for live decisions, or a chunk of them from where it stands."""

    def __init__(self) -> None:
        self.target = 0.0

    def update(self, signal: float) -> float:
        if signal == signal:
            self.target = signal
        return self.target

    def update_many(self, signals: np.ndarray) -> np.ndarray:
        """The target after each signal: a forward fill from the current target, no loop, the same floats."""
        signals = np.asarray(signals, dtype=np.float64)
        held = np.concatenate(([self.target], signals))
        targets = held[np.maximum.accumulate(np.where(np.isnan(signals), 0, np.arange(1, signals.shape[0] + 1)))]
        if targets.shape[0]:
            self.target = float(targets[-1])
        return targets


def each_row(update: Callable[..., Mapping[str, float] | None], outputs: Sequence[str],
             *columns: np.ndarray) -> dict[str, np.ndarray]:
    """The bulk form of any per-candle ``update``, exact by construction: called on each row of ``columns`` in
    turn (as Python scalars, like a live caller's), NaN where it returns ``None``."""
    out = np.full((len(outputs), columns[0].shape[0]), np.nan)
    for i, row in enumerate(zip(*(column.tolist() for column in columns), strict=True)):
        values = update(*row)
        if values is not None:
            out[:, i] = [values[output] for output in outputs]
    return dict(zip(outputs, out, strict=True))


class TimelessLive:
    """The live form of an ``IndicatorFeature``: indicators see no time, so it is dropped."""

    def __init__(self, live: LiveIndicator, outputs: tuple[str, ...]) -> None:
        self._live = live
        self._outputs = outputs
        self._bulk = live.update_many if isinstance(live, BulkLiveIndicator) else None

    def update(self, time: int, open: float, high: float, low: float, close: float,
               volume: float) -> dict[str, float] | None:
        return self._live.update(open, high, low, close, volume)

    def update_many(self, times: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray,
                    close: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]:
        """The indicator's own bulk form where it has one (``BulkLiveIndicator``), else its ``update`` per row."""
        if self._bulk is not None:
            return self._bulk(open, high, low, close, volume)
        return each_row(self._live.update, self._outputs, open, high, low, close, volume)


class StrategyLive:
    """A strategy's live form: the newest ``lookback`` frame rows in small arrays, the same ``rule``, and the same
    latch. Rows shift one place per candle in place, so the frame's arrays stay the same objects."""

    def __init__(self, strategy: Strategy) -> None:
        self._name = strategy.name
        self._rule = strategy.rule
        self._warmup = strategy.warmup
        lives = [(feature.live(), tuple(columns)) for feature, columns in strategy._features.values()]
        self._features = [(live, outputs, live.update_many if isinstance(live, BulkLiveFeature) else None)
                          for live, outputs in lives]
        self._names = [*CANDLE_COLUMNS, *(c for _, columns in strategy._features.values() for c in columns.values())]
        self._lookback = strategy.lookback
        self._rows = np.full((len(self._names), self._lookback), np.nan)
        self._time = np.zeros(self._lookback, dtype=np.int64)
        self._frame = {"time": self._time, **{name: self._rows[k] for k, name in enumerate(self._names)}}
        self._nans = {outputs: [math.nan] * len(outputs) for _, outputs, _ in self._features}
        self._count = 0
        self._latch = Latch()
        self.signal = math.nan

    def update(self, time: int, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        time = int(time)
        self._rows[:, :-1] = self._rows[:, 1:]
        self._time[:-1] = self._time[1:]
        self._time[-1] = time
        row = [open, high, low, close, volume]
        for live, outputs, _ in self._features:
            values = live.update(time, open, high, low, close, volume)
            row.extend(self._nans[outputs] if values is None else (values[output] for output in outputs))
        self._rows[:, -1] = row
        self._count += 1
        if self._count < self._warmup:
            return None
        signal = float(self._decide(self._frame)[-1])
        if signal < 0 or signal > 1:
            raise ValueError(f"{self._name}: signals must be NaN or in [0, 1], got {signal!r}")
        self.signal = signal
        return self._latch.update(signal)

    def update_many(self, times: np.ndarray, open: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                    volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``update`` on M candles in turn, for fast replays: the targets (NaN where ``update`` returns ``None``)
        and the signal after each (NaN before the first decision), with the stream left as ``update`` leaves it.
        ``times`` int64, the rest float64, all 1-D of one length M >= 1. A refused chunk (a ValueError from the rule
        checks) leaves the stream unusable, as a refused ``update`` does."""
        times = np.asarray(times, dtype=np.int64)
        prices = [np.asarray(column, dtype=np.float64) for column in (open, high, low, close, volume)]
        m = times.shape[0] if times.ndim == 1 else 0
        if m < 1 or any(column.shape != times.shape for column in prices):
            raise ValueError(f"{self._name}: update_many needs 1-D columns of one length >= 1, got shapes "
                             f"{[np.shape(column) for column in (times, *prices)]}")
        columns = list(prices)
        for live, outputs, bulk in self._features:
            values = bulk(times, *prices) if bulk is not None else each_row(live.update, outputs, times, *prices)
            columns.extend(values[output] for output in outputs)
        keep = self._lookback - 1  # kept rows the frame of the chunk's first candle reaches back to
        rows = np.concatenate((self._rows[:, 1:], np.array(columns, dtype=np.float64)), axis=1)
        time = np.concatenate((self._time[1:], times))
        first = max(self._warmup - self._count - 1, 0)  # the first chunk row that ``update`` would decide on
        signals = np.full(m, np.nan)
        if first < m:
            decided = self._decide(self._window(rows, time, first, rows.shape[1]))[keep:]
            self._check_range(decided, times[first:])
            signals[first:] = decided
            if m - first > 1:  # one decided row is decided on its own rows anyway
                self._check_causal(rows, time, signals, (first + m - 1) // 2)
        self._rows[:] = rows[:, -self._lookback:]
        self._time[:] = time[-self._lookback:]
        self._count += m
        targets = np.full(m, np.nan)
        if first < m:
            targets[first:] = self._latch.update_many(signals[first:])
            self.signal = float(signals[-1])
        return targets, signals

    def _window(self, rows: np.ndarray, time: np.ndarray, start: int, stop: int) -> dict[str, np.ndarray]:
        """The frame of rows ``start .. stop - 1`` (contiguous views, as ``update``'s frame)."""
        return {"time": time[start:stop], **{name: rows[k, start:stop] for k, name in enumerate(self._names)}}

    def _decide(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        """The rule's signals on ``frame``, one per row or refused."""
        signals = np.asarray(self._rule(frame), dtype=np.float64)
        rows = frame["time"].shape[0]
        if signals.shape != (rows,):
            raise ValueError(f"{self._name}: rule gave shape {signals.shape} for {rows} rows")
        return signals

    def _check_range(self, signals: np.ndarray, times: np.ndarray) -> None:
        bad = np.flatnonzero((signals < 0) | (signals > 1))
        if bad.size:
            raise ValueError(f"{self._name}: signals must be NaN or in [0, 1], got {float(signals[bad[0]])!r} "
                             f"at candle {int(times[bad[0]])}")

    def _check_causal(self, rows: np.ndarray, time: np.ndarray, signals: np.ndarray, row: int) -> None:
        """Refuse a chunk whose chunk ``row`` got another signal than ``update`` would give it: the rule then
        reads later rows of the chunk (or more than ``lookback`` back). Chunk row i is row ``keep + i`` of
        ``rows``, so its own ``lookback`` rows start at ``i``."""
        alone = float(self._decide(self._window(rows, time, row, row + self._lookback))[-1])
        if not (alone == signals[row] or (alone != alone and signals[row] != signals[row])):
            raise ValueError(f"{self._name}: its rule looks ahead: at candle {int(time[row + self._lookback - 1])} "
                             f"it gives {float(signals[row])!r} within a chunk but {alone!r} on its newest "
                             f"{self._lookback} rows alone (row i may read rows i - {self._lookback - 1} .. i only)")
