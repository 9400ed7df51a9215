"""Kraken's public REST methods (``/0/public/<Method>``) served from the simulated exchange.

Results are keyed by pair id, numbers are strings at the market's precision, times are unix seconds; the layout
follows Kraken's recorded responses so a client parsing real Kraken parses these unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from typing import Any

from crypy.protocols import Candle, timeframe_ms

from .catalog import Catalog
from .faults import Faults
from .formats import fixed, quote_decimals, rfc1123, rfc3339, seconds
from .naming import KrakenPair
from .params import Params, invalid

MAX_OHLC_ROWS = 720
MAX_DEPTH = 500
DEFAULT_DEPTH = 100
MAX_TRADES = 1000
OHLC_INTERVALS = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "1h", 240: "4h", 1440: "1d", 10080: "1w", 21600: "15d"}
"""Kraken's OHLC intervals in minutes, with the replay's name for each timeframe."""

_NS_SINCE = 10**12  # a Trades ``since`` above this is a nanosecond id, below it unix seconds

PublicHandler = Callable[[Params], object]


class PublicApi:
    """The public methods, by Kraken method name."""

    def __init__(self, sim: Any, catalog: Catalog, faults: Faults) -> None:
        self._sim = sim
        self._catalog = catalog
        self._faults = faults
        self.methods: dict[str, PublicHandler] = {
            "Time": self.time, "SystemStatus": self.system_status, "Assets": self.assets,
            "AssetPairs": self.asset_pairs, "Ticker": self.ticker, "OHLC": self.ohlc, "Depth": self.depth,
            "Trades": self.trades, "Spread": self.spread,
        }

    def time(self, params: Params) -> object:
        """The exchange's clock is market time: a client syncing to it sees the replayed moment."""
        now = self._sim.now_ms()
        return {"unixtime": now // 1000, "rfc1123": rfc1123(now)}

    def system_status(self, params: Params) -> object:
        return {"status": self._faults.system_status, "timestamp": rfc3339(self._sim.now_ms())}

    def assets(self, params: Params) -> object:
        wanted = params.names("asset")
        assets = [self._catalog.asset_by_name(name) for name in wanted] if wanted else self._catalog.assets()
        return {
            item.id: {"aclass": "currency", "altname": item.altname, "decimals": item.decimals,
                      "display_decimals": item.display_decimals, "status": "enabled"}
            for item in assets
        }

    def asset_pairs(self, params: Params) -> object:
        info = params.text("info", "info")
        if info not in ("info", "leverage", "fees", "margin"):
            raise invalid("info", "info, leverage, fees or margin")
        return {names.id: self._pair_info(names, info) for names in self._catalog.requested_pairs(params)}

    def ticker(self, params: Params) -> object:
        return {names.id: self._ticker(names) for names in self._catalog.requested_pairs(params)}

    def ohlc(self, params: Params) -> object:
        """Up to 720 committed candles after ``since``, then the forming one, as Kraken serves them.

        The forming candle aggregates the finest replayed candles closed in the current period; when the interval
        is itself the finest, nothing of the period is known yet and it is flat at the last close with no volume.
        """
        names = self._catalog.pair(params.required("pair"))
        interval = params.integer("interval", 1) or 1
        timeframe = OHLC_INTERVALS.get(interval)
        if timeframe is None:
            raise invalid("interval", f"one of {', '.join(map(str, OHLC_INTERVALS))}")
        since = params.integer("since")
        since_ms = since * 1000 + 1 if since is not None else None
        candles = self._sim.candles(names.crypy, timeframe, since_ms, MAX_OHLC_ROWS)
        spec = self._catalog.spec(names)
        rows = [_ohlc_row(candle, spec.price_decimals, spec.amount_decimals) for candle in candles]
        forming = self._forming_candle(names, timeframe) if len(candles) < MAX_OHLC_ROWS or since is None else None
        if forming is not None and (not candles or forming.ts > candles[-1].ts):
            rows.append(_ohlc_row(forming, spec.price_decimals, spec.amount_decimals))
        last = candles[-1].ts // 1000 if candles else (since or 0)
        return {names.id: rows, "last": str(last)}

    def depth(self, params: Params) -> object:
        names = self._catalog.pair(params.required("pair"))
        count = params.integer("count", DEFAULT_DEPTH) or DEFAULT_DEPTH
        if not 1 <= count <= MAX_DEPTH:
            raise invalid("count", f"1 to {MAX_DEPTH}")
        book = self._sim.order_book(names.crypy, count)
        spec = self._catalog.spec(names)
        ts = book.ts // 1000

        def rows(levels: list[Any]) -> list[list[object]]:
            return [[fixed(price, quote_decimals(spec)), fixed(qty, spec.amount_decimals), ts] for price, qty in levels]

        return {names.id: {"asks": rows(book.asks), "bids": rows(book.bids)}}

    def trades(self, params: Params) -> object:
        """Recent public trades after ``since`` (unix seconds, or the nanosecond ``last`` of a previous answer)."""
        names = self._catalog.pair(params.required("pair"))
        count = params.integer("count", MAX_TRADES) or MAX_TRADES
        if not 1 <= count <= MAX_TRADES:
            raise invalid("count", f"1 to {MAX_TRADES}")
        since = params.integer("since")
        since_ns = None if since is None else since if since > _NS_SINCE else since * 1_000_000_000
        since_ms = None if since_ns is None else since_ns // 1_000_000
        trades = self._sim.public_trades(names.crypy, since_ms, count)
        if since_ns is not None:
            trades = [trade for trade in trades if trade.ts_ms * 1_000_000 > since_ns]
        spec = self._catalog.spec(names)
        rows = [
            [fixed(trade.price, quote_decimals(spec)), fixed(trade.amount, spec.amount_decimals), seconds(trade.ts_ms),
             trade.side, trade.order_type, "", int(trade.trade_id)]  # the tape holds Kraken's letters already
            for trade in trades
        ]
        last_ns = trades[-1].ts_ms * 1_000_000 if trades else (since_ns or self._sim.now_ms() * 1_000_000)
        return {names.id: rows, "last": str(last_ns)}

    def spread(self, params: Params) -> object:
        """Only the current best bid and ask: the simulator keeps no history of its quotes."""
        names = self._catalog.pair(params.required("pair"))
        stats = self._sim.ticker_stats(names.crypy)
        spec = self._catalog.spec(names)
        now = self._sim.now_ms() // 1000
        row = [now, fixed(stats.bid, quote_decimals(spec)), fixed(stats.ask, quote_decimals(spec))]
        return {names.id: [row], "last": now}

    def _pair_info(self, names: KrakenPair, info: str) -> dict[str, object]:
        spec = self._catalog.spec(names)
        status = self._faults.system_status if self._faults.system_status in ("cancel_only", "post_only") else "online"
        leverage: dict[str, object] = {"leverage_buy": [], "leverage_sell": []}
        fees: dict[str, object] = {
            "fees": [[_number(volume), _number(rate)] for volume, rate in spec.taker_schedule],
            "fees_maker": [[_number(volume), _number(rate)] for volume, rate in spec.maker_schedule],
            "fee_volume_currency": "ZUSD",
        }
        margin: dict[str, object] = {"margin_call": 80, "margin_stop": 40}
        if info == "leverage":
            return leverage
        if info == "fees":
            return fees
        if info == "margin":
            return margin
        return {
            "altname": names.altname, "wsname": names.wsname, "aclass_base": "currency", "base": names.base.id,
            "aclass_quote": "currency", "quote": names.quote.id, "lot": "unit", "cost_decimals": spec.cost_decimals,
            "pair_decimals": spec.price_decimals, "lot_decimals": spec.amount_decimals, "lot_multiplier": 1,
            **leverage, **fees, **margin,
            "ordermin": str(spec.min_amount), "costmin": str(spec.min_cost),
            "tick_size": fixed(Decimal(1).scaleb(-spec.price_decimals), spec.price_decimals), "status": status,
        }

    def _ticker(self, names: KrakenPair) -> dict[str, object]:
        stats = self._sim.ticker_stats(names.crypy)
        spec = self._catalog.spec(names)
        price, lot = quote_decimals(spec), spec.amount_decimals

        def quote(value: Any, qty: Any) -> list[str]:
            whole = Decimal(str(qty)).to_integral_value(rounding=ROUND_CEILING)
            return [fixed(value, price), str(int(whole)), fixed(qty, 3)]

        return {
            "a": quote(stats.ask, stats.ask_qty),
            "b": quote(stats.bid, stats.bid_qty),
            "c": [fixed(stats.last, price), fixed(stats.last_qty, lot)],
            "v": [fixed(stats.volume_today, lot), fixed(stats.volume_24h, lot)],
            "p": [fixed(stats.vwap_today, price), fixed(stats.vwap_24h, price)],
            "t": [int(stats.trades_today), int(stats.trades_24h)],
            "l": [fixed(stats.low_today, price), fixed(stats.low_24h, price)],
            "h": [fixed(stats.high_today, price), fixed(stats.high_24h, price)],
            "o": fixed(stats.open_today, price),
        }

    def _forming_candle(self, names: KrakenPair, timeframe: str) -> Candle | None:
        now = self._sim.now_ms()
        start = now - now % timeframe_ms(timeframe)
        finest = self._sim.timeframes(names.crypy)[0]
        if timeframe_ms(finest) >= timeframe_ms(timeframe):
            last = self._sim.ticker_stats(names.crypy).last
            return Candle(ts=start, pair=names.crypy, timeframe=timeframe, open=float(last), high=float(last),
                          low=float(last), close=float(last), volume=0.0)
        parts = self._sim.candles(names.crypy, finest, start, MAX_OHLC_ROWS)
        if not parts:
            return None
        return Candle(
            ts=start, pair=names.crypy, timeframe=timeframe, open=parts[0].open, high=max(c.high for c in parts),
            low=min(c.low for c in parts), close=parts[-1].close, volume=sum(c.volume for c in parts),
        )


def _ohlc_row(candle: Candle, price_decimals: int, amount_decimals: int) -> list[object]:
    """``[time, open, high, low, close, vwap, volume, count]``; the data has no vwap or count, so the typical
    price ``(high + low + close) / 3`` stands in for the vwap and the count is 0."""
    typical = (candle.high + candle.low + candle.close) / 3
    prices = [fixed(value, price_decimals) for value in (candle.open, candle.high, candle.low, candle.close, typical)]
    return [candle.ts // 1000, *prices, fixed(candle.volume, amount_decimals), 0]


def _number(value: Decimal) -> int | float:
    """Fee tables are JSON numbers in AssetPairs (``[[0, 0.26], [50000, 0.24]]``)."""
    return int(value) if value == value.to_integral_value() else float(value)
