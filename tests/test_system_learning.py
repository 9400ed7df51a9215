"""Templates that learn, end to end: two ``crypy sim`` runs on the same data and the same template directory.

The trader template offers a plugin strategy whose backtest peeks at the next candle (``tests/plugins/hindsight``)
and the SMA crossover. Run 1: the hindsight strategy wins every evaluation, is funded on both pairs and loses live;
its outcomes are written into ``holder.toml``'s memory, the human's comments kept. Run 2, same data, same
directory: the holder avoids it (it failed on two pairs), so the traders propose, and the holders fund, only the
SMA crossover. The plugin folder also holds a plugin that cannot be imported: reported, skipped, never fatal.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

from crypy.store import JournalReader

from .conftest import eager_templates_with
from .processes import crypy_sim

PLUGINS = Path(__file__).parent / "plugins"

TRADER = """# The strategies this test's traders may try, from the plugin folder below and crypy's own.
plugin_dir = "plugins"  # relative to this file

[evaluation]
history = 720
spread = 0.0005
reevaluate_hours = 0

[[strategies]]
name = "hindsight"      # a backtest that peeks ahead
grid = [{ margin = 0.006 }]

[[strategies]]
name = "sma_crossover"
grid = [{ fast = 2, slow = 5 }]
"""


def _run(template_dir: Path, db: Path) -> str:
    with crypy_sim("--duration", "8", "--speed", "36000", "--repl-port", "0", "--db", str(db), "--in-process",
                   "--template-dir", str(template_dir)) as sim:
        output = sim.finish(timeout=120)
    assert sim.process.returncode == 0, output[-3000:]
    return output


def test_a_strategy_that_lost_on_two_pairs_is_not_funded_in_the_next_run(tmp_path: Path) -> None:
    templates = eager_templates_with(tmp_path / "templates")
    (templates / "trader.toml").write_text(TRADER)
    holder = re.sub(r"^learn = false.*$", "learn = true", (templates / "holder.toml").read_text(), flags=re.MULTILINE)
    holder = holder.replace("[criteria]\n", "[criteria]\navoid_after_failures = 2   # learnt, not told\n")
    (templates / "holder.toml").write_text(holder)
    shutil.copytree(PLUGINS, templates / "plugins")

    first = _run(templates, tmp_path / "first.db")
    assert '"plugin": "broken"' in first and "plugin skipped" in first and "NoSuchThing" in first
    with JournalReader(tmp_path / "first.db") as journal:
        funded = {d.proposal_id for d in journal.decisions() if d.accepted}
        first_funded = {(p.pair, p.strategy) for p in journal.proposals() if p.id in funded}
    assert {("XBT/USD", "hindsight"), ("ETH/USD", "hindsight")} <= first_funded

    after = (templates / "holder.toml").read_text()
    assert after.startswith(holder.rstrip("\n")), "the human's text and comments are kept as they were"
    outcomes = tomllib.loads(after)["memory"]["outcomes"]
    lost = {o["pair"] for o in outcomes if o["strategy"] == "hindsight" and o["result"] < 0}
    assert {"XBT/USD", "ETH/USD"} <= lost, outcomes
    assert all(o["params"] == {"margin": 0.006} for o in outcomes if o["strategy"] == "hindsight")
    desk_memory = tomllib.loads((templates / "desk.toml").read_text())["memory"]["assets"]
    assert {a["asset"] for a in desk_memory} >= {"XBT", "ETH"}

    _run(templates, tmp_path / "second.db")
    with JournalReader(tmp_path / "second.db") as journal:
        proposals = journal.proposals()
        funded = {d.proposal_id for d in journal.decisions() if d.accepted}
    assert proposals and funded
    assert {p.strategy for p in proposals} == {"sma_crossover"}, "the avoided strategy is not even proposed"
    assert {p.pair for p in proposals if p.id in funded} >= {"XBT/USD", "ETH/USD"}
