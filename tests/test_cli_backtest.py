"""``crypy backtest`` as a user runs it: real data of two pairs, a real process, the report files read back."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from crypy.reports import round_trips
from crypy.reports.outputs import EQUITY_COLUMNS, TRADE_COLUMNS
from crypy.simulator import load_candles
from crypy.store import JournalReader

from .conftest import EAGER_TEMPLATES
from .processes import CRYPY

FROM, TO = "2023-03-01", "2023-03-08"  # a week of 15m candles: 672 per pair


def _backtest(market_data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CRYPY, "backtest", "--data", str(market_data / "kraken_BTCUSD_15m.csv.gz"),
         "--data", str(market_data / "kraken_ETHUSD_15m.csv.gz"), "--from", FROM, "--to", TO,
         "--template-dir", str(EAGER_TEMPLATES), "--out", str(out), *extra],
        capture_output=True, text=True, timeout=120)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def _ms(date: str) -> int:
    return int(dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from .conftest import MARKET_DATA

    if not MARKET_DATA.is_dir():
        pytest.skip(f"shared market data not found at {MARKET_DATA}")
    out = tmp_path_factory.mktemp("backtest")
    result = _backtest(MARKET_DATA, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


def test_the_report_files_match_the_journal(report: tuple[Path, str], market_data: Path) -> None:
    out, _ = report
    header, trades = _rows(out / "trades.csv")
    assert tuple(header) == TRADE_COLUMNS
    with JournalReader(out / "journal.db") as journal:
        fills, orders = journal.fills(), journal.orders()
    assert fills, "the eager templates trade within the week"
    assert len(trades) == len(round_trips(fills))
    assert {row["pair"] for row in trades} == {"XBT/USD", "ETH/USD"}
    assert all(row["exit_reason"] and row["entry_time"].endswith("Z") for row in trades)

    header, order_rows = _rows(out / "orders.csv")
    assert header[:2] == ["ts", "id"] and "status" in header
    assert [row["id"] for row in order_rows] == [order.id for order in orders]
    assert [row["status"] for row in order_rows] == [order.status.value for order in orders]
    assert all(order.status.is_terminal for order in orders), "the desk cancels what is open when the data ends"

    header, equity = _rows(out / "equity.csv")
    assert tuple(header) == EQUITY_COLUMNS
    replayed = [c for name in ("kraken_BTCUSD_15m.csv.gz", "kraken_ETHUSD_15m.csv.gz")
                for c in load_candles(market_data / name) if _ms(FROM) <= c.ts < _ms(TO)]
    assert len(equity) == len({c.ts for c in replayed})
    assert equity[0]["equity"] == "10000"
    assert [int(row["ts_ms"]) for row in equity] == sorted(int(row["ts_ms"]) for row in equity)

    stats = json.loads((out / "stats.json").read_text())
    assert set(stats) == {"run", "stats", "by_strategy", "by_pair", "by_exit_reason", "monthly_returns"}
    assert stats["run"]["candles"] == len(replayed)
    assert stats["run"]["final_equity"] == equity[-1]["equity"]
    assert stats["stats"]["trades"] == sum(1 for row in trades if row["exit_reason"] != "open")
    assert set(stats["by_pair"]) == {"XBT/USD", "ETH/USD"}
    assert list(stats["monthly_returns"]) == ["2023-03"]

    for picture in ("equity.png", "XBT-USD.png", "ETH-USD.png"):
        assert (out / picture).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), picture
    page = (out / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 3 and "<script" not in page
    assert "Monthly" in page and "XBT/USD" in page and "ETH/USD" in page


def test_the_terminal_shows_only_the_table(report: tuple[Path, str]) -> None:
    out, stdout = report
    assert stdout.startswith("statistic")
    for label in ("total return", "max drawdown", "sharpe / sortino", "win rate", "profit factor"):
        assert label in stdout
    assert '"event"' not in stdout, "the actors' logs are quiet in a backtest"


def test_a_second_run_writes_the_same_trades(report: tuple[Path, str], market_data: Path, tmp_path: Path) -> None:
    out, _ = report
    again = _backtest(market_data, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (tmp_path / "trades.csv").read_bytes() == (out / "trades.csv").read_bytes()
    assert (tmp_path / "equity.csv").read_bytes() == (out / "equity.csv").read_bytes()
    assert (tmp_path / "stats.json").read_bytes() == (out / "stats.json").read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "no-such-file.csv.gz"], "crypy: error: no candle file no-such-file.csv.gz"),
    (["--data", "x.csv.gz", "--from", "2023-13-01"], "not a date (YYYY-MM-DD or ISO datetime): '2023-13-01'"),
    (["--data", "x.csv.gz", "--balance", "USD"], "expected ASSET=AMOUNT"),
])
def test_bad_arguments_are_a_clear_error(args: list[str], message: str, tmp_path: Path) -> None:
    result = subprocess.run([*CRYPY, "backtest", *args, "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
