"""AddOrder's parameters (NOTES §1.4) turned into one ``SimExchange.place_order`` call.

Kraken packs a lot into few fields: ``price`` is the limit, the trigger, or a trailing offset depending on the
order type; prices may be relative (``+5%``, ``-50``, ``#2``); ``viqc`` gives the volume in quote. This module
unpacks that; the engine then runs the checks every order passes. Parameters the simulator cannot honour
(conditional close, leverage, scheduled start, iceberg) are refused, so a client never believes it got them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from crypy.protocols import Order, OrderType, Side, TimeInForce

from ..errors import ExchangeError
from ..markets import decimal_unit
from .formats import OrderNotes
from .naming import KrakenPair
from .params import Params, invalid, parse_decimal

DEADLINE_ELAPSED = "EService:Deadline elapsed"
NO_POSITION = "EOrder:Reduce only:No position exists"
MAX_DEADLINE_MS = 60_000
_OFLAGS = frozenset({"post", "fcib", "fciq", "nompp", "viqc"})
_STP_TYPES = frozenset({"cancel-newest", "cancel-oldest", "cancel-both"})
_UNSUPPORTED = ("displayvol", "close[ordertype]", "close[price]", "close[price2]", "close")
_INT32 = (-(2**31), 2**31 - 1)
_MAX_CLIENT_ID = 18

# For a '#' relative price: whether it is above (+1) or below (-1) the reference, by order type and side.
_STOPS = (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)


@dataclass(frozen=True)
class Placement:
    """One order, ready for the exchange: the arguments of ``place_order`` plus how to describe it."""

    pair: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    trailing_offset: Decimal | None
    trailing_percent: bool
    post_only: bool
    time_in_force: TimeInForce
    expire_ts: int
    userref: int
    client_id: str
    notes: OrderNotes

    def place(self, sim: Any, account: str, *, validate: bool) -> Order:
        return sim.place_order(
            account, self.client_id, self.pair, self.side, self.order_type, self.amount, self.price,
            trigger_price=self.trigger_price, trailing_offset=self.trailing_offset,
            trailing_percent=self.trailing_percent, post_only=self.post_only, time_in_force=self.time_in_force,
            expire_ts=self.expire_ts, userref=self.userref, validate=validate,
        )


@dataclass(frozen=True)
class Market:
    """What parsing may need to know of the market right now; ``last``/``ask`` are asked only when needed."""

    names: KrakenPair
    amount_decimals: int
    now_ms: int
    last: Callable[[], Decimal]
    ask: Callable[[], Decimal]


def parse_placement(params: Params, market: Market, order_types: tuple[OrderType, ...]) -> Placement:
    """An AddOrder (or one order of AddOrderBatch) as a ``Placement``, or ``ExchangeError`` with Kraken's reason."""
    for name in _UNSUPPORTED:
        if name in params:
            raise invalid(name.partition("[")[0], "not supported by the simulator")
    _check_unsupported_values(params)
    side = _side(params)
    order_type = _order_type(params, order_types)
    flags = _oflags(params)
    volume = params.decimal("volume")
    if volume is None:
        raise invalid("volume", "missing")
    amount, quote_volume = volume, None
    if "viqc" in flags:
        if order_type is not OrderType.MARKET or side is not Side.BUY:
            raise invalid("viqc", "volume in quote is for market buys only")
        quote_volume = volume
        amount = (volume / market.ask()).quantize(decimal_unit(market.amount_decimals), rounding=ROUND_DOWN)
    price, trigger, offset, percent = _prices(params, order_type, side, market.last)
    tif_given = params.text("timeinforce")
    tif = _time_in_force(tif_given)
    expire_ts = _time_param(params, "expiretm", market.now_ms)
    if expire_ts and tif_given is None:
        tif = TimeInForce.GTD
    if _time_param(params, "starttm", market.now_ms) > market.now_ms:
        raise invalid("starttm", "scheduled orders are not supported by the simulator")
    userref = params.integer("userref", 0) or 0
    client_id = params.text("cl_ord_id", "") or ""
    _check_ids(userref, client_id, "userref" in params)
    return Placement(
        pair=market.names.crypy, side=side, order_type=order_type, amount=amount, price=price, trigger_price=trigger,
        trailing_offset=offset, trailing_percent=percent, post_only="post" in flags, time_in_force=tif,
        expire_ts=expire_ts, userref=userref, client_id=client_id,
        notes=OrderNotes(quote_volume=quote_volume, trigger=params.text("trigger", "last") or "last"),
    )


def check_deadline(params: Params, wall_ms: int | None = None) -> None:
    """Refuse a request that arrives after its ``deadline``; transport latency is real time, so the wall clock."""
    text = params.text("deadline")
    if text is None:
        return
    try:
        deadline_ms = int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise invalid("deadline", f"{text!r} is not an RFC3339 time") from None
    now = wall_ms if wall_ms is not None else int(time.time() * 1000)
    if deadline_ms <= now:
        raise ExchangeError(DEADLINE_ELAPSED, text)
    if deadline_ms > now + MAX_DEADLINE_MS:
        raise invalid("deadline", "at most 60 seconds ahead")


def relative_price(text: str, name: str, reference: Callable[[], Decimal], direction: int) -> Decimal:
    """``text`` as a price: absolute, or ``+``/``-``/``#`` an amount or percent away from ``reference``.

    ``direction`` is where ``#`` points: +1 above the reference, -1 below.
    """
    prefix = text[:1]
    if prefix not in ("+", "-", "#"):
        return parse_decimal(text, name)
    percent = text.endswith("%")
    value = parse_decimal(text[1:].removesuffix("%"), name)
    base = reference()
    distance = base * value / 100 if percent else value
    sign = {"+": 1, "-": -1}.get(prefix, direction)
    return base + sign * distance


def _side(params: Params) -> Side:
    try:
        return Side(params.required("type").lower())
    except ValueError:
        raise invalid("type", "buy or sell") from None


def _order_type(params: Params, order_types: tuple[OrderType, ...]) -> OrderType:
    text = params.required("ordertype").lower()
    try:
        order_type = OrderType(text)
    except ValueError:
        raise invalid("ordertype", f"{text} is not supported by the simulator") from None
    if order_type not in order_types:
        raise invalid("ordertype", f"{text} is not enabled on this exchange")
    return order_type


def _oflags(params: Params) -> set[str]:
    flags = {flag.lower() for flag in params.names("oflags")}
    unknown = flags - _OFLAGS
    if unknown or {"fcib", "fciq"} <= flags:
        raise invalid("oflags", f"{', '.join(sorted(flags))}")
    return flags


def _prices(
    params: Params, order_type: OrderType, side: Side, last: Callable[[], Decimal]
) -> tuple[Decimal | None, Decimal | None, Decimal | None, bool]:
    """``(limit, trigger, trailing offset, offset in percent)`` from ``price`` and ``price2``."""
    price_text, price2_text = params.text("price"), params.text("price2")
    if order_type is OrderType.MARKET:
        return None, None, None, False
    if price_text is None or price_text == "":
        raise invalid("price", f"{order_type} needs a price")
    if order_type is OrderType.TRAILING_STOP:
        if not price_text.startswith("+"):
            raise invalid("price", "a trailing stop's offset must start with +")
        offset = parse_decimal(price_text[1:].removesuffix("%"), "price")
        return None, None, offset, price_text.endswith("%")
    rises = (order_type in _STOPS) == (side is Side.BUY)
    first = relative_price(price_text, "price", last, 1 if rises else -1)
    if order_type is OrderType.LIMIT:
        return first, None, None, False
    if not order_type.has_limit_price:
        return None, first, None, False
    if price2_text is None or price2_text == "":
        raise invalid("price2", f"{order_type} needs price2, the limit price")
    return relative_price(price2_text, "price2", lambda: first, 1 if rises else -1), first, None, False


def _time_in_force(text: str | None) -> TimeInForce:
    try:
        return TimeInForce((text or "gtc").lower())
    except ValueError:
        raise invalid("timeinforce", "GTC, IOC or GTD") from None


def _time_param(params: Params, name: str, now_ms: int) -> int:
    """``0``, a unix time or ``+<seconds>`` from now, in market milliseconds (0 when absent)."""
    text = params.text(name)
    if text is None or text in ("", "0"):
        return 0
    if text.startswith("+"):
        return now_ms + int(parse_decimal(text[1:], name) * 1000)
    return int(parse_decimal(text, name) * 1000)


def _check_unsupported_values(params: Params) -> None:
    if (params.text("leverage", "none") or "none").lower() != "none":
        raise invalid("leverage", "the simulator trades spot only")
    if params.flag("reduce_only"):
        raise ExchangeError(NO_POSITION, "the simulator trades spot only")
    if params.text("trigger", "last") not in ("last", "index"):
        raise invalid("trigger", "last or index")
    stp = params.text("stptype")
    if stp is not None and stp not in _STP_TYPES:
        raise invalid("stptype", "cancel-newest, cancel-oldest or cancel-both")


def _check_ids(userref: int, client_id: str, userref_given: bool) -> None:
    if not _INT32[0] <= userref <= _INT32[1]:
        raise invalid("userref", "a 32-bit integer")
    if not client_id:
        return
    if userref_given:
        raise invalid("cl_ord_id", "give userref or cl_ord_id, not both")
    if len(client_id) > _MAX_CLIENT_ID:
        try:
            uuid.UUID(client_id)
        except ValueError:
            raise invalid("cl_ord_id", "a UUID or at most 18 characters") from None
    elif not client_id.isprintable() or not client_id.isascii():
        raise invalid("cl_ord_id", "printable ASCII")
