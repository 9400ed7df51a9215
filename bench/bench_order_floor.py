"""The least time a full-pipeline backtest can spend on its orders, whatever the actors do with them.

Every order of a crypy backtest crosses between two actors at least twice (the trader's request reaches the desk;
its fill comes back to the trader), and the same matching engine as ``crypy sim`` places and fills it. Two
figures, each measured alone on this machine with nothing else in the way:

- a round trip between two trio tasks (one sends on a memory channel, the other answers on a second one): the
  cost of two task switches and nothing more;
- the matching engine placing a market order and filling it on the next candle (``bench_engine.market_fills``,
  real Kraken XBT/USD 15m candles), with no network, journal or actor.

Their sum times a run's order count is a floor for that run; ``candles / floor`` is a ceiling on its candles/s,
however little everything else (the candles themselves, strategies, journal, holders) costs.
``bench_backtest.py`` prints it for its own run; ``--orders N --candles M`` works it out for any other.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import trio

RESULTS = Path(__file__).resolve().parent / "results" / "order_floor.json"
ROUND_TRIPS = 50_000
ENGINE_CANDLES = 20_000


def trio_round_trip_s(count: int = ROUND_TRIPS) -> float:
    """Seconds per round trip between two trio tasks over buffered memory channels (no work on either side)."""

    async def main() -> float:
        ask, asked = trio.open_memory_channel[int](math.inf)
        answer, answered = trio.open_memory_channel[int](math.inf)

        async def echo() -> None:
            async for value in asked:
                answer.send_nowait(value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(echo)
            start = time.perf_counter()
            for value in range(count):
                ask.send_nowait(value)
                await answered.receive()
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        return elapsed / count

    return trio.run(main)


def engine_order_s(candles: int = ENGINE_CANDLES) -> float:
    """Seconds per market order placed and filled by the matching engine alone."""
    from bench_engine import market_fills

    from crypy.simulator import bundled_candle_files, load_candles

    series = load_candles(next(p for p in bundled_candle_files() if "BTCUSD" in p.name))[: candles + 1]
    return 1 / market_fills(series)


def floor(orders: int, candles: int) -> dict[str, float | int]:
    """The floor of a run with ``orders`` orders over ``candles`` candles, and the ceiling on its candles/s."""
    round_trip, engine = trio_round_trip_s(), engine_order_s()
    seconds = orders * (round_trip + engine)
    return {"orders": orders, "candles": candles, "trio_round_trip_us": round(round_trip * 1e6, 1),
            "engine_order_us": round(engine * 1e6, 1), "floor_seconds": round(seconds, 2),
            "ceiling_candles_per_s": round(candles / seconds) if seconds else 0}


def describe(figures: dict[str, float | int]) -> str:
    return (f"{figures['orders']:,} orders x (trio round trip {figures['trio_round_trip_us']} us + engine order "
            f"{figures['engine_order_us']} us) = {figures['floor_seconds']} s: at most "
            f"{figures['ceiling_candles_per_s']:,} candles/s over {figures['candles']:,} candles, whatever else costs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=41_494,
                        help="orders of the run (default: bench_backtest.py's SMA 10/30 on 1M candles)")
    parser.add_argument("--candles", type=int, default=1_000_000, help="candles of the run")
    args = parser.parse_args()
    figures = floor(args.orders, args.candles)
    print(describe(figures))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures | {"python": platform.python_version(), "machine": platform.machine(),
                                             "trio": trio.__version__}, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(RESULTS.parents[2])}")


if __name__ == "__main__":
    main()
