"""Kraken WebSocket v2 public messages: envelopes, ticker, ohlc, trade, instrument and book with its CRC32 checksum.

Pure functions and small state holders, no I/O: the server decides when to push, this module decides what the
bytes look like. Numbers go out as JSON numbers, as Kraken v2 sends them; book levels go out as fixed-point
literals with the market's full precision (``0.00100000``), because Kraken's checksum is defined over exactly
that text and a client parsing with ``parse_float=Decimal`` must be able to recompute it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from crypy.protocols import Candle, MarketInfo

from ..errors import ExchangeError
from ..market_stats import PublicTrade, TickerStats
from .formats import fixed
from .public_api import OHLC_INTERVALS

API_VERSION = "2.0.10"
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_LEVELS = 10
INVALID_INTERVAL = "EGeneral:Invalid arguments:interval"
INVALID_DEPTH = "EGeneral:Invalid arguments:depth"

_ENCODER = msgspec.json.Encoder(decimal_format="number")


def encode(message: dict[str, object]) -> str:
    """A message as WebSocket text; Decimals become JSON numbers."""
    return _ENCODER.encode(message).decode()


def rfc3339(ms: int) -> str:
    """Kraken v2's timestamp format, microseconds and a ``Z``: ``2023-10-04T16:25:00.000000Z``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> int:
    """Milliseconds since the epoch; a naive time is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def response(
    method: str, req_id: object, time_in: str, time_out: str, *, result: object = None, error: str | None = None,
) -> dict[str, object]:
    """A reply to a request: ``success`` says which of ``result`` or ``error`` it carries; ``req_id`` is echoed."""
    message: dict[str, object] = {"method": method}
    if error is None:
        message["result"] = {} if result is None else result
        message["success"] = True
    else:
        message["error"] = error
        message["success"] = False
    message["time_in"] = time_in
    message["time_out"] = time_out
    if req_id is not None:
        message["req_id"] = req_id
    return message


def status(connection_id: int) -> dict[str, object]:
    return {
        "channel": "status", "type": "update",
        "data": [{"version": API_VERSION, "system": "online", "api_version": "v2", "connection_id": connection_id}],
    }


def channel_message(channel: str, kind: str, data: object, **extra: object) -> dict[str, object]:
    return {"channel": channel, "type": kind, "data": data, **extra}


def timeframe_for(interval: object) -> str:
    """The replay timeframe for a v2 ``interval`` in minutes, or ``ExchangeError`` if Kraken has no such interval."""
    if not isinstance(interval, int) or interval not in OHLC_INTERVALS:
        raise ExchangeError(INVALID_INTERVAL, f"{interval!r} is not one of {sorted(OHLC_INTERVALS)}")
    return OHLC_INTERVALS[interval]


def ticker_item(symbol: str, stats: TickerStats) -> dict[str, object]:
    """A ticker from the exchange's 24 h statistics; ``change`` is last minus the open 24 h ago, as Kraken's."""
    change = stats.last - stats.open_24h
    opened = stats.open_24h
    change_pct = (change / opened * 100).quantize(Decimal("0.01")) if opened else Decimal(0)
    return {
        "symbol": symbol, "bid": stats.bid, "bid_qty": stats.bid_qty, "ask": stats.ask, "ask_qty": stats.ask_qty,
        "last": stats.last, "volume": stats.volume_24h, "vwap": stats.vwap_24h, "low": stats.low_24h,
        "high": stats.high_24h, "change": change, "change_pct": change_pct,
    }


def ohlc_item(symbol: str, candle: Candle, interval: int) -> dict[str, object]:
    """One closed candle. Kraken's trade count and VWAP are not in the recorded data: count 0, typical price."""
    step = interval * 60_000
    return {
        "symbol": symbol, "open": candle.open, "high": candle.high, "low": candle.low, "close": candle.close,
        "trades": 0, "volume": candle.volume, "vwap": (candle.high + candle.low + candle.close) / 3,
        "interval_begin": rfc3339(candle.ts), "interval": interval, "timestamp": rfc3339(candle.ts + step),
    }


def trade_item(symbol: str, trade: PublicTrade) -> dict[str, object]:
    """A public trade; Kraken's one-letter side and type (``b``/``s``, ``m``/``l``) are spelled out for v2."""
    side, kind = str(trade.side), str(trade.order_type)
    return {
        "symbol": symbol, "side": {"b": "buy", "s": "sell"}.get(side, side), "price": trade.price,
        "qty": trade.amount, "ord_type": {"m": "market", "l": "limit"}.get(kind, kind), "trade_id": trade.trade_id,
        "timestamp": rfc3339(trade.ts_ms),
    }


def instrument_data(
    markets: dict[str, MarketInfo], symbols: dict[str, str], assets: dict[str, str]
) -> dict[str, object]:
    """The ``instrument`` snapshot: an object of assets and pairs (not a list, unlike other channels)."""
    pairs = []
    for symbol, pair in symbols.items():
        info = markets[pair]
        pairs.append({
            "symbol": symbol, "base": assets[info.base], "quote": assets[info.quote], "status": "online",
            "qty_precision": info.amount_decimals, "qty_increment": _unit(info.amount_decimals),
            "price_precision": info.price_decimals, "price_increment": _unit(info.price_decimals),
            "tick_size": _unit(info.price_decimals), "cost_min": Decimal(info.min_cost),
            "qty_min": Decimal(info.min_amount), "marginable": False, "has_index": False,
        })
    listed = [{"id": name, "status": "enabled", "borrowable": False, "collateral_value": 0, "margin_rate": 0}
              for name in sorted(set(assets.values()))]
    return {"assets": listed, "pairs": pairs}


def level_text(value: Decimal, decimals: int) -> str:
    """A price or quantity as Kraken writes it in a book: fixed point with exactly ``decimals`` decimals."""
    return fixed(value, decimals)


def book_checksum(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> int:
    """Kraken's v2 book checksum (docs.kraken.com, "Spot Websockets (v2) Book Checksum").

    Over the top 10 asks (best, i.e. lowest, first) then the top 10 bids (highest first): each price and qty
    text loses its ``.`` and its leading zeros, everything is concatenated, and the CRC32 is taken, unsigned.
    """
    text = "".join(_digits(price) + _digits(qty) for price, qty in (*asks[:CHECKSUM_LEVELS], *bids[:CHECKSUM_LEVELS]))
    return zlib.crc32(text.encode())


@dataclass
class BookView:
    """What one subscriber's copy of a book holds, so that an update carries only the levels that changed.

    Levels are ``(price text, qty text)`` best first. After an update the subscriber holds exactly the new top
    ``depth`` levels: levels gone from it are deleted with qty 0 (including those merely pushed out of range,
    which a client truncating to its depth would drop anyway), new or changed levels are sent in full.
    """

    symbol: str
    depth: int
    asks: list[tuple[str, str]] = field(default_factory=list)
    bids: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self, asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> dict[str, object]:
        self.asks, self.bids = asks[: self.depth], bids[: self.depth]
        return {"symbol": self.symbol, "bids": _levels(self.bids), "asks": _levels(self.asks),
                "checksum": book_checksum(self.asks, self.bids)}

    def update(self, asks: list[tuple[str, str]], bids: list[tuple[str, str]], ts_ms: int) -> dict[str, object] | None:
        """The update that turns the subscriber's copy into the new book, or ``None`` if nothing changed."""
        asks, bids = asks[: self.depth], bids[: self.depth]
        ask_changes, bid_changes = _diff(self.asks, asks), _diff(self.bids, bids)
        if not ask_changes and not bid_changes:
            return None
        self.asks, self.bids = asks, bids
        return {"symbol": self.symbol, "bids": _levels(bid_changes), "asks": _levels(ask_changes),
                "checksum": book_checksum(asks, bids), "timestamp": rfc3339(ts_ms)}


def book_levels(
    levels: Iterable[tuple[Decimal, Decimal]], price_decimals: int, qty_decimals: int
) -> list[tuple[str, str]]:
    return [(level_text(price, price_decimals), level_text(qty, qty_decimals)) for price, qty in levels]


def _diff(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Deletions (qty 0) first, then inserts and changes, so a client applying them in order ends up at ``new``."""
    kept = dict(new)
    before = dict(old)
    deleted = [(price, "0") for price in before if price not in kept]
    changed = [(price, qty) for price, qty in new if before.get(price) != qty]
    return deleted + changed


def _levels(levels: list[tuple[str, str]]) -> list[dict[str, msgspec.Raw]]:
    return [{"price": msgspec.Raw(price.encode()), "qty": msgspec.Raw(qty.encode())} for price, qty in levels]


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def _unit(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)
