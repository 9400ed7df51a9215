"""Thousands of orders through a misbehaving Kraken: nothing lost, nothing doubled, balances exact.

The simulator serves Kraken's API with 10% of private calls failing (``EService:Unavailable``, or held past
the client's timeout, the ambiguous case: the order may or may not be placed) and the private WebSocket
dropped every 2 s. The desk reaches it through the real ccxt client, as it would reach Kraken.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import trio

from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.modes.sim import SimOptions, open_sim_system
from crypy.simulator.config import EndpointFaults, Faults, KrakenServerConfig
from crypy.store import JournalReader

from .conftest import EAGER_TEMPLATES

PRIVATE = ("AddOrder", "CancelOrder", "QueryOrders", "OpenOrders", "ClosedOrders", "TradesHistory", "Balance",
           "GetWebSocketsToken", "QueryTrades")
ORDERS = 2000


async def test_2000_orders_under_injected_faults_match_the_exchange_one_to_one(tmp_path: Path) -> None:
    faults = Faults(endpoints={method: EndpointFaults(error_rate=0.08, timeout_rate=0.02) for method in PRIVATE},
                    timeout_seconds=0.6, ws_disconnect_interval=2.0)
    options = SimOptions(speed=36_000.0, db=tmp_path / "journal.db", repl_port=0, template_dir=EAGER_TEMPLATES,
                         server=KrakenServerConfig(rate_limits=False, faults=faults, seed=3), client_timeout_s=0.4,
                         client_backoff_s=0.02)
    async with open_sim_system(options) as (system, sim):
        with trio.fail_after(600):
            while len(system.desk.orders) < ORDERS:
                await trio.sleep(0.5)
    exchange = system.exchange
    assert isinstance(exchange, KrakenCcxtExchange)
    summary = system.summary()
    placed = sim.orders("default")
    with JournalReader(tmp_path / "journal.db") as journal:
        journaled = journal.orders()
        fills = journal.fills()
        requests = journal.order_requests()
        refused = {r.client_id for r in journal.refusals()}
    assert len(journaled) >= ORDERS
    per_client_id = Counter(order.client_id for order in placed)
    assert per_client_id.most_common(1)[0][1] == 1, "an order was placed twice on the exchange"
    assert {o.id for o in journaled} == {o.id for o in placed}, "the journal and the exchange differ"
    by_id = {o.id: o for o in placed}
    for order in journaled:
        exchange_order = by_id[order.id]
        assert (order.status, order.filled) == (exchange_order.status, exchange_order.filled), order
        assert exchange.client_id_for(exchange_order.client_id) == order.client_id
    assert sorted(f.id for f in fills) == sorted(f.id for f in sim.fills("default", 0)), "fills lost or doubled"
    answered = {o.client_id for o in journaled} | refused
    assert {r.client_id for r in requests} <= answered, "a request left without an answer"
    assert summary.open_orders == 0 and summary.balances_match, summary.render()
    assert exchange.unavailable >= ORDERS // 10, "the faults did happen"
    assert exchange.executions.disconnects >= 3 and system.desk.order_news >= ORDERS, "pushed news despite drops"
    print(f"{len(journaled)} orders, {len(fills)} fills, {len(refused)} refusals; {exchange.unavailable} private calls "
          f"failed or timed out; {exchange.executions.disconnects} WebSocket drops, {system.desk.order_news} notices")
