"""The lockstep backtest against its reference: the same run, candle by candle, with sleeps and polls.

``crypy backtest`` drives the actors in lockstep and lets strategies decide a chunk of candles at a time; the
reference replays each candle at its close on the virtual clock while the desk polls, as ``crypy sim`` does. On a
month of real BTC and ETH candles, with the shipped templates (a real stop-loss, a watched take-profit, re-evaluations,
holders creating fresh traders on their timer) plus a trailing stop and scaling in, both must write the very same
trades and equity curve.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from crypy.modes.backtest import BacktestOptions, run_backtest

from .conftest import MARKET_DATA, ROOT

FROM, TO = "2023-03-01", "2023-04-01"


def _ms(date: str) -> int:
    return int(dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC).timestamp() * 1000)


def _templates(folder: Path) -> Path:
    shutil.copytree(ROOT / "templates", folder)
    trader = folder / "trader.toml"
    text = trader.read_text()
    for old, new in (("# trailing_stop = 0.08", "trailing_stop = 0.03"), ("scale_in = [1.0]", "scale_in = [0.5, 0.5]")):
        assert old in text, old
        text = text.replace(old, new)
    trader.write_text(text)
    holder = folder / "holder.toml"
    assert "learn = true" in holder.read_text()
    holder.write_text(holder.read_text().replace("learn = true", "learn = false"))  # two runs, one memory
    return folder


def _backtest(out: Path, templates: Path, *, lockstep: bool) -> Path:
    data = [MARKET_DATA / "kraken_BTCUSD_15m.csv.gz", MARKET_DATA / "kraken_ETHUSD_15m.csv.gz"]
    if not all(path.is_file() for path in data):
        pytest.skip(f"shared market data not found at {MARKET_DATA}")
    run_backtest(BacktestOptions(data=data, out=out, from_ms=_ms(FROM), to_ms=_ms(TO), template_dir=templates,
                                 balance={"USD": Decimal(10_000), "XBT": Decimal("0.25")}, lockstep=lockstep))
    return out


def test_the_lockstep_backtest_trades_as_the_candle_by_candle_replay(tmp_path: Path) -> None:
    reference = _backtest(tmp_path / "reference", _templates(tmp_path / "t1"), lockstep=False)
    lockstep = _backtest(tmp_path / "lockstep", _templates(tmp_path / "t2"), lockstep=True)
    trades = (reference / "trades.csv").read_text()
    assert (lockstep / "trades.csv").read_text() == trades
    assert (lockstep / "equity.csv").read_text() == (reference / "equity.csv").read_text()
    rows = trades.splitlines()[1:]
    reasons = Counter(row.split(",")[-1] for row in rows)
    assert len(rows) >= 10, trades
    assert reasons["signal"] and reasons["trailing_stop"], reasons
