"""Statistics of a hand-made run: the answers are worked out in plain arithmetic next to each check."""

from __future__ import annotations

import csv
import io
import math
import random
import statistics
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from crypy.protocols import Side
from crypy.repl.tables import plain
from crypy.reports import (
    Drawdown,
    RoundTrip,
    Stats,
    TradeStats,
    breakdown,
    compute_stats,
    max_drawdown,
    monthly_returns,
)
from crypy.reports.outputs import EQUITY_COLUMNS, iso_utc, write_equity
from crypy.reports.stats import (
    YEAR_MS,
    curve_periods_per_year,
    equity_columns,
    period_returns,
    sharpe,
    sortino,
)

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


# Semantics the long-run shortcuts rely on: each is checked against the plain definition it replaces.


def test_equally_deep_drawdowns_keep_the_first() -> None:
    # 10% under the first peak, then 10% again under a higher one: the first is the one reported
    curve = [(0, D(100)), (HOUR, D(90)), (2 * HOUR, D(200)), (3 * HOUR, D(180)), (4 * HOUR, D(200))]
    drawdown = max_drawdown(curve)
    assert (drawdown.fraction, drawdown.value, drawdown.duration, drawdown.recovered) == (0.1, D(10), 2 * HOUR, True)
    # the same low twice under one peak: the first trough's amount, written as that point is
    curve = [(0, D(100)), (HOUR, D("90.0")), (2 * HOUR, D(95)), (3 * HOUR, D("90.00")), (4 * HOUR, D(101))]
    assert str(max_drawdown(curve).value) == "10.0"
    # falls that differ as Decimals but not as floats are equally deep too
    second = D("1.8") - D("2E-25")
    assert float((2 - second) / 2) == 0.1
    drawdown = max_drawdown([(0, D(1)), (HOUR, D("0.9")), (2 * HOUR, D(2)), (3 * HOUR, second)])
    assert drawdown.value == D("0.1") and drawdown.duration == 2 * HOUR


def test_drawdown_peak_is_the_last_point_at_the_top() -> None:
    # back at the peak (written differently) before falling: the fall runs from the later point and its amount
    # is written from it
    curve = [(0, D(100)), (HOUR, D("100.0")), (2 * HOUR, D(80)), (3 * HOUR, D(120))]
    drawdown = max_drawdown(curve)
    assert str(drawdown.value) == "20.0" and drawdown.duration == 2 * HOUR and drawdown.recovered


def test_drawdown_deepest_only_at_a_new_low() -> None:
    # a bounce under the same peak is never deeper than the low before it; the deepest is the lowest point
    curve = [(i * HOUR, D(v)) for i, v in enumerate([100, 70, 85, 75, 60, 95, 65, 99])]
    drawdown = max_drawdown(curve)
    assert drawdown.fraction == 0.4 and drawdown.value == D(40)
    assert drawdown.duration == 7 * HOUR and not drawdown.recovered


def test_drawdown_through_zero_and_below() -> None:
    lost = max_drawdown([(0, D(100)), (HOUR, D(0)), (2 * HOUR, D(50))])
    assert (lost.fraction, lost.value, lost.duration, lost.recovered) == (1.0, D(100), 2 * HOUR, False)
    below = max_drawdown([(0, D(100)), (HOUR, D(-50)), (2 * HOUR, D(100))])
    assert (below.fraction, below.value, below.duration, below.recovered) == (1.5, D(150), 2 * HOUR, True)
    # no peak above zero, no fall measured from it; the first one above zero counts
    assert max_drawdown([(0, D(0)), (HOUR, D(-5)), (2 * HOUR, D(0))]) == Drawdown()
    assert max_drawdown([(0, D(0)), (HOUR, D(-5)), (2 * HOUR, D(10)), (3 * HOUR, D(5))]).fraction == 0.5


def test_period_returns_of_flat_stretches_and_zero() -> None:
    curve = [(i * HOUR, D(v)) for i, v in enumerate(["100", "100.00", "110", "0", "0", "50"])]
    assert [repr(r) for r in period_returns(curve)] == ["0.0", "0.1", "-1.0", "0.0", "0.0"]
    # a 1e-30 move is no flat stretch, though it rounds to 0 as a float
    assert period_returns([(0, D(1)), (HOUR, D(1) + D("1E-30"))]) == [0.0]


def test_sharpe_and_sortino_are_the_plain_formulas_to_the_bit() -> None:
    generator = random.Random(7)
    for size in (2, 3, 50, 5000):
        returns = [generator.choice([0.0, -0.0, generator.gauss(0, 1e-3), generator.uniform(-1, 3),
                                     math.ldexp(generator.random(), -300)]) for _ in range(size)]
        deviation = statistics.stdev(returns)
        assert sharpe(returns) == (statistics.fmean(returns) / deviation if deviation > 0 else 0.0)
        downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
        assert sortino(returns) == (statistics.fmean(returns) / downside if downside > 0 else 0.0)
    # beyond the float range the exact sums cover, statistics does it
    extreme = [1e300, -1e300, 5e-324, 1.0]
    assert sharpe(extreme) == statistics.fmean(extreme) / statistics.stdev(extreme)
    assert sortino([-1.0, math.nan, 2.0]) == 0.0  # NaN squared is in the downside, which then counts as none


def test_periods_per_year_from_the_median_gap() -> None:
    curve = [(t * HOUR, D(100)) for t in (0, 1, 2, 4, 6)]  # gaps 1, 1, 2, 2 h: median 1.5 h
    assert curve_periods_per_year(curve) == YEAR_MS / (1.5 * HOUR)
    assert curve_periods_per_year([(0, D(1)), (0, D(2))]) == 0.0


def test_columns_give_the_same_statistics() -> None:
    columns = equity_columns(CURVE)
    assert list(columns) == CURVE and columns[2] == CURVE[2] and list(columns[1:3]) == CURVE[1:3]
    assert type(columns[0][0]) is int and equity_columns(columns) is columns
    assert compute_stats(TRIPS, columns) == compute_stats(TRIPS, CURVE)
    assert monthly_returns(columns) == monthly_returns(CURVE)


def test_equity_csv_is_what_csv_writes(tmp_path: Path) -> None:
    amounts = [D("1000.5"), D(0), D("-0"), D("0E-8"), D("1E+3"), D("1.5E-9"), D("-12.000"), D("0.000001")]
    for times in ([T0 + i * 60_000 for i in range(len(amounts))], [T0 + i * 1_500 for i in range(len(amounts))]):
        curve = list(zip(times, amounts, strict=True))
        write_equity(tmp_path / "equity.csv", curve)
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\n").writerows(
            [EQUITY_COLUMNS, *((iso_utc(ts), ts, plain(amount)) for ts, amount in curve)])
        assert (tmp_path / "equity.csv").read_text() == expected.getvalue()
