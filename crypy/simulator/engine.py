"""The simulated exchange's order book keeper: validates, reserves, matches and settles orders exactly.

It keeps no clock of its own (callers pass ``now_ms``) and learns prices only from the closed candles it is fed,
so it runs the same under a replay, a test, or a virtual clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import msgspec

from crypy.protocols import Balance, Candle, Fill, Order, OrderStatus, OrderType, Side, check_transition, timeframe_ms

from .accounts import Ledger
from .errors import UNKNOWN_PAIR, ExchangeError, InsufficientFunds, OrderRejected, UnknownOrder
from .ids import KrakenIds
from .markets import MarketSpec
from .matching import Execution, buy_hold, candle_price, execution, market_buy_hold

INVALID_VOLUME = "EGeneral:Invalid arguments:volume"
INVALID_PRICE = "EGeneral:Invalid arguments:price"
INVALID_CLIENT_ID = "EGeneral:Invalid arguments:cl_ord_id"
MINIMUM_NOT_MET = "EOrder:Order minimum not met"
COST_MINIMUM_NOT_MET = "EOrder:Cost minimum not met"
NO_PRICE_YET = "EService:Unavailable"


@dataclass
class _Entry:
    """An order with who owns it and what it reserved."""

    account: str
    order: Order
    hold_asset: str
    hold_amount: Decimal


@dataclass
class _Book:
    """One account's orders (in placement order), client ids and fills."""

    orders: dict[str, _Entry] = field(default_factory=dict)
    client_ids: set[str] = field(default_factory=set)
    fills: list[Fill] = field(default_factory=list)


class MatchingEngine:
    """Spot exchange for several accounts and pairs; every amount is an exact ``Decimal`` on the market's grid."""

    def __init__(self, markets: dict[str, MarketSpec], spread: Decimal = Decimal("0.0005"), seed: int = 0) -> None:
        if not Decimal(0) <= spread < Decimal(1):
            raise ValueError(f"spread must be in [0, 1), got {spread}")
        self._markets = dict(markets)
        self._spread = spread
        self._ids = KrakenIds(seed)
        self._ledger = Ledger()
        self._books: dict[str, _Book] = {}
        self._active: dict[str, list[_Entry]] = {pair: [] for pair in markets}
        self._last: dict[str, Decimal] = {}

    @property
    def markets(self) -> dict[str, MarketSpec]:
        return dict(self._markets)

    @property
    def spread(self) -> Decimal:
        return self._spread

    def open_account(self, name: str, balances: dict[str, Decimal]) -> None:
        self._ledger.open(name, balances)
        self._books[name] = _Book()

    def balances(self, account: str) -> dict[str, Balance]:
        return self._ledger.balances(account)

    def fees(self) -> dict[str, Decimal]:
        """Fees the exchange has collected, per asset."""
        return self._ledger.fees()

    def place(
        self,
        account: str,
        *,
        client_id: str,
        pair: str,
        side: Side,
        order_type: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
        now_ms: int,
    ) -> Order:
        """Accept an order and reserve what it may spend, or raise ``OrderRejected`` with Kraken's reason.

        A market order's ``price`` is ignored, as on Kraken. Empty client ids are allowed and never collide.
        """
        book = self._book(account)
        spec = self._markets.get(pair)
        if spec is None:
            raise OrderRejected(UNKNOWN_PAIR, pair)
        amount = _rounded(spec.round_amount, amount, INVALID_VOLUME)
        if amount < spec.min_amount:
            raise OrderRejected(MINIMUM_NOT_MET, f"{amount} < {spec.min_amount} {spec.base}")
        limit = None if order_type is OrderType.MARKET else _rounded(spec.round_price, price, INVALID_PRICE)
        if client_id and client_id in book.client_ids:
            raise OrderRejected(INVALID_CLIENT_ID, f"duplicate client id {client_id!r}")
        reference = limit if limit is not None else self._last.get(pair)
        if reference is None:
            raise OrderRejected(NO_PRICE_YET, f"no price for {pair} yet")
        if reference * amount < spec.min_cost:
            raise OrderRejected(COST_MINIMUM_NOT_MET, f"{reference * amount} < {spec.min_cost} {spec.quote}")
        if side is Side.SELL:
            hold_asset, hold_amount = spec.base, amount
        elif limit is None:
            hold_asset, hold_amount = spec.quote, market_buy_hold(spec, reference, amount, self._spread)
        else:
            hold_asset, hold_amount = spec.quote, buy_hold(spec, limit, amount)
        try:
            self._ledger.hold(account, hold_asset, hold_amount)
        except InsufficientFunds as exc:
            raise OrderRejected(exc.reason, exc.detail) from None
        order = Order(
            ts=now_ms, id=self._ids.order(), client_id=client_id, pair=pair, side=side, order_type=order_type,
            amount=amount, price=limit, created=now_ms,
            status=OrderStatus.PENDING if order_type is OrderType.MARKET else OrderStatus.OPEN,
        )
        entry = _Entry(account=account, order=order, hold_asset=hold_asset, hold_amount=hold_amount)
        book.orders[order.id] = entry
        if client_id:
            book.client_ids.add(client_id)
        self._active[pair].append(entry)
        return order

    def cancel(self, account: str, order_id: str, *, now_ms: int) -> Order:
        """Cancel a live order and release its hold; closed and unknown orders are both ``UnknownOrder``."""
        entry = self._entry(account, order_id)
        if entry.order.status.is_terminal:
            raise UnknownOrder(f"{order_id} is already {entry.order.status}")
        self._ledger.release(account, entry.hold_asset, entry.hold_amount)
        self._update(entry, OrderStatus.CANCELLED, ts=now_ms)
        return entry.order

    def on_candle(self, candle: Candle) -> list[Fill]:
        """Match the pair's live orders that arrived before ``candle`` closed, then take its close as last price."""
        spec = self._spec(candle.pair)
        closed_at = candle.ts + timeframe_ms(candle.timeframe)
        fills: list[Fill] = []
        for entry in list(self._active[candle.pair]):
            if entry.order.created >= closed_at:
                continue
            found = execution(entry.order, candle, spec, self._spread)
            if found is not None:
                fill = self._settle(entry, spec, found, closed_at)
                if fill is not None:
                    fills.append(fill)
        self._last[candle.pair] = candle_price(candle.close)
        return fills

    def order(self, account: str, order_id: str) -> Order:
        return self._entry(account, order_id).order

    def orders(self, account: str) -> list[Order]:
        return [entry.order for entry in self._book(account).orders.values()]

    def open_orders(self, account: str) -> list[Order]:
        return [order for order in self.orders(account) if not order.status.is_terminal]

    def fills(self, account: str, since_index: int = 0) -> list[Fill]:
        """Fills in execution order from ``since_index``: a poller passes how many it has already seen."""
        if since_index < 0:
            raise ValueError(f"since_index must not be negative, got {since_index}")
        return self._book(account).fills[since_index:]

    def last_price(self, pair: str) -> Decimal | None:
        """Close of the last candle fed for ``pair``; ``None`` before the first one."""
        self._spec(pair)
        return self._last.get(pair)

    def _settle(self, entry: _Entry, spec: MarketSpec, found: Execution, ts: int) -> Fill | None:
        """Move the money of one full fill; a market buy that can no longer pay is rejected instead."""
        order = entry.order
        cost = found.price * order.amount
        fee = spec.fee(cost, spec.maker_fee if found.liquidity == "maker" else spec.taker_fee)
        base, quote = (spec.base, order.amount), (spec.quote, cost)
        self._ledger.release(entry.account, entry.hold_asset, entry.hold_amount)
        try:
            if order.side is Side.BUY:
                self._ledger.trade(entry.account, pay=quote, receive=base, fee=(spec.quote, fee))
            else:
                self._ledger.trade(entry.account, pay=base, receive=quote, fee=(spec.quote, fee))
        except InsufficientFunds as exc:
            self._update(entry, OrderStatus.REJECTED, ts=ts, reason=exc.reason)
            return None
        fill = Fill(
            ts=ts, id=self._ids.trade(), order_id=order.id, client_id=order.client_id, pair=order.pair,
            side=order.side, price=found.price, amount=order.amount, fee=fee, fee_asset=spec.quote,
            liquidity=found.liquidity,
        )
        self._update(entry, OrderStatus.FILLED, ts=ts, filled=order.amount, avg_price=found.price, fee=fee)
        self._books[entry.account].fills.append(fill)
        return fill

    def _update(self, entry: _Entry, status: OrderStatus, **changes: object) -> None:
        check_transition(entry.order.status, status)
        entry.order = msgspec.structs.replace(entry.order, status=status, **changes)
        if status.is_terminal:
            self._active[entry.order.pair].remove(entry)

    def _book(self, account: str) -> _Book:
        self._ledger.require(account)
        return self._books[account]

    def _entry(self, account: str, order_id: str) -> _Entry:
        entry = self._book(account).orders.get(order_id)
        if entry is None:
            raise UnknownOrder(f"no order {order_id!r} for {account!r}")
        return entry

    def _spec(self, pair: str) -> MarketSpec:
        spec = self._markets.get(pair)
        if spec is None:
            raise ExchangeError(UNKNOWN_PAIR, pair)
        return spec


def _rounded(round_to_grid: Callable[[Decimal], Decimal], value: Decimal | None, reason: str) -> Decimal:
    """``value`` on the market's grid, or ``OrderRejected(reason)`` if it is missing, not finite or not positive."""
    if value is None or not value.is_finite() or value <= 0:
        raise OrderRejected(reason, f"{value} is not a positive number")
    try:
        rounded = round_to_grid(value)
    except InvalidOperation:
        raise OrderRejected(reason, f"{value} is out of range") from None
    if rounded <= 0:
        raise OrderRejected(reason, f"{value} rounds to zero")
    return rounded
