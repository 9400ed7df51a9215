"""Settling executions and closing orders: where money moves, fees are charged and holds shrink or go.

A fill pays out of the account's available funds after its order's hold is released, then the hold is set
again for what remains, so the ledger never spends held money and a hold always matches what is left to trade.
"""

from __future__ import annotations

from decimal import Decimal

from crypy.protocols import Fill, OrderStatus, Side

from .accounts import Ledger
from .bookkeeping import Entry, OrderBooks
from .errors import InsufficientFunds
from .fees import VolumeTracker, usd_value
from .ids import KrakenIds
from .markets import MarketSpec
from .matching import Execution, buy_hold


class Settlement:
    """Turns executions into fills, and ends orders, keeping ledger, holds, volumes and order states in step."""

    def __init__(self, ledger: Ledger, books: OrderBooks, ids: KrakenIds, last_prices: dict[str, Decimal]) -> None:
        self._ledger = ledger
        self._books = books
        self._ids = ids
        self._last = last_prices
        self.volumes = VolumeTracker()

    def fill(self, entry: Entry, spec: MarketSpec, execution: Execution, amount: Decimal, ts: int) -> Fill | None:
        """Trade ``amount`` of ``entry`` at ``execution``; an account that can no longer pay ends the order instead.

        The fee rate is the account's tier for its volume before this fill's candle, as on Kraken, where the tier
        follows the volume with some delay: fills decided at one close are simultaneous, and the order the engine
        takes them in must not change what they cost.
        """
        order = entry.order
        maker_rate, taker_rate = spec.fee_rates(self.volumes.volume_before(entry.account, ts))
        cost = execution.price * amount
        fee = spec.fee(cost, maker_rate if execution.liquidity == "maker" else taker_rate)
        self._ledger.release(entry.account, entry.hold_asset, entry.hold_amount)
        entry.hold_amount = Decimal(0)
        base, quote = (spec.base, amount), (spec.quote, cost)
        try:
            if order.side is Side.BUY:
                self._ledger.trade(entry.account, pay=quote, receive=base, fee=(spec.quote, fee))
            else:
                self._ledger.trade(entry.account, pay=base, receive=quote, fee=(spec.quote, fee))
        except InsufficientFunds as exc:
            failed = OrderStatus.REJECTED if order.status is OrderStatus.PENDING else OrderStatus.CANCELLED
            self._books.update(entry, failed, ts=ts, reason=exc.reason)
            return None
        self.volumes.record(entry.account, ts, usd_value(spec.quote, cost, self._last))
        filled = order.filled + amount
        if filled < order.amount:
            self._hold_rest(entry, spec, order.amount - filled)
        entry.cost += cost
        fill = Fill(
            ts=ts, id=self._ids.trade(), order_id=order.id, client_id=order.client_id, pair=order.pair,
            side=order.side, price=execution.price, amount=amount, fee=fee, fee_asset=spec.quote,
            liquidity=execution.liquidity,
        )
        self._books.record_fill(entry.account, fill)
        status = OrderStatus.FILLED if filled == order.amount else OrderStatus.PARTIALLY_FILLED
        self._books.update(entry, status, ts=ts, filled=filled, avg_price=entry.cost / filled, fee=order.fee + fee)
        return fill

    def close(self, entry: Entry, status: OrderStatus, ts: int, reason: str = "") -> None:
        """End a live order (cancelled or expired) and give back what it reserved."""
        self._ledger.release(entry.account, entry.hold_asset, entry.hold_amount)
        entry.hold_amount = Decimal(0)
        self._books.update(entry, status, ts=ts, reason=reason)

    def _hold_rest(self, entry: Entry, spec: MarketSpec, remaining: Decimal) -> None:
        """Reserve again for what is left, so the hold shrinks with each fill; only limit-priced orders fill in part.

        Fee rounding can leave an account whose every coin was held one cost unit short of the exact hold; the
        order then keeps what is there, and a later fill it cannot pay ends it like any unpayable order.
        """
        order = entry.order
        if order.side is Side.SELL:
            asset, amount = spec.base, remaining
        else:
            assert order.price is not None, "market-priced orders fill whole"
            asset, amount = spec.quote, buy_hold(spec, order.price, remaining)
        entry.hold_amount = min(amount, self._ledger.available(entry.account, asset))
        self._ledger.hold(entry.account, asset, entry.hold_amount)
