"""How many events per second the journal commits: 100k orders and fills through one ``Journal`` in a trio run.

Events are built before the clock starts, so the figure is the journal's own cost (queueing, encoding,
SQLite inserts in ~500-event transactions, WAL commits) measured until ``flush`` confirms the last commit.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

from crypy.protocols import Event, Fill, Order, OrderStatus, OrderType, Side
from crypy.store import Journal, JournalReader

RESULTS = Path(__file__).parent / "results" / "journal.json"


def _events(n: int) -> list[Event]:
    """Alternating order updates and fills, with realistic Decimal precision."""
    events: list[Event] = []
    for i in range(n):
        if i % 2 == 0:
            events.append(Order(ts=1_700_000_000_000 + i, id=f"o{i}", client_id=f"c{i}", trader="t1",
                                pair="BTC/USD", side=Side.BUY, order_type=OrderType.LIMIT,
                                amount=Decimal("0.12345678"), price=Decimal("43210.1"),
                                status=OrderStatus.PARTIALLY_FILLED, filled=Decimal("0.1"),
                                avg_price=Decimal("43210.1"), fee=Decimal("11.23")))
        else:
            events.append(Fill(ts=1_700_000_000_000 + i, id=f"f{i}", order_id=f"o{i - 1}", client_id=f"c{i - 1}",
                               pair="BTC/USD", side=Side.BUY, price=Decimal("43210.1"), amount=Decimal("0.1"),
                               fee=Decimal("11.23"), fee_asset="USD", liquidity="maker", trader="t1"))
    return events


async def _run(path: Path, events: list[Event]) -> float:
    journal = Journal(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        start = time.perf_counter()
        for event in events:
            await journal.record(event)
        await journal.flush()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=100_000, help="events to write")
    n = parser.parse_args().n
    events = _events(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.db"
        seconds = trio.run(_run, path, events)
        with JournalReader(path) as reader:
            counts = reader.counts()
        file_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
    if counts["orders"] + counts["fills"] != n:
        raise SystemExit(f"journal lost events: {counts}")
    figures = {
        "events": n,
        "seconds": round(seconds, 3),
        "events_per_second": round(n / seconds),
        "file_bytes": file_bytes,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"journal: {n} events in {seconds:.2f} s = {n / seconds:,.0f} events/s -> {RESULTS}")


if __name__ == "__main__":
    main()
