"""The desk's protective actions: trading states, the kill switch, flattening, and the risk limits that fire them.

Everything here bypasses the order gate on purpose: it only ever gives positions back, and it must work
while the gate refuses everything (HALTED). Each change of trading state and each limit that fires is a
``RiskEvent``, journaled and published, so holders stop creating traders while the desk is not ACTIVE.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

import trio

from crypy.exchanges import ExchangeError
from crypy.protocols import OrderType, RiskEvent, Side, TradingState

from .bus import Topic
from .locks import held
from .order_gate import TraderLedger
from .risk import Breach, RiskMonitor

if TYPE_CHECKING:
    from .desk import Desk

STOP_SWEEPS = 5
FLATTEN_MARGIN = Decimal("1.01")
"""Buying back the base with a quote balance: leave room for the price moving before the order fills."""


class DeskRisk:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.monitor = RiskMonitor(desk.template.risk, desk.markets)
        self._flatten_seq = 0

    @property
    def state(self) -> TradingState:
        return self.desk.gate.state

    async def set_state(self, state: TradingState, kind: str, detail: str, breach: Breach | None = None) -> None:
        """Switch the gate's trading state and say so (journal, log, bus)."""
        desk = self.desk
        desk.gate.state = state
        event = RiskEvent(ts=desk.runtime.now_ms(), kind=kind, state=state, detail=detail,
                          trader=breach.trader if breach else "", value=breach.value if breach else None,
                          limit=breach.limit if breach else None, asset=breach.asset if breach else "")
        desk.log.warning("risk", kind=kind, state=state, detail=detail)
        await desk.journal.record(event)
        await desk.runtime.bus.publish(Topic.RISK, event)

    async def watch(self) -> None:
        """After each price update: act on the limits the monitor reports crossed."""
        await self.act_on(self.check())

    def check(self) -> list[Breach]:
        """The limits crossed since the last check (each reported once)."""
        desk = self.desk
        return self.monitor.check(desk.runtime.now_ms(), desk.gate.ledgers, desk.last_price)

    async def act_on(self, breaches: list[Breach]) -> None:
        desk = self.desk
        for breach in breaches:
            if breach.kind == "daily_loss_limit":
                settings = desk.template.risk
                await self.set_state(TradingState(settings.on_daily_loss), breach.kind, breach.detail, breach)
                if settings.flatten_on_daily_loss:
                    await self.kill(flatten=True, state=TradingState(settings.on_daily_loss))
            else:
                await self._stop_trader(breach)

    async def _stop_trader(self, breach: Breach) -> None:
        """A trader past its drawdown: stopped, its orders cancelled and its position given back."""
        desk = self.desk
        await self.set_state(self.state, breach.kind, breach.detail, breach)
        for holder in desk.holders():
            if breach.trader in holder.children:
                await holder.children.stop(breach.trader, holder.grace)
        for order in list(desk.tracker.open_orders.values()):
            if order.trader == breach.trader:
                await desk.tracker.cancel(order.id)
        ledger = desk.gate.ledgers.get(breach.trader)
        if ledger is not None:
            await self.flatten(breach.trader, ledger)

    async def halt_and_cancel_all(self) -> None:
        """Refuse new orders, wait out a send in flight, and cancel every open order of the account.

        Sweeps repeat while orders remain (a cancel can race a fill, or an exchange can answer late)."""
        desk = self.desk
        desk.gate.state = TradingState.HALTED
        desk.exits.clear()
        async with held(desk.placing):
            pass
        for _ in range(STOP_SWEEPS):
            still_open = await desk.exchange.open_orders()
            if not still_open:
                break
            for order in still_open:
                await desk.tracker.cancel(order.id)
        await self.follow_to_the_end()

    async def follow_to_the_end(self, seconds: float = 0.5) -> None:
        """Sync until every tracked order is seen to its end (fills included), for at most ``seconds``."""
        with trio.move_on_after(seconds):
            while True:
                await self.desk.tracker.sync()
                if not self.desk.tracker.open_orders:
                    return
                await trio.sleep(0.05)

    async def kill(self, *, flatten: bool, state: TradingState = TradingState.HALTED) -> None:
        """The emergency stop: halt, cancel every open order, stop the traders, and with ``flatten`` give back at
        market what each holds. The desk keeps running in ``state`` (``resume`` allows trading again)."""
        desk = self.desk
        work = "stopping the traders" + (" and giving back their positions" if flatten else "")
        await self.set_state(TradingState.HALTED, "kill", f"cancelling every open order, {work}")
        await self.halt_and_cancel_all()
        for holder in desk.holders():
            await holder.children.stop_all(holder.grace)
        if flatten:
            await self.flatten_all(desk.template.risk.shutdown_deadline_seconds)
        if state is not TradingState.HALTED:
            await self.set_state(state, "kill", f"done: trading {state}")
        await desk.refresh_balances()

    async def flatten_all(self, deadline: float) -> None:
        """Give back every trader's position at market; what has not filled by ``deadline`` seconds is cancelled."""
        for trader, ledger in list(self.desk.gate.ledgers.items()):
            await self.flatten(trader, ledger)
        with trio.move_on_after(deadline):
            while self.desk.tracker.open_orders:
                await self.desk.tracker.sync()
                await trio.sleep(0.05)
        if self.desk.tracker.open_orders:
            self.desk.log.warning("flatten deadline passed: cancelling what did not fill",
                                  orders=len(self.desk.tracker.open_orders))
            for order_id in list(self.desk.tracker.open_orders):
                await self.desk.tracker.cancel(order_id)

    async def flatten(self, trader: str, ledger: TraderLedger) -> None:
        """A market order, bypassing the gate, that gives back what ``trader`` acquired."""
        desk = self.desk
        pair = ledger.pair
        market, last = desk.markets.get(pair), desk.last_price(pair)
        if market is None or last is None or ledger.acquired <= 0:
            return
        step = Decimal(1).scaleb(-market.amount_decimals)
        if ledger.holder_holds_quote:
            side, amount = Side.SELL, ledger.acquired
        else:
            side, amount = Side.BUY, ledger.acquired / (last * (1 + Decimal(market.taker_fee)) * FLATTEN_MARGIN)
        amount = amount.quantize(step, rounding=ROUND_DOWN)
        if amount < Decimal(market.min_amount) or amount * last < Decimal(market.min_cost):
            desk.log.warning("flatten: too little to give back", trader=trader, amount=str(amount))
            return
        await desk.exits.before_exit(trader, pair)
        self._flatten_seq += 1
        client_id = f"{trader}-flatten-{desk.runtime.now_ms()}-{self._flatten_seq}"
        try:
            await desk.tracker.place(client_id=client_id, trader=trader, pair=pair, side=side,
                                     order_type=OrderType.MARKET, amount=amount)
        except ExchangeError as exc:
            desk.log.error("flatten order failed", trader=trader, error=str(exc))

    async def resume(self) -> None:
        await self.set_state(TradingState.ACTIVE, "resume", "trading allowed again")
