"""``crypy data import`` and ``crypy data list`` as a user runs them, on the shared market data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .conftest import MARKET_DATA
from .processes import crypy

BTC_15M = MARKET_DATA / "kraken_BTCUSD_15m.csv.gz"
BTC_TRADES = MARKET_DATA / "kraken_BTCUSDT_trades.csv.gz"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    with crypy("data", *args, env=env) as process:
        output = process.finish()
    return process.process.returncode, output


def stored(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT exchange, pair, timeframe, COUNT(*) FROM candles GROUP BY 1, 2, 3").fetchall()


def test_import_stores_and_reports_then_list_shows_the_series(market_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "candles.db"
    code, output = run("import", str(BTC_15M), str(BTC_TRADES), "--timeframe", "15m", "--store", str(db))
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == (f"{BTC_15M}: kraken XBT/USD 15m (crypy candles): 26193 candles (26193 new), "
                        "2023-01-01 00:00 UTC to 2023-09-30 23:45 UTC, 6 gaps")
    assert lines[1].startswith(f"{BTC_TRADES}: kraken XBT/USDT 15m (crypy trades): ")
    assert stored(db) == [("kraken", "XBT/USD", "15m", 26193), ("kraken", "XBT/USDT", "15m", 515)]

    code, output = run("import", str(BTC_TRADES), "--timeframe", "1m", "--exchange", "sim", "--store", str(db))
    assert code == 0 and "kraken_BTCUSDT_trades.csv.gz: sim XBT/USDT 1m (crypy trades): 5388 candles (5388 new)" in output
    assert output.rstrip().endswith("1367 gaps")  # minutes without a trade stay empty

    code, output = run("list", "--store", str(db))
    assert code == 0
    assert output.splitlines() == [
        "exchange  pair      timeframe  candles  first                 last                  gaps",
        "kraken    XBT/USD   15m          26193  2023-01-01 00:00 UTC  2023-09-30 23:45 UTC     6",
        "kraken    XBT/USDT  15m            515  2023-11-17 00:00 UTC  2023-11-22 08:30 UTC     0",
        "sim       XBT/USDT  1m            5388  2023-11-17 00:00 UTC  2023-11-22 08:41 UTC  1367",
    ]


def test_bad_input_exits_2_with_one_line_and_stores_nothing(market_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "candles.db"
    bad = tmp_path / "XBTUSD_15.csv"
    bad.write_text("1672531200,16528.7,16530,16511,16514.9,10.3,43\n1672532100,16514.9,16500,16511.9,16528.9,3,8\n")
    code, output = run("import", str(BTC_15M), str(bad), "--store", str(db))
    assert code == 2
    assert output.strip() == f"crypy: error: {bad}:2: OHLC out of order (need low <= open, close <= high)"
    assert not db.exists()  # the good file before the bad one was not stored either

    code, output = run("import", str(BTC_TRADES), "--store", str(db))
    assert code == 2 and output.count("\n") == 1 and "give it (e.g. --timeframe 15m)" in output


def test_the_default_store_lives_in_crypy_data_dir(market_data: Path, tmp_path: Path) -> None:
    env = {"CRYPY_DATA_DIR": str(tmp_path / "data")}
    assert run("list", env=env) == (0, f"no candles stored ({tmp_path / 'data' / 'candles.db'})\n")
    small = tmp_path / "kraken_ETHUSD_15m.csv"
    small.write_text("timestamp_ms,open,high,low,close,volume\n1672531200000,1196.1,1197.5,1195.1,1196.9,25.5\n")
    code, output = run("import", str(small), env=env)
    assert code == 0 and "1 candles (1 new)" in output
    code, output = run("import", str(small), env=env)
    assert code == 0 and "1 candles (0 new)" in output
    assert stored(tmp_path / "data" / "candles.db") == [("kraken", "ETH/USD", "15m", 1)]
