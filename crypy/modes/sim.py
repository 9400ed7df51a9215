"""``crypy sim``: the whole system on the embedded simulator, offline and with zero configuration.

One process runs the simulator (replaying real Kraken candles on an accelerated clock), the journal
writer, and the actor tree Desk -> Holders -> Traders. The run ends on Ctrl-C, after ``--duration``
seconds, or when the data runs out; in every case the desk stops its traders, cancels open orders and
flushes the journal before the summary is printed.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import trio

from crypy.actors.registry import format_actors
from crypy.actors.template import load_templates
from crypy.exchanges.simulated import SimulatedExchange
from crypy.simulator import SimConfig, SimExchange

from .summary import RunSummary
from .system import RunningSystem, open_system, wait_for_stop

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


@asynccontextmanager
async def open_sim_system(options: SimOptions) -> AsyncIterator[tuple[RunningSystem, SimExchange]]:
    """Start the simulator and the actor system on it; leaving stops both, the actors first."""
    templates = load_templates(options.template_dir)
    config = SimConfig(speed=options.speed, seed=options.seed,
                       **({"data_files": [str(p) for p in options.data]} if options.data else {}))
    sim = SimExchange(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.run)
        exchange = SimulatedExchange(sim, ACCOUNT)
        async with open_system(exchange, templates=templates, db=options.db, repl_port=options.repl_port) as system:
            yield system, sim
        nursery.cancel_scope.cancel()


async def run_sim(options: SimOptions, out: TextIO = sys.stdout) -> RunSummary:
    """Run until Ctrl-C, ``--duration`` or the end of the data, and return the summary."""
    async with open_sim_system(options) as (system, sim):
        print(format_actors(system.runtime.registry.actors()), file=out, flush=True)
        print(f"desk REPL: telnet {system.desk.repl_address.replace(':', ' ')}   journal: {options.db}", file=out,
              flush=True)
        system.stopped_because = await wait_for_stop(options.duration, sim.finished)
    return system.summary()
