"""How fast the simulator's Kraken REST API serves the unmodified ccxt sync client over loopback.

Measures place+cancel pairs per second (limit buys far below the market, so nothing fills) and the p50/p99
round-trip latency of ``fetch_ticker`` and ``create_order`` as ccxt sees it (signing, HTTP, parsing included).
Rate limits are off and there is no injected latency: the figures are the server's own cost plus ccxt's.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from decimal import Decimal
from pathlib import Path

import ccxt

from crypy.simulator import SimConfig
from crypy.simulator.config import KrakenServerConfig
from crypy.simulator.kraken.background import SimExchangeThread

RESULTS = Path(__file__).parent / "results" / "kraken_rest.json"
SYMBOL = "BTC/USD"


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latency_ms(samples: list[float]) -> dict[str, float]:
    return {"p50": round(_percentile(samples, 0.5) * 1000, 3), "p99": round(_percentile(samples, 0.99) * 1000, 3),
            "mean": round(statistics.fmean(samples) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="place+cancel pairs, and ticker requests")
    n = parser.parse_args().n
    config = SimConfig(speed=60.0, accounts={"bench": {"USD": Decimal(10_000_000), "XBT": Decimal(100)}})
    with SimExchangeThread(config) as thread:
        endpoints = thread.serve_kraken(KrakenServerConfig(rate_limits=False))
        credentials = endpoints.credentials["bench"]
        client = ccxt.kraken({"apiKey": credentials.api_key, "secret": credentials.secret, "enableRateLimit": False})
        client.urls["api"]["public"] = client.urls["api"]["private"] = endpoints.rest_url
        client.load_markets()
        price = round(client.fetch_ticker(SYMBOL)["last"] / 2, 1)
        tickers: list[float] = []
        for _ in range(n):
            started = time.perf_counter()
            client.fetch_ticker(SYMBOL)
            tickers.append(time.perf_counter() - started)
        creates: list[float] = []
        pairs_started = time.perf_counter()
        for _ in range(n):
            started = time.perf_counter()
            order = client.create_order(SYMBOL, "limit", "buy", 0.001, price)
            creates.append(time.perf_counter() - started)
            client.cancel_order(order["id"])
        pairs_seconds = time.perf_counter() - pairs_started
        if client.fetch_open_orders():
            raise SystemExit("orders were left open")
    figures = {
        "pairs": n,
        "place_cancel_pairs_per_second": round(n / pairs_seconds, 1),
        "orders_per_second": round(2 * n / pairs_seconds, 1),
        "fetch_ticker_ms": _latency_ms(tickers),
        "create_order_ms": _latency_ms(creates),
        "ccxt": ccxt.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"kraken rest: {figures['place_cancel_pairs_per_second']} place+cancel pairs/s, "
          f"fetch_ticker p50 {figures['fetch_ticker_ms']['p50']} ms p99 {figures['fetch_ticker_ms']['p99']} ms, "
          f"create_order p50 {figures['create_order_ms']['p50']} ms p99 {figures['create_order_ms']['p99']} ms "
          f"-> {RESULTS}")


if __name__ == "__main__":
    main()
