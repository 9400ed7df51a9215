"""How fast the in-process matching engine takes orders: no network, no actors, the engine alone.

Three figures on real Kraken XBT/USD 15m candles:
- place + cancel of a limit order far from the market (the desk's bread and butter), orders/s;
- market orders placed and filled on the next candle, orders/s including the candle matching;
- candles/s matched with 100 resting limit orders on the book.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from decimal import Decimal
from pathlib import Path

from crypy.protocols import OrderType, Side
from crypy.simulator import DEFAULT_MARKETS, MatchingEngine, bundled_candle_files, load_candles

RESULTS = Path(__file__).parent / "results" / "engine.json"


def _engine() -> MatchingEngine:
    engine = MatchingEngine({"XBT/USD": DEFAULT_MARKETS["XBT/USD"]})
    engine.open_account("bench", {"USD": Decimal(10) ** 12, "XBT": Decimal(10) ** 6})
    return engine


def place_cancel(n: int, candles: list) -> float:  # type: ignore[type-arg]
    engine = _engine()
    engine.on_candle(candles[0])
    start = time.perf_counter()
    for i in range(n):
        order = engine.place("bench", client_id=f"c{i}", pair="XBT/USD", side=Side.BUY, order_type=OrderType.LIMIT,
                             amount=Decimal("0.01"), price=Decimal("1000"), now_ms=candles[0].ts)
        engine.cancel("bench", order.id, now_ms=candles[0].ts)
    return n / (time.perf_counter() - start)


def market_fills(candles: list) -> float:  # type: ignore[type-arg]
    engine = _engine()
    engine.on_candle(candles[0])
    start = time.perf_counter()
    count = 0
    for i, candle in enumerate(candles[1:], start=1):
        side = Side.BUY if i % 2 else Side.SELL
        engine.place("bench", client_id=f"m{i}", pair="XBT/USD", side=side, order_type=OrderType.MARKET,
                     amount=Decimal("0.01"), now_ms=candles[i - 1].ts + 900_000)
        count += len(engine.on_candle(candle))
    elapsed = time.perf_counter() - start
    assert count == len(candles) - 1, "every market order must fill on the next candle"
    return count / elapsed


def matching_with_book(candles: list) -> float:  # type: ignore[type-arg]
    engine = _engine()
    engine.on_candle(candles[0])
    for i in range(100):
        engine.place("bench", client_id=f"r{i}", pair="XBT/USD", side=Side.BUY, order_type=OrderType.LIMIT,
                     amount=Decimal("0.01"), price=Decimal(1000 + i), now_ms=candles[0].ts)
    start = time.perf_counter()
    for candle in candles[1:]:
        engine.on_candle(candle)
    return (len(candles) - 1) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20_000, help="place+cancel pairs")
    parser.add_argument("--candles", type=int, default=20_000, help="candles for the matching figures")
    args = parser.parse_args()
    candles = load_candles(next(p for p in bundled_candle_files() if "BTCUSD" in p.name))[: args.candles + 1]
    figures = {
        "place_cancel_orders_per_s": round(place_cancel(args.n, candles)),
        "market_orders_filled_per_s": round(market_fills(candles)),
        "candles_per_s_with_100_resting_orders": round(matching_with_book(candles)),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    for key, value in figures.items():
        print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
