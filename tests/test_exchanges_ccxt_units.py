"""The ccxt adapter's pure parts: error translation and scrubbing, client ids, and Kraken's recorded answers.

Recorded answers are ccxt's static test data (real Kraken responses), so the conversions are checked against
what Kraken really sends, not against what the simulator happens to send.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from crypy.exchanges import ExchangeAuthError, ExchangeError, ExchangeUnavailable, OrderRejected
from crypy.exchanges import ccxt_convert as convert
from crypy.exchanges.ccxt_errors import translate
from crypy.protocols import OrderStatus, OrderType, Side, TimeInForce

STATIC = Path("/work/shared/reference/kraken/ccxt-static")


def _raised(error: str) -> ccxt.BaseError:
    """The exception ccxt raises for a Kraken answer with this error string."""
    body = json.dumps({"error": [error]})
    try:
        ccxt.kraken().handle_errors(200, "OK", "url", "POST", {}, body, json.loads(body), {}, "")
    except ccxt.BaseError as exc:
        return exc
    raise AssertionError("ccxt raised nothing")


@pytest.mark.parametrize(("error", "plain", "placing"), [
    ("EOrder:Insufficient funds", ExchangeError, OrderRejected),
    ("EOrder:Order minimum not met", ExchangeError, OrderRejected),
    ("EGeneral:Invalid arguments:cl_ord_id", ExchangeError, OrderRejected),
    ("EService:Market in cancel_only mode", ExchangeUnavailable, OrderRejected),
    ("EAPI:Invalid key", ExchangeAuthError, ExchangeAuthError),
    ("EAPI:Invalid signature", ExchangeAuthError, ExchangeAuthError),
    ("EService:Unavailable", ExchangeUnavailable, ExchangeUnavailable),
    ("EAPI:Rate limit exceeded", ExchangeUnavailable, ExchangeUnavailable),
])
def test_kraken_errors_map_to_crypy_types_keeping_the_reason(
        error: str, plain: type[ExchangeError], placing: type[ExchangeError]) -> None:
    exc = _raised(error)
    assert type(translate(exc, [])) is plain and type(translate(exc, [], order=True)) is placing
    assert str(translate(exc, [])) == error


def test_network_errors_are_retryable_and_credentials_never_appear() -> None:
    key, secret = "MYKEY-abc123", "c2VjcmV0LXNlY3JldA=="
    timeout = ccxt.RequestTimeout(f"kraken POST http://h/0/private/AddOrder?k={key}&s={secret}")
    translated = translate(timeout, [key, secret])
    assert isinstance(translated, ExchangeUnavailable)
    assert key not in str(translated) and secret not in str(translated) and "AddOrder" in str(translated)
    assert "Incorrect padding" not in str(translate(__import__("binascii").Error("Incorrect padding"), []))


@pytest.mark.parametrize(("client_id", "expected"), [
    ("t1-7", "t1-7"),
    ("sma-fast-XBT-12345", "sma-fast-XBT-12345"),  # 18 characters: Kraken's limit
    ("8f14e45f-ceea-467a-9a36-dedd4bea2543", "8f14e45f-ceea-467a-9a36-dedd4bea2543"),
])
def test_client_ids_kraken_accepts_are_sent_as_they_are(client_id: str, expected: str) -> None:
    assert convert.kraken_client_id(client_id) == expected


def test_longer_client_ids_map_to_a_stable_uuid() -> None:
    mapped = convert.kraken_client_id("sma-crossover-XBT-USD-trader-42")
    assert len(mapped) == 36 and mapped == convert.kraken_client_id("sma-crossover-XBT-USD-trader-42")
    assert mapped != convert.kraken_client_id("sma-crossover-XBT-USD-trader-43")


@pytest.fixture
def names() -> convert.KrakenNames:
    exchange = ccxt.kraken()
    exchange.set_markets(json.loads((STATIC / "ccxt_static_markets_kraken.json").read_text()),
                         json.loads((STATIC / "ccxt_static_currencies_kraken.json").read_text()))
    return convert.KrakenNames.from_ccxt(exchange.markets, exchange.currencies)


def _recorded(method: str, index: int) -> dict:
    methods = json.loads((STATIC / "ccxt_static_response_kraken.json").read_text())["methods"]
    return methods[method][index]["httpResponse"]


def test_names_and_market_rules_come_from_asset_pairs(names: convert.KrakenNames) -> None:
    assert names.pair("XXBTZUSD") == names.pair("XBTUSD") == names.pair("BTC/USD") == "XBT/USD"
    assert names.asset("XXBT") == names.asset("BTC") == "XBT" and names.asset("ZUSD") == "USD"
    info = convert.market_info("XBT/USD", names.market("XBT/USD"))
    assert (info.base, info.quote, info.price_decimals, info.amount_decimals) == ("XBT", "USD", 1, 8)
    assert (info.min_amount, info.min_cost, info.maker_fee, info.taker_fee) == ("0.0001", "0.5", "0.0016", "0.0026")


def test_recorded_orders_convert_exactly(names: convert.KrakenNames) -> None:
    txid, raw = next(iter(_recorded("fetchOrder", 1)["result"].items()))  # a filled market buy
    order = convert.order(txid, raw, names, {})
    assert (order.status, order.side, order.order_type) == (OrderStatus.FILLED, Side.BUY, OrderType.MARKET)
    assert (order.amount, order.filled, order.avg_price, order.fee) == (
        Decimal("0.1"), Decimal("0.1"), Decimal("71.05741"), Decimal("0.018475"))
    assert order.created == 1705260547472 and order.pair == "LTC/USDT"
    txid, raw = next(iter(_recorded("fetchOpenOrders", 1)["result"]["open"].items()))
    stop = convert.order(txid, raw, names, {})
    assert (stop.order_type, stop.trigger_price, stop.price) == (OrderType.STOP_LOSS_LIMIT, Decimal(55), Decimal(54))
    txid, raw = next(iter(_recorded("fetchClosedOrders", 0)["result"]["closed"].items()))
    cancelled = convert.order(txid, raw, names, {"123": "crypy-client"})
    assert (cancelled.status, cancelled.client_id, cancelled.reason) == (
        OrderStatus.CANCELLED, "crypy-client", "User requested")


def test_uncommitted_ohlc_rows_are_dropped() -> None:
    result = _recorded("fetchOHLCV", 0)["result"]
    candles = convert.candles(result["XBTUSDT"], result["last"], "XBT/USDT", "1h")
    assert [c.ts for c in candles][-1] == 1706641200000 and len(candles) == 5
    assert candles[0].close == 43361.1 and candles[0].volume == 18.7543011


def test_add_order_parameters_are_exact_strings_on_the_grid(names: convert.KrakenNames) -> None:
    params = convert.add_order_params(
        market=names.market("XBT/USD"), cl_ord_id="c1", side=Side.SELL, order_type=OrderType.STOP_LOSS_LIMIT,
        amount=Decimal("0.123456789"), price=Decimal("29000.04"), trigger_price=Decimal("29100.06"),
        trailing_offset=None, trailing_percent=False, post_only=False, time_in_force=TimeInForce.GTD,
        expire_ts=1_700_000_000_999)
    assert params == {"pair": "XXBTZUSD", "type": "sell", "ordertype": "stop-loss-limit", "volume": "0.12345678",
                      "cl_ord_id": "c1", "price": "29100.1", "price2": "29000.0", "oflags": "fciq",
                      "timeinforce": "GTD", "expiretm": "1700000000"}
    trailing = convert.add_order_params(
        market=names.market("XBT/USD"), cl_ord_id="c2", side=Side.SELL, order_type=OrderType.TRAILING_STOP,
        amount=Decimal("0.00000001"), price=None, trigger_price=None, trailing_offset=Decimal("2.5"),
        trailing_percent=True, post_only=False, time_in_force=TimeInForce.GTC, expire_ts=0)
    assert trailing["price"] == "+2.5%" and trailing["volume"] == "0.00000001"
