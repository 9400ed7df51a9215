"""The engine skips the live orders a candle cannot touch (``simulator/reach.py``): each case of ``untouched`` by
hand, and a differential check that skipping changes nothing, on generated order flows over real candles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings

from crypy.protocols import OrderType, TimeInForce
from crypy.simulator import MatchingEngine
from crypy.simulator import engine as engine_module
from crypy.simulator.reach import CandleRange, untouched

from .sim_orders import BUY, LIMIT, SELL, candle, close_of, place
from .test_sim_invariants import OPENING, apply, new_engine, operations

# low 16400, high 16600; rising (close above open): the assumed path is open, low, high, close
CANDLE = candle(1, 16500, 16600, 16400, 16550)
PRICES = CandleRange.of(CANDLE)
CLOSED_AT = close_of(1)


def entry_of(engine: MatchingEngine, order_id: str):  # type: ignore[no-untyped-def]
    return engine._books.entry("a", order_id)


@pytest.mark.parametrize(("side", "price", "expected"), [
    (BUY, "16399.9", True),    # below the low
    (BUY, "16400", True),      # touching the low is not crossing
    (BUY, "16400.1", False),   # crossed: fills as a maker
    (BUY, "16500", False),     # the open reached it: a taker
    (SELL, "16600.1", True),
    (SELL, "16600", True),
    (SELL, "16599.9", False),
    (SELL, "16500", False),
])
def test_a_resting_limit_is_untouched_only_if_the_candle_neither_opened_at_it_nor_crossed_it(
        engine: MatchingEngine, side, price: str, expected: bool) -> None:
    order = place(engine, side, LIMIT, "0.01", price, post_only=side is BUY and price == "16500")
    assert untouched(entry_of(engine, order.id), PRICES, CLOSED_AT) is expected


@pytest.mark.parametrize(("order_type", "side", "trigger", "expected"), [
    (OrderType.STOP_LOSS, SELL, "16399.9", True),    # a sell stop fires falling: the low did not reach it
    (OrderType.STOP_LOSS, SELL, "16400", False),     # reached
    (OrderType.TAKE_PROFIT, SELL, "16600.1", True),  # a sell take-profit fires rising
    (OrderType.TAKE_PROFIT, SELL, "16600", False),
    (OrderType.STOP_LOSS, BUY, "16600.1", True),
    (OrderType.STOP_LOSS_LIMIT, SELL, "16300", True),
    (OrderType.TAKE_PROFIT_LIMIT, BUY, "16400", False),
])
def test_a_waiting_trigger_is_untouched_only_if_no_price_of_the_path_reached_it(
        engine: MatchingEngine, order_type: OrderType, side, trigger: str, expected: bool) -> None:
    price = trigger if order_type.has_limit_price else None
    order = place(engine, side, order_type, "0.01", price, trigger_price=Decimal(trigger))
    assert untouched(entry_of(engine, order.id), PRICES, CLOSED_AT) is expected


def test_orders_a_candle_always_changes_are_never_skipped(engine: MatchingEngine) -> None:
    far = "10000"
    ioc = place(engine, BUY, LIMIT, "0.01", far, time_in_force=TimeInForce.IOC)
    expiring = place(engine, BUY, LIMIT, "0.01", far, time_in_force=TimeInForce.GTD, expire_ts=CLOSED_AT - 1)
    lasting = place(engine, BUY, LIMIT, "0.01", far, time_in_force=TimeInForce.GTD, expire_ts=CLOSED_AT)
    market = place(engine, BUY, OrderType.MARKET, "0.01")
    trailing = place(engine, SELL, OrderType.TRAILING_STOP, "0.01", trailing_offset=Decimal(50),
                     trailing_percent=True)
    seen = {order.id: untouched(entry_of(engine, order.id), PRICES, CLOSED_AT)
            for order in (ioc, expiring, lasting, market, trailing)}
    assert seen == {ioc.id: False, expiring.id: False, lasting.id: True, market.id: False, trailing.id: False}


def _run(ops: list[tuple]) -> tuple[list, list]:
    engine = new_engine()
    position = 0
    for op in ops:
        position = apply(engine, op, position)
    return [engine.orders(a) for a in OPENING], [engine.fills(a) for a in OPENING]


@settings(max_examples=80, deadline=None)
@given(operations)
def test_skipping_untouched_orders_changes_no_order_and_no_fill(ops: list[tuple]) -> None:
    skipping = _run(ops)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module, "untouched", lambda *_: False)
        deciding_all = _run(ops)
    assert skipping == deciding_all
