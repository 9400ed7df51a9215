"""The trader: one per pair and holder. It evaluates, proposes, and once funded, trades.

Life of a trader: ask the desk for the pair's history; simulate every strategy of its template over it;
propose the best to its holder; if refused, retire (the holder may create a fresh trader later); if
accepted, feed the same strategy each closed candle and move the holder's capital in or out of the pair
with market orders carrying the holder's approval. The decision rule is shared with the simulation
(``Strategy.live`` runs ``Strategy.targets`` on a window), so live trading does what was evaluated.
"""

from __future__ import annotations

import itertools
from collections import deque
from decimal import ROUND_DOWN, Decimal

import msgspec
import numpy as np
import trio

from crypy.plugins import evaluate_grid, load_strategy, strategy_class
from crypy.plugins.metrics import periods_per_year
from crypy.plugins.strategy import LiveStrategy
from crypy.protocols import (
    Approval,
    Candle,
    CandleBatch,
    Decision,
    Fill,
    HistoryRequest,
    MarketInfo,
    Order,
    OrderRefused,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Proposal,
    Side,
    Signal,
)
from crypy.repl import CommandRegistry

from .actor import Actor
from .bus import Subscription, Topic
from .ledger import CapitalLedger
from .runtime import Runtime
from .template import TraderTemplate
from .trader_commands import TRADER_COMMANDS

HISTORY_TIMEOUT = 30.0
SIZING_MARGIN = Decimal("0.01")
MANUAL_ORDER_TIMEOUT = 10.0


class Trader(Actor):
    kind = "trader"

    def __init__(self, name: str, parent: str, runtime: Runtime, *, market: MarketInfo, holder_asset: str,
                 timeframe: str, template: TraderTemplate, ledger: CapitalLedger | None = None) -> None:
        super().__init__(name, parent, runtime)
        self.market = market
        self.timeframe = timeframe
        self.template = template
        other = market.base if holder_asset == market.quote else market.quote
        self.ledger = ledger or CapitalLedger(asset=holder_asset, other=other, base=market.base)
        """Empty for a new trader; what the desk's journal says this trader held, after a restart."""
        self.phase = "starting"
        self.proposal: Proposal | None = None
        self.approval: Approval | None = None
        self.allocation = Decimal(0)
        self.live: LiveStrategy | None = None
        self.target: int | None = None
        self.last_candle: Candle | None = None
        self.candles: deque[Candle] = deque(maxlen=template.evaluation.history)
        """The candles the live strategy has seen, so it can be restarted with new params on the same window."""
        self.paused = False
        self.signals: deque[Signal] = deque(maxlen=200)
        self.open_orders: dict[str, Order] = {}
        self.refusals: deque[OrderRefused] = deque(maxlen=50)
        self._sat_out_target: int | None = None
        """A target the trader stops acting on (its order was refused, or an exit closed the position) until the
        strategy's target changes: otherwise it would ask again, or re-enter, on every candle."""
        self._seq = itertools.count(1)
        self._decided = trio.Event()
        self._decision: Decision | None = None
        self._history_ready = trio.Event()
        self._history: CandleBatch | None = None

    @property
    def prompt(self) -> str:
        return f"trade {self.market.pair}@{self.ledger.asset}> "

    def commands(self) -> CommandRegistry:
        return TRADER_COMMANDS

    @property
    def in_position(self) -> bool:
        """Holding enough of the other asset that giving it back would be a valid order."""
        return self._exit_amount() > 0

    def concerns(self, event: object) -> bool:
        """This trader's own events, and candles of its pair."""
        trader = getattr(event, "trader", None)
        if trader is not None:
            return trader == self.name
        return getattr(event, "pair", None) == self.market.pair

    async def setup(self, nursery: trio.Nursery) -> None:
        bus = self.runtime.bus
        nursery.start_soon(self._trade, bus.subscribe(Topic.CANDLES))
        nursery.start_soon(self._follow, bus.subscribe(Topic.HISTORY, Topic.DECISIONS, Topic.ORDERS, Topic.FILLS,
                                                       Topic.REFUSALS))

    async def _follow(self, sub: Subscription) -> None:
        """Route the reliable replies addressed to this trader."""
        with sub:
            async for event in sub:
                if isinstance(event, CandleBatch) and event.request_id.startswith(self.name + "#"):
                    self._history = event
                    self._history_ready.set()
                elif isinstance(event, Decision) and self.proposal and event.proposal_id == self.proposal.id:
                    self._decision = event
                    self._decided.set()
                elif isinstance(event, Fill) and event.trader == self.name:
                    await self._on_fill(event)
                elif isinstance(event, Order) and event.trader == self.name:
                    self._on_order(event)
                elif isinstance(event, OrderRefused) and event.client_id in self.open_orders:
                    self.refusals.append(event)
                    self.open_orders.pop(event.client_id, None)
                    self._sat_out_target = self.target
                    self.log.warning("order refused", client_id=event.client_id, reason=event.reason)

    async def _trade(self, sub: Subscription) -> None:
        with sub:
            history = await self._request_history()
            self.phase = "evaluating"
            best = self.evaluate(history)
            if best is None:
                self.log.info("no strategy could be evaluated", candles=len(history))
                self.phase = "retired"
                self.request_stop()
                return
            if not await self._propose(*best):
                self.phase = "retired"
                self.request_stop()
                return
            self._start_live(history)
            await self._rebalance()
            async for candle in sub:
                if not isinstance(candle, Candle) or candle.pair != self.market.pair:
                    continue
                if candle.timeframe != self.timeframe or (self.last_candle and candle.ts <= self.last_candle.ts):
                    continue
                await self._on_candle(candle)

    async def _request_history(self) -> CandleBatch:
        self._history_ready = trio.Event()
        request = HistoryRequest(ts=self.runtime.now_ms(), request_id=f"{self.name}#{next(self._seq)}",
                                 requester=self.name, pair=self.market.pair, timeframe=self.timeframe,
                                 limit=self.template.evaluation.history)
        await self.runtime.bus.publish(Topic.HISTORY_REQUESTS, request)
        with trio.fail_after(HISTORY_TIMEOUT):
            await self._history_ready.wait()
        assert self._history is not None
        return self._history

    async def reevaluate(self) -> tuple[str, dict[str, int | float], dict[str, float]] | None:
        """Simulate the template's strategies again on the desk's current history (what ``evaluate`` shows)."""
        return self.evaluate(await self._request_history())

    def evaluate(self, history: CandleBatch) -> tuple[str, dict[str, int | float], dict[str, float]] | None:
        """The best (strategy, params, metrics) over the history, by simulated total return."""
        open_, close = np.asarray(history.open), np.asarray(history.close)
        exits = {}  # the exits live trading will set (long positions only), so the evaluation counts them too
        if self.ledger.holder_holds_quote and (self.template.exits.stop_loss or self.template.exits.take_profit):
            exits = {"high": np.asarray(history.high), "low": np.asarray(history.low),
                     "stop_loss": self.template.exits.stop_loss, "take_profit": self.template.exits.take_profit}
        best: tuple[str, dict[str, int | float], dict[str, float]] | None = None
        for choice in self.template.strategies:
            cls = strategy_class(choice.name)
            if len(close) < max(cls(**params).warmup for params in choice.grid) + 2:
                continue
            ranked = evaluate_grid(cls, choice.grid, open_, close, fee=float(self.market.taker_fee),
                                   spread=self.template.evaluation.spread,
                                   holder_holds_quote=self.ledger.holder_holds_quote, **exits,
                                   periods_per_year=periods_per_year(self.timeframe))
            params, metrics = ranked[0]
            if best is None or metrics.total_return > best[2]["total_return"]:
                best = (choice.name, params, metrics.as_dict())
        return best

    async def _propose(self, strategy: str, params: dict[str, int | float], metrics: dict[str, float]) -> bool:
        self.proposal = Proposal(ts=self.runtime.now_ms(), id=f"{self.name}#p{next(self._seq)}", trader=self.name,
                                 holder=self.parent, pair=self.market.pair, strategy=strategy,
                                 params={k: float(v) for k, v in params.items()}, metrics=metrics)
        self.phase = "proposed"
        self.log.info("proposal", strategy=strategy, params=params, total_return=round(metrics["total_return"], 4),
                      trades=int(metrics["trades"]))
        await self.runtime.bus.publish(Topic.PROPOSALS, self.proposal)
        await self._decided.wait()
        decision = self._decision
        assert decision is not None
        if not decision.accepted or decision.approval is None:
            self.log.info("proposal refused, retiring", reason=decision.reason)
            return False
        self.approval, self.allocation = decision.approval, decision.allocation
        self.phase = "trading"
        return True

    def _start_live(self, history: CandleBatch) -> None:
        assert self.proposal is not None
        self.live = load_strategy(self.proposal.strategy, self.proposal.params).live()
        for candle in history.candles():
            self.target = self.live.update(candle.close)
            self.last_candle = candle
            self.candles.append(candle)

    async def set_params(self, params: dict[str, float]) -> None:
        """Restart the live strategy with ``params`` on the candles seen so far, then trade to its target.

        Raises ValueError (from the strategy) for unknown or invalid params, leaving the old ones running.
        """
        if self.proposal is None or self.live is None:
            raise ValueError(f"{self.name} is not trading yet (phase {self.phase})")
        live = load_strategy(self.proposal.strategy, params).live()
        target = None
        for candle in self.candles:
            target = live.update(candle.close)
        self.live, self.target = live, target
        self.proposal = msgspec.structs.replace(self.proposal, params=params)
        self.log.info("strategy restarted with new params", params=params, target=target)
        await self._rebalance()

    async def set_paused(self, paused: bool) -> None:
        """Pausing keeps following the strategy (signals) but sends no automatic order until resumed."""
        self.paused = paused
        if not paused:
            self._sat_out_target = None
            await self._rebalance()

    def close_order(self) -> tuple[Side, Decimal]:
        """The order that gives back everything this trader holds (amount 0 when it holds too little)."""
        side = Side.SELL if self.ledger.holder_holds_quote else Side.BUY
        return side, self._exit_amount()

    async def _on_candle(self, candle: Candle) -> None:
        assert self.live is not None and self.proposal is not None
        self.last_candle = candle
        self.candles.append(candle)
        target = self.live.update(candle.close)
        if target is None:
            return
        if target != self.target:
            signal = Signal(ts=self.runtime.now_ms(), trader=self.name, pair=self.market.pair,
                            strategy=self.proposal.strategy, direction=target, tags=("crossover",))
            self.signals.append(signal)
            await self.runtime.bus.publish(Topic.SIGNALS, signal)
            self.log.info("signal", pair=self.market.pair, target=target, close=candle.close)
        self.target = target
        await self._rebalance()

    def _wants_out_of_holder_asset(self) -> bool:
        """The target says: hold the other asset (base for a quote holder, quote for a base holder)."""
        return self.target == (1 if self.ledger.holder_holds_quote else 0)

    async def _rebalance(self) -> None:
        """Send the one order that brings the position in line with the target, if any is needed.

        After a refusal the trader waits for its target to change rather than asking again on every candle.
        """
        if self.paused or self.open_orders or self.target is None or self.last_candle is None:
            return
        if self._sat_out_target is not None:
            if self.target == self._sat_out_target:
                return
            self._sat_out_target = None
        wants_out = self._wants_out_of_holder_asset()
        if wants_out and not self.in_position:
            amount = self._entry_amount()
            side = Side.BUY if self.ledger.holder_holds_quote else Side.SELL
            reason = "entry"
        elif not wants_out and self.in_position:
            amount = self._exit_amount()
            side = Side.SELL if self.ledger.holder_holds_quote else Side.BUY
            reason = "exit"
        else:
            return
        if amount > 0:
            await self.send_order(side, amount, reason=reason)

    def _price_with_costs(self) -> Decimal:
        assert self.last_candle is not None
        spread = Decimal(str(self.template.evaluation.spread))
        return Decimal(repr(self.last_candle.close)) * (1 + spread) * (1 + Decimal(self.market.taker_fee)) * (
            1 + SIZING_MARGIN)

    def _round_amount(self, amount: Decimal) -> Decimal:
        """Round down to the market's precision; 0 when below its minimums (an order it would refuse)."""
        step = Decimal(1).scaleb(-self.market.amount_decimals)
        amount = amount.quantize(step, rounding=ROUND_DOWN)
        assert self.last_candle is not None
        if amount < Decimal(self.market.min_amount):
            return Decimal(0)
        if amount * Decimal(repr(self.last_candle.close)) < Decimal(self.market.min_cost):
            return Decimal(0)
        return amount

    def _entry_amount(self) -> Decimal:
        budget = self.allocation - self.ledger.committed
        if self.ledger.holder_holds_quote:
            return self._round_amount(budget / self._price_with_costs())
        return self._round_amount(budget)

    def _exit_amount(self) -> Decimal:
        if self.last_candle is None:
            return Decimal(0)
        if self.ledger.holder_holds_quote:
            return self._round_amount(self.ledger.acquired)
        return self._round_amount(self.ledger.acquired / self._price_with_costs())

    async def send_order(self, side: Side, amount: Decimal, *, reason: str, price: Decimal | None = None) -> str:
        """Ask the desk for an order under this trader's approval; returns its client id."""
        client_id = f"{self.name}-{self.runtime.run_id}-{next(self._seq)}"
        stop_loss, take_profit = self._exits() if reason == "entry" else (None, None)
        request = OrderRequest(ts=self.runtime.now_ms(), client_id=client_id, trader=self.name, pair=self.market.pair,
                               side=side, order_type=OrderType.LIMIT if price else OrderType.MARKET, amount=amount,
                               price=price, approval=self.approval, reason=reason, stop_loss=stop_loss,
                               take_profit=take_profit)
        self.open_orders[client_id] = Order(ts=request.ts, id="", client_id=client_id, trader=self.name,
                                            pair=request.pair, side=side, order_type=request.order_type,
                                            amount=amount, price=price, status=OrderStatus.PENDING)
        self.log.info("order request", side=side, amount=str(amount), reason=reason)
        await self.runtime.bus.publish(Topic.ORDER_REQUESTS, request)
        return client_id

    def _exits(self) -> tuple[Decimal | None, Decimal | None]:
        """The template's stop-loss and take-profit prices around the last close, for a long entry."""
        exits = self.template.exits
        if not self.ledger.holder_holds_quote or self.last_candle is None:
            return None, None
        close, step = Decimal(repr(self.last_candle.close)), Decimal(1).scaleb(-self.market.price_decimals)

        def at(fraction: float | None, sign: int) -> Decimal | None:
            return None if fraction is None else (close * (1 + sign * Decimal(repr(fraction)))).quantize(step)

        return at(exits.stop_loss, -1), at(exits.take_profit, 1)

    async def manual_order(self, side: Side, amount: Decimal, price: Decimal | None, *,
                           reason: str) -> Order | OrderRefused:
        """A human's order, under this trader's approval and through the desk's gate like any other: the
        desk's first answer (the order as placed, or the refusal). TimeoutError when the desk says nothing."""
        with self.runtime.bus.subscribe(Topic.ORDERS, Topic.REFUSALS) as answers:
            client_id = await self.send_order(side, amount, reason=reason, price=price)
            with trio.fail_after(MANUAL_ORDER_TIMEOUT):
                async for event in answers:
                    if isinstance(event, Order | OrderRefused) and event.client_id == client_id:
                        return event
        raise TimeoutError("the desk stopped answering")

    def _on_order(self, order: Order) -> None:
        """Follow this trader's own orders; its exits (the desk's stop-loss and take-profit) are the desk's."""
        if order.client_id not in self.open_orders:
            return
        if order.status.is_terminal:
            self.open_orders.pop(order.client_id, None)
        else:
            self.open_orders[order.client_id] = order

    async def _on_fill(self, fill: Fill) -> None:
        pnl = self.ledger.apply(fill)
        if fill.client_id not in self.open_orders and not self.in_position:
            self._sat_out_target = self.target  # stopped out (or taken profit): wait for the next signal
        self.log.info("position", holds=f"{self.ledger.acquired} {self.ledger.other}",
                      realized=f"{pnl:.8f} {self.ledger.asset}", total_realized=f"{self.ledger.realized:.8f}")
        await self.runtime.bus.publish(Topic.POSITIONS, self.position())

    def position(self) -> Position:
        return Position(ts=self.runtime.now_ms(), trader=self.name, pair=self.market.pair, asset=self.ledger.other,
                        amount=self.ledger.acquired, realized_pnl=self.ledger.realized, pnl_asset=self.ledger.asset)
