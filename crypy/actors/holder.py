"""The holder: one per owned asset. It manages that asset's capital.

It creates a trader for every pair on which its asset can be spent, judges their proposals by the
criteria of its template, funds the accepted ones with a share of its capital and signs the approval the
desk checks on every order. When a funded trader opens a position, it retires the unfunded traders (the
seeds' rule: the capital has found its use); a pair left without a trader gets a fresh one later, when
no funded trader is in position.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import msgspec
import trio

from crypy.protocols import (
    ActorStopped,
    BalanceSnapshot,
    Decision,
    Fill,
    MarketInfo,
    Position,
    Proposal,
    RiskEvent,
    TradingState,
)
from crypy.repl import CommandRegistry

from . import approval as approvals
from .actor import Actor
from .bus import Subscription, Topic
from .holder_commands import HOLDER_COMMANDS
from .ledger import CapitalLedger
from .outcomes import LifeOutcome, OutcomeBook
from .runtime import Runtime
from .sub_ledger import ASSET_DECIMALS, SubLedger
from .template import Outcome, Templates, TraderTemplate
from .template_memory import usable_strategies
from .trader import Trader


@dataclass
class Allocation:
    trader: str
    pair: str
    amount: Decimal
    approval_id: str
    strategy: str
    in_position: bool = False


class Holder(Actor):
    kind = "holder"

    def __init__(self, name: str, parent: str, runtime: Runtime, *, asset: str, capital: Decimal,
                 markets: list[MarketInfo], timeframe: str, templates: Templates, key: bytes,
                 ledger_of: Callable[[str], CapitalLedger | None] = lambda name: None,
                 diverted: frozenset[str] = frozenset()) -> None:
        super().__init__(name, parent, runtime)
        self.asset = asset
        self.capital = capital
        self.available = capital
        self.markets = markets
        self.timeframe = timeframe
        self.templates = templates
        self.template = templates.holder_for(asset)
        self.criteria = msgspec.structs.replace(self.template.criteria)
        """This holder's own copy, so ``set criterion`` on one holder does not change its siblings."""
        self._key = key
        self.sub_ledger = SubLedger(asset, capital)
        """The capital arithmetic: what each trader may spend, so no two are promised the same money."""
        self.allocations: dict[str, Allocation] = {}
        self.proposals: deque[tuple[Proposal, Decision]] = deque(maxlen=100)
        self.pending: dict[str, Proposal] = {}
        self.retired_pairs: set[str] = set()
        """Pairs a human retired: not respawned until ``spawn`` names them again."""
        self._approval_ids = runtime.sequence
        self.ledger_of = ledger_of
        """The desk's ledger of a trader name: a new trader takes over what an earlier one of its name still holds
        (stopped by a kill or a crash, or before a restart)."""
        for market in markets:
            known = ledger_of(self.trader_name(market))
            if known is not None and known.asset == asset and (known.committed > 0 or known.acquired > 0):
                self.sub_ledger.adopt(self.trader_name(market), known)
        self.diverted = diverted
        """Assets the desk's memory diverts capital from: no trader here buys them."""
        self.outcomes = OutcomeBook(asset, templates, learn=self.template.lifecycle.learn)
        self._no_trader: dict[str, str] = {}
        self.trading = TradingState.ACTIVE
        """The desk's trading state: no fresh traders while it is not ACTIVE."""
        self._active_again = trio.Event()

    @property
    def prompt(self) -> str:
        return f"invest {self.asset}> "

    def commands(self) -> CommandRegistry:
        return HOLDER_COMMANDS

    @property
    def allocated(self) -> Decimal:
        return self.sub_ledger.allocated

    def trader_name(self, market: MarketInfo) -> str:
        return f"{market.pair}@{self.asset}"

    def market(self, pair: str) -> MarketInfo:
        """The market of ``pair``; KeyError when this holder's asset is not traded there."""
        for market in self.markets:
            if market.pair == pair:
                return market
        raise KeyError(pair)

    def concerns(self, event: object) -> bool:
        """Events of this holder's traders, and candles of the pairs they trade."""
        if getattr(event, "holder", None) == self.name:
            return True
        trader = getattr(event, "trader", None)
        if trader is not None:
            return trader.endswith(f"@{self.asset}")
        return any(getattr(event, "pair", None) == m.pair for m in self.markets)

    async def spawn(self, pair: str) -> str:
        """Create a trader on ``pair`` now (and let it be respawned again); ValueError when it cannot be."""
        try:
            market = self.market(pair)
        except KeyError:
            raise ValueError(f"{self.asset} is not traded on {pair}") from None
        name = self.trader_name(market)
        if name in self.children:
            raise ValueError(f"{name} is already running")
        self.retired_pairs.discard(pair)
        self._release(name)
        if reason := await self._spawn(market, by_human=True):
            raise ValueError(reason)
        return name

    async def retire(self, pair: str) -> str:
        """Stop the trader of ``pair`` and keep it stopped; its allocation is freed unless it holds a position."""
        try:
            name = self.trader_name(self.market(pair))
        except KeyError:
            raise ValueError(f"{self.asset} is not traded on {pair}") from None
        if name not in self.children:
            raise ValueError(f"{name} is not running")
        self.retired_pairs.add(pair)
        await self.children.stop(name, self.grace)
        allocation = self.allocations.get(name)
        if allocation is not None and not allocation.in_position:
            self._release(name)
        return name

    def _release(self, name: str) -> None:
        self.allocations.pop(name, None)
        self.sub_ledger.release(name)

    async def setup(self, nursery: trio.Nursery) -> None:
        bus = self.runtime.bus
        nursery.start_soon(self._judge, bus.subscribe(Topic.PROPOSALS, Topic.POSITIONS, Topic.FILLS))
        nursery.start_soon(self._follow_balances, bus.subscribe(Topic.BALANCES))
        nursery.start_soon(self._follow_risk, bus.subscribe(Topic.RISK))
        nursery.start_soon(self._follow_lives, bus.subscribe(Topic.LIFECYCLE))
        for market in self.markets:
            await self._spawn(market)
        nursery.start_soon(self._respawn)

    async def on_stop(self) -> None:
        """The traders have stopped: what each funded one did goes into the memory."""
        await self.outcomes.end_all(self.runtime.now_ms())

    def trader_template(self, market: MarketInfo, *, by_human: bool = False) -> TraderTemplate | str:
        """The template a trader on ``market`` gets (the pair's own, with the strategies this holder lets it try),
        or why the pair gets none: the desk diverts capital from what it would buy (a human may still insist), or
        the human's lists leave no strategy."""
        other = market.base if self.asset == market.quote else market.quote
        if other in self.diverted and not by_human:
            return f"the desk diverts capital from {other}: its recent outcomes lost"
        holder = msgspec.structs.replace(self.template, criteria=self.criteria)  # as ``set criterion`` left it
        template = usable_strategies(holder, self.templates.trader_for(market.pair))
        if not template.strategies:
            return "no strategy of the trader template is allowed by the holder's criteria"
        return template

    async def _spawn(self, market: MarketInfo, *, by_human: bool = False) -> str | None:
        """Start a trader on ``market``; the reason it gets none, instead (logged once per pair)."""
        name = self.trader_name(market)
        template = self.trader_template(market, by_human=by_human)
        if isinstance(template, str):
            if self._no_trader.get(market.pair) != template:
                self._no_trader[market.pair] = template
                self.log.info("no trader for this pair", pair=market.pair, reason=template)
            return template
        self._no_trader.pop(market.pair, None)
        known = self.ledger_of(name)
        ledger = None if known is None or known.asset != self.asset else CapitalLedger(
            asset=known.asset, other=known.other, base=known.base, committed=known.committed, acquired=known.acquired,
            realized=known.realized)
        factory = functools.partial(Trader, name, self.name, self.runtime, market=market, holder_asset=self.asset,
                                    timeframe=self.timeframe, template=template, ledger=ledger)
        await self.children.start(factory)
        return None

    async def _respawn(self) -> None:
        """Give every pair a trader again, unless the capital is in use by a funded trader in position."""
        while True:
            with trio.move_on_after(self.template.lifecycle.respawn_seconds):
                await self._active_again.wait()
            self._active_again = trio.Event()
            if self.trading is not TradingState.ACTIVE:
                continue
            if self.template.lifecycle.retire_others_on_entry and any(
                    a.in_position for a in self.allocations.values()):
                continue
            for market in self.markets:
                name = self.trader_name(market)
                if name not in self.children and market.pair not in self.retired_pairs:
                    self._release(name)
                    self.log.info("creating a fresh trader", trader=name)
                    await self._spawn(market)

    async def _follow_lives(self, sub: Subscription) -> None:
        with sub:
            async for event in sub:
                if isinstance(event, ActorStopped) and (
                        outcome := await self.outcomes.ended(event.name, self.runtime.now_ms())):
                    self._remember(outcome)

    def _remember(self, outcome: LifeOutcome) -> None:
        """The traders created from now on learn from this outcome too, not only the next run's."""
        memory = self.template.memory
        record = Outcome(trader=outcome.trader, pair=outcome.pair, strategy=outcome.strategy, result=outcome.result,
                         params=outcome.params, ts=self.runtime.now_ms())
        self.template = msgspec.structs.replace(
            self.template, memory=msgspec.structs.replace(memory, outcomes=[*memory.outcomes, record]))

    async def _follow_risk(self, sub: Subscription) -> None:
        with sub:
            async for event in sub:
                if isinstance(event, RiskEvent):
                    if event.state is TradingState.ACTIVE and self.trading is not TradingState.ACTIVE:
                        self._active_again.set()  # trading resumed: fresh traders now, not a period later
                    self.trading = event.state

    async def _follow_balances(self, sub: Subscription) -> None:
        with sub:
            async for snapshot in sub:
                if isinstance(snapshot, BalanceSnapshot) and self.asset in snapshot.balances:
                    balance = snapshot.balances[self.asset]
                    self.available = balance.available
                    self.sub_ledger.on_balance(balance.total)

    async def _judge(self, sub: Subscription) -> None:
        with sub:
            async for event in sub:
                if isinstance(event, Proposal) and event.holder == self.name:
                    await self._decide(event)
                elif isinstance(event, Position) and event.trader in self.allocations:
                    await self._on_position(event)
                elif isinstance(event, Fill):
                    self.sub_ledger.on_fill(event)

    def refusal_reason(self, proposal: Proposal) -> str | None:
        """Why ``proposal`` fails this holder's criteria, or None when it meets them all.

        A funded trader that proposes again (it was restarted after a crash) keeps its allocation: the
        approval is renewed, not doubled, and the desk's ledger still counts what it already committed.
        """
        criteria, metrics = self.criteria, proposal.metrics
        if metrics.get("total_return", 0.0) <= criteria.min_return:
            return f"simulated return {metrics.get('total_return', 0.0):.2%} is not above {criteria.min_return:.2%}"
        if metrics.get("trades", 0.0) < criteria.min_trades:
            return f"{int(metrics.get('trades', 0))} simulated trades, fewer than {criteria.min_trades}"
        if metrics.get("max_drawdown", 1.0) > criteria.max_drawdown:
            return f"simulated drawdown {metrics['max_drawdown']:.2%} is deeper than {criteria.max_drawdown:.2%}"
        if criteria.min_return_ratio is not None and metrics.get("return_ratio", 0.0) < criteria.min_return_ratio:
            return (f"simulated return ratio {metrics.get('return_ratio', 0.0):.2f} is below "
                    f"{criteria.min_return_ratio:.2f}")
        if proposal.strategy in criteria.banned_strategies or (
                criteria.allowed_strategies and proposal.strategy not in criteria.allowed_strategies):
            return f"strategy {proposal.strategy} is not allowed by this holder's criteria"
        if proposal.trader not in self.allocations and self.next_allocation() <= 0:
            return f"no {self.asset} capital left to allocate"
        return None

    def next_allocation(self) -> Decimal:
        """A share of the capital no trader has been promised (see ``SubLedger``)."""
        share = self.sub_ledger.unallocated * Decimal(str(self.template.allocation.fraction))
        return share.quantize(Decimal(1).scaleb(-ASSET_DECIMALS), rounding=ROUND_DOWN)

    async def _decide(self, proposal: Proposal) -> None:
        """Judge by the criteria, or, in manual mode, keep the proposal for a human's ``accept``/``refuse``."""
        if self.criteria.manual:
            self.pending[proposal.id] = proposal
            self.log.info("proposal waits for a manual decision", trader=proposal.trader, proposal=proposal.id,
                          advice=self.refusal_reason(proposal) or "meets the criteria")
            return
        reason = self.refusal_reason(proposal)
        if reason is None:
            await self._accept(proposal, "meets the criteria")
        else:
            await self._refuse(proposal, reason)

    async def decide_pending(self, proposal_id: str, *, accept: bool, reason: str) -> Decision:
        """A human's decision on a waiting proposal; ValueError when there is no such proposal or no capital."""
        proposal = self.pending.get(proposal_id)
        if proposal is None:
            waiting = ", ".join(self.pending) or "none"
            raise ValueError(f"no proposal {proposal_id!r} waits for a decision (waiting: {waiting})")
        if accept and proposal.trader not in self.allocations and self.next_allocation() <= 0:
            raise ValueError(f"no {self.asset} capital left to allocate")
        del self.pending[proposal_id]
        return await (self._accept(proposal, reason) if accept else self._refuse(proposal, reason))

    async def judge_pending(self) -> None:
        """Manual mode was switched off: judge what was waiting by the criteria."""
        for proposal in list(self.pending.values()):
            del self.pending[proposal.id]
            await self._decide(proposal)

    async def _accept(self, proposal: Proposal, reason: str) -> Decision:
        now = self.runtime.now_ms()
        renewed = self.allocations.get(proposal.trader)
        amount = renewed.amount if renewed else self.sub_ledger.allocate(
            proposal.trader, self.next_allocation(), self._new_ledger(proposal.pair))
        expires = now + int(self.template.allocation.approval_hours * 3_600_000)
        approval = approvals.sign(self._key, id=f"{self.name}-A{next(self._approval_ids)}", holder=self.name,
                                  trader=proposal.trader, pair=proposal.pair, asset=self.asset, amount=amount,
                                  expires=expires)
        self.allocations[proposal.trader] = Allocation(trader=proposal.trader, pair=proposal.pair, amount=amount,
                                                       in_position=bool(renewed and renewed.in_position),
                                                       approval_id=approval.id, strategy=proposal.strategy)
        if isinstance(trader := self.children.actor(proposal.trader), Trader):
            self.outcomes.funded(trader)
        decision = Decision(ts=now, proposal_id=proposal.id, holder=self.name, trader=proposal.trader,
                            accepted=True, reason=reason, allocation=amount, approval=approval)
        self.log.info("proposal accepted", trader=proposal.trader, allocation=str(amount),
                      total_return=round(proposal.metrics.get("total_return", 0.0), 4))
        return await self._publish(proposal, decision)

    def _new_ledger(self, pair: str) -> CapitalLedger:
        market = self.market(pair)
        other = market.base if self.asset == market.quote else market.quote
        return CapitalLedger(asset=self.asset, other=other, base=market.base)

    async def _refuse(self, proposal: Proposal, reason: str) -> Decision:
        decision = Decision(ts=self.runtime.now_ms(), proposal_id=proposal.id, holder=self.name,
                            trader=proposal.trader, accepted=False, reason=reason)
        self.log.info("proposal refused", trader=proposal.trader, reason=reason)
        return await self._publish(proposal, decision)

    async def _publish(self, proposal: Proposal, decision: Decision) -> Decision:
        self.proposals.append((proposal, decision))
        await self.runtime.bus.publish(Topic.DECISIONS, decision)
        return decision

    async def _on_position(self, position: Position) -> None:
        allocation = self.allocations[position.trader]
        was_in = allocation.in_position
        allocation.in_position = position.amount > 0
        if allocation.in_position and not was_in and self.template.lifecycle.retire_others_on_entry:
            for name in self.children.names:
                if name not in self.allocations:
                    self.log.info("retiring unfunded trader", trader=name, because=f"{position.trader} entered")
                    await self.children.stop(name)
