"""The candle store, and ``load_history`` filling it from a real in-process simulator only with what is missing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio

from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.paper import PaperExchange
from crypy.exchanges.simulated import SimulatedExchange
from crypy.protocols import Candle, timeframe_ms
from crypy.simulator import PublicTrade, SimConfig, SimExchange, load_candles
from crypy.store.candle_history import load_history
from crypy.store.candles import CandleStore, Gap, SeriesSummary, default_candle_store_path

from . import test_exchanges_kraken
from .conftest import MARKET_DATA
from .test_exchanges_kraken import adapter, sim_config, start

opened = test_exchanges_kraken.opened  # the fixture that closes adapters

PAIR, TF = "XBT/USD", "15m"
STEP = timeframe_ms(TF)
BTC_15M = MARKET_DATA / "kraken_BTCUSD_15m.csv.gz"
GAP_AT = 4993
"""Index in ``BTC_15M`` of the candle after Kraken's first gap of that file: 5 quarter hours without trades."""


@pytest.fixture
def candles(market_data: Path) -> list[Candle]:
    return load_candles(BTC_15M)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CandleStore]:
    with CandleStore(tmp_path / "candles.db") as opened_store:
        yield opened_store


def expected_gaps(candles: list[Candle]) -> list[Gap]:
    pairs = zip(candles, candles[1:], strict=False)
    return [Gap(a.ts + STEP, b.ts, (b.ts - a.ts) // STEP - 1) for a, b in pairs if b.ts - a.ts > STEP]


def test_put_counts_new_rows_and_get_reads_ranges_oldest_first(store: CandleStore, candles: list[Candle]) -> None:
    part = candles[:3000]
    assert store.put("kraken", PAIR, TF, part) == 3000
    assert store.put("kraken", PAIR, TF, candles[2000:4000]) == 1000  # 1000 overlap, 1000 new
    assert store.get("kraken", PAIR, TF) == candles[:4000]
    assert store.get("kraken", PAIR, TF, limit=5) == candles[3995:4000]  # the newest, still oldest first
    assert store.get("kraken", PAIR, TF, since_ms=candles[10].ts, until_ms=candles[20].ts) == candles[10:20]
    assert store.get("kraken", PAIR, TF, since_ms=candles[10].ts, limit=3) == candles[3997:4000]
    assert store.get("sim", PAIR, TF) == [] and store.get("kraken", PAIR, "1h") == []
    corrected = msgspec.structs.replace(candles[5], close=candles[5].close + 1, high=candles[5].high + 1)
    assert store.put("kraken", PAIR, TF, [corrected]) == 0  # an upsert: the newer word replaces the stored one
    assert store.get("kraken", PAIR, TF, since_ms=corrected.ts, limit=None)[0] == corrected


def test_gaps_are_kept_as_gaps_and_summarised(store: CandleStore, candles: list[Candle]) -> None:
    store.put("kraken", PAIR, TF, candles)
    gaps = store.gaps("kraken", PAIR, TF)
    assert gaps == expected_gaps(candles) and len(gaps) == 6
    assert gaps[0] == Gap(candles[GAP_AT - 1].ts + STEP, candles[GAP_AT].ts, 5)
    assert store.get("kraken", PAIR, TF, since_ms=gaps[0].start, until_ms=gaps[0].end) == []  # nothing invented
    assert store.gaps("kraken", PAIR, TF, until_ms=candles[GAP_AT - 1].ts) == []
    store.put("sim", PAIR, TF, candles[:10])
    assert store.summary() == [
        SeriesSummary("kraken", PAIR, TF, len(candles), candles[0].ts, candles[-1].ts, 6),
        SeriesSummary("sim", PAIR, TF, 10, candles[0].ts, candles[9].ts, 0),
    ]


def test_put_refuses_foreign_candles_and_writes_nothing(store: CandleStore, candles: list[Candle]) -> None:
    off_grid = msgspec.structs.replace(candles[1], ts=candles[1].ts + 1)
    for bad in (msgspec.structs.replace(candles[1], pair="ETH/USD"), msgspec.structs.replace(candles[1], timeframe="1h"),
                off_grid):
        with pytest.raises(ValueError, match="does not belong"):
            store.put("kraken", PAIR, TF, [candles[0], bad])
    assert store.summary() == []


def test_file_is_wal_strict_and_refuses_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "candles.db"
    CandleStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert "STRICT" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'candles'").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError):  # STRICT: a price that is not a number is refused, not coerced
        conn.execute("INSERT INTO candles VALUES ('k', 'p', '1m', 0, 'x', 1, 1, 1, 1)")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ValueError, match="version 99 is newer"):
        CandleStore(path)
    (tmp_path / "junk.db").write_text("not sqlite at all, but long enough to be read as a header " * 4)
    with pytest.raises(ValueError, match="not a candle store"):
        CandleStore(tmp_path / "junk.db")


def test_default_path_follows_crypy_data_dir_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRYPY_DATA_DIR", str(tmp_path / "data"))
    assert default_candle_store_path() == tmp_path / "data" / "candles.db"
    monkeypatch.delenv("CRYPY_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_candle_store_path() == tmp_path / "xdg" / "crypy" / "candles.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_candle_store_path() == Path.home() / ".local" / "share" / "crypy" / "candles.db"


class CountingExchange(SimulatedExchange):
    """The in-process adapter, recording what it was asked for."""

    def __init__(self, sim: SimExchange) -> None:
        super().__init__(sim)
        self.candle_calls: list[int | None] = []
        self.trade_calls: list[int] = []

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        self.candle_calls.append(since_ms)
        return await super().candles(pair, timeframe, since_ms, limit)

    async def public_trades(self, pair: str, since_ms: int) -> list[PublicTrade]:
        self.trade_calls.append(since_ms)
        return await super().public_trades(pair, since_ms)


class KrakenLikeHistory(CountingExchange):
    """Kraken's OHLC serves only its newest 720 candles whatever ``since`` asks; the simulator serves them all."""

    async def candles(self, pair: str, timeframe: str, since_ms: int | None = None, limit: int = 720) -> list[Candle]:
        self.candle_calls.append(since_ms)
        newest = await SimulatedExchange.candles(self, pair, timeframe, None, 720)
        return [c for c in newest if since_ms is None or c.ts >= since_ms][:limit]


def simulator(warmup: int) -> SimExchange:
    """XBT/USD 15m with ``warmup`` candles closed: market time is the close of candle ``warmup - 1``."""
    sim = SimExchange(SimConfig(data_files=[str(BTC_15M)], warmup=warmup))
    assert sim.now_ms() == sim.candles(PAIR, TF, limit=1)[-1].ts + STEP
    return sim


async def test_history_asks_the_exchange_only_for_what_the_store_lacks(
        market_data: Path, store: CandleStore, candles: list[Candle]) -> None:
    early = CountingExchange(simulator(5200))
    window = candles[5200 - 1].ts + STEP - 500 * STEP
    history = await load_history(early, store, PAIR, TF, 500)
    assert early.candle_calls == [window] and early.trade_calls == []
    assert history == [c for c in candles[:5200] if c.ts >= window] and len(history) == 495  # the window holds a gap
    assert store.gaps("sim", PAIR, TF) == [Gap(candles[GAP_AT - 1].ts + STEP, candles[GAP_AT].ts, 5)]

    later = CountingExchange(simulator(5210))  # ten candles closed since
    history = await load_history(later, store, PAIR, TF, 500)
    assert later.candle_calls == [candles[5200].ts] and history == candles[5210 - 500:5210]
    assert await load_history(later, store, PAIR, TF, 500) == history and later.candle_calls == [candles[5200].ts]
    assert await load_history(later, store, PAIR, TF, 20) == candles[5190:5210]  # up to date: asked nothing
    assert later.candle_calls == [candles[5200].ts]


async def test_stored_candles_from_the_future_are_not_history(market_data: Path, store: CandleStore,
                                                              candles: list[Candle]) -> None:
    """A replay restarted earlier than a previous run: the store knows later candles, the market not yet."""
    store.put("sim", PAIR, TF, candles[:6000])
    exchange = CountingExchange(simulator(3000))
    assert await load_history(exchange, store, PAIR, TF, 100) == candles[2900:3000]
    assert exchange.candle_calls == []


async def test_history_beyond_the_candle_limit_is_built_from_trades_keeping_gaps(
        market_data: Path, store: CandleStore, candles: list[Candle]) -> None:
    exchange = KrakenLikeHistory(simulator(5800))  # the newest 720 start after Kraken's gap, the older part holds it
    history = await load_history(exchange, store, PAIR, TF, 1000)
    window = candles[5799].ts + STEP - 1000 * STEP
    assert len(exchange.candle_calls) == 1 and len(exchange.trade_calls) >= 2
    assert exchange.trade_calls[0] == window
    expected = [c for c in candles[:5800] if c.ts >= window]
    assert [c.ts for c in history] == [c.ts for c in expected] and len(history) == 995
    for built, real in zip(history, expected, strict=True):  # the tape's trades run open, extremes, close
        assert (built.open, built.high, built.low, built.close) == (real.open, real.high, real.low, real.close)
        assert built.volume == pytest.approx(real.volume, rel=1e-9)
    assert store.gaps("sim", PAIR, TF) == [Gap(candles[GAP_AT - 1].ts + STEP, candles[GAP_AT].ts, 5)]


async def test_public_trades_through_kraken_api_and_paper_equal_the_simulator_tape(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    public = adapter(await start(nursery, sim), opened, api_key=None, secret=None)
    since = sim.candles(PAIR, TF)[100].ts + 60_000  # between two trades of the tape
    trades = sim.public_trades(PAIR, since)
    assert len(trades) == 1000 and trades[0].ts_ms >= since
    assert await public.public_trades(PAIR, since) == trades
    assert await public.public_trades(PAIR, trades[-1].ts_ms) == sim.public_trades(PAIR, trades[-1].ts_ms)
    assert await PaperExchange(public).public_trades(PAIR, since) == trades
    assert {t.side for t in trades} == {"b", "s"}, "takers of both sides on the tape"


async def test_load_history_refuses_a_limit_below_one(store: CandleStore) -> None:
    exchange: Any = None
    with pytest.raises(ValueError, match="limit"):
        await load_history(exchange, store, PAIR, TF, 0)
