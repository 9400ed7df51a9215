"""The holder: one per owned asset. It manages that asset's capital.

It creates a trader for every pair on which its asset can be spent, judges their proposals by the
criteria of its template, funds the accepted ones with a share of its capital and signs the approval the
desk checks on every order. When a funded trader opens a position, it retires the unfunded traders (the
seeds' rule: the capital has found its use); a pair left without a trader gets a fresh one later, when
no funded trader is in position.
"""

from __future__ import annotations

import functools
import itertools
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import trio

from crypy.protocols import BalanceSnapshot, Decision, MarketInfo, Position, Proposal
from crypy.repl import CommandRegistry

from . import approval as approvals
from .actor import Actor
from .bus import Subscription, Topic
from .holder_commands import HOLDER_COMMANDS
from .runtime import Runtime
from .template import Templates
from .trader import Trader

ASSET_DECIMALS = 8


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
                 markets: list[MarketInfo], timeframe: str, templates: Templates, key: bytes) -> None:
        super().__init__(name, parent, runtime)
        self.asset = asset
        self.capital = capital
        self.available = capital
        self.markets = markets
        self.timeframe = timeframe
        self.templates = templates
        self.template = templates.holder
        self._key = key
        self.allocations: dict[str, Allocation] = {}
        self.proposals: deque[tuple[Proposal, Decision]] = deque(maxlen=100)
        self._approval_ids = itertools.count(1)

    @property
    def prompt(self) -> str:
        return f"invest {self.asset}> "

    def commands(self) -> CommandRegistry:
        return HOLDER_COMMANDS

    @property
    def allocated(self) -> Decimal:
        return sum((a.amount for a in self.allocations.values()), Decimal(0))

    def trader_name(self, market: MarketInfo) -> str:
        return f"{market.pair}@{self.asset}"

    async def setup(self, nursery: trio.Nursery) -> None:
        bus = self.runtime.bus
        nursery.start_soon(self._judge, bus.subscribe(Topic.PROPOSALS, Topic.POSITIONS))
        nursery.start_soon(self._follow_balances, bus.subscribe(Topic.BALANCES))
        for market in self.markets:
            await self._spawn(market)
        nursery.start_soon(self._respawn)

    async def _spawn(self, market: MarketInfo) -> None:
        factory = functools.partial(Trader, self.trader_name(market), self.name, self.runtime, market=market,
                                    holder_asset=self.asset, timeframe=self.timeframe,
                                    template=self.templates.trader)
        await self.children.start(factory)

    async def _respawn(self) -> None:
        """Give every pair a trader again, unless the capital is in use by a funded trader in position."""
        while True:
            await trio.sleep(self.template.lifecycle.respawn_seconds)
            if self.template.lifecycle.retire_others_on_entry and any(
                    a.in_position for a in self.allocations.values()):
                continue
            for market in self.markets:
                name = self.trader_name(market)
                if name not in self.children:
                    self.allocations.pop(name, None)
                    self.log.info("creating a fresh trader", trader=name)
                    await self._spawn(market)

    async def _follow_balances(self, sub: Subscription) -> None:
        with sub:
            async for snapshot in sub:
                if isinstance(snapshot, BalanceSnapshot) and self.asset in snapshot.balances:
                    self.available = snapshot.balances[self.asset].available

    async def _judge(self, sub: Subscription) -> None:
        with sub:
            async for event in sub:
                if isinstance(event, Proposal) and event.holder == self.name:
                    await self._decide(event)
                elif isinstance(event, Position) and event.trader in self.allocations:
                    await self._on_position(event)

    def refusal_reason(self, proposal: Proposal) -> str | None:
        """Why ``proposal`` fails this holder's criteria, or None when it meets them all.

        A funded trader that proposes again (it was restarted after a crash) keeps its allocation: the
        approval is renewed, not doubled, and the desk's ledger still counts what it already committed.
        """
        criteria, metrics = self.template.criteria, proposal.metrics
        if metrics.get("total_return", 0.0) <= criteria.min_return:
            return f"simulated return {metrics.get('total_return', 0.0):.2%} is not above {criteria.min_return:.2%}"
        if metrics.get("trades", 0.0) < criteria.min_trades:
            return f"{int(metrics.get('trades', 0))} simulated trades, fewer than {criteria.min_trades}"
        if metrics.get("max_drawdown", 1.0) > criteria.max_drawdown:
            return f"simulated drawdown {metrics['max_drawdown']:.2%} is deeper than {criteria.max_drawdown:.2%}"
        if proposal.trader not in self.allocations and self._allocation_for() <= 0:
            return f"no {self.asset} capital left to allocate"
        return None

    def _allocation_for(self) -> Decimal:
        """A share of the capital not yet allocated, never more than the account has available.

        ``capital`` is what the holder was given at creation: the account's balance of the asset also moves
        with other holders' trades (a USD trader buying XBT), which is not this holder's capital.
        """
        free = max(min(self.capital - self.allocated, self.available), Decimal(0))
        share = free * Decimal(str(self.template.allocation.fraction))
        return share.quantize(Decimal(1).scaleb(-ASSET_DECIMALS), rounding=ROUND_DOWN)

    async def _decide(self, proposal: Proposal) -> None:
        now = self.runtime.now_ms()
        reason = self.refusal_reason(proposal)
        if reason is None:
            renewed = self.allocations.get(proposal.trader)
            amount = renewed.amount if renewed else self._allocation_for()
            expires = now + int(self.template.allocation.approval_hours * 3_600_000)
            approval = approvals.sign(self._key, id=f"{self.name}-A{next(self._approval_ids)}", holder=self.name,
                                      trader=proposal.trader, pair=proposal.pair, asset=self.asset, amount=amount,
                                      expires=expires)
            self.allocations[proposal.trader] = Allocation(trader=proposal.trader, pair=proposal.pair, amount=amount,
                                                           in_position=bool(renewed and renewed.in_position),
                                                           approval_id=approval.id, strategy=proposal.strategy)
            decision = Decision(ts=now, proposal_id=proposal.id, holder=self.name, trader=proposal.trader,
                                accepted=True, reason="meets the criteria", allocation=amount, approval=approval)
            self.log.info("proposal accepted", trader=proposal.trader, allocation=str(amount),
                          total_return=round(proposal.metrics.get("total_return", 0.0), 4))
        else:
            decision = Decision(ts=now, proposal_id=proposal.id, holder=self.name, trader=proposal.trader,
                                accepted=False, reason=reason)
            self.log.info("proposal refused", trader=proposal.trader, reason=reason)
        self.proposals.append((proposal, decision))
        await self.runtime.bus.publish(Topic.DECISIONS, decision)

    async def _on_position(self, position: Position) -> None:
        allocation = self.allocations[position.trader]
        was_in = allocation.in_position
        allocation.in_position = position.amount > 0
        if allocation.in_position and not was_in and self.template.lifecycle.retire_others_on_entry:
            for name in self.children.names:
                if name not in self.allocations:
                    self.log.info("retiring unfunded trader", trader=name, because=f"{position.trader} entered")
                    await self.children.stop(name)
