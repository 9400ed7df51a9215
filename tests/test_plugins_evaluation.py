"""Simulation against hand-computed answers for both holder kinds, and the ranking of a parameter grid."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from crypy.plugins import Metrics, SmaCrossover, Strategy, evaluate_grid, simulate

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
    assert set(late.as_dict()) == {"total_return", "trades", "win_rate", "max_drawdown", "exposure", "final_equity"}
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

    def __init__(self, script: int) -> None:
        self.script = script

    @property
    def params(self) -> dict[str, int | float]:
        return {"script": self.script}

    @property
    def warmup(self) -> int:
        return 1

    def targets(self, close: np.ndarray) -> np.ndarray:
        return np.array(self.SCRIPTS[self.script], dtype=np.int8)


def test_grid_ranks_by_return_then_drawdown_then_trades_then_grid_order() -> None:
    prices = np.array([100.0, 110.0, 110.0, 99.0, 110.0, 110.0, 110.0, 110.0, 110.0])
    opens = np.concatenate(([100.0], prices[:-1]))  # each candle opens at the previous close
    grid = [{"script": s} for s in (0, 4, 5, 1, 2, 3)]
    ranked = evaluate_grid(Scripted, grid, opens, prices, fee=0.0, spread=0.0, holder_holds_quote=True)
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
    data = np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=(1, 4), max_rows=2000)
    open_, close = data[:, 0], data[:, 1]
    grid = [{"fast": f, "slow": s} for f, s in [(5, 20), (10, 30), (10, 50), (20, 100)]]
    ranked = evaluate_grid(SmaCrossover, grid, open_, close, fee=0.0026, spread=0.0005, holder_holds_quote=True)
    returns = [m.total_return for _, m in ranked]
    assert returns == sorted(returns, reverse=True)
    assert len(set(returns)) == len(grid)
    for params, metrics in ranked:
        strategy = SmaCrossover(**params)
        assert metrics == simulate(open_, close, strategy.targets(close), fee=0.0026, spread=0.0005,
                                   holder_holds_quote=True, warmup=strategy.warmup)
