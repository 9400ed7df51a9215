"""When a stop, take-profit or trailing-stop order triggers within a candle, and at what price it then executes.

A candle says where the price went but not in which order, so the simulator assumes the usual path: from the
open to the nearer-looking extreme first (a rising candle dips to its low before its high, a falling one peaks
first), then to the other extreme, then to the close. Between those points the price moves continuously, so a
trigger crossed on the way fires exactly at its level; only the open can jump past a level (a gap), and then the
order executes around the open instead. A trailing stop's peak follows the same path, so it never uses a high
that came after the low which triggered it.
"""

from __future__ import annotations

from decimal import Decimal

from crypy.protocols import Candle, OrderType, Side

from .matching import candle_price


def candle_path(candle: Candle) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The prices a candle is assumed to visit, in order: open, both extremes, close."""
    open_price, close = candle_price(candle.open), candle_price(candle.close)
    low, high = candle_price(candle.low), candle_price(candle.high)
    return (open_price, low, high, close) if close >= open_price else (open_price, high, low, close)


def fires_falling(order_type: OrderType, side: Side) -> bool:
    """Whether the order waits for the price to fall to its trigger (a sell stop, a buy take-profit) or to rise."""
    stop = order_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TRAILING_STOP)
    return stop == (side is Side.SELL)


def fixed_trigger(order_type: OrderType, side: Side, trigger_price: Decimal, candle: Candle) -> Decimal | None:
    """The price a stop or take-profit order executes around in ``candle``, or ``None`` if it did not trigger."""
    falling = fires_falling(order_type, side)
    path = candle_path(candle)
    reached = [price <= trigger_price if falling else price >= trigger_price for price in path]
    if reached[0]:
        return path[0]
    return trigger_price if any(reached) else None


def trailing_level(side: Side, extreme: Decimal, offset: Decimal, percent: bool) -> Decimal:
    """The stop level of a trailing stop: ``offset`` (a price distance, or percent of the extreme) behind it."""
    distance = extreme * offset / 100 if percent else offset
    return extreme - distance if side is Side.SELL else extreme + distance


def trailing_trigger(
    side: Side, offset: Decimal, percent: bool, extreme: Decimal, candle: Candle
) -> tuple[Decimal, Decimal | None]:
    """Follow ``candle``'s path from the best price seen so far (the peak of a sell, the trough of a buy).

    Returns the new extreme and, if the stop triggered, the price the order executes around.
    """
    selling = side is Side.SELL
    for index, price in enumerate(candle_path(candle)):
        extreme = max(extreme, price) if selling else min(extreme, price)
        level = trailing_level(side, extreme, offset, percent)
        if price <= level if selling else price >= level:
            return extreme, price if index == 0 else level
    return extreme, None
