"""Candle transforms: Heikin-Ashi candles, Renko bricks, and candles of a higher timeframe built from lower ones.

Each has an incremental class for live use, and a function over a history that runs that class, so both forms
give the same values by construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crypy.protocols import Candle, timeframe_ms


class HeikinAshi:
    """Heikin-Ashi one candle at a time: close = (O+H+L+C)/4; open = midpoint of the previous HA open and close
    (of the first candle's own open and close at the start); high/low also cover the HA open and close."""

    def __init__(self) -> None:
        self._previous: tuple[float, float] | None = None

    def update(self, candle: Candle) -> Candle:
        close = (candle.open + candle.high + candle.low + candle.close) / 4
        base = (candle.open, candle.close) if self._previous is None else self._previous
        open = (base[0] + base[1]) / 2
        self._previous = (open, close)
        return Candle(ts=candle.ts, pair=candle.pair, timeframe=candle.timeframe, open=open,
                      high=max(candle.high, open, close), low=min(candle.low, open, close), close=close,
                      volume=candle.volume)


def heikin_ashi(candles: Iterable[Candle]) -> list[Candle]:
    """The Heikin-Ashi candles of a history, one per input candle."""
    transform = HeikinAshi()
    return [transform.update(candle) for candle in candles]


@dataclass(frozen=True, slots=True)
class Brick:
    """One Renko brick; ``ts`` is the open time of the candle whose close completed it."""

    ts: int
    open: float
    close: float

    @property
    def up(self) -> bool:
        return self.close > self.open


class Renko:
    """Renko bricks of ``box`` price units from closes (wicks ignored), anchored at the first close.

    Brick edges sit on the grid ``anchor + k * box`` (computed from ``k``, so no drift from repeated adding). A
    brick in the trend's direction needs a close one box beyond the last brick; a reversal needs two, the new
    brick starting at the last brick's open.
    """

    def __init__(self, box: float) -> None:
        if isinstance(box, bool) or not isinstance(box, int | float) or not 0 < box < float("inf"):
            raise ValueError(f"renko: box must be a positive number, got {box!r}")
        self._box = float(box)
        self._anchor: float | None = None
        self._level = 0  # grid index of the last brick's close (of the anchor before any brick)
        self._direction = 0  # +1 after an up brick, -1 after a down brick, 0 before the first brick

    def _price(self, level: int) -> float:
        assert self._anchor is not None
        return self._anchor + level * self._box

    def update(self, candle: Candle) -> list[Brick]:
        """The bricks this candle's close completes (often none, possibly several)."""
        if self._anchor is None:
            self._anchor = candle.close
            return []
        bricks: list[Brick] = []
        while True:
            up_from = self._level + (self._direction < 0)
            down_from = self._level - (self._direction > 0)
            if candle.close >= self._price(up_from + 1):
                self._level, self._direction = up_from + 1, 1
                bricks.append(Brick(candle.ts, self._price(up_from), self._price(up_from + 1)))
            elif candle.close <= self._price(down_from - 1):
                self._level, self._direction = down_from - 1, -1
                bricks.append(Brick(candle.ts, self._price(down_from), self._price(down_from - 1)))
            else:
                return bricks


def renko(candles: Iterable[Candle], box: float) -> list[Brick]:
    """The Renko bricks of a history."""
    transform = Renko(box)
    return [brick for candle in candles for brick in transform.update(candle)]


class Resampler:
    """Candles of ``timeframe`` built from consecutive lower candles of one pair, one at a time.

    A higher candle is emitted as soon as its last lower candle arrives, and only if every lower candle of its
    span was there: a gap (Kraken leaves out intervals without trades) drops that higher candle rather than
    inventing one from part of its data.
    """

    def __init__(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self._step = timeframe_ms(timeframe)
        self._group: list[Candle] = []

    def update(self, candle: Candle) -> Candle | None:
        """The higher candle this candle completes, if any."""
        lower = timeframe_ms(candle.timeframe)
        if self._step % lower or self._step <= lower:
            raise ValueError(f"cannot build {self.timeframe} candles from {candle.timeframe} ones "
                             f"(need a larger multiple)")
        if self._group and (candle.pair != self._group[0].pair or candle.timeframe != self._group[0].timeframe
                            or candle.ts <= self._group[-1].ts):
            raise ValueError(f"resample: candle {candle.pair} {candle.timeframe} at {candle.ts} does not follow "
                             f"{self._group[0].pair} {self._group[0].timeframe} at {self._group[-1].ts}")
        start = candle.ts - candle.ts % self._step
        if self._group and self._group[0].ts - self._group[0].ts % self._step != start:
            self._group = []
        self._group.append(candle)
        if len(self._group) < self._step // lower:
            return None
        group, self._group = self._group, []  # distinct on-grid times inside one span: all of them are there
        return Candle(ts=start, pair=candle.pair, timeframe=self.timeframe, open=group[0].open,
                      high=max(c.high for c in group), low=min(c.low for c in group), close=group[-1].close,
                      volume=sum(c.volume for c in group))


class Timeframes:
    """Several higher timeframes built from one stream of lower candles, handed out higher first.

    When a lower candle completes a 4h and a 1h candle, ``update`` returns ``[4h, 1h, lower]``: whoever reads the
    lower candle has already seen the higher ones it closes, so a decision on the lower timeframe never uses a
    higher-timeframe value older than the data it is deciding on.
    """

    def __init__(self, timeframes: Iterable[str]) -> None:
        ordered = sorted(set(timeframes), key=timeframe_ms, reverse=True)
        self._resamplers = [Resampler(timeframe) for timeframe in ordered]

    def update(self, candle: Candle) -> list[Candle]:
        completed = [higher for r in self._resamplers if (higher := r.update(candle)) is not None]
        return [*completed, candle]


def resample(candles: Iterable[Candle], timeframe: str) -> list[Candle]:
    """The complete ``timeframe`` candles of a history of lower ones."""
    resampler = Resampler(timeframe)
    return [higher for candle in candles if (higher := resampler.update(candle)) is not None]
