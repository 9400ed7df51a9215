"""Every desk command over a real socket against a real in-process system."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import trio

from crypy.actors import approval as approvals
from crypy.actors.bus import Topic
from crypy.modes.sim import open_sim_system
from crypy.protocols import ActorStopped, OrderRefused, OrderRequest, OrderType, Side, TradingState

from .test_actors_commands_helpers import Client, connect, options, until

DESK = "sim:default"


async def _views(desk: Client) -> None:
    assert "trading          active" in (await desk.ask("status")).splitlines()
    assert (await desk.ask_json("status"))["trading"] == "active"
    assert "USD" in await desk.ask("balances")
    assert {"asset", "total", "held", "available"} <= (await desk.ask_json("balances"))[0].keys()
    assert "XBT/USD" in await desk.ask("markets")
    markets = await desk.ask_json("markets")
    assert {"pair", "price_decimals", "min_amount", "min_cost", "taker_fee"} <= markets[0].keys()
    ticker = await desk.ask_json("ticker XBT/USD")
    assert ticker["pair"] == "XBT/USD" and ticker["bid"] <= ticker["ask"]
    assert "last" in await desk.ask("ticker XBT/USD")
    assert len(await desk.ask_json("candles XBT/USD 3")) == 3
    assert "close" in await desk.ask("candles ETH/USD")
    assert isinstance(await desk.ask_json("orders"), list)
    all_orders = await desk.ask_json("orders all")
    assert all_orders and {"id", "trader", "status", "avg_price"} <= all_orders[0].keys()
    assert len(await desk.ask_json("fills 2")) == 2
    assert "liquidity" in await desk.ask("fills")
    assert isinstance(await desk.ask_json("refusals 5"), list)
    holders = await desk.ask_json("holders")
    assert {h["holder"] for h in holders} == {"USD", "XBT"} and "capital" in holders[0]
    traders = await desk.ask_json("traders")
    assert {"XBT/USD@USD", "ETH/USD@USD", "XBT/USD@XBT"} <= {t["trader"] for t in traders}
    assert "XBT/USD@USD" in await desk.ask("traders")
    assert "XBT/USD@USD" in await desk.ask("actors")
    assert {a["name"] for a in await desk.ask_json("actors")} >= {DESK, "USD"}
    journal = await desk.ask_json("journal 5")
    assert len(journal) == 5 and "entry" in journal[0]
    assert len((await desk.ask("journal 3")).splitlines()) == 4


async def _errors(desk: Client) -> None:
    for line in ("ticker NOPE/USD", "candles XBT/USD 0", "candles NOPE/USD", "fills 0", "refusals x",
                 "orders sideways", "set limit foo 1", "set limit max_order_notional -5",
                 "set limit max_order_notional lots", "set limit allowed_pairs NOPE/USD", "freq 0", "freq fast",
                 "journal 0", "watch weather", "kill", "kill --flatten", "resume", "status --loud",
                 "set limit max_open_orders 0", "set limit max_orders_per_minute many", "set limit max_exposure XBT",
                 "set limit max_exposure XBT=-1", "set risk daily_loss_limit -3", "set risk on_daily_loss panic",
                 "set risk flatten_on_shutdown maybe", "set risk trader_max_drawdown 2", "set risk colour blue",
                 "state reducing", "state sideways --yes"):
        assert (await desk.ask(line)).startswith("error: "), line
    assert await desk.ask("kill") == "error: kill needs --yes"
    assert await desk.ask("resume --json") == "error: resume needs --yes"


async def _steering(desk: Client, system) -> None:  # type: ignore[no-untyped-def]
    limits = system.desk.template.limits
    assert (await desk.ask_json("set limit max_order_notional 2500.50"))["max_order_notional"] == "2500.50"
    assert limits.max_order_notional == Decimal("2500.50") and system.desk.gate.limits is limits
    assert "2500.5" in await desk.ask("limits")
    assert (await desk.ask_json("set limit allowed_pairs XBT/USD,ETH/USD"))["allowed_pairs"] == ["XBT/USD", "ETH/USD"]
    assert (await desk.ask_json("set limit allowed_pairs -"))["allowed_pairs"] == []
    await desk.ask("set limit max_order_notional 10000")
    assert (await desk.ask_json("set limit max_exposure xbt=0.5"))["max_exposure"] == "XBT=0.5"
    assert limits.max_exposure == {"XBT": Decimal("0.5")}
    assert (await desk.ask_json("set limit max_exposure XBT=-"))["max_exposure"] == "-"
    assert (await desk.ask_json("set limit max_open_orders 7"))["max_open_orders"] == 7 == limits.max_open_orders
    await desk.ask("set limit max_open_orders 100")
    risk = system.desk.template.risk
    assert (await desk.ask_json("set risk daily_loss_limit 250"))["daily_loss_limit"] == "250"
    assert risk.daily_loss_limit == Decimal(250) and system.desk.risk.monitor.settings is risk
    assert (await desk.ask_json("set risk daily_loss_limit -"))["daily_loss_limit"] is None
    assert (await desk.ask_json("set risk flatten_on_shutdown yes"))["flatten_on_shutdown"] is True
    await desk.ask("set risk flatten_on_shutdown no")
    assert "daily P&L (USD)" in await desk.ask("risk")
    assert {row["trader"] for row in await desk.ask_json("pnl")} <= {"XBT/USD@USD", "ETH/USD@USD", "XBT/USD@XBT"}
    assert await desk.ask("state reducing --yes") == "trading reducing"
    assert (await _refusal_reason(system, "while-reducing", approved=True)).startswith("the desk is reducing")
    assert await desk.ask("state active --yes") == "trading active"
    assert (await desk.ask_json("freq 0.1"))["poll_seconds"] == 0.1
    assert system.desk.template.market_data.poll_seconds == 0.1
    assert "0.05" in await desk.ask("freq 0.05")
    lines = (await desk.ask("watch candles 3")).splitlines()
    assert len(lines) == 4 and all("Candle" in line for line in lines[:3]) and "watched 3" in lines[3]
    lines = (await desk.ask("watch orders 1 --json")).splitlines()
    assert json.loads(lines[0])["type"] == "Order" and json.loads(lines[1])["shown"] == 1


async def _refusal_reason(system, client_id: str, *, approved: bool = False) -> str:  # type: ignore[no-untyped-def]
    """Why the desk refuses a small buy (with a valid approval of the USD holder when ``approved``)."""
    approval = approvals.sign(system.desk._holder_keys["USD"], id="test-A", holder="USD", trader="test@USD",
                              pair="XBT/USD", asset="USD", amount=Decimal(1000), expires=2**62) if approved else None
    request = OrderRequest(ts=0, client_id=client_id, trader="test@USD" if approved else "XBT/USD@USD",
                           pair="XBT/USD", side=Side.BUY, order_type=OrderType.MARKET, amount=Decimal("0.01"),
                           approval=approval)
    with system.runtime.bus.subscribe(Topic.REFUSALS) as refusals:
        await system.runtime.bus.publish(Topic.ORDER_REQUESTS, request)
        with trio.fail_after(5):
            async for refusal in refusals:
                if isinstance(refusal, OrderRefused) and refusal.client_id == client_id:
                    return refusal.reason
    raise AssertionError("no refusal")


async def test_desk_commands(tmp_path: Path) -> None:
    async with open_sim_system(options(tmp_path)) as (system, sim):
        await until(lambda: system.desk.fill_count >= 3 and len(system.desk.traders()) >= 3)
        async with connect(system.desk.repl_address) as desk:
            await _views(desk)
            await _errors(desk)
            await _steering(desk, system)

            answer = await desk.ask("kill --yes")
            assert answer.startswith("halted: cancelling every open order")
            await until(lambda: sim.open_orders("default") == [] and not system.desk.open_orders)
            assert (await _refusal_reason(system, "after-kill")).startswith("the desk is halted")
            assert (await desk.ask_json("status"))["trading"] == "halted"
            assert json.loads(await desk.ask("resume --yes --json"))["trading"] == "active"
            fills = system.desk.fill_count
            await until(lambda: system.desk.fill_count > fills)

            with system.runtime.bus.subscribe(Topic.LIFECYCLE) as lifecycle:
                answer = await desk.ask("kill --flatten --yes")
                assert "flattening and stopping the traders" in answer
                stopped_before_reply = []
                while True:
                    try:
                        stopped_before_reply.append(lifecycle.receive_nowait())
                    except trio.WouldBlock:
                        break
                assert not [e for e in stopped_before_reply if isinstance(e, ActorStopped)]
                await until(lambda: not system.desk.traders())
            await until(lambda: sim.open_orders("default") == [] and not system.desk.open_orders)
            quote_ledgers = [ledger for ledger in system.desk.gate.ledgers.values() if ledger.holder_holds_quote]
            await until(lambda: all(ledger.acquired == 0 for ledger in quote_ledgers))  # sold back at market
            assert (await _refusal_reason(system, "after-flatten")).startswith("the desk is halted")
            assert (await desk.ask("resume --yes")) == "trading active"
            assert system.desk.state is TradingState.ACTIVE


async def test_enter_continues_the_session_in_a_holder_and_a_trader_and_back_returns(tmp_path: Path) -> None:
    async with open_sim_system(options(tmp_path)) as (system, _):
        registry = system.runtime.registry
        with trio.fail_after(20):
            while "XBT/USD@USD" not in registry:
                await trio.sleep(0.05)
        host, port = system.desk.repl_address.rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            async def ask(line: str, prompt: bytes) -> str:
                await stream.send_all(line.encode() + b"\r\n")
                answer = b""
                with trio.fail_after(10):
                    while not answer.endswith(prompt):
                        answer += await stream.receive_some(65536)
                return answer.decode(errors="replace")

            banner = b""
            while not banner.endswith(b"sim:default> "):
                banner += await stream.receive_some(65536)
            assert "entered USD" in await ask("enter USD", b"invest USD> ")
            assert "capital" in await ask("status", b"invest USD> ")
            assert "entered XBT/USD@USD" in await ask("enter XBT/USD@USD", b"trade XBT/USD@USD> ")
            assert "holds" in await ask("position", b"trade XBT/USD@USD> ")
            assert "back in USD" in await ask("back", b"invest USD> ")
            assert "back in sim:default" in await ask("back", b"sim:default> ")
            assert (await ask("back", b"sim:default> ")).startswith("error: nothing to go back to")
            assert (await ask("enter nobody", b"sim:default> ")).startswith("error: no actor 'nobody'")
            assert "exchange time" in await ask("status", b"sim:default> ")
