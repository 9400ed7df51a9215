"""The desk's history through the candle store: a second start asks the exchange only for what closed since."""

from __future__ import annotations

from pathlib import Path

import trio

from crypy.actors.template_files import load_templates
from crypy.exchanges.simulated import SimulatedExchange
from crypy.modes.system import open_system
from crypy.simulator import SimConfig, SimExchange
from crypy.store.candles import CandleStore

from .conftest import EAGER_TEMPLATES


class CountingExchange(SimulatedExchange):
    """The in-process simulator, counting the candles it serves."""

    served = 0

    async def candles(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = await super().candles(*args, **kwargs)
        self.served += len(found)
        return found


async def test_a_restarted_desk_reads_its_history_from_the_store(tmp_path: Path) -> None:
    templates, store = load_templates(EAGER_TEMPLATES), tmp_path / "candles.db"
    templates.desk.market_data.poll_seconds = 3600  # only the start-up history is asked for
    sim = SimExchange(SimConfig(speed=36_000.0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.run)
        first = CountingExchange(sim, "default")
        async with open_system(first, templates=templates, db=tmp_path / "a.db", repl_port=0,
                               candle_store=store) as system:
            history = {pair: list(candles) for pair, candles in system.desk.history.items()}
        assert first.served >= 1440 and all(len(c) == 720 for c in history.values())
        await trio.sleep(0.5)  # about 20 candles close meanwhile
        second = CountingExchange(sim, "default")
        async with open_system(second, templates=templates, db=tmp_path / "b.db", repl_port=0,
                               candle_store=store) as system:
            again = {pair: list(candles) for pair, candles in system.desk.history.items()}
        nursery.cancel_scope.cancel()
    for pair, candles in again.items():
        assert len(candles) == 720 and candles[-1].ts > history[pair][-1].ts
        assert set(history[pair]) & set(candles), "the stored part is reused"
    assert 0 < second.served < 100, "only the newly closed candles were fetched"
    with CandleStore(store) as cached:
        assert {row.pair for row in cached.summary()} == set(history)
