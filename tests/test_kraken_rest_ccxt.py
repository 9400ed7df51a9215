"""The unmodified ccxt Kraken client (sync) trading against the simulator's Kraken REST API by URL override.

Every method ccxt uses (NOTES §3.2) is called and its parsed result checked against the exchange's state: orders
end in the right status, fills carry the right prices and fees, balances move by exactly what was paid.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ccxt
import pytest

from crypy.simulator import SimConfig
from crypy.simulator.config import KrakenServerConfig
from crypy.simulator.kraken.background import SimExchangeThread
from crypy.simulator.kraken.server import KrakenEndpoints

SYMBOL = "BTC/USD"
ACCOUNTS = [f"u{index:02d}" for index in range(40)]
SPEED = 36_000.0  # a 15-minute candle every 25 ms: market orders fill within a few hundredths of a second


def sim_config(accounts: list[str] = ACCOUNTS) -> SimConfig:
    funds = {"USD": Decimal(100_000), "XBT": Decimal(2), "ETH": Decimal(20)}
    return SimConfig(speed=SPEED, seed=7, accounts={name: dict(funds) for name in accounts})


def kraken_client(endpoints: KrakenEndpoints, account: str, **options: Any) -> ccxt.kraken:
    """ccxt's sync Kraken client pointed at the simulator, as NOTES §3.1 shows (keeping the last JSON answer)."""
    credentials = endpoints.credentials[account]
    settings = {"apiKey": credentials.api_key, "secret": credentials.secret, "enableRateLimit": False,
                "enableLastJsonResponse": True}
    client = ccxt.kraken(settings | options)
    client.urls["api"]["public"] = endpoints.rest_url
    client.urls["api"]["private"] = endpoints.rest_url
    return client


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def balances(client: ccxt.kraken) -> dict[str, tuple[Decimal, Decimal]]:
    """``(total, held)`` per Kraken asset id, exact, from BalanceEx's strings."""
    client.fetch_balance()
    raw = client.last_json_response["result"]
    return {asset: (Decimal(entry["balance"]), Decimal(entry["hold_trade"])) for asset, entry in raw.items()}


def buy_hold(price: float, amount: str) -> Decimal:
    """What a limit buy reserves: its cost plus the taker fee on it (rounded half up to the cost decimals)."""
    cost = Decimal(str(price)) * Decimal(amount)
    return cost + (cost * Decimal("0.0026")).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SimExchangeThread, KrakenEndpoints]]:
    with SimExchangeThread(sim_config()) as thread:
        yield thread, thread.serve_kraken(KrakenServerConfig(rate_limits=False, credentials_seed=1))


_fresh_accounts = itertools.cycle(ACCOUNTS)


@pytest.fixture
def client(server: tuple[SimExchangeThread, KrakenEndpoints]) -> ccxt.kraken:
    """A client of an account no other test in this module has used."""
    exchange = kraken_client(server[1], next(_fresh_accounts))
    exchange.load_markets()
    return exchange


def far_below(client: ccxt.kraken, share: float = 0.5) -> float:
    return round(client.fetch_ticker(SYMBOL)["last"] * share, 1)


def test_markets_time_and_status(client: ccxt.kraken) -> None:
    market = client.market(SYMBOL)
    assert (market["id"], market["info"]["altname"], market["precision"]["price"]) == ("XXBTZUSD", "XBTUSD", 0.1)
    assert (market["limits"]["amount"]["min"], market["maker"], market["taker"]) == (0.0001, 0.0016, 0.0026)
    assert set(client.markets) == {"BTC/USD", "ETH/USD"} and client.currencies["BTC"]["id"] == "XXBT"
    assert abs(client.fetch_time() - client.fetch_time()) < 86_400_000
    assert client.fetch_status()["status"] == "ok"


def test_tickers_ohlcv_book_and_trades(client: ccxt.kraken) -> None:
    ticker = client.fetch_ticker(SYMBOL)
    assert ticker["bid"] < ticker["ask"] and ticker["low"] <= ticker["last"] <= ticker["high"]
    assert ticker["baseVolume"] > 0 and ticker["vwap"] > 0
    assert set(client.fetch_tickers([SYMBOL, "ETH/USD"])) == set(client.fetch_tickers()) == {SYMBOL, "ETH/USD"}
    candles = client.fetch_ohlcv(SYMBOL, "15m")
    assert 700 <= len(candles) <= 721 and all(row[0] % 900_000 == 0 for row in candles)
    since = candles[-20][0]
    later = client.fetch_ohlcv(SYMBOL, "15m", since=since)
    assert later[0][0] == since and later[1:19] == candles[-19:-1]
    book = client.fetch_order_book(SYMBOL, 10)
    assert len(book["bids"]) == len(book["asks"]) == 10 and book["bids"][0][0] < book["asks"][0][0]
    assert [level[0] for level in book["bids"]] == sorted((level[0] for level in book["bids"]), reverse=True)
    trades = client.fetch_trades(SYMBOL, limit=5)
    assert len(trades) == 5 and all(trade["price"] > 0 and trade["side"] in ("buy", "sell") for trade in trades)
    later_trades = client.fetch_trades(SYMBOL, since=trades[0]["timestamp"])
    assert later_trades[0]["timestamp"] >= trades[0]["timestamp"]


def test_market_buy_fills_with_exact_fee_and_balances(client: ccxt.kraken) -> None:
    before = balances(client)
    order = client.create_order(SYMBOL, "market", "buy", 0.01)
    assert (order["side"], order["amount"], order["type"]) == ("buy", 0.01, "market")
    wait_for(lambda: client.fetch_order(order["id"])["status"] == "closed")
    placed = client.fetch_order(order["id"])
    [trade] = client.fetch_my_trades(SYMBOL)
    info = trade["info"]
    price, cost, fee = Decimal(info["price"]), Decimal(info["cost"]), Decimal(info["fee"])
    assert (trade["order"], trade["takerOrMaker"], cost) == (order["id"], "taker", price * Decimal("0.01"))
    assert fee == (cost * Decimal("0.0026")).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
    assert (placed["filled"], placed["average"], placed["fee"]["cost"]) == (0.01, float(price), str(fee))
    assert [t["id"] for t in placed["trades"]] == [trade["id"]]
    after = balances(client)
    assert after["ZUSD"] == (before["ZUSD"][0] - cost - fee, Decimal(0))
    assert after["XXBT"] == (before["XXBT"][0] + Decimal("0.01"), Decimal(0))
    assert client.fetch_order_trades(order["id"], params={"trades": placed["trades"]})[0]["id"] == trade["id"]


def test_limit_order_holds_funds_until_cancelled(client: ccxt.kraken) -> None:
    price = far_below(client)
    order = client.create_order(SYMBOL, "limit", "buy", 0.02, price)
    assert (order["price"], order["amount"]) == (price, 0.02)
    assert balances(client)["ZUSD"][1] == buy_hold(price, "0.02")
    [listed] = client.fetch_open_orders(SYMBOL)
    assert (listed["id"], listed["status"], listed["price"], listed["remaining"]) == (order["id"], "open", price, 0.02)
    client.cancel_order(order["id"])
    assert client.fetch_order(order["id"])["status"] == "canceled" and balances(client)["ZUSD"][1] == 0
    [closed] = client.fetch_closed_orders(SYMBOL)
    assert (closed["id"], closed["status"], closed["info"]["reason"]) == (order["id"], "canceled", "User requested")


def test_post_only_with_client_order_id_and_cancel_by_it(client: ccxt.kraken) -> None:
    price = far_below(client)
    order = client.create_order(SYMBOL, "limit", "buy", 0.01, price,
                                {"postOnly": True, "clientOrderId": "my-1", "timeInForce": "GTC"})
    fetched = client.fetch_order(order["id"])
    assert (fetched["clientOrderId"], fetched["postOnly"], fetched["info"]["oflags"]) == ("my-1", True, "post,fciq")
    assert [o["id"] for o in client.fetch_open_orders(params={"clientOrderId": "my-1"})] == [order["id"]]
    client.cancel_order("ignored", SYMBOL, {"clientOrderId": "my-1"})
    assert client.fetch_order(order["id"])["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order(order["id"])


def test_stop_and_take_profit_orders_rest_with_their_triggers(client: ccxt.kraken) -> None:
    low, high = far_below(client, 0.5), far_below(client, 2.0)
    stop = client.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": low})
    stop_limit = client.create_order(SYMBOL, "limit", "sell", 0.01, low - 100, {"stopLossPrice": low})
    take = client.create_order(SYMBOL, "market", "sell", 0.01, None, {"takeProfitPrice": high})
    assert (stop["stopLossPrice"], stop_limit["stopLossPrice"], stop_limit["price"]) == (low, low, low - 100)
    assert take["takeProfitPrice"] == high
    listed = {order["id"]: order for order in client.fetch_open_orders(SYMBOL)}
    assert listed[stop["id"]]["info"]["descr"]["ordertype"] == "stop-loss"
    assert listed[stop_limit["id"]]["info"]["descr"]["order"] == f"sell 0.01000000 XBTUSD @ stop loss {low} -> limit {low - 100}"
    assert (listed[take["id"]]["takeProfitPrice"], listed[take["id"]]["type"]) == (high, "market")
    assert balances(client)["XXBT"][1] == Decimal("0.03")


def test_a_stop_above_the_market_triggers_and_fills(client: ccxt.kraken) -> None:
    order = client.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": far_below(client, 1.5)})
    wait_for(lambda: client.fetch_order(order["id"])["status"] == "closed")
    filled = client.fetch_order(order["id"])
    assert filled["filled"] == 0.01 and len(filled["trades"]) == 1 and filled["fee"]["cost"] != "0.00000"


def test_trailing_stop_goes_as_json_and_reads_back(client: ccxt.kraken) -> None:
    order = client.create_order(SYMBOL, "market", "sell", 0.01, None, {"trailingPercent": 30})
    assert client.last_request_headers["Content-Type"] == "application/json"
    fetched = client.fetch_order(order["id"])
    assert (fetched["status"], fetched["info"]["descr"]["price"]) == ("open", "+30.0000%")
    assert fetched["info"]["descr"]["order"] == "sell 0.01000000 XBTUSD @ trailing stop +30.0000%"


def test_validate_places_nothing(client: ccxt.kraken) -> None:
    order = client.create_order(SYMBOL, "limit", "buy", 0.01, far_below(client), {"validate": True, "userref": 42})
    assert order["id"] is None and order["info"]["descr"]["order"].startswith("buy 0.01000000 XBTUSD @ limit")
    assert client.fetch_open_orders() == [] and balances(client)["ZUSD"][1] == 0


def test_userref_is_the_client_order_id_and_cancels(client: ccxt.kraken) -> None:
    order = client.create_order(SYMBOL, "limit", "buy", 0.01, far_below(client), {"userref": 77})
    assert client.fetch_order(order["id"])["clientOrderId"] == "77"
    client.cancel_order("77")
    assert client.fetch_order(order["id"])["status"] == "canceled"


def test_market_buy_with_cost(client: ccxt.kraken) -> None:
    order = client.create_market_buy_order_with_cost(SYMBOL, 50)
    assert order["cost"] == 50 and order["amount"] is None
    wait_for(lambda: client.fetch_order(order["id"])["status"] == "closed")
    filled = client.fetch_order(order["id"])
    assert filled["info"]["oflags"] == "fciq,viqc" and 49 < filled["cost"] <= 50.5


def test_create_orders_in_one_batch_and_fetch_them_by_ids(client: ccxt.kraken) -> None:
    price = far_below(client)
    orders = client.create_orders([
        {"symbol": SYMBOL, "type": "limit", "side": "buy", "amount": 0.01, "price": price},
        {"symbol": SYMBOL, "type": "limit", "side": "buy", "amount": 0.02, "price": price - 10},
    ])
    ids = [order["id"] for order in orders]
    assert all(ids) and [order["amount"] for order in orders] == [0.01, 0.02]
    fetched = client.fetch_orders_by_ids(ids)
    assert [(o["id"], o["status"], o["price"]) for o in fetched] == [(ids[0], "open", price), (ids[1], "open", price - 10)]
    client.cancel_orders(ids)
    assert {o["status"] for o in client.fetch_orders_by_ids(ids)} == {"canceled"}


def test_cancel_all_orders(client: ccxt.kraken) -> None:
    price = far_below(client)
    ids = [client.create_order(SYMBOL, "limit", "buy", 0.01, price - step)["id"] for step in range(3)]
    assert client.cancel_all_orders()[0]["info"]["result"] == {"count": 3}
    assert client.fetch_open_orders() == [] and {o["status"] for o in client.fetch_orders_by_ids(ids)} == {"canceled"}


def test_cancel_all_orders_after(client: ccxt.kraken) -> None:
    price = far_below(client)
    kept = client.create_order(SYMBOL, "limit", "buy", 0.01, price)
    answer = client.cancel_all_orders_after(60_000)
    assert answer["result"]["triggerTime"] > answer["result"]["currentTime"]
    client.cancel_all_orders_after(0)
    client.cancel_all_orders_after(1000)
    time.sleep(0.5)
    assert client.fetch_order(kept["id"])["status"] == "open"
    wait_for(lambda: client.fetch_order(kept["id"])["status"] == "canceled", timeout=3.0)


def test_edit_order_amends_in_place(client: ccxt.kraken) -> None:
    price = far_below(client)
    order = client.create_order(SYMBOL, "limit", "buy", 0.01, price)
    edited = client.edit_order(order["id"], SYMBOL, "limit", "buy", 0.02, price - 50)
    assert edited["id"].startswith("T") and client.last_json_response["result"] == {"amend_id": edited["id"]}
    fetched = client.fetch_order(order["id"])
    assert (fetched["amount"], fetched["price"], fetched["status"]) == (0.02, price - 50, "open")
    assert balances(client)["ZUSD"][1] == buy_hold(price - 50, "0.02")


def test_legacy_edit_order_keeps_the_order(client: ccxt.kraken) -> None:
    price = far_below(client)
    order = client.create_order(SYMBOL, "limit", "buy", 0.01, price)
    answer = client.private_post_editorder({"txid": order["id"], "pair": "XBTUSD", "volume": "0.03"})["result"]
    assert (answer["txid"], answer["originaltxid"], answer["volume"]) == (order["id"], order["id"], "0.03000000")
    assert client.fetch_order(order["id"])["amount"] == 0.03


def test_websockets_token(client: ccxt.kraken) -> None:
    answer = client.private_post_getwebsocketstoken()["result"]
    assert answer["expires"] == 900 and len(answer["token"]) >= 32


def test_trading_fee(client: ccxt.kraken) -> None:
    fee = client.fetch_trading_fee(SYMBOL)
    assert (fee["maker"], fee["taker"]) == (0.0016, 0.0026)
    assert client.last_json_response["result"]["fees"]["XXBTZUSD"]["nextvolume"] == "50000.0000"


def test_closed_orders_page_by_time(client: ccxt.kraken) -> None:
    price = far_below(client)
    first = client.create_order(SYMBOL, "limit", "buy", 0.01, price)
    client.cancel_order(first["id"])
    second = client.create_order(SYMBOL, "limit", "buy", 0.01, price)
    client.cancel_order(second["id"])
    closed = client.fetch_closed_orders(SYMBOL)
    assert [order["id"] for order in closed] == [first["id"], second["id"]]  # ccxt sorts oldest first
    until = client.fetch_order(second["id"])["timestamp"]
    assert [o["id"] for o in client.fetch_closed_orders(SYMBOL, params={"until": until})] == [first["id"]]
