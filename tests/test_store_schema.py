"""Migrations of the journal file: from empty, from an older version, and refusal of newer files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

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


def test_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "j.db")
    migrate(conn, target=SCHEMA_VERSION - 1)
    conn.execute("CREATE INDEX orders_by_order ON orders (order_id)")  # the last migration creates this name
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION - 1
    assert "order_latest" not in _objects(conn, "view")
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
