"""The statistics of a run, from its round trips and its equity curve.

The equity curve is a sequence of ``(ts_ms, equity)`` points in the account's quote currency, in time order (one
per candle, say). Amounts stay ``Decimal``; ratios and statistics are floats, as fractions (not percents).
Empty inputs give zeros, never an exception.

A long backtest's curve has a million points: ``compute_stats`` reads it once into ``EquityColumns`` and works on
those, with numpy where it gives the very same numbers and Python on the ``Decimal`` amounts elsewhere.

Trade statistics count closed trips only: an open trip is not a trade yet (it still counts in ``exposure`` and
``fees``). A win is a trip with ``pnl > 0``, a loss one with ``pnl < 0`` (break-even is neither). Profits are
summed as ``pnl_quote``, each trip's in its pair's quote currency, which is the account's for crypy's markets.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from itertools import repeat
from typing import overload

import numpy as np

from .trades import RoundTrip

YEAR_MS = 365 * 24 * 3600 * 1000
"""Crypto markets trade every day of the year."""

EquityCurve = Sequence[tuple[int, Decimal]]
_ZERO = Decimal(0)
_ONE = Decimal(1)


class EquityColumns(Sequence[tuple[int, Decimal]]):
    """An equity curve kept as two columns: ``times`` (ms, int64) for numpy, ``values`` the amounts as they were.

    Its points are the curve's, ``(int, Decimal)``; a slice is columns again. It is a snapshot, never changed,
    so its drawdown is worked out once (the statistics and the chart both show it)."""

    def __init__(self, times: np.ndarray, values: list[Decimal]) -> None:
        self.times, self.values = times, values

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[tuple[int, Decimal]]:
        return zip(self.times.tolist(), self.values, strict=True)

    @overload
    def __getitem__(self, index: int) -> tuple[int, Decimal]: ...

    @overload
    def __getitem__(self, index: slice) -> EquityColumns: ...

    def __getitem__(self, index: int | slice) -> tuple[int, Decimal] | EquityColumns:
        if isinstance(index, slice):
            return EquityColumns(self.times[index], self.values[index])
        return int(self.times[index]), self.values[index]

    @cached_property
    def drawdown(self) -> Drawdown:
        return _deepest_fall(self)


def equity_columns(curve: EquityCurve) -> EquityColumns:
    """``curve`` as columns, its points read once; columns already are returned as they are."""
    if isinstance(curve, EquityColumns):
        return curve
    values = [equity for _, equity in curve]
    return EquityColumns(np.fromiter((ts for ts, _ in curve), dtype=np.int64, count=len(values)), values)


@dataclass(frozen=True)
class TradeStats:
    """What a set of trips did.

    - ``win_rate``: wins over trades; ``expectancy``: mean trip return;
    - ``profit_factor``: sum of winning ``pnl_quote`` over the absolute sum of losing ones; ``inf`` without a
      loss, 0 without a win;
    - ``pnl``: summed ``pnl_quote``.
    """

    trades: int = 0
    win_rate: float = 0.0
    pnl: Decimal = _ZERO
    expectancy: float = 0.0
    profit_factor: float = 0.0


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall of the equity curve from a previous peak, as a fraction of that peak.

    ``value`` is that same fall in quote currency (peak - trough); ``duration`` runs from the peak (its last
    point before the fall) to the first point back at or above it, or to the curve's end if never recovered.
    """

    fraction: float = 0.0
    value: Decimal = _ZERO
    duration: int = 0
    recovered: bool = True


@dataclass(frozen=True)
class Stats:
    """A run's statistics. Curve returns are per point: ``r_i = equity_i / equity_(i-1) - 1``.

    - ``total_return``: last equity / first - 1; ``cagr``: ``(last / first) ** (year / duration) - 1`` over the
      curve's duration (a 365-day year; -1 when equity reached 0; inf when annualising overflows a float);
    - ``trades``, ``win_rate``, ``expectancy``, ``profit_factor``: as ``TradeStats``; ``avg_win`` / ``avg_loss``:
      mean return of the winning / losing trips (``avg_loss`` <= 0); ``best_trade`` / ``worst_trade``: the
      highest / lowest trip return;
    - ``max_drawdown`` (fraction), ``max_drawdown_value`` (quote), ``max_drawdown_duration`` (ms): as
      ``Drawdown``;
    - ``sharpe``: mean of ``r`` over its sample standard deviation (ddof=1), risk-free rate 0, times
      ``sqrt(periods_per_year)``; ``sortino``: mean of ``r`` over the downside deviation
      ``sqrt(sum(min(r_i, 0) ** 2) / n)`` (target 0, all ``n`` returns counted), times the same; both 0 with
      fewer than 2 returns or a deviation of 0;
    - ``calmar``: ``cagr / max_drawdown`` (0 without a drawdown);
    - ``exposure``: share of the curve's duration with at least one trip open (a trip open at the end stays
      open to the curve's end);
    - ``fees``: every trip's fees, quote currency;
    - ``profitable_months``: share of the calendar months (UTC) of ``monthly_returns`` above 0.
    """

    total_return: float = 0.0
    cagr: float = 0.0
    trades: int = 0
    win_rate: float = 0.0
    expectancy: float = 0.0
    avg_win: float = 0.0
    avg_loss: float = 0.0
    profit_factor: float = 0.0
    best_trade: float = 0.0
    worst_trade: float = 0.0
    max_drawdown: float = 0.0
    max_drawdown_value: Decimal = _ZERO
    max_drawdown_duration: int = 0
    sharpe: float = 0.0
    sortino: float = 0.0
    calmar: float = 0.0
    exposure: float = 0.0
    fees: Decimal = _ZERO
    profitable_months: float = 0.0


def compute_stats(trips: Sequence[RoundTrip], curve: EquityCurve,
                  periods_per_year: float | None = None) -> Stats:
    """The statistics of a run (see ``Stats``). Without ``periods_per_year``, it is a year over the median
    spacing of the curve's points."""
    curve = equity_columns(curve)
    closed = [trip for trip in trips if not trip.is_open]
    traded = trade_stats(closed)
    returns = [trip.return_ for trip in closed]
    wins = [trip.return_ for trip in closed if trip.pnl > 0]
    losses = [trip.return_ for trip in closed if trip.pnl < 0]
    drawdown = max_drawdown(curve)
    cagr = compound_annual_growth(curve)
    scale = math.sqrt(periods_per_year if periods_per_year is not None else curve_periods_per_year(curve))
    months = monthly_returns(curve)
    returns_per_period = period_returns(curve)
    return Stats(
        total_return=total_return(curve),
        cagr=cagr,
        trades=traded.trades,
        win_rate=traded.win_rate,
        expectancy=traded.expectancy,
        avg_win=statistics.fmean(wins) if wins else 0.0,
        avg_loss=statistics.fmean(losses) if losses else 0.0,
        profit_factor=traded.profit_factor,
        best_trade=max(returns, default=0.0),
        worst_trade=min(returns, default=0.0),
        max_drawdown=drawdown.fraction,
        max_drawdown_value=drawdown.value,
        max_drawdown_duration=drawdown.duration,
        sharpe=sharpe(returns_per_period) * scale,
        sortino=sortino(returns_per_period) * scale,
        calmar=cagr / drawdown.fraction if drawdown.fraction > 0 else 0.0,
        exposure=exposure(trips, curve),
        fees=sum((trip.fees for trip in trips), _ZERO),
        profitable_months=sum(1 for r in months.values() if r > 0) / len(months) if months else 0.0,
    )


def trade_stats(trips: Sequence[RoundTrip]) -> TradeStats:
    """What ``trips`` did, all of them counted (see ``TradeStats``)."""
    if not trips:
        return TradeStats()
    gained = sum((trip.pnl_quote for trip in trips if trip.pnl > 0), _ZERO)
    lost = -sum((trip.pnl_quote for trip in trips if trip.pnl < 0), _ZERO)
    if lost:
        profit_factor = float(gained / lost)
    else:
        profit_factor = math.inf if gained else 0.0
    return TradeStats(
        trades=len(trips),
        win_rate=sum(1 for trip in trips if trip.pnl > 0) / len(trips),
        pnl=sum((trip.pnl_quote for trip in trips), _ZERO),
        expectancy=statistics.fmean(trip.return_ for trip in trips),
        profit_factor=profit_factor,
    )


def breakdown(trips: Sequence[RoundTrip], key: str | Callable[[RoundTrip], str]) -> dict[str, TradeStats]:
    """``TradeStats`` of the closed trips per group: ``key`` names a trip's field (``"strategy"``, ``"pair"``,
    ``"exit_reason"``) or computes the group. Groups come sorted by name."""
    name = key if callable(key) else (lambda trip: str(getattr(trip, key)))
    groups: dict[str, list[RoundTrip]] = {}
    for trip in trips:
        if not trip.is_open:
            groups.setdefault(name(trip), []).append(trip)
    return {group: trade_stats(groups[group]) for group in sorted(groups)}


def total_return(curve: EquityCurve) -> float:
    if len(curve) < 2 or curve[0][1] <= 0:
        return 0.0
    return float(curve[-1][1] / curve[0][1] - 1)


def compound_annual_growth(curve: EquityCurve) -> float:
    """CAGR: the yearly rate that compounds into the curve's total return over its duration."""
    if len(curve) < 2 or curve[0][1] <= 0 or curve[-1][0] <= curve[0][0]:
        return 0.0
    ratio = curve[-1][1] / curve[0][1]
    if ratio <= 0:
        return -1.0
    try:
        return math.exp(math.log(ratio) * YEAR_MS / (curve[-1][0] - curve[0][0])) - 1
    except OverflowError:
        return math.inf


def curve_periods_per_year(curve: EquityCurve) -> float:
    """A year over the median spacing of the curve's points (0 without two distinct timestamps); the median as
    ``statistics.median`` takes it, its middle gaps found without sorting them all."""
    gaps = np.diff(equity_columns(curve).times)
    gaps = gaps[gaps > 0]
    if not len(gaps):
        return 0.0
    middle = len(gaps) // 2
    ordered = np.partition(gaps, (max(middle - 1, 0), middle))
    median = int(ordered[middle]) if len(gaps) % 2 else (int(ordered[middle - 1]) + int(ordered[middle])) / 2
    return YEAR_MS / median


def period_returns(curve: EquityCurve) -> list[float]:
    """``equity_i / equity_(i-1) - 1`` for each point after the first (0 after a point at or below 0).

    An unchanged equity is a flat stretch (no position): its quotient is exactly 1, so its return is the zero of
    ``1 / 1 - 1``, taken without a division per point."""
    values = equity_columns(curve).values
    flat = float(_ONE / _ONE - 1)
    return [(flat if b == a else float(b / a - 1)) if a > 0 else 0.0
            for a, b in zip(values, values[1:], strict=False)]


def sharpe(returns: Sequence[float]) -> float:
    """Mean over sample standard deviation (ddof=1), per period, risk-free rate 0."""
    if len(returns) < 2:
        return 0.0
    deviation = statistics.stdev(returns)
    return statistics.fmean(returns) / deviation if deviation > 0 else 0.0


def sortino(returns: Sequence[float]) -> float:
    """Mean over downside deviation ``sqrt(sum(min(r, 0) ** 2) / n)``, per period, target 0.

    Only the falls (and NaN, which ``min(r, 0)`` keeps) are squared and summed, in order: the zeros of the other
    returns leave a float sum unchanged."""
    if len(returns) < 2:
        return 0.0
    data = np.asarray(returns, dtype=float)
    falls = data[~(data >= 0)].tolist()
    downside = math.sqrt(sum(map(pow, falls, repeat(2))) / len(returns))
    return statistics.fmean(returns) / downside if downside > 0 else 0.0


def max_drawdown(curve: EquityCurve) -> Drawdown:
    """The deepest fall from a peak (see ``Drawdown``); the first of equally deep ones."""
    return equity_columns(curve).drawdown


def _deepest_fall(columns: EquityColumns) -> Drawdown:
    """``max_drawdown`` of ``columns``, in one pass.

    Under one peak the fall only deepens as equity drops (each ``Decimal`` rounding keeps that order), so a point
    no lower than an earlier one under the same peak cannot beat what that one gave: only a new low since the
    peak is divided, and the first of equally deep falls stays the one found."""
    values = columns.values
    if not values:
        return Drawdown()
    peak = low = values[0]
    peak_at = deepest_peak_at = deepest_at = 0
    deepest = 0.0
    for index, equity in enumerate(values):
        if equity >= peak:
            peak = low = equity
            peak_at = index
        elif equity < low:
            low = equity
            if peak > 0:
                fall = float((peak - equity) / peak)
                if fall > deepest:
                    deepest, deepest_peak_at, deepest_at = fall, peak_at, index
    if deepest == 0:
        return Drawdown()
    top = values[deepest_peak_at]
    recovery = next((index for index in range(deepest_at, len(values)) if values[index] >= top), None)
    start, end = columns[deepest_peak_at][0], columns[-1 if recovery is None else recovery][0]
    return Drawdown(fraction=deepest, value=top - values[deepest_at], duration=end - start,
                    recovered=recovery is not None)


def exposure(trips: Sequence[RoundTrip], curve: EquityCurve) -> float:
    """Share of the curve's duration with at least one trip open (the union of the trips' spans)."""
    if len(curve) < 2 or curve[-1][0] <= curve[0][0]:
        return 0.0
    start, end = curve[0][0], curve[-1][0]
    spans = sorted((max(trip.entry_ts, start), min(end if trip.exit_ts is None else trip.exit_ts, end))
                   for trip in trips)
    covered, reached = 0, start
    for begin, finish in spans:
        begin = max(begin, reached)
        if finish > begin:
            covered += finish - begin
            reached = finish
    return covered / (end - start)


def monthly_returns(curve: EquityCurve) -> dict[tuple[int, int], float]:
    """Per calendar month (UTC) of the curve, ``(year, month)``: its last equity over the previous month's last
    (the curve's first point for its first month), less 1. Months without a point are absent."""
    columns = equity_columns(curve)
    if not columns:
        return {}
    months = columns.times.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)  # since 1970-01
    # the first of each month counted from the end is its last point
    codes, from_end = np.unique(months[::-1], return_index=True)
    result: dict[tuple[int, int], float] = {}
    before = columns.values[0]
    for code, at in zip(codes.tolist(), (len(months) - 1 - from_end).tolist(), strict=True):
        equity = columns.values[at]
        result[1970 + code // 12, code % 12 + 1] = float(equity / before - 1) if before > 0 else 0.0
        before = equity
    return result
