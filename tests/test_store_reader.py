"""Every journaled event type round-trips exactly through the file, and the reader's queries."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import trio

from crypy.protocols import (
    ActorCrashed,
    ActorStarted,
    ActorStopped,
    Approval,
    Balance,
    BalanceSnapshot,
    CancelRequest,
    Decision,
    Event,
    Fill,
    Order,
    OrderRefused,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Proposal,
    RiskEvent,
    Side,
    Signal,
    TimeInForce,
    TradingState,
    encode,
)
from crypy.store import Journal, JournalReader

T0 = 1_700_000_000_000
APPROVAL = Approval(id="a1", holder="usd", trader="t1", pair="BTC/USD", asset="USD", amount=Decimal("1000.00"),
                    expires=T0 + 60_000, signature="c2lnbmVk")


def _order(ts: int, order_id: str, status: OrderStatus, trader: str = "t1", **changes: object) -> Order:
    fields: dict[str, object] = dict(
        ts=ts, id=order_id, client_id=f"c-{order_id}", pair="BTC/USD", side=Side.SELL, order_type=OrderType.LIMIT,
        amount=Decimal("0.12345678"), price=Decimal("43210.10"), status=status, trader=trader, created=T0,
    )
    return Order(**{**fields, **changes})  # type: ignore[arg-type]


EVENTS: tuple[Event, ...] = (
    ActorStarted(ts=T0, name="t1", kind="trader", parent="usd", repl="t1>"),
    OrderRequest(ts=T0 + 1, client_id="c-o1", trader="t1", pair="BTC/USD", side=Side.SELL,
                 order_type=OrderType.LIMIT, amount=Decimal("0.12345678"), price=Decimal("43210.10"),
                 approval=APPROVAL, reason="take profit"),
    OrderRequest(ts=T0 + 2, client_id="c-m", trader="t2", pair="ETH/USD", side=Side.BUY,
                 order_type=OrderType.MARKET, amount=Decimal("1E+1")),
    _order(T0 + 3, "o1", OrderStatus.OPEN),
    _order(T0 + 4, "o1", OrderStatus.PARTIALLY_FILLED, filled=Decimal("0.10000000"),
           avg_price=Decimal("43210.10"), fee=Decimal("0.0000001")),
    Fill(ts=T0 + 5, id="f1", order_id="o1", client_id="c-o1", pair="BTC/USD", side=Side.SELL,
         price=Decimal("43210.10"), amount=Decimal("0.10000000"), fee=Decimal("-0.00"), fee_asset="USD",
         liquidity="maker", trader="t1"),
    Fill(ts=T0 + 6, id="f2", order_id="o9", client_id="c-o9", pair="ETH/USD", side=Side.BUY,
         price=Decimal("2000"), amount=Decimal("1"), fee=Decimal("5.2"), fee_asset="USD", liquidity="taker"),
    _order(T0 + 7, "o2", OrderStatus.PENDING, trader="t2", order_type=OrderType.MARKET, price=None),
    CancelRequest(ts=T0 + 8, client_id="c-o1", trader="t1"),
    OrderRefused(ts=T0 + 9, client_id="c-x", trader="t2", pair="ETH/USD", reason="insufficient funds"),
    Proposal(ts=T0 + 10, id="p1", trader="t1", holder="usd", pair="BTC/USD", strategy="ema_cross",
             params={"fast": 12.0, "slow": 26.5}, metrics={"sharpe": 1.2345678901234567, "profit_factor": math.inf}),
    Decision(ts=T0 + 11, proposal_id="p1", holder="usd", trader="t1", accepted=True, reason="best sharpe",
             allocation=Decimal("1000.00"), approval=APPROVAL),
    Decision(ts=T0 + 12, proposal_id="p2", holder="usd", trader="t2", accepted=False, reason="drawdown"),
    Signal(ts=T0 + 13, trader="t1", pair="BTC/USD", strategy="ema_cross", direction=-1, strength=0.25,
           tags=("cross", "down")),
    Position(ts=T0 + 14, trader="t1", pair="BTC/USD", asset="BTC", amount=Decimal("0.02345678"),
             entry_price=Decimal("40000.00"), realized_pnl=Decimal("321.01"), pnl_asset="USD"),
    Position(ts=T0 + 15, trader="t2", pair="ETH/USD", asset="ETH", amount=Decimal("0")),
    BalanceSnapshot(ts=T0 + 16, account="kraken", balances={
        "BTC": Balance(asset="BTC", total=Decimal("1.50000000"), held=Decimal("0.02345678")),
        "USD": Balance(asset="USD", total=Decimal("12345.6700")),
    }),
    BalanceSnapshot(ts=T0 + 17, account="empty", balances={}),
    ActorCrashed(ts=T0 + 18, name="t2", error="ZeroDivisionError: division by zero", restarts=2,
                 will_restart=True),
    ActorStopped(ts=T0 + 19, name="t1", reason="shutdown"),
    RiskEvent(ts=T0 + 20, kind="trader_drawdown", state=TradingState.ACTIVE, detail="t1 retired", trader="t1",
              value=Decimal("-120.50"), limit=Decimal("100"), asset="USD"),
    RiskEvent(ts=T0 + 21, kind="kill", state=TradingState.HALTED, detail="operator"),
    OrderRequest(ts=T0 + 22, client_id="c-full", trader="t1", pair="BTC/USD", side=Side.BUY,
                 order_type=OrderType.STOP_LOSS_LIMIT, amount=Decimal("0.010"), price=Decimal("41000.0"),
                 trigger_price=Decimal("40900.5"), trailing_offset=Decimal("1.50"), trailing_percent=True,
                 post_only=True, time_in_force=TimeInForce.GTD, expire_ts=T0 + 3_600_000, approval=APPROVAL,
                 stop_loss=Decimal("39000.00"), take_profit=Decimal("45000.10")),
)


async def _write(path: Path, events: Sequence[Event]) -> None:
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for event in events:
            await journal.record(event)
        nursery.cancel_scope.cancel()


def _same(read: Sequence[Event], expected: Sequence[Event]) -> None:
    """Compare encodings, not ``==``: ``Decimal("1.10") == Decimal("1.1")`` would hide a lost digit."""
    assert [encode(e) for e in read] == [encode(e) for e in expected]


def _of(*types: type) -> list[Event]:
    return [e for e in EVENTS if isinstance(e, types)]


async def test_every_event_type_round_trips_exactly(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, EVENTS)
    with JournalReader(path) as reader:
        _same(reader.order_requests(), _of(OrderRequest))
        _same([o for order_id in ("o1", "o2") for o in reader.order_history(order_id)], _of(Order))
        _same(reader.fills(), _of(Fill))
        _same(reader.cancel_requests(), _of(CancelRequest))
        _same(reader.refusals(), _of(OrderRefused))
        _same(reader.proposals(), _of(Proposal))
        _same(reader.decisions(), _of(Decision))
        _same(reader.signals(), _of(Signal))
        _same(reader.positions(), _of(Position))
        _same(reader.balances(), _of(BalanceSnapshot))
        _same(reader.actor_events(), _of(ActorStarted, ActorStopped, ActorCrashed))
        _same(reader.risk_events(), _of(RiskEvent))


async def test_decimals_are_stored_as_their_exact_text(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, EVENTS)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT amount, typeof(amount), price FROM orders LIMIT 1").fetchone() == (
            "0.12345678", "text", "43210.10")
        assert conn.execute("SELECT fee FROM fills WHERE fill_id = 'f1'").fetchone() == ("-0.00",)
        assert conn.execute("SELECT total FROM balances WHERE asset = 'USD'").fetchone() == ("12345.6700",)


async def test_nan_signal_strength_survives(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, [Signal(ts=T0, trader="t1", pair="BTC/USD", strategy="s", direction=0, strength=math.nan)])
    with JournalReader(path) as reader:
        [signal] = reader.signals()
    assert math.isnan(signal.strength)


async def test_queries_filter_by_trader_and_open_state(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, EVENTS)
    with JournalReader(path) as reader:
        assert [(o.id, o.status) for o in reader.orders()] == [("o1", OrderStatus.PARTIALLY_FILLED),
                                                               ("o2", OrderStatus.PENDING)]
        assert [o.id for o in reader.orders(trader="t2")] == ["o2"]
        assert [o.id for o in reader.open_orders(trader="t1")] == ["o1"]
        assert [f.id for f in reader.fills(trader="t1")] == ["f1"]
        assert [f.id for f in reader.fills(trader="")] == ["f2"]
        assert [p.trader for p in reader.positions(trader="t2")] == ["t2"]
        assert [r.kind for r in reader.risk_events(trader="t1")] == ["trader_drawdown"]
        assert [r.kind for r in reader.risk_events(trader="")] == ["kill"]


async def test_fill_ids_are_every_journaled_fill(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, EVENTS)
    with JournalReader(path) as reader:
        assert reader.fill_ids() == {"f1", "f2"}


def _request(n: int, client_id: str) -> OrderRequest:
    return OrderRequest(ts=T0 + n, client_id=client_id, trader="t1", pair="BTC/USD", side=Side.BUY,
                        order_type=OrderType.MARKET, amount=Decimal("0.01"), take_profit=Decimal("50000"))


async def test_requests_without_orders_are_those_neither_placed_nor_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, [
        _request(1, "placed"), _request(2, "refused"), _request(3, "lost-1"),
        _order(4, "o1", OrderStatus.OPEN, client_id="placed"),
        OrderRefused(ts=T0 + 5, client_id="refused", trader="t1", pair="BTC/USD", reason="halted"),
        _order(6, "o2", OrderStatus.CANCELLED, client_id="no-request"),
        _request(7, "lost-2"),
    ])
    with JournalReader(path) as reader:
        _same(reader.order_requests_without_orders(), [_request(3, "lost-1"), _request(7, "lost-2")])


async def test_counts_every_table(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, EVENTS)
    with JournalReader(path) as reader:
        assert reader.counts() == {
            "orders": 3, "fills": 2, "order_requests": 3, "cancel_requests": 1, "refusals": 1, "proposals": 1,
            "decisions": 2, "signals": 1, "positions": 2, "balance_snapshots": 2, "actor_events": 3, "risk_events": 2,
            "balances": 2,
        }


async def test_recent_lists_the_latest_entries_across_tables_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    await _write(path, EVENTS)
    with JournalReader(path) as reader:
        lines = reader.recent(5)
        everything = reader.recent(1000)
        assert reader.recent(0) == []
    assert len(everything) == len(EVENTS)
    assert lines == everything[-5:]
    assert everything[15] == "#16 2023-11-14 22:13:20.015 position t2 ETH/USD: 0 ETH realized 0"
    assert "balances kraken: BTC 1.50000000 (held 0.02345678), USD 12345.6700" in everything[16]
    assert everything[17].endswith("balances empty: none")
    assert "actor t2 crashed after 2 restarts, will restart: ZeroDivisionError" in lines[0]
    assert lines[1].endswith("actor t1 stopped (shutdown)")
    assert lines[2].endswith("risk trader_drawdown t1 -> active: t1 retired value -120.50 limit 100 USD")
    assert lines[3].endswith("risk kill desk -> halted: operator")
    assert lines[4].endswith("request [c-full] t1: buy stop-loss-limit 0.010 BTC/USD @ 41000.0 trigger 40900.5 "
                             "stop loss 39000.00 take profit 45000.10 approval a1")
    assert "order o1 [c-o1] t1: sell limit 0.12345678 BTC/USD @ 43210.10 -> partially_filled filled 0.10000000" \
        in everything[4]
    assert "decision on p1 usd -> t1: accepted, allocation 1000.00 (best sharpe)" in everything[11]
