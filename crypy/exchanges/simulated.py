"""The in-process adapter: the desk calls the simulator's methods directly, without any network.

Used by ``crypy sim`` and by virtual-clock backtests, where threads and sockets must not be involved (trio's
autojump clock fires timeouts at once around ``to_thread``). Every call is a trio checkpoint, so the desk behaves
as it would over a network, just faster; a lockstep backtest makes them cancellation points only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any, TypeVar

import trio

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderType, Side, Ticker, TimeInForce
from crypy.simulator import PublicTrade, SimExchange
from crypy.simulator import errors as sim_errors

from .base import Capabilities, ExchangeError, OrderRejected

T = TypeVar("T")


@contextmanager
def translated_sim_errors() -> Iterator[None]:
    """The simulator's errors as the exchange interface's, keeping Kraken's reason string."""
    try:
        yield
    except sim_errors.OrderRejected as exc:
        raise OrderRejected(str(exc)) from None
    except sim_errors.InsufficientFunds as exc:
        raise OrderRejected(str(exc)) from None
    except sim_errors.ExchangeError as exc:
        raise ExchangeError(str(exc)) from None


class SimulatedExchange:
    """One account of an in-process ``SimExchange`` behind the ``Exchange`` interface."""

    def __init__(self, sim: SimExchange, account: str = "default", name: str = "sim", *, yields: bool = True) -> None:
        self.sim = sim
        self.account = account
        self.name = name
        self._checkpoint = trio.lowlevel.checkpoint if yields else trio.lowlevel.checkpoint_if_cancelled
        """Each call lets other tasks run, as a network call would (``yields``), or is only a cancellation point:
        a backtest in lockstep runs its actors when its driver settles (see ``Bus``)."""
        self.news = 0
        """Order changes and fills the engine has made for this account so far."""
        sim.add_listener(self._count_news)

    def _count_news(self, account: str, event: object) -> None:
        if account == self.account:
            self.news += 1

    def now_ms(self) -> int:
        return self.sim.now_ms()

    async def _call(self, fn: Callable[[], T]) -> T:
        await self._checkpoint()
        with translated_sim_errors():
            return fn()

    async def capabilities(self) -> Capabilities:
        """The matching engine handles every order type crypy knows, amendments and post-only orders."""
        await self._checkpoint()
        return Capabilities(order_types=frozenset(OrderType), time_in_force=frozenset(TimeInForce), post_only=True,
                            amend=True)

    async def markets(self) -> dict[str, MarketInfo]:
        return await self._call(self.sim.markets)

    async def timeframes(self, pair: str) -> list[str]:
        return await self._call(lambda: self.sim.timeframes(pair))

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        return await self._call(lambda: self.sim.candles(pair, timeframe, since_ms, limit))

    async def ticker(self, pair: str) -> Ticker:
        return await self._call(lambda: self.sim.ticker(pair))

    async def public_trades(self, pair: str, since_ms: int) -> list[PublicTrade]:
        return await self._call(lambda: self.sim.public_trades(pair, since_ms))

    async def balances(self) -> dict[str, Balance]:
        return await self._call(lambda: self.sim.balances(self.account))

    async def place_order(self, *, client_id: str, pair: str, side: Side, order_type: OrderType, amount: Decimal,
                          price: Decimal | None = None, trigger_price: Decimal | None = None,
                          trailing_offset: Decimal | None = None, trailing_percent: bool = False,
                          post_only: bool = False, time_in_force: TimeInForce = TimeInForce.GTC,
                          expire_ts: int = 0) -> Order:
        return await self._call(lambda: self.sim.place_order(
            self.account, client_id, pair, side, order_type, amount, price, trigger_price=trigger_price,
            trailing_offset=trailing_offset, trailing_percent=trailing_percent, post_only=post_only,
            time_in_force=time_in_force, expire_ts=expire_ts))

    async def amend_order(self, order_id: str, *, amount: Decimal | None = None, price: Decimal | None = None,
                          trigger_price: Decimal | None = None) -> Order:
        return await self._call(lambda: self.sim.amend_order(self.account, order_id, amount=amount, price=price,
                                                             trigger_price=trigger_price))

    async def cancel_order(self, order_id: str) -> Order:
        return await self._call(lambda: self.sim.cancel_order(self.account, order_id))

    async def open_orders(self) -> list[Order]:
        return await self._call(lambda: self.sim.open_orders(self.account))

    async def order(self, order_id: str) -> Order:
        return await self._call(lambda: self.sim.order(self.account, order_id))

    async def orders(self, order_ids: Sequence[str]) -> dict[str, Order]:
        await self._checkpoint()
        found = {}
        for order_id in order_ids:
            try:
                found[order_id] = self.sim.order(self.account, order_id)
            except sim_errors.ExchangeError:
                continue
        return found

    async def order_by_client_id(self, client_id: str) -> Order | None:
        try:
            return await self._call(lambda: self.sim.order_by_client_id(self.account, client_id))
        except ExchangeError:
            return None

    async def watch_orders(self, changed: trio.MemorySendChannel[Any],
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every order change and fill of this account, as the engine makes it (what Kraken's ``executions``
        feed pushes). A notice dropped because the desk is behind loses nothing: the sync it is owed is pending."""
        watching = [True]

        def on_event(account: str, event: object) -> None:
            if watching[0] and account == self.account:
                with suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    changed.send_nowait(event)

        self.sim.add_listener(on_event)
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            watching[0] = False  # the engine keeps its listeners: this one goes quiet

    def recall_client_ids(self, client_ids: Iterable[str]) -> None:
        """The simulator keeps crypy's client ids as they are: nothing to translate."""

    async def fills_since(self, cursor: int) -> tuple[list[Fill], int]:
        fills = await self._call(lambda: self.sim.fills(self.account, cursor))
        return fills, cursor + len(fills)

    async def close(self) -> None:
        """Nothing to release: the simulator lives in this process."""
        await self._checkpoint()
