"""The desk's order book-keeping: every order of the account followed to a terminal state, every fill booked once.

The exchange answers two separate questions, "which fills are new?" and "what state is this order in?", and a
fill can happen between them. The tracker always books fills first and publishes an order's state only as far
as its fills are booked, so nobody (trader, gate, journal) ever sees "filled" before the fill itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import msgspec
import structlog
import trio

from crypy.exchanges import Exchange, ExchangeError
from crypy.protocols import Fill, Order, OrderStatus
from crypy.store import Journal

from .bus import Bus, Topic
from .locks import held

FillHook = Callable[[Fill], Awaitable[None]]
OrderHook = Callable[[Order], Awaitable[None]]


class OrderTracker:
    def __init__(self, exchange: Exchange, journal: Journal, bus: Bus, log: structlog.stdlib.BoundLogger) -> None:
        self.exchange = exchange
        self.journal = journal
        self.bus = bus
        self.log = log
        self.orders: dict[str, Order] = {}
        self.open_orders: dict[str, Order] = {}
        self.fills: deque[Fill] = deque(maxlen=1000)
        self.fill_count = 0
        self.client_traders: dict[str, str] = {}
        """crypy client id -> trader, recorded before an order is sent: its fill can arrive before the answer."""
        self.fill_cursor = 0
        self.booked_fill_ids: set[str] = set()
        """Fills already booked (and journaled): a cursor restarted from 0 after a restart skips them."""
        self._booked: dict[str, Decimal] = {}
        self._lock = trio.Lock()
        self.fill_hooks: list[FillHook] = []
        self.order_hooks: list[OrderHook] = []

    def booked_amount(self, order_id: str) -> Decimal:
        return self._booked.get(order_id, Decimal(0))

    async def place(self, *, client_id: str, trader: str, **params: Any) -> Order:
        """Send an order (once, even across the adapter's retries) and record its first known state.

        Raises ``ExchangeError`` (``OrderRejected`` when the exchange refused it)."""
        self.client_traders[client_id] = trader
        order = await self.exchange.place_order(client_id=client_id, **params)
        await self.update(msgspec.structs.replace(order, trader=trader))
        return order

    async def cancel(self, order_id: str) -> None:
        """Cancel an open order; an order that finished meanwhile is simply followed to its end."""
        try:
            await self.exchange.cancel_order(order_id)
        except ExchangeError as exc:
            self.log.warning("cancel failed", order_id=order_id, error=str(exc))
        await self.sync()

    async def sync(self) -> None:
        """New fills first, then the status of every open order, so a trader sees its fill before "filled".

        The poller, a cancel and the stop hook all sync; the lock makes sure no two read the same fills.
        """
        async with held(self._lock):
            fills, self.fill_cursor = await self.exchange.fills_since(self.fill_cursor)
            for fill in fills:
                await self.book(fill)
            known = list(self.open_orders.values())
            current = await self.exchange.orders([order.id for order in known]) if known else {}
            for order in known:
                now = current.get(order.id)
                if now is None:
                    self.log.warning("the exchange does not know an open order", order_id=order.id)
                elif (now.status, now.filled) != (order.status, order.filled):
                    await self.update(msgspec.structs.replace(now, trader=order.trader))

    async def book(self, fill: Fill) -> None:
        """Book one fill of the account (once), attributed to the trader whose order it filled."""
        if fill.id in self.booked_fill_ids:
            return
        self.booked_fill_ids.add(fill.id)
        fill = msgspec.structs.replace(fill, trader=self.client_traders.get(fill.client_id, ""))
        self._booked[fill.order_id] = self.booked_amount(fill.order_id) + fill.amount
        self.fills.append(fill)
        self.fill_count += 1
        self.log.info("fill", trader=fill.trader, side=fill.side, amount=str(fill.amount), price=str(fill.price),
                      fee=f"{fill.fee} {fill.fee_asset}")
        for hook in self.fill_hooks:
            await hook(fill)
        await self.journal.record(fill)
        await self.bus.publish(Topic.FILLS, fill)

    async def update(self, order: Order) -> None:
        """Record a new state of an order, publish it, and forget it from the open set once finished.

        A state is published only as far as the order's fills are booked: reporting "filled" early would let a
        trader and the gate think the position is still there, and sell it twice. A known order then keeps
        its last state until the next sync books its fills; a new one is recorded as pending.
        """
        booked = self.booked_amount(order.id)
        if order.filled > booked:
            if order.id in self.orders:
                return
            order = msgspec.structs.replace(order, status=OrderStatus.PENDING, filled=booked, avg_price=None,
                                            fee=Decimal(0), closed=0)
        self.orders[order.id] = order
        if order.status.is_terminal:
            self.open_orders.pop(order.id, None)
        else:
            self.open_orders[order.id] = order
        self.log.info("order", id=order.id, trader=order.trader, side=order.side, type=order.order_type,
                      amount=str(order.amount), status=order.status, filled=str(order.filled))
        for hook in self.order_hooks:
            await hook(order)
        await self.journal.record(order)
        await self.bus.publish(Topic.ORDERS, order)

    def restore(self, orders: list[Order], fills: list[Fill], client_traders: dict[str, str]) -> None:
        """Take back what the journal knew before a restart: orders (latest state each), booked fills, owners."""
        self.client_traders.update(client_traders)
        for fill in fills:
            self.booked_fill_ids.add(fill.id)
            self._booked[fill.order_id] = self.booked_amount(fill.order_id) + fill.amount
        for order in orders:
            self.orders[order.id] = order
            if not order.status.is_terminal:
                self.open_orders[order.id] = order
