"""Every holder ("invest") and trader ("trade") command over real sockets, with a holder in manual mode."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from crypy.modes.sim import open_sim_system

from .conftest import EAGER_TEMPLATES
from .test_actors_commands_helpers import Client, connect, options, until

XBT_TRADER = "XBT/USD@USD"


def _manual_templates(tmp_path: Path) -> Path:
    """The eager templates, with proposals waiting for a human."""
    folder = tmp_path / "templates"
    shutil.copytree(EAGER_TEMPLATES, folder)
    holder = folder / "holder.toml"
    holder.write_text(holder.read_text().replace("max_drawdown = 1.0", "max_drawdown = 1.0\nmanual = true"))
    return folder


async def _holder_views(usd: Client) -> None:
    assert "capital" in await usd.ask("status")
    assert (await usd.ask_json("status"))["proposals_waiting"] >= 1
    capital = await usd.ask_json("capital")
    assert capital["capital"] == capital["unallocated"] and {"allocated", "next_allocation"} <= capital.keys()
    assert (await usd.ask_json("criteria"))["manual"] is True
    assert (await usd.ask_json("set criterion min_trades 0"))["min_trades"] == 0
    assert "max_drawdown" in await usd.ask("criteria")
    assert {t["trader"] for t in await usd.ask_json("traders")} >= {XBT_TRADER}
    assert await usd.ask_json("allocations") == []
    for line in ("set criterion manual perhaps", "set criterion min_trades many", "set criterion speed 1",
                 "accept nope", "refuse nope", "spawn NOPE/USD", "spawn XBT/USD", "retire XBT/USD",
                 "retire NOPE/USD --yes", "watch nothing"):
        assert (await usd.ask(line)).startswith("error: "), line
    assert await usd.ask("retire XBT/USD") == "error: retire needs --yes"


async def _proposal_id(usd: Client, trader: str) -> str:
    waiting = [p for p in await usd.ask_json("proposals") if p["decision"] == "waiting" and p["trader"] == trader]
    assert waiting, trader
    return waiting[0]["id"]


async def _trader_views(xbt: Client) -> None:
    assert (await xbt.ask_json("status"))["phase"] == "trading"
    assert "holds" in await xbt.ask("position")
    pnl = await xbt.ask_json("pnl")
    assert {"realized", "unrealized", "total"} <= pnl.keys()
    strategy = await xbt.ask_json("strategy")
    assert strategy["strategy"] == "sma_crossover" and "total_return" in strategy
    assert {p["name"] for p in await xbt.ask_json("params")} == {"fast", "slow"}
    assert "fast" in await xbt.ask("params")
    assert "sma_crossover" in await xbt.ask("evaluate")
    assert {"strategy", "params", "total_return"} <= (await xbt.ask_json("evaluate")).keys()
    assert (await xbt.ask_json("set param fast 3"))["params"]["fast"] == 3
    for line in ("set param nope 1", "set param fast many", "set param fast 9", "buy", "buy -1 --yes",
                 "buy lots --yes", "sell 0.01", "close", "retire", "signals 0"):
        assert (await xbt.ask(line)).startswith("error: "), line
    assert await xbt.ask("buy 0.01") == "error: buy needs --yes"


async def test_invest_and_trade_commands(tmp_path: Path) -> None:
    async with open_sim_system(options(tmp_path, _manual_templates(tmp_path))) as (system, sim):
        registry = system.runtime.registry
        holder = next(h for h in system.desk.holders() if h.asset == "USD")
        await until(lambda: len(holder.pending) >= 2)
        async with connect(registry.get("USD").repl) as usd, connect(registry.get(XBT_TRADER).repl) as xbt:
            assert (await xbt.ask("pause")) == "paused"
            assert (await xbt.ask("buy 0.01 --yes")) == "error: refused: no holder approval"
            assert (await xbt.ask_json("status"))["phase"] == "proposed"
            await _holder_views(usd)

            accepted = await usd.ask_json(f"accept {await _proposal_id(usd, XBT_TRADER)}")
            assert accepted["accepted"] is True and accepted["trader"] == XBT_TRADER
            refused = await usd.ask(f"refuse {await _proposal_id(usd, 'ETH/USD@USD')} not today")
            assert refused == "ETH/USD@USD: refused: not today"
            assert [a["trader"] for a in await usd.ask_json("allocations")] == [XBT_TRADER]
            decisions = {p["trader"]: p["decision"] for p in await usd.ask_json("proposals")}
            assert decisions == {XBT_TRADER: "accepted", "ETH/USD@USD": "refused"}
            await until(lambda: "ETH/USD@USD" not in registry)
            assert (await usd.ask_json("spawn ETH/USD"))["trader"] == "ETH/USD@USD"
            assert await usd.ask("retire ETH/USD --yes") == "ETH/USD@USD retired"
            assert "ETH/USD@USD" not in registry

            trader = next(t for t in system.desk.traders() if t.name == XBT_TRADER)
            await until(lambda: trader.phase == "trading")
            bought = await xbt.ask_json("buy 0.01 --yes")
            assert bought["side"] == "buy" and Decimal(bought["amount"]) == Decimal("0.01")
            assert any(o.client_id == bought["client_id"] for o in sim.orders("default"))
            await until(lambda: trader.ledger.acquired > 0)
            assert "sell" in await xbt.ask("sell 0.004 --yes")
            await until(lambda: not trader.open_orders)
            closed = await xbt.ask_json("close --yes")
            assert closed["side"] == "sell"
            assert (await xbt.ask_json("status"))["paused"] == "yes"
            await _trader_views(xbt)
            assert await xbt.ask("resume") == "trading"

            lines = (await xbt.ask("watch candles 2")).splitlines()
            assert len(lines) == 3 and all("pair=XBT/USD" in line for line in lines[:2])
            lines = (await xbt.ask("watch signals 1 --json", timeout=20)).splitlines()
            assert json.loads(lines[0])["trader"] == XBT_TRADER
            assert "direction" in await xbt.ask("signals")

            await xbt.send("retire --yes")
            assert "retiring" in await xbt.read_until(b"retiring")
            await until(lambda: XBT_TRADER not in registry or registry.get(XBT_TRADER).state != "running")
