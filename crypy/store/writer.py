"""The synchronous half of the journal: one SQLite connection that writes each batch in one transaction.

Kept free of trio so that the write path is plain, fast, blocking code that the journal task calls directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from os import PathLike

from crypy.protocols import Event

from .rows import COLUMNS, ENCODERS, Row
from .schema import JOURNAL_TABLES, migrate

_ON_CONFLICT = {"fills": " ON CONFLICT (fill_id) DO NOTHING"}
"""An exchange may report the same fill twice (reconnects, polling overlap): keep the first."""


def _insert(table: str) -> str:
    columns = COLUMNS[table]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return sql + _ON_CONFLICT.get(table, "")


class JournalFile:
    """A journal file opened for writing: WAL, ``synchronous=NORMAL``, foreign keys on, schema migrated.

    WAL lets readers (the REPL, reports) query while this connection writes; ``synchronous=NORMAL`` in WAL
    keeps the file consistent on power loss and only risks the last commits, at a fraction of the fsyncs.
    Every event gets the next journal-wide ``seq``, so only one ``JournalFile`` may write a file at a time.
    """

    def __init__(self, path: str | PathLike[str]) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{path}: SQLite would not use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
            last = " UNION ALL ".join(f"SELECT MAX(seq) AS seq FROM {table}" for table in JOURNAL_TABLES)
            self._next_seq: int = conn.execute(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM ({last})").fetchone()[0]
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._inserts = {table: _insert(table) for table in COLUMNS}

    def write(self, events: Sequence[Event]) -> None:
        """Commit ``events`` in one transaction, in order, or nothing of them (the error propagates)."""
        if not events:
            return
        rows: dict[str, list[Row]] = {}
        seq = self._next_seq
        for event in events:
            for table, row in ENCODERS[type(event)](seq, event):
                rows.setdefault(table, []).append(row)
            seq += 1
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for table, table_rows in rows.items():  # parents first: encoders emit a snapshot before its balances
                self._conn.executemany(self._inserts[table], table_rows)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._next_seq = seq

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
