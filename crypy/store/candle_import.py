"""Candle files into candles: Kraken's CSV exports and the shared market data format, candles or trades.

Four formats, told apart by their first line (gzip or plain text):

- crypy candles (``../shared/data/market``, ``crypy/data``): header ``timestamp_ms,open,high,low,close,volume``;
- crypy trades: header ``timestamp_ms,id,side,type,price,amount`` (Kraken's public Trades);
- Kraken's OHLCVT export (``XBTUSD_15.csv``): no header, ``seconds,open,high,low,close,volume,trades``;
- Kraken's trades export (``XBTUSD.csv``): no header, ``seconds[.fraction],price,volume``.

Trades become candles of the asked timeframe; an interval without trades gets no candle, as on Kraken. The pair
and timeframe come from the file name where it tells them, else they must be given. A file is read whole before
anything is returned, and any bad row fails it with the file and line, so a bad file stores nothing.
"""

from __future__ import annotations

import gzip
import math
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO

from crypy.protocols import Candle, timeframe_ms
from crypy.simulator.candles import HEADER as CANDLES_HEADER
from crypy.simulator.candles import candle_row_problem, parse_file_name

TRADES_HEADER = "timestamp_ms,id,side,type,price,amount"
_GZIP_MAGIC = b"\x1f\x8b"
_PAIR = re.compile(r"^[A-Z0-9]+/[A-Z0-9]+$")

Trade = tuple[int, float, float]
"""A trade as candles need it: time (ms), price, amount."""


class CandleImportError(ValueError):
    """A file that cannot be imported; the message names the file, and the line when one is at fault."""


@dataclass(frozen=True)
class CandleFile:
    """What one file holds: the series it belongs to and its candles, oldest first."""

    path: Path
    kind: str
    pair: str
    timeframe: str
    candles: list[Candle]


@dataclass(frozen=True)
class _Format:
    kind: str
    header: str | None
    fields: int
    columns: tuple[int, ...]
    """The numeric columns a row is read from, in the order the parser wants them."""
    trades: bool
    name: re.Pattern[str]
    """The file name: ``symbol`` and, for candle files, ``timeframe`` (crypy's) or ``minutes`` (Kraken's)."""


_FORMATS = (
    _Format("crypy candles", CANDLES_HEADER, 6, (0, 1, 2, 3, 4, 5), False,
            re.compile(r"^[a-z0-9]+_(?P<symbol>[A-Z0-9]+)_(?P<timeframe>\d+[mhdw])\.csv(\.gz)?$")),
    _Format("crypy trades", TRADES_HEADER, 6, (0, 4, 5), True,
            re.compile(r"^[a-z0-9]+_(?P<symbol>[A-Z0-9]+)_trades\.csv(\.gz)?$")),
    _Format("Kraken OHLCVT", None, 7, (0, 1, 2, 3, 4, 5, 6), False,
            re.compile(r"^(?P<symbol>[A-Z0-9]+)_(?P<minutes>\d+)\.csv(\.gz)?$")),
    _Format("Kraken trades", None, 3, (0, 1, 2), True, re.compile(r"^(?P<symbol>[A-Z0-9]+)\.csv(\.gz)?$")),
)


def read_candle_file(path: str | Path, pair: str | None = None, timeframe: str | None = None) -> CandleFile:
    """Every candle of one file; ``pair``/``timeframe`` override the file name (a trades file needs a timeframe)."""
    path = Path(path)
    try:
        with _open_text(path) as text:
            return _read(path, text, pair, timeframe)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise CandleImportError(f"{path}: unreadable: {exc}") from None


def candles_from_trades(trades: Iterable[Trade], pair: str, timeframe: str) -> list[Candle]:
    """Trades in time order as candles: OHLC in trade order, volume summed; no trades, no candle."""
    step = timeframe_ms(timeframe)
    candles: list[Candle] = []
    start, o, h, lo, c, volumes = -1, 0.0, 0.0, 0.0, 0.0, [0.0]

    def close() -> None:
        candles.append(Candle(ts=start, pair=pair, timeframe=timeframe, open=o, high=h, low=lo, close=c,
                              volume=math.fsum(volumes)))

    for ts, price, amount in trades:
        bucket = ts - ts % step
        if bucket == start:
            h, lo, c = max(h, price), min(lo, price), price
            volumes.append(amount)
            continue
        if bucket < start:
            raise ValueError(f"trades out of time order: {ts} after a trade at or after {start}")
        if start >= 0:
            close()
        start, o, h, lo, c, volumes = bucket, price, price, price, price, [amount]
    if start >= 0:
        close()
    return candles


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rt", encoding="ascii")
    return path.open(encoding="ascii")


def _read(path: Path, text: IO[str], pair: str | None, timeframe: str | None) -> CandleFile:
    rows = ((number, line.strip()) for number, line in enumerate(text, start=1))
    rows = ((number, line) for number, line in rows if line)
    first = next(rows, None)
    if first is None:
        raise CandleImportError(f"{path}: empty file")
    fmt = _detect(path, *first)
    pair, timeframe = _series(path, fmt, pair, timeframe)
    data = rows if fmt.header else chain([first], rows)
    if fmt.trades:
        candles = candles_from_trades(_trades(path, fmt, data), pair, timeframe)
    else:
        candles = _candles(path, fmt, data, pair, timeframe)
    if not candles:
        raise CandleImportError(f"{path}: no rows after the header")
    return CandleFile(path=path, kind=fmt.kind, pair=pair, timeframe=timeframe, candles=candles)


def _detect(path: Path, number: int, line: str) -> _Format:
    for fmt in _FORMATS:
        if fmt.header is not None and line == fmt.header:
            return fmt
    fields = line.count(",") + 1
    for fmt in _FORMATS:
        if fmt.header is None and fields == fmt.fields and not line[0].isalpha():
            return fmt
    raise CandleImportError(
        f"{path}:{number}: unknown format: expected a header {CANDLES_HEADER!r} or {TRADES_HEADER!r}, or Kraken's "
        "OHLCVT (7 columns) or trades (3 columns) export without a header")


def _series(path: Path, fmt: _Format, pair: str | None, timeframe: str | None) -> tuple[str, str]:
    """Pair and timeframe: as given, else as the file name tells."""
    match = fmt.name.match(path.name)
    if pair is None and match is not None:
        try:  # the simulator's naming (BTC is XBT), asked through a name it parses
            pair = parse_file_name(f"kraken_{match['symbol']}_1m.csv")[0]
        except ValueError:
            pass
    if timeframe is None and match is not None and not fmt.trades:
        timeframe = match["timeframe"] if "timeframe" in fmt.name.groupindex else _minutes(int(match["minutes"]))
    if pair is None:
        raise CandleImportError(f"{path}: cannot tell the pair from the file name; give it (e.g. --pair XBT/USD)")
    if timeframe is None:
        what = "a trades file has none" if fmt.trades else "cannot tell it from the file name"
        raise CandleImportError(f"{path}: which timeframe? {what}; give it (e.g. --timeframe 15m)")
    if not _PAIR.match(pair):
        raise CandleImportError(f"{path}: pair {pair!r} is not BASE/QUOTE (e.g. XBT/USD)")
    try:
        timeframe_ms(timeframe)
    except ValueError as exc:
        raise CandleImportError(f"{path}: {exc}") from None
    return pair, timeframe


def _minutes(minutes: int) -> str:
    """Kraken's interval in minutes as crypy's timeframe: ``60 -> 1h``, ``1440 -> 1d``."""
    for unit, size in (("w", 10080), ("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _numbers(path: Path, fmt: _Format, number: int, line: str) -> list[float]:
    parts = line.split(",")
    if len(parts) != fmt.fields:
        raise CandleImportError(f"{path}:{number}: expected {fmt.fields} comma-separated fields, got {len(parts)}")
    try:
        values = [float(parts[column]) for column in fmt.columns]
    except ValueError as exc:
        raise CandleImportError(f"{path}:{number}: not a number: {exc}") from None
    if not all(math.isfinite(value) for value in values):
        raise CandleImportError(f"{path}:{number}: numbers must be finite")
    return values


def _candles(path: Path, fmt: _Format, rows: Iterator[tuple[int, str]], pair: str, timeframe: str) -> list[Candle]:
    step, scale = timeframe_ms(timeframe), 1 if fmt.header else 1000
    candles: list[Candle] = []
    previous = -1
    for number, line in rows:
        values = _numbers(path, fmt, number, line)
        if values[0] != int(values[0]):
            raise CandleImportError(f"{path}:{number}: timestamp {values[0]} is not a whole number")
        ts = int(values[0]) * scale
        o, h, lo, c, v = values[1:6]
        problem = candle_row_problem(ts, previous, step, timeframe, (o, h, lo, c, v))
        if problem is not None:
            raise CandleImportError(f"{path}:{number}: {problem}")
        candles.append(Candle(ts=ts, pair=pair, timeframe=timeframe, open=o, high=h, low=lo, close=c, volume=v))
        previous = ts
    return candles


def _trades(path: Path, fmt: _Format, rows: Iterator[tuple[int, str]]) -> Iterator[Trade]:
    scale = 1 if fmt.header else 1000
    previous = -1
    for number, line in rows:
        seconds_or_ms, price, amount = _numbers(path, fmt, number, line)
        ts = round(seconds_or_ms * scale)
        if ts < previous:
            raise CandleImportError(f"{path}:{number}: trade time {ts} ms is before the previous one ({previous})")
        if price <= 0 or amount < 0:
            raise CandleImportError(f"{path}:{number}: price must be positive and amount not negative")
        yield ts, price, amount
        previous = ts
