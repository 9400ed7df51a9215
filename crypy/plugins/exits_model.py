"""Where stop-loss, take-profit and trailing-stop exits cut the simulated round trips short, vectorized.

Prices here are in the holder's own valuation (the evaluation mirrors them for a holder of the base asset), so a
stop is always below the entry and a take-profit above it. Each candle a position is held through is checked on
its low and high: the exits armed at the entry fill, from the entry candle itself on.

- stop-loss at ``entry * (1 - stop_loss)``; take-profit at ``entry * (1 + take_profit)``;
- trailing stop at ``(1 - trailing_stop)`` times the highest of the entry price and the closes since the entry,
  closes of earlier candles only (a candle's own high comes with no order against its low);
- a candle that reaches both a stop and the take-profit exits at the stop, as ``crypy.actors.exits`` guesses;
  when both stops are reached, the higher (first touched on the way down) wins, the stop-loss on a tie;
- the exit fills at the trigger price, or at the candle's open when the candle opened beyond it (a gap): worse
  for a stop, better for a take-profit, as stop and limit orders fill.

A round trip has at most one exit, so the trips are independent: every candle of every trip is tested at once
and the first hit of each trip taken; the trailing stop's running maximum is a segmented cumulative maximum.
"""

from __future__ import annotations

import numpy as np

NONE, STOP_LOSS, TAKE_PROFIT, TRAILING_STOP = 0, 1, 2, 3
REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "end")


def _segmented_running_max(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarting at every new ``segment`` (non-decreasing ids), exactly: ranks
    offset by segment turn it into one plain cumulative maximum of integers."""
    count = values.shape[0]
    order = np.argsort(values, kind="stable")
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    offset = segment.astype(np.int64) * count
    return values[order[np.maximum.accumulate(offset + rank) - offset]]


def first_exits(entries: np.ndarray, lasts: np.ndarray, entry_price: np.ndarray, open_: np.ndarray,
                high: np.ndarray, low: np.ndarray, close: np.ndarray, *, stop_loss: float | None,
                take_profit: float | None, trailing_stop: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For trips held from candle ``entries[t]`` to ``lasts[t]`` and entered at ``entry_price[t]``: the candle of
    each trip's exit (-1 if none), its fill price before spread and fee, and its reason code."""
    trips = entries.shape[0]
    exit_at, level, reason = np.full(trips, -1), np.zeros(trips), np.zeros(trips, dtype=np.int8)
    lengths = lasts - entries + 1
    if trips == 0 or (stop_loss is None and take_profit is None and trailing_stop is None):
        return exit_at, level, reason
    starts = np.add.accumulate(lengths) - lengths
    trip = np.arange(trips).repeat(lengths)
    candle = np.arange(trip.shape[0]) + (entries - starts).repeat(lengths)
    entered = entry_price.repeat(lengths)

    stop = entered * (1 - stop_loss) if stop_loss is not None else np.full(candle.shape, -np.inf)
    trailing = np.zeros(candle.shape, dtype=bool)
    if trailing_stop is not None:
        highest = np.empty(candle.shape)
        highest[1:] = _segmented_running_max(close[candle], trip)[:-1]
        highest[starts] = -np.inf  # no close of this trip before its entry candle
        trail = (1 - trailing_stop) * np.maximum(entered, highest)
        trailing = trail > stop
        stop = np.maximum(stop, trail)
    stop_hit = low[candle] <= stop
    target = entered * (1 + take_profit) if take_profit is not None else np.full(candle.shape, np.inf)
    hit = (stop_hit | (high[candle] >= target)).nonzero()[0]
    if hit.shape[0] == 0:
        return exit_at, level, reason
    first = hit[np.concatenate(([True], trip[hit][1:] != trip[hit][:-1]))]
    which, at, stopped = trip[first], candle[first], stop_hit[first]
    exit_at[which] = at
    level[which] = np.where(stopped, np.minimum(open_[at], stop[first]), np.maximum(open_[at], target[first]))
    reason[which] = np.where(stopped, np.where(trailing[first], TRAILING_STOP, STOP_LOSS), TAKE_PROFIT)
    return exit_at, level, reason
