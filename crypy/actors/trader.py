"""The trader: one per pair and holder. It evaluates, proposes, and once funded, trades.

Life of a trader: ask the desk for the pair's history; simulate every strategy of its template over it
(``trader_evaluation``); propose the best to its holder; if refused, retire (the holder may create a fresh trader
later); if accepted, feed the same strategy each closed candle and move the holder's capital in or out of the
pair with market orders carrying the holder's approval (``trader_orders``), sized by ``trader_sizing``: the
target is the allocation times the signal's strength, reached by the template's scale-in steps. A reverse signal
exits fully; a trailing stop is watched here on closed candles, stop-loss and take-profit ride on the entry order
to the desk. A flat trader evaluates again on schedule and proposes anew when the best has changed. Live
decisions come from ``Strategy.live``, which computes exactly what the evaluation's ``Strategy.targets`` did; what
the trader decides on each candle is in ``trader_decisions``, this module carries it out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from decimal import Decimal

import msgspec
import trio

from crypy.plugins import Candles, load_strategy
from crypy.plugins.previewed import PreviewedLive
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
    Position,
    Proposal,
    Side,
    Signal,
)
from crypy.repl import CommandRegistry

from .actor import Actor
from .bus import Subscription, Topic
from .ledger import CapitalLedger
from .risk import ledger_pnl
from .runtime import Runtime
from .template import TraderTemplate
from .trader_commands import TRADER_COMMANDS
from .trader_decisions import TraderDecisions
from .trader_evaluation import Evaluated, evaluate_strategies
from .trader_orders import PlannedOrder, Reaction, TraderOrders
from .trader_sizing import (
    ScaleIn,
    TrailingStop,
)

HISTORY_TIMEOUT = 30.0


class Trader(Actor, TraderDecisions):
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
        self.evaluated: Evaluated | None = None
        self.proposal: Proposal | None = None
        self.approval: Approval | None = None
        self.allocation = Decimal(0)
        self.live: PreviewedLive | None = None
        self.target: float | None = None
        """The strategy's target exposure to the base after the last candle (0..1); None while warming up."""
        self.signal = math.nan
        """The strategy's signal on the last candle: NaN none, 0 exit, > 0 an entry of that strength."""
        self.last_candle: Candle | None = None
        self.candles: deque[Candle] = deque(maxlen=template.evaluation.history)
        """The candles the live strategy has seen, so it can be restarted with new params on the same window."""
        self.candle_count = 0
        self.scale = ScaleIn(template.trading)
        self.paused = False
        self.signals: deque[Signal] = deque(maxlen=200)
        self.orders = TraderOrders(name, market.pair, runtime)
        self.fills = 0
        self._sat_out: bool | None = None
        """A direction (wanting out of the holder's asset, or not) the trader stops acting on until the target
        turns: after a refusal, or an exit order that closed the position, it would otherwise ask again, or
        re-enter, on every candle."""
        self.trailing = TrailingStop()
        self._evaluated_at = 0
        self._decided = trio.Event()
        self._decision: Decision | None = None
        self._history_ready = trio.Event()
        self._history: CandleBatch | None = None
        self._idle = False
        """Waiting in the candle loop with nothing queued: a candle may be decided on directly (``take_candle``)."""
        self._taken: tuple[Candle, Reaction | Exception | None] | None = None
        """A candle decided on by ``take_candle`` whose reaction the candle loop carries out when it arrives."""

    @property
    def prompt(self) -> str:
        return f"trade {self.market.pair}@{self.ledger.asset}> "

    def commands(self) -> CommandRegistry:
        return TRADER_COMMANDS

    def concerns(self, event: object) -> bool:
        """This trader's own events, and candles of its pair."""
        trader = getattr(event, "trader", None)
        if trader is not None:
            return trader == self.name
        return getattr(event, "pair", None) == self.market.pair

    async def setup(self, nursery: trio.Nursery) -> None:
        bus = self.runtime.bus
        self._replies = bus.subscribe(Topic.HISTORY, Topic.DECISIONS, Topic.ORDERS, Topic.FILLS, Topic.REFUSALS)
        nursery.start_soon(self._trade, bus.subscribe(Topic.CANDLES))
        nursery.start_soon(self._follow)

    async def _follow(self) -> None:
        """Route the reliable replies addressed to this trader."""
        with self._replies:
            async for event in self._replies:
                await self._on_reply(event)

    async def _take_queued_replies(self) -> None:
        """Handle the replies already queued before a candle: the desk sends a candle after the fills it brought,
        and the trader must decide on it knowing them, whichever of its two tasks trio runs first."""
        while True:
            try:
                event = self._replies.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            await self._on_reply(event)

    async def _on_reply(self, event: object) -> None:
        if isinstance(event, CandleBatch) and event.request_id.startswith(self.name + "#"):
            self._history = event
            self._history_ready.set()
        elif isinstance(event, Decision) and self.proposal and event.proposal_id == self.proposal.id:
            self._decision = event
            self._decided.set()
        elif isinstance(event, Fill) and event.trader == self.name:
            await self._on_fill(event)
        elif isinstance(event, Order) and event.trader == self.name:
            self.orders.on_order(event)
        elif isinstance(event, OrderRefused) and self.orders.on_refused(event):
            self._sat_out = self._wants_out()
            self.log.warning("order refused", client_id=event.client_id, reason=event.reason)

    async def _trade(self, sub: Subscription) -> None:
        with sub:
            if not await self._evaluate_and_propose():
                self._retire()
                return
            await self._rebalance()
            while True:
                self._idle = not len(sub)
                try:
                    candle = await sub.receive()
                except trio.EndOfChannel:
                    return
                finally:
                    self._idle = False
                if not isinstance(candle, Candle) or candle.pair != self.market.pair:
                    continue
                if self._taken is not None and candle is self._taken[0]:
                    reaction, self._taken = self._taken[1], None
                    if isinstance(reaction, Exception):
                        raise reaction
                elif candle.timeframe != self.timeframe or (self.last_candle and candle.ts <= self.last_candle.ts):
                    continue
                else:
                    await self._take_queued_replies()
                    reaction = self._react(candle)
                await self._carry_out(reaction)
                if self._reevaluation_due(candle) and not await self._evaluate_and_propose():
                    self._retire()
                    return

    def preview(self, candles: Sequence[Candle]) -> None:
        """Let the strategy decide the pair's next candles in one go (a backtest's chunk, see ``PreviewedLive``)."""
        if self.live is not None:
            self.live.preview([c for c in candles if c.timeframe == self.timeframe
                               and (self.last_candle is None or c.ts > self.last_candle.ts)])

    def take_candle(self, candle: Candle) -> bool:
        """Decide on a closed candle handed over directly by the desk (a backtest's fast path), without waiting.

        False: done, nothing more to do. True: the decision asks for more (a target to announce, an order, a
        re-evaluation), or the trader is not idle in its candle loop; the candle then comes through the bus, and
        the trader carries out what was decided here, or decides there as usual.
        """
        if candle.timeframe != self.timeframe or (self.last_candle and candle.ts <= self.last_candle.ts):
            return False
        if not self._idle or len(self._replies):
            return True
        try:
            reaction = self._react(candle)
        except Exception as exc:  # raised again in the trader's own task, so its supervisor sees it, not the desk
            self._taken = (candle, exc)
            return True
        if reaction is None and not self._reevaluation_due(candle):
            return False
        self._taken = (candle, reaction)
        return True

    def _retire(self) -> None:
        self.phase = "retired"
        self.request_stop()

    async def _request_history(self) -> CandleBatch:
        self._history_ready = trio.Event()
        request = HistoryRequest(ts=self.runtime.now_ms(), request_id=f"{self.name}#{next(self.runtime.sequence)}",
                                 requester=self.name, pair=self.market.pair, timeframe=self.timeframe,
                                 limit=self.template.evaluation.history)
        await self.runtime.bus.publish(Topic.HISTORY_REQUESTS, request)
        with trio.fail_after(HISTORY_TIMEOUT):
            await self._history_ready.wait()
        assert self._history is not None
        return self._history

    async def reevaluate(self) -> Evaluated | None:
        """Simulate the template's strategies again on the desk's current history (what ``evaluate`` shows)."""
        return self.evaluate(await self._request_history())

    def evaluate(self, history: CandleBatch) -> Evaluated | None:
        """The best strategy, parameters and exits over the history, by simulated total return."""
        return evaluate_strategies(self.template, Candles.from_batch(history), taker_fee=float(self.market.taker_fee),
                                   holder_holds_quote=self.ledger.holder_holds_quote, timeframe=self.timeframe,
                                   seed=self.name)

    async def _evaluate_and_propose(self) -> bool:
        """Evaluate on fresh history; keep trading the same strategy, or propose the new best. False: retire."""
        self.phase = "evaluating"
        history = await self._request_history()
        best = self.evaluate(history)
        self._evaluated_at = history.times[-1] if len(history) else self.runtime.now_ms()
        if best is None:
            self.log.info("no strategy could be evaluated", candles=len(history))
            return False
        if self.proposal is not None and self.live is not None and best.strategy == self.proposal.strategy \
                and {k: float(v) for k, v in best.params.items()} == self.proposal.params:
            self.log.info("re-evaluated: the strategy being traded is still the best", strategy=best.strategy)
            self.phase = "trading"
            return True
        if not await self._propose(best):
            return False
        self.evaluated = best
        self.trailing = TrailingStop(best.exits.get("trailing_stop"))
        self._start_live(history)
        return True

    async def _propose(self, best: Evaluated) -> bool:
        self._decided = trio.Event()
        self.proposal = Proposal(ts=self.runtime.now_ms(), id=f"{self.name}#p{next(self.runtime.sequence)}",
                                 trader=self.name, holder=self.parent, pair=self.market.pair, strategy=best.strategy,
                                 params={k: float(v) for k, v in best.params.items()}, metrics=best.metrics)
        self.phase = "proposed"
        self.log.info("proposal", strategy=best.strategy, params=best.params,
                      total_return=round(best.metrics["total_return"], 4), trades=int(best.metrics["trades"]))
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
        self._warm_up(PreviewedLive(load_strategy(self.proposal.strategy, self.proposal.params).live()),
                      list(history.candles()))

    def _warm_up(self, live: PreviewedLive, candles: list[Candle]) -> None:
        """Run ``live`` from ``candles`` on; they are decided in one go, bit for bit what feeding them one by one
        gives (a trader starts on 720 candles of history)."""
        self.live = live
        self.candles.clear()
        live.preview(candles)
        for candle in candles:
            self._feed(candle)

    async def set_params(self, params: dict[str, float]) -> None:
        """Restart the live strategy with ``params`` on the candles seen so far, then trade to its target.

        Raises ValueError (from the strategy) for unknown or invalid params, leaving the old ones running.
        """
        if self.proposal is None or self.live is None:
            raise ValueError(f"{self.name} is not trading yet (phase {self.phase})")
        self._warm_up(PreviewedLive(load_strategy(self.proposal.strategy, params).live()), list(self.candles))
        self.proposal = msgspec.structs.replace(self.proposal, params=params)
        self.log.info("strategy restarted with new params", params=params, target=self.target)
        await self._rebalance()

    async def set_paused(self, paused: bool) -> None:
        """Pausing keeps following the strategy (signals) but sends no automatic order until resumed."""
        self.paused = paused
        if not paused:
            self._sat_out = None
            await self._rebalance()

    async def _carry_out(self, reaction: Reaction | None) -> None:
        if reaction is None:
            return
        if reaction.signal is not None:
            self.signals.append(reaction.signal)
            await self.runtime.bus.publish(Topic.SIGNALS, reaction.signal)
            self.log.info("signal", pair=self.market.pair, target=reaction.signal.strength,
                          close=self.last_candle.close if self.last_candle else None)
        if reaction.order is not None:
            await self._send_planned(reaction.order)

    async def _rebalance(self) -> None:
        """Send the one order that brings the position toward the target, if any is needed."""
        if (order := self._planned_order()) is not None:
            await self._send_planned(order)

    async def _send_planned(self, order: PlannedOrder) -> None:
        await self.send_order(order.side, order.amount, reason=order.reason)
        if order.reason in ("entry", "add-on"):
            self.scale.entered(self.candle_count)

    async def send_order(self, side: Side, amount: Decimal, *, reason: str) -> str:
        """Ask the desk for a market order under this trader's approval, with the exits of an entry."""
        stop_loss, take_profit = self._exits() if reason in ("entry", "add-on") else (None, None)
        self.log.info("order request", side=side, amount=str(amount), reason=reason)
        return await self.orders.send(side, amount, reason=reason, approval=self.approval, stop_loss=stop_loss,
                                      take_profit=take_profit)

    async def manual_order(self, side: Side, amount: Decimal, price: Decimal | None) -> Order | OrderRefused:
        """A human's order (see ``TraderOrders.manual``)."""
        self.log.info("manual order request", side=side, amount=str(amount), price=str(price))
        return await self.orders.manual(side, amount, price, approval=self.approval, reason="manual")

    async def _on_fill(self, fill: Fill) -> None:
        pnl = self.ledger.apply(fill)
        self.fills += 1
        if self.ledger.spends(fill.side):
            self.trailing.entered(fill.price)
        if not self.in_position:
            self.trailing.reset()
            self.scale.reset()
            if fill.client_id not in self.open_orders:
                self._sat_out = self._wants_out()  # stopped out (or taken profit): wait for the next signal
        self.log.info("position", holds=f"{self.ledger.acquired} {self.ledger.other}",
                      realized=f"{pnl:.8f} {self.ledger.asset}", total_realized=f"{self.ledger.realized:.8f}")
        await self.runtime.bus.publish(Topic.POSITIONS, self.position())

    def position(self) -> Position:
        return Position(ts=self.runtime.now_ms(), trader=self.name, pair=self.market.pair, asset=self.ledger.other,
                        amount=self.ledger.acquired, realized_pnl=self.ledger.realized, pnl_asset=self.ledger.asset)

    def outcome(self) -> tuple[float, int] | None:
        """This life's result as a fraction of the allocation (realized, plus what the position would fetch at the
        last close as a taker) and its number of fills; None when it never traded."""
        if not self.fills or not self.allocation or self.last_candle is None:
            return None
        pnl = ledger_pnl(self.ledger, self.market, Decimal(repr(self.last_candle.close)))
        return float(pnl / self.allocation), self.fills
