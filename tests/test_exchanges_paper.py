"""PaperExchange: the simulator server's public data through ccxt, fills from a local matching engine."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import trio

from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.paper import PaperExchange
from crypy.protocols import Balance, OrderType, Side, timeframe_ms
from crypy.simulator import SimExchange

from . import test_exchanges_kraken
from .test_exchanges_kraken import PAIR, adapter, sim_config, start

opened = test_exchanges_kraken.opened  # the fixture that closes adapters


async def test_paper_fills_as_the_simulator_does_and_balances_move_by_cost_and_fees(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config(candle_seconds=0.5))
    public = adapter(await start(nursery, sim), opened, api_key=None, secret=None)  # no keys at all
    paper = PaperExchange(public, {"USD": Decimal(10000)}, timeframe="15m", refresh_s=0.05)
    assert (paper.name, paper.account) == ("kraken", "paper")
    assert await paper.markets() == sim.markets()
    assert await paper.balances() == {"USD": Balance(asset="USD", total=Decimal(10000))}
    await nursery.start(sim.run)
    newest = sim.candles(PAIR, "15m", limit=1)[-1].ts
    while sim.candles(PAIR, "15m", limit=1)[-1].ts == newest:  # start right after a close: both orders
        await trio.sleep(0.01)                                  # then wait for the same next candle
    expected = sim.place_order("main", "sim-buy", PAIR, Side.BUY, OrderType.MARKET, Decimal("0.01"))
    order = await paper.place_order(client_id="paper-buy", pair=PAIR, side=Side.BUY, order_type=OrderType.MARKET,
                                    amount=Decimal("0.01"))
    assert paper.market_time(PAIR) == sim.candles(PAIR, "15m", limit=1)[-1].ts + timeframe_ms("15m")
    assert (order.amount, order.status) == (expected.amount, expected.status)
    await nursery.start(paper.run)
    with trio.fail_after(5):
        while not (await paper.fills_since(0))[0]:
            await trio.sleep(0.05)
    (fill,), cursor = await paper.fills_since(0)
    (sim_fill,) = sim.fills("main")
    assert fill == msgspec.structs.replace(sim_fill, id=fill.id, order_id=order.id, client_id="paper-buy")
    assert await paper.fills_since(cursor) == ([], cursor)
    assert await paper.balances() == {
        "USD": Balance(asset="USD", total=Decimal(10000) - fill.cost - fill.fee),
        "XBT": Balance(asset="XBT", total=Decimal("0.01")),
    }
    assert (await paper.order(order.id)).avg_price == sim_fill.price
