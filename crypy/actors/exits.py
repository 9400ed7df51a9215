"""Stop-loss and take-profit exits linked to their entry: what to place, amend or cancel, and when (no I/O).

An entry request may carry ``stop_loss`` and/or ``take_profit`` trigger prices. Once the entry is done, the book
asks for one exit order per trigger, for the amount the entry filled, on the opposite side. The two are one
cancels the other (OCO): a full fill of one cancels the other, and a partial fill shrinks it to what is left, so
that whichever fills, no more is given back than the entry got. An exit of the trader itself cancels both first,
because both hold the position's funds on the exchange.

Exit types the exchange does not offer are emulated: the book keeps them armed and ``on_price`` checks each
closed candle; a triggered one becomes a market order. The desk does every exchange call and reports back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from crypy.protocols import Fill, Order, OrderRequest, OrderStatus, OrderType, Side

ExitKind = Literal["stop_loss", "take_profit"]

_KINDS: tuple[ExitKind, ...] = ("stop_loss", "take_profit")  # this order is also the tie-break: the stop wins
_TYPES: dict[ExitKind, OrderType] = {"stop_loss": OrderType.STOP_LOSS, "take_profit": OrderType.TAKE_PROFIT}
_SUFFIXES: dict[ExitKind, str] = {"stop_loss": "sl", "take_profit": "tp"}


@dataclass(frozen=True)
class ExitOrder:
    """One exit of an entry. ``emulated`` ones are watched by the desk and sent as market orders once triggered."""

    client_id: str
    trader: str
    pair: str
    side: Side
    order_type: OrderType
    amount: Decimal
    trigger_price: Decimal
    entry_client_id: str
    kind: ExitKind
    emulated: bool = False

    @property
    def exchange_type(self) -> OrderType:
        """The type to send: the exit's own, or a market order for an emulated exit that triggered."""
        return OrderType.MARKET if self.emulated else self.order_type

    @property
    def exchange_trigger(self) -> Decimal | None:
        """The trigger price to send; none for an emulated exit, which the desk sends only once triggered."""
        return None if self.emulated else self.trigger_price


@dataclass
class ExitActions:
    """What the desk must do now. ``cancel`` and ``amend`` name exits by client id; ``amend`` gives the new total
    amount (what already filled included, as Kraken and the simulator count it); ``lost`` are exits the exchange
    ended without being asked, for the desk to log."""

    place: list[ExitOrder] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    amend: list[tuple[str, Decimal]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.place or self.cancel or self.amend or self.lost)

    def __add__(self, other: ExitActions) -> ExitActions:
        return ExitActions(self.place + other.place, self.cancel + other.cancel, self.amend + other.amend,
                           self.lost + other.lost)


@dataclass
class _Exit:
    order: ExitOrder
    on_exchange: bool  # placed (asked of the desk); an emulated exit only once it triggered
    filled: Decimal = Decimal(0)
    order_id: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.order.amount - self.filled


@dataclass
class _Link:
    """An entry and its exits. ``protected`` is the amount the exits were sized for, None while the entry runs."""

    request: OrderRequest
    amount_decimals: int | None
    entry_filled: Decimal = Decimal(0)
    protected: Decimal | None = None
    exits_filled: Decimal = Decimal(0)
    exits: dict[ExitKind, _Exit] = field(default_factory=dict)
    replacements: dict[ExitKind, int] = field(default_factory=dict)

    def triggers(self) -> Iterator[tuple[ExitKind, Decimal]]:
        for kind in _KINDS:
            trigger = getattr(self.request, kind)
            if trigger is not None:
                yield kind, trigger


class ExitBook:
    """Every entry with exits attached, and their exit orders, of one desk.

    ``supported`` are the order types the exchange accepts (leave a type out to have it emulated, e.g. when
    resting exits would each hold the whole position); ``amend`` whether it can shrink a live order in place.
    """

    def __init__(self, supported: frozenset[OrderType], *, amend: bool = False) -> None:
        self.supported = supported
        self.can_amend = amend
        self._links: dict[str, _Link] = {}
        self._exit_links: dict[str, _Link] = {}
        self._order_ids: dict[str, str] = {}
        self._issued: set[str] = set()

    def attach(self, request: OrderRequest, amount_decimals: int | None = None) -> None:
        """Link an entry that passed the gate to its exits. ``amount_decimals`` rounds the exits down to the
        market's precision, so that the book counts exactly what the exchange will hold."""
        if (request.stop_loss is not None or request.take_profit is not None) and request.client_id not in self._links:
            self._links[request.client_id] = _Link(request, amount_decimals)

    def placed(self, client_id: str, order_id: str) -> None:
        """The exchange's id of an exit order, to recognise its fills and states when they lack the client id."""
        link = self._exit_links.get(client_id)
        if link is not None and order_id:
            link.exits[self._kind(link, client_id)].order_id = order_id
            self._order_ids[order_id] = client_id

    def refused(self, client_id: str) -> ExitActions:
        """The exchange would not take this order: an entry loses its link, an exit is lost (its sibling stays)."""
        if self._links.pop(client_id, None) is not None:
            return ExitActions()
        return self._lose(client_id)

    def on_fill(self, fill: Fill) -> ExitActions:
        """A booked fill. An entry's grows what its exits will protect; an exit's shrinks or cancels its sibling."""
        client_id = self._client_id(fill.client_id, fill.order_id)
        link = self._links.get(client_id)
        if link is not None:
            if link.protected is None:  # fills are booked before the entry's final state, so none come later
                link.entry_filled += fill.amount
            return ExitActions()
        link = self._exit_links.get(client_id)
        if link is None or link.protected is None:
            return ExitActions()
        kind = self._kind(link, client_id)
        done = link.exits[kind]
        done.filled += fill.amount
        link.exits_filled += fill.amount
        if done.remaining <= 0:
            self._drop(link, kind)
        left = link.protected - link.exits_filled
        if left <= 0:
            return self._close(link)
        actions = ExitActions()
        for sibling in [k for k in link.exits if k != kind]:
            actions += self._resize(link, sibling, left)
        return actions

    def on_order(self, order: Order) -> ExitActions:
        """A published order state. A finished entry arms its exits; an exit the exchange ended unasked is lost."""
        client_id = self._client_id(order.client_id, order.id)
        self.placed(client_id, order.id)
        if not order.status.is_terminal:
            return ExitActions()
        link = self._links.get(client_id)
        if link is not None:
            return self._arm(link) if link.protected is None else ExitActions()
        if client_id not in self._exit_links:
            return ExitActions()
        if order.status is OrderStatus.FILLED:  # its fills were booked already: this only ends it
            link = self._exit_links[client_id]
            self._drop(link, self._kind(link, client_id))
            if not link.exits:
                self._forget(link)
            return ExitActions()
        return self._lose(client_id)

    def before_exit(self, trader: str, pair: str) -> ExitActions:
        """The trader (or the desk for it) is about to exit: cancel its exits on ``pair`` and forget the links,
        those of entries still running included. Call it before sending the exit, which needs the funds."""
        return self._close_all(link for link in self._links.values()
                               if link.request.trader == trader and link.request.pair == pair)

    def clear(self) -> ExitActions:
        """Cancel and forget everything (the desk's kill and stop), so no emulated exit fires while halted."""
        return self._close_all(self._links.values())

    def on_price(self, pair: str, low: float, high: float) -> ExitActions:
        """A closed candle of ``pair``: fire the emulated exits it triggered, as market orders.

        A candle does not say whether its low or its high came first, so when it crosses both triggers of an
        entry the stop-loss wins (the conservative guess). When the winner is an exchange order, the exchange
        fires it and the book waits for its fills.
        """
        actions = ExitActions()
        links = [link for link in self._links.values() if link.request.pair == pair and link.exits]
        if not links:
            return actions
        lo, hi = Decimal(repr(low)), Decimal(repr(high))
        for link in links:
            crossed = [kind for kind in _KINDS if kind in link.exits and _crossed(link.exits[kind].order, lo, hi)]
            if not crossed:
                continue
            winner = link.exits[crossed[0]]
            if winner.on_exchange:
                continue
            for kind in [k for k in link.exits if k != crossed[0]]:
                actions += self._cancel(link, kind)
            winner.on_exchange = True
            actions.place.append(winner.order)
        return actions

    def armed(self) -> bool:
        """Whether any exit is armed (watched here or on the exchange): a closing candle may fire one."""
        return any(link.exits for link in self._links.values())

    def live(self, trader: str | None = None) -> list[ExitOrder]:
        """Every exit still watched or on the exchange (of ``trader`` only, when given)."""
        return [e.order for link in self._links.values() for e in link.exits.values()
                if trader is None or link.request.trader == trader]

    def exit_client_ids(self) -> set[str]:
        """Client ids of the live exits."""
        return set(self._exit_links)

    def is_exit(self, client_id: str) -> bool:
        """Whether this book ever issued ``client_id``: late states and fills of cancelled exits are exits too."""
        return client_id in self._issued

    def _client_id(self, client_id: str, order_id: str) -> str:
        return client_id or self._order_ids.get(order_id, "")

    @staticmethod
    def _kind(link: _Link, client_id: str) -> ExitKind:
        return next(kind for kind, e in link.exits.items() if e.order.client_id == client_id)

    def _arm(self, link: _Link) -> ExitActions:
        request = link.request
        amount = link.entry_filled
        if link.amount_decimals is not None:
            amount = amount.quantize(Decimal(1).scaleb(-link.amount_decimals), rounding=ROUND_DOWN)
        if amount <= 0:
            self._forget(link)
            return ExitActions()
        link.protected = amount
        actions = ExitActions()
        for kind, trigger in link.triggers():
            order_type = _TYPES[kind]
            order = ExitOrder(client_id=f"{request.client_id}-{_SUFFIXES[kind]}", trader=request.trader,
                              pair=request.pair, side=request.side.opposite, order_type=order_type, amount=amount,
                              trigger_price=trigger, entry_client_id=request.client_id, kind=kind,
                              emulated=order_type not in self.supported)
            self._add(link, _Exit(order, on_exchange=not order.emulated))
            if not order.emulated:
                actions.place.append(order)
        return actions

    def _resize(self, link: _Link, kind: ExitKind, left: Decimal) -> ExitActions:
        """Make ``kind``'s exit give back exactly ``left``: in the book, by amending, or by a new order."""
        sibling = link.exits[kind]
        if sibling.remaining == left:
            return ExitActions()
        if not sibling.on_exchange:
            sibling.order = replace(sibling.order, amount=sibling.filled + left)
            return ExitActions()
        if self.can_amend:
            sibling.order = replace(sibling.order, amount=sibling.filled + left)
            return ExitActions(amend=[(sibling.order.client_id, sibling.order.amount)])
        actions = self._cancel(link, kind)
        number = link.replacements.get(kind, 1) + 1
        link.replacements[kind] = number
        order = replace(sibling.order, client_id=f"{link.request.client_id}-{_SUFFIXES[kind]}-{number}", amount=left)
        self._add(link, _Exit(order, on_exchange=True))
        actions.place.append(order)
        return actions

    def _add(self, link: _Link, exit_: _Exit) -> None:
        link.exits[exit_.order.kind] = exit_
        self._exit_links[exit_.order.client_id] = link
        self._issued.add(exit_.order.client_id)

    def _drop(self, link: _Link, kind: ExitKind) -> _Exit:
        exit_ = link.exits.pop(kind)
        self._exit_links.pop(exit_.order.client_id, None)
        self._order_ids.pop(exit_.order_id, None)
        return exit_

    def _cancel(self, link: _Link, kind: ExitKind) -> ExitActions:
        """Forget ``kind``'s exit, asking the exchange to cancel it if it is there."""
        exit_ = self._drop(link, kind)
        return ExitActions(cancel=[exit_.order.client_id]) if exit_.on_exchange else ExitActions()

    def _close(self, link: _Link) -> ExitActions:
        actions = ExitActions()
        for kind in list(link.exits):
            actions += self._cancel(link, kind)
        self._forget(link)
        return actions

    def _close_all(self, links: Iterable[_Link]) -> ExitActions:
        actions = ExitActions()
        for link in list(links):
            actions += self._close(link)
        return actions

    def _lose(self, client_id: str) -> ExitActions:
        link = self._exit_links.get(client_id)
        if link is None:
            return ExitActions()
        self._drop(link, self._kind(link, client_id))
        if not link.exits:
            self._forget(link)
        return ExitActions(lost=[client_id])

    def _forget(self, link: _Link) -> None:
        self._links.pop(link.request.client_id, None)
        for kind in list(link.exits):
            self._drop(link, kind)


def _crossed(order: ExitOrder, low: Decimal, high: Decimal) -> bool:
    """A sell stop and a buy take-profit wait for the price to fall to their trigger; the other two for a rise."""
    falling = (order.kind == "stop_loss") == (order.side is Side.SELL)
    return low <= order.trigger_price if falling else high >= order.trigger_price
