"""``crypy sim``: the whole system on the embedded simulator, offline and with zero configuration.

One process runs the simulator (replaying real Kraken candles on an accelerated clock), the journal
writer, and the actor tree Desk -> Holders -> Traders. The run ends on Ctrl-C, after ``--duration``
seconds, or when the data runs out; in every case the desk stops its traders, cancels open orders and
flushes the journal before the summary is printed.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import trio

from crypy.actors.bus import Bus
from crypy.actors.desk import Desk
from crypy.actors.registry import format_actors, open_process_registry
from crypy.actors.runtime import Runtime
from crypy.actors.supervisor import RestartPolicy, Supervisor
from crypy.actors.template import load_templates
from crypy.exchanges.simulated import SimulatedExchange
from crypy.simulator import SimConfig, SimExchange
from crypy.store import Journal, JournalReader

from .summary import RunSummary

ACCOUNT = "default"


@dataclass
class SimOptions:
    speed: float = 3600.0
    duration: float | None = None
    data: list[Path] | None = None
    db: Path = Path("crypy-sim.db")
    repl_port: int = 7100
    template_dir: Path | None = None
    seed: int = 0


async def _first_of(duration: float | None, finished: trio.Event) -> str:
    """Wait for the first reason to stop: Ctrl-C (SIGINT/SIGTERM), the duration, or the end of the data."""
    reason = ""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_with(label: str, wait: functools.partial[object]) -> None:
                nonlocal reason
                await wait()
                reason = reason or label
                nursery.cancel_scope.cancel()

            async def next_signal() -> None:
                async for signum in signals:
                    return

            nursery.start_soon(stop_with, "interrupted (Ctrl-C)", functools.partial(next_signal))
            nursery.start_soon(stop_with, "end of market data", functools.partial(finished.wait))
            if duration is not None:
                nursery.start_soon(stop_with, f"duration reached ({duration:g} s)", functools.partial(trio.sleep, duration))
    return reason


@dataclass
class SimSystem:
    """A running simulation: the exchange, the journal and the actor tree, for the CLI and for tests."""

    options: SimOptions
    sim: SimExchange
    runtime: Runtime
    journal: Journal
    desk: Desk
    initial: dict[str, Decimal]
    market_start: int
    stopped_because: str = ""

    def summary(self) -> RunSummary:
        """What the run did, read back from the journal (call after the system has stopped)."""
        with JournalReader(self.options.db) as reader:
            orders, fills = reader.orders(), reader.fills()
        return RunSummary(
            stopped_because=self.stopped_because, journal=str(self.options.db), initial=self.initial,
            final={asset: b.total for asset, b in self.sim.balances(ACCOUNT).items()}, fills=fills, orders=orders,
            candles=self.desk.candle_count, market_start=self.market_start, market_end=self.sim.now_ms(),
        )


@asynccontextmanager
async def open_sim_system(options: SimOptions) -> AsyncIterator[SimSystem]:
    """Start simulator, journal and actors; on exit stop the desk gracefully (orders cancelled, journal flushed)."""
    templates = load_templates(options.template_dir)
    config = SimConfig(speed=options.speed, seed=options.seed,
                       **({"data_files": [str(p) for p in options.data]} if options.data else {}))
    sim = SimExchange(config)
    registry = open_process_registry()
    runtime = Runtime(bus=Bus(), registry=registry, now_ms=sim.now_ms)
    journal = Journal(options.db)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            await nursery.start(sim.run)
            root = Supervisor(nursery, runtime, owner="")
            desk_factory = functools.partial(Desk, f"sim:{ACCOUNT}", runtime, exchange=SimulatedExchange(sim, ACCOUNT),
                                             journal=journal, templates=templates, repl_port=options.repl_port)
            system = SimSystem(options=options, sim=sim, runtime=runtime, journal=journal,
                               desk=await root.start(desk_factory, RestartPolicy(max_restarts=0)),
                               initial={asset: b.total for asset, b in sim.balances(ACCOUNT).items()},
                               market_start=sim.now_ms())
            try:
                yield system
            finally:
                with trio.CancelScope(shield=True):
                    await root.stop(system.desk.name, grace=15.0)
                nursery.cancel_scope.cancel()
    finally:
        registry.close()


async def run_sim(options: SimOptions, out: TextIO = sys.stdout) -> RunSummary:
    """Run until Ctrl-C, ``--duration`` or the end of the data, and return the summary."""
    async with open_sim_system(options) as system:
        print(format_actors(system.runtime.registry.actors()), file=out, flush=True)
        print(f"desk REPL: telnet {system.desk.repl_address.replace(':', ' ')}   journal: {options.db}", file=out,
              flush=True)
        system.stopped_because = await _first_of(options.duration, system.sim.finished)
    return system.summary()
