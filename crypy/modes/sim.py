"""``crypy sim``: the whole system on the embedded simulator, offline and with zero configuration.

One process runs the simulator (replaying real Kraken candles on an accelerated clock), the journal
writer, and the actor tree Desk -> Holders -> Traders. By default the simulator serves Kraken's REST and
WebSocket API on free loopback ports and the desk reaches it through the ccxt Kraken client, the very path
it takes to the real Kraken; ``in_process`` connects the desk to the simulator directly instead. The run
ends on Ctrl-C, after ``--duration`` seconds, or when the data runs out; in every case the desk stops its
traders, cancels open orders and flushes the journal before the summary is printed.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import trio

from crypy.actors.registry import format_actors
from crypy.actors.template_files import load_templates
from crypy.exchanges import Exchange
from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.simulated import SimulatedExchange
from crypy.simulator import DEFAULT_MARKETS, MarketSpec, SimConfig, SimExchange, with_flat_fees
from crypy.simulator.config import KrakenServerConfig
from crypy.simulator.kraken.server import KrakenEndpoints, serve_kraken

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
    in_process: bool = False
    fees: dict[str, Decimal] = field(default_factory=dict)
    """A flat ``maker`` and/or ``taker`` fee for every market instead of Kraken's tiers (``with_flat_fees``)."""
    # The replay runs thousands of times faster than real time, so Kraken's per-second rate limits would
    # only throttle the desk into missing candles: they are off here (``crypy simulator`` keeps them).
    server: KrakenServerConfig = field(default_factory=lambda: KrakenServerConfig(rate_limits=False))
    client_timeout_s: float = 10.0
    """How long the desk's Kraken client waits for an answer before it treats the request as ambiguous."""
    client_backoff_s: float = 0.25
    """Its first pause before asking an unavailable exchange again."""


async def _exchange(sim: SimExchange, nursery: trio.Nursery, options: SimOptions) -> Exchange:
    """The desk's way to the simulator: ccxt over Kraken's API on loopback, or direct calls."""
    if options.in_process:
        return SimulatedExchange(sim, ACCOUNT)
    endpoints: KrakenEndpoints = await nursery.start(functools.partial(
        serve_kraken, sim, options.server, accounts=[ACCOUNT]))
    credentials = endpoints.credentials[ACCOUNT]
    return KrakenCcxtExchange(credentials.api_key, credentials.secret, account=ACCOUNT, name="sim",
                              rest_url=endpoints.rest_url, rate_limit=False, clock=sim.now_ms,
                              timeout_s=options.client_timeout_s,
                              backoff_s=options.client_backoff_s, ws_private_url=endpoints.ws_private_url)


def fee_markets(fees: dict[str, Decimal]) -> dict[str, MarketSpec] | None:
    """The simulator's markets with the flat ``maker``/``taker`` fees asked for; None (Kraken's tiers) if none."""
    return with_flat_fees(DEFAULT_MARKETS, **fees) if fees else None


def set_aside(db: Path) -> Path | None:
    """Keep an earlier run's journal under the next free ``NAME.N.db``: each simulation starts a new exchange
    account, so its journal must start empty too (the desk would otherwise try to recover the old orders)."""
    if not db.exists():
        return None
    n = 1
    while (kept := db.with_name(f"{db.stem}.{n}{db.suffix}")).exists():
        n += 1
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{db}{suffix}")
        if old.exists():
            old.rename(f"{kept}{suffix}")
    return kept


@asynccontextmanager
async def open_sim_system(options: SimOptions) -> AsyncIterator[tuple[RunningSystem, SimExchange]]:
    """Start the simulator and the actor system on it; leaving stops both, the actors first."""
    templates = load_templates(options.template_dir)
    kept = set_aside(options.db)
    if kept is not None:
        print(f"earlier journal kept as {kept}", file=sys.stderr)
    config = SimConfig(speed=options.speed, seed=options.seed, markets=fee_markets(options.fees),
                       **({"data_files": [str(p) for p in options.data]} if options.data else {}))
    sim = SimExchange(config)
    async with trio.open_nursery() as nursery:
        exchange = await _exchange(sim, nursery, options)
        try:
            async with open_system(exchange, templates=templates, db=options.db,
                                   repl_port=options.repl_port) as system:
                await system.traders_decided()
                await nursery.start(sim.run)
                yield system, sim
        finally:
            await exchange.close()
        nursery.cancel_scope.cancel()


async def run_sim(options: SimOptions, out: TextIO = sys.stdout) -> RunSummary:
    """Run until Ctrl-C, ``--duration`` or the end of the data, and return the summary."""
    async with open_sim_system(options) as (system, sim):
        print(format_actors(system.runtime.registry.actors()), file=out, flush=True)
        print(f"desk REPL: telnet {system.desk.repl_address.replace(':', ' ')}   journal: {options.db}", file=out,
              flush=True)
        system.stopped_because = await wait_for_stop(options.duration, sim.finished)
    return system.summary()
