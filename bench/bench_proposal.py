"""How long a trader takes to evaluate its template before a proposal, on the history it really gets.

A flat trader simulates every strategy and parameter set of its template over the pair's last 720 candles, and
again every 24 market hours (``crypy/actors/trader_evaluation.py``, ``evaluate_strategies``): in a backtest with
the shipped templates a sizeable share of the run. At 720 candles the cost is per call (building strategies and
frames, small numpy calls, Python loops), not per candle, so this measures that case rather than a long history
(``bench_evaluation.py``).

Data: ``--windows`` (default 40) windows of 720 candles, evenly spaced over the real Kraken XBT/USD 15m file
(``../shared/data/market``). Template: the shipped ``trader.toml``, evaluated as the Trader does: the market's
taker fee (0.26%), the trader's name as the seed of the sampled parameter sets, a holder of USD (the template's
exits armed) and a holder of XBT (no exits). Each round evaluates every window once; the figure is the mean per
evaluation of the best of ``--rounds`` rounds (the median round is shown too, the machine being noisy).

``digest`` fingerprints every result (strategy, parameters, every metric's bits, exits) so that a change meant to
be a pure speed-up can be checked to choose exactly what it chose before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path

from crypy.actors.template import TraderTemplate
from crypy.actors.template_files import default_template_dir, load_templates
from crypy.actors.trader_evaluation import Evaluated, evaluate_strategies
from crypy.plugins import Candles
from crypy.simulator import load_candles

MARKET = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "market" / "kraken_BTCUSD_15m.csv.gz"
RESULTS = Path(__file__).parent / "results" / "proposal.json"
HISTORY = 720
TAKER_FEE = 0.0026
HOLDERS = {"USD": True, "XBT": False}  # the holder's asset: does it hold the quote currency?


def windows(count: int) -> list[Candles]:
    """``count`` histories of ``HISTORY`` candles, evenly spaced over the file."""
    candles = load_candles(MARKET)
    last = len(candles) - HISTORY
    return [Candles.from_candles(candles[start:start + HISTORY])
            for start in (round(k * last / max(count - 1, 1)) for k in range(count))]


def evaluate_all(template: TraderTemplate, histories: list[Candles], holds_quote: bool,
                 asset: str) -> list[Evaluated | None]:
    return [evaluate_strategies(template, candles, taker_fee=TAKER_FEE, holder_holds_quote=holds_quote,
                                timeframe="15m", seed=f"XBT/USD@{asset}") for candles in histories]


def digest(results: list[Evaluated | None]) -> str:
    text = repr([None if r is None else (r.strategy, sorted(r.params.items()),
                                         [(k, v.hex()) for k, v in sorted(r.metrics.items())], sorted(r.exits.items()))
                 for r in results])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    histories = windows(args.windows)
    template = load_templates(default_template_dir()).trader_for("XBT/USD")
    figures: dict[str, object] = {"windows": len(histories), "candles_per_window": HISTORY, "rounds": args.rounds}
    for asset, holds_quote in HOLDERS.items():
        results = evaluate_all(template, histories, holds_quote, asset)  # warm-up: imports, registry, first calls
        rounds = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            evaluate_all(template, histories, holds_quote, asset)
            rounds.append((time.perf_counter() - start) / len(histories))
        chosen = sorted({r.strategy for r in results if r is not None})
        figures[f"holder_{asset}"] = {
            "ms_per_evaluation": round(min(rounds) * 1000, 2),
            "median_round_ms": round(statistics.median(rounds) * 1000, 2),
            "evaluations_per_s": round(1 / min(rounds), 1), "strategies_chosen": chosen,
            "digest": digest(results)}
    figures |= {"python": platform.python_version(), "numpy": version("numpy"), "machine": platform.machine()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{'holder':8}{'ms/evaluation':>15}{'median round':>14}{'per s':>8}  digest")
    for asset in HOLDERS:
        row = figures[f"holder_{asset}"]
        assert isinstance(row, dict)
        print(f"{asset:8}{row['ms_per_evaluation']:>15}{row['median_round_ms']:>14}{row['evaluations_per_s']:>8}"
              f"  {row['digest']}")


if __name__ == "__main__":
    main()
