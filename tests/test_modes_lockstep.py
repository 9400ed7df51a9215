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
from crypy.protocols import Candle
from crypy.simulator import SimExchange

from .conftest import MARKET_DATA, ROOT

FROM, TO = "2023-03-01", "2023-04-01"


def _ms(date: str) -> int:
    return int(dt.datetime.fromisoformat(date).replace(tzinfo=dt.UTC).timestamp() * 1000)


TRAILING_AND_SCALE_IN = {"trader.toml": [("# trailing_stop = 0.08", "trailing_stop = 0.03"),
                                          ("scale_in = [1.0]", "scale_in = [0.5, 0.5]")]}
SIGNALS_ONLY = {
    "trader.toml": [("stop_loss = 0.05", "stop_loss = 0"), ("take_profit = 0.10", "take_profit = 0"),
                    ("reevaluate_hours = 24", "reevaluate_hours = 0")],
    "desk.toml": [('daily_loss_limit = "500"', "# no daily loss limit"),
                  ("trader_max_drawdown = 0.2", "# no drawdown limit")],
}
"""Trading on signals alone, without limits: nothing is live on the exchange between a trader's orders."""


def _templates(folder: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    shutil.copytree(ROOT / "templates", folder)
    for name, changes in (edits | {"holder.toml": [("learn = true", "learn = false")]}).items():  # two runs
        text = (folder / name).read_text()
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        (folder / name).write_text(text)
    return folder


def _backtest(out: Path, templates: Path, *, lockstep: bool) -> Path:
    data = [MARKET_DATA / "kraken_BTCUSD_15m.csv.gz", MARKET_DATA / "kraken_ETHUSD_15m.csv.gz"]
    if not all(path.is_file() for path in data):
        pytest.skip(f"shared market data not found at {MARKET_DATA}")
    run_backtest(BacktestOptions(data=data, out=out, from_ms=_ms(FROM), to_ms=_ms(TO), template_dir=templates,
                                 balance={"USD": Decimal(10_000), "XBT": Decimal("0.25")}, lockstep=lockstep))
    return out


def _count_bulk(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the candles the lockstep driver closes in bulk (``SimExchange.close_quietly``)."""
    counted = [0]
    close_quietly = SimExchange.close_quietly

    def counting(self: SimExchange, count: int) -> list[Candle]:
        counted[0] += count
        return close_quietly(self, count)

    monkeypatch.setattr(SimExchange, "close_quietly", counting)
    return counted


def test_the_lockstep_backtest_trades_as_the_candle_by_candle_replay(tmp_path: Path) -> None:
    reference = _backtest(tmp_path / "reference", _templates(tmp_path / "t1", TRAILING_AND_SCALE_IN), lockstep=False)
    lockstep = _backtest(tmp_path / "lockstep", _templates(tmp_path / "t2", TRAILING_AND_SCALE_IN), lockstep=True)
    trades = (reference / "trades.csv").read_text()
    assert (lockstep / "trades.csv").read_text() == trades
    assert (lockstep / "equity.csv").read_text() == (reference / "equity.csv").read_text()
    rows = trades.splitlines()[1:]
    reasons = Counter(row.split(",")[-1] for row in rows)
    assert len(rows) >= 10, trades
    assert reasons["signal"] and reasons["trailing_stop"], reasons


def test_quiet_stretches_closed_in_one_go_trade_as_the_candle_by_candle_replay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _backtest(tmp_path / "reference", _templates(tmp_path / "t1", SIGNALS_ONLY), lockstep=False)
    in_bulk = _count_bulk(monkeypatch)
    lockstep = _backtest(tmp_path / "lockstep", _templates(tmp_path / "t2", SIGNALS_ONLY), lockstep=True)
    trades = (reference / "trades.csv").read_text()
    assert (lockstep / "trades.csv").read_text() == trades
    assert (lockstep / "equity.csv").read_text() == (reference / "equity.csv").read_text()
    assert len(trades.splitlines()) > 5, trades
    replayed = len((lockstep / "equity.csv").read_text().splitlines()) - 1
    assert in_bulk[0] > replayed / 2, (in_bulk, replayed)
