"""The simulator's answers have the shape of real Kraken's: the same keys, and values of the same JSON types.

References: ccxt's recorded real Kraken responses (``ccxt-static``) and, for endpoints without a recording,
the examples of Kraken's OpenAPI spec. Where both exist and disagree (the recordings hold strings where the
spec says numbers, e.g. ``opentm``, ``userref``, counts) the recording wins, being what Kraken actually sent.
Ids and pair or asset names are data, not shape: entries under such keys are compared with one of ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest

from crypy.simulator.config import KrakenServerConfig
from crypy.simulator.kraken.background import SimExchangeThread

from .test_kraken_rest_ccxt import SYMBOL, kraken_client, sim_config, wait_for

REFERENCE = Path("/work/shared/reference/kraken")
RECORDED = REFERENCE / "ccxt-static" / "ccxt_static_response_kraken.json"
EXAMPLES = REFERENCE / "spot-rest-openapi" / "examples" / "responses"

pytestmark = pytest.mark.skipif(not RECORDED.exists(), reason="the Kraken reference data is not available")

_ORDER_ID = re.compile(r"[OT][A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}")
POSITION_FIELDS = frozenset({"posstatus", "cprice", "ccost", "cfee", "cvol", "cmargin", "net", "trades"})
"""Margin-position fields of TradesHistory; a spot-only exchange never has them."""
OPTIONAL_ASSET_FIELDS = frozenset({"collateral_value", "margin_rate", "long_position_limit", "short_position_limit"})


def _variable(key: str) -> bool:
    """Keys that are data (order and trade ids, pair and asset names) rather than field names."""
    return key.isupper() or _ORDER_ID.fullmatch(key) is not None


def assert_same_shape(ours: Any, theirs: Any, path: str = "$", optional: frozenset[str] = frozenset()) -> None:
    if theirs is None:  # a null field may hold a string when set (refid, reason, nextfee)
        assert ours is None or isinstance(ours, str), f"{path}: {ours!r} where Kraken has null"
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{path}: {ours!r} is not an object"
        for key, value in theirs.items():
            if _variable(key):
                entries = [entry for name, entry in ours.items() if _variable(name)]
                assert entries, f"{path}: no entries"
                assert_same_shape(entries[0], value, f"{path}.{key}", optional)
            elif key in ours:
                assert_same_shape(ours[key], value, f"{path}.{key}", optional)
            else:
                assert key in optional, f"{path}.{key} is missing"
        return
    if isinstance(theirs, list):
        assert isinstance(ours, list), f"{path}: {ours!r} is not a list"
        if all(isinstance(item, (dict, list)) for item in theirs):
            assert ours or not theirs, f"{path}: empty"
            for index, item in enumerate(theirs):
                assert_same_shape(ours[min(index, len(ours) - 1)], item, f"{path}[{index}]", optional)
        elif ours:  # a row: position by position
            assert len(ours) == len(theirs), f"{path}: {ours!r} vs {theirs!r}"
            for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
                assert_same_shape(mine, other, f"{path}[{index}]", optional)
        return
    assert type(ours) is type(theirs), f"{path}: {ours!r} ({type(ours).__name__}) vs {theirs!r}"


def recorded(method: str, index: int = 0) -> dict[str, Any]:
    cases = json.loads(RECORDED.read_text())["methods"][method]
    return cases[index]["httpResponse"]


def example(name: str) -> Any:
    """An OpenAPI example: JSON, or the small YAML subset the examples use."""
    text = (EXAMPLES / name).read_text()
    try:
        return json.loads(text)
    except ValueError:
        return load_yaml(text)


def load_yaml(text: str) -> Any:
    """Block mappings and sequences of plain or quoted scalars: all the example files need, strictly."""
    lines = [(len(raw) - len(raw.lstrip(" ")), raw.strip()) for raw in text.splitlines()
             if raw.strip() and not raw.lstrip().startswith("#")]
    value, end = _block(lines, 0, lines[0][0])
    assert end == len(lines), f"unparsed YAML from line {end}"
    return value


def _block(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[Any, int]:
    content = lines[index][1]
    if content.startswith("- ") or content == "-":
        return _sequence(lines, index, indent)
    if content[0] not in "'\"" and re.match(r"^[\w.\-]+:( |$)", content):
        return _mapping(lines, index, indent)
    return _scalar(content), index + 1


def _mapping(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while index < len(lines) and lines[index][0] == indent and not lines[index][1].startswith("-"):
        key, _, rest = lines[index][1].partition(":")
        index += 1
        nested = index < len(lines) and (
            lines[index][0] > indent or (lines[index][0] == indent and lines[index][1].startswith("- "))
        )
        if rest.strip():
            result[key] = _scalar(rest.strip())
        elif nested:
            result[key], index = _block(lines, index, lines[index][0])
        else:
            result[key] = None
    return result, index


def _sequence(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while index < len(lines) and lines[index][0] == indent and lines[index][1].startswith("-"):
        rest = lines[index][1][1:]
        offset = indent + 1 + len(rest) - len(rest.lstrip())
        lines[index] = (offset, rest.strip())
        item, index = _block(lines, index, offset)
        items.append(item)
    return items, index


def _scalar(text: str) -> Any:
    if text[0] in "'\"":
        return text[1:-1]
    if text in ("null", "~"):
        return None
    if text in ("[]", "{}"):
        return [] if text == "[]" else {}
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return float(text)
    return text


def test_the_shape_check_catches_wrong_types_and_missing_keys() -> None:
    assert_same_shape({"a": ["1", 2], "XXBT": {"b": None}}, {"a": ["3", 4], "ZUSD": {"b": None}})
    for ours, theirs in [({"a": 1}, {"a": "1"}), ({}, {"a": 1}), ({"a": ["1"]}, {"a": ["1", 2]}),
                         ({"a": 1.5}, {"a": 1}), ({"a": True}, {"a": 1}), ({"open": {}}, {"open": {"XBT": 1}})]:
        with pytest.raises(AssertionError):
            assert_same_shape(ours, theirs)


def test_the_yaml_reader_reads_the_examples() -> None:
    depth = example("public/depth.yaml")
    assert depth["result"]["XXBTZUSD"]["asks"][1] == ["3540.20000", "1.000", 1548119873]
    assert example("user/trades/volume.yaml")["result"]["fees"]["XETCXETH"]["nextfee"] is None


@pytest.fixture(scope="module")
def exchange() -> Iterator[ccxt.kraken]:
    with SimExchangeThread(sim_config(["shape"])) as thread:
        client = kraken_client(thread.serve_kraken(KrakenServerConfig(rate_limits=False, credentials_seed=9)), "shape")
        client.load_markets()
        yield client


def last(client: ccxt.kraken) -> Any:
    return client.last_json_response


def price_times(client: ccxt.kraken, factor: float) -> float:
    return round(client.fetch_ticker(SYMBOL)["last"] * factor, 1)


def test_public_answers_match_the_recordings(exchange: ccxt.kraken) -> None:
    exchange.fetch_ticker(SYMBOL)
    assert_same_shape(last(exchange), recorded("fetchTicker"))
    exchange.fetch_ohlcv(SYMBOL, "15m", since=exchange.milliseconds() - 86_400_000)
    assert_same_shape(last(exchange), recorded("fetchOHLCV"))
    trades = recorded("fetchTrades")
    pair_id = next(key for key in trades["result"] if key != "last")
    trades["result"][pair_id][-1].pop()  # ccxt appends "last" to the final row of the object it then records
    exchange.fetch_trades(SYMBOL, limit=5)
    assert_same_shape(last(exchange), trades)


def test_public_answers_match_the_openapi_examples(exchange: ccxt.kraken) -> None:
    exchange.fetch_time()
    assert_same_shape(last(exchange), example("public/time.yaml"))
    exchange.fetch_order_book(SYMBOL, 5)
    assert_same_shape(last(exchange), example("public/depth.yaml"))
    assert_same_shape(exchange.public_get_spread({"pair": "XXBTZUSD"}), example("public/spread.yaml"))
    assets = example("public/assets/info.yaml")
    assert_same_shape(exchange.public_get_assets(), assets, optional=OPTIONAL_ASSET_FIELDS)
    pairs = example("public/assets/pairs.yaml")
    assert_same_shape(exchange.public_get_assetpairs(), pairs, optional=OPTIONAL_ASSET_FIELDS)


def test_order_answers_match_the_recordings(exchange: ccxt.kraken) -> None:
    low, high = price_times(exchange, 0.5), price_times(exchange, 2.0)
    market = exchange.create_order(SYMBOL, "market", "buy", 0.001)
    assert_same_shape(last(exchange), recorded("createOrder", 0))
    exchange.create_order(SYMBOL, "limit", "buy", 0.001, high + 100, {"stopLossPrice": high})
    assert_same_shape(last(exchange), recorded("createOrder", 1))
    post = exchange.create_order(SYMBOL, "limit", "buy", 0.001, low, {"postOnly": True})
    exchange.fetch_order(post["id"])
    assert_same_shape(last(exchange), recorded("fetchOrder", 0))
    wait_for(lambda: exchange.fetch_order(market["id"])["status"] == "closed")
    exchange.fetch_order(market["id"])
    assert_same_shape(last(exchange), recorded("fetchOrder", 1))
    exchange.create_order(SYMBOL, "market", "sell", 0.001, None, {"takeProfitPrice": high, "userref": 101})
    exchange.create_order(SYMBOL, "limit", "sell", 0.001, low - 100, {"stopLossPrice": low, "userref": 102})
    exchange.create_order(SYMBOL, "market", "buy", 0.001, None,
                          {"trailingPercent": 50, "trigger": "index", "userref": 103})
    for index, userref in enumerate((101, 102, 103)):
        exchange.fetch_open_orders(params={"userref": userref})
        assert_same_shape(last(exchange), recorded("fetchOpenOrders", index))
    exchange.create_order(SYMBOL, "limit", "buy", 0.002, low, {"clientOrderId": "123"})
    exchange.fetch_open_orders(SYMBOL, params={"clientOrderId": "123"})
    assert_same_shape(last(exchange), recorded("fetchOpenOrders", 3))
    exchange.cancel_order("unused", SYMBOL, {"clientOrderId": "123"})
    assert_same_shape(last(exchange), recorded("cancelOrder"))
    exchange.fetch_closed_orders(SYMBOL, params={"clientOrderId": "123"})
    assert_same_shape(last(exchange), recorded("fetchClosedOrders"))


def test_private_answers_match_the_openapi_examples(exchange: ccxt.kraken) -> None:
    order = exchange.create_order(SYMBOL, "market", "buy", 0.001)
    wait_for(lambda: exchange.fetch_order(order["id"])["status"] == "closed")
    assert_same_shape(exchange.private_post_balance(), example("user/account/balance.yaml"))
    assert_same_shape(exchange.private_post_tradebalance(), example("user/trades/balance.yaml"))
    history = exchange.private_post_tradeshistory()
    assert_same_shape(history, example("user/trades/history.yaml"), optional=POSITION_FIELDS)
    trade_id = next(iter(history["result"]["trades"]))
    assert_same_shape(exchange.private_post_querytrades({"txid": trade_id}), example("user/trades/query.yaml"))
    volume = exchange.private_post_tradevolume({"pair": "XXBTZUSD"})
    assert_same_shape(volume, example("user/trades/volume.yaml"))
    resting = exchange.create_order(SYMBOL, "limit", "buy", 0.001, price_times(exchange, 0.5))
    assert_same_shape(last(exchange), example("trading/orders/add.yaml"), optional=frozenset({"close"}))
    edited = exchange.private_post_editorder({"txid": resting["id"], "pair": "XXBTZUSD", "volume": "0.002"})
    assert_same_shape(edited, example("trading/orders/edit.yaml"))
    exchange.cancel_orders([resting["id"]])
    assert_same_shape(last(exchange), example("trading/orders/batchcancel.yaml"))
