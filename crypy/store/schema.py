"""The journal's schema as an append-only list of migrations, versioned by ``PRAGMA user_version``.

A migration is never edited once released: a file written by an older crypy is brought forward by running
the migrations it lacks, and a file written by a newer crypy is refused rather than misread.
Money columns are TEXT holding ``str(Decimal)`` so values come back exactly; tables are STRICT so nothing
is silently coerced. Every journal table has ``seq``: one counter across all tables, the journal's order.
"""

from __future__ import annotations

import sqlite3

_V1_TABLES: tuple[str, ...] = (
    """CREATE TABLE orders (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, order_id TEXT NOT NULL, client_id TEXT NOT NULL,
        trader TEXT NOT NULL, pair TEXT NOT NULL, side TEXT NOT NULL, order_type TEXT NOT NULL,
        amount TEXT NOT NULL, price TEXT, status TEXT NOT NULL, filled TEXT NOT NULL, avg_price TEXT,
        fee TEXT NOT NULL, created INTEGER NOT NULL, reason TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE fills (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, fill_id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL,
        client_id TEXT NOT NULL, trader TEXT NOT NULL, pair TEXT NOT NULL, side TEXT NOT NULL,
        price TEXT NOT NULL, amount TEXT NOT NULL, fee TEXT NOT NULL, fee_asset TEXT NOT NULL,
        liquidity TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE order_requests (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, client_id TEXT NOT NULL, trader TEXT NOT NULL,
        pair TEXT NOT NULL, side TEXT NOT NULL, order_type TEXT NOT NULL, amount TEXT NOT NULL, price TEXT,
        approval_id TEXT, approval TEXT, reason TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE cancel_requests (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, client_id TEXT NOT NULL, trader TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE refusals (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, client_id TEXT NOT NULL, trader TEXT NOT NULL,
        pair TEXT NOT NULL, reason TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE proposals (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, proposal_id TEXT NOT NULL, trader TEXT NOT NULL,
        holder TEXT NOT NULL, pair TEXT NOT NULL, strategy TEXT NOT NULL, params TEXT NOT NULL,
        metrics TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE decisions (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, proposal_id TEXT NOT NULL, holder TEXT NOT NULL,
        trader TEXT NOT NULL, accepted INTEGER NOT NULL CHECK (accepted IN (0, 1)), reason TEXT NOT NULL,
        allocation TEXT NOT NULL, approval_id TEXT, approval TEXT
    ) STRICT""",
    """CREATE TABLE signals (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, trader TEXT NOT NULL, pair TEXT NOT NULL,
        strategy TEXT NOT NULL, direction INTEGER NOT NULL, strength REAL, tags TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE positions (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, trader TEXT NOT NULL, pair TEXT NOT NULL,
        asset TEXT NOT NULL, amount TEXT NOT NULL, entry_price TEXT, realized_pnl TEXT NOT NULL,
        pnl_asset TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE balance_snapshots (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, account TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE balances (
        snapshot INTEGER NOT NULL REFERENCES balance_snapshots (seq), asset TEXT NOT NULL,
        total TEXT NOT NULL, held TEXT NOT NULL, PRIMARY KEY (snapshot, asset)
    ) STRICT, WITHOUT ROWID""",
    """CREATE TABLE actor_events (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, name TEXT NOT NULL,
        event TEXT NOT NULL CHECK (event IN ('started', 'stopped', 'crashed')),
        kind TEXT, parent TEXT, repl TEXT, reason TEXT, error TEXT, restarts INTEGER, will_restart INTEGER
    ) STRICT""",
)

_V2_READER_SUPPORT: tuple[str, ...] = (
    "CREATE INDEX orders_by_order ON orders (order_id, seq)",
    "CREATE INDEX orders_by_client ON orders (client_id)",
    "CREATE INDEX orders_by_trader ON orders (trader, seq)",
    "CREATE INDEX fills_by_order ON fills (order_id)",
    "CREATE INDEX fills_by_trader ON fills (trader, seq)",
    "CREATE INDEX order_requests_by_client ON order_requests (client_id)",
    "CREATE INDEX decisions_by_proposal ON decisions (proposal_id)",
    "CREATE INDEX proposals_by_id ON proposals (proposal_id)",
    "CREATE INDEX positions_by_trader ON positions (trader, seq)",
    "CREATE INDEX actor_events_by_name ON actor_events (name, seq)",
    """CREATE VIEW order_latest AS
        SELECT o.* FROM orders AS o
        JOIN (SELECT order_id, MAX(seq) AS seq FROM orders GROUP BY order_id) AS last ON o.seq = last.seq""",
)

_V3_RISK_AND_EXITS: tuple[str, ...] = (
    """CREATE TABLE risk_events (
        seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
        detail TEXT NOT NULL, trader TEXT NOT NULL, value TEXT, limit_value TEXT, asset TEXT NOT NULL
    ) STRICT""",
    "CREATE INDEX risk_events_by_trader ON risk_events (trader, seq)",
    "CREATE INDEX refusals_by_client ON refusals (client_id)",
    # Everything an OrderRequest carries, so a request journaled before a crash can be placed as it was asked.
    "ALTER TABLE order_requests ADD COLUMN trigger_price TEXT",
    "ALTER TABLE order_requests ADD COLUMN trailing_offset TEXT",
    "ALTER TABLE order_requests ADD COLUMN trailing_percent INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE order_requests ADD COLUMN post_only INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE order_requests ADD COLUMN time_in_force TEXT NOT NULL DEFAULT 'gtc'",
    "ALTER TABLE order_requests ADD COLUMN expire_ts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE order_requests ADD COLUMN stop_loss TEXT",
    "ALTER TABLE order_requests ADD COLUMN take_profit TEXT",
)
"""Risk events; the order fields v1 did not keep (rows written before read back with the struct's defaults)."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1_TABLES, _V2_READER_SUPPORT, _V3_RISK_AND_EXITS)
"""``MIGRATIONS[n]`` takes a file from version ``n`` to ``n + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)

JOURNAL_TABLES: tuple[str, ...] = (
    "orders", "fills", "order_requests", "cancel_requests", "refusals", "proposals", "decisions", "signals",
    "positions", "balance_snapshots", "actor_events", "risk_events",
)
"""Tables whose rows carry the journal-wide ``seq``."""

ALL_TABLES: tuple[str, ...] = (*JOURNAL_TABLES, "balances")


class SchemaVersionError(RuntimeError):
    """The file's schema is not one this code can use (written by a newer crypy, or not yet migrated)."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection) -> int:
    """The file's version, refusing a file from the future: its tables may mean things this code does not know."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        path = conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
        raise SchemaVersionError(
            f"{path} has journal schema version {version}, but this crypy knows only up to {SCHEMA_VERSION}: "
            "upgrade crypy to open it"
        )
    return version


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations the file lacks, up to ``target``, all in one transaction; return the version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). ``BEGIN IMMEDIATE`` takes the write lock
    before reading the version, so two processes opening the same new file cannot both migrate it.
    """
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {target} (known: 0..{SCHEMA_VERSION})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = check_version(conn)
        if version > target:
            raise SchemaVersionError(f"cannot migrate down from version {version} to {target}")
        for statements in MIGRATIONS[version:target]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target:d}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return target
