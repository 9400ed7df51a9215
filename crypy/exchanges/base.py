"""The one async interface through which the desk reaches any exchange.

Adapters (in-process simulator now; ccxt/Kraken and paper later) translate this interface to their
exchange. They know nothing of actors. Failures are ``ExchangeError``; an order the exchange refused is
``OrderRejected`` with the exchange's own reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderType, Side, Ticker


class ExchangeError(Exception):
    """The exchange could not do what was asked (network, service, unknown order...)."""


class OrderRejected(ExchangeError):
    """The exchange refused an order; the message is its reason (e.g. ``EOrder:Insufficient funds``)."""


class Exchange(Protocol):
    """An exchange account: market data, balances, and orders."""

    name: str
    account: str

    def now_ms(self) -> int:
        """The exchange's time: wall time live, the replayed market time in a simulation."""
        ...

    async def markets(self) -> dict[str, MarketInfo]: ...

    async def timeframes(self, pair: str) -> list[str]:
        """Timeframes whose candles this exchange serves for ``pair``."""
        ...

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        """Closed candles, oldest first, at most ``limit`` (newest ones when ``since_ms`` is None)."""
        ...

    async def ticker(self, pair: str) -> Ticker: ...

    async def balances(self) -> dict[str, Balance]: ...

    async def place_order(self, *, client_id: str, pair: str, side: Side, order_type: OrderType, amount: Decimal,
                          price: Decimal | None = None) -> Order: ...

    async def cancel_order(self, order_id: str) -> Order: ...

    async def open_orders(self) -> list[Order]: ...

    async def order(self, order_id: str) -> Order: ...

    async def fills_since(self, cursor: int) -> tuple[list[Fill], int]:
        """Fills after ``cursor`` (0 = from the start) and the cursor to pass next time."""
        ...
