"""Restart recovery: a desk that starts on a journal with history takes up where the last one stopped.

The journal says what the desk knew; the exchange says what is true. Recovery rebuilds the first (orders,
booked fills, the traders' ledgers) and reconciles it with the second:
- a request journaled without an answer (the process died while sending it) is looked up by its client id:
  adopted when the exchange has it, marked "never reached the exchange" (a refusal) when it does not;
- an open order the exchange has under a client id crypy used is adopted; orders crypy never placed are not
  its business and are left alone;
- fills that happened while the desk was down are booked by the first sync, exactly once (journaled fill ids
  are skipped), so positions and balances after recovery equal the exchange's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import trio

from crypy.exchanges import patiently
from crypy.protocols import Fill, Order, OrderRequest
from crypy.store import JournalReader

if TYPE_CHECKING:
    from .desk import Desk

UNSENT = "never reached the exchange (found unanswered in the journal after a restart)"


@dataclass
class JournalState:
    """What a previous desk journaled about the account's orders."""

    orders: list[Order]
    fills: list[Fill]
    requests: list[OrderRequest]
    unanswered: list[OrderRequest]

    @property
    def empty(self) -> bool:
        return not (self.orders or self.requests or self.fills)


def read_journal_state(path: str | Path) -> JournalState:
    with JournalReader(path) as reader:
        return JournalState(orders=reader.orders(), fills=reader.fills(), requests=reader.order_requests(),
                            unanswered=reader.order_requests_without_orders())


@dataclass
class RecoveryReport:
    orders: int = 0
    fills: int = 0
    adopted: int = 0
    unsent: int = 0
    open_orders: int = 0
    new_fills: int = 0

    def __str__(self) -> str:
        return (f"{self.orders} journaled orders ({self.open_orders} open after reconciling), {self.fills} "
                f"journaled fills, {self.new_fills} fills while down, {self.adopted} orders adopted, "
                f"{self.unsent} requests never sent")


async def recover(desk: Desk) -> RecoveryReport | None:
    """Rebuild the desk's view from its journal and reconcile it with the exchange (None: nothing to recover)."""
    state = await trio.to_thread.run_sync(read_journal_state, desk.journal.path)
    if state.empty:
        return None
    assert desk.capabilities is not None
    if not desk.capabilities.persistent:
        desk.log.warning("the journal has orders of an earlier run, but this account is new (paper): not recovering")
        return None
    tracker, gate, exchange = desk.tracker, desk.gate, desk.exchange
    report = RecoveryReport(orders=len(state.orders), fills=len(state.fills))
    owners = {r.client_id: r.trader for r in state.requests} | {o.client_id: o.trader for o in state.orders}
    exchange.recall_client_ids(owners)
    tracker.restore(state.orders, state.fills, owners)
    requests = {r.client_id: r for r in state.requests}
    for request in state.requests:
        if request.approval is not None and request.pair in desk.markets:
            gate.recall(request, desk.markets[request.pair])
    for fill in state.fills:
        gate.on_fill(fill)
    for request in state.unanswered:
        order = await patiently(lambda r=request: exchange.order_by_client_id(r.client_id))
        if order is None:
            report.unsent += 1
            await desk.refuse(request, UNSENT)
        else:
            report.adopted += 1
            await tracker.update(msgspec.structs.replace(order, trader=request.trader))
    for order in await patiently(exchange.open_orders):
        if order.id not in tracker.orders and order.client_id in owners:
            report.adopted += 1
            await tracker.update(msgspec.structs.replace(order, trader=owners[order.client_id]))
    before = tracker.fill_count
    await patiently(tracker.sync)
    report.new_fills = tracker.fill_count - before
    for order in tracker.open_orders.values():
        request = requests.get(order.client_id)
        last = desk.last_price(order.pair)
        if request is not None and request.approval is not None and last is not None:
            gate.reserve(request, desk.markets[order.pair], last)
    report.open_orders = len(tracker.open_orders)
    return report
