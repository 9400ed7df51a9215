"""How Kraken's REST API writes numbers, times, orders and trades.

Where ccxt's recorded real responses (``ccxt-static``) and Kraken's OpenAPI examples disagree, the recording
wins: orders carry ``opentm``/``closetm`` and ``userref`` as strings, ``refid``/``reason`` as null, and ClosedOrders
and CancelOrder counts as strings. Amounts, prices and fees are fixed-point strings at the market's precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from crypy.protocols import Fill, Order, OrderStatus, OrderType

from ..markets import MarketSpec
from .naming import KrakenPair

SPOT_POSITION = "TKH2SE-M7IF5-CFI7LT"
"""``postxid`` of every spot trade: Kraken reports this fixed id when a trade opened no margin position."""

STATUS = {
    OrderStatus.PENDING: "pending",
    OrderStatus.OPEN: "open",
    OrderStatus.PARTIALLY_FILLED: "open",
    OrderStatus.FILLED: "closed",
    OrderStatus.CANCELLED: "canceled",
    OrderStatus.REJECTED: "canceled",
    OrderStatus.EXPIRED: "expired",
}
USER_REQUESTED = "User requested"

_WORDS = {
    OrderType.STOP_LOSS: "stop loss", OrderType.TAKE_PROFIT: "take profit",
    OrderType.STOP_LOSS_LIMIT: "stop loss", OrderType.TAKE_PROFIT_LIMIT: "take profit",
}


def fixed(value: Decimal | float | int, decimals: int) -> str:
    """``value`` with exactly ``decimals`` decimals and never an exponent (``fixed(Decimal("1E+1"), 2) == "10.00"``)."""
    return f"{Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals)):f}"


def amount_text(value: Decimal, decimals: int) -> str:
    """A balance at the asset's decimals, or at more when the ledger holds more: a balance is never rounded."""
    exponent = value.normalize().as_tuple().exponent
    places = max(decimals, -exponent if isinstance(exponent, int) else 0)
    return fixed(value, places)


def quote_decimals(spec: MarketSpec) -> int:
    """Decimals of prices in market data (ticker, depth, trades): Kraken pads them to at least five."""
    return max(spec.price_decimals, 5)


def seconds(ms: int) -> float:
    return ms / 1000


def seconds_text(ms: int) -> str:
    """Order times as Kraken's order endpoints write them: seconds with six decimals, as a string."""
    return f"{ms // 1000}.{ms % 1000:03d}000"


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc1123(ms: int) -> str:
    """Kraken's ``Time`` layout: ``Wed,  9 Jan 19 01:50:54 +0000`` (day padded with a space)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%a, ") + f"{moment.day:2d}" + moment.strftime(" %b %y %H:%M:%S +0000")


@dataclass(frozen=True)
class OrderNotes:
    """What an AddOrder said that the engine's ``Order`` does not keep, to describe the order as it was asked."""

    quote_volume: Decimal | None = None  # viqc: the volume as sent, in the quote currency
    trigger: str = "last"


def price_texts(order: Order, spec: MarketSpec) -> tuple[str, str]:
    """``descr.price`` and ``descr.price2``: the trigger (or trailing offset) and the limit, as Kraken pairs them."""
    decimals = spec.price_decimals
    if order.order_type is OrderType.TRAILING_STOP:
        offset = order.trailing_offset or Decimal(0)
        return (f"+{fixed(offset, 4)}%" if order.trailing_percent else f"+{fixed(offset, decimals)}"), "0"
    if order.order_type in _WORDS:
        trigger = fixed(order.trigger_price or 0, decimals)
        limit = fixed(order.price, decimals) if order.price is not None and order.order_type.has_limit_price else "0"
        return trigger, limit
    if order.order_type is OrderType.LIMIT and order.price is not None:
        return fixed(order.price, decimals), "0"
    return "0", "0"


def describe(order: Order, names: KrakenPair, spec: MarketSpec, notes: OrderNotes | None = None) -> str:
    """``descr.order``, the sentence ccxt splits on spaces: ``buy 0.10000000 XBTUSD @ limit 27500.0``."""
    volume = (
        fixed(notes.quote_volume, spec.cost_decimals)
        if notes is not None and notes.quote_volume is not None
        else fixed(order.amount, spec.amount_decimals)
    )
    price, price2 = price_texts(order, spec)
    head = f"{order.side} {volume} {names.altname} @ "
    if order.order_type is OrderType.MARKET:
        return head + "market"
    if order.order_type is OrderType.LIMIT:
        return head + f"limit {price}"
    if order.order_type is OrderType.TRAILING_STOP:
        return head + f"trailing stop {price}"
    sentence = head + f"{_WORDS[order.order_type]} {price}"
    return sentence + f" -> limit {price2}" if order.order_type.has_limit_price else sentence


def order_info(
    order: Order, names: KrakenPair, spec: MarketSpec, *, cost: Decimal, notes: OrderNotes | None,
    trade_ids: list[str] | None,
) -> dict[str, object]:
    """One order as OpenOrders, ClosedOrders and QueryOrders show it (the recorded real layout)."""
    price, price2 = price_texts(order, spec)
    flags = ["post"] if order.post_only else []
    flags.append("fciq")
    if notes is not None and notes.quote_volume is not None:
        flags.append("viqc")
    stop = order.trigger_price if order.order_type is OrderType.TRAILING_STOP and order.trigger_price else 0
    info: dict[str, object] = {
        "refid": None,
        "userref": None if order.client_id else str(order.userref),
    }
    if order.client_id:
        info["cl_ord_id"] = order.client_id
    info |= {
        "status": STATUS[order.status],
        "opentm": seconds_text(order.created),
        "starttm": "0",
        "expiretm": seconds_text(order.expire_ts) if order.expire_ts else "0",
        "descr": {
            "pair": names.altname, "type": str(order.side), "ordertype": str(order.order_type), "price": price,
            "price2": price2, "leverage": "none", "order": describe(order, names, spec, notes), "close": "",
        },
        "vol": fixed(order.amount, spec.amount_decimals),
        "vol_exec": fixed(order.filled, spec.amount_decimals),
        "cost": fixed(cost, spec.cost_decimals),
        "fee": fixed(order.fee, spec.cost_decimals),
        "price": fixed(order.avg_price or 0, spec.cost_decimals),
        "stopprice": fixed(stop, spec.cost_decimals),
        "limitprice": "0." + "0" * spec.cost_decimals,
        "misc": "",
        "oflags": ",".join(flags),
    }
    if notes is not None and notes.trigger != "last":
        info["trigger"] = notes.trigger
    if trade_ids:
        info["trades"] = trade_ids
    info["reason"] = _reason(order)
    if order.status.is_terminal:
        info["closetm"] = seconds_text(order.closed)
    return info


def _reason(order: Order) -> str | None:
    if order.reason:
        return order.reason
    return USER_REQUESTED if order.status is OrderStatus.CANCELLED else None


def trade_info(
    fill: Fill, order_type: OrderType, names: KrakenPair, spec: MarketSpec, trade_id: int
) -> dict[str, object]:
    """One of the account's trades as TradesHistory and QueryTrades show it: ``pair`` is the pair id here."""
    return {
        "ordertxid": fill.order_id,
        "postxid": SPOT_POSITION,
        "pair": names.id,
        "aclass": "currency",
        "time": seconds(fill.ts),
        "type": str(fill.side),
        "ordertype": str(order_type),
        "price": fixed(fill.price, quote_decimals(spec)),
        "cost": fixed(fill.cost, spec.cost_decimals),
        "fee": fixed(fill.fee, spec.cost_decimals),
        "vol": fixed(fill.amount, spec.amount_decimals),
        "margin": fixed(0, spec.cost_decimals),
        "leverage": "0",
        "misc": "",
        "trade_id": trade_id,
        "maker": fill.liquidity == "maker",
    }

