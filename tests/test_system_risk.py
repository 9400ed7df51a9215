"""Risk controls on real replayed data: the daily loss limit flattens and halts the desk; kill leaves nothing open."""

from __future__ import annotations

from pathlib import Path

import trio

from crypy.modes.sim import SimOptions, open_sim_system
from crypy.protocols import TradingState
from crypy.store import JournalReader

from .conftest import eager_templates_with

RISK = """
[risk]
quote = "USD"
daily_loss_limit = "3"
on_daily_loss = "halted"
flatten_on_daily_loss = true
"""


async def _until(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.05)


async def test_the_daily_loss_limit_flattens_and_halts_the_desk(tmp_path: Path) -> None:
    templates = eager_templates_with(tmp_path / "templates", desk=RISK)
    options = SimOptions(speed=36_000.0, db=tmp_path / "journal.db", repl_port=0, template_dir=templates,
                         in_process=True)
    async with open_sim_system(options) as (system, sim):
        desk = system.desk
        await _until(lambda: desk.state is TradingState.HALTED)
        assert -desk.risk.monitor.daily_pnl >= 3
        await _until(lambda: not desk.traders() and not desk.open_orders and sim.open_orders("default") == [])
        await _until(lambda: all(ledger.acquired == 0 for ledger in desk.gate.ledgers.values()
                                 if ledger.holder_holds_quote))  # every base bought with USD sold back
        await trio.sleep(6)  # longer than the holders' respawn period: no fresh trader while halted
        assert not desk.traders() and desk.state is TradingState.HALTED
        await desk.journal.flush()
        with JournalReader(tmp_path / "journal.db") as journal:
            events = journal.risk_events()
            flattens = [o for o in journal.orders() if "-flatten-" in o.client_id]
            refusals_after = journal.refusals()
        kinds = [e.kind for e in events]
        assert kinds[:2] == ["daily_loss_limit", "kill"], kinds
        limit = events[0]
        assert limit.state is TradingState.HALTED and limit.limit == 3 and limit.value is not None and limit.value >= 3
        assert limit.asset == "USD" and "daily trading loss" in limit.detail
        assert flattens and all(o.status == "filled" for o in flattens), "positions were given back at market"
        assert not [r for r in refusals_after if r.ts > limit.ts and "halted" not in r.reason]
    summary = system.summary()
    assert summary.open_orders == 0 and summary.balances_match, summary.render()


async def test_a_closing_shutdown_gives_every_position_back_before_it_stops(tmp_path: Path) -> None:
    templates = eager_templates_with(tmp_path / "templates",
                                     desk="[risk]\nflatten_on_shutdown = true\nshutdown_deadline_seconds = 10\n")
    options = SimOptions(speed=36_000.0, db=tmp_path / "journal.db", repl_port=0, template_dir=templates,
                         in_process=True)
    async with open_sim_system(options) as (system, sim):
        desk = system.desk
        await _until(lambda: any(ledger.acquired > 0 and ledger.holder_holds_quote
                                 for ledger in desk.gate.ledgers.values()))
        for trader in desk.traders():  # positions stay as they are now: only the shutdown gives them back
            await trader.set_paused(True)
        await _until(lambda: not desk.open_orders)
        holding = {name for name, ledger in desk.gate.ledgers.items() if ledger.acquired > 0}
    assert all(ledger.acquired == 0 for ledger in desk.gate.ledgers.values() if ledger.holder_holds_quote)
    with JournalReader(tmp_path / "journal.db") as journal:
        flattens = [o for o in journal.orders() if "-flatten-" in o.client_id]
    assert {o.trader for o in flattens} >= {name for name in holding if name.endswith("@USD")}
    assert all(o.status == "filled" for o in flattens)
    summary = system.summary()
    assert summary.open_orders == 0 and summary.balances_match, summary.render()
