"""A funded trader's life on real candles, driven through the bus as the desk and holder drive it: scaling in,
a reverse signal that exits fully, the trailing stop, and re-evaluation on schedule."""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import trio

from crypy.actors.approval import new_key, sign
from crypy.actors.bus import Subscription, Topic
from crypy.actors.runtime import Runtime
from crypy.actors.supervisor import Supervisor
from crypy.actors.template import Evaluation, Exits, StrategyChoice, TraderTemplate, Trading
from crypy.actors.trader import Trader
from crypy.actors.trader_evaluation import evaluate_strategies
from crypy.plugins import Candles, SmaCrossover
from crypy.protocols import (
    Candle,
    CandleBatch,
    Decision,
    Fill,
    HistoryRequest,
    Order,
    OrderRequest,
    OrderStatus,
    Proposal,
    Side,
)
from crypy.simulator import DEFAULT_MARKETS, bundled_candle_files, load_candles

CANDLES = load_candles(next(p for p in bundled_candle_files() if "BTCUSD" in p.name))[:3000]
MARKET = DEFAULT_MARKETS["XBT/USD"].info()
NAME = "XBT/USD@USD"
ALLOCATION = Decimal(1000)


def template(**changes: object) -> TraderTemplate:
    settings: dict[str, object] = {
        "strategies": [StrategyChoice(name="sma_crossover", grid=[{"fast": 2, "slow": 5}])],
        "evaluation": Evaluation(history=60, spread=0.0005, reevaluate_hours=0), "exits": Exits(trailing_stop=0)}
    return TraderTemplate(**(settings | changes))  # type: ignore[arg-type]


def batch(candles: list[Candle], request_id: str = "") -> CandleBatch:
    return CandleBatch.from_candles("XBT/USD", "15m", candles, ts=0, request_id=request_id)


@dataclass
class Desk:
    """Plays the desk and the holder: answers history requests, decides proposals, fills every order at the close."""

    runtime: Runtime
    seen: Subscription
    history: list[Candle]
    accept: bool = True
    requests: list[tuple[int, OrderRequest]] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    history_requests: int = 0
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def answer(self, index: int) -> None:
        """Answer what the trader asked since the last candle; ``index`` is that candle's."""
        await trio.sleep(0.01)
        while True:
            try:
                event = self.seen.receive_nowait()
            except trio.WouldBlock:
                return
            bus = self.runtime.bus
            if isinstance(event, HistoryRequest):
                self.history_requests += 1
                await bus.publish(Topic.HISTORY, batch(self.history, event.request_id))
            elif isinstance(event, Proposal):
                self.proposals.append(event)
                approval = sign(new_key(), id=f"A{len(self.proposals)}", holder="USD", trader=NAME, pair="XBT/USD",
                                asset="USD", amount=ALLOCATION, expires=2**62)
                await bus.publish(Topic.DECISIONS, Decision(
                    ts=0, proposal_id=event.id, holder="USD", trader=NAME, accepted=self.accept, reason="test",
                    allocation=ALLOCATION if self.accept else Decimal(0), approval=approval if self.accept else None))
            elif isinstance(event, OrderRequest):
                self.requests.append((index, event))
                price = Decimal(repr(CANDLES[index].close))
                await bus.publish(Topic.FILLS, Fill(
                    ts=0, id=f"F{next(self._ids)}", order_id=f"O{index}", client_id=event.client_id, pair="XBT/USD",
                    side=event.side, price=price, amount=event.amount, fee=Decimal(0), fee_asset="USD",
                    liquidity="taker", trader=NAME))
                await bus.publish(Topic.ORDERS, Order(
                    ts=0, id=f"O{index}", client_id=event.client_id, pair="XBT/USD", side=event.side,
                    order_type=event.order_type, amount=event.amount, price=None, status=OrderStatus.FILLED,
                    trader=NAME, filled=event.amount, avg_price=price))
            await trio.sleep(0.005)


@asynccontextmanager
async def trader_on(trader_template: TraderTemplate, start: int, *, accept: bool = True) -> AsyncIterator[
        tuple[Desk, Trader]]:
    runtime = Runtime()
    with runtime.bus.subscribe(Topic.HISTORY_REQUESTS, Topic.PROPOSALS, Topic.ORDER_REQUESTS) as seen:
        async with trio.open_nursery() as nursery:
            desk = Desk(runtime, seen, CANDLES[start - 59:start + 1], accept=accept)
            root = Supervisor(nursery, runtime, owner="USD")
            trader = await root.start(functools.partial(Trader, NAME, "USD", runtime, market=MARKET,
                                                        holder_asset="USD", timeframe="15m", template=trader_template))
            for _ in range(20):
                await desk.answer(start)
                if trader.phase in ("trading", "retired"):
                    break
            assert isinstance(trader, Trader)
            yield desk, trader
            await root.stop_all()


async def feed(desk: Desk, trader: Trader, indices: range) -> None:
    for index in indices:
        if trader.stopping:
            return
        await desk.runtime.bus.publish(Topic.CANDLES, CANDLES[index])
        await desk.answer(index)


def sma_targets() -> list[float]:
    return SmaCrossover(2, 5).targets(Candles.from_batch(batch(CANDLES))).tolist()


async def test_the_position_is_built_in_scale_in_steps_and_a_reverse_signal_exits_fully() -> None:
    targets = sma_targets()
    start = next(i for i in range(100, 3000) if targets[i] == 0 and all(targets[i + 1:i + 5]))  # 4 candles up
    trading = Trading(scale_in=[0.5, 0.25, 0.25], entry_period=2)
    async with trader_on(template(trading=trading), start) as (desk, trader):
        end = next(i for i in range(start + 5, 3000) if targets[i] == 0)
        await feed(desk, trader, range(start + 1, end + 1))
        entries = [(i, r) for i, r in desk.requests if r.side is Side.BUY]
        assert [i for i, _ in entries] == [start + 1, start + 3, start + 5][:len(entries)] and len(entries) >= 2
        assert [r.reason for _, r in entries] == ["entry"] + ["add-on"] * (len(entries) - 1)
        spent = list(itertools.accumulate(r.amount * Decimal(repr(CANDLES[i].close)) for i, r in entries))
        for total, share in zip(spent, (500, 750, 1000), strict=False):  # each step reaches its share of the target
            assert Decimal(share) * Decimal("0.97") < total <= share
        exit_index, exit_request = desk.requests[-1]
        assert exit_index == end and exit_request.side is Side.SELL and exit_request.reason == "exit"
        assert exit_request.amount == sum(r.amount for _, r in entries)  # everything, at once
        assert not trader.in_position and trader.scale.entries == 0


def trailing_hit(start: int, targets: list[float], trail: float) -> int | None:
    """Where a trailing stop set at candle ``start + 1``'s close first fires while the target stays in (computed
    here independently: the low against the highest close since the entry, closes before the candle)."""
    peak = CANDLES[start + 1].close
    for index in range(start + 2, len(CANDLES)):
        if not targets[index]:
            return None
        if CANDLES[index].low <= peak * (1 - trail):
            return index
        peak = max(peak, CANDLES[index].close)
    return None


async def test_the_trailing_stop_exits_and_the_trader_waits_for_the_next_entry_signal() -> None:
    targets = sma_targets()
    start, hit = next((i, hit) for i in range(100, 2900) if targets[i] == 0 and targets[i + 1]
                      and (hit := trailing_hit(i, targets, 0.002)) is not None and all(targets[hit:hit + 3]))
    async with trader_on(template(exits=Exits(trailing_stop=0.002)), start) as (desk, trader):
        await feed(desk, trader, range(start + 1, hit + 3))
        assert [(i, r.side, r.reason) for i, r in desk.requests] == [
            (start + 1, Side.BUY, "entry"), (hit, Side.SELL, "trailing_stop")], "no re-entry while the target holds"
        assert not trader.in_position


async def test_a_flat_trader_re_evaluates_on_schedule_and_proposes_the_new_best() -> None:
    grid = [{"fast": 2, "slow": 5}, {"fast": 3, "slow": 10}, {"fast": 5, "slow": 20}]
    trader_template = template(strategies=[StrategyChoice(name="sma_crossover", grid=grid)],
                               evaluation=Evaluation(history=60, spread=0.0005, reevaluate_hours=2))

    def best(end: int) -> dict[str, float]:
        found = evaluate_strategies(trader_template, Candles.from_batch(batch(CANDLES[end - 59:end + 1])),
                                    taker_fee=float(MARKET.taker_fee), holder_holds_quote=True, timeframe="15m",
                                    seed=NAME)
        assert found is not None
        return {k: float(v) for k, v in found.params.items()}

    def flat_until_asked_again(start: int) -> bool:
        targets = SmaCrossover(**best(start)).targets(Candles.from_batch(batch(CANDLES[start - 59:start + 9])))
        return not targets[-9:].any()

    start = next(i for i in range(100, 2900, 4) if best(i) != best(i + 8) and flat_until_asked_again(i))
    async with trader_on(trader_template, start) as (desk, trader):
        assert desk.proposals[0].params == best(start)
        desk.history = CANDLES[start + 8 - 59:start + 9]  # what the desk holds when the trader asks again
        desk.requests.clear()
        await feed(desk, trader, range(start + 1, start + 12))
        assert desk.history_requests >= 2
        assert len(desk.proposals) >= 2 and desk.proposals[1].params == best(start + 8)
        assert trader.proposal is not None and trader.proposal.params == best(start + 8)


async def test_a_trader_whose_new_proposal_is_refused_retires() -> None:
    trader_template = template(evaluation=Evaluation(history=60, spread=0.0005, reevaluate_hours=1),
                               strategies=[StrategyChoice(name="sma_crossover", grid=[{"fast": 2, "slow": 5},
                                                                                        {"fast": 3, "slow": 10}])])
    async with trader_on(trader_template, 200, accept=False) as (_, trader):
        assert trader.phase == "retired" and trader.stopping


async def test_a_fresh_trader_of_a_retired_ones_name_never_repeats_its_client_ids() -> None:
    runtime = Runtime()
    lives = [Trader(NAME, "USD", runtime, market=MARKET, holder_asset="USD", timeframe="15m", template=template())
             for _ in range(2)]
    sent = [await trader.send_order(Side.BUY, Decimal("0.01"), reason="entry") for trader in lives for _ in range(3)]
    assert len(set(sent)) == 6
