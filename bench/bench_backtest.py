"""How fast ``crypy backtest`` replays history through the whole actor system, side by side with backtesting.py and
backtrader running the same SMA crossover on the same candles.

crypy's figure is the full pipeline: every candle goes from the in-process simulator through the Desk to the
Trader, whose orders go back through the Desk to the simulator, on trio's virtual clock, journal and report
included (``crypy backtest``, run as a user runs it). The others are single-process vectorised or event loops.

Data: ``--candles`` (default 1,000,000) "real-derived" 1-minute candles (``bench_evaluation.real_derived_candles``:
real Binance BTC and ETH 1m returns chained end to end), rounded to XBT/USD's 0.1 price grid, one-minute times from
2021-01-01 UTC, volume 1.0, written as ``kraken_BTCUSD_1m.csv`` (XBT/USD) with 720 more candles in front: the
simulator's history, not replayed and not counted. backtesting.py and backtrader get the replayed candles only.

Rule, for all three: SMA crossover fast 10 / slow 30 (``--sma`` sets other periods, for every contender: how the
rates depend on how often the rule trades), long only, market orders filled at the next candle's open, no fee
(see ``FEE``).
- crypy: ``bench/templates/sma`` (one XBT/USD trader, ``sma_crossover`` 10/30, no stops, every proposal funded
  with the whole balance), ``--balance USD=1000000000``: all-in, a trader that lost spending what it has left.
  Fills carry the simulator's spread (0.05%), so its trades need not match the others' exactly.
- backtesting.py: ``bench_evaluation.backtesting_run`` (crypy's SMAs and tie tolerance, one unit per trade,
  no commission, no spread, ``trade_on_close=False``, ``finalize_trades=True``).
- backtrader: two ``bt.indicators.SMA`` and a ``bt.indicators.CrossOver``, buy on a cross above with
  ``PercentSizer(percents=99)`` (all-in, fractional sizes), close on a cross below, no commission, data from a
  pandas DataFrame (``bt.feeds.PandasData``), ``cerebro.run(stdstats=False)``. It manages a few thousand candles/s,
  so it runs on ``--backtrader-candles`` (default 200,000) and its rate is compared (seconds for the full count
  extrapolated).

Each contender runs in its own child process, so that its peak memory (max RSS, from ``os.wait4``) is its own:
interpreter, imports, data loading and run. Seconds: crypy's are the CLI's own figure (``(N candles in S s)``:
candle file loading and the replay, not the report files), the others' time only their run; the table also shows
each child's whole wall time. Target for crypy: >= 500,000 candles/s with a peak under 1 GB. The run's order count
also gives its floor (``bench_order_floor.py``): the time its orders must take in trio task switches and in the
matching engine alone, and the ceiling on candles/s that follows.

``--quick`` runs everything on 20,000 candles (development); ``--crypy-candles`` gives crypy fewer candles than the
others while it is slow; ``--only NAME`` (repeatable) runs some contenders alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "backtest.json"
TEMPLATES = BENCH / "templates" / "sma"
FILE_NAME = "kraken_BTCUSD_1m.csv"
HISTORY = 720
"""Candles in front of the replay: ``crypy backtest``'s exchange history (``BacktestOptions.warmup``)."""
START_MS = int(dt.datetime(2021, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
SMA = (10, 30)
"""The crossover's fast and slow periods (``--sma``)."""
FEE = 0.0
"""No fee, for all three: each trade of a crossover this fast loses the fee, and crypy, which sizes each entry by
what its trader has left (and respects Kraken's minimum order), would stop trading within a few thousand trades;
at no fee (crypy still pays its simulator's spread) it trades every signal, as the others do."""
CRYPY_BALANCE = "USD=1000000000"
QUICK = 20_000
TARGET_RATE = 500_000
TARGET_MB = 1024
CONTENDERS = ("crypy", "backtesting", "backtrader")
RSS_UNIT = 1 if sys.platform == "darwin" else 1024
"""``ru_maxrss`` is in bytes on macOS, in KiB on Linux."""


# --- data --------------------------------------------------------------------------------------------------------

def write_candles(path: Path, ohlc: np.ndarray) -> None:
    """``ohlc`` as a crypy candle file: one-minute open times from ``START_MS``, volume 1.0."""
    times = (START_MS + np.arange(ohlc.shape[0], dtype=np.int64) * 60_000).tolist()
    with path.open("w") as f:
        f.write("timestamp_ms,open,high,low,close,volume\n")
        f.writelines(f"{t},{o!r},{h!r},{lo!r},{c!r},1.0\n" for t, (o, h, lo, c) in zip(times, ohlc.tolist(),
                                                                                         strict=True))


def read_replayed(path: Path, count: int):  # type: ignore[no-untyped-def]
    """The ``count`` candles after the history, as a DataFrame indexed by open time (loading is not timed)."""
    import pandas as pd

    frame = pd.read_csv(path, skiprows=range(1, HISTORY + 1), nrows=count)
    frame.index = pd.to_datetime(frame.pop("timestamp_ms"), unit="ms")
    return frame


# --- contenders, each in its own child process --------------------------------------------------------------------

def backtesting_child(path: Path, count: int, sma: tuple[int, int]) -> dict[str, object]:
    from bench_evaluation import backtesting_run

    ohlc = read_replayed(path, count)[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
    seconds, trades = backtesting_run(ohlc, *sma, FEE)
    return {"candles": int(ohlc.shape[0]), "seconds": seconds, "trades": len(trades)}


def backtrader_child(path: Path, count: int, sma: tuple[int, int]) -> dict[str, object]:
    import backtrader as bt

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        params = (("fast", sma[0]), ("slow", sma[1]))

        def __init__(self) -> None:
            fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
            slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
            self.crossover = bt.indicators.CrossOver(fast, slow)
            self.trades = self.refused = 0

        def notify_order(self, order) -> None:  # type: ignore[no-untyped-def]
            if order.status in (order.Margin, order.Rejected, order.Canceled):
                self.refused += 1

        def notify_trade(self, trade) -> None:  # type: ignore[no-untyped-def]
            if trade.isclosed:
                self.trades += 1

        def next(self) -> None:
            if not self.position:
                if self.crossover[0] > 0:
                    self.buy()
            elif self.crossover[0] < 0:
                self.close()

    frame = read_replayed(path, count)
    cerebro = bt.Cerebro()
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(SmaCross)
    cerebro.addsizer(bt.sizers.PercentSizer, percents=99)
    cerebro.broker.setcash(10_000.0)
    cerebro.broker.setcommission(commission=FEE)
    start = time.perf_counter()
    [strategy] = cerebro.run(stdstats=False)
    seconds = time.perf_counter() - start
    return {"candles": len(frame), "seconds": seconds, "trades": strategy.trades + bool(strategy.position),
            "refused_orders": strategy.refused}


CHILDREN = {"backtesting": backtesting_child, "backtrader": backtrader_child}


def run_child(cmd: list[str], folder: Path, name: str) -> tuple[str, float, float]:
    """Run ``cmd`` to its end: its stdout, wall seconds and peak memory (MiB) of that process alone."""
    out, err = folder / f"{name}.out", folder / f"{name}.err"
    start = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not every child's maximum
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"{name} failed (exit {process.returncode}):\n{out.read_text()[-3000:]}\n{err.read_text()[-3000:]}")
    return out.read_text(), wall, usage.ru_maxrss * RSS_UNIT / 2**20


def measure_crypy(path: Path, folder: Path, sma: tuple[int, int]) -> dict[str, object]:
    """``crypy backtest`` as a user runs it; candles and seconds from its own last line, trades from trades.csv."""
    report, templates = folder / "crypy-report", folder / "crypy-templates"
    shutil.copytree(TEMPLATES, templates)
    trader = templates / "trader.toml"
    trader.write_text(trader.read_text().replace("grid = [{ fast = 10, slow = 30 }]",
                                                 f"grid = [{{ fast = {sma[0]}, slow = {sma[1]} }}]"))
    cmd = [sys.executable, "-m", "crypy.cli", "backtest", "--data", str(path), "--template-dir", str(templates),
           "--balance", CRYPY_BALANCE, "--taker-fee", str(FEE), "--out", str(report), "--seed", "0"]
    stdout, wall, peak_mb = run_child(cmd, folder, "crypy")
    found = re.search(r"\((\d+) candles in ([\d.]+) s\)", stdout)
    if found is None:
        sys.exit(f"crypy backtest printed no '(N candles in S s)':\n{stdout[-3000:]}")
    rows = (report / "trades.csv").read_text().splitlines()[1:]
    orders = len((report / "orders.csv").read_text().splitlines()) - 1
    return {"candles": int(found[1]), "seconds": float(found[2]), "process_seconds": wall, "peak_mb": peak_mb,
            "trades": len(rows), "open_trades": sum(1 for row in rows if row.split(",")[5] == ""), "orders": orders}


def measure_other(name: str, path: Path, count: int, folder: Path, sma: tuple[int, int]) -> dict[str, object]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--contender", name, "--data", str(path),
           "--count", str(count), "--sma", f"{sma[0]},{sma[1]}"]
    stdout, wall, peak_mb = run_child(cmd, folder, name)
    return json.loads(stdout.strip().splitlines()[-1]) | {"process_seconds": wall, "peak_mb": peak_mb}


# --- the comparison ---------------------------------------------------------------------------------------------

def _rounded(figures: dict[str, object], full: int) -> dict[str, object]:
    """One contender's figures for the JSON; ``full``: the candle count the benchmark is about."""
    candles, seconds = int(figures["candles"]), float(figures["seconds"])  # type: ignore[arg-type]
    row = {"candles": candles, "seconds": round(seconds, 2),
           "candles_per_s": round(candles / seconds) if seconds else None,
           "process_seconds": round(float(figures["process_seconds"]), 2),  # type: ignore[arg-type]
           "peak_mb": round(float(figures["peak_mb"]), 1)}  # type: ignore[arg-type]
    row |= {key: value for key, value in figures.items() if key not in row}
    if candles < full and seconds:
        row["extrapolated_seconds"] = round(seconds * full / candles, 1)
    return row


def _note(name: str, row: dict[str, object], full: int) -> str | None:
    if int(row["candles"]) >= full:  # type: ignore[call-overload]
        return None
    if "extrapolated_seconds" in row:
        return (f"{name} ran on {row['candles']:,} candles, not {full:,}: its candles/s is compared; "
                f"{full:,} candles would take it ~{row['extrapolated_seconds']} s")
    return f"{name} ran on {row['candles']:,} candles, not {full:,}"


def print_table(rows: dict[str, dict[str, object]]) -> None:
    print(f"{'contender':12}{'candles':>11}{'seconds':>10}{'candles/s':>12}{'process s':>11}{'peak MB':>9}"
          f"{'trades':>8}")
    for name, row in rows.items():
        rate = row["candles_per_s"]
        print(f"{name:12}{row['candles']:>11,}{row['seconds']:>10}{rate if rate is None else f'{rate:,}':>12}"
              f"{row['process_seconds']:>11}{row['peak_mb']:>9}{row['trades']:>8}")


def compare(args: argparse.Namespace) -> None:
    counts = {"crypy": args.crypy_candles, "backtesting": args.candles, "backtrader": args.backtrader_candles}
    chosen = [name for name in CONTENDERS if not args.only or name in args.only]
    from bench_evaluation import real_derived_candles
    from bench_order_floor import describe, floor

    # crypy replays its whole file; the others read their first candles after the history from the full one
    file_of = {name: counts[name] if name == "crypy" else args.candles for name in chosen}
    ohlc = np.round(real_derived_candles(HISTORY + max(file_of.values())), 1)  # XBT/USD's price grid: 0.1 USD
    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="crypy-bench-backtest-") as tmp:
        folder = Path(tmp)
        files = {count: folder / f"n{count}" / FILE_NAME for count in set(file_of.values())}
        for count, path in files.items():
            path.parent.mkdir()
            write_candles(path, ohlc[:HISTORY + count])
        for name in chosen:
            print(f"{name}: {counts[name]:,} candles ...", flush=True)
            if name == "crypy":
                figures = measure_crypy(files[file_of[name]], folder, args.sma)
            else:
                figures = measure_other(name, files[file_of[name]], counts[name], folder, args.sma)
            rows[name] = _rounded(figures, args.candles)

    print()
    print_table(rows)
    notes = [note for name, row in rows.items() if (note := _note(name, row, args.candles))]
    if missing := [name for name in CONTENDERS if name not in rows]:
        notes.append(f"not run (--only): {', '.join(missing)}")
    rate = {name: row["candles_per_s"] for name, row in rows.items()}
    ratios = {f"ratio_{other}": round(rate["crypy"] / rate[other], 4)  # type: ignore[operator]
              for other in ("backtesting", "backtrader") if "crypy" in rate and other in rate}
    for key, value in ratios.items():
        print(f"crypy / {key.removeprefix('ratio_')}: {value}x candles/s")
    target: dict[str, object] = {"candles_per_s": TARGET_RATE, "peak_mb": TARGET_MB}
    if "crypy" in rows:
        crypy = rows["crypy"]
        fast, small = rate["crypy"] >= TARGET_RATE, float(crypy["peak_mb"]) < TARGET_MB  # type: ignore[arg-type,operator]
        target |= {"rate_met": fast, "memory_met": small, "met": fast and small}
        print(f"target: >= {TARGET_RATE:,} candles/s and peak < {TARGET_MB} MB: "
              f"{'met' if fast and small else 'NOT met'} ({rate['crypy']:,} candles/s, {crypy['peak_mb']} MB)")
        if int(crypy["candles"]) < args.candles:  # type: ignore[call-overload]
            notes.append(f"crypy's peak memory is for {crypy['candles']:,} candles: the target is for {args.candles:,}")
        target["order_floor"] = floor(int(crypy["orders"]), int(crypy["candles"]))  # type: ignore[call-overload]
        print(f"order floor: {describe(target['order_floor'])}")  # type: ignore[arg-type]
    for note in notes:
        print(f"note: {note}")

    results = {
        "candles": args.candles, "history_candles": HISTORY, "timeframe": "1m", "pair": "XBT/USD",
        "data": "real-derived (bench_evaluation.real_derived_candles), rounded to 0.1",
        "strategy": f"SMA crossover ({args.sma[0]}, {args.sma[1]}), long only", "fee": FEE, "quick": args.quick,
        **rows, **ratios, "target": target, "notes": notes,
        "crypy_template": str(TEMPLATES.relative_to(BENCH.parent)), "crypy_balance": CRYPY_BALANCE,
        "versions": {name: version(name) for name in ("crypy", "backtesting", "backtrader", "numpy", "pandas")},
        "python": platform.python_version(), "machine": platform.machine(),
    }
    results_file = RESULTS if args.sma == SMA else RESULTS.with_name(f"backtest-sma-{args.sma[0]}-{args.sma[1]}.json")
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {results_file.relative_to(BENCH.parent)}")


def _periods(text: str) -> tuple[int, int]:
    fast, _, slow = text.partition(",")
    try:
        periods = int(fast), int(slow)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FAST,SLOW such as 10,30, got {text!r}") from None
    if not 0 < periods[0] < periods[1]:
        raise argparse.ArgumentTypeError(f"expected 0 < FAST < SLOW, got {text!r}")
    return periods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candles", type=int, default=None,
                        help="candles replayed (after 720 of history), default 1,000,000 (--quick: 20,000)")
    parser.add_argument("--crypy-candles", type=int, default=None, help="crypy's own count (default: --candles)")
    parser.add_argument("--backtrader-candles", type=int, default=None,
                        help="backtrader's count, its seconds extrapolated to --candles (default 200,000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK:,} candles for every contender (unless their own counts are given)")
    parser.add_argument("--only", action="append", choices=CONTENDERS, help="run only this contender (repeatable)")
    parser.add_argument("--sma", type=_periods, default=SMA, metavar="FAST,SLOW",
                        help=f"the crossover's periods, for every contender (default {SMA[0]},{SMA[1]}; another "
                             "pair writes its own results file): how the rate depends on how often it trades")
    parser.add_argument("--contender", choices=tuple(CHILDREN), help=argparse.SUPPRESS)  # a child process's job
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(CHILDREN[args.contender](args.data, args.count, args.sma)), flush=True)
        return
    args.candles = args.candles or (QUICK if args.quick else 1_000_000)
    args.crypy_candles = args.crypy_candles or args.candles
    args.backtrader_candles = min(args.backtrader_candles or (args.candles if args.quick else 200_000), args.candles)
    compare(args)


if __name__ == "__main__":
    main()
