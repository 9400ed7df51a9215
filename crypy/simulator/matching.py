"""Where an order executes against a candle, and how much an order must reserve to be sure it can pay.

A candle is all the simulator knows of a period, so an order is matched against the first candle that closes
after it arrives: a market order takes that candle's OPEN (the next price after the order, never a later one)
plus half the spread; a limit order rests until the range of a candle crosses it. Prices always round against
the trader, so the simulator never flatters a strategy.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import lru_cache
from typing import NamedTuple

from crypy.protocols import Candle, Side

from .markets import MarketSpec

MARKET_BUY_MARGIN = Decimal("0.02")
"""Extra hold on a market-priced buy: its price is unknown until it executes, and the market may have risen."""


class Execution(NamedTuple):
    price: Decimal
    liquidity: str  # "maker" or "taker"


@lru_cache(maxsize=4096)
def candle_price(value: float) -> Decimal:
    """A candle's float price as the decimal it was written as (``16528.7``, not its binary approximation).

    Cached: the engine asks for the same few prices of a candle once per live order."""
    return Decimal(repr(value))


def ask(spec: MarketSpec, price: Decimal, spread: Decimal) -> Decimal:
    """What a buyer pays around ``price``: half the spread above it, rounded up to a tick."""
    return spec.round_price(price * (1 + spread / 2), ROUND_CEILING)


def bid(spec: MarketSpec, price: Decimal, spread: Decimal) -> Decimal:
    """What a seller gets around ``price``: half the spread below it, rounded down to a tick."""
    return spec.round_price(price * (1 - spread / 2), ROUND_FLOOR)


def taker_price(side: Side, spec: MarketSpec, reference: Decimal, spread: Decimal) -> Decimal:
    """A market-priced execution at ``reference`` (an open, or a stop's trigger level): half a spread worse."""
    return ask(spec, reference, spread) if side is Side.BUY else bid(spec, reference, spread)


def marketable(side: Side, limit: Decimal, spec: MarketSpec, last: Decimal, spread: Decimal) -> bool:
    """Whether a limit order would take liquidity at the current quotes (a post-only order must not)."""
    return limit >= ask(spec, last, spread) if side is Side.BUY else limit <= bid(spec, last, spread)


def opens_through(side: Side, limit: Decimal, candle: Candle) -> bool:
    """Whether ``candle`` opened at or beyond ``limit``: the order is then marketable at the open, a taker."""
    open_price = candle_price(candle.open)
    return open_price <= limit if side is Side.BUY else open_price >= limit


def limit_execution(side: Side, limit: Decimal, candle: Candle, spec: MarketSpec, spread: Decimal) -> Execution | None:
    """The price and liquidity at which a limit order trades in ``candle``, or ``None`` if the candle never crossed it.

    A limit order the open already crossed (a gap through the limit) takes liquidity at the quoted side, capped by
    its limit, so a marketable limit order pays the spread like a market order does. Otherwise the candle's range
    must go strictly beyond the limit (touching is not crossing) and the order trades at its limit as a maker.
    """
    if opens_through(side, limit, candle):
        quoted = taker_price(side, spec, candle_price(candle.open), spread)
        return Execution(min(limit, quoted) if side is Side.BUY else max(limit, quoted), "taker")
    crossed = candle_price(candle.low) < limit if side is Side.BUY else candle_price(candle.high) > limit
    return Execution(limit, "maker") if crossed else None


def maker_quantity(spec: MarketSpec, remaining: Decimal, candle: Candle, fill_share: Decimal) -> Decimal:
    """How much a resting order gets in one candle: at most ``fill_share`` of what traded, since others queue too."""
    return min(remaining, spec.round_amount(candle_price(candle.volume) * fill_share))


def buy_hold(spec: MarketSpec, price: Decimal, amount: Decimal) -> Decimal:
    """Quote reserved by a buy at ``price``: the cost plus the base taker fee, the highest fee any fill can cost."""
    cost = price * amount
    return cost + spec.fee(cost, spec.taker_fee)


def market_buy_hold(spec: MarketSpec, reference: Decimal, amount: Decimal, spread: Decimal) -> Decimal:
    """Quote reserved by a market-priced buy: the ask around ``reference`` plus ``MARKET_BUY_MARGIN``."""
    hold = buy_hold(spec, ask(spec, reference, spread), amount) * (1 + MARKET_BUY_MARGIN)
    return spec.round_cost(hold, ROUND_CEILING)
