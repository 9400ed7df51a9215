"""SimExchange: the bundled market by default, clear errors for unknown pairs, and trading while time runs."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing

from crypy.protocols import Balance, OrderStatus, OrderType, Side
from crypy.simulator import (
    DEFAULT_MARKETS,
    ExchangeError,
    MarketSpec,
    OrderRejected,
    SimConfig,
    SimExchange,
    load_candles,
)

from .conftest import MARKET_DATA


def test_defaults_trade_the_bundled_pairs_with_the_default_account() -> None:
    exchange = SimExchange(SimConfig())
    assert set(exchange.markets()) == {"XBT/USD", "ETH/USD"}
    assert exchange.markets()["XBT/USD"] == DEFAULT_MARKETS["XBT/USD"].info()
    assert exchange.timeframes("XBT/USD") == ["15m"]
    assert exchange.balances("default") == {
        "USD": Balance(asset="USD", total=Decimal(10000)), "XBT": Balance(asset="XBT", total=Decimal("0.25"))}
    history = exchange.candles("XBT/USD", "15m")
    assert len(history) == 720 and history[-1].ts + 900_000 == exchange.now_ms()
    ticker = exchange.ticker("XBT/USD")
    # bid/ask are half the 0.05% spread around the last close, rounded away from it to a tick
    assert ticker.last == history[-1].close and ticker.bid < ticker.last < ticker.ask
    assert ticker.ask - ticker.bid == pytest.approx(ticker.last * 0.0005, abs=0.2)


def test_pairs_without_a_market_spec_are_refused_clearly(tmp_path: Path) -> None:
    doge = tmp_path / "kraken_DOGEUSD_15m.csv.gz"
    shutil.copy(MARKET_DATA / "kraken_SOLUSD_15m.csv.gz", doge)
    with pytest.raises(ValueError, match="no market spec for DOGE/USD"):
        SimExchange(SimConfig(data_files=[str(doge)]))
    sol = str(MARKET_DATA / "kraken_SOLUSD_15m.csv.gz")
    with pytest.raises(ValueError, match="no market spec for SOL/USD"):
        SimExchange(SimConfig(data_files=[sol], markets={"XBT/USD": DEFAULT_MARKETS["XBT/USD"]}))
    assert set(SimExchange(SimConfig(data_files=[sol])).markets()) == {"SOL/USD"}


def test_config_reads_from_plain_data() -> None:
    flat_taker = msgspec.to_builtins(DEFAULT_MARKETS["XBT/USD"]) | {"taker_fee": "0.004", "fee_tiers": []}
    raw = {"speed": 60, "seed": 3, "accounts": {"x": {"USD": "5"}}, "fill_share": "0.5",
           "markets": {"XBT/USD": flat_taker, "ETH/USD": msgspec.to_builtins(DEFAULT_MARKETS["ETH/USD"])}}
    config = msgspec.convert(raw, SimConfig, strict=False)
    assert config.accounts == {"x": {"USD": Decimal(5)}} and config.fill_share == Decimal("0.5")
    xbt = config.markets["XBT/USD"]
    assert isinstance(xbt, MarketSpec) and xbt.taker_fee == Decimal("0.004")
    assert xbt.taker_schedule == ((0, Decimal("0.400")),) and xbt.fee_rates(Decimal(10**9))[1] == Decimal("0.004")
    assert SimExchange(config).markets()["XBT/USD"].taker_fee == "0.004"
    stale_tiers = msgspec.to_builtins(DEFAULT_MARKETS["XBT/USD"]) | {"taker_fee": "0.004"}
    with pytest.raises(msgspec.ValidationError, match="first fee tier must equal"):
        msgspec.convert(stale_tiers, MarketSpec, strict=False)


async def test_orders_fill_as_market_time_runs(autojump_clock: trio.testing.MockClock) -> None:
    exchange = SimExchange(SimConfig(warmup=720))
    btc = load_candles(MARKET_DATA / "kraken_BTCUSD_15m.csv.gz")
    start = exchange.now_ms()
    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.run)
        buy = exchange.place_order("default", "t-1", "XBT/USD", Side.BUY, OrderType.MARKET, Decimal("0.01"))
        rest = exchange.place_order("default", "t-2", "XBT/USD", Side.SELL, OrderType.LIMIT, Decimal("0.01"), Decimal("99999"))
        assert [o.id for o in exchange.open_orders("default")] == [buy.id, rest.id]
        await trio.sleep(0.3)  # past the close of one 15-minute candle at speed 3600
        [fill] = exchange.fills("default")
        expected = DEFAULT_MARKETS["XBT/USD"].round_price(Decimal(repr(btc[720].open)) * Decimal("1.00025"), "ROUND_CEILING")
        assert (fill.order_id, fill.price, fill.ts) == (buy.id, expected, start + 900_000)
        assert exchange.order("default", buy.id).status is OrderStatus.FILLED
        assert exchange.cancel_order("default", rest.id).status is OrderStatus.CANCELLED
        assert exchange.balances("default")["XBT"] == Balance(asset="XBT", total=Decimal("0.26"))
        assert exchange.fills("default", 1) == [] and len(exchange.orders("default")) == 2
        nursery.cancel_scope.cancel()


async def test_exchange_errors_use_kraken_reasons(autojump_clock: trio.testing.MockClock) -> None:
    exchange = SimExchange(SimConfig())
    for call, reason in (
        (lambda: exchange.ticker("DOGE/USD"), "EQuery:Unknown asset pair"),
        (lambda: exchange.candles("DOGE/USD", "15m"), "EQuery:Unknown asset pair"),
        (lambda: exchange.candles("XBT/USD", "1h"), "EGeneral:Invalid arguments:interval"),
        (lambda: exchange.balances("nobody"), "EAPI:Invalid key"),
        (lambda: exchange.order("default", "OXXXXX-XXXXX-XXXXXX"), "EOrder:Unknown order"),
    ):
        with pytest.raises(ExchangeError) as caught:
            call()
        assert caught.value.reason == reason
    with pytest.raises(OrderRejected, match="EOrder:Insufficient funds"):
        exchange.place_order("default", "big", "ETH/USD", Side.SELL, OrderType.MARKET, Decimal(1))
