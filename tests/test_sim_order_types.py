"""Stop, take-profit and trailing orders: when they trigger, where they execute, and what they must be given.

The engine fixture prices XBT/USD at 16514.9 (bid 16510.7, ask 16519.1); account "a" holds USD 10000, XBT 0.25.
Spread 0.05%: a triggered order executes half a spread (0.025%) worse than its reference, rounded against it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypy.protocols import OrderStatus, OrderType, Side
from crypy.simulator import DEFAULT_MARKETS, MatchingEngine, OrderRejected

from .sim_orders import candle as bar
from .sim_orders import close_of, place, totals

BUY, SELL = Side.BUY, Side.SELL
STOP, TAKE = OrderType.STOP_LOSS, OrderType.TAKE_PROFIT
STOP_LIMIT, TAKE_LIMIT = OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT
TRAILING = OrderType.TRAILING_STOP
D = Decimal


def summary(fills: list) -> list[tuple[Decimal, Decimal, Decimal, str]]:
    return [(f.price, f.amount, f.fee, f.liquidity) for f in fills]


def test_touching_the_trigger_fires_it(engine: MatchingEngine) -> None:
    order = place(engine, SELL, STOP, "0.01", trigger_price=D("16400"))
    assert (order.status, order.trigger_price, order.price) == (OrderStatus.OPEN, D("16400.0"), None)
    assert totals(engine)["XBT"] == (D("0.25"), D("0.01"))
    assert [f.price for f in engine.on_candle(bar(1, 16514.9, 16529, 16400.0, 16500))] == [D("16395.9")]


def test_stop_loss_sell_triggers_at_the_trigger_less_half_a_spread(engine: MatchingEngine) -> None:
    order = place(engine, SELL, STOP, "0.01", trigger_price=D("16400"))
    assert engine.on_candle(bar(1, 16514.9, 16529, 16450, 16500)) == []
    # 16400 * 0.99975 = 16395.9; cost 163.959, taker fee 0.4262934 -> 0.42629
    fills = engine.on_candle(bar(2, 16500, 16510, 16380, 16390))
    assert summary(fills) == [(D("16395.9"), D("0.01"), D("0.42629"), "taker")]
    done = engine.order("a", order.id)
    assert (done.status, done.filled, done.avg_price, done.fee, done.closed) == (
        OrderStatus.FILLED, D("0.01"), D("16395.9"), D("0.42629"), close_of(2))
    assert engine.triggered("a", order.id)
    assert totals(engine) == {"USD": (D("10163.53271"), 0), "XBT": (D("0.24"), 0)}


def test_stop_loss_sell_gapped_through_executes_around_the_open(engine: MatchingEngine) -> None:
    place(engine, SELL, STOP, "0.01", trigger_price=D("16400"))
    # the open 16300 is already below 16400: 16300 * 0.99975 = 16295.925 -> 16295.9
    assert summary(engine.on_candle(bar(1, 16300, 16350, 16250, 16320))) == [
        (D("16295.9"), D("0.01"), D("0.42369"), "taker")]


def test_stop_loss_buy_triggers_on_the_high_and_holds_like_a_market_buy(engine: MatchingEngine) -> None:
    place(engine, BUY, STOP, "0.01", trigger_price=D("16600"))
    # ask(16600) = 16604.2; (166.042 + fee 0.43171) * 1.02 = 169.8031842 -> up to 169.80319
    assert totals(engine)["USD"] == (D(10000), D("169.80319"))
    assert engine.on_candle(bar(1, 16514.9, 16599.9, 16500, 16550)) == []
    [fill] = engine.on_candle(bar(2, 16550, 16650, 16540, 16640))
    assert (fill.price, fill.side) == (D("16604.2"), BUY)
    assert totals(engine)["USD"][1] == 0


def test_take_profit_sells_when_the_high_reaches_it_and_gaps_in_the_sellers_favour(engine: MatchingEngine) -> None:
    place(engine, SELL, TAKE, "0.01", trigger_price=D("16600"))
    place(engine, SELL, TAKE, "0.01", trigger_price=D("16650"))
    assert summary(engine.on_candle(bar(1, 16514.9, 16600, 16500, 16590))) == [
        (D("16595.8"), D("0.01"), D("0.43149"), "taker")]  # 16600 * 0.99975 = 16595.85 -> 16595.8
    # the second opens above its trigger: 16700 * 0.99975 = 16695.825 -> 16695.8
    assert [f.price for f in engine.on_candle(bar(2, 16700, 16720, 16690, 16710))] == [D("16695.8")]


def test_take_profit_buy_fires_when_the_price_falls_to_it(engine: MatchingEngine) -> None:
    place(engine, BUY, TAKE, "0.01", trigger_price=D("16400"))
    assert engine.on_candle(bar(1, 16514.9, 16529, 16401, 16500)) == []
    [fill] = engine.on_candle(bar(2, 16500, 16510, 16390, 16395))
    assert fill.price == D("16404.1")  # 16400 * 1.00025 = 16404.1


def test_stop_loss_limit_rests_after_triggering_and_fills_as_maker_from_the_next_candle(engine: MatchingEngine) -> None:
    order = place(engine, SELL, STOP_LIMIT, "0.01", "16440", trigger_price=D("16450"))
    # triggers (low 16420 <= 16450); the same candle went below the limit, but a fresh limit order waits
    assert engine.on_candle(bar(1, 16514.9, 16529, 16420, 16430)) == []
    assert engine.triggered("a", order.id) and engine.order("a", order.id).status is OrderStatus.OPEN
    assert engine.order("a", order.id).ts == close_of(1)
    # open 16430 is below the sell limit (no gap), the high 16445 crosses it: maker at 16440, fee 0.16% of 164.4
    assert summary(engine.on_candle(bar(2, 16430, 16445, 16400, 16420))) == [
        (D("16440.0"), D("0.01"), D("0.26304"), "maker")]
    assert totals(engine) == {"USD": (D("10164.13696"), 0), "XBT": (D("0.24"), 0)}


def test_take_profit_limit_buy_becomes_a_limit_order_and_takes_through_a_gap(engine: MatchingEngine) -> None:
    place(engine, BUY, TAKE_LIMIT, "0.01", "16410", trigger_price=D("16400"))
    assert totals(engine)["USD"] == (D(10000), D("164.52666"))  # buy hold at the limit: 164.1 + fee 0.42666
    assert engine.on_candle(bar(1, 16514.9, 16529, 16390, 16395)) == []
    # next candle opens at 16300, through the 16410 limit: a taker at the open's ask 16304.1
    assert summary(engine.on_candle(bar(2, 16300, 16320, 16290, 16310))) == [
        (D("16304.1"), D("0.01"), D("0.42391"), "taker")]


def test_trailing_stop_sell_follows_the_peak_along_the_candle_path(engine: MatchingEngine) -> None:
    order = place(engine, SELL, TRAILING, "0.01", trailing_offset=D("100"))
    assert (order.trailing_offset, order.trailing_percent, order.trigger_price) == (D("100.0"), False, None)
    # rising candle: open, low 16500 (stop 16414.9 holds), high 16700 (peak; stop 16600), close 16690
    assert engine.on_candle(bar(1, 16514.9, 16700, 16500, 16690)) == []
    # a fixed stop at the placement price less 100 (16414.9) would not fire here; the trailing one (16600) ...
    assert engine.on_candle(bar(2, 16690, 16695, 16605, 16650)) == []
    # ... falls behind the new peak 16720 (stop 16620), which this falling candle reaches after its high
    [fill] = engine.on_candle(bar(3, 16690, 16720, 16610, 16650))
    assert (fill.price, fill.fee) == (D("16615.8"), D("0.43201"))  # 16620 * 0.99975 = 16615.845 -> down


def test_trailing_stop_does_not_use_a_high_that_came_after_the_low(engine: MatchingEngine) -> None:
    place(engine, SELL, TRAILING, "0.01", trailing_offset=D("100"))
    # rising candle: the low 16450 comes first (stop 16414.9), only then the high 16800
    assert engine.on_candle(bar(1, 16514.9, 16800, 16450, 16790)) == []
    # a gap below the trailed stop (16700) executes around the open
    assert [f.price for f in engine.on_candle(bar(2, 16650, 16660, 16600, 16610))] == [D("16645.8")]


def test_trailing_stop_buy_in_percent_tracks_the_trough(engine: MatchingEngine) -> None:
    order = place(engine, BUY, TRAILING, "0.01", trailing_offset=D("1"), trailing_percent=True)
    assert order.trailing_percent
    # hold at the worst trigger from now, 1% above the last price: ask(16680.049) = 16684.3, +fee, +2%
    assert totals(engine)["USD"] == (D(10000), D("170.62233"))
    assert engine.on_candle(bar(1, 16514.9, 16520, 16300, 16400)) == []  # trough 16300, stop 16463
    assert engine.on_candle(bar(2, 16400, 16450, 16200, 16250)) == []  # high first; then trough 16200, stop 16362
    [fill] = engine.on_candle(bar(3, 16250, 16400, 16240, 16390))
    assert (fill.price, fill.fee) == (D("16366.1"), D("0.42552"))  # 16362 * 1.00025 = 16366.0905 -> up
    assert totals(engine)["USD"] == (D(10000) - D("163.661") - D("0.42552"), 0)


def test_a_triggered_buy_that_can_no_longer_pay_is_cancelled_with_the_reason() -> None:
    eng = MatchingEngine(DEFAULT_MARKETS)
    eng.open_account("a", {"USD": D("170")})
    eng.on_candle(bar(0, 16528.7, 16530, 16511, 16514.9))
    order = place(eng, BUY, STOP, "0.01", trigger_price=D("16600"))
    assert eng.on_candle(bar(1, 18000, 18100, 17900, 18050)) == []  # gapped far above what the hold covers
    cancelled = eng.order("a", order.id)
    assert (cancelled.status, cancelled.reason, cancelled.closed) == (
        OrderStatus.CANCELLED, "EOrder:Insufficient funds", close_of(1))
    assert totals(eng) == {"USD": (D(170), 0)}


@pytest.mark.parametrize(
    ("order_type", "kwargs", "reason"),
    [
        (STOP, {}, "EGeneral:Invalid arguments:price"),
        (STOP, {"trigger_price": D(0)}, "EGeneral:Invalid arguments:price"),
        (TAKE, {"trigger_price": D("NaN")}, "EGeneral:Invalid arguments:price"),
        (STOP_LIMIT, {"trigger_price": D(16400)}, "EGeneral:Invalid arguments:price"),
        (TAKE_LIMIT, {"price": D(16400)}, "EGeneral:Invalid arguments:price"),
        (TRAILING, {}, "EGeneral:Invalid arguments:price"),
        (TRAILING, {"trailing_offset": D("0.04")}, "EGeneral:Invalid arguments:price"),
        (TRAILING, {"trailing_offset": D(100), "trailing_percent": True}, "EGeneral:Invalid arguments:price"),
        (OrderType.MARKET, {"post_only": True}, "EGeneral:Invalid arguments:oflags"),
        (STOP, {"trigger_price": D(16400), "post_only": True}, "EGeneral:Invalid arguments:oflags"),
        (STOP, {"trigger_price": D(1000)}, "EOrder:Cost minimum not met"),
    ],
)
def test_triggered_types_need_their_prices(engine: MatchingEngine, order_type: OrderType, kwargs: dict,
                                           reason: str) -> None:
    price = kwargs.pop("price", None)
    with pytest.raises(OrderRejected) as caught:
        engine.place("a", client_id="", pair="XBT/USD", side=SELL, order_type=order_type, amount=D("0.0001"),
                     price=price, now_ms=close_of(0), **kwargs)
    assert caught.value.reason == reason
    assert engine.orders("a") == [] and totals(engine)["XBT"] == (D("0.25"), 0)
