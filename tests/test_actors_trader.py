"""A trader driven only through the bus, as the desk and holder would drive it, on real candles."""

from __future__ import annotations

import functools
from decimal import Decimal

import trio

from crypy.actors.approval import new_key, sign
from crypy.actors.bus import Topic
from crypy.actors.runtime import Runtime
from crypy.actors.supervisor import Supervisor
from crypy.actors.template import Evaluation, StrategyChoice, TraderTemplate
from crypy.actors.trader import Trader
from crypy.plugins import Candles, SmaCrossover
from crypy.protocols import CandleBatch, Decision, HistoryRequest, OrderRefused, OrderRequest, Proposal, Side
from crypy.simulator import DEFAULT_MARKETS, bundled_candle_files, load_candles

CANDLES = load_candles(next(p for p in bundled_candle_files() if "BTCUSD" in p.name))[:400]
TEMPLATE = TraderTemplate(strategies=[StrategyChoice(name="sma_crossover", grid=[{"fast": 2, "slow": 5}])],
                          evaluation=Evaluation(history=60, spread=0.0005, reevaluate_hours=0))


async def _next(sub, kind: type):  # type: ignore[no-untyped-def]
    with trio.fail_after(5):
        async for event in sub:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"no {kind.__name__}")


async def test_after_a_refusal_the_trader_waits_for_its_target_to_change() -> None:
    runtime = Runtime()
    bus = runtime.bus
    targets = SmaCrossover(2, 5).targets(Candles.from_batch(CandleBatch.from_candles("XBT/USD", "15m", CANDLES, ts=0)))
    start = next(i for i in range(59, len(CANDLES)) if targets[i] == 0)  # the trader starts flat
    history, fed = CANDLES[:start + 1], range(start + 1, start + 201)
    with bus.subscribe(Topic.HISTORY_REQUESTS, Topic.PROPOSALS, Topic.ORDER_REQUESTS) as seen:
        async with trio.open_nursery() as nursery:
            root = Supervisor(nursery, runtime, owner="USD")
            await root.start(functools.partial(Trader, "XBT/USD@USD", "USD", runtime,
                                               market=DEFAULT_MARKETS["XBT/USD"].info(), holder_asset="USD",
                                               timeframe="15m", template=TEMPLATE))
            ask = await _next(seen, HistoryRequest)
            await bus.publish(Topic.HISTORY, CandleBatch.from_candles("XBT/USD", "15m", history, ts=0,
                                                                      request_id=ask.request_id))
            proposal: Proposal = await _next(seen, Proposal)
            assert proposal.strategy == "sma_crossover" and proposal.params == {"fast": 2.0, "slow": 5.0}
            approval = sign(new_key(), id="A1", holder="USD", trader="XBT/USD@USD", pair="XBT/USD", asset="USD",
                            amount=Decimal(1000), expires=2**62)
            await bus.publish(Topic.DECISIONS, Decision(ts=0, proposal_id=proposal.id, holder="USD",
                                                        trader="XBT/USD@USD", accepted=True, reason="ok",
                                                        allocation=Decimal(1000), approval=approval))
            requests: list[tuple[int, OrderRequest]] = []
            for index in fed:
                await bus.publish(Topic.CANDLES, CANDLES[index])
                await trio.sleep(0.01)
                while True:
                    try:
                        event = seen.receive_nowait()
                    except trio.WouldBlock:
                        break
                    if isinstance(event, OrderRequest):
                        requests.append((index, event))
                        await bus.publish(Topic.REFUSALS, OrderRefused(
                            ts=0, client_id=event.client_id, trader=event.trader, pair="XBT/USD", reason="no"))
            entries = [i for i in fed if targets[i] == 1 and targets[i - 1] == 0]
            assert len(entries) >= 10
            assert [i for i, _ in requests] == entries, "after a refusal the trader asks again only on a new signal"
            for index, request in requests:
                assert request.side is Side.BUY and request.approval == approval and request.reason == "entry"
                assert request.amount * Decimal(repr(CANDLES[index].close)) <= Decimal(1000)
            await root.stop_all()
