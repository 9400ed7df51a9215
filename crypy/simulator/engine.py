"""The simulated exchange's order keeper: validates, reserves, triggers, matches and settles orders exactly.

It keeps no clock of its own (callers pass ``now_ms``) and learns prices only from the closed candles it is fed,
so it runs the same under a replay, a test, or a virtual clock. Each candle is decided on its own, in time order,
and only for orders placed before it closed: nothing sees the future.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from crypy.protocols import Balance, Candle, Fill, Order, OrderStatus, OrderType, Side, TimeInForce, timeframe_ms

from .accounts import Ledger
from .bookkeeping import Entry, Listener, OrderBooks
from .errors import UNKNOWN_PAIR, ExchangeError, InsufficientFunds, OrderRejected, UnknownOrder
from .fills import Settlement
from .ids import KrakenIds
from .markets import MarketSpec
from .matching import (
    Execution,
    candle_price,
    limit_execution,
    maker_quantity,
    marketable,
    opens_through,
    taker_price,
)
from .placement import (
    INVALID_ARGUMENTS,
    INVALID_CLIENT_ID,
    INVALID_LIMIT_PRICE,
    INVALID_ORDER_QTY,
    INVALID_TRIGGER_PRICE,
    INVALID_VOLUME,
    POST_ONLY,
    Terms,
    check_expiry,
    check_size,
    has_fixed_trigger,
    order_terms,
    reference_price,
    required_hold,
    rounded,
)
from .reach import CandleRange, untouched
from .triggers import fixed_trigger, trailing_trigger

_LIVE = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class MatchingEngine:
    """Spot exchange for several accounts and pairs; every amount is an exact ``Decimal`` on the market's grid.

    ``fill_share`` caps what a resting (maker) order gets of one candle's traded volume: other orders queue at
    the same price, so a large limit order fills over several candles.
    """

    def __init__(
        self,
        markets: dict[str, MarketSpec],
        spread: Decimal = Decimal("0.0005"),
        seed: int = 0,
        fill_share: Decimal = Decimal("0.25"),
    ) -> None:
        if not Decimal(0) <= spread < Decimal(1):
            raise ValueError(f"spread must be in [0, 1), got {spread}")
        if not Decimal(0) < fill_share <= Decimal(1):
            raise ValueError(f"fill_share must be in (0, 1], got {fill_share}")
        self._markets = dict(markets)
        self._spread = spread
        self._fill_share = fill_share
        self._ids = KrakenIds(seed)
        self._ledger = Ledger()
        self._books = OrderBooks(list(markets))
        self._last: dict[str, Decimal] = {}
        self._settlement = Settlement(self._ledger, self._books, self._ids, self._last)
        self._now = 0

    @property
    def markets(self) -> dict[str, MarketSpec]:
        return dict(self._markets)

    @property
    def spread(self) -> Decimal:
        return self._spread

    def open_account(self, name: str, balances: dict[str, Decimal]) -> None:
        self._ledger.open(name, balances)
        self._books.open_account(name)

    def add_listener(self, callback: Listener) -> None:
        """``callback(account, event)`` hears every order change and every fill (a fill before its order's update)."""
        self._books.add_listener(callback)

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
        trigger_price: Decimal | None = None,
        trailing_offset: Decimal | None = None,
        trailing_percent: bool = False,
        post_only: bool = False,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_ts: int = 0,
        userref: int = 0,
        validate: bool = False,
        now_ms: int,
    ) -> Order:
        """Accept an order and reserve what it may spend, or raise ``OrderRejected`` with Kraken's reason.

        With ``validate`` every check runs but nothing is stored or reserved: the order comes back with id ``""``
        and status PENDING. Empty client ids are allowed and never collide.
        """
        self._ledger.require(account)
        spec = self._markets.get(pair)
        if spec is None:
            raise OrderRejected(UNKNOWN_PAIR, pair)
        amount = rounded(spec.round_amount, amount, INVALID_VOLUME)
        terms = order_terms(spec, order_type, price=price, trigger_price=trigger_price, trailing_offset=trailing_offset,
                            trailing_percent=trailing_percent, post_only=post_only)
        check_expiry(time_in_force, expire_ts, now_ms)
        if client_id and client_id in self._books.account(account).client_ids:
            raise OrderRejected(INVALID_CLIENT_ID, f"duplicate client id {client_id!r}")
        last = self._last.get(pair)
        reference = reference_price(order_type, side, terms, trailing_percent, last)
        check_size(spec, amount, reference)
        if post_only and order_type is OrderType.LIMIT:
            self._check_post_only(spec, side, terms.price, last)
        hold_asset, hold_amount = required_hold(spec, side, order_type, amount, reference, self._spread)
        trailing = order_type is OrderType.TRAILING_STOP
        order = Order(
            ts=now_ms, id="", client_id=client_id, pair=pair, side=side, order_type=order_type, amount=amount,
            price=terms.price, status=OrderStatus.PENDING, created=now_ms, trigger_price=terms.trigger_price,
            trailing_offset=terms.trailing_offset, trailing_percent=trailing_percent and trailing,
            post_only=post_only, time_in_force=time_in_force, expire_ts=expire_ts, userref=userref,
        )
        self._require_funds(account, hold_asset, hold_amount)
        if validate:
            return order
        self._ledger.hold(account, hold_asset, hold_amount)
        status = OrderStatus.PENDING if order_type is OrderType.MARKET else OrderStatus.OPEN
        entry = Entry(
            account=account, order=msgspec.structs.replace(order, id=self._ids.order(), status=status),
            hold_asset=hold_asset, hold_amount=hold_amount, since=now_ms,
            extreme=last if trailing else None,
        )
        self._books.add(entry)
        return entry.order

    def amend(
        self,
        account: str,
        order_id: str,
        *,
        amount: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        now_ms: int,
    ) -> Order:
        """Change a live order in place (it keeps its time priority), re-checking it and adjusting its hold exactly.

        The new amount counts what has filled already: it may not go below that, and reaching it fills the order.
        """
        entry = self._live_entry(account, order_id)
        order = entry.order
        if amount is None and price is None and trigger_price is None:
            raise OrderRejected(INVALID_ARGUMENTS, "nothing to amend")
        spec = self._markets[order.pair]
        new_amount = order.amount if amount is None else rounded(spec.round_amount, amount, INVALID_ORDER_QTY)
        if new_amount < order.filled:
            raise OrderRejected(INVALID_ORDER_QTY, f"{new_amount} is below the {order.filled} already filled")
        terms = Terms(order.price, order.trigger_price, order.trailing_offset)
        if price is not None:
            if not order.order_type.has_limit_price:
                raise OrderRejected(INVALID_LIMIT_PRICE, f"a {order.order_type} order has no limit price")
            terms = terms._replace(price=rounded(spec.round_price, price, INVALID_LIMIT_PRICE))
        if trigger_price is not None:
            if not has_fixed_trigger(order.order_type) or entry.triggered:
                raise OrderRejected(INVALID_TRIGGER_PRICE, f"{order.id} has no trigger price waiting")
            terms = terms._replace(trigger_price=rounded(spec.round_price, trigger_price, INVALID_TRIGGER_PRICE))
        last = self._last.get(order.pair)
        reference = reference_price(order.order_type, order.side, terms, order.trailing_percent, last)
        check_size(spec, new_amount, reference)
        if order.post_only and entry.resting:
            self._check_post_only(spec, order.side, terms.price, last)
        remaining = new_amount - order.filled
        _, hold = required_hold(spec, order.side, order.order_type, remaining, reference, self._spread)
        self._require_funds(account, entry.hold_asset, hold - entry.hold_amount)
        self._ledger.release(account, entry.hold_asset, entry.hold_amount)
        self._ledger.hold(account, entry.hold_asset, hold)
        entry.hold_amount = hold
        status = OrderStatus.FILLED if remaining == 0 else order.status
        self._books.update(entry, status, ts=now_ms, amount=new_amount, price=terms.price,
                           trigger_price=terms.trigger_price)
        return entry.order

    def cancel(self, account: str, order_id: str, *, now_ms: int) -> Order:
        """Cancel a live order and release its hold; closed and unknown orders are both ``UnknownOrder``."""
        self._ledger.require(account)
        entry = self._books.entry(account, order_id)
        if entry.order.status.is_terminal:
            raise UnknownOrder(f"{order_id} is already {entry.order.status}")
        self._settlement.close(entry, OrderStatus.CANCELLED, now_ms)
        return entry.order

    def cancel_all(self, account: str, now_ms: int) -> int:
        """Cancel every live order of ``account``; returns how many, as Kraken's CancelAll does."""
        live = self.open_orders(account)
        for order in live:
            self.cancel(account, order.id, now_ms=now_ms)
        return len(live)

    def on_candle(self, candle: Candle) -> list[Fill]:
        """Decide the pair's live orders that arrived before ``candle`` closed, then take its close as last price.

        Orders from earlier candles go first, by time; those that arrived during this candle go after, by client
        id (then id): the simulator cannot tell which of them a market would have seen first, and a run must not
        depend on which of two traders' tasks trio happened to run first (one fill can move the fee tier).
        """
        spec = self._spec(candle.pair)
        step = timeframe_ms(candle.timeframe)
        closed_at = candle.ts + step
        self._now = max(self._now, closed_at)
        fills: list[Fill] = []
        prices = CandleRange.of(candle)
        due = [entry for entry in self._books.live(candle.pair)
               if entry.since < closed_at and not untouched(entry, prices, closed_at)]
        due.sort(key=lambda entry: (min(entry.since, closed_at - step), entry.priority))
        for entry in due:
            if not entry.order.status.is_terminal:
                fills.extend(self._decide(entry, spec, candle, closed_at))
        self._last[candle.pair] = candle_price(candle.close)
        return fills

    @property
    def idle(self) -> bool:
        """No order is live: a closing candle can move nothing but time and the last price."""
        return not self._books.any_live()

    def pass_quietly(self, candles: Sequence[Candle]) -> None:
        """``on_candle`` for each of ``candles`` (in closing order) while no order is live, in one go."""
        if not self.idle:
            raise RuntimeError("orders are live: each candle must be decided on its own (on_candle)")
        last = {candle.pair: candle for candle in candles}
        for pair, candle in last.items():
            self._spec(pair)
            self._now = max(self._now, candle.ts + timeframe_ms(candle.timeframe))
            self._last[pair] = candle_price(candle.close)

    def order(self, account: str, order_id: str) -> Order:
        self._ledger.require(account)
        return self._books.entry(account, order_id).order

    def order_by_client_id(self, account: str, client_id: str) -> Order:
        """The order placed with ``client_id``: how a client that lost an answer finds out whether it was placed."""
        self._ledger.require(account)
        return self._books.by_client_id(account, client_id).order

    def triggered(self, account: str, order_id: str) -> bool:
        """Whether a stop, take-profit or trailing order has fired (the ``Order`` has no field for it)."""
        self._ledger.require(account)
        return self._books.entry(account, order_id).triggered

    def orders(self, account: str) -> list[Order]:
        self._ledger.require(account)
        return [entry.order for entry in self._books.account(account).orders.values()]

    def open_orders(self, account: str) -> list[Order]:
        return [order for order in self.orders(account) if not order.status.is_terminal]

    def closed_orders(self, account: str) -> list[Order]:
        return [order for order in self.orders(account) if order.status.is_terminal]

    def resting_orders(self, pair: str) -> list[Order]:
        """Every account's orders sitting on ``pair``'s book at their limit, in time priority."""
        return [entry.order for entry in self._books.live(pair) if entry.on_book]

    def fills(self, account: str, since_index: int = 0) -> list[Fill]:
        """Fills in execution order from ``since_index``: a poller passes how many it has already seen."""
        if since_index < 0:
            raise ValueError(f"since_index must not be negative, got {since_index}")
        self._ledger.require(account)
        return self._books.account(account).fills[since_index:]

    def fill(self, account: str, fill_id: str) -> Fill:
        self._ledger.require(account)
        return self._books.fill(account, fill_id)

    def volume(self, account: str) -> Decimal:
        """USD traded by ``account`` in the 30 days before the last candle (see ``fees`` for non-USD quotes)."""
        self._ledger.require(account)
        return self._settlement.volumes.volume(account, self._now)

    def fee_rates(self, account: str, pair: str) -> tuple[Decimal, Decimal]:
        """``(maker, taker)`` fractions ``account`` pays on ``pair`` now, by its 30-day volume."""
        return self._spec(pair).fee_rates(self.volume(account))

    def last_price(self, pair: str) -> Decimal | None:
        """Close of the last candle fed for ``pair``; ``None`` before the first one."""
        self._spec(pair)
        return self._last.get(pair)

    def _decide(self, entry: Entry, spec: MarketSpec, candle: Candle, closed_at: int) -> list[Fill]:
        """What one candle does to one live order: expire it, trigger it, or trade it."""
        order = entry.order
        if order.time_in_force is TimeInForce.GTD and order.expire_ts < closed_at:
            self._settlement.close(entry, OrderStatus.EXPIRED, order.expire_ts)
            return []
        if order.order_type is OrderType.MARKET:
            return self._take(entry, spec, candle_price(candle.open), closed_at)
        if order.order_type.is_triggered and not entry.triggered:
            reference = self._trigger(entry, candle)
            if reference is None:
                return []
            entry.triggered = True
            entry.since = closed_at  # a *-limit order rests from the next candle on
            self._books.update(entry, order.status, ts=closed_at)
            return [] if order.order_type.has_limit_price else self._take(entry, spec, reference, closed_at)
        return self._rest(entry, spec, candle, closed_at)

    def _trigger(self, entry: Entry, candle: Candle) -> Decimal | None:
        """The price a waiting order executes around if ``candle`` triggers it; a trailing stop's extreme moves."""
        order = entry.order
        if order.order_type is not OrderType.TRAILING_STOP:
            assert order.trigger_price is not None
            return fixed_trigger(order.order_type, order.side, order.trigger_price, candle)
        assert entry.extreme is not None and order.trailing_offset is not None
        entry.extreme, reference = trailing_trigger(
            order.side, order.trailing_offset, order.trailing_percent, entry.extreme, candle)
        return reference

    def _take(self, entry: Entry, spec: MarketSpec, reference: Decimal, ts: int) -> list[Fill]:
        """Execute all that remains at ``reference``, half a spread worse: market and triggered stop orders."""
        price = taker_price(entry.order.side, spec, reference, self._spread)
        fill = self._settlement.fill(entry, spec, Execution(price, "taker"), entry.order.remaining, ts)
        return [] if fill is None else [fill]

    def _rest(self, entry: Entry, spec: MarketSpec, candle: Candle, closed_at: int) -> list[Fill]:
        """A limit order against one candle: a taker through a gap, else a maker for its share of the volume."""
        order = entry.order
        assert order.price is not None
        if order.post_only and opens_through(order.side, order.price, candle):
            self._settlement.close(entry, OrderStatus.CANCELLED, closed_at, reason=POST_ONLY)
            return []
        fills: list[Fill] = []
        found = limit_execution(order.side, order.price, candle, spec, self._spread)
        if found is not None:
            if found.liquidity == "taker":
                amount = order.remaining
            else:
                amount = maker_quantity(spec, order.remaining, candle, self._fill_share)
            fill = self._settlement.fill(entry, spec, found, amount, closed_at) if amount > 0 else None
            fills += [] if fill is None else [fill]
        if order.time_in_force is TimeInForce.IOC and not entry.order.status.is_terminal:
            self._settlement.close(entry, OrderStatus.CANCELLED, closed_at)
        return fills

    def _check_post_only(self, spec: MarketSpec, side: Side, limit: Decimal | None, last: Decimal | None) -> None:
        """A post-only order must not take: refuse it if it would cross the current quotes (none yet: it cannot)."""
        if limit is not None and last is not None and marketable(side, limit, spec, last, self._spread):
            raise OrderRejected(POST_ONLY, f"{side} at {limit} would take liquidity (last {last})")

    def _require_funds(self, account: str, asset: str, amount: Decimal) -> None:
        try:
            self._ledger.check_available(account, asset, amount)
        except InsufficientFunds as exc:
            raise OrderRejected(exc.reason, exc.detail) from None

    def _live_entry(self, account: str, order_id: str) -> Entry:
        self._ledger.require(account)
        entry = self._books.entry(account, order_id)
        if entry.order.status not in _LIVE:
            raise UnknownOrder(f"{order_id} is {entry.order.status}, not open")
        return entry

    def _spec(self, pair: str) -> MarketSpec:
        spec = self._markets.get(pair)
        if spec is None:
            raise ExchangeError(UNKNOWN_PAIR, pair)
        return spec
