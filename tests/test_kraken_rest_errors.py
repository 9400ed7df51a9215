"""Refusals and misbehaviour as ccxt sees them: Kraken's error strings must map to ccxt's exception types.

Several Kraken fronts share one simulated exchange here, each configured for one kind of trouble: rate limits,
injected errors, timeouts, latency, lockouts and each system status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import ccxt
import pytest
import requests

from crypy.simulator.config import EndpointFaults, Faults, KrakenServerConfig, Latency
from crypy.simulator.kraken.background import SimExchangeThread
from crypy.simulator.kraken.server import KrakenEndpoints

from .test_kraken_rest_ccxt import SYMBOL, kraken_client, sim_config

ACCOUNTS = ["alice", "bob", "carol", "dave", "erin"]
QUIET = KrakenServerConfig(rate_limits=False, credentials_seed=2)


@pytest.fixture(scope="module")
def thread() -> Iterator[SimExchangeThread]:
    with SimExchangeThread(sim_config(ACCOUNTS)) as running:
        yield running


@pytest.fixture(scope="module")
def quiet(thread: SimExchangeThread) -> KrakenEndpoints:
    return thread.serve_kraken(QUIET)


def client(endpoints: KrakenEndpoints, account: str = "alice", **options: object) -> ccxt.kraken:
    exchange = kraken_client(endpoints, account, **options)
    exchange.load_markets()
    return exchange


def below_market(exchange: ccxt.kraken) -> float:
    return round(exchange.fetch_ticker(SYMBOL)["last"] / 2, 1)


def test_an_unknown_key_is_an_authentication_error(quiet: KrakenEndpoints) -> None:
    exchange = client(quiet)
    exchange.apiKey = "not-a-key"
    with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
        exchange.fetch_balance()


def test_a_wrong_secret_is_kraken_invalid_signature_which_ccxt_leaves_a_plain_exchange_error(
    quiet: KrakenEndpoints,
) -> None:
    exchange = client(quiet)
    exchange.secret = quiet.credentials["bob"].secret
    with pytest.raises(ccxt.ExchangeError, match="EAPI:Invalid signature") as raised:
        exchange.fetch_balance()
    assert not isinstance(raised.value, ccxt.AuthenticationError)


def test_a_replayed_nonce_is_invalid_nonce(quiet: KrakenEndpoints) -> None:
    """ccxt keeps one instance's nonces increasing, so two instances with one key send the same nonce twice."""
    first, second = client(quiet, "bob"), client(quiet, "bob")
    first.nonce = second.nonce = lambda: 1_900_000_000_000
    first.fetch_balance()
    with pytest.raises(ccxt.InvalidNonce):
        second.fetch_balance()


def test_order_refusals(quiet: KrakenEndpoints) -> None:
    exchange = client(quiet, "carol")
    with pytest.raises(ccxt.InvalidOrder, match="EOrder:Order minimum not met"):
        exchange.create_order(SYMBOL, "limit", "buy", 0.00001, below_market(exchange))
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(SYMBOL, "limit", "buy", 100, below_market(exchange))
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(SYMBOL, "market", "sell", 3)
    with pytest.raises(ccxt.OrderNotFound):
        exchange.cancel_order("OAAAAA-BBBBB-CCCCCC")
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order("OAAAAA-BBBBB-CCCCCC")


def test_unknown_methods_and_paths(quiet: KrakenEndpoints) -> None:
    answer = requests.get(quiet.rest_url + "/0/public/Nonsense", timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"error": ["EGeneral:Unknown method"]})
    assert requests.get(quiet.rest_url + "/favicon.ico", timeout=5).status_code == 404
    answer = requests.get(quiet.rest_url + "/0/public/Ticker?pair=DOGEUSD", timeout=5)
    assert answer.json() == {"error": ["EQuery:Unknown asset pair"]}
    assert "result" in requests.post(quiet.rest_url + "/0/public/Time", data={"x": "1"}, timeout=5).json()


def test_injected_service_errors(thread: SimExchangeThread) -> None:
    faults = Faults(endpoints={"Depth": EndpointFaults(error_rate=1.0),
                               "Ticker": EndpointFaults(error_rate=1.0, error="EService:Busy")})
    exchange = client(thread.serve_kraken(KrakenServerConfig(rate_limits=False, faults=faults, credentials_seed=3)))
    with pytest.raises(ccxt.ExchangeNotAvailable, match="EService:Unavailable"):
        exchange.fetch_order_book(SYMBOL)
    with pytest.raises(ccxt.ExchangeNotAvailable, match="EService:Busy"):
        exchange.fetch_ticker(SYMBOL)
    assert exchange.fetch_time() > 0


def test_rest_and_trading_rate_limits(thread: SimExchangeThread) -> None:
    endpoints = thread.serve_kraken(KrakenServerConfig(rate_limit_tier="starter", credentials_seed=4))
    reader = client(endpoints, "alice")
    with pytest.raises(ccxt.DDoSProtection, match="EAPI:Rate limit exceeded"):
        for _ in range(20):
            reader.fetch_open_orders()
    trader = client(endpoints, "bob")
    price = below_market(trader)
    ids = [trader.create_order(SYMBOL, "limit", "buy", 0.001, price)["id"] for _ in range(8)]
    with pytest.raises(ccxt.DDoSProtection, match="EOrder:Rate limit exceeded"):
        for order_id in ids:  # cancelling orders younger than 5 s costs 8 each: the 8th passes 60
            trader.cancel_order(order_id)


def test_a_timed_out_add_order_may_or_may_not_have_been_placed(thread: SimExchangeThread) -> None:
    faults = Faults(endpoints={"AddOrder": EndpointFaults(timeout_rate=1.0)}, timeout_seconds=1.0)
    endpoints = thread.serve_kraken(KrakenServerConfig(rate_limits=False, faults=faults, seed=11, credentials_seed=5))
    exchange = client(endpoints, "dave", timeout=150)
    price = below_market(exchange)
    outcomes = []
    for attempt in range(8):
        with pytest.raises(ccxt.RequestTimeout):
            exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, {"clientOrderId": f"try-{attempt}"})
        placed = exchange.fetch_open_orders(params={"clientOrderId": f"try-{attempt}"})
        outcomes.append(len(placed))
    assert set(outcomes) == {0, 1}, outcomes


def test_latency_delays_every_answer(thread: SimExchangeThread) -> None:
    endpoints = thread.serve_kraken(KrakenServerConfig(latency_ms=Latency(p50=40.0, p99=40.0), credentials_seed=6))
    exchange = client(endpoints)
    started = time.perf_counter()
    exchange.fetch_time()
    assert time.perf_counter() - started >= 0.04


def test_repeated_bad_keys_lock_the_client_out(thread: SimExchangeThread) -> None:
    endpoints = thread.serve_kraken(KrakenServerConfig(lockout_after=3, lockout_seconds=30.0, credentials_seed=7))
    exchange = client(endpoints)
    good_key = exchange.apiKey
    exchange.apiKey = "wrong"
    for _ in range(3):
        with pytest.raises(ccxt.AuthenticationError):
            exchange.fetch_balance()
    exchange.apiKey = good_key
    with pytest.raises(ccxt.DDoSProtection, match="EGeneral:Temporary lockout"):
        exchange.fetch_balance()


@pytest.mark.parametrize(
    ("status", "expected"),
    [("maintenance", ccxt.ExchangeNotAvailable), ("cancel_only", ccxt.OnMaintenance), ("post_only", ccxt.OnMaintenance)],
)
def test_system_status_gates_trading(thread: SimExchangeThread, status: str, expected: type[Exception]) -> None:
    config = KrakenServerConfig(rate_limits=False, faults=Faults(system_status=status), credentials_seed=8)  # type: ignore[arg-type]
    exchange = client(thread.serve_kraken(config), "erin")
    assert exchange.fetch_status()["status"] == "maintenance"
    price = below_market(exchange)
    with pytest.raises(expected):
        exchange.create_order(SYMBOL, "limit", "buy", 0.001, price)
    if status == "post_only":
        order = exchange.create_order(SYMBOL, "limit", "buy", 0.001, price, {"postOnly": True})
        exchange.cancel_order(order["id"])
    assert exchange.fetch_balance()["total"]["USD"] > 0
