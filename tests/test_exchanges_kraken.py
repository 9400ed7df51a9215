"""KrakenCcxtExchange against the real Kraken-compatible server (``serve_kraken``) in front of a ``SimExchange``.

The server runs in the test's own trio loop; the adapter's ccxt calls run in worker threads, so both proceed.
Nothing is mocked: ccxt sends real signed HTTP requests and the simulator is the exchange.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
import pytest
import trio

from crypy.exchanges import ExchangeAuthError, ExchangeError, ExchangeUnavailable, OrderRejected
from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.protocols import OrderStatus, OrderType, Side
from crypy.simulator import SimConfig, SimExchange
from crypy.simulator.config import EndpointFaults, Faults, KrakenServerConfig
from crypy.simulator.kraken.server import KrakenEndpoints, serve_kraken

PAIR = "XBT/USD"
CANDLE_SECONDS = 0.2  # one 15-minute candle closes every 0.2 s of test time


def sim_config(candle_seconds: float = CANDLE_SECONDS) -> SimConfig:
    """The bundled market, one 15-minute candle every ``candle_seconds``, and one account."""
    return SimConfig(speed=900 / candle_seconds, accounts={"main": {"USD": Decimal(10000), "XBT": Decimal("0.5")}})


async def start(nursery: trio.Nursery, sim: SimExchange, **config: Any) -> KrakenEndpoints:
    server_config = KrakenServerConfig(rate_limits=False, credentials_seed=7, **config)
    return await nursery.start(partial(serve_kraken, sim, server_config, accounts=["main"]))


@pytest.fixture
async def opened() -> AsyncIterator[list[KrakenCcxtExchange]]:
    """Adapters to close after the test, so that no HTTP connection outlives it."""
    exchanges: list[KrakenCcxtExchange] = []
    yield exchanges
    for exchange in exchanges:
        await exchange.close()


def adapter(endpoints: KrakenEndpoints, opened: list[KrakenCcxtExchange], *, kind: type[KrakenCcxtExchange] = (
        KrakenCcxtExchange), **options: Any) -> KrakenCcxtExchange:
    keys = endpoints.credentials["main"]
    options = {"account": "main", "rest_url": endpoints.rest_url, "rate_limit": False} | options
    opened.append(kind(options.pop("api_key", keys.api_key), options.pop("secret", keys.secret), **options))
    return opened[-1]


async def test_market_data_and_balances_convert_exactly(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    exchange = adapter(await start(nursery, sim), opened)
    assert await exchange.markets() == sim.markets()
    assert await exchange.candles(PAIR, "15m") == sim.candles(PAIR, "15m")
    since = sim.candles(PAIR, "15m")[100].ts
    assert await exchange.candles(PAIR, "15m", since_ms=since, limit=5) == sim.candles(PAIR, "15m", since, 5)
    ticker, expected = await exchange.ticker(PAIR), sim.ticker(PAIR)
    assert (ticker.bid, ticker.ask, ticker.last) == (expected.bid, expected.ask, expected.last)
    assert await exchange.balances() == sim.balances("main")
    assert "15m" in await exchange.timeframes(PAIR)
    with pytest.raises(ExchangeError, match="Unknown asset pair"):
        await exchange.candles("DOGE/USD", "15m")
    with pytest.raises(ExchangeError, match="interval"):
        await exchange.candles(PAIR, "7m")


async def test_orders_round_trip_with_balances_equal_to_the_simulator(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    exchange = adapter(await start(nursery, sim), opened)
    last = Decimal(str(sim.ticker(PAIR).last))
    resting = await exchange.place_order(client_id="rest-1", pair=PAIR, side=Side.BUY, order_type=OrderType.LIMIT,
                                         amount=Decimal("0.01"), price=last * Decimal("0.5"))
    assert resting == sim.order("main", resting.id) and resting.status is OrderStatus.OPEN
    assert [o.id for o in await exchange.open_orders()] == [resting.id]
    amended = await exchange.amend_order(resting.id, price=last * Decimal("0.6"))
    assert amended.price == sim.order("main", resting.id).price == (last * Decimal("0.6")).quantize(Decimal("0.1"))
    stop = await exchange.place_order(client_id="stop-1", pair=PAIR, side=Side.SELL, order_type=OrderType.STOP_LOSS,
                                      amount=Decimal("0.01"), trigger_price=last * Decimal("0.5"))
    assert stop.trigger_price == sim.order("main", stop.id).trigger_price
    for order in (resting, stop):
        cancelled = await exchange.cancel_order(order.id)
        assert cancelled.status is OrderStatus.CANCELLED and cancelled.reason == "User requested"  # Kraken's words
        assert cancelled == msgspec.structs.replace(sim.order("main", order.id), reason=cancelled.reason)
    with pytest.raises(OrderRejected, match="EOrder:Insufficient funds"):
        await exchange.place_order(client_id="too-big", pair=PAIR, side=Side.BUY, order_type=OrderType.MARKET,
                                   amount=Decimal(100))
    bought = await exchange.place_order(client_id="buy-1", pair=PAIR, side=Side.BUY, order_type=OrderType.MARKET,
                                        amount=Decimal("0.02"))
    sold = await exchange.place_order(client_id="sell-1", pair=PAIR, side=Side.SELL, order_type=OrderType.MARKET,
                                      amount=Decimal("0.015"))
    await nursery.start(sim.run)
    fills, cursor = [], 0
    with trio.fail_after(10):
        while len(fills) < 2:
            await trio.sleep(CANDLE_SECONDS)
            new, cursor = await exchange.fills_since(cursor)
            fills += new
    assert fills == sim.fills("main") and {f.client_id for f in fills} == {"buy-1", "sell-1"}
    assert await exchange.fills_since(cursor) == ([], cursor)  # nothing twice
    assert (await exchange.order(bought.id)).status is (await exchange.order(sold.id)).status is OrderStatus.FILLED
    ids = [resting.id, stop.id, bought.id, sold.id]
    batch = await exchange.orders([*ids, "OUNKNW-NOTAN-ORDER1"])  # one QueryOrders, the unknown id left out
    assert batch == {order_id: sim.order("main", order_id) for order_id in ids} | {
        resting.id: msgspec.structs.replace(sim.order("main", resting.id), reason=batch[resting.id].reason),
        stop.id: msgspec.structs.replace(sim.order("main", stop.id), reason=batch[stop.id].reason)}
    assert (await exchange.order_by_client_id("buy-1")) == batch[bought.id]
    assert await exchange.order_by_client_id("never-sent") is None
    assert await exchange.balances() == sim.balances("main")
    usd = Decimal(10000) - fills[0].cost - fills[0].fee + fills[1].cost - fills[1].fee
    assert (await exchange.balances())["USD"].total == usd


class CountingExchange(KrakenCcxtExchange):
    """Counts the ambiguous AddOrder outcomes the server's faults caused, to prove the test exercised them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ambiguous: Counter[str] = Counter()

    async def _call(self, fn: Any, *args: Any, order: bool = False) -> Any:
        try:
            return await super()._call(fn, *args, order=order)
        except ExchangeUnavailable as exc:
            if fn == self._ccxt.private_post_addorder:
                self.ambiguous["timeout" if "Timeout" in str(exc) else str(exc)] += 1
            raise


async def test_placement_is_idempotent_when_add_order_fails_or_times_out(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    faults = Faults(endpoints={"AddOrder": EndpointFaults(error_rate=0.1, timeout_rate=0.1)}, timeout_seconds=0.4)
    exchange = adapter(await start(nursery, sim, faults=faults), opened, kind=CountingExchange, timeout_s=0.15,
                       retries=10, backoff_s=0.01)
    assert isinstance(exchange, CountingExchange)
    price = (Decimal(str(sim.ticker(PAIR).last)) * Decimal("0.5")).quantize(Decimal(1))
    client_ids = [f"idem-{n}" for n in range(200)]
    placed: dict[str, str] = {}

    async def place(ids: list[str]) -> None:
        for client_id in ids:
            order = await exchange.place_order(client_id=client_id, pair=PAIR, side=Side.BUY,
                                               order_type=OrderType.LIMIT, amount=Decimal("0.0001"), price=price)
            placed[client_id] = order.id

    with trio.fail_after(45):
        async with trio.open_nursery() as workers:
            for worker in range(4):
                workers.start_soon(place, client_ids[worker::4])
    on_exchange = Counter(order.client_id for order in sim.orders("main"))
    assert on_exchange == Counter(client_ids)  # every order exactly once: none lost, none doubled
    assert placed == {order.client_id: order.id for order in sim.orders("main")}
    assert exchange.ambiguous["timeout"] >= 10 and exchange.ambiguous["EService:Unavailable"] >= 10


async def test_bad_credentials_are_auth_errors_that_never_show_the_secret(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange], caplog: pytest.LogCaptureFixture) -> None:
    endpoints = await start(nursery, SimExchange(sim_config()))
    keys = endpoints.credentials["main"]
    caplog.set_level(logging.DEBUG)
    wrong_secret = adapter(endpoints, opened, secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
    unknown_key = adapter(endpoints, opened, api_key="not-a-key-at-all")
    public_only = adapter(endpoints, opened, api_key=None, secret=None)
    failures = []
    for exchange in (wrong_secret, unknown_key, public_only):
        with pytest.raises(ExchangeAuthError) as raised:
            await exchange.balances()
        failures.append(raised.value)
    assert "EAPI:Invalid" in str(failures[0]) and "EAPI:Invalid key" in str(failures[1])
    assert PAIR in await public_only.markets()  # public data needs no keys
    shown = " ".join([*(f"{e!s} {e!r}" for e in failures), repr(wrong_secret), repr(unknown_key), caplog.text])
    for secret in (keys.secret, "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==", "not-a-key-at-all", keys.api_key):
        assert secret not in shown


async def test_an_unreachable_server_fails_fast_naming_the_url() -> None:
    with trio.socket.socket() as probe:  # a port nobody listens on
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for url in (f"http://127.0.0.1:{port}", "http://no-such-host.invalid:8080"):
        exchange = KrakenCcxtExchange("key", "c2VjcmV0", rest_url=url, timeout_s=10, retries=3)
        with trio.fail_after(2), pytest.raises(ExchangeUnavailable, match=f"cannot reach kraken at {url}"):
            await exchange.markets()
        await exchange.close()


async def test_capabilities_report_the_order_types_the_server_accepts(
        nursery: trio.Nursery, opened: list[KrakenCcxtExchange]) -> None:
    sim = SimExchange(sim_config())
    limited = adapter(await start(nursery, sim, order_types=(OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LOSS)),
                      opened)
    capabilities = await limited.capabilities()
    assert capabilities.order_types == {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LOSS}
    assert capabilities.amend and capabilities.post_only and capabilities.pair_status == {}
    assert sim.orders("main") == []  # probing placed nothing
    assert (await adapter(await start(nursery, sim), opened).capabilities()).order_types == set(OrderType)
