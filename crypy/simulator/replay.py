"""Historical candles replayed as a live market on an accelerated clock.

Time comes only from ``trio.current_time()`` and ``trio.sleep_until``, so a virtual trio clock (``MockClock``)
can run months of market in moments. A candle becomes visible when it closes (open time + timeframe), never
before, so nothing downstream can peek at the future. Gaps in the data stay gaps: no candle is invented.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trio

from crypy.protocols import Candle, timeframe_ms

MAX_ROWS = 720
"""Kraken's OHLC returns at most 720 rows; so does the replay."""


@dataclass
class _Stream:
    """The candles of one pair and timeframe; the first ``published`` of them have closed."""

    pair: str
    timeframe: str
    step: int
    candles: list[Candle]
    times: list[int]
    published: int = 0


class MarketReplay:
    """Replays several candle series (any pairs, any timeframes) merged in order of closing time.

    Each series' first ``warmup`` candles are the exchange's history, closed before the replay starts.
    Market time starts at the open of the first candle after that history (the latest such open over all
    series, so every series has at least ``warmup`` candles of history) and runs ``speed`` times faster than
    the trio clock.
    """

    def __init__(self, candles: dict[str, list[Candle]], speed: float, warmup: int = 720) -> None:
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"speed must be a positive number, got {speed}")
        if warmup < 0:
            raise ValueError(f"warmup must not be negative, got {warmup}")
        if not candles:
            raise ValueError("a replay needs at least one candle series")
        self._speed = speed
        self._streams: dict[tuple[str, str], _Stream] = {}
        for label, series in candles.items():
            stream = _stream(label, series)
            if (stream.pair, stream.timeframe) in self._streams:
                raise ValueError(f"{label}: a second series of {stream.pair} {stream.timeframe}")
            self._streams[(stream.pair, stream.timeframe)] = stream
        self._start_ms = max(s.times[min(warmup, len(s.times) - 1)] for s in self._streams.values())
        ranked = sorted(self._streams.values(), key=lambda s: (s.pair, s.step))
        for stream in ranked:
            stream.published = bisect_right(stream.times, self._start_ms - stream.step)
        closes = [np.asarray(stream.times[stream.published:], dtype=np.int64) + stream.step for stream in ranked]
        ranks = [np.full(len(c), rank, dtype=np.int64) for rank, c in enumerate(closes)]
        close_at, rank_of = np.concatenate(closes), np.concatenate(ranks)
        order = np.lexsort((rank_of, close_at))  # by closing time, then by rank: the order ``sorted`` gave
        self._schedule: list[int] = close_at[order].tolist()
        """Closing times of the candles still to close, in order (plain ints: indexed once per candle)."""
        self._ranks = bytes(rank_of[order].astype(np.uint8)) if len(ranked) < 256 else rank_of[order].tolist()
        """The stream of each, by rank: a byte each, a long replay holds a million of them."""
        self._ranked = ranked
        self._t0: float | None = None
        self._next = 0
        """Index in ``_schedule`` of the next candle to close."""
        self.finished = trio.Event()

    @property
    def pairs(self) -> tuple[str, ...]:
        return tuple(sorted({pair for pair, _ in self._streams}))

    @property
    def timeframes(self) -> dict[str, tuple[str, ...]]:
        """Each pair's timeframes, finest first."""
        return {
            pair: tuple(s.timeframe for s in sorted(self._streams.values(), key=lambda s: s.step) if s.pair == pair)
            for pair in self.pairs
        }

    @property
    def start_ms(self) -> int:
        return self._start_ms

    def now_ms(self) -> int:
        """Market time: the start until ``run`` begins, then the trio clock scaled by ``speed``."""
        if self._t0 is None:
            return self._start_ms
        return self._start_ms + round((trio.current_time() - self._t0) * self._speed * 1000)

    def closed_candles(
        self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = MAX_ROWS
    ) -> list[Candle]:
        """Closed candles, like Kraken's OHLC: the latest ``limit`` (at most 720), or the first ``limit`` opening
        at or after ``since_ms`` so that a poller can page forward without missing any."""
        stream = self._streams.get((pair, timeframe))
        if stream is None:
            raise ValueError(f"no {timeframe} candles for {pair} (have: {self.timeframes.get(pair, ())})")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        limit = min(limit, MAX_ROWS)
        end = stream.published
        if since_ms is None:
            return stream.candles[max(0, end - limit) : end]
        begin = bisect_left(stream.times, since_ms, 0, end)
        return stream.candles[begin : min(end, begin + limit)]

    def published(self, pair: str, timeframe: str) -> list[Candle]:
        """Every closed candle of one series, without Kraken's row cap: the exchange's own history, not an answer."""
        stream = self._streams[(pair, timeframe)]
        return stream.candles[: stream.published]

    def start(self) -> None:
        """Start market time now (trio's clock); ``run`` does it, a stepping driver calls it itself."""
        if self._t0 is not None:
            raise RuntimeError("a replay runs only once")
        self._t0 = trio.current_time()

    def next_due(self) -> float | None:
        """The trio time at which the next candle closes; None once every candle has (``finished`` is set)."""
        if self._t0 is None:
            raise RuntimeError("the replay has not started")
        if self._next == len(self._schedule):
            self.finished.set()
            return None
        return self._due(self._next)

    def due_in(self, index: int) -> float:
        """The trio time at which the candle ``index`` places after the next one closes."""
        return self._due(self._next + index)

    def closing_before(self, time: float, limit: int) -> int:
        """How many of the next ``limit`` candles close strictly before trio time ``time``."""
        stop = min(self._next + limit, len(self._schedule))
        return bisect_left(range(self._next, stop), time, key=self._due)

    def _due(self, index: int) -> float:
        assert self._t0 is not None
        return self._t0 + (self._schedule[index] - self._start_ms) / 1000 / self._speed

    def upcoming(self, count: int) -> list[Candle]:
        """The next ``count`` candles to close, in closing order, without closing them: for a driver that lets
        consumers prepare (a backtest's chunk); showing them is the driver's responsibility."""
        upcoming, taken = [], {}
        for rank in self._ranks[self._next:self._next + count]:
            stream = self._ranked[rank]
            offset = taken[rank] = taken.get(rank, -1) + 1
            upcoming.append(stream.candles[stream.published + offset])
        return upcoming

    def publish_next(self) -> Candle:
        """Close the next candle (market time must have reached it): it becomes visible, and is returned."""
        rank = self._ranks[self._next]
        self._next += 1
        stream = self._ranked[rank]
        candle = stream.candles[stream.published]
        stream.published += 1
        return candle

    def publish_many(self, count: int) -> list[Candle]:
        """Close the next ``count`` candles at once (market time must have reached the last): ``publish_next``
        ``count`` times."""
        candles = self.upcoming(count)
        for rank in self._ranks[self._next:self._next + count]:
            self._ranked[rank].published += 1
        self._next += len(candles)
        return candles

    async def run(
        self, on_close: Callable[[Candle], None], task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Publish each candle when market time reaches its close and hand it to ``on_close``, in closing order."""
        self.start()
        task_status.started()
        while (due := self.next_due()) is not None:
            await trio.sleep_until(due)
            on_close(self.publish_next())


def _stream(label: str, series: list[Candle]) -> _Stream:
    """One series checked for what the replay relies on: one pair and timeframe, strictly increasing times."""
    if not series:
        raise ValueError(f"{label}: no candles")
    pair, timeframe = series[0].pair, series[0].timeframe
    times = [c.ts for c in series]
    if any(c.pair != pair or c.timeframe != timeframe for c in series):
        raise ValueError(f"{label}: mixes pairs or timeframes")
    if any(later <= earlier for earlier, later in zip(times, times[1:], strict=False)):
        raise ValueError(f"{label}: candle times are not strictly increasing")
    return _Stream(pair=pair, timeframe=timeframe, step=timeframe_ms(timeframe), candles=list(series), times=times)
