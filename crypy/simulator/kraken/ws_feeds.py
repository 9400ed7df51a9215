"""Subscriptions and what flows through them: snapshots on subscribe, then updates as the exchange moves.

Market data is pushed when a candle closes (the only moment the simulated market changes): ``ohlc`` for every
replayed timeframe; ``ticker``, ``book`` and ``trade`` once per close of the pair's finest timeframe, after
matching ran. Private data is pushed as the engine reports orders and fills. Each message is built once and
encoded once, however many sessions receive it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import structlog

from crypy.protocols import Candle, Fill, Order, OrderStatus

from ..errors import ExchangeError
from ..market_stats import PublicTrade
from . import naming
from .public_api import OHLC_INTERVALS
from .ws_channels import (
    BOOK_DEPTHS,
    INVALID_DEPTH,
    BookView,
    book_levels,
    channel_message,
    encode,
    instrument_data,
    ohlc_item,
    rfc3339,
    ticker_item,
    timeframe_for,
    trade_item,
)
from .ws_executions import (
    OPEN_CLOSE,
    OrderTracker,
    balance_snapshot,
    fill_item,
    ledger_entries,
    order_item,
    with_fill,
)
from .ws_session import Session, TradeKey

log = structlog.get_logger(__name__)

PERMISSION_DENIED = "EAccount:Invalid permissions"
INVALID_CHANNEL = "EGeneral:Invalid arguments:channel"
INVALID_SYMBOL = "EGeneral:Invalid arguments:symbol"
ALREADY_SUBSCRIBED = "Already subscribed"
NOT_SUBSCRIBED = "Subscription Not Found"
PUBLIC = ("ticker", "ohlc", "trade", "book")
PRIVATE = ("executions", "balances")
OHLC_SNAPSHOT = 720
TRADE_SNAPSHOT = 50
FILL_SNAPSHOT = 50
_MINUTES = {timeframe: minutes for minutes, timeframe in OHLC_INTERVALS.items()}

Reply = tuple[dict[str, object] | None, str | None, dict[str, object], list[dict[str, object]]]
"""An answer to one part of a (un)subscribe request: (result, error, extra top-level fields such as ``symbol``,
and the snapshots to send right after the acknowledgement, as Kraken does)."""


class Feeds:
    """Every session's subscriptions to one exchange, and the pushes that serve them."""

    def __init__(self, sim: Any, sessions: set[Session], new_id: Callable[[], str]) -> None:
        self._sim = sim
        self._sessions = sessions
        self._new_id = new_id
        self._markets = sim.markets()
        self.symbols: dict[str, str] = {}  # v2 symbol -> crypy pair
        for pair in self._markets:
            try:
                self.symbols[naming.pair(pair).v2] = pair
            except naming.UnknownName:
                log.warning("kraken ws: pair has no Kraken names, not served", pair=pair)
        self._v2 = {pair: symbol for symbol, pair in self.symbols.items()}
        self._finest = {pair: sim.timeframes(pair)[0] for pair in self.symbols.values()}
        self._orders = OrderTracker()

    def asset_name(self, asset: str) -> str:
        """An asset's v2 name (``BTC`` for crypy's ``XBT``); assets Kraken does not know keep their own name."""
        try:
            return naming.asset(asset).v2
        except naming.UnknownName:
            return asset

    def subscribe(self, session: Session, params: dict[str, Any], account: str | None) -> list[Reply]:
        """Subscribe, one reply per symbol, each with the snapshot to send after its acknowledgement."""
        channel = params.get("channel")
        snapshot = params.get("snapshot", True) is not False
        if channel in PRIVATE:
            if account is None:
                return [_error(PERMISSION_DENIED)]
            return [self._subscribe_private(session, channel, params, account)]
        if channel == "instrument":  # reference data: a snapshot, no updates (the markets never change)
            assets = {asset for info in self._markets.values() for asset in (info.base, info.quote)}
            data = instrument_data(self._markets, self.symbols, {asset: self.asset_name(asset) for asset in assets})
            return [_ok({"channel": channel, "snapshot": snapshot},
                        [channel_message("instrument", "snapshot", data)] if snapshot else [])]
        if channel not in PUBLIC:
            return [_error(INVALID_CHANNEL)]
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            return [_error(INVALID_SYMBOL)]
        return [self._subscribe_public(session, channel, symbol, params, snapshot) for symbol in symbols]

    def unsubscribe(self, session: Session, params: dict[str, Any], account: str | None) -> list[Reply]:
        channel = params.get("channel")
        if channel in PRIVATE:
            subscribed = session.executions if channel == "executions" else session.balances
            if account is None or account not in subscribed:
                return [_error(NOT_SUBSCRIBED)]
            if isinstance(subscribed, dict):
                del subscribed[account]
            else:
                subscribed.discard(account)
            return [_ok({"channel": channel})]
        if channel == "instrument":
            return [_ok({"channel": channel})]
        if channel not in PUBLIC:
            return [_error(INVALID_CHANNEL)]
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            return [_error(INVALID_SYMBOL)]
        interval = params.get("interval")
        return [_ok({"channel": channel, "symbol": symbol}) if self._drop(session, channel, symbol, interval)
                else _error(NOT_SUBSCRIBED, symbol=symbol) for symbol in symbols]

    def on_candles(self, candles: Sequence[Candle]) -> None:
        for candle in candles:
            self._on_candle(candle)

    def _on_candle(self, candle: Candle) -> None:
        symbol = self._v2.get(candle.pair)
        if symbol is None or not self._sessions:
            return
        interval = _MINUTES.get(candle.timeframe)
        if interval is not None:
            self._fan_out(lambda s: (symbol, interval) in s.ohlc,
                          lambda: channel_message("ohlc", "update", [ohlc_item(symbol, candle, interval)],
                                                  timestamp=self._now()))
        if candle.timeframe != self._finest[candle.pair]:
            return
        self._fan_out(lambda s: symbol in s.ticker, lambda: channel_message(
            "ticker", "update", [ticker_item(symbol, self._sim.ticker_stats(candle.pair))]))
        self._push_trades(symbol, candle.pair)
        self._push_books(symbol, candle.pair)

    def on_account_event(self, account: str, event: Order | Fill) -> None:
        """Report an engine event; the tracker learns every order state even when nobody is watching."""
        if isinstance(event, Order):
            for exec_type in self._orders.exec_types(account, event):
                watchers = [s for s, everything in self._executions(account) if everything or exec_type in OPEN_CLOSE]
                if watchers:
                    item = order_item(event, exec_type, self._v2[event.pair], self._usd(event.pair, event.fee))
                    for session in watchers:
                        session.push(session.sequenced(channel_message("executions", "update", [item])))
            return
        watchers = [s for s, _ in self._executions(account)]
        if watchers:
            item = self._fill_item(account, event, live=True)
            for session in watchers:
                session.push(session.sequenced(channel_message("executions", "update", [item])))
        holders = [s for s in self._sessions if account in s.balances]
        if holders:
            info = self._markets[event.pair]
            entries = ledger_entries(event, info.base, info.quote, self._sim.balances(account), self.asset_name,
                                     lambda: "L" + self._new_id()[1:])
            for session in holders:
                session.push(session.sequenced(channel_message("balances", "update", entries)))

    def _subscribe_public(self, session: Session, channel: str, symbol: object, params: dict[str, Any],
                          snapshot: bool) -> Reply:
        pair = self.symbols.get(symbol) if isinstance(symbol, str) else None
        if pair is None or not isinstance(symbol, str):
            return _error(f"Currency pair not supported {symbol}", symbol=symbol)
        result: dict[str, object] = {"channel": channel, "symbol": symbol, "snapshot": snapshot}
        try:
            if channel == "ticker":
                message = channel_message("ticker", "snapshot", [ticker_item(symbol, self._sim.ticker_stats(pair))])
                _claim(symbol not in session.ticker)
                session.ticker.add(symbol)
                result["event_trigger"] = "trades"
            elif channel == "ohlc":
                interval = params.get("interval")
                candles = self._sim.candles(pair, timeframe_for(interval), limit=OHLC_SNAPSHOT)
                message = channel_message("ohlc", "snapshot", [ohlc_item(symbol, c, interval) for c in candles],
                                          timestamp=self._now())
                _claim((symbol, interval) not in session.ohlc)
                session.ohlc.add((symbol, interval))
                result["interval"] = interval
            elif channel == "trade":
                recent = self._sim.public_trades(pair, None, TRADE_SNAPSHOT)
                message = channel_message("trade", "snapshot", [trade_item(symbol, trade) for trade in recent])
                _claim(symbol not in session.trades)
                session.trades[symbol] = _key(recent[-1]) if recent else _START
            else:
                depth = params.get("depth", 10)
                if depth not in BOOK_DEPTHS:
                    raise ExchangeError(INVALID_DEPTH, f"{depth!r} is not one of {BOOK_DEPTHS}")
                asks, bids, _ = self._book(pair, depth)
                view = BookView(symbol, depth)
                message = channel_message("book", "snapshot", [view.snapshot(asks, bids)])
                _claim(symbol not in session.books)
                session.books[symbol] = view
                result["depth"] = depth
        except ExchangeError as exc:
            return _error(exc.reason, symbol=symbol)
        return _ok(result, [message] if snapshot else [])

    def _subscribe_private(self, session: Session, channel: str, params: dict[str, Any], account: str) -> Reply:
        """Private snapshots carry sequence numbers; they are numbered now and sent right after the ack."""
        if channel == "balances":
            if account in session.balances:
                return _error(ALREADY_SUBSCRIBED)
            session.balances.add(account)
            snapshot = params.get("snapshot", True) is not False
            data = balance_snapshot(self._sim.balances(account), self.asset_name)
            return _ok({"channel": channel, "snapshot": snapshot},
                       [session.sequenced(channel_message("balances", "snapshot", data))] if snapshot else [])
        if account in session.executions:
            return _error(ALREADY_SUBSCRIBED)
        open_orders = self._sim.open_orders(account)
        self._orders.seed(account, open_orders)
        session.executions[account] = params.get("order_status", True) is not False
        snap_orders, snap_trades = params.get("snap_orders", True) is not False, params.get("snap_trades") is True
        snapshots = []
        if snap_trades:
            fills = [self._fill_item(account, fill, live=False) for fill in self._sim.fills(account)[-FILL_SNAPSHOT:]]
            snapshots.append(session.sequenced(channel_message("executions", "snapshot", fills)))
        if snap_orders:
            orders = [order_item(order, "pending_new" if order.status is OrderStatus.PENDING else "new",
                                 self._v2[order.pair], self._usd(order.pair, order.fee)) for order in open_orders]
            snapshots.append(session.sequenced(channel_message("executions", "snapshot", orders)))
        return _ok({"channel": channel, "snapshot": snap_orders or snap_trades}, snapshots)

    def _drop(self, session: Session, channel: str, symbol: object, interval: object) -> bool:
        """Forget one public subscription; ``False`` if there was none."""
        if channel == "ohlc":
            key: object = (symbol, interval)
            subscribed: set[Any] | dict[Any, Any] = session.ohlc
        else:
            key = symbol
            subscribed = {"ticker": session.ticker, "trade": session.trades, "book": session.books}[channel]
        if key not in subscribed:
            return False
        if isinstance(subscribed, set):
            subscribed.discard(key)
        else:
            del subscribed[key]
        return True

    def _fan_out(self, wanted: Callable[[Session], bool], build: Callable[[], dict[str, object]]) -> None:
        """Build (and encode) the message only if some session wants it, then give it to all of them."""
        targets = [session for session in self._sessions if wanted(session)]
        if targets:
            try:
                text = encode(build())
            except ExchangeError as exc:  # e.g. no price yet: nothing to report this time
                log.debug("kraken ws: nothing to push", reason=exc.reason)
                return
            for session in targets:
                session.push(text)

    def _push_trades(self, symbol: str, pair: str) -> None:
        watchers = [s for s in self._sessions if symbol in s.trades]
        if not watchers:
            return
        since = min(s.trades[symbol][0] for s in watchers)
        fresh = self._sim.public_trades(pair, since, 1000)
        for session in watchers:
            seen = session.trades[symbol]
            new = [t for t in fresh if _key(t) > seen]
            if new:
                session.trades[symbol] = _key(new[-1])
                session.push(channel_message("trade", "update", [trade_item(symbol, t) for t in new]))

    def _push_books(self, symbol: str, pair: str) -> None:
        views = [s.books[symbol] for s in self._sessions if symbol in s.books]
        if not views:
            return
        asks, bids, ts = self._book(pair, max(view.depth for view in views))
        for session in [s for s in self._sessions if symbol in s.books]:
            data = session.books[symbol].update(asks, bids, ts)
            if data is not None:
                session.push(channel_message("book", "update", [data]))

    def _book(self, pair: str, depth: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
        info = self._markets[pair]
        book = self._sim.order_book(pair, depth)
        return (book_levels(book.asks, info.price_decimals, info.amount_decimals),
                book_levels(book.bids, info.price_decimals, info.amount_decimals), book.ts)

    def _executions(self, account: str) -> list[tuple[Session, bool]]:
        return [(s, s.executions[account]) for s in self._sessions if account in s.executions]

    def _fill_item(self, account: str, fill: Fill, *, live: bool) -> dict[str, object]:
        """A fill with its order's progress. The engine reports a fill before the order's update, so a live fill's
        order is as it was before the fill, and the fill is added to it; a past fill's order is as it is now."""
        order = self._orders.get(account, fill.order_id) or self._sim.order(account, fill.order_id)
        return fill_item(fill, with_fill(order, fill) if live else order, self._v2[fill.pair],
                         self.asset_name(fill.fee_asset), self._usd_of(fill.fee_asset, fill.fee))

    def _usd(self, pair: str, fee: Decimal) -> Decimal | None:
        return self._usd_of(self._markets[pair].quote, fee)

    def _usd_of(self, asset: str, amount: Decimal) -> Decimal | None:
        """``fee_usd_equiv``: exact for USD, at the last price for an asset traded against USD, else unknown."""
        if asset == "USD":
            return amount
        pair = f"{asset}/USD"
        if pair not in self._markets:
            return None
        try:
            last: Decimal = self._sim.ticker_stats(pair).last
        except ExchangeError:
            return None
        return amount * last

    def _now(self) -> str:
        return rfc3339(self._sim.now_ms())


_START: TradeKey = (-1, 0)


def _key(trade: PublicTrade) -> TradeKey:
    return (trade.ts_ms, trade.trade_id)


def _ok(result: dict[str, object], snapshots: list[dict[str, object]] | None = None) -> Reply:
    return result, None, {}, snapshots or []


def _error(reason: str, **extra: object) -> Reply:
    return None, reason, extra, []


def _claim(free: bool) -> None:
    if not free:
        raise ExchangeError(ALREADY_SUBSCRIBED)
