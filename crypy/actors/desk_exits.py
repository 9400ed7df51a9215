"""The desk's side of stop-loss and take-profit: it carries out what the ``ExitBook`` decides.

The book's decisions arrive from inside the order sync (a fill, an order state), where placing or cancelling
would re-enter the sync; they are queued and carried out by one task of their own, in order. Before a trader's
own exit the live exits are cancelled at once, because on the exchange they hold the funds the exit needs.

The stop-loss rests on the exchange when it offers stop-loss orders; the take-profit is watched by the desk
and sent at market once a closed candle crosses it. Resting both would hold the position twice over: Kraken
spot has no OCO order, so each resting exit reserves the whole amount.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from crypy.exchanges import ExchangeError
from crypy.protocols import Candle, Fill, Order, OrderRequest, OrderType

from .exits import ExitActions, ExitBook, ExitOrder

if TYPE_CHECKING:
    from .desk import Desk


class DeskExits:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.book = ExitBook(frozenset())
        self._send, self._receive = trio.open_memory_channel[ExitActions](1000)

    def start(self, nursery: trio.Nursery) -> None:
        """Once the exchange's capabilities are known: which exits rest there, and the task that acts."""
        caps = self.desk.capabilities
        assert caps is not None
        self.book = ExitBook(caps.order_types - {OrderType.TAKE_PROFIT}, amend=caps.amend)
        self.desk.tracker.fill_hooks.append(self._on_fill)
        self.desk.tracker.order_hooks.append(self._on_order)
        nursery.start_soon(self._act)

    def attach(self, request: OrderRequest) -> None:
        market = self.desk.markets.get(request.pair)
        self.book.attach(request, market.amount_decimals if market else None)

    async def before_exit(self, trader: str, pair: str) -> None:
        """Cancel ``trader``'s live exits on ``pair`` now (its exit or a flatten is about to be sent)."""
        await self._carry_out(self.book.before_exit(trader, pair))

    def clear(self) -> None:
        """Forget every exit (kill, stop): the desk cancels every open order anyway."""
        self.book.clear()

    def on_candle(self, candle: Candle) -> bool:
        """Follow the price; True when that asks for an action (queued for this helper's task)."""
        return self._queue(self.book.on_price(candle.pair, candle.low, candle.high))

    async def _on_fill(self, fill: Fill) -> None:
        self._queue(self.book.on_fill(fill))

    async def _on_order(self, order: Order) -> None:
        self._queue(self.book.on_order(order))

    def _queue(self, actions: ExitActions) -> bool:
        if actions:
            self._send.send_nowait(actions)
        return bool(actions)

    async def _act(self) -> None:
        async for actions in self._receive:
            await self._carry_out(actions)

    async def _carry_out(self, actions: ExitActions) -> None:
        desk = self.desk
        by_client = {order.client_id: order for order in desk.tracker.open_orders.values()}
        for client_id in actions.cancel:
            if client_id in by_client:
                await desk.tracker.cancel(by_client[client_id].id)
        for client_id, amount in actions.amend:
            order = by_client.get(client_id)
            if order is None:
                continue
            try:
                await desk.exchange.amend_order(order.id, amount=amount)
            except ExchangeError as exc:
                desk.log.warning("exit amend failed, cancelling it", client_id=client_id, error=str(exc))
                await desk.tracker.cancel(order.id)
                self._queue(self.book.refused(client_id))
        for client_id in actions.lost:
            desk.log.warning("exit ended by the exchange", client_id=client_id)
        for exit_ in actions.place:
            await self._place(exit_)

    async def _place(self, exit_: ExitOrder) -> None:
        """Journal the exit as a request (durably, like every order), then send it."""
        desk = self.desk
        request = OrderRequest(ts=desk.runtime.now_ms(), client_id=exit_.client_id, trader=exit_.trader,
                               pair=exit_.pair, side=exit_.side, order_type=exit_.exchange_type, amount=exit_.amount,
                               trigger_price=exit_.exchange_trigger, reason=f"{exit_.kind} of {exit_.entry_client_id}")
        await desk.journal.record(request)
        await desk.journal.secure()
        try:
            order = await desk.tracker.place(client_id=exit_.client_id, trader=exit_.trader, pair=exit_.pair,
                                             side=exit_.side, order_type=exit_.exchange_type, amount=exit_.amount,
                                             trigger_price=exit_.exchange_trigger)
        except ExchangeError as exc:
            await desk.refuse(request, f"exchange: {exc}")
            self._queue(self.book.refused(exit_.client_id))
            return
        self.book.placed(exit_.client_id, order.id)
