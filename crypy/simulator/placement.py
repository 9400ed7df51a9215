"""The checks an order passes before it is accepted or amended, with Kraken's reasons, and what it must reserve.

Kept apart from the engine so that placing, validating (``validate=True``) and amending run the very same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from crypy.protocols import OrderType, Side, TimeInForce

from .errors import OrderRejected
from .markets import MarketSpec
from .matching import buy_hold, market_buy_hold
from .triggers import trailing_level

INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
INVALID_VOLUME = "EGeneral:Invalid arguments:volume"
INVALID_PRICE = "EGeneral:Invalid arguments:price"
INVALID_CLIENT_ID = "EGeneral:Invalid arguments:cl_ord_id"
INVALID_EXPIRY = "EGeneral:Invalid arguments:expiretm"
INVALID_OFLAGS = "EGeneral:Invalid arguments:oflags"
INVALID_ORDER_QTY = "EGeneral:Invalid arguments:order_qty"
INVALID_LIMIT_PRICE = "EGeneral:Invalid arguments:limit_price"
INVALID_TRIGGER_PRICE = "EGeneral:Invalid arguments:trigger_price"
MINIMUM_NOT_MET = "EOrder:Order minimum not met"
COST_MINIMUM_NOT_MET = "EOrder:Cost minimum not met"
POST_ONLY = "EOrder:Post only order"
NO_PRICE_YET = "EService:Unavailable"

_FIXED_TRIGGER = frozenset(
    {OrderType.STOP_LOSS, OrderType.TAKE_PROFIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
)


class Terms(NamedTuple):
    """An order's prices on the market's grid; each is ``None`` where its order type has no use for it."""

    price: Decimal | None
    trigger_price: Decimal | None
    trailing_offset: Decimal | None


def rounded(round_to_grid: Callable[[Decimal], Decimal], value: Decimal | None, reason: str) -> Decimal:
    """``value`` on the market's grid, or ``OrderRejected(reason)`` if it is missing, not finite or not positive."""
    if value is None or not value.is_finite() or value <= 0:
        raise OrderRejected(reason, f"{value} is not a positive number")
    try:
        on_grid = round_to_grid(value)
    except InvalidOperation:
        raise OrderRejected(reason, f"{value} is out of range") from None
    if on_grid <= 0:
        raise OrderRejected(reason, f"{value} rounds to zero")
    return on_grid


def has_fixed_trigger(order_type: OrderType) -> bool:
    return order_type in _FIXED_TRIGGER


def order_terms(
    spec: MarketSpec,
    order_type: OrderType,
    *,
    price: Decimal | None,
    trigger_price: Decimal | None,
    trailing_offset: Decimal | None,
    trailing_percent: bool,
    post_only: bool,
) -> Terms:
    """Check and round the prices ``order_type`` needs; a market order's price is ignored, as on Kraken."""
    if post_only and not order_type.has_limit_price:
        raise OrderRejected(INVALID_OFLAGS, f"post-only needs a limit price; {order_type} has none")
    limit = rounded(spec.round_price, price, INVALID_PRICE) if order_type.has_limit_price else None
    trigger = rounded(spec.round_price, trigger_price, INVALID_PRICE) if has_fixed_trigger(order_type) else None
    offset = None
    if order_type is OrderType.TRAILING_STOP:
        if trailing_percent:
            if trailing_offset is None or not trailing_offset.is_finite() or not 0 < trailing_offset < 100:
                raise OrderRejected(INVALID_PRICE, f"a trailing offset of {trailing_offset}% is not in (0, 100)")
            offset = trailing_offset
        else:
            offset = rounded(spec.round_price, trailing_offset, INVALID_PRICE)
    return Terms(limit, trigger, offset)


def check_expiry(time_in_force: TimeInForce, expire_ts: int, now_ms: int) -> None:
    """Only GTD orders expire, and only in the future: a past ``expire_ts`` is an error, not an instant expiry."""
    if time_in_force is TimeInForce.GTD:
        if expire_ts <= now_ms:
            raise OrderRejected(INVALID_EXPIRY, f"expire_ts {expire_ts} is not after now ({now_ms})")
    elif expire_ts:
        raise OrderRejected(INVALID_EXPIRY, f"expire_ts needs time in force GTD, not {time_in_force}")


def reference_price(
    order_type: OrderType, side: Side, terms: Terms, trailing_percent: bool, last: Decimal | None
) -> Decimal:
    """The price that sizes an order's cost and hold: its limit; else the worst price a buy may plausibly execute.

    A stop buy below the market fires at the next open, so its hold uses the last price when that is higher; a
    trailing buy fires at most ``offset`` above the lowest price, which is at most the last price.
    """
    if terms.price is not None:
        return terms.price
    if terms.trigger_price is not None:
        if side is Side.SELL or last is None:
            return terms.trigger_price
        return max(terms.trigger_price, last)
    if last is None:
        raise OrderRejected(NO_PRICE_YET, "no price for the pair yet")
    if terms.trailing_offset is not None and side is Side.BUY:
        return trailing_level(side, last, terms.trailing_offset, trailing_percent)
    return last


def check_size(spec: MarketSpec, amount: Decimal, reference: Decimal) -> None:
    if amount < spec.min_amount:
        raise OrderRejected(MINIMUM_NOT_MET, f"{amount} < {spec.min_amount} {spec.base}")
    if reference * amount < spec.min_cost:
        raise OrderRejected(COST_MINIMUM_NOT_MET, f"{reference * amount} < {spec.min_cost} {spec.quote}")


def required_hold(
    spec: MarketSpec, side: Side, order_type: OrderType, amount: Decimal, reference: Decimal, spread: Decimal
) -> tuple[str, Decimal]:
    """What ``amount`` still to trade must reserve: the base it sells, or the most quote its buy may cost."""
    if side is Side.SELL:
        return spec.base, amount
    if order_type.has_limit_price:
        return spec.quote, buy_hold(spec, reference, amount)
    return spec.quote, market_buy_hold(spec, reference, amount, spread)
