"""Migrations of the journal file: from empty, from an older version, and refusal of newer files."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from crypy.protocols import OrderType, RiskEvent, Side, TimeInForce, TradingState
from crypy.store import SCHEMA_VERSION, Journal, JournalReader, SchemaVersionError, migrate
from crypy.store.rows import COLUMNS
from crypy.store.schema import ALL_TABLES, JOURNAL_TABLES


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _objects(conn: sqlite3.Connection, kind: str) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = ?", (kind,))}


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_migrate_empty_file_to_latest(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "j.db")
    assert migrate(conn) == SCHEMA_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert set(ALL_TABLES) <= _objects(conn, "table")
    assert "order_latest" in _objects(conn, "view")
    assert migrate(conn) == SCHEMA_VERSION  # idempotent


def test_columns_used_by_the_code_match_the_schema(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "j.db")
    migrate(conn)
    assert set(COLUMNS) == set(ALL_TABLES)
    for table, columns in COLUMNS.items():
        assert tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})")) == columns
    for table in JOURNAL_TABLES:
        assert COLUMNS[table][0] == "seq"


async def test_writer_migrates_previous_version_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    conn = _connect(path)
    migrate(conn, target=SCHEMA_VERSION - 1)
    conn.execute(
        "INSERT INTO orders VALUES (7, 1000, 'o1', 'c1', 't', 'BTC/USD', 'buy', 'limit', '1.10', '30000.0',"
        " 'open', '0', NULL, '0', 1000, '')"
    )
    conn.close()
    assert _version(path) == SCHEMA_VERSION - 1

    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        assert _version(path) == SCHEMA_VERSION
        nursery.cancel_scope.cancel()

    with JournalReader(path) as reader:
        [order] = reader.orders()
    assert (order.id, str(order.amount), str(order.price)) == ("o1", "1.10", "30000.0")


async def test_v2_file_migrates_to_v3_keeping_its_rows_and_sequence(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    conn = _connect(path)
    migrate(conn, target=2)
    conn.execute("INSERT INTO order_requests VALUES (1, 900, 'c1', 't', 'BTC/USD', 'buy', 'market', '0.50', NULL,"
                 " NULL, NULL, 'entry')")
    conn.execute("INSERT INTO fills VALUES (2, 1000, 'f1', 'o1', 'c1', 't', 'BTC/USD', 'buy', '30000.10', '0.50',"
                 " '0.0780', 'USD', 'taker')")
    conn.close()

    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        assert _version(path) == SCHEMA_VERSION == 3
        await journal.record(RiskEvent(ts=2000, kind="kill", state=TradingState.HALTED, detail="by hand"))
        nursery.cancel_scope.cancel()

    with JournalReader(path) as reader:
        [request] = reader.order_requests()
        [fill] = reader.fills()
        [risk] = reader.risk_events()
        lines = reader.recent(10)
    assert (request.client_id, request.order_type, request.side, str(request.amount), request.reason) == (
        "c1", OrderType.MARKET, Side.BUY, "0.50", "entry")
    # fields v2 did not keep come back as the struct's defaults
    assert (request.stop_loss, request.take_profit, request.trigger_price, request.time_in_force,
            request.post_only, request.expire_ts) == (None, None, None, TimeInForce.GTC, False, 0)
    assert (fill.id, str(fill.price), str(fill.fee)) == ("f1", "30000.10", "0.0780")
    assert fill.amount == Decimal("0.50")
    assert risk.state is TradingState.HALTED
    assert [line.split()[0] for line in lines] == ["#1", "#2", "#3"]  # the risk event continues the sequence


def test_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "j.db")
    migrate(conn, target=SCHEMA_VERSION - 1)
    conn.execute("ALTER TABLE order_requests ADD COLUMN take_profit TEXT")  # the last migration's last step adds it
    with pytest.raises(sqlite3.OperationalError, match="duplicate column name"):
        migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION - 1
    assert "risk_events" not in _objects(conn, "table")
    assert "stop_loss" not in {row[1] for row in conn.execute("PRAGMA table_info(order_requests)")}
    assert not conn.in_transaction


def test_migrate_refuses_unknown_targets_and_downgrades(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "j.db")
    with pytest.raises(ValueError, match="no schema version"):
        migrate(conn, target=SCHEMA_VERSION + 1)
    migrate(conn)
    with pytest.raises(SchemaVersionError, match="cannot migrate down"):
        migrate(conn, target=1)


def _newer_file(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


async def test_newer_file_is_refused_by_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    _newer_file(path)
    async with trio.open_nursery() as nursery:
        with pytest.raises(SchemaVersionError, match=f"version {SCHEMA_VERSION + 1}.*upgrade crypy"):
            await nursery.start(Journal(path).run)
    assert _version(path) == SCHEMA_VERSION + 1


def test_newer_file_is_refused_by_migrate_and_reader(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    _newer_file(path)
    with pytest.raises(SchemaVersionError, match=str(path)):
        migrate(_connect(path))
    with pytest.raises(SchemaVersionError, match="upgrade crypy"):
        JournalReader(path)


def test_reader_refuses_unmigrated_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    migrate(_connect(path), target=SCHEMA_VERSION - 1)
    with pytest.raises(SchemaVersionError, match="run the journal writer"):
        JournalReader(path)
    with pytest.raises(FileNotFoundError):
        JournalReader(tmp_path / "missing.db")
