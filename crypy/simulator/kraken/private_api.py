"""Kraken's private account methods (balances, orders, trades, fees, WebSocket tokens) for one account each.

Listings are newest first and paged by 50 with a total ``count``, as Kraken pages them. ``start``/``end`` are
exclusive bounds in unix seconds or an id; ccxt sends ClosedOrders' ``end`` in milliseconds, so an ``end``
beyond year 5000 in seconds is read as milliseconds (real Kraken would read it as "no end").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from crypy.protocols import Fill, Order

from .catalog import Catalog, kraken_asset
from .credentials import WsTokens
from .formats import OrderNotes, amount_text, fixed, order_info, trade_info
from .params import Params, invalid

PAGE = 50
MAX_QUERY_ORDERS = 50
MAX_QUERY_TRADES = 20
_MS_BOUND = 10**11  # a start/end above this (year 5138 in seconds) must be milliseconds

PrivateHandler = Callable[[str, Params], object]


OrderNotebook = dict[str, OrderNotes]
"""What this server remembers of the orders it placed beyond the engine's ``Order``, by order id."""


class AccountApi:
    """The read-only private methods, by Kraken method name; each takes ``(account, params)``."""

    def __init__(self, sim: Any, catalog: Catalog, notebook: OrderNotebook, tokens: WsTokens) -> None:
        self._sim = sim
        self._catalog = catalog
        self._notebook = notebook
        self._tokens = tokens
        self.methods: dict[str, PrivateHandler] = {
            "Balance": self.balance, "BalanceEx": self.balance_ex, "TradeBalance": self.trade_balance,
            "OpenOrders": self.open_orders, "ClosedOrders": self.closed_orders, "QueryOrders": self.query_orders,
            "TradesHistory": self.trades_history, "QueryTrades": self.query_trades, "TradeVolume": self.trade_volume,
            "GetWebSocketsToken": self.websockets_token,
        }

    def balance(self, account: str, params: Params) -> object:
        return {names.id: amount_text(balance.total, names.decimals) for names, balance in self._balances(account)}

    def balance_ex(self, account: str, params: Params) -> object:
        return {
            names.id: {
                "balance": amount_text(balance.total, names.decimals),
                "hold_trade": amount_text(balance.held, names.decimals),
            }
            for names, balance in self._balances(account)
        }

    def trade_balance(self, account: str, params: Params) -> object:
        """Spot only: equity is every balance valued in ``asset`` at last prices, and there is no margin.

        Assets with no market to or from ``asset`` count zero.
        """
        target = self._catalog.asset_by_name(params.text("asset", "ZUSD") or "ZUSD")
        values = (self._value(asset.crypy, balance.total, target.crypy) for asset, balance in self._balances(account))
        equity = sum(values, Decimal(0))
        text, zero = fixed(equity, target.decimals), fixed(0, target.decimals)
        return {"eb": text, "tb": text, "m": zero, "uv": zero, "n": zero, "c": zero, "v": zero, "e": text, "mf": text}

    def open_orders(self, account: str, params: Params) -> object:
        orders = _filtered(self._sim.open_orders(account), params)
        return {"open": self._order_infos(account, orders, params.flag("trades"))}

    def closed_orders(self, account: str, params: Params) -> object:
        closetime = params.text("closetime", "both")
        if closetime not in ("open", "close", "both"):
            raise invalid("closetime", "open, close or both")
        orders = _filtered(self._sim.closed_orders(account), params)
        orders.sort(key=lambda order: order.closed, reverse=True)
        start, end = self._bound(account, params, "start"), self._bound(account, params, "end")
        orders = [order for order in orders if _in_range(_order_times(order, closetime), start, end)]
        offset = params.integer("ofs", 0) or 0
        page = orders[offset:offset + PAGE]
        return {"closed": self._order_infos(account, page, params.flag("trades")), "count": str(len(orders))}

    def query_orders(self, account: str, params: Params) -> object:
        ids = params.names("txid")
        if not 1 <= len(ids) <= MAX_QUERY_ORDERS:
            raise invalid("txid", f"1 to {MAX_QUERY_ORDERS} order ids")
        by_id = {order.id: order for order in self._sim.orders(account)}
        orders = _filtered([by_id[order_id] for order_id in ids if order_id in by_id], params)
        return self._order_infos(account, orders, params.flag("trades"))

    def trades_history(self, account: str, params: Params) -> object:
        fills = list(enumerate(self._sim.fills(account), start=1))
        start, end = self._trade_bound(fills, params, "start"), self._trade_bound(fills, params, "end")
        chosen = [(ordinal, fill) for ordinal, fill in reversed(fills) if _in_range([fill.ts], start, end)]
        offset = params.integer("ofs", 0) or 0
        orders = self._orders_by_id(account)
        page = chosen[offset:offset + PAGE]
        return {"trades": {fill.id: self._trade(fill, ordinal, orders) for ordinal, fill in page}, "count": len(chosen)}

    def query_trades(self, account: str, params: Params) -> object:
        ids = params.names("txid")
        if not 1 <= len(ids) <= MAX_QUERY_TRADES:
            raise invalid("txid", f"1 to {MAX_QUERY_TRADES} trade ids")
        ordinals = {fill.id: (ordinal, fill) for ordinal, fill in enumerate(self._sim.fills(account), start=1)}
        orders = self._orders_by_id(account)
        return {
            trade_id: self._trade(ordinals[trade_id][1], ordinals[trade_id][0], orders)
            for trade_id in ids if trade_id in ordinals
        }

    def trade_volume(self, account: str, params: Params) -> object:
        """30-day USD volume and, for each pair asked, the fee tier it earns (in percent, as Kraken writes fees)."""
        volume = self._sim.volume(account)
        pairs = [self._catalog.pair(name) for name in params.names("pair")]
        result: dict[str, object] = {"currency": "ZUSD", "volume": fixed(volume, 4)}
        if pairs:
            specs = {names.id: self._catalog.spec(names) for names in pairs}
            result["fees"] = {pair_id: _tier(spec.taker_schedule, volume) for pair_id, spec in specs.items()}
            result["fees_maker"] = {pair_id: _tier(spec.maker_schedule, volume) for pair_id, spec in specs.items()}
        return result

    def websockets_token(self, account: str, params: Params) -> object:
        """A token for the private WebSocket, timed on the exchange's clock as the WebSocket server checks it."""
        return {"token": self._tokens.issue(account, self._sim.now_ms()), "expires": 900}

    def _balances(self, account: str) -> list[tuple[Any, Any]]:
        """The account's balances under Kraken's asset names; an asset Kraken's naming table lacks is left out."""
        balances = self._sim.balances(account)
        return [(names, balances[name]) for name in balances if (names := kraken_asset(name)) is not None]

    def _value(self, asset: str, amount: Decimal, target: str) -> Decimal:
        if asset == target:
            return amount
        for pair, spec in self._catalog.specs.items():
            if (spec.base, spec.quote) in ((asset, target), (target, asset)):
                last = Decimal(str(self._sim.ticker_stats(pair).last))
                return amount * last if spec.base == asset else amount / last
        return Decimal(0)

    def _order_infos(self, account: str, orders: Iterable[Order], with_trades: bool) -> dict[str, object]:
        fills: dict[str, list[Fill]] = {}
        for fill in self._sim.fills(account):
            fills.setdefault(fill.order_id, []).append(fill)
        infos: dict[str, object] = {}
        for order in orders:
            names = self._catalog.pair(order.pair)
            own = fills.get(order.id, [])
            infos[order.id] = order_info(
                order, names, self._catalog.spec(names), cost=sum((f.price * f.amount for f in own), Decimal(0)),
                notes=self._notebook.get(order.id), trade_ids=[f.id for f in own] if with_trades else None,
            )
        return infos

    def _orders_by_id(self, account: str) -> dict[str, Order]:
        return {order.id: order for order in self._sim.orders(account)}

    def _trade(self, fill: Fill, ordinal: int, orders: dict[str, Order]) -> dict[str, object]:
        names = self._catalog.pair(fill.pair)
        return trade_info(fill, orders[fill.order_id].order_type, names, self._catalog.spec(names), ordinal)

    def _bound(self, account: str, params: Params, name: str) -> int | None:
        """An order listing bound in market ms: unix seconds (ms past year 5000), or an order id's open time."""
        text = params.text(name)
        if text is None or text == "":
            return None
        if text[:1].isalpha():
            by_id = self._orders_by_id(account)
            if text not in by_id:
                raise invalid(name, f"unknown order {text}")
            return by_id[text].created
        return _time_bound(params, name)

    def _trade_bound(self, fills: list[tuple[int, Fill]], params: Params, name: str) -> int | None:
        text = params.text(name)
        if text is None or text == "":
            return None
        if text[:1].isalpha():
            for _, fill in fills:
                if fill.id == text:
                    return fill.ts
            raise invalid(name, f"unknown trade {text}")
        return _time_bound(params, name)


def _time_bound(params: Params, name: str) -> int:
    value = params.decimal(name) or Decimal(0)
    return int(value) if value > _MS_BOUND else int(value * 1000)


def _filtered(orders: list[Order], params: Params) -> list[Order]:
    userref = params.integer("userref")
    client_id = params.text("cl_ord_id")
    return [
        order for order in orders
        if (userref is None or order.userref == userref) and (client_id is None or order.client_id == client_id)
    ]


def _order_times(order: Order, closetime: str) -> list[int]:
    return {"open": [order.created], "close": [order.closed], "both": [order.created, order.closed]}[closetime]


def _in_range(times: list[int], start: int | None, end: int | None) -> bool:
    return any((start is None or t > start) and (end is None or t < end) for t in times)


def _tier(schedule: tuple[tuple[Decimal, Decimal], ...], volume: Decimal) -> dict[str, object]:
    """One pair's fee line of TradeVolume: the current tier, the best and worst tiers, and the next one."""
    index = max(i for i, (threshold, _) in enumerate(schedule) if volume >= threshold)
    following = schedule[index + 1] if index + 1 < len(schedule) else None
    return {
        "fee": fixed(schedule[index][1], 4), "minfee": fixed(schedule[-1][1], 4), "maxfee": fixed(schedule[0][1], 4),
        "nextfee": fixed(following[1], 4) if following else None,
        "nextvolume": fixed(following[0], 4) if following else None,
        "tiervolume": fixed(schedule[index][0], 4),
    }
