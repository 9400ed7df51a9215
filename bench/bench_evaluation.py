"""How fast crypy evaluates a strategy over history, side by side with backtesting.py on the same data and rule.

Data: 1M "real-derived" 1-minute candles. The real files (Binance BTC/USDT and ETH/USDT 1m, 43,199 rows each,
``../shared/data/market``) are chained BTC, ETH, BTC, ... until the count is reached, each copy re-scaled so that
its first open equals the previous copy's last close (returns within a copy are the real ones; only the level
moves at the joins). Timestamps are a fresh 1-minute grid.

Figures, in one run: candles/s for one SmaCrossover evaluation (targets + simulation + metrics), and for a
100-set grid (``evaluate_grid``, 1M x 100 / seconds); the same for backtesting.py running the long-only SmaCross
(buy when the fast SMA is above the slow one, close when it is not; market orders at the next open, commission
equal to crypy's fee, no spread, ``finalize_trades=True``; one unit per trade, since bars and prices do not depend on
the size, and a relative size in backtesting.py's whole units would shrink to nothing over 20k fee-paying trades).
backtesting.py's grid is extrapolated from a few sets (``--bt-sets``), since each set costs it as much as the single
run. Both engines get the same SMAs (crypy's ``sma``) and the same tie tolerance, so the comparison is about the
engines; backtesting.py's SMAs get ±inf for their warmup instead of NaN, because its own warmup skip would start
deciding one candle later than crypy.

Agreement: every trade's entry and exit candle identical and prices equal within 1e-9 relative. The one
documented difference is a trade still open at the end: crypy marks it at the last close, backtesting.py closes
it at the last candle's open; for it the exit price is checked against each engine's own rule.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from crypy.plugins import Candles, SmaCrossover, evaluate_grid, sma
from crypy.plugins.evaluation import simulate, simulate_trades
from crypy.plugins.strategies.sma_crossover import _ROUNDING_NOISE

MARKET = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "market"
FILES = ("binance_BTCUSDT_1m.csv.gz", "binance_ETHUSDT_1m.csv.gz")
RESULTS = Path(__file__).parent / "results" / "evaluation.json"
FEE = 0.0026
GRID = [{"fast": f, "slow": s} for f in (5, 8, 10, 12, 15, 20, 25, 30, 40, 50) for s in range(60, 160, 10)]


def real_derived_candles(count: int) -> np.ndarray:
    """``count`` rows of open, high, low, close chained from the real files (see the module docstring)."""
    series = []
    for name in FILES:
        with gzip.open(MARKET / name, "rt") as f:
            series.append(np.loadtxt(f, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4)))
    parts, rows, last_close = [], 0, None
    while rows < count:
        part = series[len(parts) % len(series)]
        scale = 1.0 if last_close is None else last_close / part[0, 0]
        parts.append(part * scale)
        rows += part.shape[0]
        last_close = parts[-1][-1, 3]
    return np.concatenate(parts)[:count]


def candles_of(ohlc: np.ndarray) -> Candles:
    """The rows as crypy's candle columns (one-minute times; the volume is not used by the SMA crossover)."""
    count = ohlc.shape[0]
    return Candles.from_columns(np.arange(count, dtype=np.int64) * 60_000, ohlc[:, 0], ohlc[:, 1], ohlc[:, 2],
                                ohlc[:, 3], np.ones(count))


def crypy_single(ohlc: np.ndarray, fast: int, slow: int, repeats: int) -> tuple[float, int]:
    """Best seconds of ``repeats`` for targets + simulate + metrics, and the trade count."""
    candles = candles_of(ohlc)
    best, trades = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        strategy = SmaCrossover(fast, slow)
        metrics = simulate(candles.open, candles.close, strategy.targets(candles), fee=FEE, spread=0.0,
                           holder_holds_quote=True, warmup=strategy.warmup)
        best, trades = min(best, time.perf_counter() - start), metrics.trades
    return best, trades


def crypy_grid(ohlc: np.ndarray) -> float:
    candles = candles_of(ohlc)
    start = time.perf_counter()
    evaluate_grid(SmaCrossover, GRID, candles, fee=FEE, spread=0.0, holder_holds_quote=True)
    return time.perf_counter() - start


def _warm_sma(values: np.ndarray, n: int, fill: float) -> np.ndarray:
    out = sma(np.asarray(values, dtype=np.float64), n)
    out[:n - 1] = fill
    return out


def backtesting_run(ohlc: np.ndarray, fast: int, slow: int, fee: float = FEE):  # type: ignore[no-untyped-def]
    """Seconds of one backtesting.py run and its trades DataFrame."""
    import pandas as pd
    from backtesting import Backtest, Strategy

    class SmaCross(Strategy):
        n1, n2 = fast, slow

        def init(self) -> None:
            self.sma1 = self.I(_warm_sma, self.data.Close, self.n1, -np.inf)
            self.sma2 = self.I(_warm_sma, self.data.Close, self.n2, np.inf)

        def next(self) -> None:
            above = self.sma1[-1] - self.sma2[-1] > _ROUNDING_NOISE * self.sma2[-1]
            if above and not self.position:
                self.buy(size=1)
            elif not above and self.position:
                self.position.close()

    index = pd.date_range("2020-01-01", periods=ohlc.shape[0], freq="min")
    data = pd.DataFrame(ohlc, columns=["Open", "High", "Low", "Close"], index=index)
    bt = Backtest(data, SmaCross, cash=1e12, commission=fee, spread=0.0, trade_on_close=False,
                  exclusive_orders=False, finalize_trades=True)
    start = time.perf_counter()
    stats = bt.run()
    return time.perf_counter() - start, stats._trades


def agreement(ohlc: np.ndarray, fast: int, slow: int, theirs) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Trade-by-trade comparison of crypy's simulation with backtesting.py's trades on the same candles."""
    open_, close = ohlc[:, 0], ohlc[:, 3]
    strategy = SmaCrossover(fast, slow)
    _, ours = simulate_trades(open_, close, strategy.targets(candles_of(ohlc)), fee=FEE, spread=0.0,
                              holder_holds_quote=True, warmup=strategy.warmup)
    their_exit = theirs["ExitPrice"].to_numpy(dtype=np.float64)
    result: dict[str, object] = {"crypy_trades": len(ours), "backtesting_trades": len(theirs)}
    if len(ours) != len(theirs):
        return result | {"agree": False}
    open_at_end = np.array([reason == "end" for reason in ours.exit_reasons])
    our_exit = np.where(open_at_end, open_[ours.exit_index], ours.exit_price)  # their rule for a trade left open
    same_bars = bool(np.array_equal(ours.entry_index, theirs["EntryBar"].to_numpy())
                     and np.array_equal(ours.exit_index, theirs["ExitBar"].to_numpy()))
    entry_gap = np.abs(ours.entry_price / theirs["EntryPrice"].to_numpy(dtype=np.float64) - 1).max(initial=0.0)
    exit_gap = np.abs(our_exit / their_exit - 1).max(initial=0.0)
    end_rule = bool(np.all(ours.exit_price[open_at_end] == close[-1]))
    return result | {"same_bars": same_bars, "max_relative_price_gap": float(max(entry_gap, exit_gap)),
                     "open_at_end": int(open_at_end.sum()), "agree": same_bars and max(entry_gap, exit_gap) <= 1e-9
                     and end_rule}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--bt-candles", type=int, default=1_000_000, help="backtesting.py's slice (rates scale)")
    parser.add_argument("--bt-sets", type=int, default=3, help="backtesting.py grid sets, extrapolated to 100")
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    args = parser.parse_args()
    ohlc = real_derived_candles(args.candles)
    count, bt_count = ohlc.shape[0], min(args.bt_candles, ohlc.shape[0])

    single_s, trades = crypy_single(ohlc, args.fast, args.slow, repeats=3)
    grid_s = crypy_grid(ohlc)
    bt_single_s, bt_trades = backtesting_run(ohlc[:bt_count], args.fast, args.slow)
    bt_grid_runs = [backtesting_run(ohlc[:bt_count], **params)[0] for params in GRID[:: len(GRID) // args.bt_sets]]
    bt_grid_s = float(np.mean(bt_grid_runs)) * len(GRID)
    agree = agreement(ohlc[:bt_count], args.fast, args.slow, bt_trades)

    rates = {"crypy_single": count / single_s, "crypy_grid": count * len(GRID) / grid_s,
             "backtesting_single": bt_count / bt_single_s, "backtesting_grid": bt_count * len(GRID) / bt_grid_s}
    figures = {
        "candles": count, "backtesting_candles": bt_count, "strategy": f"SmaCrossover({args.fast}, {args.slow})",
        "fee": FEE, "spread": 0.0, "grid_sets": len(GRID),
        "crypy_single": {"seconds": round(single_s, 4), "candles_per_s": round(rates["crypy_single"]),
                         "trades": trades},
        "crypy_grid": {"seconds": round(grid_s, 3), "candles_per_s": round(rates["crypy_grid"])},
        "backtesting_single": {"seconds": round(bt_single_s, 2), "candles_per_s": round(rates["backtesting_single"]),
                               "trades": len(bt_trades)},
        "backtesting_grid": {"seconds": round(bt_grid_s, 1), "candles_per_s": round(rates["backtesting_grid"]),
                             "extrapolated_from_sets": len(bt_grid_runs)},
        "ratio_single": round(rates["crypy_single"] / rates["backtesting_single"], 1),
        "ratio_grid": round(rates["crypy_grid"] / rates["backtesting_grid"], 1),
        "agreement": agree,
        "python": platform.python_version(), "numpy": version("numpy"), "backtesting": version("backtesting"),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{'':22}{'candles':>10}{'seconds':>10}{'candles/s':>14}{'trades':>8}")
    for name in ("crypy_single", "backtesting_single", "crypy_grid", "backtesting_grid"):
        row = figures[name]
        print(f"{name:22}{count if name.startswith('crypy') else bt_count:>10}{row['seconds']:>10}"
              f"{row['candles_per_s']:>14,}{row.get('trades', ''):>8}")
    print(f"ratio single {figures['ratio_single']}x, grid {figures['ratio_grid']}x; agreement {agree}")


if __name__ == "__main__":
    main()
