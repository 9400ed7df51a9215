"""`crypy journal export`: every table out as CSV or Parquet, values exactly as the journal and reader hold them."""

from __future__ import annotations

import csv
import math
import sqlite3
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import trio

from crypy.protocols import (
    ActorCrashed,
    ActorStarted,
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
from crypy.store import Journal, JournalReader, migrate, rows
from crypy.store.export import EXPORT_TABLES, ExportError, export_journal

from .processes import crypy

T0 = 1_700_000_000_000


def _order(n: int, order_id: str, status: OrderStatus, **changes: Any) -> Order:
    fields: dict[str, Any] = dict(ts=T0 + n, id=order_id, client_id=f"c-{order_id}", trader="t1", pair="BTC/USD",
                                  side=Side.BUY, order_type=OrderType.MARKET, amount=Decimal("0.10000000"),
                                  price=None, status=status, created=T0)
    return Order(**{**fields, **changes})


def _fill(n: int, fill_id: str, order_id: str, trader: str, price: str, amount: str, fee: str) -> Fill:
    return Fill(ts=T0 + n, id=fill_id, order_id=order_id, client_id=f"c-{order_id}", trader=trader, pair="BTC/USD",
                side=Side.BUY, price=Decimal(price), amount=Decimal(amount), fee=Decimal(fee), fee_asset="USD",
                liquidity="taker")


EVENTS: tuple[Event, ...] = (
    ActorStarted(ts=T0, name="t1", kind="trader", parent="usd", repl="127.0.0.1:7101"),
    OrderRequest(ts=T0 + 1, client_id="c-o1", trader="t1", pair="BTC/USD", side=Side.BUY,
                 order_type=OrderType.MARKET, amount=Decimal("0.10000000"), take_profit=Decimal("45000.10"),
                 stop_loss=Decimal("39000.00"), reason="entry"),
    _order(2, "o1", OrderStatus.PENDING),
    _order(3, "o1", OrderStatus.OPEN),
    _fill(4, "f1", "o1", "t1", "43210.10", "0.04000000", "0.0000001"),
    _fill(5, "f2", "o1", "t1", "43210.2", "0.06000000", "-0.00"),
    _order(6, "o1", OrderStatus.FILLED, filled=Decimal("0.10000000"), avg_price=Decimal("43210.16"),
           fee=Decimal("0.0000001")),
    OrderRequest(ts=T0 + 7, client_id="c-o2", trader="t2", pair="BTC/USD", side=Side.SELL,
                 order_type=OrderType.LIMIT, amount=Decimal("1E+1"), price=Decimal("50000.00"),
                 time_in_force=TimeInForce.IOC, post_only=True),
    OrderRefused(ts=T0 + 8, client_id="c-o2", trader="t2", pair="BTC/USD", reason="above max_order_notional"),
    _order(9, "o3", OrderStatus.OPEN, trader="t2", order_type=OrderType.LIMIT, price=Decimal("43000.0"),
           amount=Decimal("1.5")),
    _fill(10, "f3", "o3", "t2", "43000.0", "1.5", "5.2"),
    CancelRequest(ts=T0 + 11, client_id="c-o3", trader="t2"),
    RiskEvent(ts=T0 + 12, kind="trader_drawdown", state=TradingState.ACTIVE, detail="t2 retired", trader="t2",
              value=Decimal("-120.50"), limit=Decimal("100"), asset="USD"),
    RiskEvent(ts=T0 + 13, kind="kill", state=TradingState.HALTED, detail="operator"),
    Proposal(ts=T0 + 14, id="p1", trader="t1", holder="usd", pair="BTC/USD", strategy="sma_crossover",
             params={"fast": 12.0}, metrics={"return": 0.125, "profit_factor": math.inf}),
    Decision(ts=T0 + 15, proposal_id="p1", holder="usd", trader="t1", accepted=True, reason="",
             allocation=Decimal("1000.00")),
    Signal(ts=T0 + 16, trader="t1", pair="BTC/USD", strategy="sma_crossover", direction=1, strength=math.nan),
    Position(ts=T0 + 17, trader="t1", pair="BTC/USD", asset="BTC", amount=Decimal("0.10000000"),
             entry_price=Decimal("43210.16"), realized_pnl=Decimal("0"), pnl_asset="USD"),
    BalanceSnapshot(ts=T0 + 18, account="kraken", balances={
        "USD": Balance(asset="USD", total=Decimal("5678.9000"), held=Decimal("0.00")),
        "BTC": Balance(asset="BTC", total=Decimal("1.60000000"), held=Decimal("1.5")),
    }),
    ActorCrashed(ts=T0 + 19, name="t2", error="boom", restarts=1, will_restart=False),
)


async def _write(path: Path, events: Sequence[Event] = EVENTS) -> None:
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for event in events:
            await journal.record(event)
        nursery.cancel_scope.cancel()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A journal holding ``EVENTS``, written by the real writer (a sync fixture, so sync tests can use it)."""
    path = tmp_path / "journal.db"
    trio.run(_write, path)
    return path


def _declared(journal: Path, name: str) -> dict[str, tuple[str, bool]]:
    """Column -> (declared type, NOT NULL) of what an export was taken from."""
    tables = {"order_latest": ("orders",), "balances": ("balances", "balance_snapshots")}.get(name, (name,))
    with sqlite3.connect(journal) as conn:
        return {r[1]: (r[2], bool(r[3])) for t in tables for r in conn.execute(f"PRAGMA table_info({t})")}


def _cell(text: str, declared: tuple[str, bool]) -> Any:
    kind, not_null = declared
    if text == "" and not not_null:
        return None
    return int(text) if kind == "INTEGER" else float(text) if kind == "REAL" else text


def _read(path: Path, journal: Path) -> list[dict[str, Any]]:
    """An exported file's rows as SQLite held them; CSV cells are typed by the journal's schema."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    declared = _declared(journal, path.stem)
    with path.open(newline="", encoding="utf-8") as file:
        return [{column: _cell(text, declared[column]) for column, text in row.items()}
                for row in csv.DictReader(file)]


def _same(read: Sequence[Event], expected: Sequence[Event]) -> None:
    """Compare encodings, where Decimals travel as text: ``1.10`` and ``1.1`` would differ."""
    assert [encode(e) for e in read] == [encode(e) for e in expected]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exported_events_equal_what_the_reader_reads(journal: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    written = export_journal(journal, out, fmt)
    assert [w.path for w in written] == [out / f"{name}.{fmt}" for name in EXPORT_TABLES]
    exported = {w.path.stem: _read(w.path, journal) for w in written}
    assert {w.path.stem: w.rows for w in written} == {name: len(table) for name, table in exported.items()}

    with JournalReader(journal) as reader:
        _same([rows.order(r) for r in exported["order_latest"]], reader.orders())
        _same([rows.order(r) for r in exported["orders"]],
              [o for order_id in ("o1", "o3") for o in reader.order_history(order_id)])
        _same([rows.fill(r) for r in exported["fills"]], reader.fills())
        _same([rows.order_request(r) for r in exported["order_requests"]], reader.order_requests())
        _same([rows.refusal(r) for r in exported["refusals"]], reader.refusals())
        _same([rows.risk_event(r) for r in exported["risk_events"]], reader.risk_events())
        _same([rows.position(r) for r in exported["positions"]], reader.positions())
        _same([rows.decision(r) for r in exported["decisions"]], reader.decisions())
        snapshots = reader.balances()
    assert [(r["ts"], r["account"], r["asset"], r["total"], r["held"]) for r in exported["balances"]] == [
        (s.ts, s.account, b.asset, str(b.total), str(b.held))
        for s in snapshots for b in sorted(s.balances.values(), key=lambda b: b.asset)]
    assert [Decimal(r["amount"]) for r in exported["fills"]] == [Decimal("0.04"), Decimal("0.06"), Decimal("1.5")]
    assert exported["risk_events"][1]["value"] is None


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_file_holds_its_table_as_stored(journal: Path, tmp_path: Path, fmt: str) -> None:
    written = export_journal(journal, tmp_path / "out", fmt)
    with sqlite3.connect(journal) as conn:
        conn.row_factory = sqlite3.Row
        for w in written:
            sql = ("SELECT b.*, s.ts, s.account FROM balances AS b JOIN balance_snapshots AS s ON s.seq = b.snapshot "
                   "ORDER BY b.snapshot, b.asset" if w.path.stem == "balances" else
                   f"SELECT * FROM {w.path.stem} ORDER BY seq")
            stored = [dict(r) for r in conn.execute(sql)]
            assert stored, w.path.stem  # the journal has rows in every table
            assert _read(w.path, journal) == stored, w.path.stem


def test_parquet_keeps_money_as_exact_strings_and_counts_as_integers(journal: Path, tmp_path: Path) -> None:
    [written] = export_journal(journal, tmp_path, "parquet", ["fills"])
    schema = pq.read_schema(written.path)
    assert schema.field("amount").type == pa.string()
    assert schema.field("seq").type == pa.int64()
    assert pq.read_table(written.path).column("fee").to_pylist() == ["1E-7", "-0.00", "5.2"]  # str(Decimal), as stored
    [signals] = export_journal(journal, tmp_path, "parquet", ["signals"])
    assert pq.read_schema(signals.path).field("strength").type == pa.float64()


def test_only_the_tables_asked_for_are_written_and_empty_tables_have_headers(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    trio.run(_write, path, [EVENTS[0]])
    written = export_journal(path, tmp_path / "out", "csv", ["risk_events", "actor_events", "risk_events"])
    assert [(w.path.name, w.rows) for w in written] == [("risk_events.csv", 0), ("actor_events.csv", 1)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["actor_events.csv", "risk_events.csv"]
    assert (tmp_path / "out" / "risk_events.csv").read_text().strip() == \
        "seq,ts,kind,state,detail,trader,value,limit_value,asset"
    [empty] = export_journal(path, tmp_path / "pq", "parquet", ["fills"])
    assert pq.read_table(empty.path).num_rows == 0
    assert pq.read_schema(empty.path).field("price").type == pa.string()


async def test_export_while_the_writer_runs(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for event in EVENTS[:6]:
            await journal.record(event)
        await journal.flush()
        [fills] = export_journal(path, tmp_path / "out", "csv", ["fills"])
        await journal.record(EVENTS[10])  # the writer goes on after the export
        await journal.flush()
        nursery.cancel_scope.cancel()
    assert fills.rows == 2
    with JournalReader(path) as reader:
        assert len(reader.fills()) == 3


def test_refuses_unknown_tables_formats_and_files_that_are_no_journal(journal: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no journal table nope"):
        export_journal(journal, tmp_path / "out", "csv", ["fills", "nope"])
    with pytest.raises(ExportError, match="unknown export format 'xlsx'"):
        export_journal(journal, tmp_path / "out", "xlsx")
    text = tmp_path / "notes.txt"
    text.write_text("not a database, just text\n" * 100)
    with pytest.raises(ExportError, match="notes.txt is not a crypy journal"):
        export_journal(text, tmp_path / "out")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ExportError, match="other.db is not a crypy journal"):
        export_journal(other, tmp_path / "out")
    old = tmp_path / "old.db"
    migrate(sqlite3.connect(old, isolation_level=None), target=2)
    with pytest.raises(ExportError, match="run the journal writer"):
        export_journal(old, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no journal at"):
        export_journal(tmp_path / "missing.db", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_parquet_without_pyarrow_says_how_to_get_it(journal: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` raise ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ExportError, match=r"parquet export needs pyarrow: pip install 'crypy\[parquet\]'"):
        export_journal(journal, tmp_path / "out", "parquet")
    assert not (tmp_path / "out").exists()


def test_the_journal_answers_plain_sql(journal: Path, tmp_path: Path) -> None:
    """No crypy needed to query a journal: fills per trader with the stdlib ``sqlite3``, read-only.

    SQL sums TEXT money as floats (close, not exact); the exact sum is Decimal over the same text.
    """
    with sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True) as conn:
        per_trader = conn.execute(
            "SELECT trader, COUNT(*), SUM(CAST(amount AS REAL)), group_concat(amount, ' ') FROM fills "
            "GROUP BY trader ORDER BY trader").fetchall()
    exact = {trader: sum(map(Decimal, amounts.split())) for trader, _, _, amounts in per_trader}
    assert exact == {"t1": Decimal("0.10000000"), "t2": Decimal("1.5")}
    assert [(trader, count) for trader, count, _, _ in per_trader] == [("t1", 2), ("t2", 1)]
    assert [total for _, _, total, _ in per_trader] == pytest.approx([0.1, 1.5])

    [fills] = export_journal(journal, tmp_path, "csv", ["fills"])
    from_csv: dict[str, Decimal] = {}
    for row in _read(fills.path, journal):
        from_csv[row["trader"]] = from_csv.get(row["trader"], Decimal(0)) + Decimal(row["amount"])
    assert from_csv == exact
    with JournalReader(journal) as reader:
        assert {t: sum((f.amount for f in reader.fills(trader=t)), Decimal(0)) for t in exact} == exact


def test_crypy_journal_export_command(journal: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with crypy("journal", "export", "--db", str(journal), "--format", "parquet", "--out", str(out),
               "--table", "fills", "--table", "risk_events") as run:
        output = run.finish()
    assert run.process.returncode == 0, output
    assert output.splitlines() == [f"{out / 'fills.parquet'}: 3 rows", f"{out / 'risk_events.parquet'}: 2 rows"]
    assert pq.read_table(out / "fills.parquet").column("fill_id").to_pylist() == ["f1", "f2", "f3"]

    with crypy("journal", "export", "--db", str(journal), "--out", str(out)) as run:
        output = run.finish()
    assert run.process.returncode == 0, output
    assert len(output.splitlines()) == len(EXPORT_TABLES)
    assert f"{out / 'balances.csv'}: 2 rows" in output.splitlines()

    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 200)
    for bad, says in ((text, "is not a crypy journal"), (tmp_path / "missing.db", "no journal at")):
        with crypy("journal", "export", "--db", str(bad), "--out", str(tmp_path / "bad")) as run:
            output = run.finish()
        assert run.process.returncode == 2
        [line] = output.splitlines()
        assert line.startswith("crypy: error: ") and says in line
    assert not (tmp_path / "bad").exists()
