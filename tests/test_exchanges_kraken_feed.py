"""KrakenFeed against the simulator's real WebSocket v2 server, which drops every connection every second."""

from __future__ import annotations

from decimal import Decimal

import trio

from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.kraken_feed import KrakenFeed
from crypy.protocols import BalanceSnapshot, Candle, Fill, Order, OrderStatus, OrderType, Side
from crypy.simulator import SimExchange
from crypy.simulator.config import Faults

from . import test_exchanges_kraken
from .test_exchanges_kraken import PAIR, adapter, sim_config, start

opened = test_exchanges_kraken.opened  # the fixture that closes adapters


async def test_feed_survives_forced_disconnects_without_losing_candles_or_fills(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    endpoints = await start(nursery, sim, faults=Faults(ws_disconnect_interval=1.0))
    exchange = adapter(endpoints, opened)
    assert endpoints.ws_public_url and endpoints.ws_private_url
    feed = KrakenFeed(endpoints.ws_public_url, private_url=endpoints.ws_private_url, names=await exchange.names(),
                      ohlc=[(PAIR, "15m")], token=exchange.ws_token, client_id_for=exchange.client_id_for,
                      account="main", ping_s=0.5)
    candles: list[Candle] = []
    orders: list[Order] = []
    fills: list[Fill] = []
    balances: list[BalanceSnapshot] = []

    async def buy() -> None:
        await exchange.place_order(client_id="feed-buy", pair=PAIR, side=Side.BUY, order_type=OrderType.MARKET,
                                   amount=Decimal("0.01"))

    async with feed.events() as events:
        await nursery.start(sim.run)
        with trio.fail_after(15):
            async for event in events:
                if isinstance(event, Candle):
                    candles.append(event)
                    if len(candles) == 3:
                        nursery.start_soon(buy)
                elif isinstance(event, Order):
                    orders.append(event)
                elif isinstance(event, Fill):
                    fills.append(event)
                elif isinstance(event, BalanceSnapshot):
                    balances.append(event)
                if feed.connections >= 6 and fills and orders[-1].status.is_terminal and len(candles) > 15:
                    break
    # every candle once, in order, with none missing across the reconnections, equal to the exchange's
    assert candles == sim.candles(PAIR, "15m", candles[0].ts, len(candles))
    assert fills == sim.fills("main") and fills[0].client_id == "feed-buy"
    assert orders[-1].id == fills[0].order_id and orders[-1].status is OrderStatus.FILLED
    assert orders[-1].filled == fills[0].amount and orders[-1].fee == fills[0].fee
    latest = {asset: b.total for snapshot in balances for asset, b in snapshot.balances.items()}
    assert latest == {asset: b.total for asset, b in sim.balances("main").items()}
