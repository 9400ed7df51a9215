"""Kraken WebSocket v2 trading methods, translated to ``SimExchange`` calls.

Each method takes the request's ``params`` and the account its token names, and returns the ``result`` of the
reply or raises ``ExchangeError`` with Kraken's reason, which the server sends back as ``error``. Parameters the
simulator cannot honour are refused rather than ignored, so a client never believes it got what it asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crypy.protocols import Order, OrderType, Side, TimeInForce

from ..errors import UNKNOWN_PAIR, ExchangeError
from .ws_channels import parse_rfc3339, rfc3339

UNKNOWN_ORDER = "EOrder:Unknown order"
BATCH_ADD_SIZE = (2, 15)
BATCH_CANCEL_SIZE = (1, 50)
_UNSUPPORTED = ("cash_order_qty", "conditional", "display_qty", "effective_time", "margin")


def invalid(field: str, detail: str = "") -> ExchangeError:
    return ExchangeError(f"EGeneral:Invalid arguments:{field}", detail)


class Trading:
    """The order-entry methods of the private endpoint, for one exchange."""

    def __init__(self, sim: Any, symbols: dict[str, str], new_id: Callable[[], str],
                 order_types: tuple[OrderType, ...] = tuple(OrderType)) -> None:
        self._sim = sim
        self._symbols = symbols  # v2 symbol -> crypy pair
        self._new_id = new_id
        self._order_types = order_types  # those the exchange is configured to accept

    def add_order(self, account: str, params: dict[str, Any]) -> dict[str, object]:
        order = self._place(account, params, self._pair(params))
        return _ids(order, with_order_id=not _flag(params, "validate"))

    def batch_add(self, account: str, params: dict[str, Any]) -> list[dict[str, object]]:
        """All or nothing, as on Kraken: every order is validated before any is placed."""
        orders = _list(params, "orders", *BATCH_ADD_SIZE)
        pair = self._pair(params)
        for order in orders:
            self._place(account, _dict(order, "orders") | {"validate": True}, pair)
        if _flag(params, "validate"):
            return [{} for _ in orders]
        return [_ids(self._place(account, order, pair)) for order in orders]

    def amend_order(self, account: str, params: dict[str, Any]) -> dict[str, object]:
        order = self._target(account, params)
        amended = self._sim.amend_order(
            account, order.id, amount=_decimal(params, "order_qty"), price=_decimal(params, "limit_price"),
            trigger_price=_decimal(params, "trigger_price"),
        )
        result: dict[str, object] = {"amend_id": self._new_id(), "order_id": amended.id}
        if amended.client_id:
            result["cl_ord_id"] = amended.client_id
        return result

    def edit_order(self, account: str, params: dict[str, Any]) -> dict[str, object]:
        """Kraken's older edit: the order is replaced by a new one (new id, fills so far stay with the old one).

        The replacement is validated before the original is cancelled, so a refused edit leaves the order alone.
        """
        original = self._target(account, params)
        if "symbol" in params and self._pair(params) != original.pair:
            raise invalid("symbol", f"{original.id} trades {original.pair}")
        replacement = _terms(original) | {
            key: value for key, value in params.items() if key not in ("order_id", "symbol", "cl_ord_id")}
        self._place(account, replacement | {"validate": True}, original.pair)
        self._sim.cancel_order(account, original.id)
        order = self._place(account, replacement, original.pair)
        return {"order_id": order.id, "original_order_id": original.id}

    def cancel_order(self, account: str, params: dict[str, Any]) -> list[tuple[dict[str, object], str | None]]:
        """One ``(result, error)`` per order named, by order id, client order id or user reference."""
        targets: list[tuple[dict[str, object], Callable[[], list[Order]]]] = []
        for order_id in _strings(params, "order_id"):
            targets.append(({"order_id": order_id}, lambda order_id=order_id: [self._by_id(account, order_id)]))
        for client_id in _strings(params, "cl_ord_id"):
            targets.append(({"cl_ord_id": client_id},
                            lambda client_id=client_id: [self._sim.order_by_client_id(account, client_id)]))
        for userref in _strings(params, "order_userref"):
            targets.append(({"order_userref": userref}, lambda userref=userref: self._by_userref(account, userref)))
        if not targets:
            raise invalid("order_id", "name at least one order")
        outcomes: list[tuple[dict[str, object], str | None]] = []
        for named, find in targets:
            try:
                for order in find():
                    self._sim.cancel_order(account, order.id)
                    outcomes.append((named | {"order_id": order.id}, None))
            except ExchangeError as exc:
                outcomes.append((named, exc.reason))
        return outcomes

    def batch_cancel(self, account: str, params: dict[str, Any]) -> dict[str, object]:
        """``orders`` holds order ids or user references, ``cl_ord_id`` client order ids; unknown ones are skipped."""
        names = _strings(params, "orders") + _strings(params, "cl_ord_id")
        if not BATCH_CANCEL_SIZE[0] <= len(names) <= BATCH_CANCEL_SIZE[1]:
            raise invalid("orders", f"{len(names)} orders; {BATCH_CANCEL_SIZE[0]} to {BATCH_CANCEL_SIZE[1]} allowed")
        count = 0
        for order in self._sim.open_orders(account):
            if {order.id, order.client_id, str(order.userref)} & set(names) - {""}:
                self._sim.cancel_order(account, order.id)
                count += 1
        return {"count": count}

    def cancel_all(self, account: str) -> dict[str, object]:
        return {"count": self._sim.cancel_all(account)}

    def _place(self, account: str, params: dict[str, Any], pair: str) -> Order:
        for name in _UNSUPPORTED:
            if name in params:
                raise invalid(name, "not supported by the simulator")
        if _flag(params, "reduce_only"):
            raise ExchangeError("EOrder:Reduce only:No position exists", "spot only")
        order_type = _choice(params, "order_type", OrderType)
        if order_type not in self._order_types:
            raise invalid("order_type", f"{order_type} is not enabled on this exchange")
        trigger, offset, percent = None, None, False
        if order_type.is_triggered:
            triggers = _dict(params.get("triggers"), "triggers")
            price, price_type = _decimal(triggers, "price"), triggers.get("price_type", "static")
            if price is None:
                raise invalid("triggers", "a triggered order needs triggers.price")
            if order_type is OrderType.TRAILING_STOP:
                if price_type not in ("quote", "pct"):
                    raise invalid("triggers", "a trailing stop's price_type is quote or pct")
                offset, percent = price, price_type == "pct"
            elif price_type != "static":
                raise invalid("triggers", "relative trigger prices are not supported by the simulator")
            else:
                trigger = price
        tif = _choice(params, "time_in_force", TimeInForce, TimeInForce.GTC)
        expire = params.get("expire_time")
        amount = _decimal(params, "order_qty")
        if amount is None:
            raise invalid("order_qty", "missing")
        return self._sim.place_order(
            account, str(params.get("cl_ord_id") or ""), pair, _choice(params, "side", Side), order_type, amount,
            _decimal(params, "limit_price"), trigger_price=trigger, trailing_offset=offset, trailing_percent=percent,
            post_only=_flag(params, "post_only"), time_in_force=tif,
            expire_ts=_time(expire, "expire_time") if expire is not None else 0,
            userref=_int(params, "order_userref"), validate=_flag(params, "validate"),
        )

    def _pair(self, params: dict[str, Any]) -> str:
        symbol = params.get("symbol")
        if symbol not in self._symbols:
            raise ExchangeError(UNKNOWN_PAIR, f"{symbol!r} (v2 symbols look like BTC/USD)")
        return self._symbols[symbol]

    def _target(self, account: str, params: dict[str, Any]) -> Order:
        if "order_id" in params:
            return self._by_id(account, str(params["order_id"]))
        if "cl_ord_id" in params:
            order: Order = self._sim.order_by_client_id(account, str(params["cl_ord_id"]))
            return order
        raise invalid("order_id", "give order_id or cl_ord_id")

    def _by_id(self, account: str, order_id: str) -> Order:
        for order in self._sim.open_orders(account):
            if order.id == order_id:
                return order
        raise ExchangeError(UNKNOWN_ORDER, order_id)

    def _by_userref(self, account: str, userref: str) -> list[Order]:
        return [order for order in self._sim.open_orders(account) if str(order.userref) == userref]


def _terms(order: Order) -> dict[str, Any]:
    """An open order's remaining terms as ``add_order`` params, for a replacement to start from."""
    terms: dict[str, Any] = {
        "order_type": str(order.order_type), "side": str(order.side), "order_qty": order.remaining,
        "limit_price": order.price, "order_userref": order.userref, "post_only": order.post_only,
        "time_in_force": str(order.time_in_force),
    }
    if order.trigger_price is not None:
        terms["triggers"] = {"price": order.trigger_price, "price_type": "static"}
    elif order.trailing_offset is not None:
        terms["triggers"] = {"price": order.trailing_offset, "price_type": "pct" if order.trailing_percent else "quote"}
    if order.time_in_force is TimeInForce.GTD:
        terms["expire_time"] = rfc3339(order.expire_ts)
    return terms


def _ids(order: Order, *, with_order_id: bool = True) -> dict[str, object]:
    result: dict[str, object] = {"order_id": order.id} if with_order_id else {}
    if order.client_id:
        result["cl_ord_id"] = order.client_id
    if order.userref:
        result["order_userref"] = order.userref
    return result


def _decimal(params: dict[str, Any], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise invalid(name, f"{value!r} is not a number")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise invalid(name, f"{value!r} is not a number") from None


def _int(params: dict[str, Any], name: str) -> int:
    value = params.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"{value!r} is not an integer")
    return value


def _flag(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise invalid(name, f"{value!r} is not true or false")
    return value


def _choice(params: dict[str, Any], name: str, kind: Any, default: Any = None) -> Any:
    value = params.get(name)
    if value is None and default is not None:
        return default
    try:
        return kind(str(value).lower())
    except ValueError:
        raise invalid(name, f"{value!r} is not one of {', '.join(kind)}") from None


def _time(value: object, name: str) -> int:
    try:
        return parse_rfc3339(str(value))
    except ValueError:
        raise invalid(name, f"{value!r} is not an RFC 3339 time") from None


def _dict(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(name, f"{value!r} is not an object")
    return value


def _list(params: dict[str, Any], name: str, least: int, most: int) -> list[Any]:
    value = params.get(name)
    if not isinstance(value, list) or not least <= len(value) <= most:
        raise invalid(name, f"{least} to {most} entries")
    return value


def _strings(params: dict[str, Any], name: str) -> list[str]:
    """A parameter that may be one value or a list of them, as strings."""
    value = params.get(name, [])
    return [str(item) for item in (value if isinstance(value, list) else [value])]
