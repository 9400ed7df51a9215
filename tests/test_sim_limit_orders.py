"""Limit orders in depth: post-only, partial fills over several candles, IOC, GTD, amend and validate-only.

The engine fixture prices XBT/USD at 16514.9 (bid 16510.7, ask 16519.1); account "a" holds USD 10000, XBT 0.25.
A buy limit holds its cost plus the base taker fee (0.26%); a maker fill pays 0.16%.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypy.protocols import OrderStatus, OrderType, Side, TimeInForce
from crypy.simulator import MatchingEngine, OrderRejected, UnknownOrder

from .sim_orders import candle as bar
from .sim_orders import close_of, place, totals

BUY, SELL = Side.BUY, Side.SELL
LIMIT = OrderType.LIMIT
D = Decimal


def reason_of(call) -> str:
    with pytest.raises(OrderRejected) as caught:
        call()
    return caught.value.reason


def test_post_only_is_refused_when_it_would_take_now(engine: MatchingEngine) -> None:
    assert reason_of(lambda: place(engine, BUY, LIMIT, "0.01", "16519.1", post_only=True)) == "EOrder:Post only order"
    assert reason_of(lambda: place(engine, SELL, LIMIT, "0.01", "16510.7", post_only=True)) == "EOrder:Post only order"
    assert engine.orders("a") == [] and totals(engine)["USD"] == (D(10000), 0)
    assert place(engine, BUY, LIMIT, "0.01", "16519.0", post_only=True).post_only
    assert place(engine, SELL, LIMIT, "0.01", "16510.8", post_only=True).status is OrderStatus.OPEN


def test_post_only_is_cancelled_instead_of_taking_when_the_next_candle_opens_through_it(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.01", "16500", post_only=True)
    assert engine.on_candle(bar(1, 16490, 16495, 16400, 16450)) == []
    cancelled = engine.order("a", order.id)
    assert (cancelled.status, cancelled.reason, cancelled.filled) == (
        OrderStatus.CANCELLED, "EOrder:Post only order", 0)
    assert totals(engine) == {"USD": (D(10000), 0), "XBT": (D("0.25"), 0)}


def test_post_only_fills_as_maker_when_the_range_crosses(engine: MatchingEngine) -> None:
    place(engine, BUY, LIMIT, "0.01", "16500", post_only=True)
    [fill] = engine.on_candle(bar(1, 16514.9, 16529, 16499.9, 16510))
    assert (fill.price, fill.liquidity, fill.fee) == (D("16500.0"), "maker", D("0.26400"))


def test_a_large_limit_order_fills_in_parts_with_exact_holds_and_fees(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.5", "16000")
    assert totals(engine)["USD"] == (D(10000), D("8020.8"))  # 8000 + taker fee 20.8
    # a quarter of the candle's 0.8 traded: 0.2 at 16000 as maker, fee 0.16% of 3200 = 5.12
    [first] = engine.on_candle(bar(1, 16100, 16150, 15990, 16050, volume=0.8))
    assert (first.amount, first.price, first.fee) == (D("0.2"), D("16000.0"), D("5.12"))
    state = engine.order("a", order.id)
    assert (state.status, state.filled, state.avg_price, state.fee) == (
        OrderStatus.PARTIALLY_FILLED, D("0.2"), D("16000.0"), D("5.12"))
    # the hold is now that of the 0.3 left: 4800 + 12.48
    assert totals(engine) == {"USD": (D("6794.88"), D("4812.48")), "XBT": (D("0.45"), 0)}
    assert engine.on_candle(bar(2, 16050, 16080, 16001, 16060, volume=5)) == []  # not crossed
    assert engine.on_candle(bar(3, 16050, 16080, 15900, 16000, volume=0.00000003)) == []  # a share rounds to 0
    [second] = engine.on_candle(bar(4, 16050, 16080, 15900, 16000, volume=0.4))
    assert (second.amount, second.fee) == (D("0.1"), D("2.56"))
    assert totals(engine)["USD"] == (D("5192.32"), D("3208.32"))
    # opening through the limit takes all that is left as a taker at the open's ask 15804.0; fee 0.26% of 3160.8
    [third] = engine.on_candle(bar(5, 15800, 15850, 15700, 15750, volume=0.01))
    assert (third.amount, third.price, third.fee, third.liquidity) == (D("0.2"), D("15804.0"), D("8.21808"), "taker")
    done = engine.order("a", order.id)
    assert (done.status, done.filled, done.avg_price, done.fee, done.closed) == (
        OrderStatus.FILLED, D("0.5"), D("15921.6"), D("15.89808"), close_of(5))
    assert totals(engine) == {"USD": (D("2023.30192"), 0), "XBT": (D("0.75"), 0)}


def test_a_sell_limit_releases_its_base_as_it_fills(engine: MatchingEngine) -> None:
    place(engine, SELL, LIMIT, "0.25", "17000")
    engine.on_candle(bar(1, 16600, 17100, 16590, 16900, volume=0.4))
    assert totals(engine)["XBT"] == (D("0.15"), D("0.15"))
    assert totals(engine)["USD"][0] == D(10000) + D(1700) - D("2.72")


def test_ioc_fills_what_it_can_on_the_next_candle_and_cancels_the_rest(engine: MatchingEngine) -> None:
    partly = place(engine, BUY, LIMIT, "0.5", "16000", time_in_force=TimeInForce.IOC)
    missed = place(engine, BUY, LIMIT, "0.01", "15000", time_in_force=TimeInForce.IOC)
    [fill] = engine.on_candle(bar(1, 16100, 16150, 15990, 16050, volume=0.8))
    assert fill.amount == D("0.2")
    assert [(o.status, o.filled, o.closed) for o in (engine.order("a", partly.id), engine.order("a", missed.id))] == [
        (OrderStatus.CANCELLED, D("0.2"), close_of(1)), (OrderStatus.CANCELLED, 0, close_of(1))]
    assert totals(engine) == {"USD": (D("6794.88"), 0), "XBT": (D("0.45"), 0)}


def test_gtd_expires_on_the_first_candle_closing_after_its_time(engine: MatchingEngine) -> None:
    expire = close_of(1) + 60_000
    order = place(engine, BUY, LIMIT, "0.01", "16000", time_in_force=TimeInForce.GTD, expire_ts=expire)
    assert engine.on_candle(bar(1, 16514.9, 16529, 16100, 16200)) == []
    assert engine.order("a", order.id).status is OrderStatus.OPEN
    # the next candle reaches the limit, but it closes after the order expired
    assert engine.on_candle(bar(2, 16200, 16210, 15900, 16000)) == []
    expired = engine.order("a", order.id)
    assert (expired.status, expired.closed, expired.expire_ts) == (OrderStatus.EXPIRED, expire, expire)
    assert totals(engine)["USD"] == (D(10000), 0)


@pytest.mark.parametrize(
    ("tif", "expire"), [(TimeInForce.GTD, close_of(0)), (TimeInForce.GTD, 0), (TimeInForce.GTC, close_of(5))])
def test_expiry_must_be_a_future_gtd_time(engine: MatchingEngine, tif: TimeInForce, expire: int) -> None:
    reason = reason_of(lambda: place(engine, BUY, LIMIT, "0.01", "16000", time_in_force=tif, expire_ts=expire))
    assert reason == "EGeneral:Invalid arguments:expiretm"
    assert engine.orders("a") == []


def test_amend_changes_amount_and_price_with_exact_hold_changes(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.01", "16000", client_id="c1")
    assert totals(engine)["USD"][1] == D("160.416")
    bigger = engine.amend("a", order.id, amount=D("0.02"), now_ms=close_of(0) + 1)
    assert (bigger.id, bigger.amount, bigger.price, bigger.ts) == (order.id, D("0.02"), D("16000.0"), close_of(0) + 1)
    assert totals(engine)["USD"][1] == D("320.832")
    assert engine.amend("a", order.id, price=D("15000.04"), now_ms=close_of(0)).price == D("15000.0")
    assert totals(engine)["USD"][1] == D("300.78")
    smaller = engine.amend("a", order.id, amount=D("0.005"), now_ms=close_of(0))
    assert (smaller.amount, smaller.status, smaller.client_id) == (D("0.005"), OrderStatus.OPEN, "c1")
    assert totals(engine)["USD"] == (D(10000), D("75.195"))
    [fill] = engine.on_candle(bar(1, 15100, 15200, 14900, 15000))
    assert (fill.amount, fill.price) == (D("0.005"), D("15000.0"))


def test_amend_refusals_change_nothing(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.01", "16000")
    stop = place(engine, SELL, OrderType.STOP_LOSS, "0.01", trigger_price=D("16000"))
    cases = [
        (lambda: engine.amend("a", order.id, amount=D(1), now_ms=0), "EOrder:Insufficient funds"),
        (lambda: engine.amend("a", order.id, amount=D("0.00001"), now_ms=0), "EOrder:Order minimum not met"),
        (lambda: engine.amend("a", order.id, amount=D(0), now_ms=0), "EGeneral:Invalid arguments:order_qty"),
        (lambda: engine.amend("a", order.id, price=D("-1"), now_ms=0), "EGeneral:Invalid arguments:limit_price"),
        (lambda: engine.amend("a", order.id, trigger_price=D(1), now_ms=0),
         "EGeneral:Invalid arguments:trigger_price"),
        (lambda: engine.amend("a", stop.id, price=D(1), now_ms=0), "EGeneral:Invalid arguments:limit_price"),
        (lambda: engine.amend("a", order.id, now_ms=0), "EGeneral:Invalid arguments"),
    ]
    for call, reason in cases:
        assert reason_of(call) == reason
    assert engine.orders("a") == [order, stop]
    assert totals(engine) == {"USD": (D(10000), D("160.416")), "XBT": (D("0.25"), D("0.01"))}
    engine.cancel("a", order.id, now_ms=0)
    for missing in (order.id, "ONOPE0-00000-000000"):
        with pytest.raises(UnknownOrder, match="EOrder:Unknown order"):
            engine.amend("a", missing, amount=D("0.02"), now_ms=0)


def test_amend_of_a_partly_filled_order_counts_what_has_filled(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.5", "16000")
    engine.on_candle(bar(1, 16100, 16150, 15990, 16050, volume=0.8))  # 0.2 filled
    assert reason_of(lambda: engine.amend("a", order.id, amount=D("0.1"), now_ms=close_of(1))) == (
        "EGeneral:Invalid arguments:order_qty")
    engine.amend("a", order.id, amount=D("0.3"), now_ms=close_of(1))
    assert totals(engine)["USD"][1] == D("1604.16")  # 0.1 left: 1600 + 4.16
    done = engine.amend("a", order.id, amount=D("0.2"), now_ms=close_of(1) + 5)
    assert (done.status, done.filled, done.closed) == (OrderStatus.FILLED, D("0.2"), close_of(1) + 5)
    assert totals(engine)["USD"] == (D("6794.88"), 0)


def test_a_post_only_amend_may_not_make_it_marketable(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.01", "16500", post_only=True)
    assert reason_of(lambda: engine.amend("a", order.id, price=D("16600"), now_ms=0)) == "EOrder:Post only order"
    assert engine.order("a", order.id).price == D("16500.0")


def test_amending_a_stop_trigger_moves_where_it_fires(engine: MatchingEngine) -> None:
    stop = place(engine, SELL, OrderType.STOP_LOSS, "0.01", trigger_price=D("16000"))
    engine.amend("a", stop.id, trigger_price=D("16450"), now_ms=close_of(0))
    assert [f.price for f in engine.on_candle(bar(1, 16514.9, 16529, 16440, 16460))] == [D("16445.8")]
    with pytest.raises(UnknownOrder):
        engine.amend("a", stop.id, trigger_price=D("16000"), now_ms=close_of(1))


def test_validate_checks_everything_but_stores_and_holds_nothing(engine: MatchingEngine) -> None:
    events: list = []
    engine.add_listener(lambda account, event: events.append(event))
    checked = place(engine, BUY, LIMIT, "0.01", "16000.04", client_id="v", validate=True, userref=7)
    assert (checked.id, checked.status, checked.price, checked.userref) == ("", OrderStatus.PENDING, D("16000.0"), 7)
    assert engine.orders("a") == [] and events == []
    assert totals(engine) == {"USD": (D(10000), 0), "XBT": (D("0.25"), 0)}
    assert reason_of(lambda: place(engine, BUY, LIMIT, "1", "16000", validate=True)) == "EOrder:Insufficient funds"
    assert reason_of(lambda: place(engine, BUY, LIMIT, "0.01", "17000", post_only=True, validate=True)) == (
        "EOrder:Post only order")
    place(engine, BUY, LIMIT, "0.01", "16000", client_id="v")  # the validated client id was not taken
