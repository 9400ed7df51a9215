"""The candle store: a cache of closed candles per exchange, pair and timeframe in its own SQLite file.

Separate from the journal because it is a cache, shared by every run on the machine and rebuilt from the
exchange (or imported files) at will, while a journal is the record of one run. Intervals without a candle are
stored as nothing, so a gap stays a gap: ``gaps`` lists them and nothing here ever invents a candle.

The API is synchronous; async callers run it in a worker thread (``trio.to_thread``), so one connection is
shared between threads under a lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from crypy.protocols import Candle, timeframe_ms

SCHEMA_VERSION = 1
_SCHEMA = """CREATE TABLE IF NOT EXISTS candles (
    exchange TEXT NOT NULL, pair TEXT NOT NULL, timeframe TEXT NOT NULL, ts INTEGER NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
    PRIMARY KEY (exchange, pair, timeframe, ts)
) STRICT, WITHOUT ROWID"""
_UPSERT = """INSERT INTO candles (exchange, pair, timeframe, ts, open, high, low, close, volume)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (exchange, pair, timeframe, ts) DO UPDATE SET open = excluded.open, high = excluded.high,
    low = excluded.low, close = excluded.close, volume = excluded.volume"""
_SERIES = "exchange = ? AND pair = ? AND timeframe = ?"


def default_candle_store_path() -> Path:
    """``$CRYPY_DATA_DIR/candles.db``, else ``$XDG_DATA_HOME/crypy/candles.db`` (``~/.local/share`` by default)."""
    if data_dir := os.environ.get("CRYPY_DATA_DIR"):
        return Path(data_dir) / "candles.db"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "crypy" / "candles.db"


class Gap(NamedTuple):
    """Missing candles: the first missing open time, the open time of the next stored candle, and how many."""

    start: int
    end: int
    missing: int


class SeriesSummary(NamedTuple):
    """One stored series: how many candles, the first and last open times, and how many gaps lie between."""

    exchange: str
    pair: str
    timeframe: str
    count: int
    first: int
    last: int
    gaps: int


class CandleStore:
    """A candle cache file: WAL (so a desk reads while ``crypy data import`` writes), one STRICT table."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ValueError(f"{self.path}: candle store version {version} is newer than this crypy's "
                                 f"({SCHEMA_VERSION})")
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
                raise ValueError(f"{self.path}: SQLite would not use WAL mode")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ValueError(f"{self.path}: not a candle store: {exc}") from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._lock = threading.Lock()

    def put(self, exchange: str, pair: str, timeframe: str, candles: Sequence[Candle]) -> int:
        """Store ``candles`` (newer data replaces stored candles of the same time) and return how many are new.

        All or nothing: candles of another pair or timeframe, or off the timeframe's grid, are refused first.
        """
        step = timeframe_ms(timeframe)
        for candle in candles:
            if candle.pair != pair or candle.timeframe != timeframe or candle.ts % step:
                raise ValueError(f"candle {candle.pair} {candle.timeframe} at {candle.ts} does not belong to "
                                 f"{pair} {timeframe}")
        if not candles:
            return 0
        rows = [(exchange, pair, timeframe, c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles]
        count = f"SELECT COUNT(*) FROM candles WHERE {_SERIES} AND ts BETWEEN ? AND ?"
        span = (exchange, pair, timeframe, min(c.ts for c in candles), max(c.ts for c in candles))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                before = self._conn.execute(count, span).fetchone()[0]
                self._conn.executemany(_UPSERT, rows)
                after = self._conn.execute(count, span).fetchone()[0]
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return int(after - before)

    def get(self, exchange: str, pair: str, timeframe: str, since_ms: int | None = None, until_ms: int | None = None,
            limit: int | None = None) -> list[Candle]:
        """Stored candles opening in ``[since_ms, until_ms)``, oldest first; with ``limit``, the newest that many."""
        where, params = self._range(exchange, pair, timeframe, since_ms, until_ms)
        sql = f"SELECT ts, open, high, low, close, volume FROM candles WHERE {where} ORDER BY ts DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [Candle(ts=ts, pair=pair, timeframe=timeframe, open=o, high=h, low=lo, close=c, volume=v)
                for ts, o, h, lo, c, v in reversed(rows)]

    def gaps(self, exchange: str, pair: str, timeframe: str, since_ms: int | None = None,
             until_ms: int | None = None) -> list[Gap]:
        """Missing ranges between stored candles opening in ``[since_ms, until_ms)``, oldest first."""
        step = timeframe_ms(timeframe)
        where, params = self._range(exchange, pair, timeframe, since_ms, until_ms)
        sql = (f"SELECT previous, ts FROM (SELECT ts, LAG(ts) OVER (ORDER BY ts) AS previous FROM candles "
               f"WHERE {where}) WHERE ts - previous > ? ORDER BY ts")
        with self._lock:
            rows = self._conn.execute(sql, [*params, step]).fetchall()
        return [Gap(previous + step, ts, (ts - previous) // step - 1) for previous, ts in rows]

    def summary(self) -> list[SeriesSummary]:
        """Every stored series, sorted by exchange, pair and timeframe."""
        sql = ("SELECT exchange, pair, timeframe, COUNT(*), MIN(ts), MAX(ts) FROM candles "
               "GROUP BY exchange, pair, timeframe ORDER BY exchange, pair, timeframe")
        with self._lock:
            series = self._conn.execute(sql).fetchall()
        return [SeriesSummary(*row, gaps=len(self.gaps(*row[:3]))) for row in series]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> CandleStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _range(exchange: str, pair: str, timeframe: str, since_ms: int | None,
               until_ms: int | None) -> tuple[str, list[object]]:
        where, params = _SERIES, [exchange, pair, timeframe]
        if since_ms is not None:
            where += " AND ts >= ?"
            params.append(since_ms)
        if until_ms is not None:
            where += " AND ts < ?"
            params.append(until_ms)
        return where, params
