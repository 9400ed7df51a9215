"""Statistics of a hand-made run: the answers are worked out in plain arithmetic next to each check."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from crypy.protocols import Side
from crypy.reports import RoundTrip, Stats, TradeStats, breakdown, compute_stats, max_drawdown, monthly_returns

HOUR = 3600 * 1000
DAY = 24 * HOUR


def ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


T0 = ms(2024, 1, 30)
# Jan 30 -> Mar 1 2024 (a leap year): 2 days of January + 29 of February = 31 days
CURVE = [(T0, D(1000)), (ms(2024, 1, 31), D(1100)), (ms(2024, 2, 1), D(990)), (ms(2024, 2, 2), D(1045)),
         (ms(2024, 2, 3), D(1210)), (ms(2024, 3, 1), D("1149.5"))]


def trip(strategy: str, pair: str, reason: str, pnl_quote: str, return_: float, entry: int, exit_: int | None,
         fees: str, side: Side = Side.BUY, pnl: str | None = None) -> RoundTrip:
    return RoundTrip(trader=f"{pair}@X", pair=pair, strategy=strategy, side=side, entry_ts=entry, exit_ts=exit_,
                     entry_price=D(1), exit_price=None if exit_ is None else D(1), amount=D(1), fees=D(fees),
                     pnl=D(pnl if pnl is not None else pnl_quote), pnl_quote=D(pnl_quote), return_=return_,
                     exit_reason=reason if exit_ is not None else "open")


TRIPS = [
    trip("sma", "XBT/USD", "signal", "30", 0.03, T0, T0 + 24 * HOUR, "1"),
    # a base holder's loss: pnl in XBT, -20 USD
    trip("sma", "ETH/USD", "stop_loss", "-20", -0.02, T0 + 12 * HOUR, T0 + 48 * HOUR, "2", Side.SELL, "-0.0004"),
    trip("rsi", "XBT/USD", "take_profit", "50", 0.05, T0 + 72 * HOUR, T0 + 96 * HOUR, "3"),
    trip("rsi", "ETH/USD", "signal", "0", 0.0, T0 + 80 * HOUR, T0 + 90 * HOUR, "0.5"),  # break-even
    trip("rsi", "XBT/USD", "open", "-1", -0.001, T0 + 720 * HOUR, None, "0.25"),  # open at the end
]


def test_stats_of_a_hand_made_run() -> None:
    stats = compute_stats(TRIPS, CURVE, periods_per_year=365)
    # closed trips: returns 0.03, -0.02, 0.05, 0; wins 0.03, 0.05; one loss -0.02
    assert stats.trades == 4
    assert stats.win_rate == 0.5
    assert stats.expectancy == pytest.approx((0.03 - 0.02 + 0.05 + 0) / 4)
    assert stats.avg_win == pytest.approx(0.04) and stats.avg_loss == pytest.approx(-0.02)
    assert stats.profit_factor == pytest.approx((30 + 50) / 20)
    assert (stats.best_trade, stats.worst_trade) == (0.05, -0.02)
    assert stats.fees == D("6.75")  # 1 + 2 + 3 + 0.5 + 0.25, the open trip's included
    # 1000 -> 1149.5
    assert stats.total_return == pytest.approx(0.1495)
    cagr = 1.1495 ** (365 / 31) - 1
    assert stats.cagr == pytest.approx(cagr)
    # peak 1100 (Jan 31) -> trough 990: 10%, 110 USD; back above 1100 on Feb 3 (3 days). The later fall
    # 1210 -> 1149.5 is only 5%.
    assert stats.max_drawdown == pytest.approx(0.1)
    assert stats.max_drawdown_value == D(110)
    assert stats.max_drawdown_duration == 3 * DAY
    assert stats.calmar == pytest.approx(cagr / 0.1)
    returns = [0.1, -0.1, 55 / 990, 165 / 1045, -60.5 / 1210]
    mean = sum(returns) / 5
    sample_std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 4)
    downside = math.sqrt((0.1 ** 2 + (60.5 / 1210) ** 2) / 5)
    assert stats.sharpe == pytest.approx(mean / sample_std * math.sqrt(365))
    assert stats.sortino == pytest.approx(mean / downside * math.sqrt(365))
    # spans from T0, in hours: [0, 24] + [12, 48] = 48; [72, 96] (containing [80, 90]) = 24; [720, 744 end] = 24
    assert stats.exposure == pytest.approx((48 + 24 + 24) / (31 * 24))
    # January +10%, February 1210 / 1100 = +10%, March 1149.5 / 1210 = -5%
    assert stats.profitable_months == pytest.approx(2 / 3)


def test_monthly_returns() -> None:
    assert monthly_returns(CURVE) == pytest.approx({(2024, 1): 0.1, (2024, 2): 0.1, (2024, 3): -0.05})
    # a month without a point is skipped: April compares with January's end
    gap = [(ms(2024, 1, 1), D(100)), (ms(2024, 1, 31), D(110)), (ms(2024, 4, 2), D(121))]
    assert monthly_returns(gap) == pytest.approx({(2024, 1): 0.1, (2024, 4): 0.1})


def test_breakdown_by_strategy() -> None:
    assert breakdown(TRIPS, "strategy") == {
        # rsi: the open trip is not counted: take_profit +50 (0.05) and a break-even
        "rsi": TradeStats(trades=2, win_rate=0.5, pnl=D(50), expectancy=pytest.approx(0.025), profit_factor=math.inf),
        "sma": TradeStats(trades=2, win_rate=0.5, pnl=D(10), expectancy=pytest.approx(0.005), profit_factor=1.5),
    }


def test_breakdown_by_pair() -> None:
    assert breakdown(TRIPS, "pair") == {
        "ETH/USD": TradeStats(trades=2, win_rate=0.0, pnl=D(-20), expectancy=pytest.approx(-0.01), profit_factor=0.0),
        "XBT/USD": TradeStats(trades=2, win_rate=1.0, pnl=D(80), expectancy=pytest.approx(0.04), profit_factor=math.inf),
    }


def test_breakdown_by_exit_reason() -> None:
    assert breakdown(TRIPS, "exit_reason") == {
        "signal": TradeStats(trades=2, win_rate=0.5, pnl=D(30), expectancy=pytest.approx(0.015), profit_factor=math.inf),
        "stop_loss": TradeStats(trades=1, win_rate=0.0, pnl=D(-20), expectancy=pytest.approx(-0.02), profit_factor=0.0),
        "take_profit": TradeStats(trades=1, win_rate=1.0, pnl=D(50), expectancy=pytest.approx(0.05), profit_factor=math.inf),
    }


def test_breakdown_by_a_computed_key() -> None:
    by_side = breakdown(TRIPS, lambda t: t.side.value)
    assert {side: group.trades for side, group in by_side.items()} == {"buy": 3, "sell": 1}


def test_empty_inputs_give_zeros() -> None:
    assert compute_stats([], []) == Stats()
    assert compute_stats([], [(T0, D(1000))]) == Stats()
    assert monthly_returns([]) == {} and breakdown([], "pair") == {}


def test_no_trades_over_a_curve() -> None:
    stats = compute_stats([], [(T0, D(100)), (T0 + DAY, D(100))])
    assert (stats.trades, stats.win_rate, stats.profit_factor, stats.exposure, stats.fees) == (0, 0.0, 0.0, 0.0, D(0))
    assert (stats.sharpe, stats.sortino, stats.max_drawdown, stats.calmar) == (0.0, 0.0, 0.0, 0.0)


def test_all_winners_have_an_infinite_profit_factor() -> None:
    winners = [trip("sma", "XBT/USD", "signal", "5", 0.05, T0, T0 + HOUR, "0"),
               trip("sma", "XBT/USD", "take_profit", "1", 0.01, T0 + HOUR, T0 + 2 * HOUR, "0")]
    stats = compute_stats(winners, CURVE)
    assert stats.profit_factor == math.inf and stats.win_rate == 1.0 and stats.avg_loss == 0.0
    assert compute_stats(winners[:0] + [trip("sma", "XBT/USD", "signal", "-5", -0.05, T0, T0 + 1, "0")],
                         CURVE).profit_factor == 0.0


def test_drawdown_not_recovered() -> None:
    curve = [(0, D(100)), (HOUR, D(120)), (2 * HOUR, D(90)), (3 * HOUR, D(110))]
    drawdown = max_drawdown(curve)
    # 120 -> 90: 25%, 30 USD, from the peak (1 h) to the end (3 h) as 110 never reaches 120 again
    assert drawdown.fraction == pytest.approx(0.25) and drawdown.value == D(30)
    assert drawdown.duration == 2 * HOUR and not drawdown.recovered


def test_periods_per_year_from_the_spacing() -> None:
    curve = [(i * HOUR, D(v)) for i, v in enumerate([100, 102, 101, 104, 103])]
    returns = [0.02, -1 / 102, 3 / 101, -1 / 104]
    mean = sum(returns) / 4
    sample_std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 3)
    # hourly points: 365 * 24 = 8760 periods a year
    assert compute_stats([], curve).sharpe == pytest.approx(mean / sample_std * math.sqrt(8760))


def test_cagr_edges() -> None:
    assert compute_stats([], [(0, D(100)), (DAY, D(0))]).cagr == -1.0
    assert compute_stats([], [(0, D(100)), (1, D(200))]).cagr == math.inf  # doubling in 1 ms overflows
