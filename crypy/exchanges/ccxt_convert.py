"""Kraken's REST answers (as ccxt returns them raw) to crypy types, and crypy requests to Kraken's parameters.

Money comes from Kraken's own strings, never from ccxt's floats. crypy names an asset by its Kraken altname
(``XBT``) and a pair ``XBT/USD`` (Kraken's v1 ``wsname``); ccxt and WebSocket v2 say ``BTC/USD``; REST results
are keyed by the pair id (``XXBTZUSD``) and orders describe their pair by altname (``XBTUSD``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from crypy.protocols import Balance, Candle, Fill, MarketInfo, Order, OrderStatus, OrderType, Side, TimeInForce
from crypy.simulator.market_stats import PublicTrade

OHLC_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080, "15d": 21600}
"""Kraken's OHLC intervals in minutes, by crypy timeframe (ccxt calls the last one ``2w``; it is 15 days)."""

_CLIENT_ID_TEXT = re.compile(r"^[A-Za-z0-9_.:-]{1,18}$")
_CLIENT_ID_NAMESPACE = uuid.UUID("6f1c5c9e-3c1a-4b8e-9d55-2f4c0a7e1b3d")


def kraken_client_id(client_id: str) -> str:
    """A Kraken-valid ``cl_ord_id`` for a crypy client id: itself when short enough, else a UUID derived from it.

    Deterministic, so a retry (or a restarted desk that journaled the client id) finds the same order.
    """
    if _CLIENT_ID_TEXT.match(client_id):
        return client_id
    try:
        return str(uuid.UUID(client_id))
    except ValueError:
        return str(uuid.uuid5(_CLIENT_ID_NAMESPACE, client_id))


def to_ms(seconds: object) -> int:
    """Kraken's unix seconds (int, float or string) as integer milliseconds, without float rounding."""
    return int((Decimal(str(seconds)) * 1000).to_integral_value(ROUND_HALF_UP))


def plain(value: Decimal) -> str:
    """A Decimal as Kraken wants it: no exponent (``1E-8`` would be refused)."""
    return f"{value:f}"


def _decimal(raw: Mapping[str, Any], key: str) -> Decimal:
    value = raw.get(key)
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


@dataclass
class KrakenNames:
    """Every spelling of the account's pairs and assets, learnt from ccxt's loaded markets and currencies."""

    by_crypy: dict[str, dict[str, Any]] = field(default_factory=dict)  # crypy pair -> ccxt market
    pairs: dict[str, str] = field(default_factory=dict)  # id, altname, ccxt/v2 symbol, wsname -> crypy pair
    assets: dict[str, str] = field(default_factory=dict)  # asset id, altname, ccxt code -> crypy asset

    @classmethod
    def from_ccxt(cls, markets: Mapping[str, dict[str, Any]], currencies: Mapping[str, dict[str, Any]]) -> KrakenNames:
        names = cls()
        for code, currency in currencies.items():
            crypy = str((currency.get("info") or {}).get("altname") or currency.get("id") or code)
            for spelling in (code, currency.get("id"), crypy):
                if spelling:
                    names.assets[str(spelling)] = crypy
        for market in markets.values():
            if not market.get("spot"):
                continue
            info = market.get("info") or {}
            base = names.assets.get(market["baseId"], market["base"])
            quote = names.assets.get(market["quoteId"], market["quote"])
            crypy = info.get("wsname") or f"{base}/{quote}"
            names.by_crypy[crypy] = market
            for spelling in (market["id"], info.get("altname"), market["symbol"], crypy):
                if spelling:
                    names.pairs[spelling] = crypy
        return names

    def market(self, pair: str) -> dict[str, Any]:
        try:
            return self.by_crypy[pair]
        except KeyError:
            raise KeyError(f"unknown pair {pair!r}") from None

    def pair(self, kraken_name: str) -> str:
        return self.pairs.get(kraken_name, kraken_name)

    def asset(self, kraken_name: str) -> str:
        return self.assets.get(kraken_name, kraken_name)

    def quote(self, pair: str) -> str:
        return pair.partition("/")[2]


def market_info(pair: str, market: Mapping[str, Any]) -> MarketInfo:
    """A pair's rules from its raw AssetPairs entry: decimals, minimums and the lowest-tier fees."""
    info = market["info"]
    base, _, quote = pair.partition("/")
    return MarketInfo(
        pair=pair, base=base, quote=quote,
        price_decimals=int(info["pair_decimals"]), amount_decimals=int(info["lot_decimals"]),
        min_amount=str(Decimal(str(info.get("ordermin") or 0))), min_cost=str(Decimal(str(info.get("costmin") or 0))),
        maker_fee=str(_fee(info.get("fees_maker") or info.get("fees"))), taker_fee=str(_fee(info.get("fees"))),
    )


def _fee(tiers: list[list[Any]] | None) -> Decimal:
    """Kraken's fee tiers are percents; the first tier is an account without volume."""
    return Decimal(str(tiers[0][1])) / 100 if tiers else Decimal(0)


def rounded_amount(amount: Decimal, decimals: int) -> Decimal:
    """Truncated to the lot grid, as Kraken and ccxt do, so an order never exceeds what was asked."""
    return amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)


def rounded_price(price: Decimal, decimals: int) -> Decimal:
    return price.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def candles(rows: list[list[Any]], last: object, pair: str, timeframe: str) -> list[Candle]:
    """OHLC rows that are committed: Kraken's ``last`` is the open time of the newest closed candle, and any row
    after it is the candle still forming."""
    newest = to_ms(last) if last not in (None, "") else None
    return [
        Candle(ts=to_ms(row[0]), pair=pair, timeframe=timeframe, open=float(row[1]), high=float(row[2]),
               low=float(row[3]), close=float(row[4]), volume=float(row[6]))
        for row in rows
        if newest is None or to_ms(row[0]) <= newest
    ]


def trades_since(since_ms: int) -> str:
    """Trades' ``since`` for trades at or after ``since_ms``: Kraken's is exclusive, and nanoseconds keep it exact."""
    return str(since_ms * 1_000_000 - 1)


def public_trades(result: Mapping[str, Any], pair_id: str) -> list[PublicTrade]:
    """Trades rows ``[price, volume, time, side, type, misc, trade_id]``, with amounts from Kraken's strings."""
    rows = result.get(pair_id) or next((v for k, v in result.items() if k != "last"), [])
    return [PublicTrade(ts_ms=to_ms(row[2]), price=Decimal(str(row[0])), amount=Decimal(str(row[1])),
                        side=str(row[3]), order_type=str(row[4]), trade_id=int(row[6]) if len(row) > 6 else 0)
            for row in rows]


def balances(raw: Mapping[str, Mapping[str, Any]], names: KrakenNames) -> dict[str, Balance]:
    """BalanceEx: ``balance`` is the total, ``hold_trade`` what open orders reserve."""
    result: dict[str, Balance] = {}
    for asset_id, entry in raw.items():
        asset = names.asset(asset_id)
        result[asset] = Balance(asset=asset, total=_decimal(entry, "balance"), held=_decimal(entry, "hold_trade"))
    return result


_STATUS = {"pending": OrderStatus.PENDING, "open": OrderStatus.OPEN, "closed": OrderStatus.FILLED,
           "canceled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED}


def order(txid: str, raw: Mapping[str, Any], names: KrakenNames, client_ids: Mapping[str, str]) -> Order:
    """One Kraken order object. ``client_ids`` maps the ``cl_ord_id`` crypy sent back to crypy's client id."""
    descr = raw.get("descr") or {}
    order_type = OrderType(descr["ordertype"])
    amount, filled = _decimal(raw, "vol"), _decimal(raw, "vol_exec")
    status = _STATUS.get(str(raw.get("status")), OrderStatus.OPEN)  # a status Kraken may add: still live
    if status is OrderStatus.OPEN and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    elif raw.get("status") == "closed" and filled < amount:
        status = OrderStatus.CANCELLED
    first, second = _decimal(descr, "price"), _decimal(descr, "price2")
    limit = trigger = trailing = None
    trailing_percent = False
    if order_type is OrderType.TRAILING_STOP:
        text = str(descr.get("price", ""))
        trailing, trailing_percent = Decimal(text.strip("+-#%") or 0), text.endswith("%")
    elif order_type.is_triggered:
        trigger, limit = first, (second if order_type.has_limit_price else None)
    elif order_type is OrderType.LIMIT:
        limit = first
    created = to_ms(raw.get("opentm") or 0)
    closed = to_ms(raw.get("closetm") or 0)
    expire = to_ms(raw.get("expiretm") or 0)
    cl_ord_id = str(raw.get("cl_ord_id") or "")
    return Order(
        ts=closed or created, id=txid, client_id=client_ids.get(cl_ord_id, cl_ord_id), pair=names.pair(descr["pair"]),
        side=Side(descr["type"]), order_type=order_type, amount=amount, price=limit, status=status, filled=filled,
        avg_price=_decimal(raw, "price") if filled > 0 else None, fee=_decimal(raw, "fee"), created=created,
        closed=closed, reason=str(raw.get("reason") or ""), trigger_price=trigger, trailing_offset=trailing,
        trailing_percent=trailing_percent, post_only="post" in str(raw.get("oflags", "")).split(","),
        time_in_force=TimeInForce.GTD if expire else TimeInForce.GTC, expire_ts=expire,
        userref=int(raw.get("userref") or 0),
    )


def fill(trade_id: str, raw: Mapping[str, Any], names: KrakenNames, client_id: str) -> Fill:
    """One Kraken trade. Its fee is in the quote currency: crypy orders ask for that with ``oflags=fciq``."""
    pair = names.pair(str(raw["pair"]))
    return Fill(
        ts=to_ms(raw["time"]), id=trade_id, order_id=str(raw["ordertxid"]), client_id=client_id, pair=pair,
        side=Side(raw["type"]), price=_decimal(raw, "price"), amount=_decimal(raw, "vol"), fee=_decimal(raw, "fee"),
        fee_asset=names.quote(pair), liquidity="maker" if raw.get("maker") else "taker",
    )


def sent_order(txid: str, client_id: str, pair: str, params: Mapping[str, str], now_ms: int) -> Order:
    """The order AddOrder just accepted, from what was sent: AddOrder answers with the txid alone."""
    order_type = OrderType(params["ordertype"])
    first = params.get("price")
    trailing = order_type is OrderType.TRAILING_STOP
    limit = Decimal(params["price2"]) if "price2" in params else None
    if order_type is OrderType.LIMIT and first is not None:
        limit = Decimal(first)
    return Order(
        ts=now_ms, id=txid, client_id=client_id, pair=pair, side=Side(params["type"]), order_type=order_type,
        amount=Decimal(params["volume"]), price=limit, created=now_ms,
        status=OrderStatus.PENDING if order_type is OrderType.MARKET else OrderStatus.OPEN,
        trigger_price=Decimal(first) if first and order_type.is_triggered and not trailing else None,
        trailing_offset=Decimal(first.strip("+%")) if first and trailing else None,
        trailing_percent=bool(first and first.endswith("%")), post_only="post" in params["oflags"].split(","),
        time_in_force=TimeInForce(params.get("timeinforce", "gtc").lower()),
        expire_ts=int(params.get("expiretm", 0)) * 1000,
    )


def add_order_params(*, market: Mapping[str, Any], cl_ord_id: str, side: Side, order_type: OrderType,
                     amount: Decimal, price: Decimal | None, trigger_price: Decimal | None,
                     trailing_offset: Decimal | None, trailing_percent: bool, post_only: bool,
                     time_in_force: TimeInForce, expire_ts: int) -> dict[str, str]:
    """AddOrder's parameters, with every number already on the market's grid as a plain string.

    ``price`` is Kraken's first price (the limit, or a trigger for the triggered types), ``price2`` the limit of a
    ``*-limit`` type; a trailing stop's offset is ``+<n>`` or ``+<n>%``.
    """
    info = market["info"]
    price_decimals = int(info["pair_decimals"])
    params = {"pair": market["id"], "type": side.value, "ordertype": order_type.value,
              "volume": plain(rounded_amount(amount, int(info["lot_decimals"])))}
    if cl_ord_id:
        params["cl_ord_id"] = cl_ord_id
    if order_type is OrderType.TRAILING_STOP:
        if trailing_offset is None:
            raise ValueError("a trailing stop needs trailing_offset")
        params["price"] = f"+{plain(trailing_offset)}" + ("%" if trailing_percent else "")
    elif order_type.is_triggered:
        if trigger_price is None:
            raise ValueError(f"a {order_type} order needs trigger_price")
        params["price"] = plain(rounded_price(trigger_price, price_decimals))
        if order_type.has_limit_price:
            params["price2"] = plain(rounded_price(_required(price, order_type), price_decimals))
    elif order_type is OrderType.LIMIT:
        params["price"] = plain(rounded_price(_required(price, order_type), price_decimals))
    params["oflags"] = "post,fciq" if post_only else "fciq"
    if time_in_force is not TimeInForce.GTC:
        params["timeinforce"] = time_in_force.value.upper()
    if time_in_force is TimeInForce.GTD:
        params["expiretm"] = str(expire_ts // 1000)
    return params


def _required(price: Decimal | None, order_type: OrderType) -> Decimal:
    if price is None:
        raise ValueError(f"a {order_type} order needs a limit price")
    return price
