"""Market rules (rounding, fees) and candle files (names, parsing, refusals with file and line)."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from crypy.protocols import MarketInfo
from crypy.simulator import DEFAULT_MARKETS, bundled_candle_files, load_candles, parse_file_name

from .conftest import MARKET_DATA

XBT = DEFAULT_MARKETS["XBT/USD"]
GOOD_ROWS = "timestamp_ms,open,high,low,close,volume\n0,10,11,9,10.5,1\n900000,10.5,12,10,11,2\n"


def test_default_markets_use_kraken_values() -> None:
    assert set(DEFAULT_MARKETS) == {"XBT/USD", "ETH/USD", "SOL/USD", "ETH/XBT"}
    assert (XBT.price_decimals, XBT.amount_decimals, XBT.cost_decimals) == (1, 8, 5)
    assert (XBT.min_amount, XBT.min_cost) == (Decimal("0.0001"), Decimal("0.5"))
    eth_xbt = DEFAULT_MARKETS["ETH/XBT"]
    assert (eth_xbt.base, eth_xbt.quote, eth_xbt.price_decimals, eth_xbt.cost_decimals) == ("ETH", "XBT", 5, 6)
    assert all((m.maker_fee, m.taker_fee) == (Decimal("0.0016"), Decimal("0.0026")) for m in DEFAULT_MARKETS.values())


def test_info_is_the_protocol_market_info() -> None:
    assert XBT.info() == MarketInfo(
        pair="XBT/USD", base="XBT", quote="USD", price_decimals=1, amount_decimals=8,
        min_amount="0.0001", min_cost="0.5", maker_fee="0.0016", taker_fee="0.0026",
    )


def test_prices_round_half_up_and_amounts_truncate() -> None:
    assert XBT.round_price(Decimal("16500.05")) == Decimal("16500.1")
    assert XBT.round_price(Decimal("16500.04999")) == Decimal("16500.0")
    assert XBT.round_amount(Decimal("0.123456789")) == Decimal("0.12345678")
    assert XBT.round_amount(Decimal("0.999999999")) == Decimal("0.99999999")


def test_fee_rounds_half_up_to_cost_decimals_and_is_never_zero() -> None:
    assert XBT.fee(Decimal("165.191"), XBT.taker_fee) == Decimal("0.42950")
    assert XBT.fee(Decimal("0.015625"), Decimal("0.0016")) == Decimal("0.00003")
    assert XBT.fee(Decimal("0.001"), XBT.taker_fee) == Decimal("0.00001")
    assert XBT.fee(Decimal(0), XBT.taker_fee) == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("kraken_BTCUSD_15m.csv.gz", ("XBT/USD", "15m")),
        ("kraken_ETHBTC_1h.csv", ("ETH/XBT", "1h")),
        ("binance_BTCUSDT_1m.csv.gz", ("XBT/USDT", "1m")),
        ("kraken_SOLUSD_15m.csv.gz", ("SOL/USD", "15m")),
    ],
)
def test_file_names_tell_pair_and_timeframe(name: str, expected: tuple[str, str]) -> None:
    assert parse_file_name(name) == expected


@pytest.mark.parametrize("name", ["candles.csv.gz", "kraken_BTCUSD.csv.gz", "kraken_BTCXYZ_15m.csv.gz"])
def test_unparseable_file_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        parse_file_name(name)


def test_real_kraken_file_loads_with_its_gaps() -> None:
    candles = load_candles(MARKET_DATA / "kraken_BTCUSD_15m.csv.gz")
    assert len(candles) == 26193
    first = candles[0]
    assert (first.pair, first.timeframe, first.ts, first.open, first.close) == ("XBT/USD", "15m", 1672531200000, 16528.7, 16514.9)
    steps = {later.ts - earlier.ts for earlier, later in zip(candles, candles[1:], strict=False)}
    assert min(steps) == 900_000 and max(steps) > 900_000


def test_bundled_files_are_the_shipped_candles() -> None:
    files = bundled_candle_files()
    assert [f.name for f in files] == ["kraken_BTCUSD_15m.csv.gz", "kraken_ETHUSD_15m.csv.gz"]
    assert load_candles(files[1])[0].pair == "ETH/USD"


def test_plain_csv_and_explicit_pair_and_timeframe(tmp_path: Path) -> None:
    path = tmp_path / "anything.csv"
    path.write_text(GOOD_ROWS)
    candles = load_candles(path, pair="ETH/XBT", timeframe="15m")
    assert [(c.pair, c.timeframe, c.ts, c.close) for c in candles] == [("ETH/XBT", "15m", 0, 10.5), ("ETH/XBT", "15m", 900000, 11.0)]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("ts,o,h,l,c,v\n0,1,1,1,1,1\n", ":1: expected header"),
        ("timestamp_ms,open,high,low,close,volume\n0,10,11,9,10\n", ":2: expected 6"),
        ("timestamp_ms,open,high,low,close,volume\n0,10,11,9,10,1\n900000,10,x,9,10,1\n", ":3: not a number"),
        ("timestamp_ms,open,high,low,close,volume\n900000,10,11,9,10,1\n0,10,11,9,10,1\n", ":3: timestamp 0 is not after"),
        ("timestamp_ms,open,high,low,close,volume\n60000,10,11,9,10,1\n", ":2: .* not on the 15m grid"),
        ("timestamp_ms,open,high,low,close,volume\n0,10,9.5,9,10,1\n", ":2: OHLC out of order"),
        ("timestamp_ms,open,high,low,close,volume\n0,-1,11,-2,10,1\n", ":2: prices must be positive"),
        ("timestamp_ms,open,high,low,close,volume\n0,nan,11,9,10,1\n", ":2: .* finite"),
        ("timestamp_ms,open,high,low,close,volume\n", ": no candle rows"),
    ],
)
def test_ill_formed_files_name_file_line_and_reason(tmp_path: Path, body: str, where: str) -> None:
    path = tmp_path / "kraken_BTCUSD_15m.csv.gz"
    path.write_bytes(gzip.compress(body.encode()))
    with pytest.raises(ValueError, match=f"kraken_BTCUSD_15m.csv.gz{where}"):
        load_candles(path)


def test_corrupt_gzip_and_missing_file_are_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "kraken_BTCUSD_15m.csv.gz"
    path.write_bytes(gzip.compress(GOOD_ROWS.encode())[:30])
    with pytest.raises(ValueError, match="kraken_BTCUSD_15m.csv.gz: unreadable"):
        load_candles(path)
    with pytest.raises(ValueError, match="unreadable"):
        load_candles(tmp_path / "kraken_ETHUSD_15m.csv")
