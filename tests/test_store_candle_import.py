"""Candle files into candles: the shared market data, and Kraken's CSV exports written from real rows of it."""

from __future__ import annotations

import gzip
import math
from collections import defaultdict
from pathlib import Path

import pytest

from crypy.protocols import Candle, timeframe_ms
from crypy.simulator import load_candles
from crypy.store.candle_import import CandleImportError, candles_from_trades, read_candle_file

from .conftest import MARKET_DATA

BTC_15M = MARKET_DATA / "kraken_BTCUSD_15m.csv.gz"
BTC_TRADES = MARKET_DATA / "kraken_BTCUSDT_trades.csv.gz"


def shared_rows(path: Path) -> list[list[str]]:
    """A shared market file's rows as text, without its header."""
    with gzip.open(path, "rt") as text:
        return [line.strip().split(",") for line in text][1:]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_shared_candles_read_as_the_simulator_reads_them(market_data: Path) -> None:
    read = read_candle_file(BTC_15M)
    assert (read.kind, read.pair, read.timeframe) == ("crypy candles", "XBT/USD", "15m")
    assert read.candles == load_candles(BTC_15M) and len(read.candles) == 26_193
    eth = read_candle_file(MARKET_DATA / "kraken_ETHUSD_5m.csv.gz")
    assert (eth.pair, eth.timeframe, len(eth.candles)) == ("ETH/USD", "5m", 26_444)


@pytest.mark.parametrize(("timeframe", "gaps"), [("1m", True), ("15m", False)])
def test_shared_trades_aggregate_to_candles_computed_by_hand(market_data: Path, timeframe: str, gaps: bool) -> None:
    rows = shared_rows(BTC_TRADES)
    step = timeframe_ms(timeframe)
    buckets: dict[int, list[list[str]]] = defaultdict(list)
    for row in rows:
        buckets[int(row[0]) - int(row[0]) % step].append(row)
    read = read_candle_file(BTC_TRADES, timeframe=timeframe)
    assert (read.kind, read.pair, read.timeframe) == ("crypy trades", "XBT/USDT", timeframe)
    assert [c.ts for c in read.candles] == sorted(buckets)  # a candle exactly where trades are: gaps stay gaps
    assert (len(read.candles) < (read.candles[-1].ts - read.candles[0].ts) // step + 1) == gaps  # quiet minutes
    busiest = max(read.candles, key=lambda c: len(buckets[c.ts]))
    trades = buckets[busiest.ts]
    prices = [float(row[4]) for row in trades]
    assert len(trades) > 20
    assert (busiest.open, busiest.high, busiest.low, busiest.close) == (prices[0], max(prices), min(prices), prices[-1])
    assert busiest.volume == pytest.approx(math.fsum(float(row[5]) for row in trades), rel=1e-12)
    assert sum(len(buckets[c.ts]) for c in read.candles) == len(rows) == 26_921


def test_kraken_ohlcvt_export_reads_as_the_same_candles(market_data: Path, tmp_path: Path) -> None:
    rows = shared_rows(BTC_15M)[:500]
    lines = [f"{int(r[0]) // 1000},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]},{7 + i % 5}" for i, r in enumerate(rows)]
    read = read_candle_file(write(tmp_path / "XBTUSD_15.csv", lines))
    assert (read.kind, read.pair, read.timeframe) == ("Kraken OHLCVT", "XBT/USD", "15m")
    assert read.candles == load_candles(BTC_15M)[:500]
    hourly = read_candle_file(write(tmp_path / "ETHXBT_60.csv", lines[::4]), pair="ETH/XBT")
    assert (hourly.pair, hourly.timeframe, len(hourly.candles)) == ("ETH/XBT", "1h", 125)
    day = write(tmp_path / "ETHXBT_1440.csv", [lines[0]])
    assert read_candle_file(day).timeframe == "1d"


def test_kraken_trades_export_aggregates_like_the_shared_trades(market_data: Path, tmp_path: Path) -> None:
    rows = shared_rows(BTC_TRADES)[:3000]
    lines = [f"{int(r[0]) // 1000}.{int(r[0]) % 1000:03d}0,{r[4]},{r[5]}" for r in rows]  # Kraken's 4 decimals
    gzipped = tmp_path / "XBTUSDT.csv.gz"
    gzipped.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode()))
    read = read_candle_file(gzipped, timeframe="5m")
    assert (read.kind, read.pair, read.timeframe) == ("Kraken trades", "XBT/USDT", "5m")
    by_hand = candles_from_trades([(int(r[0]), float(r[4]), float(r[5])) for r in rows], "XBT/USDT", "5m")
    assert read.candles == by_hand and len(by_hand) > 10


def test_explicit_pair_and_timeframe_win_over_the_name(market_data: Path, tmp_path: Path) -> None:
    lines = [",".join(row) for row in shared_rows(BTC_15M)[:8]]
    named = write(tmp_path / "whatever.csv", ["timestamp_ms,open,high,low,close,volume", *lines])
    read = read_candle_file(named, pair="XBT/EUR", timeframe="15m")
    assert (read.pair, read.timeframe, len(read.candles)) == ("XBT/EUR", "15m", 8)
    with pytest.raises(CandleImportError, match=r"whatever\.csv: cannot tell the pair"):
        read_candle_file(named)
    with pytest.raises(CandleImportError, match="which timeframe"):
        read_candle_file(named, pair="XBT/EUR")
    with pytest.raises(CandleImportError, match="which timeframe.*trades file"):
        read_candle_file(BTC_TRADES)
    with pytest.raises(CandleImportError, match="not BASE/QUOTE"):
        read_candle_file(named, pair="XBTEUR", timeframe="15m")
    with pytest.raises(CandleImportError, match="unknown timeframe"):
        read_candle_file(named, pair="XBT/EUR", timeframe="15x")


GOOD = "1672531200,16528.7,16530,16511,16514.9,10.30276815,43"
NEXT = "1672532100,16514.9,16529,16511.9,16528.9,32.96155707,88"


@pytest.mark.parametrize(("lines", "error"), [
    ([GOOD, "1672532100,16514.9,16529,16511.9,16528.9,32.96155707"], r":2: expected 7 comma-separated fields, got 6"),
    ([GOOD, NEXT.replace("16529", "abc")], r":2: not a number"),
    ([GOOD, NEXT.replace("16529", "nan")], r":2: numbers must be finite"),
    ([GOOD, "1672532100,16514.9,16500,16511.9,16514.9,3,8"], r":2: OHLC out of order"),
    ([NEXT, GOOD], r":2: timestamp 1672531200000 is not after"),
    ([GOOD, GOOD], r":2: timestamp .* is not after"),
    ([GOOD, NEXT.replace("1672532100", "1672532160")], r":2: .* not on the 15m grid"),
    ([GOOD, NEXT.replace("16514.9", "-1")], r":2: prices must be positive"),
    (["time,open,high,low,close,volume,count", GOOD], r":1: unknown format"),
    (["1672531200,1,2"], r": cannot tell the pair"),  # three columns: Kraken trades, whose files are named XBTUSD.csv
    ([], r": empty file"),
])
def test_bad_candle_files_name_file_and_line(tmp_path: Path, lines: list[str], error: str) -> None:
    path = write(tmp_path / "XBTUSD_15.csv", lines)
    with pytest.raises(CandleImportError, match=rf"XBTUSD_15\.csv{error}"):
        read_candle_file(path)


@pytest.mark.parametrize(("lines", "error"), [
    (["1700179206.6,36160.9,0.1", "1700179205.1,36160.9,0.1"], r":2: trade time .* is before the previous one"),
    (["1700179206.6,36160.9,0.1", "1700179207,0,0.1"], r":2: price must be positive"),
    (["1700179206.6,36160.9,0.1", "1700179207,36160.9"], r":2: expected 3 comma-separated fields, got 2"),
])
def test_bad_trades_files_name_file_and_line(tmp_path: Path, lines: list[str], error: str) -> None:
    with pytest.raises(CandleImportError, match=rf"XBTUSD\.csv{error}"):
        read_candle_file(write(tmp_path / "XBTUSD.csv", lines), timeframe="1m")


def test_unreadable_files_are_refused(tmp_path: Path, market_data: Path) -> None:
    truncated = tmp_path / "kraken_BTCUSD_15m.csv.gz"
    truncated.write_bytes(BTC_15M.read_bytes()[:5000])
    with pytest.raises(CandleImportError, match=r"kraken_BTCUSD_15m\.csv\.gz: unreadable"):
        read_candle_file(truncated)
    latin = tmp_path / "XBTUSD_15.csv"
    latin.write_bytes(b"1672531200,16528.7,16530,16511,16514.9,10.3,\xe9\n")
    with pytest.raises(CandleImportError, match="unreadable"):
        read_candle_file(latin)
    with pytest.raises(CandleImportError, match="unreadable"):
        read_candle_file(tmp_path / "missing_15.csv")


def test_candles_from_trades_keeps_empty_intervals_empty() -> None:
    minute = 60_000
    trades = [(0, 10.0, 1.0), (30_000, 12.0, 2.0), (59_999, 9.0, 0.5), (3 * minute + 1, 11.0, 1.0)]
    assert candles_from_trades(trades, "XBT/USD", "1m") == [
        Candle(ts=0, pair="XBT/USD", timeframe="1m", open=10.0, high=12.0, low=9.0, close=9.0, volume=3.5),
        Candle(ts=3 * minute, pair="XBT/USD", timeframe="1m", open=11.0, high=11.0, low=11.0, close=11.0, volume=1.0),
    ]
    assert candles_from_trades([], "XBT/USD", "1m") == []
    with pytest.raises(ValueError, match="out of time order"):
        candles_from_trades([(minute, 1.0, 1.0), (0, 1.0, 1.0)], "XBT/USD", "1m")
