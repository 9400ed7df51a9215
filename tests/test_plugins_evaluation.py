"""Simulation against hand-computed answers for both holder kinds, and the ranking of a parameter grid."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from crypy.plugins import Candles, Metrics, RsiReversion, SmaCrossover, Strategy, evaluate_grid, simulate
from crypy.plugins.evaluation import best_strategy, simulate_trades
from crypy.plugins.indicators import Indicator
from crypy.plugins.metrics import compute_metrics, periods_per_year

BTC_15M = Path(__file__).resolve().parents[1] / "crypy" / "data" / "kraken_BTCUSD_15m.csv.gz"

OPEN = np.array([100.0, 100.0, 110.0, 120.0, 90.0])
CLOSE = np.array([100.0, 95.0, 115.0, 100.0, 95.0])
COSTS = {"fee": 0.01, "spread": 0.02}  # half spread: 1% worse than the open


def test_quote_holder_buys_at_next_open_and_sells_at_next_open() -> None:
    m = simulate(OPEN, CLOSE, np.array([1, 1, 0, 0, 0]), holder_holds_quote=True, start_value=1000.0, **COSTS)
    # close 0 says 1 -> buy at open 1: ask 101, 990 USD after fee -> 9.80198 XBT; close 1 marks 931.188 USD
    # close 2 says 0 -> sell at open 3: bid 118.8 -> 1164.475 USD, 1152.830 after fee; flat afterwards
    assert m.final_equity == pytest.approx(1152.8304950495)
    assert m.total_return == pytest.approx(0.1528304950495)
    assert m.max_drawdown == pytest.approx(0.0688118811881)  # 1000 -> 931.188
    assert (m.trades, m.win_rate, m.exposure) == (1, 1.0, pytest.approx(0.4))  # held through candles 1 and 2


def test_base_holder_sells_base_when_target_turns_zero() -> None:
    m = simulate(OPEN, CLOSE, np.array([0, 0, 1, 1, 1]), holder_holds_quote=False, start_value=10.0, **COSTS)
    # close 0 says 0 -> sell 10 XBT at open 1: bid 99 -> 990 USD, 980.1 after fee; marks 10.3168 XBT at close 1
    # close 2 says 1 -> buy back at open 3: ask 121.2 -> 980.1 * 0.99 / 121.2 = 8.005767 XBT
    assert m.final_equity == pytest.approx(8.0057673267)
    assert m.total_return == pytest.approx(-0.19942326733)
    assert m.max_drawdown == pytest.approx(0.2240099009901)  # peak 10.3168 at close 1
    assert (m.trades, m.win_rate, m.exposure) == (1, 0.0, pytest.approx(0.4))


def test_open_position_is_marked_at_the_last_close() -> None:
    m = simulate(OPEN, CLOSE, np.array([0, 1, 1, 1, 1]), holder_holds_quote=True, start_value=1000.0, **COSTS)
    # buy at open 2 (ask 111.1): 8.91089 XBT, marked at close 4 (95) without exit costs
    assert m.final_equity == pytest.approx(846.5346534653)
    assert (m.trades, m.win_rate, m.exposure) == (1, 0.0, pytest.approx(0.6))


def test_two_round_trips_without_costs() -> None:
    opens = np.array([10.0, 10.0, 20.0, 20.0, 10.0, 5.0])
    m = simulate(opens, opens, np.array([1, 0, 1, 0, 0, 0]), fee=0.0, spread=0.0, holder_holds_quote=True)
    # buy 10 sell 20 (x2), buy 20 sell 10 (x0.5)
    assert (m.trades, m.win_rate, m.final_equity) == (2, 0.5, pytest.approx(1.0))


def test_no_view_before_warmup_and_no_fill_after_the_last_candle() -> None:
    base_holder = simulate(OPEN, CLOSE, np.zeros(5), holder_holds_quote=False, warmup=3, **COSTS)
    assert base_holder.exposure == pytest.approx(0.4)  # first decision at close 2, in quote from open 3
    late = simulate(OPEN, CLOSE, np.array([0, 0, 0, 0, 1]), holder_holds_quote=True, **COSTS)
    assert late == Metrics(total_return=0.0, trades=0, win_rate=0.0, max_drawdown=0.0, exposure=0.0,
                           final_equity=1.0)
    assert set(late.as_dict()) == {"total_return", "trades", "win_rate", "max_drawdown", "exposure", "final_equity",
                                   "return_ratio", "expectancy", "avg_win", "avg_loss", "profit_factor", "sharpe",
                                   "sortino"}
    assert all(type(v) is float for v in late.as_dict().values())


def test_simulate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equal, non-empty"):
        simulate(OPEN, CLOSE[:4], np.zeros(5), holder_holds_quote=True, **COSTS)
    with pytest.raises(ValueError, match="fee must be"):
        simulate(OPEN, CLOSE, np.zeros(5), fee=-0.1, spread=0.0, holder_holds_quote=True)


class Scripted(Strategy):
    """Targets picked by number from a script, to build exact ties."""

    name: ClassVar[str] = "scripted"
    SCRIPTS: ClassVar[dict[int, list[int]]] = {
        0: [0, 1, 1, 1, 0, 0, 0, 0, 0],  # into the dip and back out: return 0, drawdown 10%, 1 trade
        1: [0, 0, 0, 0, 1, 0, 0, 0, 0],  # a trade while the price stands still: return 0, no drawdown, 1 trade
        2: [0, 0, 0, 0, 0, 0, 0, 0, 0],  # never trades: return 0, no drawdown, 0 trades
        3: [1, 0, 0, 0, 0, 0, 0, 0, 0],  # rides the rise at candle 1: +10%
        4: [0, 0, 0, 0, 1, 0, 1, 0, 0],  # two trades while the price stands still: return 0, no drawdown
        5: [0, 0, 0, 0, 0, 0, 0, 0, 1],  # decides on the last candle only: never filled, same as 2
    }

    param_ranges: ClassVar[dict[str, tuple[int, int]]] = {"script": (0, 5)}
    defaults: ClassVar[dict[str, int]] = {"script": 0}
    lookback: ClassVar[int] = 1

    def features(self) -> dict[str, Indicator]:
        return {}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.array(self.SCRIPTS[int(self.params["script"])], dtype=np.float64)


def candles_of(open_: np.ndarray, close: np.ndarray, high: np.ndarray | None = None,
               low: np.ndarray | None = None) -> Candles:
    high = np.maximum(open_, close) if high is None else high
    low = np.minimum(open_, close) if low is None else low
    return Candles.from_columns(np.arange(len(close)) * 900_000, open_, high, low, close, np.ones(len(close)))


def test_grid_ranks_by_return_then_drawdown_then_trades_then_grid_order() -> None:
    prices = np.array([100.0, 110.0, 110.0, 99.0, 110.0, 110.0, 110.0, 110.0, 110.0])
    opens = np.concatenate(([100.0], prices[:-1]))  # each candle opens at the previous close
    grid = [{"script": s} for s in (0, 4, 5, 1, 2, 3)]
    ranked = evaluate_grid(Scripted, grid, candles_of(opens, prices), fee=0.0, spread=0.0,
                           holder_holds_quote=True)
    assert [params["script"] for params, _ in ranked] == [3, 5, 2, 1, 4, 0]
    assert ranked[0][1].total_return == pytest.approx(0.1)
    assert [m.trades for _, m in ranked] == [1, 0, 0, 1, 2, 1]


def test_a_win_is_judged_against_the_value_before_entry() -> None:
    m = simulate(np.array([100.0, 100.0, 110.0]), np.array([100.0, 120.0, 110.0]), np.array([1, 0, 0]), fee=0.0,
                 spread=0.0, holder_holds_quote=True)
    assert (m.trades, m.win_rate, m.final_equity) == (1, 1.0, pytest.approx(1.1))  # below the 1.2 mark, still a win
    flat = simulate(np.full(4, 100.0), np.full(4, 100.0), np.array([1, 0, 0, 0]), fee=0.0, spread=0.0,
                    holder_holds_quote=True)
    assert (flat.trades, flat.win_rate, flat.total_return) == (1, 0.0, 0.0)  # break-even is no win


def test_grid_on_real_data_is_sorted_and_matches_single_runs() -> None:
    data = np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), max_rows=2000)
    open_, high, low, close = data.T
    candles = candles_of(open_, close, high, low)
    grid = [{"fast": f, "slow": s} for f, s in [(5, 20), (10, 30), (10, 50), (20, 100)]]
    ranked = evaluate_grid(SmaCrossover, grid, candles, fee=0.0026, spread=0.0005, holder_holds_quote=True)
    returns = [m.total_return for _, m in ranked]
    assert returns == sorted(returns, reverse=True)
    assert len(set(returns)) == len(grid)
    for params, metrics in ranked:
        strategy = SmaCrossover(**params)
        assert metrics == simulate(open_, close, strategy.targets(candles), fee=0.0026, spread=0.0005,
                                   holder_holds_quote=True, warmup=strategy.warmup)


@pytest.mark.parametrize("holds_quote", [True, False])
def test_best_strategy_is_the_first_of_the_grid_and_its_metrics(holds_quote: bool) -> None:
    open_, high, low, close = np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), max_rows=720).T
    candles = candles_of(open_, close, high, low)
    grid = [{"window": w, "oversold": 30.0, "exit_level": e} for w in (7, 14, 14, 21) for e in (50.0, 60.0)]
    exits = {"stop_loss": 0.05, "take_profit": 0.1} if holds_quote else {}
    ranked = evaluate_grid(RsiReversion, grid, candles, fee=0.0026, spread=0.0005, holder_holds_quote=holds_quote,
                           periods_per_year=35_040.0, **exits)
    best = best_strategy([RsiReversion(**p) for p in grid], candles, fee=0.0026, spread=0.0005,
                         holder_holds_quote=holds_quote, periods_per_year=35_040.0, **exits)
    assert best == ranked[0] and ranked[0] != ranked[1]


def test_best_strategy_ranks_nan_figures_as_the_grid_does() -> None:
    prices = np.array([100.0, 110.0, 110.0, 99.0, 110.0, 110.0, np.nan, 110.0, 110.0])  # script 4 holds over NaN
    candles, grid = candles_of(np.concatenate(([100.0], prices[:-1])), prices), [{"script": s} for s in (2, 4, 3)]
    ranked = evaluate_grid(Scripted, grid, candles, fee=0.0, spread=0.0, holder_holds_quote=True)
    assert [params["script"] for params, _ in ranked] == [2, 4, 3]  # NaN compares false: the sort keeps the order
    assert best_strategy([Scripted(**p) for p in grid], candles, fee=0.0, spread=0.0, holder_holds_quote=True) \
        == ranked[0]


def test_metrics_are_numpy_reductions_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    growth = 1 + rng.normal(0, 0.01, 720)
    equity, trips = np.multiply.accumulate(growth), rng.normal(0, 0.03, 25)
    m = compute_metrics(equity, growth, 0.5, trips, start_value=1.0, periods_per_year=35_040.0)
    returns, curve, wins, losses = growth - 1, np.concatenate(([1.0], equity)), trips[trips > 0], trips[trips < 0]
    assert m.max_drawdown == float((1 - curve / np.maximum.accumulate(curve)).max())
    assert m.sharpe == float(returns.mean()) / float(returns.std()) * math.sqrt(35_040.0)
    assert m.sortino == float(returns.mean()) / math.sqrt(float(np.square(np.minimum(returns, 0)).mean())) \
        * math.sqrt(35_040.0)
    assert (m.expectancy, m.avg_win, m.avg_loss) == (float(trips.mean()), float(wins.mean()), float(losses.mean()))
    assert m.profit_factor == float(wins.sum() / -losses.sum())


# --- metrics and trade list ---------------------------------------------------------------------------------------

UP_DOWN = np.array([10.0, 10.0, 20.0, 20.0, 15.0, 5.0])  # opens = closes, no costs


def test_every_metric_by_hand() -> None:
    m, trades = simulate_trades(UP_DOWN, UP_DOWN, np.array([1, 0, 1, 0, 0, 0]), fee=0.0, spread=0.0,
                                holder_holds_quote=True, periods_per_year=4.0)
    # trip 1: buy open 1 at 10, sell open 2 at 20 (+100%); trip 2: buy open 3 at 20, sell open 4 at 15 (-25%)
    # equity after each candle: 1, 1, 2, 2, 1.5, 1.5; per-candle returns 0, 0, 1, 0, -0.25, 0
    assert (m.total_return, m.final_equity, m.max_drawdown) == (0.5, 1.5, 0.25)
    assert m.return_ratio == 2.0  # 0.5 / 0.25
    assert (m.trades, m.win_rate, m.expectancy, m.avg_win, m.avg_loss) == (2, 0.5, 0.375, 1.0, -0.25)
    assert m.profit_factor == 4.0  # 1.0 / 0.25
    assert m.exposure == pytest.approx(2 / 6)  # candles 1 and 3
    # mean 0.125, population variance (1 + 0.0625) / 6 - 0.125² = 31/192, downside deviation sqrt(0.0625 / 6)
    assert m.sharpe == pytest.approx(0.125 / math.sqrt(31 / 192) * 2)  # x sqrt(4 periods a year)
    assert m.sortino == pytest.approx(math.sqrt(6))  # 0.125 / (0.25 / sqrt 6) * 2
    assert trades.entry_index.tolist() == [1, 3] and trades.exit_index.tolist() == [2, 4]
    assert trades.entry_price.tolist() == [10.0, 20.0] and trades.exit_price.tolist() == [20.0, 15.0]
    assert trades.returns.tolist() == [1.0, -0.25] and trades.exit_reasons == ["signal", "signal"]
    assert len(trades) == 2


def test_ratios_are_zero_when_undefined() -> None:
    m = simulate(UP_DOWN, UP_DOWN, np.array([1, 0, 0, 0, 0, 0]), fee=0.0, spread=0.0, holder_holds_quote=True)
    # one winning trip, no drawdown, no loss, no negative candle
    assert (m.total_return, m.max_drawdown, m.return_ratio, m.profit_factor, m.avg_loss, m.sortino) == (
        1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert m.sharpe == pytest.approx(1 / 6 / math.sqrt(1 / 6 - 1 / 36))  # returns 0, 0, 1, 0, 0, 0 per candle


def test_trade_prices_include_spread_and_an_open_trip_ends_at_the_last_close() -> None:
    _, trades = simulate_trades(OPEN, CLOSE, np.array([1, 1, 0, 1, 1]), holder_holds_quote=True, **COSTS)
    # buy at ask 101 (open 1), sell at bid 118.8 (open 3); buy at ask 90.9 (open 4), still held: marked at 95
    assert trades.entry_price.tolist() == pytest.approx([101.0, 90.9])
    assert trades.exit_price.tolist() == pytest.approx([118.8, 95.0])
    assert trades.exit_index.tolist() == [3, 4] and trades.exit_reasons == ["signal", "end"]
    assert trades.returns[0] == pytest.approx(0.99 * 118.8 * 0.99 / 101 - 1)
    assert trades.returns[1] == pytest.approx(0.99 * 95 / 90.9 - 1)
    _, base = simulate_trades(OPEN, CLOSE, np.array([0, 0, 1, 1, 1]), holder_holds_quote=False, **COSTS)
    assert (base.entry_price.tolist(), base.exit_price.tolist()) == (pytest.approx([99.0]), pytest.approx([121.2]))


def test_periods_per_year_from_the_timeframe() -> None:
    assert periods_per_year("1m") == 525_600
    assert periods_per_year("1h") == 8_760
    assert periods_per_year("1d") == 365


# --- exits ----------------------------------------------------------------------------------------------------------

FLAT_OPEN = np.full(7, 100.0)
DIP_HIGH = np.array([100.0, 102.0, 101.0, 100.0, 100.0, 100.0, 100.0])
DIP_LOW = np.array([100.0, 99.0, 94.0, 90.0, 100.0, 100.0, 100.0])
DIP_CLOSE = np.array([100.0, 100.0, 95.0, 92.0, 100.0, 100.0, 100.0])
NO_COSTS = {"fee": 0.0, "spread": 0.0, "holder_holds_quote": True, "high": DIP_HIGH, "low": DIP_LOW}


def test_stop_loss_exits_at_its_trigger_and_waits_for_the_next_entry_signal() -> None:
    m, trades = simulate_trades(FLAT_OPEN, DIP_CLOSE, np.array([1, 1, 1, 0, 1, 1, 0]), stop_loss=0.05, **NO_COSTS)
    # trip 1 enters at open 1 (100); stop at 95; candle 2's low 94 reaches it -> out at 95, flat through candle 3
    # although the target still said 1; trip 2 enters at open 5 after the target went 0 and back to 1
    assert trades.exit_reasons == ["stop_loss", "end"]
    assert trades.entry_index.tolist() == [1, 5] and trades.exit_index.tolist() == [2, 6]
    assert trades.exit_price.tolist() == [95.0, 100.0]
    assert m.final_equity == pytest.approx(0.95)
    assert m.exposure == pytest.approx(4 / 7)  # candles 1, 2, 5, 6
    held_on = simulate(FLAT_OPEN, DIP_CLOSE, np.ones(7), stop_loss=0.05, **NO_COSTS)
    assert (held_on.trades, held_on.final_equity) == (1, pytest.approx(0.95))  # no buying back while the target is 1


def test_stop_loss_pays_spread_and_fee() -> None:
    _, trades = simulate_trades(FLAT_OPEN, DIP_CLOSE, np.ones(7), stop_loss=0.05, holder_holds_quote=True,
                                high=DIP_HIGH, low=DIP_LOW, **COSTS)
    # entry at ask 101; stop at 101 * 0.95 = 95.95, sold half a spread lower: 94.9905; fee on both sides
    assert trades.entry_price.tolist() == pytest.approx([101.0])
    assert trades.exit_price.tolist() == pytest.approx([95.95 * 0.99])
    assert trades.returns.tolist() == pytest.approx([0.99 * 95.95 * 0.99 * 0.99 / 101 - 1])


def test_take_profit_and_the_stop_winning_a_candle_that_reaches_both() -> None:
    m, trades = simulate_trades(FLAT_OPEN, DIP_CLOSE, np.ones(7), take_profit=0.01, **NO_COSTS)
    # target 101; candle 1 (the entry candle) reaches 102 -> out at 101
    assert (trades.exit_index.tolist(), trades.exit_price.tolist(), trades.exit_reasons) == ([1], [101.0],
                                                                                            ["take_profit"])
    assert (m.final_equity, m.exposure) == (pytest.approx(1.01), pytest.approx(1 / 7))
    _, both = simulate_trades(FLAT_OPEN, DIP_CLOSE, np.ones(7), take_profit=0.01, stop_loss=0.005, **NO_COSTS)
    # candle 1 spans 99..102: stop 99.5 and target 101 both reached; the stop is assumed first
    assert (both.exit_index.tolist(), both.exit_price.tolist(), both.exit_reasons) == ([1], [99.5], ["stop_loss"])


def test_take_profit_fills_at_a_better_open() -> None:
    open_ = np.array([100.0, 100.0, 105.0])
    _, trades = simulate_trades(open_, np.array([100.0, 100.0, 106.0]), np.ones(3), fee=0.0, spread=0.0,
                                holder_holds_quote=True, high=np.array([100.0, 101.0, 107.0]),
                                low=np.array([100.0, 99.0, 104.0]), take_profit=0.02)
    assert (trades.exit_index.tolist(), trades.exit_price.tolist()) == ([2], [105.0])  # gapped above 102


def test_trailing_stop_follows_closes_and_fills_at_a_gapped_open() -> None:
    open_ = np.array([100.0, 100.0, 110.0, 105.0, 105.0])
    close = np.array([100.0, 110.0, 120.0, 108.0, 100.0])
    high = np.array([100.0, 111.0, 121.0, 109.0, 106.0])
    low = np.array([100.0, 99.0, 108.0, 104.0, 99.0])
    m, trades = simulate_trades(open_, close, np.ones(5), fee=0.0, spread=0.0, holder_holds_quote=True, high=high,
                                low=low, trailing_stop=0.1, stop_loss=0.05)
    # stops: candle 1 max(95, 90) (entry 100), candle 2 max(95, 99) (close 110), candle 3 108 (close 120);
    # candle 2's low 108 stays above 99; candle 3 opens at 105, below 108: out at the open
    assert (trades.exit_index.tolist(), trades.exit_price.tolist()) == ([3], [105.0])
    assert trades.exit_reasons == ["trailing_stop"]
    assert m.final_equity == pytest.approx(1.05)
    assert m.exposure == pytest.approx(3 / 5)


def test_base_holder_stop_is_a_fraction_of_its_value_in_base() -> None:
    m, trades = simulate_trades(FLAT_OPEN, FLAT_OPEN, np.zeros(7), fee=0.0, spread=0.0, holder_holds_quote=False,
                                high=np.array([100.0, 100.0, 106.0, 100.0, 100.0, 100.0, 100.0]), low=FLAT_OPEN,
                                stop_loss=0.05)
    # sold 1 base at 100 on open 1; worth 0.95 base once base costs 100 / 0.95 = 105.26, which candle 2 reaches
    assert trades.exit_price.tolist() == pytest.approx([100 / 0.95])
    assert (trades.exit_index.tolist(), trades.exit_reasons) == ([2], ["stop_loss"])
    assert m.final_equity == pytest.approx(0.95)


def test_exits_are_checked() -> None:
    with pytest.raises(ValueError, match="high and low"):
        simulate(OPEN, CLOSE, np.ones(5), stop_loss=0.1, holder_holds_quote=True, **COSTS)
    with pytest.raises(ValueError, match="take_profit must be"):
        simulate(OPEN, CLOSE, np.ones(5), take_profit=0.0, high=OPEN, low=OPEN, holder_holds_quote=True, **COSTS)


def test_exits_that_never_trigger_change_nothing_on_real_data() -> None:
    data = np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), max_rows=2000)
    open_, high, low, close = data.T
    strategy, candles = SmaCrossover(10, 30), candles_of(open_, close, high, low)
    plain = simulate(open_, close, strategy.targets(candles), fee=0.0026, spread=0.0005, holder_holds_quote=True,
                     warmup=strategy.warmup)
    far = simulate(open_, close, strategy.targets(candles), fee=0.0026, spread=0.0005, holder_holds_quote=True,
                   warmup=strategy.warmup, high=high, low=low, stop_loss=0.99, take_profit=0.99, trailing_stop=0.99)
    assert far == plain
    tight = evaluate_grid(SmaCrossover, [{"fast": 10, "slow": 30}], candles, fee=0.0026, spread=0.0005,
                          holder_holds_quote=True, trailing_stop=0.002)[0][1]
    assert tight.trades == plain.trades and tight.exposure < plain.exposure


# --- signal strength: fractional trips ------------------------------------------------------------------------------


def exactly(value: float) -> object:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def test_a_fractional_trip_puts_only_its_strength_at_stake() -> None:
    m, trades = simulate_trades(OPEN, CLOSE, np.array([0.5, 0.5, 0.0, 0.25, 0.25]), holder_holds_quote=True,
                                **COSTS)
    # trip 1, size 0.5: bought at ask 101 on open 1, sold at bid 118.8 on open 3, fee on both sides; half the
    # equity rides it, the other half stays in quote
    v1, v2, v3 = 0.99 * 95 / 101, 0.99 * 115 / 101, 0.99 * 118.8 * 0.99 / 101  # full-size value after candles 1-3
    e1, e2, e3 = 0.5 + 0.5 * v1, 0.5 + 0.5 * v2, 0.5 + 0.5 * v3
    # trip 2, size 0.25: bought at ask 90.9 on open 4, marked at close 4 (95)
    e4 = e3 * (0.75 + 0.25 * 0.99 * 95 / 90.9)
    assert trades.size.tolist() == [0.5, 0.25]
    assert trades.returns.tolist() == [exactly(e3 - 1), exactly(e4 / e3 - 1)]
    assert trades.entry_price.tolist() == [exactly(101.0), exactly(90.9)]  # fill prices do not depend on the size
    assert m.final_equity == exactly(e4) and m.total_return == exactly(e4 - 1)
    assert m.max_drawdown == exactly(1 - e1)
    assert m.exposure == exactly((0.5 * 2 + 0.25 * 1) / 5)  # candles 1, 2 at 0.5 and candle 4 at 0.25
    steps = [0.0, e1 - 1, e2 / e1 - 1, e3 / e2 - 1, e4 / e3 - 1]
    mean = sum(steps) / 5
    std = math.sqrt(sum((r - mean) ** 2 for r in steps) / 5)
    assert m.sharpe == exactly(mean / std)


def test_full_strength_floats_give_the_bits_of_integer_targets() -> None:
    data = np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), max_rows=2000)
    open_, high, low, close = data.T
    ints = (close > np.convolve(close, np.ones(20) / 20, "same")).astype(np.int8)
    for holds_quote in (True, False):
        for exits in ({}, {"stop_loss": 0.01, "take_profit": 0.02, "trailing_stop": 0.005}):
            runs = [simulate_trades(open_, close, t, fee=0.0026, spread=0.0005, holder_holds_quote=holds_quote,
                                    warmup=20, high=high, low=low, **exits) for t in (ints, ints.astype(np.float64))]
            (m_int, t_int), (m_float, t_float) = runs
            assert m_int == m_float and len(t_int) > 10
            for field in ("entry_index", "exit_index", "entry_price", "exit_price", "size", "returns",
                          "reason_codes"):
                assert np.array_equal(getattr(t_int, field), getattr(t_float, field))
            assert t_int.size.dtype == np.float64 and np.all(t_int.size == 1.0)


def test_a_trip_keeps_the_size_decided_at_its_entry() -> None:
    steady = simulate_trades(OPEN, CLOSE, np.array([0.5, 0.5, 0.5, 0.0, 0.0]), holder_holds_quote=True, **COSTS)
    moving = simulate_trades(OPEN, CLOSE, np.array([0.5, 0.9, 0.1, 0.0, 0.0]), holder_holds_quote=True, **COSTS)
    assert moving[0] == steady[0]
    assert moving[1].size.tolist() == [0.5] and moving[1].returns.tolist() == steady[1].returns.tolist()


def test_a_base_holder_acts_on_direction_only() -> None:
    plain = simulate_trades(OPEN, CLOSE, np.array([0, 0, 1, 1, 1]), holder_holds_quote=False, **COSTS)
    strength = simulate_trades(OPEN, CLOSE, np.array([0.0, 0.0, 0.3, 0.7, 0.01]), holder_holds_quote=False, **COSTS)
    assert strength[0] == plain[0]
    assert strength[1].size.tolist() == [1.0] and strength[1].returns.tolist() == plain[1].returns.tolist()


def test_a_stop_loss_on_a_fractional_trip_loses_its_share() -> None:
    m, trades = simulate_trades(FLAT_OPEN, DIP_CLOSE, np.full(7, 0.4), stop_loss=0.05, **NO_COSTS)
    # entered at 100 with 40% of the equity; stopped at 95 inside candle 2: -5% on 40%
    assert (trades.exit_reasons, trades.exit_price.tolist()) == (["stop_loss"], [95.0])
    assert trades.returns.tolist() == [exactly(-0.05 * 0.4)]
    assert m.final_equity == exactly(1 - 0.02) and m.max_drawdown == exactly(0.02)
    assert m.exposure == exactly(0.4 * 2 / 7)  # candles 1 and 2


def test_targets_must_be_exposures_after_warmup() -> None:
    for bad, shown in ((1.5, "1.5"), (-0.1, "-0.1"), (np.nan, "nan"), (np.inf, "inf")):
        targets = np.array([0.0, 0.5, bad, 0.0, 0.0])
        with pytest.raises(ValueError, match=rf"got {shown} at index 2"):
            simulate(OPEN, CLOSE, targets, holder_holds_quote=True, **COSTS)
    ignored = simulate(OPEN, CLOSE, np.array([np.nan, 7.0, 0.5, 0.0, 0.0]), holder_holds_quote=True, warmup=3, **COSTS)
    assert ignored == simulate(OPEN, CLOSE, np.array([0.0, 0.0, 0.5, 0.0, 0.0]), holder_holds_quote=True, **COSTS)
