"""The desk: one per exchange account, the only door to the exchange and the one place to stop everything.

It polls candles and keeps the recent history of every traded pair (so traders can evaluate without
asking the exchange), publishes market data and balances, creates a holder for every owned asset, passes
order requests through the ``OrderGate`` to the exchange, follows every order to a terminal state, and
journals all of it. Stopping it stops holders and traders first, then cancels every open order.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

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
    TradingState,
)
from crypy.repl import CommandRegistry
from crypy.store import Journal
from crypy.store.candle_history import load_history
from crypy.store.candles import CandleStore

from . import approval as approvals
from .actor import Actor
from .bus import Subscription, Topic
from .desk_candles import DeskCandles
from .desk_commands import DESK_COMMANDS
from .desk_exits import DeskExits
from .desk_risk import DeskRisk
from .holder import Holder
from .locks import held
from .order_gate import OrderGate
from .order_tracker import OrderTracker
from .recovery import RecoveryReport, recover
from .runtime import Runtime
from .template import Templates
from .template_memory import bad_assets
from .trader import Trader

JOURNALED_TOPICS = (Topic.PROPOSALS, Topic.DECISIONS, Topic.SIGNALS, Topic.POSITIONS, Topic.LIFECYCLE)


class Desk(Actor):
    kind = "desk"

    def __init__(self, name: str, runtime: Runtime, *, exchange: Exchange, journal: Journal, templates: Templates,
                 repl_host: str = "127.0.0.1", repl_port: int = 7100, candle_store: Path | None = None,
                 candles_pushed: bool = False) -> None:
        super().__init__(name, "", runtime, repl_host=repl_host, repl_port=repl_port)
        self.candles_pushed = candles_pushed
        """Candles come from a driver (``DeskCandles.take``, a backtest), not from polling the exchange."""
        self.candle_store = candle_store
        """Where candles are cached between runs (None: always from the exchange, as for a simulator)."""
        self.exchange = exchange
        self.journal = journal
        self.templates = templates
        self.template = templates.desk
        self.diverted = frozenset(bad_assets(self.template.memory, after_losses=self.template.risk.divert_after_losses))
        """Assets whose recent outcomes (the desk's memory) all lost: no holder's trader buys them this run."""
        self.markets: dict[str, MarketInfo] = {}
        self.history: dict[str, deque[Candle]] = {}
        self.balances = BalanceSnapshot(ts=0, account=name, balances={})
        self.candle_count = 0
        self.refusals: deque[OrderRefused] = deque(maxlen=200)
        self.exchange_errors = 0
        self.capabilities: Capabilities | None = None
        self._holder_keys: dict[str, bytes] = {}
        self.gate = OrderGate(self._holder_keys, self.template.limits, clock=trio.current_time)
        self.tracker = OrderTracker(exchange, journal, runtime.bus, self.log)
        self.tracker.fill_hooks.append(self._on_fill)
        self.tracker.order_hooks.append(self._on_order)
        self.risk = DeskRisk(self)
        self.exits = DeskExits(self)
        self.placing = trio.Lock()
        """Held while a request is checked and sent: the kill switch waits for it, so nothing is sent after."""
        self._rescheduled = trio.Event()
        self._orders_news = trio.Event()
        self.order_news = 0
        """Pushed order notices received (private WebSocket), each a reason to sync now."""
        self.news_synced = 0
        """``order_news`` when the last order sync started: the notices it has certainly taken in."""
        self._nursery: trio.Nursery | None = None
        self.candles = DeskCandles(self)
        self.recovered: RecoveryReport | None = None
        """What restart recovery found in the journal (None: a fresh journal, or a new paper account)."""

    def commands(self) -> CommandRegistry:
        return DESK_COMMANDS

    @property
    def timeframe(self) -> str:
        return self.template.market_data.timeframe

    @property
    def state(self) -> TradingState:
        return self.gate.state

    @property
    def orders(self) -> dict[str, Order]:
        return self.tracker.orders

    @property
    def open_orders(self) -> dict[str, Order]:
        return self.tracker.open_orders

    @property
    def fills(self) -> deque[Fill]:
        return self.tracker.fills

    @property
    def fill_count(self) -> int:
        return self.tracker.fill_count

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
        self._orders_news.set()
        self._orders_news = trio.Event()

    def last_price(self, pair: str) -> Decimal | None:
        candles = self.history.get(pair)
        return Decimal(repr(candles[-1].close)) if candles else None

    async def setup(self, nursery: trio.Nursery) -> None:
        bus = self.runtime.bus
        self._nursery = nursery
        self.capabilities = await patiently(self.exchange.capabilities)
        self.gate.capabilities = self.capabilities
        self.exits.start(nursery)
        self.markets = await patiently(self._tradable_markets)
        self.risk.monitor.markets = self.markets
        if self.diverted:
            self.log.info("diverting capital from assets whose recent outcomes lost", assets=sorted(self.diverted),
                          after_losses=self.template.risk.divert_after_losses)
        await self._load_history()
        self.recovered = await recover(self)
        if self.recovered is not None:
            await self.risk.set_state(self.state, "recovery", f"recovered from the journal: {self.recovered}")
        await patiently(self.refresh_balances)
        nursery.start_soon(self._serve_requests, bus.subscribe(Topic.ORDER_REQUESTS, Topic.HISTORY_REQUESTS))
        nursery.start_soon(self._journal_events, bus.subscribe(*JOURNALED_TOPICS))
        market_data, orders = self.template.market_data, self.template.orders
        if not self.candles_pushed:
            nursery.start_soon(self._every, lambda: market_data.poll_seconds, self.candles.poll)
        # Pushed candles come from an in-process exchange that pushes every order change too: no poll needed.
        nursery.start_soon(self._every, lambda: math.inf if self.candles_pushed else orders.poll_seconds,
                           self.sync_orders, lambda: self._orders_news)
        nursery.start_soon(self._watch_orders)
        nursery.start_soon(self._every, lambda: orders.balance_seconds, self.refresh_balances)
        positions = {name: ledger for name, ledger in self.gate.ledgers.items() if ledger.acquired > 0}
        for asset, balance in sorted(self.balances.balances.items()):
            markets = [m for m in self.markets.values() if asset in (m.base, m.quote)]
            taken = sum((lg.acquired for lg in positions.values() if lg.other == asset), Decimal(0))
            if balance.total - taken > 0 and markets:
                await self._spawn_holder(asset, max(balance.available - taken, Decimal(0)), markets)

    async def _load_history(self) -> None:
        """The recent candles of every pair: from the candle store plus what closed since, or all from the exchange."""
        limit = self.template.market_data.history
        store = None if self.candle_store is None else await trio.to_thread.run_sync(CandleStore, self.candle_store)
        try:
            for pair in self.markets:
                if store is None:
                    fetch = functools.partial(self.exchange.candles, pair, self.timeframe, limit=limit)
                else:
                    fetch = functools.partial(load_history, self.exchange, store, pair, self.timeframe, limit)
                self.history[pair] = deque(await patiently(fetch), maxlen=limit)
        finally:
            if store is not None:
                store.close()

    async def _tradable_markets(self) -> dict[str, MarketInfo]:
        allowed = self.template.limits.allowed_pairs
        markets = {}
        for pair, market in (await self.exchange.markets()).items():
            if (not allowed or pair in allowed) and self.timeframe in await self.exchange.timeframes(pair):
                markets[pair] = market
        return markets

    async def _spawn_holder(self, asset: str, capital: Decimal, markets: list[MarketInfo]) -> None:
        """A holder for ``asset``; ``capital`` leaves out what other holders' traders hold of it (after a restart)."""
        key = approvals.new_key()
        self._holder_keys[asset] = key
        factory = functools.partial(Holder, asset, self.name, self.runtime, asset=asset, capital=capital,
                                    markets=markets, timeframe=self.timeframe, templates=self.templates, key=key,
                                    ledger_of=self.gate.ledgers.get, diverted=self.diverted)
        await self.children.start(factory)

    async def _every(self, seconds: Callable[[], float], job: Callable[[], Awaitable[None]],
                     wake: Callable[[], trio.Event] | None = None) -> None:
        """Run ``job`` every ``seconds()`` (read each round, so ``freq`` applies at once), or as soon as ``wake()``
        is set; an exchange failure is logged and the next round tries again."""
        while True:
            try:
                await job()
            except ExchangeError as exc:
                self.exchange_errors += 1
                self.log.warning("exchange call failed, retrying next round", job=job.__name__, error=str(exc))
            with trio.move_on_after(seconds()):
                await (wake or (lambda: self._rescheduled))().wait()

    async def _watch_orders(self) -> None:
        """The exchange's push feed of order news (if it has one) wakes the order sync at once; the sync itself
        reads the truth over REST, so a dropped feed only delays, never loses. One task syncs, polled or woken:
        two syncing side by side would only queue on the tracker's lock and the exchange."""
        send, receive = trio.open_memory_channel[object](256)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.exchange.watch_orders, send)
            async for _ in receive:
                self.order_news += 1 + _drain(receive)  # the notices of one change come together: one wake-up
                self._orders_news.set()
                self._orders_news = trio.Event()

    async def sync_orders(self) -> None:
        self.news_synced = self.order_news
        await self.tracker.sync()

    async def refresh_balances(self) -> None:
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
        """Check and send one request; holding ``placing`` lets the kill switch wait for a send in flight."""
        async with held(self.placing):
            await self._check_and_send(request)

    async def _check_and_send(self, request: OrderRequest) -> None:
        """Journal the request durably before sending it: after a crash, every order the exchange may have is
        one the journal asked for, so recovery can look it up by client id."""
        await self.journal.record(request)
        last = self.last_price(request.pair)
        if last is None:
            reason: str | None = f"no price yet for {request.pair}"
        else:
            reason = self.gate.check(request, market=self.markets.get(request.pair), last_price=last,
                                     now_ms=self.runtime.now_ms())
        if reason is not None:
            await self.refuse(request, reason)
            return
        ledger = self.gate.ledgers[request.trader]
        if ledger.spends(request.side):
            self.exits.attach(request)
        else:  # the trader's own exit: its stop-loss holds the funds on the exchange, so it goes first
            await self.exits.before_exit(request.trader, request.pair)
        await self.journal.secure()
        try:
            await self.tracker.place(
                client_id=request.client_id, trader=request.trader, pair=request.pair, side=request.side,
                order_type=request.order_type, amount=request.amount, price=request.price,
                trigger_price=request.trigger_price, trailing_offset=request.trailing_offset,
                trailing_percent=request.trailing_percent, post_only=request.post_only,
                time_in_force=request.time_in_force, expire_ts=request.expire_ts)
        except (OrderRejected, ExchangeError) as exc:
            self.gate.on_order_closed(request.trader, request.client_id)
            self.exits.book.refused(request.client_id)
            await self.refuse(request, f"exchange: {exc}")

    async def refuse(self, request: OrderRequest, reason: str) -> None:
        refusal = OrderRefused(ts=self.runtime.now_ms(), client_id=request.client_id, trader=request.trader,
                               pair=request.pair, reason=reason)
        self.refusals.append(refusal)
        self.log.warning("order refused", trader=request.trader, client_id=request.client_id, reason=reason)
        await self.journal.record(refusal)
        await self.runtime.bus.publish(Topic.REFUSALS, refusal)

    async def _cancel(self, request: CancelRequest) -> None:
        for order in list(self.open_orders.values()):
            if order.client_id == request.client_id and order.trader == request.trader:
                await self.tracker.cancel(order.id)

    async def cancel(self, order_id: str) -> None:
        await self.tracker.cancel(order_id)

    async def _on_fill(self, fill: Fill) -> None:
        self.gate.on_fill(fill)

    async def _on_order(self, order: Order) -> None:
        if order.status.is_terminal:
            self.gate.on_order_closed(order.trader, order.client_id)

    async def _journal_events(self, sub: Subscription) -> None:
        with sub:
            async for event in sub:
                await self.journal.record(event)

    async def on_stop(self) -> None:
        """Halt, cancel every open order of the account, follow them to their end, and flush the journal.

        Halting first refuses requests still queued; the kill switch's sweep waits out a send already in
        flight, so no order can reach the exchange after it. With ``flatten_on_shutdown`` the traders'
        positions are given back at market first, and what has not filled by the deadline is cancelled.
        """
        risk = self.template.risk
        await self.risk.halt_and_cancel_all()
        if risk.flatten_on_shutdown:
            await self.risk.flatten_all(risk.shutdown_deadline_seconds)
        await self.risk.follow_to_the_end(seconds=2.0)
        await self.refresh_balances()
        await self.journal.flush()

    async def kill(self, *, flatten: bool) -> None:
        await self.risk.kill(flatten=flatten)

    async def resume(self) -> None:
        await self.risk.resume()


def _drain(receive: trio.MemoryReceiveChannel[object]) -> int:
    """Take every notice already queued, without waiting; returns how many."""
    count = 0
    while True:
        try:
            receive.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):  # a closed feed ends the loop at its next receive
            return count
        count += 1
