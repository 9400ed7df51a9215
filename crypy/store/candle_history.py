"""History for a pair, from the candle store first and from the exchange only for what the store lacks.

The exchange is asked for the candles after the newest stored one (or, with nothing stored, for the last
``limit`` intervals), page by page. When its answer does not reach back as far as asked - Kraken's OHLC serves
only its newest 720 candles, whatever ``since`` says - the part it left out is built from its public trades,
which Kraken serves from the beginning. Everything fetched is written back, so the next call asks only for what
closed since. Intervals without trades get no candle: gaps stay gaps.

Store calls run in a worker thread (``trio.to_thread``): SQLite blocks.
"""

from __future__ import annotations

from functools import partial

import trio

from crypy.exchanges.base import Exchange, PublicTrade
from crypy.protocols import Candle, timeframe_ms

from .candle_import import candles_from_trades
from .candles import CandleStore


async def load_history(exchange: Exchange, store: CandleStore, pair: str, timeframe: str,
                       limit: int) -> list[Candle]:
    """The newest ``limit`` closed candles of ``pair`` (fewer when the exchange has gaps or no older history).

    Fetches reach back ``limit`` intervals at most, so a gap inside that span leaves room for fewer candles
    unless older ones are stored already. On an exchange error nothing fetched by this call is stored.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    step = timeframe_ms(timeframe)
    now = exchange.now_ms()
    until = now - now % step  # the forming candle's open time: everything before it has closed
    stored = await trio.to_thread.run_sync(partial(store.get, exchange.name, pair, timeframe, until_ms=until, limit=1))
    start = until - limit * step
    if stored:
        start = max(start, stored[-1].ts + step)
    if start < until:
        fetched = await _fetch(exchange, pair, timeframe, start, until)
        await trio.to_thread.run_sync(store.put, exchange.name, pair, timeframe, fetched)
    return await trio.to_thread.run_sync(partial(store.get, exchange.name, pair, timeframe, until_ms=until,
                                                 limit=limit))


async def _fetch(exchange: Exchange, pair: str, timeframe: str, start: int, until: int) -> list[Candle]:
    """Closed candles opening in ``[start, until)``: pages of candles, preceded by candles built from trades
    for whatever the first page should have held but the exchange no longer serves as candles."""
    step = timeframe_ms(timeframe)
    page_size = (await exchange.capabilities()).max_candles
    found: list[Candle] = []
    since = start
    while since < until:
        page = [c for c in await exchange.candles(pair, timeframe, since_ms=since, limit=page_size) if c.ts >= since]
        found += page
        if len(page) < page_size:
            break
        since = page[-1].ts + step
    if len(found) >= page_size and found[0].ts > start:  # a full answer that starts late: history was cut off
        trades = await _trades(exchange, pair, start, found[0].ts)
        older = candles_from_trades(((t.ts_ms, float(t.price), float(t.amount)) for t in trades), pair, timeframe)
        found = older + found
    return found


async def _trades(exchange: Exchange, pair: str, start: int, end: int) -> list[PublicTrade]:
    """Every public trade in ``[start, end)``, page by page; a trade seen on two pages is kept once."""
    found: list[PublicTrade] = []
    since = start
    while True:
        page = await exchange.public_trades(pair, since)
        last = (found[-1].ts_ms, found[-1].trade_id) if found else (start, -1)
        fresh = [t for t in page if (t.ts_ms, t.trade_id) > last]
        found += [t for t in fresh if t.ts_ms < end]
        if not fresh or fresh[-1].ts_ms >= end:
            return found
        since = fresh[-1].ts_ms  # inclusive: trades sharing the last millisecond may continue on the next page
