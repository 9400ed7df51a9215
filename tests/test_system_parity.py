"""Backtest and simulation agree trade by trade: the same actors on the same data, template and seed.

A ``crypy sim`` run (the desk on the simulator through ccxt and Kraken's API, on the wall clock) and a ``crypy
backtest`` (in-process, on trio's virtual clock) replay a day of real BTC and ETH 15m candles with the eager
test templates; ``crypy diff`` must find every trade of one in the other, at the same candle, amount, price
and fee. A backtest at another taker fee must then differ in fees (and the amounts they leave), and nothing else.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import EAGER_TEMPLATES, real_candles
from .processes import CRYPY

START = int(dt.datetime(2023, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
REPLAYED = 96
"""A day of 15m candles after the simulator's 720 of history: 10+ trades for each eager trader."""
SPEED = "1800"
"""Half a second of wall time per candle: parity holds while the simulated system keeps up with the market (each
order reaches the exchange before the next candle closes), and this leaves a loaded 2-core machine room to."""


def _cut(name: str, folder: Path) -> Path:
    candles = real_candles(name)
    first = sum(1 for c in candles if c.ts < START) - 720
    path = folder / name.removesuffix(".gz")
    path.write_text("timestamp_ms,open,high,low,close,volume\n" + "".join(
        f"{c.ts},{c.open!r},{c.high!r},{c.low!r},{c.close!r},{c.volume!r}\n"
        for c in candles[first:first + 720 + REPLAYED]))
    return path


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CRYPY, *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("parity")
    data = [arg for name in ("kraken_BTCUSD_15m.csv.gz", "kraken_ETHUSD_15m.csv.gz")
            for arg in ("--data", str(_cut(name, folder)))]
    common = [*data, "--template-dir", str(EAGER_TEMPLATES), "--seed", "7"]
    sim = _run("sim", *common, "--speed", SPEED, "--db", str(folder / "sim.db"), "--repl-port", "0")
    assert "end of market data" in sim.stdout, sim.stdout[-2000:]
    balances = ["--balance", "USD=10000", "--balance", "XBT=0.25"]  # crypy sim's default account
    _run("backtest", *common, *balances, "--out", str(folder / "backtest"))
    _run("backtest", *common, *balances, "--taker-fee", "0.004", "--out", str(folder / "dearer"))
    return {"sim": folder / "sim.db", "backtest": folder / "backtest" / "journal.db",
            "dearer": folder / "dearer" / "journal.db"}


def _diff(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRYPY, "diff", str(a), str(b)], capture_output=True, text=True, timeout=60)


def _trades(report: str) -> tuple[int, int, int]:
    found = re.search(r"\((\d+) trades\)\nB: .*\((\d+) trades\)\nmatched trades: (\d+)", report)
    assert found, report
    a, b, matched = map(int, found.groups())
    return a, b, matched


def test_a_backtest_makes_the_trades_of_a_simulation(runs: dict[str, Path]) -> None:
    diff = _diff(runs["sim"], runs["backtest"])
    assert diff.returncode == 0, diff.stdout
    a, b, matched = _trades(diff.stdout)
    assert a == b == matched >= 30, diff.stdout
    assert "0 differences" in diff.stdout


def test_a_changed_fee_shows_up_as_fee_differences(runs: dict[str, Path]) -> None:
    diff = _diff(runs["sim"], runs["dearer"])
    assert diff.returncode == 1, diff.stdout
    a, b, matched = _trades(diff.stdout)
    assert a == b == matched, "a fee changes what each trade costs, not which trades are made"
    counts = re.search(r"(\d+) differences: (.*)", diff.stdout)
    assert counts, diff.stdout
    kinds = dict(item.split(" ") for item in counts.group(2).split(", "))
    assert int(kinds.pop("fees")) == matched, "every trade paid the dearer fee"
    assert set(kinds) <= {"amount"}, "a dearer fee leaves less to spend: amounts may differ, nothing else"
    assert "rate 0.260% (taker) in A, 0.400% (taker) in B" in diff.stdout
