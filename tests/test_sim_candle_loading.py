"""load_candles' numpy fast path: the very candles, and the very errors, of the line-by-line parser it skips."""

from __future__ import annotations

import gc
import gzip
import random
import re
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from crypy.protocols import Candle, timeframe_ms
from crypy.simulator.candles import HEADER, _checked_columns, _parse, load_candles, parse_file_name

NAME = "kraken_BTCUSD_1m.csv"
GOOD = f"{HEADER}\n60000,10.5,12,9.25,11,3\n120000,11,11.5,10,10.5,0\n180000,10.5,10.5,10.5,10.5,1e-3\n"


def line_by_line(path: Path) -> list[Candle]:
    """The reference: what load_candles gave before it had a fast path."""
    raw = path.read_bytes()
    data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: unreadable candle file: {exc}") from None
    pair, timeframe = parse_file_name(path.name)
    return _parse(text, path.name, pair, timeframe, timeframe_ms(timeframe))


def outcome(path: Path, load: Callable[[Path], list[Candle]]) -> tuple[str, bytes | str]:
    """The candles to the bit (msgpack keeps every float exactly, and ints apart from floats), or the error."""
    try:
        return "candles", msgspec.msgpack.encode(load(path))
    except Exception as exc:  # any difference in what is raised is what we look for
        return type(exc).__name__, str(exc)


def takes_fast_path(path: Path) -> bool:
    raw = path.read_bytes()
    data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    return _checked_columns(data, timeframe_ms(parse_file_name(path.name)[1])) is not None


@pytest.mark.parametrize("name", ["kraken_BTCUSD_5m.csv.gz", "binance_BTCUSDT_1m.csv.gz"])
def test_real_files_take_the_fast_path_to_the_same_candles(market_data: Path, name: str) -> None:
    path = market_data / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    assert takes_fast_path(path)
    candles = load_candles(path)
    assert outcome(path, load_candles) == outcome(path, line_by_line)
    assert type(candles[0].ts) is int and type(candles[0].open) is float and type(candles[-1].volume) is float


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ("60000,10,11,9,10,1\n120000,10,x,9,10,1\n", ":3: not a number"),
        ("60000,10,11,9,10,1\n120000,10,,9,10,1\n", ":3: not a number"),
        ("60000.0,10,11,9,10,1\n", ":2: not a number"),
        ("60000,10,11,9,10,1\n120000,10,11,9,10\n", ":3: expected 6 comma-separated fields, got 5"),
        ("60000,10,11,9,10,1,7\n", ":2: expected 6 comma-separated fields, got 7"),
        ("120000,10,11,9,10,1\n60000,10,11,9,10,1\n", ":3: timestamp 60000 is not after"),
        ("60000,10,11,9,10,1\n60000,10,11,9,10,1\n", ":3: timestamp 60000 is not after"),
        ("60000,10,11,9,10,1\n90000,10,11,9,10,1\n", ":3: timestamp 90000 is not on the 1m grid"),
        ("60000,10,11,9,10,1\n120000,10,8,9,10,1\n", ":3: OHLC out of order"),
        ("60000,10,11,9,12,1\n", ":2: OHLC out of order"),
        ("60000,10,11,0,10,1\n", ":2: prices must be positive"),
        ("60000,10,11,9,10,-1e-9\n", ":2: prices must be positive and volume not negative"),
        ("60000,10,1e400,9,10,1\n", ":2: prices and volume must be finite"),
        ("60000,10,11,9,10,nan\n", ":2: prices and volume must be finite"),
        ("-60000,10,11,9,10,1\n", ":2: timestamp -60000 is not after"),
        ("99999999999999999999,10,11,9,10,1\n", ":2: timestamp 99999999999999999999 is not on the 1m grid"),
        ("\n\n", ": no candle rows"),
        ("", ": no candle rows"),
        ("60000,10,11,9,10,\xe91\n", ": unreadable candle file"),
    ],
)
def test_errors_are_the_line_by_line_errors(tmp_path: Path, rows: str, where: str) -> None:
    for path in (tmp_path / NAME, tmp_path / f"{NAME}.gz"):
        data = f"{HEADER}\n{rows}".encode("latin-1")
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        with pytest.raises(ValueError, match=f"^{re.escape(path.name + where)}"):
            load_candles(path)
        assert outcome(path, load_candles) == outcome(path, line_by_line)


def test_a_wrong_header_is_the_line_by_line_error(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_text(GOOD.replace("volume", "vol"))
    with pytest.raises(ValueError, match=":1: expected header"):
        load_candles(path)
    assert outcome(path, load_candles) == outcome(path, line_by_line)


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        (GOOD, True),
        (GOOD.replace("\n", "\r\n"), True),
        (GOOD.rstrip("\n"), True),
        (GOOD.split("\n120000")[0], True),  # one row
        (GOOD.replace("\n120000", "\n\n\n120000") + "\n\n", True),  # blank lines are skipped either way
        (GOOD.replace(",1", ", 1"), False),  # int() and float() take spaces around a number
        (GOOD.replace("11.5", "11.5\r"), False),  # a lone CR is one of them, no line end
        (GOOD.replace("1e-3", "1_0"), False),  # and underscores
        (GOOD.replace("\n120000", "\n  \n120000"), False),
        (f"  {GOOD}", False),
    ],
)
def test_fast_and_line_by_line_files_both_load(tmp_path: Path, text: str, fast: bool) -> None:
    path = tmp_path / NAME
    path.write_bytes(text.encode())
    assert takes_fast_path(path) is fast
    assert load_candles(path)
    assert outcome(path, load_candles) == outcome(path, line_by_line)


def test_random_edits_load_or_fail_as_line_by_line(tmp_path: Path) -> None:
    """Tokens of number bytes and a few others in any field, and bytes inserted, dropped or replaced anywhere."""
    rng = random.Random(20240601)
    numeric, other = "0123456789.eE+-", " _naifNI\t\r\n,x"
    lines = GOOD.splitlines()
    path = tmp_path / NAME
    fast = loaded = 0
    for _ in range(1500):
        if rng.random() < 0.6:
            row, column = rng.randrange(1, len(lines)), rng.randrange(6)
            fields = lines[row].split(",")
            token = "".join(rng.choice(numeric if rng.random() < 0.9 else other) for _ in range(rng.randrange(6)))
            fields[column] = rng.choice([token, fields[column] + token, token + fields[column]])
            text = "\n".join([*lines[:row], ",".join(fields), *lines[row + 1:]]) + rng.choice(["\n", "", "\r\n"])
        else:
            chars = list(rng.choice(["\n", "\r\n"]).join(lines))
            for _ in range(rng.randrange(1, 3)):
                at, char, edit = rng.randrange(len(chars)), rng.choice(numeric + other), rng.choice("ids")
                if edit == "i":
                    chars.insert(at, char)
                elif edit == "d":
                    del chars[at]
                else:
                    chars[at] = char
            text = "".join(chars)
        path.write_bytes(text.encode())
        expected = outcome(path, line_by_line)
        assert outcome(path, load_candles) == expected, text
        fast += takes_fast_path(path)
        loaded += expected[0] == "candles"
    assert fast > 100 and loaded > fast  # both paths well exercised


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_it_was(tmp_path: Path, enabled: bool) -> None:
    path = tmp_path / NAME
    path.write_text(GOOD)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        load_candles(path)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
