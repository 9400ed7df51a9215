"""The one async interface through which the desk reaches any exchange.

Adapters (in-process simulator, ccxt/Kraken, paper) translate this interface to their exchange. They know
nothing of actors. Failures are ``ExchangeError``; an order the exchange refused is ``OrderRejected`` with the
exchange's own reason; ``ExchangeUnavailable`` means the same request may succeed later, ``ExchangeAuthError``
that it never will with these credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import trio

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderType, Side, Ticker, TimeInForce
from crypy.simulator.market_stats import PublicTrade

T = TypeVar("T")


class ExchangeError(Exception):
    """The exchange could not do what was asked (network, service, unknown order...)."""


class OrderRejected(ExchangeError):
    """The exchange refused an order; the message is its reason (e.g. ``EOrder:Insufficient funds``)."""


class ExchangeAuthError(ExchangeError):
    """The exchange refused the credentials or their permissions: retrying cannot help, a human must act."""


class ExchangeUnavailable(ExchangeError):
    """The exchange could not be reached, timed out, or said it is busy: the request may succeed later.

    For an order this is the ambiguous case: it may or may not have been placed.
    """


@dataclass(frozen=True)
class Capabilities:
    """What an exchange lets an account do, so that the desk adapts instead of learning from rejections.

    ``pair_status`` names the pairs that do not trade normally (Kraken: ``cancel_only``, ``post_only``,
    ``limit_only``, ``reduce_only``...); pairs absent from it are fully tradable.
    """

    order_types: frozenset[OrderType]
    time_in_force: frozenset[TimeInForce] = frozenset({TimeInForce.GTC})
    post_only: bool = False
    amend: bool = False
    max_candles: int = 720
    pair_status: dict[str, str] = field(default_factory=dict)
    persistent: bool = True
    """The account outlives this process (a restarted desk reconciles with it); False for a paper account."""


class Exchange(Protocol):
    """An exchange account: market data, balances, and orders."""

    name: str
    account: str

    def now_ms(self) -> int:
        """The exchange's time: wall time live, the replayed market time in a simulation."""
        ...

    async def capabilities(self) -> Capabilities: ...

    async def markets(self) -> dict[str, MarketInfo]: ...

    async def timeframes(self, pair: str) -> list[str]:
        """Timeframes whose candles this exchange serves for ``pair``."""
        ...

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        """Closed candles, oldest first, at most ``limit`` (newest ones when ``since_ms`` is None)."""
        ...

    async def ticker(self, pair: str) -> Ticker: ...

    async def public_trades(self, pair: str, since_ms: int) -> list[PublicTrade]:
        """The exchange's public trades at or after ``since_ms``, oldest first, one page (Kraken: up to 1000).

        History older than ``Capabilities.max_candles`` candles exists only as trades on Kraken.
        """
        ...

    async def balances(self) -> dict[str, Balance]: ...

    async def place_order(self, *, client_id: str, pair: str, side: Side, order_type: OrderType, amount: Decimal,
                          price: Decimal | None = None, trigger_price: Decimal | None = None,
                          trailing_offset: Decimal | None = None, trailing_percent: bool = False,
                          post_only: bool = False, time_in_force: TimeInForce = TimeInForce.GTC,
                          expire_ts: int = 0) -> Order:
        """Place an order once, even across retries. The fields mean what they mean in ``OrderRequest``:
        ``price`` is the limit price, ``trigger_price`` a stop/take-profit trigger, ``trailing_offset`` a
        trailing stop's distance (a percent when ``trailing_percent``)."""
        ...

    async def amend_order(self, order_id: str, *, amount: Decimal | None = None, price: Decimal | None = None,
                          trigger_price: Decimal | None = None) -> Order:
        """Change a live order in place (keeping its queue priority where the exchange allows)."""
        ...

    async def cancel_order(self, order_id: str) -> Order: ...

    async def open_orders(self) -> list[Order]: ...

    async def order(self, order_id: str) -> Order: ...

    async def orders(self, order_ids: Sequence[str]) -> dict[str, Order]:
        """Several orders by id in as few requests as the exchange allows (Kraken: 50 a call); unknown ids are
        left out."""
        ...

    async def order_by_client_id(self, client_id: str) -> Order | None:
        """The order placed with crypy's ``client_id``, open or closed, or None when the exchange never got it.

        A restarted desk asks this about the requests its journal holds without an answer."""
        ...

    async def watch_orders(self, changed: trio.MemorySendChannel[Any],
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Send something to ``changed`` whenever the exchange pushes news of the account's orders (Kraken's
        private WebSocket), so the desk reads them now instead of at its next poll. Exchanges without such a
        feed report started and return: polling alone is then the way."""
        ...

    def recall_client_ids(self, client_ids: Iterable[str]) -> None:
        """Client ids this account used before a restart (from the journal), so reports translate back to them."""
        ...

    async def fills_since(self, cursor: int) -> tuple[list[Fill], int]:
        """Fills after ``cursor`` (0 = from the start) and the cursor to pass next time."""
        ...

    async def close(self) -> None:
        """Release connections; the adapter is not used afterwards."""
        ...


async def patiently(call: Callable[[], Awaitable[T]], tries: int = 8) -> T:
    """``call``, tried again with a growing pause while the exchange is only temporarily unavailable."""
    for attempt in range(tries):
        try:
            return await call()
        except ExchangeUnavailable:
            if attempt == tries - 1:
                raise
            await trio.sleep(min(0.2 * 2**attempt, 3.0))
    raise AssertionError("unreachable")
