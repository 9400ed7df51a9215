"""The journal writer: WAL, batching, flush, backpressure, cancellation and failure semantics."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing

from crypy.protocols import Candle, Fill, Order, OrderStatus, OrderType, RiskEvent, Side, TradingState
from crypy.store import Journal, JournalClosed, JournalReader


def _order(n: int, status: OrderStatus = OrderStatus.OPEN, *, order_id: str | None = None) -> Order:
    return Order(ts=1_700_000_000_000 + n, id=order_id or f"o{n}", client_id=f"c{n}", trader="t1", pair="BTC/USD",
                 side=Side.BUY, order_type=OrderType.LIMIT, amount=Decimal("0.10"), price=Decimal("30000.5"),
                 status=status)


def _fill(fill_id: str, ts: int = 1, amount: str = "0.05") -> Fill:
    return Fill(ts=ts, id=fill_id, order_id="o1", client_id="c1", pair="BTC/USD", side=Side.BUY,
                price=Decimal("30000.5"), amount=Decimal(amount), fee=Decimal("0.26"), fee_asset="USD",
                liquidity="maker", trader="t1")


def _rows(path: Path, table: str = "orders") -> int:
    """Count with a plain connection: what any other process would see."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_file_is_wal_and_readable_while_the_writer_runs(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        with sqlite3.connect(path) as plain:
            assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            for n in range(3):
                await journal.record(_order(n))
                await journal.flush()
                assert plain.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == n + 1
        with JournalReader(path) as reader:
            assert len(reader.orders()) == 3
        nursery.cancel_scope.cancel()


async def test_flush_returns_once_everything_before_it_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for n in range(3):
            await journal.record(_order(n))
        assert _rows(path) == 0  # record does not yield: the writer has not run yet
        await journal.flush()
        assert _rows(path) == 3
        await journal.flush()  # nothing new: returns anyway
        nursery.cancel_scope.cancel()


async def test_secure_commits_in_a_durable_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        await journal.record(_order(1))
        await journal.secure()
        assert _rows(path) == 1
        nursery.cancel_scope.cancel()


async def test_a_journal_that_is_not_durable_commits_full_batches_flushes_and_the_rest_at_the_end(
        tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path, batch=4, durable=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for n in range(3):
            await journal.record(_order(n))
            await journal.secure()  # costs nothing here: a backtest's crash leaves nothing to recover
            await trio.sleep(0)
        await trio.testing.wait_all_tasks_blocked()
        assert _rows(path) == 0  # held for a full batch
        await journal.record(_order(3))
        await trio.testing.wait_all_tasks_blocked()
        assert _rows(path) == 4
        await journal.record(_order(4))
        await journal.flush()  # a flush still commits
        assert _rows(path) == 5
        await journal.record(_order(5))
        await trio.testing.wait_all_tasks_blocked()
        assert _rows(path) == 5
        nursery.cancel_scope.cancel()
    assert _rows(path) == 6  # what was left is committed when the writer stops
    with JournalReader(path) as reader:
        assert [order.id for order in reader.orders()] == [f"o{n}" for n in range(6)]


class _WriterSteps(trio.abc.Instrument):
    """Counts the steps of the journal's writer task."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("Journal.run"):
            self.steps += 1


async def test_a_journal_that_is_not_durable_wakes_its_writer_once_a_batch_not_once_an_event(
        tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path, batch=10, durable=False)
    writer = _WriterSteps()
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        trio.lowlevel.add_instrument(writer)
        for n in range(30):
            await journal.record(_order(n))
            await trio.sleep(0)  # every chance to run
        await trio.testing.wait_all_tasks_blocked()
        assert _rows(path) == 30 and writer.steps == 3
        trio.lowlevel.remove_instrument(writer)
        nursery.cancel_scope.cancel()


async def test_concurrent_producers_and_flushers_lose_nothing_under_backpressure(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path, buffer=8, batch=5)
    flushed: list[int] = []

    async def produce(first: int) -> None:
        for n in range(first, first + 300):
            await journal.record(_order(n))
        await journal.flush()
        flushed.append(_rows(path))

    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        async with trio.open_nursery() as producers:
            for first in (0, 1000, 2000):
                producers.start_soon(produce, first)
        nursery.cancel_scope.cancel()
    assert _rows(path) == 900
    assert min(flushed) >= 300 and max(flushed) == 900


async def test_cancelling_the_writer_commits_everything_queued(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for n in range(5000):
            await journal.record(_order(n))
        assert _rows(path) == 0
        nursery.cancel_scope.cancel()
    assert _rows(path) == 5000
    with sqlite3.connect(path) as conn:
        ids = [order_id for (order_id,) in conn.execute("SELECT order_id FROM orders ORDER BY seq")]
    assert ids == [f"o{n}" for n in range(5000)]


@pytest.mark.parametrize("durable", [True, False])
async def test_record_and_flush_after_the_writer_stopped_raise(tmp_path: Path, durable: bool) -> None:
    journal = Journal(tmp_path / "j.db", durable=durable)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        nursery.cancel_scope.cancel()
    with pytest.raises(JournalClosed):
        await journal.record(_order(1))
    with pytest.raises(JournalClosed):
        await journal.flush()
    with pytest.raises(RuntimeError, match="runs only once"):
        await journal.run()


async def test_unknown_event_type_is_refused_at_record_time(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    candle = Candle(ts=0, pair="BTC/USD", timeframe="1m", open=1, high=1, low=1, close=1, volume=1)
    with pytest.raises(TypeError, match="Candle"):
        await journal.record(candle)


async def test_a_failed_write_fails_pending_flushes_and_crashes_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    broken = Order(ts=None, id="bad", client_id="c", pair="BTC/USD", side=Side.BUY,  # type: ignore[arg-type]
                   order_type=OrderType.MARKET, amount=Decimal(1), price=None, status=OrderStatus.PENDING)
    with pytest.RaisesGroup(pytest.RaisesExc(sqlite3.IntegrityError, match="NOT NULL")):
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            await journal.record(_order(1))
            await journal.record(broken)
            with pytest.raises(JournalClosed):
                await journal.flush()
    assert _rows(path) == 0  # the failed batch was rolled back as a whole
    with pytest.raises(JournalClosed):
        await journal.record(_order(2))


async def test_duplicate_fills_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        await journal.record(_fill("f1", ts=1))
        await journal.record(_fill("f1", ts=2, amount="9"))  # same batch
        await journal.record(_fill("f2", ts=3))
        await journal.flush()
        await journal.record(_fill("f2", ts=4, amount="9"))  # later batch
        await journal.flush()
        nursery.cancel_scope.cancel()
    with JournalReader(path) as reader:
        fills = reader.fills()
    assert [(f.id, f.ts, f.amount) for f in fills] == [("f1", 1, Decimal("0.05")), ("f2", 3, Decimal("0.05"))]


async def test_order_states_are_kept_in_order(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    steps = [("o1", OrderStatus.PENDING), ("o2", OrderStatus.OPEN), ("o1", OrderStatus.OPEN),
             ("o1", OrderStatus.PARTIALLY_FILLED), ("o2", OrderStatus.CANCELLED), ("o1", OrderStatus.FILLED)]
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for n, (order_id, status) in enumerate(steps):
            await journal.record(_order(n, status, order_id=order_id))
        nursery.cancel_scope.cancel()
    with JournalReader(path) as reader:
        assert [o.status for o in reader.order_history("o1")] == [
            OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
        assert [(o.id, o.status) for o in reader.orders()] == [("o2", OrderStatus.CANCELLED),
                                                               ("o1", OrderStatus.FILLED)]
        assert reader.open_orders() == []


async def test_a_reopened_journal_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    for n in range(2):
        journal = Journal(path)
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            await journal.record(_order(n))
            await journal.record(_fill(f"f{n}"))
            nursery.cancel_scope.cancel()
    with JournalReader(path) as reader:
        assert [line.split()[0] for line in reader.recent(10)] == ["#1", "#2", "#3", "#4"]


async def test_risk_events_take_part_in_the_sequence(tmp_path: Path) -> None:
    """The writer's next ``seq`` counts the risk table too: a reopened journal must not reuse a risk event's."""
    path = tmp_path / "j.db"
    halt = RiskEvent(ts=1, kind="daily_loss_limit", state=TradingState.HALTED, detail="loss over limit",
                     value=Decimal("-501.25"), limit=Decimal("500"), asset="USD")
    for event in (halt, _order(2)):
        journal = Journal(path)
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            await journal.record(event)
            nursery.cancel_scope.cancel()
    with JournalReader(path) as reader:
        assert [line.split()[0] for line in reader.recent(10)] == ["#1", "#2"]
        assert reader.risk_events() == [halt]
