"""Reading a journal back as protocol events, from a read-only connection.

WAL mode lets a reader see the last committed state while the writer keeps appending; each method reads one
consistent snapshot. Readers never migrate: a file the writer has not yet brought up to date is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from os import PathLike
from pathlib import Path

from crypy.protocols import (
    ActorCrashed,
    ActorStarted,
    ActorStopped,
    BalanceSnapshot,
    CancelRequest,
    Decision,
    Fill,
    Order,
    OrderRefused,
    OrderRequest,
    OrderStatus,
    Position,
    Proposal,
    RiskEvent,
    Signal,
)

from . import rows
from .lines import describe
from .schema import ALL_TABLES, JOURNAL_TABLES, SCHEMA_VERSION, SchemaVersionError, check_version

_OPEN_STATUSES = tuple(status.value for status in OrderStatus if not status.is_terminal)


def connect_read_only(path: str | PathLike[str]) -> sqlite3.Connection:
    """An autocommit, ``sqlite3.Row`` connection that cannot write, to a journal at this code's schema version.

    ``mode=ro`` makes it safe beside a running writer and unable to create or migrate a file by mistake.
    Raises ``FileNotFoundError``, ``SchemaVersionError``, or ``sqlite3.DatabaseError`` for a non-SQLite file.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no journal at {file}")
    conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        version = check_version(conn)
        if version == 0:
            raise SchemaVersionError(f"{file} is not a crypy journal (schema version 0)")
        if version < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{file} has journal schema version {version}, older than {SCHEMA_VERSION}: "
                "run the journal writer on it once to migrate it"
            )
    except BaseException:
        conn.close()
        raise
    return conn


class JournalReader:
    """Queries over a journal file; use as a context manager or call ``close``."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self._conn = connect_read_only(path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so that several queries see the same committed state."""
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    def _select(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def orders(self, trader: str | None = None) -> list[Order]:
        """The latest state of every order (of ``trader``, if given), oldest order first."""
        sql = "SELECT * FROM order_latest WHERE ? IS NULL OR trader = ? ORDER BY seq"
        return [rows.order(r) for r in self._select(sql, (trader, trader))]

    def order_history(self, order_id: str) -> list[Order]:
        """Every recorded state of one order, in the order they happened."""
        return [rows.order(r) for r in self._select("SELECT * FROM orders WHERE order_id = ? ORDER BY seq",
                                                    (order_id,))]

    def open_orders(self, trader: str | None = None) -> list[Order]:
        """Orders whose latest state is not terminal: what may still trade."""
        marks = ", ".join("?" * len(_OPEN_STATUSES))
        sql = f"SELECT * FROM order_latest WHERE status IN ({marks}) AND (? IS NULL OR trader = ?) ORDER BY seq"
        return [rows.order(r) for r in self._select(sql, (*_OPEN_STATUSES, trader, trader))]

    def fills(self, trader: str | None = None) -> list[Fill]:
        sql = "SELECT * FROM fills WHERE ? IS NULL OR trader = ? ORDER BY seq"
        return [rows.fill(r) for r in self._select(sql, (trader, trader))]

    def fill_ids(self) -> set[str]:
        """Ids of every journaled fill: what a restarted desk must not book again."""
        return {r["fill_id"] for r in self._select("SELECT fill_id FROM fills")}

    def order_requests(self) -> list[OrderRequest]:
        return [rows.order_request(r) for r in self._select("SELECT * FROM order_requests ORDER BY seq")]

    def order_requests_without_orders(self) -> list[OrderRequest]:
        """Requests that got neither an order nor a refusal: in flight when the desk stopped, so the exchange
        may or may not have them (look them up by client id before placing again)."""
        sql = """SELECT * FROM order_requests AS r
                 WHERE NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.client_id = r.client_id)
                   AND NOT EXISTS (SELECT 1 FROM refusals AS f WHERE f.client_id = r.client_id)
                 ORDER BY r.seq"""
        return [rows.order_request(r) for r in self._select(sql)]

    def cancel_requests(self) -> list[CancelRequest]:
        return [rows.cancel_request(r) for r in self._select("SELECT * FROM cancel_requests ORDER BY seq")]

    def refusals(self) -> list[OrderRefused]:
        return [rows.refusal(r) for r in self._select("SELECT * FROM refusals ORDER BY seq")]

    def proposals(self) -> list[Proposal]:
        return [rows.proposal(r) for r in self._select("SELECT * FROM proposals ORDER BY seq")]

    def decisions(self) -> list[Decision]:
        return [rows.decision(r) for r in self._select("SELECT * FROM decisions ORDER BY seq")]

    def signals(self) -> list[Signal]:
        return [rows.signal(r) for r in self._select("SELECT * FROM signals ORDER BY seq")]

    def positions(self, trader: str | None = None) -> list[Position]:
        sql = "SELECT * FROM positions WHERE ? IS NULL OR trader = ? ORDER BY seq"
        return [rows.position(r) for r in self._select(sql, (trader, trader))]

    def balances(self) -> list[BalanceSnapshot]:
        with self._snapshot() as conn:
            snapshots = conn.execute("SELECT * FROM balance_snapshots ORDER BY seq").fetchall()
            assets: dict[int, list[sqlite3.Row]] = {}
            for b in conn.execute("SELECT * FROM balances ORDER BY snapshot, asset"):
                assets.setdefault(b["snapshot"], []).append(b)
        return [rows.balance_snapshot(s, assets.get(s["seq"], [])) for s in snapshots]

    def actor_events(self) -> list[ActorStarted | ActorStopped | ActorCrashed]:
        return [rows.actor_event(r) for r in self._select("SELECT * FROM actor_events ORDER BY seq")]

    def risk_events(self, trader: str | None = None) -> list[RiskEvent]:
        """Risk controls fired and human commands, oldest first; ``trader=""`` gives the desk-wide ones."""
        sql = "SELECT * FROM risk_events WHERE ? IS NULL OR trader = ? ORDER BY seq"
        return [rows.risk_event(r) for r in self._select(sql, (trader, trader))]

    def counts(self) -> dict[str, int]:
        """Rows per table (``balances`` counts one row per asset per snapshot)."""
        with self._snapshot() as conn:
            return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ALL_TABLES}

    def recent(self, n: int = 20) -> list[str]:
        """The latest ``n`` journal entries across all tables, oldest first, one readable line each."""
        if n <= 0:
            return []
        with self._snapshot() as conn:
            latest = [
                [(r["seq"], table, r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY seq DESC LIMIT ?", (n,))]
                for table in JOURNAL_TABLES
            ]
            entries = sorted(chain.from_iterable(latest), key=lambda entry: entry[0])[-n:]
            return [describe(conn, table, row) for _, table, row in entries]
