"""Candle files: gzip (or plain) CSV ``timestamp_ms,open,high,low,close,volume``, one row per candle OPEN time.

Kraken files leave out intervals without trades, so gaps are legal; anything else that is off (a bad number,
an OHLC violation, time going backwards, a timestamp off the timeframe grid) is refused with the file name,
the line number and the reason, because a silently wrong replay is worse than none.
"""

from __future__ import annotations

import gzip
import io
import math
import re
from importlib import resources
from pathlib import Path

from crypy.protocols import Candle, timeframe_ms

HEADER = "timestamp_ms,open,high,low,close,volume"
CANDLE_SUFFIXES = (".csv.gz", ".csv")

_GZIP_MAGIC = b"\x1f\x8b"
_FILE_NAME = re.compile(r"^[a-z0-9]+_(?P<symbol>[A-Z0-9]+)_(?P<timeframe>\d+[mhdw])\.csv(\.gz)?$")
_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "XBT", "BTC", "ETH")
_ASSET_NAMES = {"BTC": "XBT"}


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
        text = gzip.decompress(raw).decode("ascii") if raw.startswith(_GZIP_MAGIC) else raw.decode("ascii")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path.name}: unreadable candle file: {exc}") from None
    return _parse(text, path.name, pair, timeframe, step)


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
