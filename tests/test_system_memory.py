"""What the memory teaches a running system, in-process on the simulator: the desk diverts capital from an asset
whose recent outcomes lost, the holder keeps avoided and banned strategies from its traders, and a funded
trader's outcome is written into both memories when it stops."""

from __future__ import annotations

import tomllib
from pathlib import Path

import trio

from crypy.actors.holder import Holder
from crypy.actors.trader import Trader
from crypy.modes.sim import SimOptions, open_sim_system

from .conftest import eager_templates_with

ETH_LOST_TWICE = """
[[memory.assets]]
asset = "ETH"
result = -0.05
ts = 1

[[memory.assets]]
asset = "ETH"
result = -0.02
ts = 2
"""

SMA_FAILED_ON_TWO_PAIRS = """
[[memory.outcomes]]
trader = "XBT/USD@USD"
pair = "XBT/USD"
strategy = "sma_crossover"
result = -0.03

[[memory.outcomes]]
trader = "ETH/USD@USD"
pair = "ETH/USD"
strategy = "sma_crossover"
result = -0.01
"""

RSI_TOO = """
[[strategies]]
name = "rsi_reversion"
grid = [{ window = 6, oversold = 45, exit_level = 55 }]
"""


async def _traders(system_desk: object, count: int) -> dict[str, Trader]:
    with trio.fail_after(30):
        while True:
            traders = {}
            for holder_name in system_desk.children.names:  # type: ignore[attr-defined]
                holder = system_desk.children.actor(holder_name)  # type: ignore[attr-defined]
                if isinstance(holder, Holder):
                    traders |= {n: holder.children.actor(n) for n in holder.children.names}
            if len(traders) >= count and all(t.proposal for t in traders.values()):
                return traders
            await trio.sleep(0.05)


async def test_the_desk_diverts_capital_and_the_holder_avoids_what_failed(tmp_path: Path) -> None:
    templates = eager_templates_with(tmp_path / "templates", desk=ETH_LOST_TWICE,
                                     holder=SMA_FAILED_ON_TWO_PAIRS,
                                     trader=RSI_TOO)
    holder_file = templates / "holder.toml"
    holder_file.write_text(holder_file.read_text().replace("learn = false", "learn = true"))
    options = SimOptions(speed=36_000.0, db=tmp_path / "journal.db", repl_port=0, template_dir=templates,
                         in_process=True)
    async with open_sim_system(options) as (system, _):
        assert system.desk.diverted == {"ETH"}
        traders = await _traders(system.desk, 2)  # XBT/USD for the USD holder and for the XBT holder
        assert "ETH/USD@USD" not in traders, "no USD is put into ETH"
        assert {t.proposal.strategy for t in traders.values()} == {"rsi_reversion"}  # type: ignore[union-attr]
        usd = system.desk.children.actor("USD")
        assert isinstance(usd, Holder) and "ETH/USD" in usd._no_trader
        with trio.fail_after(30):
            while not traders["XBT/USD@USD"].fills:
                await trio.sleep(0.05)
        await usd.retire("XBT/USD")
        with trio.fail_after(10):
            while len(usd.template.memory.outcomes) < 3:  # its next traders learn from it at once
                await trio.sleep(0.05)
        outcome = usd.outcomes.recorded[0]
        assert usd.template.memory.outcomes[-1].trader == "XBT/USD@USD"
        assert (outcome.trader, outcome.asset, outcome.strategy) == ("XBT/USD@USD", "XBT", "rsi_reversion")
    remembered = [o for o in tomllib.loads(holder_file.read_text())["memory"]["outcomes"]
                  if o["trader"] == "XBT/USD@USD" and o["strategy"] == "rsi_reversion"]
    assert len(remembered) == 1, "recorded once, not again at shutdown"
    assert remembered[0]["params"] == {"window": 6, "oversold": 45, "exit_level": 55}
    assert remembered[0]["result"] == outcome.result
    assets = tomllib.loads((templates / "desk.toml").read_text())["memory"]["assets"]
    assert {"asset": "XBT", "result": outcome.result} in [{k: a[k] for k in ("asset", "result")} for a in assets]
