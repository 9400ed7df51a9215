"""The unmodified ccxt.pro Kraken client streams and trades against the simulator over WebSocket v2.

The exchange runs on its own thread (``SimExchangeThread``) with its Kraken REST and WebSocket servers; ccxt
loads markets and gets its WebSocket token over REST (``GetWebSocketsToken``), then does everything else over
the WebSocket. The market replays 1800x: a 15-minute candle, and so an update, every half second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.pro as ccxtpro

from crypy.simulator import SimConfig
from crypy.simulator.config import KrakenServerConfig
from crypy.simulator.kraken.background import SimExchangeThread
from crypy.simulator.kraken.server import KrakenEndpoints

T = TypeVar("T")
SYMBOL = "BTC/USD"


async def soon(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, 10)


def client(endpoints: KrakenEndpoints) -> Any:
    """ccxt.pro pointed at the simulator by URL override (NOTES §3.1), nothing else changed."""
    credentials = endpoints.credentials["default"]
    exchange = ccxtpro.kraken({"apiKey": credentials.api_key, "secret": credentials.secret, "enableRateLimit": False})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = endpoints.rest_url
    exchange.urls["api"]["ws"]["publicV2"] = endpoints.ws_public_url
    exchange.urls["api"]["ws"]["privateV2"] = endpoints.ws_private_url
    return exchange


async def watch_market(exchange: Any) -> None:
    first = await soon(exchange.watch_ticker(SYMBOL))
    assert first["symbol"] == SYMBOL and first["bid"] < first["last"] < first["ask"] and first["baseVolume"] > 0
    assert (await soon(exchange.watch_ticker(SYMBOL)))["last"] > 0  # an update

    candles = await soon(exchange.watch_ohlcv(SYMBOL, "15m"))
    assert len(candles) == 720 and all(candle[0] % 900_000 == 0 for candle in candles)
    newest = candles[-1][0]
    candles = await soon(exchange.watch_ohlcv(SYMBOL, "15m"))
    # under load more than one candle may close before the watch resolves: newer, on the grid, well-formed
    assert candles[-1][0] > newest and (candles[-1][0] - newest) % 900_000 == 0
    assert candles[-1][2] >= candles[-1][3]

    tape = await soon(exchange.watch_trades(SYMBOL))
    assert len(tape) == 50 and {trade["side"] for trade in tape} <= {"buy", "sell"}
    fresh = await soon(exchange.watch_trades(SYMBOL))
    assert fresh[-1]["timestamp"] > tape[-1]["timestamp"] and fresh[-1]["symbol"] == SYMBOL

    book = await soon(exchange.watch_order_book(SYMBOL))
    assert len(book["bids"]) == len(book["asks"]) == 10 and book["bids"][0][0] < book["asks"][0][0]
    snapshot_bid = book["bids"][0][0]
    for _ in range(5):  # updates (qty 0 deletes a level) keep the book sorted, uncrossed and 10 deep
        book = await soon(exchange.watch_order_book(SYMBOL))
        assert len(book["bids"]) == 10 and book["bids"][0][0] < book["asks"][0][0]
        assert [level[0] for level in book["bids"]] == sorted((level[0] for level in book["bids"]), reverse=True)
    assert book["timestamp"] is not None and book["bids"][0][0] != snapshot_bid


async def trade(exchange: Any) -> None:
    low = float((Decimal(str((await exchange.fetch_ticker(SYMBOL))["last"])) / 2).quantize(Decimal("0.1")))
    orders = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
    await asyncio.sleep(0.2)  # let the executions subscription land before the order (a watch needs the *next* message)
    placed = await soon(exchange.create_order_ws(SYMBOL, "limit", "buy", 0.001, low,
                                                 {"postOnly": True, "clientOrderId": "abc-1"}))
    seen = {order["id"]: order for order in await soon(orders)}
    assert seen[placed["id"]]["status"] == "open" and seen[placed["id"]]["symbol"] == SYMBOL
    assert seen[placed["id"]]["type"] == "limit" and seen[placed["id"]]["amount"] == 0.001

    await soon(exchange.edit_order_ws(placed["id"], SYMBOL, "limit", "buy", 0.002, low - 1))
    edited = await _order_state(exchange, placed["id"], lambda order: order["amount"] == 0.002)
    assert edited["price"] == low - 1 and edited["status"] == "open"
    await soon(exchange.cancel_order_ws(placed["id"]))
    assert (await _order_state(exchange, placed["id"], lambda order: order["status"] == "canceled"))["side"] == "buy"

    again = await soon(exchange.create_order_ws(SYMBOL, "limit", "buy", 0.001, low))
    cancelled = await soon(exchange.cancel_all_orders_ws())
    assert cancelled["result"] == {"count": 1} and again["id"]

    balance = asyncio.ensure_future(exchange.watch_balance())
    assert (await soon(balance))["BTC"]["total"] == 0.25  # the snapshot, under v2 asset names
    mine = asyncio.ensure_future(exchange.watch_my_trades(SYMBOL))  # shares the executions subscription
    balance = asyncio.ensure_future(exchange.watch_balance())
    await asyncio.sleep(0.2)
    bought = await soon(exchange.create_order_ws(SYMBOL, "market", "buy", 0.001))
    fill = (await soon(mine))[-1]
    assert (fill["order"], fill["side"], fill["amount"], fill["takerOrMaker"]) == (bought["id"], "buy", 0.001, "taker")
    assert fill["fee"]["currency"] == "USD" and fill["fee"]["cost"] > 0 and fill["cost"] > 0
    assert (await soon(balance))["BTC"]["total"] == 0.251
    assert (await _order_state(exchange, bought["id"], lambda order: order["status"] == "closed"))["type"] == "market"


async def _order_state(exchange: Any, order_id: str, reached: Any) -> dict[str, Any]:
    """``order_id`` once it is in the state ``reached`` looks for.

    A watch returns only on the *next* message; one that arrived before the watch started is only in ccxt's
    cache. So the cache is checked, and the watch is given up and the cache checked again every half second.
    """
    for _ in range(20):
        for order in exchange.orders or []:
            if order["id"] == order_id and reached(order):
                return order
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exchange.watch_orders(SYMBOL), 0.5)
    raise AssertionError(f"{order_id} never reached the state expected")


async def session(endpoints: KrakenEndpoints) -> None:
    exchange = client(endpoints)
    try:
        await watch_market(exchange)
        await trade(exchange)
    finally:
        await exchange.close()


def test_ccxt_pro_watches_and_trades_over_websocket_v2() -> None:
    with SimExchangeThread(SimConfig(speed=1800)) as exchange:
        endpoints = exchange.serve_kraken(KrakenServerConfig(rate_limits=False))
        asyncio.run(session(endpoints))
