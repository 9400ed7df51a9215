"""The opening range of a trading session: a time-aware feature, vectorized and incremental with the same values.

Crypto trades around the clock, so a session is a UTC day starting at ``session_hour``. The opening range is the
highest high and lowest low of the candles that open within its first ``range_minutes``; it is known (and
output) from the first candle opening after that. ``last`` flags a session's last candle: the next candle,
one step (the time since the previous candle) later, would open in the next session. A live stream cannot see
the next candle, so the step is the only way to know in time; after a gap in the data the step is longer and
may flag a candle early, never late.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..strategy import Candles

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


class OpeningRange:
    """Outputs ``high``/``low`` (the opening range, NaN during it and in a session whose range the data missed)
    and ``last`` (1.0 on a session's last candle, else 0.0). The first candle has no step: warmup 1."""

    outputs: ClassVar[tuple[str, ...]] = ("high", "low", "last")
    warmup: ClassVar[int] = 1

    def __init__(self, range_minutes: int, session_hour: int = 0) -> None:
        self.range_ms = range_minutes * MINUTE_MS
        self.offset_ms = session_hour * HOUR_MS

    def compute(self, candles: Candles) -> dict[str, np.ndarray]:
        session, since_start = np.divmod(candles.time - self.offset_ms, DAY_MS)
        forming = since_start < self.range_ms
        high, low = np.full(len(candles), np.nan), np.full(len(candles), np.nan)
        rows = np.flatnonzero(forming)
        if rows.size:
            first = np.flatnonzero(np.diff(session[rows], prepend=session[rows[0]] - 1))  # each session's first row
            sessions = session[rows][first]
            group = np.minimum(np.searchsorted(sessions, session), sessions.size - 1)
            formed = (sessions[group] == session) & ~forming
            high[formed] = np.maximum.reduceat(candles.high[rows], first)[group[formed]]
            low[formed] = np.minimum.reduceat(candles.low[rows], first)[group[formed]]
        step = np.diff(candles.time, prepend=candles.time[:1])
        last = np.where(since_start + step >= DAY_MS, 1.0, 0.0)
        for values in (high, low, last):
            values[:self.warmup] = np.nan
        return {"high": high, "low": low, "last": last}

    def live(self) -> OpeningRangeLive:
        return OpeningRangeLive(self.range_ms, self.offset_ms)


class OpeningRangeLive:
    """``OpeningRange`` one candle at a time: the same integer arithmetic, and the range as a running max/min."""

    def __init__(self, range_ms: int, offset_ms: int) -> None:
        self._range_ms = range_ms
        self._offset_ms = offset_ms
        self._session: int | None = None
        self._previous: int | None = None
        self._high = self._low = math.nan

    def update(self, time: int, open: float, high: float, low: float, close: float,
               volume: float) -> dict[str, float] | None:
        session, since_start = divmod(time - self._offset_ms, DAY_MS)
        if session != self._session:
            self._session, self._high, self._low = session, math.nan, math.nan
        if since_start < self._range_ms:
            self._high = high if self._high != self._high else max(self._high, high)
            self._low = low if self._low != self._low else min(self._low, low)
        previous, self._previous = self._previous, time
        if previous is None:
            return None
        formed = since_start >= self._range_ms
        return {"high": self._high if formed else math.nan, "low": self._low if formed else math.nan,
                "last": 1.0 if since_start + (time - previous) >= DAY_MS else 0.0}
