"""What the public sees: ticker statistics, the order book with resting orders, and the trade tape.

A hand-made hourly XBT/USD file makes every number checkable by hand: candle ``i`` opens at ``100 + i``, reaches
``99 + i`` and ``102 + i``, closes at ``101 + i`` and trades 4 XBT, so its synthetic trades are 1 XBT each at
``100 + i``, ``99 + i``, ``102 + i``, ``101 + i`` (a rising candle dips first).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio
import trio.testing

from crypy.protocols import Candle, OrderStatus, OrderType, Side, TimeInForce
from crypy.simulator import DEFAULT_MARKETS, OrderBook, SimConfig, SimExchange, TickerStats
from crypy.simulator.market_stats import candle_trade_count, candle_trades

from .conftest import real_candles

T0 = 1672531200000  # 2023-01-01 00:00 UTC
HOUR = 3_600_000
D = Decimal


@pytest.fixture
def exchange(tmp_path: Path) -> SimExchange:
    """26 hours of history (candles 0..25, last close 126); market time starts at 02:00 on 2 January."""
    rows = [f"{T0 + i * HOUR},{100 + i},{102 + i},{99 + i},{101 + i},4" for i in range(30)]
    data = tmp_path / "kraken_XBTUSD_1h.csv"
    data.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return SimExchange(SimConfig(data_files=[str(data)], warmup=26, accounts={"a": {"USD": D(1000), "XBT": D(1)}}))


def test_ticker_stats_match_a_hand_computation(exchange: SimExchange) -> None:
    assert exchange.now_ms() == T0 + 26 * HOUR
    # last 24 h: candles 2..25, 96 trades of 1; VWAP (24 * 402 + 4 * (2 + ... + 25)) / 96 = 10944 / 96 = 114
    # today (since 00:00 on 2 January): candles 24 and 25, (804 + 4 * 49) / 8 = 125
    assert exchange.ticker_stats("XBT/USD") == TickerStats(
        bid=D("125.9"), ask=D("126.1"), bid_qty=D("0.2"), ask_qty=D("0.2"), last=D("126"), last_qty=D(1),
        open_24h=D(102), high_24h=D(127), low_24h=D(101), volume_24h=D(96), vwap_24h=D("114.0"), trades_24h=96,
        open_today=D(124), high_today=D(127), low_today=D(123), volume_today=D(8), vwap_today=D("125.0"),
        trades_today=8,
    )


def test_the_book_is_a_synthetic_ladder_merged_with_resting_orders(exchange: SimExchange) -> None:
    # one level per tick from bid 125.9 / ask 126.1; the best holds 5% of the recent average volume (4): 0.2
    ladder = exchange.order_book("XBT/USD", 3)
    assert ladder == OrderBook(bids=[(D("125.9"), D("0.2")), (D("125.8"), D("0.4")), (D("125.7"), D("0.6"))],
                               asks=[(D("126.1"), D("0.2")), (D("126.2"), D("0.4")), (D("126.3"), D("0.6"))],
                               ts=T0 + 26 * HOUR)
    place = exchange.place_order
    place("a", "at-bid", "XBT/USD", Side.BUY, OrderType.LIMIT, D("0.5"), D("125.9"))
    place("a", "inside", "XBT/USD", Side.SELL, OrderType.LIMIT, D("0.3"), D("126.0"), post_only=True)
    place("a", "far", "XBT/USD", Side.BUY, OrderType.LIMIT, D("0.5"), D("100"))
    place("a", "ioc", "XBT/USD", Side.BUY, OrderType.LIMIT, D("0.5"), D("125.8"), time_in_force=TimeInForce.IOC)
    place("a", "stop", "XBT/USD", Side.SELL, OrderType.STOP_LOSS_LIMIT, D("0.5"), D("125.7"), trigger_price=D(125))
    book = exchange.order_book("XBT/USD", 3)
    assert book.bids == [(D("125.9"), D("0.7")), (D("125.8"), D("0.4")), (D("125.7"), D("0.6"))]
    assert book.asks == [(D("126.0"), D("0.3")), (D("126.1"), D("0.2")), (D("126.2"), D("0.4"))]
    assert exchange.order_book("XBT/USD", 3) == book
    assert (exchange.ticker_stats("XBT/USD").bid_qty, exchange.ticker_stats("XBT/USD").ask) == (D("0.7"), D("126.0"))
    assert (D(100), D("52.5")) in exchange.order_book("XBT/USD", 300).bids  # level 259: 260 * 0.2, plus "far"


async def test_the_tape_adds_fills_after_their_candles_trades_in_time_order(
    exchange: SimExchange, autojump_clock: trio.testing.MockClock
) -> None:
    history = exchange.public_trades("XBT/USD", None, 1000)
    assert [t.trade_id for t in history] == list(range(1, 105))
    seen: list[tuple[int, int]] = []

    def on_candles(candles: Sequence[Candle]) -> None:  # runs after matching: the fill is already there
        seen.extend((candle.ts, len(exchange.fills("a"))) for candle in candles)

    exchange.add_candle_listener(on_candles)
    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.run)
        exchange.place_order("a", "m", "XBT/USD", Side.BUY, OrderType.MARKET, D("0.1"))
        await trio.sleep(1.1)  # one hour of market time at speed 3600
        nursery.cancel_scope.cancel()
    assert seen == [(T0 + 26 * HOUR, 1)]
    start = T0 + 26 * HOUR
    latest = exchange.public_trades("XBT/USD", None, 5)
    assert [(t.trade_id, t.ts_ms, t.price, t.amount, t.side, t.order_type) for t in latest] == [
        (105, start, D(126), D(1), "b", "m"), (106, start + 900_000, D(125), D(1), "s", "m"),
        (107, start + 1_800_000, D(128), D(1), "b", "m"), (108, start + 2_700_000, D(127), D(1), "s", "m"),
        (109, start + HOUR, D("126.1"), D("0.1"), "b", "m"),  # the market buy at ask(126)
    ]
    assert [t.trade_id for t in exchange.public_trades("XBT/USD", start + 1_800_000, 2)] == [107, 108]
    tape = exchange.public_trades("XBT/USD", 0, 1000)
    assert [t.trade_id for t in tape] == list(range(1, 110))
    assert all(a.ts_ms <= b.ts_ms for a, b in zip(tape, tape[1:], strict=False))


def test_the_facade_exposes_the_engine(exchange: SimExchange) -> None:
    assert exchange.pairs == ("XBT/USD",) and exchange.spread == D("0.0005")
    assert exchange.specs() == {"XBT/USD": DEFAULT_MARKETS["XBT/USD"]}
    assert exchange.specs()["XBT/USD"].taker_schedule[1] == (D(50000), D("0.24"))
    events: list = []
    exchange.add_listener(lambda account, event: events.append((account, event.id)))
    checked = exchange.place_order("a", "v", "XBT/USD", Side.BUY, OrderType.LIMIT, D(1), D(120), validate=True)
    assert checked.id == "" and exchange.orders("a") == [] and events == []
    order = exchange.place_order("a", "c", "XBT/USD", Side.BUY, OrderType.LIMIT, D(1), D(120), userref=3)
    assert exchange.order_by_client_id("a", "c") == order and events == [("a", order.id)]
    assert exchange.amend_order("a", order.id, price=D(121)).price == D("121.0")
    assert exchange.balances("a")["USD"].held == D(121) + D("0.31460")
    assert exchange.cancel_all("a") == 1 and exchange.closed_orders("a")[0].status is OrderStatus.CANCELLED
    assert exchange.fee_rates("a", "XBT/USD") == (D("0.0016"), D("0.0026")) and exchange.volume("a") == 0
    assert not exchange.order_triggered("a", order.id)


@pytest.mark.parametrize("name", ["kraken_BTCUSD_15m.csv.gz", "kraken_ETHUSD_15m.csv.gz"])
def test_the_tape_counts_a_candles_trades_without_building_them(name: str) -> None:
    candles = real_candles(name)[-2000:]
    spec = DEFAULT_MARKETS[candles[0].pair]
    lot = 10.0 ** -spec.amount_decimals
    candles += [msgspec.structs.replace(candles[-1], volume=lots * lot)  # around the few-lots edge
                for lots in (0, 0.5, 1, 3, 3.99, 4, 4.01, 4.04, 4.05, 5, 7.5, 8, 400)]
    assert [candle_trade_count(c, spec) for c in candles] == [len(candle_trades(c, spec, 1)) for c in candles]
