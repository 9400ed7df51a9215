"""Where an order executes against a candle, and how much an order must reserve to be sure it can pay.

A candle is all the simulator knows of a period, so an order is matched against the first candle that closes
after it arrives: a market order takes that candle's OPEN (the next price after the order, never a later one)
plus half the spread; a limit order rests until the range of a candle reaches it. Prices always round against
the trader, so the simulator never flatters a strategy.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import NamedTuple

from crypy.protocols import Candle, Order, OrderType, Side

from .markets import MarketSpec

MARKET_BUY_MARGIN = Decimal("0.02")
"""Extra hold on a market buy: its price is unknown until the next candle opens, and it may open higher."""


class Execution(NamedTuple):
    price: Decimal
    liquidity: str


def candle_price(value: float) -> Decimal:
    """A candle's float price as the decimal it was written as (``16528.7``, not its binary approximation)."""
    return Decimal(repr(value))


def ask(spec: MarketSpec, price: Decimal, spread: Decimal) -> Decimal:
    """What a buyer pays around ``price``: half the spread above it, rounded up to a tick."""
    return spec.round_price(price * (1 + spread / 2), ROUND_CEILING)


def bid(spec: MarketSpec, price: Decimal, spread: Decimal) -> Decimal:
    """What a seller gets around ``price``: half the spread below it, rounded down to a tick."""
    return spec.round_price(price * (1 - spread / 2), ROUND_FLOOR)


def execution(order: Order, candle: Candle, spec: MarketSpec, spread: Decimal) -> Execution | None:
    """The price and liquidity at which ``order`` fills in ``candle``, or ``None`` if the candle never reached it.

    A limit order the open already crossed (a gap through the limit) takes liquidity at the quoted side,
    capped by its limit, so a marketable limit order pays the spread like a market order does.
    """
    open_price = candle_price(candle.open)
    buying = order.side is Side.BUY
    if order.order_type is OrderType.MARKET:
        return Execution(ask(spec, open_price, spread) if buying else bid(spec, open_price, spread), "taker")
    limit = order.price
    if limit is None:
        raise ValueError(f"limit order {order.id} has no price")
    if buying:
        if open_price <= limit:
            return Execution(min(limit, ask(spec, open_price, spread)), "taker")
        if candle_price(candle.low) < limit:
            return Execution(limit, "maker")
    else:
        if open_price >= limit:
            return Execution(max(limit, bid(spec, open_price, spread)), "taker")
        if candle_price(candle.high) > limit:
            return Execution(limit, "maker")
    return None


def buy_hold(spec: MarketSpec, price: Decimal, amount: Decimal) -> Decimal:
    """Quote reserved by a buy at ``price``: the cost plus the (larger) taker fee, so any fill at or below can pay."""
    cost = price * amount
    return cost + spec.fee(cost, spec.taker_fee)


def market_buy_hold(spec: MarketSpec, last: Decimal, amount: Decimal, spread: Decimal) -> Decimal:
    """Quote reserved by a market buy: the ask around the last price, plus ``MARKET_BUY_MARGIN`` for the unknown open."""
    return spec.round_cost(buy_hold(spec, ask(spec, last, spread), amount) * (1 + MARKET_BUY_MARGIN), ROUND_CEILING)
