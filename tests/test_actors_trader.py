"""A trader driven only through the bus, as the desk and holder would drive it, on real candles."""

from __future__ import annotations

import functools
from decimal import Decimal

import numpy as np
import trio

from crypy.actors.approval import new_key, sign
from crypy.actors.bus import Topic
from crypy.actors.runtime import Runtime
from crypy.actors.supervisor import Supervisor
from crypy.actors.template import Evaluation, StrategyChoice, TraderTemplate
from crypy.actors.trader import Trader
from crypy.plugins import SmaCrossover
from crypy.protocols import CandleBatch, Decision, HistoryRequest, OrderRefused, OrderRequest, Proposal, Side
from crypy.simulator import DEFAULT_MARKETS, bundled_candle_files, load_candles

CANDLES = load_candles(next(p for p in bundled_candle_files() if "BTCUSD" in p.name))[:400]
TEMPLATE = TraderTemplate(strategies=[StrategyChoice(name="sma_crossover", grid=[{"fast": 2, "slow": 5}])],
                          evaluation=Evaluation(history=60, spread=0.0005))


async def _next(sub, kind: type):  # type: ignore[no-untyped-def]
    with trio.fail_after(5):
        async for event in sub:
            if isinstance(event, kind):
                return event
    raise AssertionError(f"no {kind.__name__}")


async def test_after_a_refusal_the_trader_waits_for_its_target_to_change() -> None:
    runtime = Runtime()
    bus = runtime.bus
    history = CANDLES[:60]
    targets = SmaCrossover(2, 5).targets(np.array([c.close for c in CANDLES]))
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
            requests: list[OrderRequest] = []
            index = 59
            while int(targets[index]) != 1:
                index += 1
                await bus.publish(Topic.CANDLES, CANDLES[index])
            first = await _next(seen, OrderRequest)
            assert first.side is Side.BUY and first.approval == approval and first.reason == "entry"
            assert first.amount * Decimal(repr(CANDLES[index].close)) <= Decimal(1000)
            await bus.publish(Topic.REFUSALS, OrderRefused(ts=0, client_id=first.client_id, trader=first.trader,
                                                           pair="XBT/USD", reason="test says no"))
            await trio.sleep(0.05)
            changed_at = None
            while changed_at is None or index < changed_at + 5:
                index += 1
                await bus.publish(Topic.CANDLES, CANDLES[index])
                await trio.sleep(0.01)
                while True:
                    try:
                        event = seen.receive_nowait()
                    except trio.WouldBlock:
                        break
                    if isinstance(event, OrderRequest):
                        requests.append(event)
                if changed_at is None and int(targets[index]) == 1 and int(targets[index - 1]) == 0:
                    changed_at = index
                if changed_at is None:
                    assert requests == [], "the trader asked again although its target had not changed"
            assert len(requests) == 1 and requests[0].side is Side.BUY and requests[0].client_id != first.client_id
            await root.stop_all()
