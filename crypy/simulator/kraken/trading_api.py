"""Kraken's private trading methods: add, amend, edit and cancel orders, and the dead man's switch.

Each method charges the per-pair trading limiter before it touches the exchange, and remembers when it placed
an order (amending or cancelling a young order costs more) and what the request said that the engine's
``Order`` does not keep (``viqc``, ``trigger``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import trio

from crypy.protocols import Order, OrderType, Side

from ..config import KrakenServerConfig
from ..errors import ExchangeError, UnknownOrder
from ..ids import KrakenIds
from .catalog import Catalog
from .faults import Faults
from .formats import describe, fixed, price_texts, rfc3339
from .naming import KrakenPair
from .order_params import Market, Placement, check_deadline, parse_placement, relative_price
from .params import Params, invalid
from .private_api import OrderNotebook
from .rate_limits import OrderAges, TradingLimiter

UNKNOWN_ORDER = "EOrder:Unknown order"
POST_ONLY_ORDER = "EOrder:Post only order"
BATCH_SIZE = (2, 15)
MAX_CANCEL_BATCH = 50
MAX_SWITCH_SECONDS = 86_400

TradingHandler = Callable[[str, Params], object]


class DeadMansSwitch:
    """CancelAllOrdersAfter: per account, a timer that cancels every open order unless pushed back in time.

    It runs on trio's clock (real time): it guards against a client going silent, which happens in real time.
    """

    def __init__(self, sim: Any, nursery: trio.Nursery) -> None:
        self._sim = sim
        self._nursery = nursery
        self._timers: dict[str, trio.CancelScope] = {}

    def arm(self, account: str, seconds: int) -> None:
        previous = self._timers.pop(account, None)
        if previous is not None:
            previous.cancel()
        if seconds > 0:
            scope = trio.CancelScope()
            self._timers[account] = scope
            self._nursery.start_soon(self._fire, account, seconds, scope)

    async def _fire(self, account: str, seconds: int, scope: trio.CancelScope) -> None:
        with scope:
            await trio.sleep(seconds)
            self._timers.pop(account, None)
            self._sim.cancel_all(account)


class TradingApi:
    """The order-entry methods, by Kraken method name; each takes ``(account, params)``."""

    def __init__(
        self, sim: Any, catalog: Catalog, settings: KrakenServerConfig, faults: Faults, notebook: OrderNotebook,
        limiter: TradingLimiter | None, ages: OrderAges, switch: DeadMansSwitch,
    ) -> None:
        self._sim = sim
        self._catalog = catalog
        self._settings = settings
        self._faults = faults
        self._notebook = notebook
        self._limiter = limiter
        self._ages = ages
        self._switch = switch
        self._amend_ids = KrakenIds(settings.seed + 1)
        self.methods: dict[str, TradingHandler] = {
            "AddOrder": self.add_order, "AddOrderBatch": self.add_order_batch, "AmendOrder": self.amend_order,
            "EditOrder": self.edit_order, "CancelOrder": self.cancel_order, "CancelOrderBatch": self.cancel_order_batch,
            "CancelAll": self.cancel_all, "CancelAllOrdersAfter": self.cancel_all_orders_after,
        }

    def add_order(self, account: str, params: Params) -> object:
        check_deadline(params)
        names = self._catalog.pair(params.required("pair"))
        placement = self._placement(names, params)
        validate = params.flag("validate")
        if not validate:
            self._charge(lambda limiter, now: limiter.add(account, names.crypy, now))
        order = placement.place(self._sim, account, validate=validate)
        descr = {"order": describe(order, names, self._catalog.spec(names), placement.notes)}
        if validate:
            return {"descr": descr}
        self._placed(order, placement)
        return {"descr": descr, "txid": [order.id]}

    def add_order_batch(self, account: str, params: Params) -> object:
        """All or nothing up to the engine: every order is parsed and validated before any is placed.

        An order the engine then refuses (funds spent by the orders before it) carries its own ``error``.
        """
        check_deadline(params)
        names = self._catalog.pair(params.required("pair"))
        items = params.raw("orders")
        if not isinstance(items, list) or not BATCH_SIZE[0] <= len(items) <= BATCH_SIZE[1]:
            raise invalid("orders", f"a list of {BATCH_SIZE[0]} to {BATCH_SIZE[1]} orders (JSON body)")
        if not all(isinstance(item, dict) for item in items):
            raise invalid("orders", "each order is an object")
        placements = [self._placement(names, Params(item)) for item in items]
        orders = [placement.place(self._sim, account, validate=True) for placement in placements]
        spec = self._catalog.spec(names)
        if params.flag("validate"):
            described = zip(orders, placements, strict=True)
            return {"orders": [{"descr": {"order": describe(o, names, spec, p.notes)}} for o, p in described]}
        self._charge(lambda limiter, now: limiter.add(account, names.crypy, now, count=len(placements)))
        results: list[dict[str, object]] = []
        for placement in placements:
            try:
                order = placement.place(self._sim, account, validate=False)
            except ExchangeError as exc:
                results.append({"error": exc.reason})
                continue
            self._placed(order, placement)
            results.append({"txid": order.id, "descr": {"order": describe(order, names, spec, placement.notes)}})
        return {"orders": results}

    def amend_order(self, account: str, params: Params) -> object:
        """Change quantity or prices in place: the order keeps its id and its place in the queue."""
        check_deadline(params)
        if "display_qty" in params:
            raise invalid("display_qty", "iceberg orders are not supported by the simulator")
        order = self._target(account, params.text("txid"), params.text("cl_ord_id"))
        last = self._last(order.pair)
        limit = _price(params.text("limit_price"), "limit_price", last)
        trigger = _price(params.text("trigger_price"), "trigger_price", last)
        if limit is not None and params.flag("post_only"):
            self._check_passive(order, limit)
        self._charge(lambda limiter, now: limiter.amend(account, order.pair, order.id, now))
        self._sim.amend_order(account, order.id, amount=params.decimal("order_qty"), price=limit, trigger_price=trigger)
        return {"amend_id": self._amend_ids.trade()}

    def edit_order(self, account: str, params: Params) -> object:
        """Kraken's legacy edit, done as an amend: the order keeps its id (``txid`` equals ``originaltxid``) and
        its fills, so nothing is cancelled (``orders_cancelled`` 0) where Kraken would replace the order."""
        check_deadline(params)
        order = self._target(account, params.required("txid"), None)
        if self._catalog.pair(params.required("pair")).crypy != order.pair:
            raise invalid("pair", f"{order.id} trades {order.pair}")
        if "oflags" in params and ("post" in params.names("oflags")) != order.post_only:
            raise invalid("oflags", "the simulator cannot change an order's flags")
        if params.integer("userref", order.userref) != order.userref:
            raise invalid("userref", "an amended order keeps its userref")
        for name in ("starttm", "expiretm"):
            if name in params:
                raise invalid(name, "an amended order keeps its times")
        last = self._last(order.pair)
        first = _price(params.text("price"), "price", last)
        second = _price(params.text("price2"), "price2", last)
        limit, trigger = (first, None) if order.order_type is OrderType.LIMIT else (second, first)
        amount = params.decimal("volume")
        if params.flag("validate"):
            edited = msgspec.structs.replace(
                order, amount=amount or order.amount, price=limit or order.price,
                trigger_price=trigger or order.trigger_price,
            )
        else:
            self._charge(lambda limiter, now: limiter.edit(account, order.pair, order.id, now))
            edited = self._sim.amend_order(account, order.id, amount=amount, price=limit, trigger_price=trigger)
        names = self._catalog.pair(order.pair)
        spec = self._catalog.spec(names)
        price, price2 = price_texts(edited, spec)
        return {
            "status": "ok", "txid": order.id, "originaltxid": order.id,
            "volume": fixed(edited.amount, spec.amount_decimals), "price": price, "price2": price2,
            "orders_cancelled": 0, "descr": {"order": describe(edited, names, spec, self._notebook.get(order.id))},
        }

    def cancel_order(self, account: str, params: Params) -> object:
        """``txid`` is an order id or a userref (every open order carrying it); ``cl_ord_id`` a client order id."""
        client_id, txid = params.text("cl_ord_id"), params.text("txid")
        if client_id is None and txid is None:
            raise invalid("txid", "give txid or cl_ord_id")
        if client_id is None and txid is not None and _is_userref(txid):
            orders = [order for order in self._sim.open_orders(account) if order.userref == int(txid)]
            if not orders:
                raise ExchangeError(UNKNOWN_ORDER, f"no open order with userref {txid}")
        else:
            orders = [self._target(account, txid, client_id)]
        for order in orders:
            self._charge(lambda limiter, now, order=order: limiter.cancel(account, order.pair, order.id, now))
            self._sim.cancel_order(account, order.id)
        return {"count": str(len(orders))}

    def cancel_order_batch(self, account: str, params: Params) -> object:
        """Up to 50 order ids or userrefs (``orders``) and client order ids (``cl_ord_ids``); unknown ones are
        skipped."""
        items = params.raw("orders")
        named = [_batch_name(item) for item in items] if isinstance(items, list) else params.names("orders")
        names = named + params.names("cl_ord_ids")
        if not 1 <= len(names) <= MAX_CANCEL_BATCH:
            raise invalid("orders", f"1 to {MAX_CANCEL_BATCH} orders")
        wanted = set(names)
        count = 0
        for order in self._sim.open_orders(account):
            if wanted & {order.id, order.client_id, str(order.userref) if order.userref else ""}:
                self._charge(lambda limiter, now, order=order: limiter.cancel(account, order.pair, order.id, now))
                self._sim.cancel_order(account, order.id)
                count += 1
        return {"count": count}

    def cancel_all(self, account: str, params: Params) -> object:
        return {"count": self._sim.cancel_all(account)}

    def cancel_all_orders_after(self, account: str, params: Params) -> object:
        """Arm (or with 0, disarm) the switch; times are reported in market time, the countdown runs in real time."""
        seconds = params.integer("timeout")
        if seconds is None or not 0 <= seconds < MAX_SWITCH_SECONDS:
            raise invalid("timeout", f"0 to {MAX_SWITCH_SECONDS - 1} seconds")
        self._switch.arm(account, seconds)
        now = self._sim.now_ms()
        return {"currentTime": rfc3339(now), "triggerTime": rfc3339(now + seconds * 1000) if seconds else "0"}

    def _placement(self, names: KrakenPair, params: Params) -> Placement:
        spec = self._catalog.spec(names)
        market = Market(
            names=names, amount_decimals=spec.amount_decimals, now_ms=self._sim.now_ms(),
            last=lambda: self._last(names.crypy), ask=lambda: _decimal(self._sim.ticker_stats(names.crypy).ask),
        )
        placement = parse_placement(params, market, self._settings.order_types)
        refusal = self._faults.post_only_refusal(placement.post_only)
        if refusal is not None:
            raise ExchangeError(refusal, "the market accepts post-only orders only")
        return placement

    def _placed(self, order: Order, placement: Placement) -> None:
        self._notebook[order.id] = placement.notes
        self._ages.placed(order.id, trio.current_time())

    def _charge(self, action: Callable[[TradingLimiter, float], None]) -> None:
        if self._limiter is not None:
            action(self._limiter, trio.current_time())

    def _target(self, account: str, txid: str | None, client_id: str | None) -> Order:
        """A live order by id or client id; unknown and closed orders are both ``EOrder:Unknown order``."""
        try:
            order = (
                self._sim.order_by_client_id(account, client_id) if client_id is not None
                else self._sim.order(account, txid or "")
            )
        except UnknownOrder:
            raise ExchangeError(UNKNOWN_ORDER, client_id or txid or "") from None
        if order.status.is_terminal:
            raise ExchangeError(UNKNOWN_ORDER, f"{order.id} is {order.status}")
        return order

    def _last(self, pair: str) -> Decimal:
        return _decimal(self._sim.ticker_stats(pair).last)

    def _check_passive(self, order: Order, limit: Decimal) -> None:
        stats = self._sim.ticker_stats(order.pair)
        crosses = limit >= _decimal(stats.ask) if order.side is Side.BUY else limit <= _decimal(stats.bid)
        if crosses:
            raise ExchangeError(POST_ONLY_ORDER, f"{limit} would take liquidity")


def _price(text: str | None, name: str, last: Decimal) -> Decimal | None:
    """An amend price: absolute, or relative to the last price (``+5%``, ``-50``)."""
    if text is None or text == "":
        return None
    return relative_price(text, name, lambda: last, 1)


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _is_userref(txid: str) -> bool:
    return txid.lstrip("-").isdigit()


def _batch_name(item: object) -> str:
    """CancelOrderBatch's ``orders`` items are ids or userrefs, bare or as ``{"txid": ...}`` objects."""
    if isinstance(item, dict):
        return str(item.get("txid", ""))
    return str(item)
