"""Kraken WebSocket v2 private messages: ``executions`` items for orders and fills, ``balances`` snapshots and updates.

The engine reports order *states*; Kraken reports *events* (``exec_type``). ``OrderTracker`` remembers each live
order's last state so that an amendment (same status, new terms) can be told from a status change. Every item
carries ``symbol``, ``side``, ``order_type`` and ``order_qty``: ccxt merges updates per (symbol, order id), and an
update without them becomes a second, half-empty order on its side.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from decimal import Decimal

import msgspec

from crypy.protocols import Balance, Fill, Order, OrderStatus, TimeInForce

from .formats import USER_REQUESTED
from .ws_channels import rfc3339

ORDER_STATUS = {
    OrderStatus.PENDING: "pending_new",
    OrderStatus.OPEN: "new",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "canceled",
    OrderStatus.REJECTED: "canceled",
    OrderStatus.EXPIRED: "expired",
}
_CLOSING = {
    OrderStatus.FILLED: "filled", OrderStatus.CANCELLED: "canceled", OrderStatus.REJECTED: "canceled",
    OrderStatus.EXPIRED: "expired",
}
OPEN_CLOSE = frozenset({"new", "filled", "canceled", "expired"})
"""The order events a subscription with ``order_status: false`` still receives (fills always go out)."""

FEE_IN_QUOTE = "fciq"  # the simulator charges every fee in the quote currency


class OrderTracker:
    """The last reported state of every live order, per account."""

    def __init__(self) -> None:
        self._live: dict[tuple[str, str], Order] = {}

    def seed(self, account: str, orders: list[Order]) -> None:
        """Orders that were live before anyone watched: their next report is measured against this state."""
        for order in orders:
            self._live.setdefault((account, order.id), order)

    def exec_types(self, account: str, order: Order) -> list[str]:
        """The events this state reports. A limit order first seen live gets ``pending_new`` then ``new``, as on
        Kraken; a market order is reported pending first and goes straight to its fill."""
        key = (account, order.id)
        if order.status.is_terminal:
            self._live.pop(key, None)
            return [_CLOSING[order.status]]
        previous = self._live.get(key)
        self._live[key] = order
        if order.status is OrderStatus.PENDING:
            return ["pending_new"]
        if previous is None:
            return ["pending_new", "new"]
        if previous.status is OrderStatus.PENDING:
            return ["new"]
        return ["amended"] if _terms(previous) != _terms(order) else ["status"]

    def get(self, account: str, order_id: str) -> Order | None:
        return self._live.get((account, order_id))


def order_item(order: Order, exec_type: str, symbol: str, fee_usd: Decimal | None) -> dict[str, object]:
    """One order event with every field Kraken's spot executions carry for it."""
    item: dict[str, object] = {
        "exec_type": exec_type, "order_id": order.id, "symbol": symbol, "side": str(order.side),
        "order_type": str(order.order_type), "order_qty": order.amount,
        "order_status": "pending_new" if exec_type == "pending_new" else ORDER_STATUS[order.status],
        "time_in_force": order.time_in_force.upper(), "order_userref": order.userref, "post_only": order.post_only,
        **_progress(order), "fee_ccy_pref": FEE_IN_QUOTE, "timestamp": rfc3339(order.ts),
    }
    if fee_usd is not None:
        item["fee_usd_equiv"] = fee_usd
    if order.client_id:
        item["cl_ord_id"] = order.client_id
    if order.price is not None:
        item["limit_price"] = order.price
    if order.trigger_price is not None:
        item["stop_price"] = order.trigger_price
        item["triggers"] = {"reference": "last", "price": order.trigger_price, "price_type": "static"}
    elif order.trailing_offset is not None:
        item["triggers"] = {"reference": "last", "price": order.trailing_offset,
                            "price_type": "pct" if order.trailing_percent else "quote"}
    if order.time_in_force is TimeInForce.GTD:
        item["expire_time"] = rfc3339(order.expire_ts)
    if exec_type == "canceled":
        item["reason"] = order.reason or USER_REQUESTED
    elif exec_type == "expired":
        item["reason"] = order.reason or "Order expired"
    elif exec_type == "amended":
        item["amended"] = True
    return item


def fill_item(fill: Fill, order: Order, symbol: str, fee_asset: str, fee_usd: Decimal | None) -> dict[str, object]:
    """One fill as a ``trade`` event, with the order's terms and progress.

    ``trade_id`` is Kraken's public trade number; a simulated fill has none, so it is a stable number derived
    from ``exec_id`` (the fill id, which is what ccxt uses as the trade id).
    """
    item: dict[str, object] = {
        "exec_type": "trade", "exec_id": fill.id, "trade_id": zlib.crc32(fill.id.encode()),
        "order_id": fill.order_id, "symbol": symbol, "side": str(fill.side), "order_type": str(order.order_type),
        "order_qty": order.amount, "order_userref": order.userref,
        "order_status": "filled" if order.status is OrderStatus.FILLED else "partially_filled",
        "last_qty": fill.amount, "last_price": fill.price, "cost": fill.cost,
        "liquidity_ind": "m" if fill.liquidity == "maker" else "t", "fees": [{"asset": fee_asset, "qty": fill.fee}],
        **_progress(order), "fee_ccy_pref": FEE_IN_QUOTE, "timestamp": rfc3339(fill.ts),
    }
    if fee_usd is not None:
        item["fee_usd_equiv"] = fee_usd
    if fill.client_id:
        item["cl_ord_id"] = fill.client_id
    return item


def balance_snapshot(balances: dict[str, Balance], name: Callable[[str], str]) -> list[dict[str, object]]:
    """Every asset held, under its v2 name (``BTC``, not ``XXBT``), in the single spot wallet the simulator has."""
    return [
        {"asset": name(asset), "asset_class": "currency", "balance": balance.total,
         "wallets": [{"type": "spot", "id": "main", "balance": balance.total}]}
        for asset, balance in sorted(balances.items())
    ]


def ledger_entries(
    fill: Fill, base: str, quote: str, balances: dict[str, Balance], name: Callable[[str], str],
    ledger_id: Callable[[], str],
) -> list[dict[str, object]]:
    """The two ledger entries a fill books, as ``balances`` updates: base and quote legs with the new balances.

    ``amount`` is the gross movement and ``fee`` what was charged on top, in the fee's asset, as in Kraken's ledger.
    """
    sign = 1 if str(fill.side) == "buy" else -1
    legs = ((base, sign * fill.amount), (quote, -sign * fill.cost))
    return [
        {"asset": name(asset), "asset_class": "currency", "amount": amount,
         "balance": balances[asset].total if asset in balances else Decimal(0),
         "fee": fill.fee if asset == fill.fee_asset else Decimal(0), "ledger_id": ledger_id(), "ref_id": fill.id,
         "timestamp": rfc3339(fill.ts), "type": "trade", "subtype": "", "category": "trade",
         "wallet_type": "spot", "wallet_id": "main"}
        for asset, amount in legs
    ]


def with_fill(order: Order, fill: Fill) -> Order:
    """``order`` as ``fill`` leaves it: filled quantity, average price and status."""
    filled = order.filled + fill.amount
    cost = order.filled * (order.avg_price or Decimal(0)) + fill.cost
    status = OrderStatus.FILLED if filled >= order.amount else OrderStatus.PARTIALLY_FILLED
    return msgspec.structs.replace(order, filled=filled, avg_price=cost / filled, status=status)


def _progress(order: Order) -> dict[str, object]:
    average = order.avg_price if order.avg_price is not None else Decimal(0)
    return {"cum_qty": order.filled, "cum_cost": order.filled * average, "avg_price": average}


def _terms(order: Order) -> tuple[object, ...]:
    """What an amendment can change."""
    return (order.amount, order.price, order.trigger_price, order.trailing_offset, order.post_only,
            order.time_in_force, order.expire_ts)
