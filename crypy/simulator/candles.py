"""Candle files: gzip (or plain) CSV ``timestamp_ms,open,high,low,close,volume``, one row per candle OPEN time.

Kraken files leave out intervals without trades, so gaps are legal; anything else that is off (a bad number,
an OHLC violation, time going backwards, a timestamp off the timeframe grid) is refused with the file name,
the line number and the reason, because a silently wrong replay is worse than none.
"""

from __future__ import annotations

import gc
import gzip
import io
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import numpy as np

from crypy.protocols import Candle, timeframe_ms

HEADER = "timestamp_ms,open,high,low,close,volume"
CANDLE_SUFFIXES = (".csv.gz", ".csv")

_GZIP_MAGIC = b"\x1f\x8b"
_FILE_NAME = re.compile(r"^[a-z0-9]+_(?P<symbol>[A-Z0-9]+)_(?P<timeframe>\d+[mhdw])\.csv(\.gz)?$")
_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "XBT", "BTC", "ETH")
_ASSET_NAMES = {"BTC": "XBT"}

# The fast path parses whole columns with numpy (whose float parsing is Python's own, correctly rounded), but only
# in files made of these bytes: no whitespace, underscores, letters (nan, inf) or non-ASCII, where numpy and
# int()/float() could read a field differently. Such files are left to the line-by-line parser.
_COLUMN_BYTES = b"0123456789.,\neE+-"
_HEAD = HEADER.encode() + b"\n"
_HEAD_REST = _HEAD.translate(None, _COLUMN_BYTES)
_COLUMNS = np.dtype([("ts", np.int64), ("open", np.float64), ("high", np.float64), ("low", np.float64),
                     ("close", np.float64), ("volume", np.float64)])
_BUILD_ROWS = 1 << 16


def candle_row_problem(ts: int, previous: int, step: int, timeframe: str,
                       ohlcv: tuple[float, float, float, float, float]) -> str | None:
    """What is wrong with one candle row (time in ms after ``previous``, on the grid, sane OHLCV), or None."""
    o, h, lo, c, v = ohlcv
    if ts <= previous:
        return f"timestamp {ts} is not after the previous one ({previous})"
    if ts % step:
        return f"timestamp {ts} is not on the {timeframe} grid"
    if min(o, h, lo, c) <= 0 or v < 0:
        return "prices must be positive and volume not negative"
    if not lo <= min(o, c) <= max(o, c) <= h:
        return "OHLC out of order (need low <= open, close <= high)"
    return None


def parse_file_name(name: str) -> tuple[str, str]:
    """``kraken_BTCUSD_15m.csv.gz -> ("XBT/USD", "15m")``: crypy names assets as Kraken does (BTC is XBT)."""
    match = _FILE_NAME.match(name)
    if match is None:
        raise ValueError(f"{name}: cannot tell pair and timeframe from the name "
                         "(expected e.g. kraken_BTCUSD_15m.csv.gz)")
    symbol = match["symbol"]
    quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), None)
    if quote is None:
        raise ValueError(f"{name}: unknown quote currency in {symbol!r} (known: {', '.join(_QUOTES)})")
    base = symbol[: -len(quote)]
    return f"{_ASSET_NAMES.get(base, base)}/{_ASSET_NAMES.get(quote, quote)}", match["timeframe"]


def load_candles(path: Path | str, pair: str | None = None, timeframe: str | None = None) -> list[Candle]:
    """Every candle of one file, in time order. ``pair``/``timeframe`` default to what the file name says."""
    path = Path(path)
    if pair is None or timeframe is None:
        named_pair, named_timeframe = parse_file_name(path.name)
        pair = pair or named_pair
        timeframe = timeframe or named_timeframe
    step = timeframe_ms(timeframe)
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw.startswith(_GZIP_MAGIC) else raw
    except (OSError, EOFError) as exc:
        raise _unreadable(path.name, exc) from None
    columns = _checked_columns(data, step)
    if columns is None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _unreadable(path.name, exc) from None
        del raw, data  # the text is all the line-by-line parser needs
        return _parse(text, path.name, pair, timeframe, step)
    del raw, data  # not needed for building the candles, and as big as the file
    return _candles(columns, pair, timeframe)


def _unreadable(name: str, exc: Exception) -> ValueError:
    return ValueError(f"{name}: unreadable candle file: {exc}")


def _checked_columns(data: bytes, step: int) -> list[np.ndarray] | None:
    """The columns of a plain, valid candle file parsed at once, or None to leave the file to ``_parse``.

    Taken only when the header is exact, lines are LF or CRLF of ``_COLUMN_BYTES`` alone, numpy parses every
    field and every check of ``_fields`` and ``candle_row_problem`` passes on every row. Anything else, wrong
    or merely unusual, goes through ``_parse``: it alone decides what to accept and words every error.
    """
    if not 0 < step < 2**63:  # e.g. "0m": leave the ZeroDivisionError to _parse
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    # Past the header, whose letters are the only others allowed, nothing may be left but _COLUMN_BYTES.
    if not data.startswith(_HEAD) or data.translate(None, _COLUMN_BYTES) != _HEAD_REST:
        return None
    try:
        with warnings.catch_warnings():
            # e.g. "input contained no data", or the "1.0"-as-int parsing older numpy only deprecates
            warnings.simplefilter("error")
            rows = np.loadtxt(io.TextIOWrapper(io.BytesIO(data), encoding="ascii"), dtype=_COLUMNS,
                              delimiter=",", comments=None, skiprows=1, ndmin=1)
    except (ValueError, Warning):
        return None
    ts, o, h, lo, c, v = columns = [np.ascontiguousarray(rows[name]) for name in _COLUMNS.names]
    valid = (
        len(ts) > 0 and ts[0] > -1 and (ts[1:] > ts[:-1]).all() and not (ts % step).any()
        and all(np.isfinite(column).all() for column in (o, h, lo, c, v))
        and (np.minimum(np.minimum(o, h), np.minimum(lo, c)) > 0).all() and (v >= 0).all()
        and (lo <= np.minimum(o, c)).all() and (np.maximum(o, c) <= h).all()
    )
    return columns if valid else None


def _candles(columns: list[np.ndarray], pair: str, timeframe: str) -> list[Candle]:
    """Candles from checked columns, as Python ints and floats, a slice at a time to keep the lists small."""
    candles: list[Candle] = []
    with _gc_paused():
        for start in range(0, len(columns[0]), _BUILD_ROWS):
            values = [column[start:start + _BUILD_ROWS].tolist() for column in columns]
            candles += [Candle(ts=ts, pair=pair, timeframe=timeframe, open=o, high=h, low=lo, close=c, volume=v)
                        for ts, o, h, lo, c, v in zip(*values, strict=True)]
    return candles


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection while objects that cannot form cycles are made: a million of them would set off
    over a thousand collections that free nothing and take a third of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse(text: str, name: str, pair: str, timeframe: str, step: int) -> list[Candle]:
    lines = io.StringIO(text)
    header = lines.readline().strip()
    if header != HEADER:
        raise ValueError(f"{name}:1: expected header {HEADER!r}, got {header!r}")
    candles: list[Candle] = []
    previous = -1
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        ts, o, h, lo, c, v = _fields(line, name, number)
        problem = candle_row_problem(ts, previous, step, timeframe, (o, h, lo, c, v))
        if problem is not None:
            raise ValueError(f"{name}:{number}: {problem}")
        candles.append(Candle(ts=ts, pair=pair, timeframe=timeframe, open=o, high=h, low=lo, close=c, volume=v))
        previous = ts
    if not candles:
        raise ValueError(f"{name}: no candle rows after the header")
    return candles


def _fields(line: str, name: str, number: int) -> tuple[int, float, float, float, float, float]:
    parts = line.strip().split(",")
    if len(parts) != 6:
        raise ValueError(f"{name}:{number}: expected 6 comma-separated fields, got {len(parts)}")
    try:
        ts = int(parts[0])
        o, h, lo, c, v = (float(part) for part in parts[1:])
    except ValueError as exc:
        raise ValueError(f"{name}:{number}: not a number: {exc}") from None
    if not all(math.isfinite(x) for x in (o, h, lo, c, v)):
        raise ValueError(f"{name}:{number}: prices and volume must be finite")
    return ts, o, h, lo, c, v


def bundled_candle_files() -> list[Path]:
    """The candle files shipped in ``crypy/data`` (the simulator's default market), sorted by name.

    crypy is installed as plain files, never zipped, so every resource is a real path.
    """
    root = resources.files("crypy.data")
    return sorted(Path(str(entry)) for entry in root.iterdir() if entry.name.endswith(CANDLE_SUFFIXES))
