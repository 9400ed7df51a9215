"""Who owns which order, what each reserved, and who hears about every change.

Every change of an order goes through ``OrderBooks.update``, which checks the status transition, stamps ``closed``
on terminal orders and tells the listeners, so no state change can reach the ledger without being seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from crypy.protocols import Fill, Order, OrderStatus, OrderType, TimeInForce, check_transition

from .errors import ExchangeError, UnknownOrder

Listener = Callable[[str, Order | Fill], None]
"""Called with ``(account, event)`` for every order change and every fill, synchronously, after the change."""

UNKNOWN_TRADE = "EGeneral:Invalid arguments:txid"
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[str | int, ...]:
    """``text`` ordered as people read numbers in it: ``T-9`` before ``T-10`` (client ids, in the engine)."""
    return tuple(int(part) if index % 2 else part for index, part in enumerate(_DIGITS.split(text)))


@dataclass
class Entry:
    """An order with its owner, its hold, and the matching state the ``Order`` itself does not show."""

    account: str
    order: Order
    hold_asset: str
    hold_amount: Decimal
    since: int
    """The order trades against candles closing after this: its placement, or the close that triggered it."""
    triggered: bool = False
    extreme: Decimal | None = None
    """A trailing stop's best price so far: the peak for a sell, the trough for a buy."""
    cost: Decimal = Decimal(0)
    """Quote value of what has filled, so the average price stays exact."""
    priority: tuple[tuple[str | int, ...], str] = field(init=False)
    """Among orders that arrived during the same candle: by client id as people read it, then id (``on_candle``).
    Worked out once: the engine sorts the live orders on every candle."""

    def __post_init__(self) -> None:
        self.priority = (natural_key(self.order.client_id), self.order.id)

    @property
    def resting(self) -> bool:
        """Whether the order sits on the book at its limit price (a plain limit, or a triggered ``*-limit``)."""
        order_type = self.order.order_type
        return order_type.has_limit_price and (order_type is OrderType.LIMIT or self.triggered)

    @property
    def on_book(self) -> bool:
        """Resting and visible to others: IOC orders never rest, so they never show in the order book."""
        return self.resting and self.order.time_in_force is not TimeInForce.IOC and not self.order.status.is_terminal


@dataclass
class AccountBook:
    """One account's orders (in placement order), client ids and fills."""

    orders: dict[str, Entry] = field(default_factory=dict)
    client_ids: dict[str, str] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    fill_index: dict[str, int] = field(default_factory=dict)


class OrderBooks:
    """Every account's orders and fills, plus each pair's live orders in the order they arrived (time priority)."""

    def __init__(self, pairs: list[str]) -> None:
        self._accounts: dict[str, AccountBook] = {}
        self._live: dict[str, list[Entry]] = {pair: [] for pair in pairs}
        self._listeners: list[Listener] = []

    def open_account(self, account: str) -> None:
        self._accounts[account] = AccountBook()

    def add_listener(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def account(self, account: str) -> AccountBook:
        """The caller has checked that the account exists (the ledger owns that question)."""
        return self._accounts[account]

    def entry(self, account: str, order_id: str) -> Entry:
        entry = self._accounts[account].orders.get(order_id)
        if entry is None:
            raise UnknownOrder(f"no order {order_id!r} for {account!r}")
        return entry

    def by_client_id(self, account: str, client_id: str) -> Entry:
        order_id = self._accounts[account].client_ids.get(client_id) if client_id else None
        if order_id is None:
            raise UnknownOrder(f"no order with client id {client_id!r} for {account!r}")
        return self._accounts[account].orders[order_id]

    def fill(self, account: str, fill_id: str) -> Fill:
        book = self._accounts[account]
        index = book.fill_index.get(fill_id)
        if index is None:
            raise ExchangeError(UNKNOWN_TRADE, f"no trade {fill_id!r} for {account!r}")
        return book.fills[index]

    def any_live(self) -> bool:
        return any(self._live.values())

    def live(self, pair: str) -> list[Entry]:
        """A copy, so that matching may close orders while walking it."""
        return list(self._live[pair])

    def add(self, entry: Entry) -> None:
        book = self._accounts[entry.account]
        book.orders[entry.order.id] = entry
        if entry.order.client_id:
            book.client_ids[entry.order.client_id] = entry.order.id
        self._live[entry.order.pair].append(entry)
        self._notify(entry.account, entry.order)

    def update(self, entry: Entry, status: OrderStatus, *, ts: int, **changes: object) -> None:
        """Move ``entry`` to ``status`` (or restate it: a trigger, an amend) and tell the listeners."""
        check_transition(entry.order.status, status)
        if status.is_terminal:
            changes["closed"] = ts
            self._live[entry.order.pair].remove(entry)
        entry.order = msgspec.structs.replace(entry.order, status=status, ts=ts, **changes)
        self._notify(entry.account, entry.order)

    def record_fill(self, account: str, fill: Fill) -> None:
        book = self._accounts[account]
        book.fill_index[fill.id] = len(book.fills)
        book.fills.append(fill)
        self._notify(account, fill)

    def _notify(self, account: str, event: Order | Fill) -> None:
        for listener in self._listeners:
            listener(account, event)
