"""Simulating a strategy's targets over history, valued in the holder's own asset.

Execution rule (no look-ahead): the target decided at candle ``i``'s close is traded by a market order filled at
candle ``i + 1``'s open, half a spread worse than that open, less a taker fee on the notional; a decision on the
last candle has no next open and is not traded. Targets are the strategy's exposure to the base asset in [0, 1], a
signal strength. A holder of quote is "in position" (away from its own asset) with ``targets[i]`` of its equity. A
holder of base acts on direction only, away with all of it while the target is 0 and not at all otherwise: the
strength sizes a long position in base and says nothing about how much base to sell when the strategy wants none.

A round trip starts when the away fraction leaves 0, from the first decision after warmup on, and ends when it
returns to 0. Its size ``s`` is the away fraction decided at its entry, all of it entered at the entry fill: live
trading scales into a position separately, so changes of the strength within the trip do not resize it here. Over
the trip the equity is ``E0 * ((1 - s) + s * V)``, ``V`` the running value of the same trip at full size; fees and
spread thus fall on the ``s`` part only. Optional stop-loss, take-profit and trailing-stop exits (``exits_model``)
can end a trip earlier, inside a candle, half a spread worse than their trigger and less the fee; the holder then
stays out until the away fraction returns to 0 and leaves it again (a new entry signal), rather than buying straight
back into the move that stopped it out.

A holder of the base asset is the quote holder's mirror image: valued in base, quote is priced ``1 / close``,
selling base at the bid buys quote at ``1 / bid``, and buying base back at the ask sells quote at ``1 / ask``.
One computation therefore serves both, on mirrored prices (a candle's mirrored high is ``1 / low``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .exits_model import REASONS, first_exits
from .metrics import Metrics, compute_metrics, max_drawdown, total_return
from .strategy import Candles, Strategy, shared_indicators

__all__ = ["Metrics", "TradeLog", "best_strategy", "evaluate_grid", "simulate", "simulate_trades"]

_END = REASONS.index("end")


@dataclass(frozen=True)
class TradeLog:
    """The round trips of a simulation, one array entry per trip, in order.

    Indices are candles: the entry fills at ``entry_index``'s open; the exit fills at ``exit_index``'s open (a
    signal), inside it (an exit order) or at its close (``end``: still open, marked at the last close). Prices are
    the pair's (quote per base) fill prices, spread included and fee excluded; ``returns`` are in the holder's
    asset, fees included (see ``Metrics``). ``size`` is the share of the holder's equity a trip put at stake (the
    strength decided at its entry; 1 for a holder of base), so ``returns`` are scaled by it.
    """

    entry_index: np.ndarray
    exit_index: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    size: np.ndarray
    returns: np.ndarray
    reason_codes: np.ndarray

    def __len__(self) -> int:
        return self.entry_index.shape[0]

    @property
    def exit_reasons(self) -> list[str]:
        """``signal``, ``stop_loss``, ``take_profit``, ``trailing_stop`` or ``end`` per trip."""
        return [REASONS[code] for code in self.reason_codes]


def _checked(name: str, value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:
        raise ValueError(f"{name} must be a fraction in (0, 1), got {value}")
    return value


def _check_targets(targets: np.ndarray, first: int) -> None:
    """Targets from ``first`` (the first decision) on must be exposures in [0, 1]: NaN or a value out of range
    would silently size trips wrong."""
    view = targets[first:]
    if view.size == 0 or (np.minimum.reduce(view) >= 0 and np.maximum.reduce(view) <= 1):
        return
    bad = first + int(np.flatnonzero(~((view >= 0) & (view <= 1)))[0])
    raise ValueError(f"targets must be finite and in [0, 1] from index {first} (warmup - 1) on, got {targets[bad]} "
                     f"at index {bad}")


def _scale_trips(growth: np.ndarray, first: np.ndarray, last: np.ndarray, size: np.ndarray) -> None:
    """Rewrite, in place, the growth of candles ``first[t]..last[t]`` (the trips' spans) so that each trip has only
    ``size[t]`` of the equity at stake: ``(1 - s) + s * V`` times the equity before it, ``V`` its full-size value."""
    lengths = last - first + 1
    starts = np.add.accumulate(lengths) - lengths
    candle = np.arange(starts[-1] + lengths[-1]) + (first - starts).repeat(lengths)
    step = growth[candle]
    # V is one cumulative product over all the trips, restarted at each start by dividing by its value before it;
    # each trip's first step is also divided by the previous trip's total, so that the product stays near 1 and
    # cannot under- or overflow over thousands of trips
    totals = np.multiply.reduceat(step, starts)
    step[starts[1:]] /= totals[:-1]
    value = np.multiply.accumulate(step)
    restart = np.ones(first.shape)
    restart[1:] = value[starts[1:] - 1] / totals[:-1]
    value /= restart.repeat(lengths)
    stake = size.repeat(lengths)
    scaled = stake * value
    scaled += 1 - stake
    previous = np.empty_like(scaled)
    previous[1:] = scaled[:-1]
    previous[starts] = 1.0
    growth[candle] = scaled / previous


class _Run(NamedTuple):
    """A simulation before its metrics: the equity after each candle, its growth over each, the exposure (as in
    ``Metrics``) and the round trips. A ranking needs the full metrics of its best run only."""

    equity: np.ndarray
    growth: np.ndarray
    exposure: float
    trades: TradeLog

    def rank(self, start_value: float) -> tuple[float, float, int]:
        """Best total return first, ties to the smaller drawdown, then fewer trades (the same floats as the
        metrics')."""
        return -total_return(self.equity, start_value), max_drawdown(self.equity, start_value), len(self.trades)

    def metrics(self, start_value: float, periods_per_year: float) -> Metrics:
        return compute_metrics(self.equity, self.growth, self.exposure, self.trades.returns, start_value=start_value,
                               periods_per_year=periods_per_year)


def _run(open_: np.ndarray, close: np.ndarray, targets: np.ndarray, *, fee: float, spread: float,
         holder_holds_quote: bool, start_value: float, warmup: int, high: np.ndarray | None, low: np.ndarray | None,
         stop_loss: float | None, take_profit: float | None, trailing_stop: float | None) -> _Run:
    """``simulate_trades`` up to its metrics."""
    open_ = np.asarray(open_, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    targets = np.asarray(targets)
    count = close.shape[0]
    if count == 0 or open_.shape != close.shape or targets.shape != close.shape:
        raise ValueError(f"need equal, non-empty 1-D arrays, got open {open_.shape}, close {close.shape}, "
                         f"targets {targets.shape}")
    if not (0 <= fee < 1 and 0 <= spread < 2):
        raise ValueError(f"fee must be in [0, 1) and spread in [0, 2), got fee={fee}, spread={spread}")
    exits = {"stop_loss": _checked("stop_loss", stop_loss), "take_profit": _checked("take_profit", take_profit),
             "trailing_stop": _checked("trailing_stop", trailing_stop)}
    armed = stop_loss is not None or take_profit is not None or trailing_stop is not None
    if armed and (high is None or low is None):
        raise ValueError("stop_loss, take_profit and trailing_stop need the candles' high and low")

    first = max(warmup - 1, 0)
    _check_targets(targets, first)
    away = np.greater if holder_holds_quote else np.equal  # the targets that take the holder out of its asset
    held = np.zeros(count, dtype=bool)
    away(targets[first:-1], 0, out=held[first + 1:])  # decided at close i, held over candle i + 1; none before first
    edges = (held[1:] != held[:-1]).nonzero()[0] + 1  # held[0] is False: an entry first, then exit, entry...
    entries = edges[::2]
    lasts = edges[1::2] - 1
    if lasts.shape[0] < entries.shape[0]:
        lasts = np.append(lasts, count - 1)
    sizes = targets[entries - 1].astype(np.float64, copy=False) if holder_holds_quote else np.ones(entries.shape)

    # fill prices in the pair's terms (quote per base) at the entries' and the signal exits' opens
    half = spread / 2
    entry_price = open_[entries] * (1 + half if holder_holds_quote else 1 - half)
    mark, buy = (close, entry_price) if holder_holds_quote else (1 / close, 1 / entry_price)
    if armed:
        high_, low_ = np.asarray(high, dtype=np.float64), np.asarray(low, dtype=np.float64)
        if high_.shape != close.shape or low_.shape != close.shape:
            raise ValueError(f"high {high_.shape} and low {low_.shape} must match close {close.shape}")
        mirrored = (open_, high_, low_, close) if holder_holds_quote else (1 / open_, 1 / low_, 1 / high_, mark)
        exit_at, level, reason = first_exits(entries, lasts, buy, *mirrored, **exits)
    else:
        exit_at, level, reason = np.full(entries.shape, -1), np.zeros(entries.shape), np.zeros(entries.shape, np.int8)
    cut = exit_at >= 0
    at = exit_at[cut]
    if at.shape[0]:  # not held after an exit order: flat from the candle after it to the trip's signal exit
        lengths = lasts[cut] - at
        after = np.repeat(at + 1 - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        held[after] = False
    signal = ~cut & (lasts < count - 1)
    left = lasts[signal] + 1  # candles whose open the signal exits filled at
    signal_price = open_[left] * (1 - half if holder_holds_quote else 1 + half)

    # growth of the holder's equity over each candle; masks and gathers touch only the trips' edges
    stay = held.copy()
    stay[entries] = False
    growth = np.ones(count)
    np.divide(mark[1:], mark[:-1], out=growth[1:], where=stay[1:])
    growth[entries] = (1 - fee) * mark[entries] / buy
    growth[left] = (1 - fee) * (signal_price if holder_holds_quote else 1 / signal_price) / mark[left - 1]
    exit_price = np.full(entries.shape, close[-1])
    exit_price[signal] = signal_price
    if at.shape[0]:
        exit_fill = level[cut] * (1 - half) if holder_holds_quote else level[cut] / (1 + half)
        growth[at] *= (1 - fee) * exit_fill / mark[at]  # the candle ends at the exit's proceeds, not at its close
        exit_price[cut] = exit_fill if holder_holds_quote else 1 / exit_fill
    exit_index = np.where(cut, exit_at, np.minimum(lasts + 1, count - 1))
    partial = sizes < 1
    if partial.any():  # full-size trips keep their growth untouched, so 0/1 targets give the same bits as ever
        _scale_trips(growth, entries[partial], exit_index[partial], sizes[partial])
    equity = start_value * np.multiply.accumulate(growth)

    if lasts.shape[0] and lasts[-1] == count - 1 and not cut[-1]:  # only the last trip can be open at the end
        reason[-1] = _END
    returns = equity[exit_index] / equity[entries - 1] - 1
    trades = TradeLog(entry_index=entries, exit_index=exit_index, entry_price=entry_price, exit_price=exit_price,
                      size=sizes, returns=returns, reason_codes=reason)
    held_candles = np.where(cut, exit_at, lasts) - entries + 1
    return _Run(equity, growth, float(sizes @ held_candles) / count, trades)


def simulate_trades(open_: np.ndarray, close: np.ndarray, targets: np.ndarray, *, fee: float, spread: float,
                    holder_holds_quote: bool, start_value: float = 1.0, warmup: int = 0,
                    high: np.ndarray | None = None, low: np.ndarray | None = None, stop_loss: float | None = None,
                    take_profit: float | None = None, trailing_stop: float | None = None,
                    periods_per_year: float = 1.0) -> tuple[Metrics, TradeLog]:
    """``simulate``, with the round trips it made (to compare them with another backtester, or to show them)."""
    run = _run(open_, close, targets, fee=fee, spread=spread, holder_holds_quote=holder_holds_quote,
               start_value=start_value, warmup=warmup, high=high, low=low, stop_loss=stop_loss,
               take_profit=take_profit, trailing_stop=trailing_stop)
    return run.metrics(start_value, periods_per_year), run.trades


def simulate(open_: np.ndarray, close: np.ndarray, targets: np.ndarray, *, fee: float, spread: float,
             holder_holds_quote: bool, start_value: float = 1.0, warmup: int = 0, high: np.ndarray | None = None,
             low: np.ndarray | None = None, stop_loss: float | None = None, take_profit: float | None = None,
             trailing_stop: float | None = None, periods_per_year: float = 1.0) -> Metrics:
    """Run ``targets`` (exposures to base in [0, 1]) over the candles; ``targets[:warmup - 1]`` carry no view and
    are ignored (NaN allowed), the rest must be finite and in range (``ValueError`` otherwise). Exits are
    fractions of the entry price in the holder's valuation and need ``high`` and ``low``; ``periods_per_year``
    annualises Sharpe and Sortino (see ``metrics.periods_per_year``)."""
    return simulate_trades(open_, close, targets, fee=fee, spread=spread, holder_holds_quote=holder_holds_quote,
                           start_value=start_value, warmup=warmup, high=high, low=low, stop_loss=stop_loss,
                           take_profit=take_profit, trailing_stop=trailing_stop, periods_per_year=periods_per_year)[0]


def _simulated(strategy: Strategy, candles: Candles, *, fee: float, spread: float, holder_holds_quote: bool,
               start_value: float, stop_loss: float | None, take_profit: float | None,
               trailing_stop: float | None) -> _Run:
    """One parameter set's run over the candles, up to its metrics."""
    return _run(candles.open, candles.close, strategy.targets(candles), fee=fee, spread=spread,
                holder_holds_quote=holder_holds_quote, start_value=start_value, warmup=strategy.warmup,
                high=candles.high, low=candles.low, stop_loss=stop_loss, take_profit=take_profit,
                trailing_stop=trailing_stop)


def evaluate_grid(strategy_cls: type[Strategy], grid: Iterable[Mapping[str, float]], candles: Candles, *,
                  fee: float, spread: float, holder_holds_quote: bool, start_value: float = 1.0,
                  stop_loss: float | None = None, take_profit: float | None = None,
                  trailing_stop: float | None = None,
                  periods_per_year: float = 1.0) -> list[tuple[dict[str, int | float], Metrics]]:
    """Simulate every parameter set; best total return first, ties to the smaller drawdown, then fewer trades,
    then grid order (the sort is stable), so the same grid always ranks the same way. The sets share the
    indicators they have in common (``shared_indicators``)."""
    results = []
    with shared_indicators(candles):
        for params in grid:
            strategy = strategy_cls(**params)
            run = _simulated(strategy, candles, fee=fee, spread=spread, holder_holds_quote=holder_holds_quote,
                             start_value=start_value, stop_loss=stop_loss, take_profit=take_profit,
                             trailing_stop=trailing_stop)
            results.append((strategy.params, run.metrics(start_value, periods_per_year)))
    return sorted(results, key=lambda result: (-result[1].total_return, result[1].max_drawdown, result[1].trades))


def best_strategy(strategies: Sequence[Strategy], candles: Candles, *, fee: float, spread: float,
                  holder_holds_quote: bool, start_value: float = 1.0, stop_loss: float | None = None,
                  take_profit: float | None = None, trailing_stop: float | None = None,
                  periods_per_year: float = 1.0) -> tuple[dict[str, int | float], Metrics]:
    """The first of ``evaluate_grid``'s ranking, for strategies already built (a trader builds each parameter set
    once, to check it). Only the ranking's figures are computed for every set, the full metrics for the first
    alone, and only the best run so far is kept."""

    def simulated(strategy: Strategy) -> _Run:
        return _simulated(strategy, candles, fee=fee, spread=spread, holder_holds_quote=holder_holds_quote,
                          start_value=start_value, stop_loss=stop_loss, take_profit=take_profit,
                          trailing_stop=trailing_stop)

    ranks: list[tuple[float, float, int]] = []
    kept: tuple[int, _Run] | None = None
    with shared_indicators(candles):
        for index, strategy in enumerate(strategies):
            run = simulated(strategy)
            ranks.append(run.rank(start_value))
            if kept is None or ranks[-1] < ranks[kept[0]]:
                kept = (index, run)
        first = sorted(range(len(ranks)), key=ranks.__getitem__)[0]  # evaluate_grid's sort, on the same keys
        # the kept run is that first one unless a figure is NaN (unordered, from NaN prices): then run it again
        run = kept[1] if kept is not None and kept[0] == first else simulated(strategies[first])
    return strategies[first].params, run.metrics(start_value, periods_per_year)
