"""What a holder judges a proposal by, computed from a simulated equity curve and its round trips.

Fractions, not percents; equity is in the holder's own asset. Every ratio that would divide by zero is 0 rather
than inf or NaN, so that metrics always travel as finite floats in proposals (and a holder's threshold on them
refuses rather than accepts what cannot be measured).
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from crypy.protocols import timeframe_ms

_YEAR_MS = 365 * 24 * 3600 * 1000  # crypto markets trade every day of the year


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """Performance of one simulation.

    A position still open at the end counts as a round trip closed at the last close (marked, no exit cost).
    A trade's return is the holder's equity after its exit over the equity before its entry, less 1: fees and
    spread included; a win is a return above 0 (break-even is neither win nor loss).

    - ``return_ratio``: ``total_return / max_drawdown`` (a return per unit of the worst fall, like a Calmar ratio
      over the whole history rather than a year); 0 when there was no drawdown.
    - ``expectancy``: mean trade return; ``avg_win`` / ``avg_loss``: mean return of winning / losing trades
      (``avg_loss`` is negative or 0); ``profit_factor``: summed winning returns over summed losing returns
      (positive; 0 without losing trades).
    - ``sharpe`` / ``sortino``: mean over standard deviation (Sortino: over downside deviation, the root mean
      square of the negative returns, target 0) of the equity curve's per-candle returns, every candle counted
      (flat ones give 0), population moments, risk-free rate 0, times ``sqrt(periods_per_year)``: per candle when
      that is 1, yearly with ``periods_per_year(timeframe)``.
    - ``exposure``: time-weighted share of the equity away from the holder's asset: each candle a position was
      held (an exit candle counts) adds its trip's size, over the number of candles; with full-size trips only,
      the share of candles in position.
    """

    total_return: float
    trades: int
    win_rate: float
    max_drawdown: float
    exposure: float
    final_equity: float
    return_ratio: float = 0.0
    expectancy: float = 0.0
    avg_win: float = 0.0
    avg_loss: float = 0.0
    profit_factor: float = 0.0
    sharpe: float = 0.0
    sortino: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {field: float(getattr(self, field)) for field in self.__struct_fields__}


def periods_per_year(timeframe: str) -> float:
    """Candles of ``timeframe`` (``1m``, ``15m``, ``1h``, ``1d``...) in a 365-day year, to annualise ratios."""
    return _YEAR_MS / timeframe_ms(timeframe)


def _sum(values: np.ndarray) -> float:
    """``values.sum()``: the same pairwise sum, without numpy's Python-level wrapper (a grid calls it by the dozen
    per parameter set on a few hundred candles, where the wrapper costs more than the sum)."""
    return float(np.add.reduce(values))


def _mean(values: np.ndarray) -> float:
    """``values.mean()``, the same floats: the sum over the count."""
    return _sum(values) / values.shape[0]


def total_return(equity: np.ndarray, start_value: float) -> float:
    """The equity's last value over its start, less 1."""
    return float(equity[-1] / start_value - 1)


def max_drawdown(equity: np.ndarray, start_value: float) -> float:
    """The deepest fall of the equity (from ``start_value`` on) under its running peak, as a fraction of it."""
    curve = np.concatenate(([start_value], equity))
    return float(np.maximum.reduce(1 - curve / np.maximum.accumulate(curve)))


def compute_metrics(equity: np.ndarray, growth: np.ndarray, exposure: float, trade_returns: np.ndarray, *,
                    start_value: float, periods_per_year: float = 1.0) -> Metrics:
    """Metrics of an equity curve (value after each candle, ``growth`` its ratio to the one before), its
    ``exposure`` (as in ``Metrics``) and the round-trip returns."""
    drawdown, gain = max_drawdown(equity, start_value), total_return(equity, start_value)
    wins, losses = trade_returns[trade_returns > 0], trade_returns[trade_returns < 0]
    count = trade_returns.shape[0]
    returns = growth - 1
    mean = _mean(returns)
    deviations = returns - mean
    std = math.sqrt(_mean(deviations * deviations))  # ``returns.std()``: two passes, population variance
    downside_returns = np.minimum(returns, 0.0)
    downside = math.sqrt(_mean(downside_returns * downside_returns))
    scale = math.sqrt(periods_per_year)
    return Metrics(
        total_return=gain,
        trades=count,
        win_rate=wins.shape[0] / count if count else 0.0,
        max_drawdown=drawdown,
        exposure=float(exposure),
        final_equity=float(equity[-1]),
        return_ratio=gain / drawdown if drawdown > 0 else 0.0,
        expectancy=_mean(trade_returns) if count else 0.0,
        avg_win=_mean(wins) if wins.shape[0] else 0.0,
        avg_loss=_mean(losses) if losses.shape[0] else 0.0,
        profit_factor=_sum(wins) / -_sum(losses) if losses.shape[0] else 0.0,
        sharpe=mean / std * scale if std > 0 else 0.0,
        sortino=mean / downside * scale if downside > 0 else 0.0,
    )
