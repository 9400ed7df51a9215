"""Copying a journal's tables out as CSV or Parquet files, for analysis in tools that do not speak SQLite.

Columns and values are exported as stored, so money stays the exact ``str(Decimal)`` text the journal holds:
- CSV: that text. SQL NULL is the empty field, as CSV has no other; money is never empty text, so a money cell
  is never ambiguous (an optional text column such as an actor's ``parent`` may read alike for ``''`` and NULL).
- Parquet: string columns, not ``decimal128``. A decimal column needs one scale chosen in advance for every row,
  which would rewrite ``1.10`` as ``1.10000000`` (or round away digits beyond it) and cannot hold an exponent
  form such as ``1E+1`` as written; the text is what the journal and ``JournalReader`` hold, digit for digit.
  ``pyarrow.compute.cast(column, pyarrow.decimal128(38, scale))`` turns it into numbers when a user wants them.
  INTEGER and REAL columns become ``int64`` and ``float64``.

Every file comes from the same read transaction on a read-only connection, so an export taken while crypy runs
is one consistent moment of the journal.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any

from .reader import connect_read_only
from .schema import SchemaVersionError

FORMATS: tuple[str, ...] = ("csv", "parquet")

_BATCH = 10_000
"""Rows fetched and written at a time, so that a large journal never sits in memory whole."""

EXPORT_TABLES: tuple[str, ...] = (
    "orders", "order_latest", "fills", "order_requests", "cancel_requests", "refusals", "proposals", "decisions",
    "signals", "positions", "balances", "actor_events", "risk_events",
)
"""What can be exported, one file each: every journal table, and the latest state of each order."""

_BALANCES = ("SELECT b.snapshot, s.ts, s.account, b.asset, b.total, b.held FROM balances AS b "
             "JOIN balance_snapshots AS s ON s.seq = b.snapshot ORDER BY b.snapshot, b.asset")
"""Balances carry their snapshot's time and account, so the file stands on its own."""

_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (_BALANCES, ("balances", "balance_snapshots")) if name == "balances"
    else (f"SELECT * FROM {name} ORDER BY seq", (name,))
    for name in EXPORT_TABLES
}
"""Export name -> (its query, the tables declaring the types of its columns)."""


class ExportError(ValueError):
    """The user asked for something that cannot be exported; the message is one line meant for them."""


@dataclass(frozen=True)
class Written:
    """One file of an export and the number of rows in it."""

    path: Path
    rows: int


def export_journal(db: str | PathLike[str], out: str | PathLike[str], fmt: str = "csv",
                   tables: Sequence[str] | None = None) -> list[Written]:
    """Write ``out/NAME.csv`` (or ``.parquet``) for each of ``tables`` (default: all of ``EXPORT_TABLES``)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    names = list(dict.fromkeys(tables or EXPORT_TABLES))
    if unknown := [name for name in names if name not in _SOURCES]:
        raise ExportError(f"no journal table {', '.join(unknown)} (known: {', '.join(EXPORT_TABLES)})")
    write = _write_parquet if fmt == "parquet" else _write_csv
    if fmt == "parquet":
        _pyarrow()  # fail before writing anything
    try:
        conn = connect_read_only(db)
    except sqlite3.DatabaseError as exc:
        raise ExportError(f"{db} is not a crypy journal ({exc})") from None
    except SchemaVersionError as exc:
        raise ExportError(str(exc)) from None
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        conn.execute("BEGIN")  # one snapshot for every file
        for name in names:
            sql, declaring = _SOURCES[name]
            cursor = conn.execute(sql)
            columns = [column[0] for column in cursor.description]
            types = _declared_types(conn, declaring)
            path = folder / f"{name}.{fmt}"
            written.append(Written(path, write(path, columns, [types[c] for c in columns], _batches(cursor))))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return written


def _declared_types(conn: sqlite3.Connection, tables: tuple[str, ...]) -> dict[str, str]:
    """Column name -> declared SQLite type; STRICT tables guarantee every value is of it (or NULL)."""
    return {r["name"]: r["type"] for table in tables for r in conn.execute(f"PRAGMA table_info({table})")}


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[tuple[Any, ...]]]:
    while batch := cursor.fetchmany(_BATCH):
        yield [tuple(row) for row in batch]


def _write_csv(path: Path, columns: list[str], types: list[str], batches: Iterator[list[tuple[Any, ...]]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for batch in batches:
            writer.writerows(batch)
            count += len(batch)
    return count


def _pyarrow() -> tuple[ModuleType, ModuleType]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ExportError("parquet export needs pyarrow: pip install 'crypy[parquet]'") from None
    return pyarrow, pyarrow.parquet


def _write_parquet(path: Path, columns: list[str], types: list[str],
                   batches: Iterator[list[tuple[Any, ...]]]) -> int:
    pa, pq = _pyarrow()
    arrow_types = {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string()}
    schema = pa.schema([pa.field(column, arrow_types[kind]) for column, kind in zip(columns, types, strict=True)])
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            arrays = [pa.array([row[i] for row in batch], type=field.type) for i, field in enumerate(schema)]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            count += len(batch)
    return count
