"""The whole system in-process: real simulator, real journal file, real actors, real REPL sockets."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from crypy.actors.approval import new_key, sign
from crypy.actors.bus import Topic
from crypy.actors.registry import ActorState
from crypy.actors.trader import Trader
from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.modes.sim import SimOptions, open_sim_system
from crypy.modes.system import RunningSystem
from crypy.protocols import OrderRefused, OrderRequest, OrderType, Side
from crypy.simulator.config import EndpointFaults, Faults, KrakenServerConfig
from crypy.store import JournalReader

from .conftest import EAGER_TEMPLATES


def _options(tmp_path: Path, **changes: object) -> SimOptions:
    values: dict[str, object] = {"speed": 36_000.0, "db": tmp_path / "journal.db", "repl_port": 0,
                                 "template_dir": EAGER_TEMPLATES}
    values.update(changes)
    return SimOptions(**values)  # type: ignore[arg-type]


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.02)


async def _ask(address: str, line: str) -> str:
    """Send one line to a REPL over TCP and return the answer (up to the next prompt)."""
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        received = b""
        with trio.fail_after(5):
            while not received.endswith(b"> "):
                received += await stream.receive_some(65536)
            await stream.send_all(line.encode() + b"\r\n")
            answer = b""
            while not answer.endswith(b"> "):
                answer += await stream.receive_some(65536)
    return answer.decode(errors="replace")


@pytest.mark.parametrize("in_process", [False, True], ids=["through-ccxt", "in-process"])
async def test_traders_trade_and_the_journal_reproduces_the_exchange_balances(tmp_path: Path, in_process: bool) -> None:
    async with open_sim_system(_options(tmp_path, in_process=in_process)) as (system, _):
        await _until(lambda: system.desk.fill_count >= 30, timeout=60)
        names = {info.name: info for info in system.runtime.registry.actors()}
        assert {"sim:default", "USD", "XBT", "XBT/USD@USD", "ETH/USD@USD", "XBT/USD@XBT"} <= names.keys()
        assert all(info.repl.startswith("127.0.0.1:") for info in names.values())
    summary = system.summary()
    assert len(summary.fills) >= 4
    assert system.desk.fill_count == len(summary.fills), "the desk booked a fill twice (or lost one)"
    assert summary.open_orders == 0
    assert summary.balances_match, summary.render()
    assert any(f.fee > 0 for f in summary.fills) and all(f.fee > 0 for f in summary.fills)
    with JournalReader(tmp_path / "journal.db") as journal:
        assert all(order.status.is_terminal for order in journal.orders())
        decisions = journal.decisions()
        assert decisions and all(d.accepted and d.approval is not None for d in decisions)
        requested = {r.client_id for r in journal.order_requests()}
        assert {o.client_id for o in journal.orders()} <= requested
        fills = journal.fills()
    for trader in {f.trader for f in fills}:
        holder_asset = trader.rsplit("@", 1)[1]
        holding = Decimal(0)  # what the trader acquired and still holds: base for a USD trader, USD for XBT's
        for fill in (f for f in fills if f.trader == trader):
            bought_base = fill.side is Side.BUY
            if holder_asset == "USD":
                holding += fill.amount if bought_base else -fill.amount
            else:
                holding += -(fill.cost + fill.fee) if bought_base else fill.cost - fill.fee
            mine = [(f.id, f.client_id, str(f.side), str(f.amount)) for f in fills if f.trader == trader]
            assert holding >= 0, f"{trader} gave back more than it acquired at fill {fill.id}: {mine}"


async def test_a_crashing_trader_is_restarted_while_the_desk_keeps_running(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    original = Trader._react
    crashed: list[str] = []

    def crash_once(self: Trader, candle):  # type: ignore[no-untyped-def]
        if self.name == "XBT/USD@USD" and not crashed:
            crashed.append(self.name)
            raise RuntimeError("strategy blew up")
        return original(self, candle)

    monkeypatch.setattr(Trader, "_react", crash_once)
    async with open_sim_system(_options(tmp_path)) as (system, _):
        registry = system.runtime.registry
        await _until(lambda: "XBT/USD@USD" in registry and registry.get("XBT/USD@USD").restarts >= 1
                     and registry.get("XBT/USD@USD").state is ActorState.RUNNING)
        candles_then = system.desk.candle_count
        await _until(lambda: system.desk.candle_count > candles_then + 20)
        assert registry.get("sim:default").state is ActorState.RUNNING
        assert registry.get("ETH/USD@USD").restarts == 0
        assert "trading" in await _ask(registry.get("sim:default").repl, "status")
        assert "phase" in await _ask(registry.get("XBT/USD@USD").repl, "status")
    with JournalReader(tmp_path / "journal.db") as journal:
        crashes = [e for e in journal.actor_events() if type(e).__name__ == "ActorCrashed"]
        assert [c.name for c in crashes] == ["XBT/USD@USD"] and "strategy blew up" in crashes[0].error


async def test_a_slow_market_data_subscriber_does_not_block_the_desk(tmp_path: Path) -> None:
    async with open_sim_system(_options(tmp_path)) as (system, _):
        with system.runtime.bus.subscribe(Topic.CANDLES, capacity=2) as never_read:
            start = system.desk.candle_count
            await _until(lambda: system.desk.candle_count >= start + 100)
            assert never_read.dropped >= 98
            assert len(never_read) == 2


async def _refusal_for(system: RunningSystem, request: OrderRequest) -> OrderRefused:
    with system.runtime.bus.subscribe(Topic.REFUSALS) as refusals:
        await system.runtime.bus.publish(Topic.ORDER_REQUESTS, request)
        with trio.fail_after(5):
            async for refusal in refusals:
                if refusal.client_id == request.client_id:
                    return refusal
    raise AssertionError("no refusal")


async def test_unapproved_and_forged_order_requests_are_refused(tmp_path: Path) -> None:
    def request(client_id: str, approval=None) -> OrderRequest:  # type: ignore[no-untyped-def]
        return OrderRequest(ts=0, client_id=client_id, trader="intruder", pair="XBT/USD", side=Side.BUY,
                            order_type=OrderType.MARKET, amount=Decimal("0.01"), approval=approval)

    forged = sign(new_key(), id="USD-A99", holder="USD", trader="intruder", pair="XBT/USD", asset="USD",
                  amount=Decimal("100000"), expires=2**62)
    async with open_sim_system(_options(tmp_path, template_dir=None)) as (system, _):
        unapproved = await _refusal_for(system, request("no-approval"))
        assert unapproved.reason == "no holder approval"
        assert (await _refusal_for(system, request("forged", forged))).reason == "approval signature is invalid"
        assert system.desk.orders == {} or all(o.trader != "intruder" for o in system.desk.orders.values())
        assert "no holder approval" in await _ask(system.desk.repl_address, "refusals")
    with JournalReader(tmp_path / "journal.db") as journal:
        assert {r.client_id: r.reason for r in journal.refusals()} == {
            "no-approval": "no holder approval", "forged": "approval signature is invalid"}
        assert all(o.trader != "intruder" for o in journal.orders())


async def test_every_repl_answers_and_survives_bad_lines(tmp_path: Path) -> None:
    async with open_sim_system(_options(tmp_path)) as (system, _):
        registry = system.runtime.registry
        await _until(lambda: "XBT/USD@USD" in registry)
        desk = registry.get("sim:default").repl
        assert "sim:default" in await _ask(desk, "status")
        for garbage in ("frobnicate now", "\x00\x01\x02\xff", "orders sideways", "fills many", "'unclosed"):
            assert (await _ask(desk, garbage)).startswith("error: ")
        assert "USD" in await _ask(desk, "balances")
        assert "XBT/USD@USD" in await _ask(desk, "actors")
        assert "capital" in await _ask(registry.get("USD").repl, "status")
        assert "trader" in await _ask(registry.get("USD").repl, "allocations")
        assert "holds" in await _ask(registry.get("XBT/USD@USD").repl, "position")
        assert (await _ask(registry.get("XBT/USD@USD").repl, "signals 0")).startswith("error: ")
        assert registry.get("sim:default").state is ActorState.RUNNING




async def test_under_injected_exchange_faults_the_desk_places_each_order_once(tmp_path: Path) -> None:
    """15% of AddOrder calls fail with EService:Unavailable and 10% are held past an answer (placed or not)."""
    faults = Faults(endpoints={"AddOrder": EndpointFaults(error_rate=0.15, timeout_rate=0.10)}, timeout_seconds=0.5)
    server = KrakenServerConfig(rate_limits=False, faults=faults, seed=7)
    async with open_sim_system(_options(tmp_path, server=server)) as (system, sim):
        await _until(lambda: len(system.desk.orders) >= 25, timeout=60)
    summary = system.summary()
    placed = sim.orders("default")
    per_client_id: dict[str, int] = {}
    for order in placed:
        per_client_id[order.client_id] = per_client_id.get(order.client_id, 0) + 1
    assert max(per_client_id.values()) == 1, "an order was placed twice on the exchange"
    with JournalReader(tmp_path / "journal.db") as journal:
        journaled = {order.id for order in journal.orders()}
        refused = {r.client_id for r in journal.refusals()}
    assert journaled <= {order.id for order in placed}, "the journal knows an order the exchange never had"
    exchange = system.exchange
    assert isinstance(exchange, KrakenCcxtExchange)
    crypy_ids = {exchange.client_id_for(order.client_id) for order in placed}  # Kraken's cl_ord_id -> crypy's
    assert crypy_ids <= {o.client_id for o in summary.orders} | refused, "an order the desk lost track of"
    assert summary.open_orders == 0 and summary.balances_match, summary.render()
