"""A trader's own order requests, and the orders they became, as the desk reports them.

The trader decides what to trade; this keeps the bookkeeping of asking: client ids unique in the process, the
requests in flight (a trader sends nothing new while one is open), the refusals, and a human's order that waits
for the desk's first answer. Exits the desk places for an entry (its stop-loss and take-profit) are the desk's.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import NamedTuple

import trio

from crypy.protocols import Approval, Order, OrderRefused, OrderRequest, OrderStatus, OrderType, Side, Signal

from .bus import Topic
from .runtime import Runtime

MANUAL_ORDER_TIMEOUT = 10.0


class PlannedOrder(NamedTuple):
    """A market order a trader has decided to ask for (``reason``: entry, add-on, exit, trailing_stop)."""

    side: Side
    amount: Decimal
    reason: str


class Reaction(NamedTuple):
    """What a closed candle asks of a trader beyond feeding its strategy: a new target to announce, an order."""

    signal: Signal | None
    order: PlannedOrder | None


class TraderOrders:
    def __init__(self, trader: str, pair: str, runtime: Runtime) -> None:
        self.trader = trader
        self.pair = pair
        self.runtime = runtime
        self.open: dict[str, Order] = {}
        """Requests sent and orders not ended yet, by client id."""
        self.refusals: deque[OrderRefused] = deque(maxlen=50)

    async def send(self, side: Side, amount: Decimal, *, reason: str, approval: Approval | None,
                   price: Decimal | None = None, stop_loss: Decimal | None = None,
                   take_profit: Decimal | None = None) -> str:
        """Ask the desk for an order (a limit order when ``price`` is given); returns its client id."""
        client_id = f"{self.trader}-{self.runtime.run_id}-{next(self.runtime.sequence)}"
        request = OrderRequest(ts=self.runtime.now_ms(), client_id=client_id, trader=self.trader, pair=self.pair,
                               side=side, order_type=OrderType.LIMIT if price else OrderType.MARKET, amount=amount,
                               price=price, approval=approval, reason=reason, stop_loss=stop_loss,
                               take_profit=take_profit)
        self.open[client_id] = Order(ts=request.ts, id="", client_id=client_id, trader=self.trader, pair=self.pair,
                                     side=side, order_type=request.order_type, amount=amount, price=price,
                                     status=OrderStatus.PENDING)
        await self.runtime.bus.publish(Topic.ORDER_REQUESTS, request)
        return client_id

    async def manual(self, side: Side, amount: Decimal, price: Decimal | None, *, approval: Approval | None,
                     reason: str) -> Order | OrderRefused:
        """A human's order, under the trader's approval and through the desk's gate like any other: the desk's
        first answer (the order as placed, or the refusal). TimeoutError when the desk says nothing."""
        with self.runtime.bus.subscribe(Topic.ORDERS, Topic.REFUSALS) as answers:
            client_id = await self.send(side, amount, reason=reason, approval=approval, price=price)
            with trio.fail_after(MANUAL_ORDER_TIMEOUT):
                async for event in answers:
                    if isinstance(event, Order | OrderRefused) and event.client_id == client_id:
                        return event
        raise TimeoutError("the desk stopped answering")

    def on_order(self, order: Order) -> None:
        """Follow one of these orders (others, the desk's exits among them, are not followed here)."""
        if order.client_id not in self.open:
            return
        if order.status.is_terminal:
            self.open.pop(order.client_id, None)
        else:
            self.open[order.client_id] = order

    def on_refused(self, refusal: OrderRefused) -> bool:
        """Forget a refused request; False when it was not one of these."""
        if self.open.pop(refusal.client_id, None) is None:
            return False
        self.refusals.append(refusal)
        return True
