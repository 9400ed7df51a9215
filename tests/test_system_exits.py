"""Stop-loss and take-profit through the whole system: a real resting stop on the exchange, the take-profit
watched by the desk, one cancelling the other, and the trader's own exit cancelling both."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import trio

from crypy.modes.sim import SimOptions, open_sim_system
from crypy.protocols import OrderStatus, OrderType
from crypy.store import JournalReader

from .conftest import eager_templates_with

EXITS = """
[exits]
stop_loss = 0.002
take_profit = 0.003
"""


@pytest.mark.parametrize("in_process", [False, True], ids=["through-ccxt", "in-process"])
async def test_exits_are_linked_to_their_entry_one_cancels_the_other(tmp_path: Path, in_process: bool) -> None:
    templates = eager_templates_with(tmp_path / "templates")
    trader = templates / "trader.toml"
    trader.write_text(re.sub(r"\[exits\][^\[]*", EXITS.lstrip(), trader.read_text()))  # instead of the eager ones
    options = SimOptions(speed=36_000.0, db=tmp_path / "journal.db", repl_port=0, template_dir=templates,
                         in_process=in_process)
    async with open_sim_system(options) as (system, sim):
        def exits_done() -> bool:
            ends = [o for o in system.desk.orders.values() if o.client_id.rsplit("-", 1)[-1] in ("sl", "tp")]
            kinds = {(o.client_id[-2:], o.status) for o in ends}
            return {("sl", OrderStatus.FILLED), ("tp", OrderStatus.FILLED), ("sl", OrderStatus.CANCELLED)} <= kinds

        with trio.fail_after(90):
            while not exits_done():
                await trio.sleep(0.2)
    summary = system.summary()
    assert summary.open_orders == 0 and summary.balances_match, summary.render()
    with JournalReader(tmp_path / "journal.db") as journal:
        orders = journal.orders()
        fills = journal.fills()
    placed = {o.id: o for o in sim.orders("default")}
    by_entry: dict[str, dict[str, OrderStatus]] = defaultdict(dict)
    filled_amount: dict[str, object] = {}
    for order in orders:
        kind = order.client_id.rsplit("-", 1)[-1]
        if kind in ("sl", "tp"):
            by_entry[order.client_id[:-3]][kind] = order.status
            filled_amount[order.client_id] = order.filled
    entries = {o.client_id: o for o in orders}
    for entry, exits in by_entry.items():
        assert entry in entries, "an exit belongs to an entry"
        assert list(exits.values()).count(OrderStatus.FILLED) <= 1, f"both exits of {entry} filled: {exits}"
        if exits.get("sl") is OrderStatus.FILLED and "tp" in exits:
            assert exits["tp"] is not OrderStatus.FILLED
        for kind in exits:  # an exit never gives back more than its entry got
            assert filled_amount[f"{entry}-{kind}"] <= entries[entry].filled
    stops = [o for o in orders if o.client_id.endswith("-sl")]
    assert stops and all(o.order_type is OrderType.STOP_LOSS for o in stops), "stops rest on the exchange"
    assert all(placed[o.id].order_type is OrderType.STOP_LOSS for o in stops), "the exchange holds real stops"
    take_profits = [o for o in orders if o.client_id.endswith("-tp")]
    assert take_profits and all(o.order_type is OrderType.MARKET for o in take_profits), "the desk fires them"
    assert len({f.id for f in fills}) == len(fills)
