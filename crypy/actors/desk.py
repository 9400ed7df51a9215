"""The desk: one per exchange account, the only door to the exchange and the one place to stop everything.

It polls candles and keeps the recent history of every traded pair (so traders can evaluate without
asking the exchange), publishes market data and balances, creates a holder for every owned asset, passes
order requests through the ``OrderGate`` to the exchange, follows every order to a terminal state, and
journals all of it. Stopping it stops holders and traders first, then cancels every open order.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, Decimal

import msgspec
import trio

from crypy.exchanges import Capabilities, Exchange, ExchangeError, OrderRejected, patiently
from crypy.protocols import (
    BalanceSnapshot,
    CancelRequest,
    Candle,
    CandleBatch,
    Fill,
    HistoryRequest,
    MarketInfo,
    Order,
    OrderRefused,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from crypy.repl import CommandRegistry
from crypy.repl.tables import format_utc
from crypy.store import Journal

from . import approval as approvals
from .actor import Actor
from .bus import Subscription, Topic
from .desk_commands import DESK_COMMANDS
from .holder import Holder
from .order_gate import OrderGate, TraderLedger
from .runtime import Runtime
from .template import Templates
from .trader import Trader

STOP_SWEEPS = 5
FLATTEN_MARGIN = Decimal("1.01")
"""Buying back the base with a quote balance: leave room for the price moving before the order fills."""


JOURNALED_TOPICS = (Topic.PROPOSALS, Topic.DECISIONS, Topic.SIGNALS, Topic.POSITIONS, Topic.LIFECYCLE)


class Desk(Actor):
    kind = "desk"

    def __init__(self, name: str, runtime: Runtime, *, exchange: Exchange, journal: Journal, templates: Templates,
                 repl_host: str = "127.0.0.1", repl_port: int = 7100) -> None:
        super().__init__(name, "", runtime, repl_host=repl_host, repl_port=repl_port)
        self.exchange = exchange
        self.journal = journal
        self.templates = templates
        self.template = templates.desk
        self.markets: dict[str, MarketInfo] = {}
        self.history: dict[str, deque[Candle]] = {}
        self.balances = BalanceSnapshot(ts=0, account=name, balances={})
        self.orders: dict[str, Order] = {}
        self.open_orders: dict[str, Order] = {}
        self.fills: deque[Fill] = deque(maxlen=1000)
        self.fill_count = 0
        self.candle_count = 0
        self.refusals: deque[OrderRefused] = deque(maxlen=200)
        self.halted = False
        self.exchange_errors = 0
        self.capabilities: Capabilities | None = None
        self._holder_keys: dict[str, bytes] = {}
        self.gate = OrderGate(self._holder_keys, self.template.limits)
        self._client_traders: dict[str, str] = {}
        self._fill_cursor = 0
        self._booked: dict[str, Decimal] = {}
        self._sync_lock = trio.Lock()
        self._placing = trio.Lock()
        self._rescheduled = trio.Event()
        self._flatten_seq = 0
        self._nursery: trio.Nursery | None = None

    def commands(self) -> CommandRegistry:
        return DESK_COMMANDS

    @property
    def timeframe(self) -> str:
        return self.template.market_data.timeframe

    @property
    def journal_path(self) -> str:
        """Where the journal writes, for read-only views (``journal``); the writer task owns the file."""
        return str(self.journal.path)

    @property
    def nursery(self) -> trio.Nursery:
        """The desk's own task nursery, for work a REPL command must outlive (``kill``)."""
        if self._nursery is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._nursery

    def holders(self) -> list[Holder]:
        return [h for h in map(self.children.actor, self.children.names) if isinstance(h, Holder)]

    def traders(self) -> list[Trader]:
        """Every live trader of every holder of this desk."""
        return [t for h in self.holders() for t in map(h.children.actor, h.children.names) if isinstance(t, Trader)]

    def set_poll_seconds(self, seconds: float) -> None:
        """Change the market-data poll period; the pollers wake now rather than after their old period."""
        self.template.market_data.poll_seconds = seconds
        self._rescheduled.set()
        self._rescheduled = trio.Event()

    def last_price(self, pair: str) -> Decimal | None:
        candles = self.history.get(pair)
        return Decimal(repr(candles[-1].close)) if candles else None

    async def setup(self, nursery: trio.Nursery) -> None:
        bus = self.runtime.bus
        self._nursery = nursery
        self.capabilities = await patiently(self.exchange.capabilities)
        self.gate.capabilities = self.capabilities
        self.markets = await patiently(self._tradable_markets)
        for pair in self.markets:
            candles = await patiently(functools.partial(self.exchange.candles, pair, self.timeframe,
                                                         limit=self.template.market_data.history))
            self.history[pair] = deque(candles, maxlen=self.template.market_data.history)
        await patiently(self._refresh_balances)
        nursery.start_soon(self._serve_requests, bus.subscribe(Topic.ORDER_REQUESTS, Topic.HISTORY_REQUESTS))
        nursery.start_soon(self._journal_events, bus.subscribe(*JOURNALED_TOPICS))
        market_data, orders = self.template.market_data, self.template.orders
        nursery.start_soon(self._every, lambda: market_data.poll_seconds, self._poll_candles)
        nursery.start_soon(self._every, lambda: orders.poll_seconds, self._sync_orders)
        nursery.start_soon(self._every, lambda: orders.balance_seconds, self._refresh_balances)
        for asset, balance in sorted(self.balances.balances.items()):
            markets = [m for m in self.markets.values() if asset in (m.base, m.quote)]
            if balance.total > 0 and markets:
                await self._spawn_holder(asset, balance.available, markets)

    async def _tradable_markets(self) -> dict[str, MarketInfo]:
        allowed = self.template.limits.allowed_pairs
        markets = {}
        for pair, market in (await self.exchange.markets()).items():
            if (not allowed or pair in allowed) and self.timeframe in await self.exchange.timeframes(pair):
                markets[pair] = market
        return markets

    async def _spawn_holder(self, asset: str, capital: Decimal, markets: list[MarketInfo]) -> None:
        key = approvals.new_key()
        self._holder_keys[asset] = key
        factory = functools.partial(Holder, asset, self.name, self.runtime, asset=asset, capital=capital,
                                    markets=markets, timeframe=self.timeframe, templates=self.templates, key=key)
        await self.children.start(factory)

    async def _every(self, seconds: Callable[[], float], job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` every ``seconds()`` (read each round, so ``freq`` applies at once); an exchange failure
        is logged and the next round tries again."""
        while True:
            try:
                await job()
            except ExchangeError as exc:
                self.exchange_errors += 1
                self.log.warning("exchange call failed, retrying next round", job=job.__name__, error=str(exc))
            with trio.move_on_after(seconds()):
                await self._rescheduled.wait()

    async def _poll_candles(self) -> None:
        for pair, cached in self.history.items():
            since = cached[-1].ts + 1 if cached else None
            for candle in await self.exchange.candles(pair, self.timeframe, since_ms=since):
                if cached and candle.ts <= cached[-1].ts:
                    continue
                cached.append(candle)
                self.candle_count += 1
                self.log.info("candle", pair=pair, at=format_utc(candle.ts), close=candle.close,
                              volume=round(candle.volume, 4))
                await self.runtime.bus.publish(Topic.CANDLES, candle)

    async def _refresh_balances(self) -> None:
        balances = await self.exchange.balances()
        self.balances = BalanceSnapshot(ts=self.runtime.now_ms(), account=self.name, balances=balances)
        await self.journal.record(self.balances)
        await self.runtime.bus.publish(Topic.BALANCES, self.balances)

    async def _serve_requests(self, sub: Subscription) -> None:
        with sub:
            async for request in sub:
                if isinstance(request, HistoryRequest):
                    await self._answer_history(request)
                elif isinstance(request, OrderRequest):
                    await self._place(request)
                elif isinstance(request, CancelRequest):
                    await self._cancel(request)

    async def _answer_history(self, request: HistoryRequest) -> None:
        candles = list(self.history.get(request.pair, ()))[-request.limit:]
        batch = CandleBatch.from_candles(request.pair, self.timeframe, candles, ts=self.runtime.now_ms(),
                                         request_id=request.request_id)
        await self.runtime.bus.publish(Topic.HISTORY, batch)

    async def _place(self, request: OrderRequest) -> None:
        """Check and send one request; holding ``_placing`` lets the stop hook wait for a send in flight."""
        async with self._placing:
            await self._check_and_send(request)

    async def _check_and_send(self, request: OrderRequest) -> None:
        await self.journal.record(request)
        last = self.last_price(request.pair)
        if self.halted:
            reason: str | None = "the desk is halted"
        elif last is None:
            reason = f"no price yet for {request.pair}"
        else:
            reason = self.gate.check(request, market=self.markets.get(request.pair), last_price=last,
                                     now_ms=self.runtime.now_ms())
        if reason is not None:
            await self._refuse(request, reason)
            return
        # Known before the order is sent: at replay speed its fill can be seen before the exchange's answer is.
        self._client_traders[request.client_id] = request.trader
        try:
            order = await self.exchange.place_order(
                client_id=request.client_id, pair=request.pair, side=request.side, order_type=request.order_type,
                amount=request.amount, price=request.price, trigger_price=request.trigger_price,
                trailing_offset=request.trailing_offset, trailing_percent=request.trailing_percent,
                post_only=request.post_only, time_in_force=request.time_in_force, expire_ts=request.expire_ts)
        except (OrderRejected, ExchangeError) as exc:
            self.gate.on_order_closed(request.trader, request.client_id)
            await self._refuse(request, f"exchange: {exc}")
            return
        await self._order_update(msgspec.structs.replace(order, trader=request.trader))

    async def _refuse(self, request: OrderRequest, reason: str) -> None:
        refusal = OrderRefused(ts=self.runtime.now_ms(), client_id=request.client_id, trader=request.trader,
                               pair=request.pair, reason=reason)
        self.refusals.append(refusal)
        self.log.warning("order refused", trader=request.trader, client_id=request.client_id, reason=reason)
        await self.journal.record(refusal)
        await self.runtime.bus.publish(Topic.REFUSALS, refusal)

    async def _cancel(self, request: CancelRequest) -> None:
        for order in list(self.open_orders.values()):
            if order.client_id == request.client_id and order.trader == request.trader:
                await self.cancel(order.id)

    async def cancel(self, order_id: str) -> None:
        """Cancel an open order; an order that finished meanwhile is simply followed to its end."""
        try:
            await self.exchange.cancel_order(order_id)
        except ExchangeError as exc:
            self.log.warning("cancel failed", order_id=order_id, error=str(exc))
        await self._sync_orders()

    async def _order_update(self, order: Order) -> None:
        """Record a new state of an order, publish it, and forget it from the open set once finished.

        A state is published only as far as the order's fills are booked. Fills and order states are two
        questions to the exchange, and a fill can happen between them (or before the exchange even answers
        the order): reporting "filled" early would let a trader and the gate think the position is still
        there, and sell it twice. A known order then keeps its last state until the next sync books its
        fills; a new one is recorded as pending.
        """
        booked = self._booked.get(order.id, Decimal(0))
        if order.filled > booked:
            if order.id in self.orders:
                return
            order = msgspec.structs.replace(order, status=OrderStatus.PENDING, filled=booked, avg_price=None,
                                            fee=Decimal(0), closed=0)
        self.orders[order.id] = order
        if order.status.is_terminal:
            self.open_orders.pop(order.id, None)
            self.gate.on_order_closed(order.trader, order.client_id)
        else:
            self.open_orders[order.id] = order
        self.log.info("order", id=order.id, trader=order.trader, side=order.side, type=order.order_type,
                      amount=str(order.amount), status=order.status, filled=str(order.filled))
        await self.journal.record(order)
        await self.runtime.bus.publish(Topic.ORDERS, order)

    async def _sync_orders(self) -> None:
        """New fills first, then the status of every open order, so a trader sees its fill before "filled".

        The poller, a cancel and the stop hook all sync; the lock makes sure no two read the same fills.
        """
        async with self._sync_lock:
            await self._sync_fills_and_orders()

    async def _sync_fills_and_orders(self) -> None:
        """New fills first (booked per order), then every open order's state (see ``_order_update``)."""
        fills, self._fill_cursor = await self.exchange.fills_since(self._fill_cursor)
        for fill in fills:
            fill = msgspec.structs.replace(fill, trader=self._client_traders.get(fill.client_id, ""))
            self._booked[fill.order_id] = self._booked.get(fill.order_id, Decimal(0)) + fill.amount
            self.gate.on_fill(fill)
            self.fills.append(fill)
            self.fill_count += 1
            self.log.info("fill", trader=fill.trader, side=fill.side, amount=str(fill.amount), price=str(fill.price),
                          fee=f"{fill.fee} {fill.fee_asset}")
            await self.journal.record(fill)
            await self.runtime.bus.publish(Topic.FILLS, fill)
        for known in list(self.open_orders.values()):
            current = await self.exchange.order(known.id)
            if (current.status, current.filled) != (known.status, known.filled):
                await self._order_update(msgspec.structs.replace(current, trader=known.trader))

    async def _journal_events(self, sub: Subscription) -> None:
        with sub:
            async for event in sub:
                await self.journal.record(event)

    async def on_stop(self) -> None:
        """Halt, cancel every open order of the account, follow them to their end, and flush the journal.

        Halting first refuses requests still queued; taking ``_placing`` waits out a send already in flight,
        so no order can reach the exchange after the cancel sweep. Sweeps repeat while orders remain
        (a cancel can race a fill, or an exchange can answer late).
        """
        await self._halt_and_cancel_all()
        await self._refresh_balances()
        await self.journal.flush()

    async def _halt_and_cancel_all(self) -> None:
        self.halted = True
        async with self._placing:
            pass
        for _ in range(STOP_SWEEPS):
            still_open = await self.exchange.open_orders()
            if not still_open:
                break
            for order in still_open:
                await self.cancel(order.id)
        for _ in range(STOP_SWEEPS):  # until every tracked order is seen to its end, fills included
            await self._sync_orders()
            if not self.open_orders:
                break
            await trio.sleep(0.1)

    async def kill(self, *, flatten: bool) -> None:
        """The emergency stop: halt, cancel every open order of the account, and with ``flatten`` stop the
        traders and give back at market what each still holds. The desk keeps running (``resume``)."""
        self.log.warning("kill: halting and cancelling every open order", flatten=flatten)
        await self._halt_and_cancel_all()
        if flatten:
            for holder in self.holders():
                await holder.children.stop_all(holder.grace)
            for trader, ledger in list(self.gate.ledgers.items()):
                await self._flatten(trader, ledger)
            await self._sync_orders()
        await self._refresh_balances()

    async def _flatten(self, trader: str, ledger: TraderLedger) -> None:
        """A market order, bypassing the gate (the desk is halted), that gives back what ``trader`` acquired."""
        pair = ledger.pair
        market, last = self.markets.get(pair), self.last_price(pair)
        if market is None or last is None or ledger.acquired <= 0:
            return
        step = Decimal(1).scaleb(-market.amount_decimals)
        if ledger.holder_holds_quote:
            side, amount = Side.SELL, ledger.acquired
        else:
            side, amount = Side.BUY, ledger.acquired / (last * (1 + Decimal(market.taker_fee)) * FLATTEN_MARGIN)
        amount = amount.quantize(step, rounding=ROUND_DOWN)
        if amount < Decimal(market.min_amount) or amount * last < Decimal(market.min_cost):
            self.log.warning("flatten: too little to sell", trader=trader, amount=str(amount))
            return
        self._flatten_seq += 1
        client_id = f"{trader}-flatten-{self._flatten_seq}"
        try:
            order = await self.exchange.place_order(client_id=client_id, pair=pair, side=side,
                                                    order_type=OrderType.MARKET, amount=amount)
        except ExchangeError as exc:
            self.log.error("flatten order failed", trader=trader, error=str(exc))
            return
        self._client_traders[client_id] = trader
        await self._order_update(msgspec.structs.replace(order, trader=trader))

    def resume(self) -> None:
        self.log.warning("resume: trading allowed again")
        self.halted = False
