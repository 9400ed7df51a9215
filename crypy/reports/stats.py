"""The statistics of a run, from its round trips and its equity curve.

The equity curve is a sequence of ``(ts_ms, equity)`` points in the account's quote currency, in time order (one
per candle, say). Amounts stay ``Decimal``; ratios and statistics are floats, as fractions (not percents).
Empty inputs give zeros, never an exception.

Trade statistics count closed trips only: an open trip is not a trade yet (it still counts in ``exposure`` and
``fees``). A win is a trip with ``pnl > 0``, a loss one with ``pnl < 0`` (break-even is neither). Profits are
summed as ``pnl_quote``, each trip's in its pair's quote currency, which is the account's for crypy's markets.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .trades import RoundTrip

YEAR_MS = 365 * 24 * 3600 * 1000
"""Crypto markets trade every day of the year."""

EquityCurve = Sequence[tuple[int, Decimal]]
_ZERO = Decimal(0)


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
    """A year over the median spacing of the curve's points (0 without two distinct timestamps)."""
    gaps = [b[0] - a[0] for a, b in zip(curve, curve[1:], strict=False) if b[0] > a[0]]
    return YEAR_MS / statistics.median(gaps) if gaps else 0.0


def period_returns(curve: EquityCurve) -> list[float]:
    """``equity_i / equity_(i-1) - 1`` for each point after the first (0 after a point at or below 0)."""
    return [float(b[1] / a[1] - 1) if a[1] > 0 else 0.0 for a, b in zip(curve, curve[1:], strict=False)]


def sharpe(returns: Sequence[float]) -> float:
    """Mean over sample standard deviation (ddof=1), per period, risk-free rate 0."""
    if len(returns) < 2:
        return 0.0
    deviation = statistics.stdev(returns)
    return statistics.fmean(returns) / deviation if deviation > 0 else 0.0


def sortino(returns: Sequence[float]) -> float:
    """Mean over downside deviation ``sqrt(sum(min(r, 0) ** 2) / n)``, per period, target 0."""
    if len(returns) < 2:
        return 0.0
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    return statistics.fmean(returns) / downside if downside > 0 else 0.0


def max_drawdown(curve: EquityCurve) -> Drawdown:
    """The deepest fall from a peak (see ``Drawdown``); the first of equally deep ones."""
    if not curve:
        return Drawdown()
    peak_ts, peak = curve[0]
    deepest, deepest_peak, deepest_at = 0.0, curve[0], 0
    for index, (ts, equity) in enumerate(curve):
        if equity >= peak:
            peak_ts, peak = ts, equity
        elif peak > 0 and float((peak - equity) / peak) > deepest:
            deepest, deepest_peak, deepest_at = float((peak - equity) / peak), (peak_ts, peak), index
    if deepest == 0:
        return Drawdown()
    start, top = deepest_peak
    recovery = next((ts for ts, equity in curve[deepest_at:] if equity >= top), None)
    return Drawdown(fraction=deepest, value=top - curve[deepest_at][1],
                    duration=(recovery if recovery is not None else curve[-1][0]) - start,
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
    ends: dict[tuple[int, int], Decimal] = {}
    month, begins, ends_at = (0, 0), 0, -1
    for ts, equity in curve:
        if not begins <= ts < ends_at:  # a month's span is worked out once, not a date per point
            moment = datetime.fromtimestamp(ts / 1000, tz=UTC)
            month = moment.year, moment.month
            first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
            following = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
            begins, ends_at = int(first.timestamp() * 1000), int(following.timestamp() * 1000)
        ends[month] = equity
    result: dict[tuple[int, int], float] = {}
    before = curve[0][1] if curve else _ZERO
    for month in sorted(ends):
        result[month] = float(ends[month] / before - 1) if before > 0 else 0.0
        before = ends[month]
    return result
