"""A live strategy that may decide a chunk of candles about to close in one go, and hands out each decision only
as its candle closes: how a backtest spares a trader one strategy run per candle.

``LiveStrategy.update_many`` decides M candles exactly as M ``update`` calls would (and refuses a rule that looks
ahead), so a trader fed through ``PreviewedLive`` sees the same targets and signals, in the same order, as one
fed candle by candle; it only sees them sooner in wall time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np

from crypy.protocols import Candle

from .live import LiveStrategy


class PreviewedLive:
    """``LiveStrategy``'s ``update`` and ``signal``, served from decisions made ahead when there are some."""

    def __init__(self, live: LiveStrategy) -> None:
        self.live = live
        self.signal = live.signal
        self._ahead: deque[tuple[int, float | None, float]] = deque()
        self._failed: Exception | None = None
        """What a preview raised: raised again by ``update``, so the trader fails on its own (supervised) time."""

    @property
    def ahead(self) -> int:
        """Decisions made ahead and not handed out yet."""
        return len(self._ahead)

    def preview(self, candles: Sequence[Candle]) -> None:
        """Decide ``candles`` (the next ones to close, in order) now; only when nothing is left from the last
        preview, since the strategy's state is then past its last candle."""
        update_many = getattr(self.live, "update_many", None)  # a plugin's own live form may lack it
        if self._ahead or self._failed or not candles or update_many is None:
            return
        columns = np.array([(c.open, c.high, c.low, c.close, c.volume) for c in candles], dtype=np.float64).T
        times = np.array([c.ts for c in candles], dtype=np.int64)
        try:
            targets, signals = update_many(times, *columns)
        except Exception as exc:  # a rule that looks ahead, or any plugin bug: the stream is unusable now
            self._failed = exc
            return
        self._ahead.extend(
            (ts, None if math.isnan(target) else target, signal)
            for ts, target, signal in zip(times.tolist(), targets.tolist(), signals.tolist(), strict=True))

    def decided(self) -> Iterator[tuple[int, float | None, float]]:
        """The decisions made ahead, in order: candle time, target and signal."""
        return iter(self._ahead)

    def advance(self, times: Sequence[int]) -> tuple[float | None, float]:
        """Hand out the decisions of the candles of ``times`` at once (as many ``update`` calls would, each
        decided ahead); returns the last target and signal."""
        if len(times) > len(self._ahead):
            raise RuntimeError(f"{len(times)} candles handed over, {len(self._ahead)} decided ahead")
        target = None
        for time in times:
            target = self._take(time)
        return target, self.signal

    def update(self, time: int, open: float, high: float, low: float, close: float, volume: float) -> float | None:
        if self._failed is not None:
            raise self._failed
        if not self._ahead:
            target = self.live.update(time, open, high, low, close, volume)
            self.signal = self.live.signal
            return target
        return self._take(time)

    def _take(self, time: int) -> float | None:
        ts, target, self.signal = self._ahead.popleft()
        if ts != time:
            raise RuntimeError(f"the strategy decided the candle of {ts} ahead, and was handed the one of {time}: "
                               "a previewed candle was skipped")
        return target
