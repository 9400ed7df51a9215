"""Orders and fills, with the order status state machine.

All amounts, prices and fees are ``Decimal``: money is exact.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from .base import Event


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    """Order types, spelled as Kraken spells them. Stop and take-profit types wait for ``trigger_price``."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_LOSS = "stop-loss"
    TAKE_PROFIT = "take-profit"
    STOP_LOSS_LIMIT = "stop-loss-limit"
    TAKE_PROFIT_LIMIT = "take-profit-limit"
    TRAILING_STOP = "trailing-stop"

    @property
    def has_limit_price(self) -> bool:
        return self in _WITH_LIMIT_PRICE

    @property
    def is_triggered(self) -> bool:
        return self not in _UNTRIGGERED


_WITH_LIMIT_PRICE = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_UNTRIGGERED = frozenset({OrderType.MARKET, OrderType.LIMIT})


class TimeInForce(enum.StrEnum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: what cannot fill on the next price is cancelled
    GTD = "gtd"  # good till date: expires at ``expire_ts``


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # accepted by the exchange, not yet on the book (a market order awaiting the next price)
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED,
         OrderStatus.REJECTED, OrderStatus.EXPIRED}
    ),
    OrderStatus.OPEN: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
}


class InvalidTransition(ValueError):
    """An order was asked to move to a status its current status cannot reach."""


def check_transition(old: OrderStatus, new: OrderStatus) -> None:
    """Raise ``InvalidTransition`` unless ``old -> new`` is a legal step (staying put is always legal)."""
    if old == new:
        return
    if new not in _TRANSITIONS.get(old, frozenset()):
        raise InvalidTransition(f"order cannot go from {old} to {new}")


class Approval(msgspec.Struct, frozen=True, kw_only=True):
    """A holder's signed permission for one trader to spend up to ``amount`` of ``asset`` on ``pair``.

    The desk verifies ``signature`` (HMAC by the holder's key) on every order request that spends the asset.
    """

    id: str
    holder: str
    trader: str
    pair: str
    asset: str
    amount: Decimal
    expires: int
    signature: str


class OrderRequest(Event, frozen=True, kw_only=True):
    """A trader asks the desk to place an order. ``price`` is required for limit orders only.

    ``stop_loss`` and ``take_profit`` are trigger prices of exits attached to an entry: once the entry fills,
    the desk places them (on the exchange, or watches them itself when the exchange has no such orders) for
    the amount filled, one cancels the other, and an exit of the trader cancels both.
    """

    client_id: str
    trader: str
    pair: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trailing_offset: Decimal | None = None
    trailing_percent: bool = False
    post_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_ts: int = 0
    approval: Approval | None = None
    reason: str = ""
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


class CancelRequest(Event, frozen=True, kw_only=True):
    """A trader asks the desk to cancel one of its orders."""

    client_id: str
    trader: str


class OrderRefused(Event, frozen=True, kw_only=True):
    """The desk (or the exchange) would not place a request. ``reason`` says why in words a human reads."""

    client_id: str
    trader: str
    pair: str
    reason: str


class Order(Event, frozen=True, kw_only=True):
    """The state of one order as last known. Every change of status is a new ``Order`` event.

    ``trader`` is empty when the exchange reports the order; the desk fills it in from the client id.
    """

    id: str
    client_id: str
    pair: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None
    status: OrderStatus
    trader: str = ""
    filled: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fee: Decimal = Decimal(0)
    created: int = 0
    closed: int = 0
    reason: str = ""
    trigger_price: Decimal | None = None
    trailing_offset: Decimal | None = None
    trailing_percent: bool = False
    post_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_ts: int = 0
    userref: int = 0

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled


class Fill(Event, frozen=True, kw_only=True):
    """One execution (Kraken calls it a trade). ``fee`` is charged in ``fee_asset`` (the quote currency)."""

    id: str
    order_id: str
    client_id: str
    pair: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: str  # "maker" or "taker"
    trader: str = ""

    @property
    def cost(self) -> Decimal:
        return self.price * self.amount
