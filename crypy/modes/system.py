"""The actor system of one exchange account, the same in every run mode.

``open_system`` starts the journal and the desk (which starts holders and traders) against any ``Exchange``
adapter: the in-process simulator, the simulator over Kraken's API through ccxt, Kraken on paper, or Kraken
live. Leaving it stops the desk gracefully (traders first, open orders cancelled, journal flushed) and
records the final balances for the summary.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import trio

from crypy.actors.bus import Bus
from crypy.actors.desk import Desk
from crypy.actors.registry import open_process_registry
from crypy.actors.runtime import Runtime
from crypy.actors.supervisor import RestartPolicy, Supervisor
from crypy.actors.template import Templates
from crypy.exchanges import Exchange
from crypy.store import Journal, JournalReader

from .summary import RunSummary

DESK_GRACE = 15.0
UNDECIDED = ("starting", "evaluating", "proposed")


@dataclass
class RunningSystem:
    """One account's actors while they run, and what is needed to summarise the run afterwards."""

    exchange: Exchange
    runtime: Runtime
    journal: Journal
    desk: Desk
    db: Path
    initial: dict[str, Decimal]
    market_start: int
    stopped_because: str = ""
    final: dict[str, Decimal] = field(default_factory=dict)

    async def traders_decided(self, timeout_s: float = 60.0) -> None:
        """Wait (at most ``timeout_s``) until every trader has had its first proposal answered, or retired.

        A replayed market starts only then, so that every run of the same data starts trading on the same
        history, however long the evaluations take on this machine: what makes a ``crypy sim`` run and a
        backtest comparable trade by trade.
        """
        with trio.move_on_after(timeout_s):
            while any(trader.phase in UNDECIDED for trader in self.desk.traders()):
                await trio.sleep(0.01)

    def summary(self) -> RunSummary:
        """What the run did, read back from the journal (valid once the system has stopped)."""
        with JournalReader(self.db) as reader:
            orders, fills = reader.orders(), reader.fills()
        return RunSummary(stopped_because=self.stopped_because, journal=str(self.db), initial=self.initial,
                          final=self.final, fills=fills, orders=orders, candles=self.desk.candle_count,
                          market_start=self.market_start, market_end=self.exchange.now_ms())


def _first_balances(db: Path) -> dict[str, Decimal]:
    with JournalReader(db) as reader:
        snapshots = reader.balances()
    return {asset: balance.total for asset, balance in snapshots[0].balances.items()} if snapshots else {}


async def _totals(exchange: Exchange) -> dict[str, Decimal]:
    return {asset: balance.total for asset, balance in (await exchange.balances()).items()}


@asynccontextmanager
async def open_system(exchange: Exchange, *, templates: Templates, db: Path, repl_port: int = 7100,
                      repl_host: str = "127.0.0.1", candle_store: Path | None = None,
                      candles_pushed: bool = False, durable: bool = True) -> AsyncIterator[RunningSystem]:
    """Run the journal and the desk of ``exchange``'s account for the duration of the block (``candles_pushed``:
    a backtest hands the desk its candles, see ``lockstep``; ``durable``: see ``Journal``)."""
    registry = open_process_registry()
    runtime = Runtime(bus=Bus(yields=not candles_pushed), registry=registry, now_ms=exchange.now_ms)
    journal = Journal(db, durable=durable)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            initial = await _totals(exchange)
            root = Supervisor(nursery, runtime, owner="")
            desk_factory = functools.partial(Desk, f"{exchange.name}:{exchange.account}", runtime, exchange=exchange,
                                             journal=journal, templates=templates, repl_host=repl_host,
                                             repl_port=repl_port, candle_store=candle_store,
                                             candles_pushed=candles_pushed)
            desk = await root.start(desk_factory, RestartPolicy(max_restarts=0))
            if desk.recovered is not None:  # the journal's fills go back further: so must the starting balances
                initial = await trio.to_thread.run_sync(_first_balances, db) or initial
            system = RunningSystem(exchange=exchange, runtime=runtime, journal=journal, desk=desk, db=db,
                                   initial=initial, market_start=exchange.now_ms())
            try:
                yield system
            finally:
                with trio.CancelScope(shield=True):
                    await root.stop(system.desk.name, grace=DESK_GRACE)
                    system.final = await _totals(exchange)
                nursery.cancel_scope.cancel()
    finally:
        registry.close()


async def wait_for_stop(duration: float | None, finished: trio.Event | None = None) -> str:
    """The first reason to stop: Ctrl-C (SIGINT/SIGTERM), ``duration`` seconds, or ``finished`` (end of data)."""
    reason = ""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_with(label: str, wait: functools.partial[object]) -> None:
                nonlocal reason
                await wait()
                reason = reason or label
                nursery.cancel_scope.cancel()

            async def next_signal() -> None:
                async for _ in signals:
                    return

            nursery.start_soon(stop_with, "interrupted (Ctrl-C)", functools.partial(next_signal))
            if finished is not None:
                nursery.start_soon(stop_with, "end of market data", functools.partial(finished.wait))
            if duration is not None:
                nursery.start_soon(stop_with, f"duration reached ({duration:g} s)",
                                   functools.partial(trio.sleep, duration))
    return reason
