"""Which live orders a candle cannot touch, so that the engine decides only the others.

A stop-loss resting far below the market, or a limit order the price never came near, is asked about on every
candle: deciding it fully (expiry, trigger, gap, cross, maker share) costs microseconds each time, and a run with
a protective stop on every position spends much of its matching there. ``untouched`` answers the same question in
a few comparisons, conservatively: it says True only where ``MatchingEngine._decide`` would do nothing at all
(no fill, no trigger, no expiry, no cancellation, no change of state), and False whenever in doubt.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from crypy.protocols import Candle, OrderType, Side, TimeInForce

from .bookkeeping import Entry
from .matching import candle_price
from .triggers import candle_path, fires_falling


class CandleRange(NamedTuple):
    """A candle's prices as decimals, worked out once for all the live orders of its pair."""

    open: Decimal
    low: Decimal
    high: Decimal
    lowest: Decimal
    """The lowest price of the assumed path (``candle_path``): what a falling trigger must reach."""
    highest: Decimal

    @classmethod
    def of(cls, candle: Candle) -> CandleRange:
        path = candle_path(candle)
        return cls(candle_price(candle.open), candle_price(candle.low), candle_price(candle.high), min(path),
                   max(path))


def untouched(entry: Entry, prices: CandleRange, closed_at: int) -> bool:
    """Whether the candle closing at ``closed_at`` with ``prices`` leaves ``entry`` exactly as it is.

    - An IOC order is cancelled by its first candle, a GTD order past its date expires: never untouched.
    - An order resting at its limit: a buy stays if the candle opened above the limit and never went below it
      (touching is not crossing, see ``limit_execution``); a sell mirrors it. Post-only orders are cancelled only
      by an open through the limit, which this excludes.
    - A stop or take-profit waiting for its trigger: untouched if no price of the candle's path reached it.
    - Market orders, trailing stops (whose extreme follows every candle) and fired stops: never.
    """
    order = entry.order
    if order.time_in_force is TimeInForce.IOC or (
            order.time_in_force is TimeInForce.GTD and order.expire_ts < closed_at):
        return False
    if entry.resting:
        assert order.price is not None
        if order.side is Side.BUY:
            return prices.open > order.price and prices.low >= order.price
        return prices.open < order.price and prices.high <= order.price
    if entry.triggered or order.trigger_price is None or order.order_type is OrderType.TRAILING_STOP:
        return False
    if fires_falling(order.order_type, order.side):
        return prices.lowest > order.trigger_price
    return prices.highest < order.trigger_price
