"""The matching engine: validation with Kraken's reasons, holds, fills at honest prices, exact fees."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from crypy.protocols import OrderStatus
from crypy.simulator import DEFAULT_MARKETS, ExchangeError, MatchingEngine, OrderRejected, UnknownOrder, bookkeeping

from .sim_orders import BUY, LIMIT, MARKET, SELL, T0, candle, close_of, place, totals


def test_market_buy_fills_at_next_open_plus_half_spread_with_taker_fee(engine: MatchingEngine) -> None:
    order = place(engine, BUY, MARKET, "0.01")
    assert order.status is OrderStatus.PENDING and order.price is None
    assert totals(engine)["USD"] == (Decimal(10000), Decimal("168.93291"))
    fills = engine.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9))
    # 16514.9 * 1.00025 = 16519.028725 -> up to 16519.1; cost 165.191; fee 0.26% = 0.4294966 -> 0.42950
    assert [(f.price, f.amount, f.fee, f.fee_asset, f.liquidity) for f in fills] == [
        (Decimal("16519.1"), Decimal("0.01"), Decimal("0.42950"), "USD", "taker")]
    assert totals(engine) == {"USD": (Decimal("9834.37950"), 0), "XBT": (Decimal("0.26"), 0)}
    filled = engine.order("a", order.id)
    assert (filled.status, filled.filled, filled.avg_price, filled.fee, filled.ts) == (
        OrderStatus.FILLED, Decimal("0.01"), Decimal("16519.1"), Decimal("0.42950"), close_of(1))


def test_market_sell_fills_at_next_open_minus_half_spread(engine: MatchingEngine) -> None:
    place(engine, SELL, MARKET, "0.01")
    assert totals(engine)["XBT"] == (Decimal("0.25"), Decimal("0.01"))
    [fill] = engine.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9))
    # 16514.9 * 0.99975 = 16510.771275 -> down to 16510.7; cost 165.107; fee 0.4292782 -> 0.42928
    assert (fill.price, fill.fee) == (Decimal("16510.7"), Decimal("0.42928"))
    assert totals(engine) == {"USD": (Decimal("10164.67772"), 0), "XBT": (Decimal("0.24"), 0)}
    assert engine.fees() == {"USD": Decimal("0.42928")}


def test_orders_arriving_after_a_candle_closed_wait_for_the_next(engine: MatchingEngine) -> None:
    order = place(engine, BUY, MARKET, "0.01", now_ms=close_of(1))
    assert engine.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9)) == []
    assert engine.order("a", order.id).status is OrderStatus.PENDING
    [fill] = engine.on_candle(candle(2, 16600.0, 16610, 16590, 16605))
    assert fill.price == Decimal("16604.2")  # 16600 * 1.00025 = 16604.15 -> up


def test_limit_buy_rests_then_fills_at_its_price_as_maker(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.01", "16500.04")
    assert order.status is OrderStatus.OPEN and order.price == Decimal("16500.0")
    assert totals(engine)["USD"] == (Decimal(10000), Decimal("165.42900"))  # 165 + taker fee 0.429
    assert engine.on_candle(candle(1, 16514.9, 16529, 16500.0, 16528.9)) == []  # touching is not crossing
    [fill] = engine.on_candle(candle(2, 16520, 16530, 16499.9, 16510))
    assert (fill.price, fill.liquidity, fill.fee) == (Decimal("16500.0"), "maker", Decimal("0.26400"))
    assert totals(engine) == {"USD": (Decimal("9834.73600"), 0), "XBT": (Decimal("0.26"), 0)}


def test_limit_buy_gapped_through_fills_at_the_open_ask_as_taker(engine: MatchingEngine) -> None:
    place(engine, BUY, LIMIT, "0.01", "17000")
    place(engine, BUY, LIMIT, "0.01", "16601")
    fills = engine.on_candle(candle(1, 16600.0, 16650, 16590, 16620))
    # ask at the open: 16600 * 1.00025 = 16604.15 -> 16604.2, capped by each limit
    assert [(f.price, f.liquidity, f.fee) for f in fills] == [
        (Decimal("16604.2"), "taker", Decimal("0.43171")), (Decimal("16601.0"), "taker", Decimal("0.43163"))]


def test_limit_sells_fill_as_maker_inside_the_range_and_as_taker_through_a_gap(engine: MatchingEngine) -> None:
    place(engine, SELL, LIMIT, "0.01", "16700")
    place(engine, SELL, LIMIT, "0.01", "16000")
    place(engine, SELL, LIMIT, "0.01", "17000")
    fills = engine.on_candle(candle(1, 16600.0, 16750, 16590, 16620))
    # 16600 * 0.99975 = 16595.85 -> down to 16595.8; maker fee 167 * 0.0016 = 0.2672
    assert [(f.price, f.liquidity, f.fee) for f in fills] == [
        (Decimal("16700.0"), "maker", Decimal("0.26720")), (Decimal("16595.8"), "taker", Decimal("0.43149"))]
    assert [o.price for o in engine.open_orders("a")] == [Decimal("17000.0")]
    assert totals(engine)["XBT"] == (Decimal("0.23"), Decimal("0.01"))


def test_cancel_releases_the_hold_and_only_once(engine: MatchingEngine) -> None:
    order = place(engine, BUY, LIMIT, "0.01", "16000")
    sell = place(engine, SELL, MARKET, "0.02")
    cancelled = engine.cancel("a", order.id, now_ms=close_of(0) + 5)
    assert (cancelled.status, cancelled.ts) == (OrderStatus.CANCELLED, close_of(0) + 5)
    engine.cancel("a", sell.id, now_ms=close_of(0) + 6)
    assert totals(engine) == {"USD": (Decimal(10000), 0), "XBT": (Decimal("0.25"), 0)}
    assert engine.open_orders("a") == [] and len(engine.orders("a")) == 2
    with pytest.raises(UnknownOrder, match="EOrder:Unknown order.*already cancelled"):
        engine.cancel("a", order.id, now_ms=close_of(0))
    with pytest.raises(UnknownOrder, match="EOrder:Unknown order"):
        engine.cancel("a", "ONOPE0-00000-000000", now_ms=close_of(0))
    assert engine.on_candle(candle(1, 15000, 17000, 14000, 16000)) == []


def test_filled_orders_cannot_be_cancelled(engine: MatchingEngine) -> None:
    order = place(engine, BUY, MARKET, "0.01")
    engine.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9))
    with pytest.raises(UnknownOrder, match="already filled"):
        engine.cancel("a", order.id, now_ms=close_of(1))


def test_market_buy_that_cannot_pay_at_the_open_is_rejected_not_overdrawn() -> None:
    eng = MatchingEngine(DEFAULT_MARKETS)
    eng.open_account("poor", {"USD": Decimal("170")})
    eng.on_candle(candle(0, 16528.7, 16530, 16511, 16514.9))
    order = place(eng, BUY, MARKET, "0.01", account="poor")
    assert totals(eng, "poor")["USD"] == (Decimal(170), Decimal("168.93291"))
    assert eng.on_candle(candle(1, 17500.0, 17600, 17400, 17500)) == []
    rejected = eng.order("poor", order.id)
    assert (rejected.status, rejected.reason) == (OrderStatus.REJECTED, "EOrder:Insufficient funds")
    assert totals(eng, "poor") == {"USD": (Decimal(170), 0)}


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"pair": "DOGE/USD"}, "EQuery:Unknown asset pair"),
        ({"amount": "0.00009999"}, "EOrder:Order minimum not met"),
        ({"amount": "0.000099999"}, "EOrder:Order minimum not met"),
        ({"price": "1000"}, "EOrder:Cost minimum not met"),
        ({"amount": "1"}, "EOrder:Insufficient funds"),
        ({"side": SELL, "amount": "0.25000001"}, "EOrder:Insufficient funds"),
        ({"amount": "0"}, "EGeneral:Invalid arguments:volume"),
        ({"amount": "-1"}, "EGeneral:Invalid arguments:volume"),
        ({"amount": "NaN"}, "EGeneral:Invalid arguments:volume"),
        ({"amount": "Infinity"}, "EGeneral:Invalid arguments:volume"),
        ({"amount": "1E+40"}, "EGeneral:Invalid arguments:volume"),
        ({"price": None}, "EGeneral:Invalid arguments:price"),
        ({"price": "0"}, "EGeneral:Invalid arguments:price"),
        ({"price": "-16500"}, "EGeneral:Invalid arguments:price"),
        ({"price": "0.04"}, "EGeneral:Invalid arguments:price"),
        ({"price": "sNaN"}, "EGeneral:Invalid arguments:price"),
    ],
)
def test_rejections_carry_kraken_reasons_and_change_nothing(engine: MatchingEngine, kwargs: dict, reason: str) -> None:
    args = {"side": BUY, "order_type": LIMIT, "amount": "0.0001", "price": "16500"} | kwargs
    with pytest.raises(OrderRejected) as caught:
        place(engine, **args)
    assert caught.value.reason == reason
    assert engine.orders("a") == []
    assert totals(engine) == {"USD": (Decimal(10000), 0), "XBT": (Decimal("0.25"), 0)}


def test_market_order_cost_minimum_uses_the_last_price_and_needs_one(engine: MatchingEngine) -> None:
    fresh = MatchingEngine(DEFAULT_MARKETS)
    fresh.open_account("a", {"USD": Decimal(100)})
    with pytest.raises(OrderRejected, match="EService:Unavailable"):
        place(fresh, BUY, MARKET, "0.001", account="a")
    eth_xbt = MatchingEngine(DEFAULT_MARKETS)
    eth_xbt.open_account("a", {"ETH": Decimal(1)})
    eth_xbt.on_candle(candle(0, 0.0019, 0.0019, 0.0019, 0.0019, pair="ETH/XBT"))
    with pytest.raises(OrderRejected, match="EOrder:Cost minimum not met"):
        place(eth_xbt, SELL, MARKET, "0.01", pair="ETH/XBT")


def test_duplicate_client_ids_are_refused_but_empty_ones_are_not(engine: MatchingEngine) -> None:
    place(engine, BUY, LIMIT, "0.001", "16000", client_id="t1-1")
    with pytest.raises(OrderRejected, match="EGeneral:Invalid arguments:cl_ord_id"):
        place(engine, SELL, LIMIT, "0.001", "17000", client_id="t1-1")
    place(engine, BUY, LIMIT, "0.001", "16000")
    place(engine, BUY, LIMIT, "0.001", "16000")
    assert [o.client_id for o in engine.orders("a")] == ["t1-1", "", ""]


def test_tiny_trade_still_pays_one_unit_of_fee() -> None:
    eng = MatchingEngine(DEFAULT_MARKETS)
    eng.open_account("a", {"XBT": Decimal(1)})
    place(eng, BUY, LIMIT, "0.01", "0.002", pair="ETH/XBT", now_ms=T0)
    [fill] = eng.on_candle(candle(0, 0.0021, 0.0021, 0.0019, 0.002, pair="ETH/XBT"))
    # cost 0.00002 XBT; 0.16% of it is 0.000000032, below ETH/XBT's cost unit 0.000001
    assert (fill.price, fill.fee, fill.fee_asset) == (Decimal("0.00200"), Decimal("0.000001"), "XBT")
    assert totals(eng) == {"ETH": (Decimal("0.01"), 0), "XBT": (Decimal("0.999979"), 0)}


def test_unknown_accounts_look_like_a_bad_api_key(engine: MatchingEngine) -> None:
    for call in (lambda: engine.balances("nobody"), lambda: engine.orders("nobody"),
                 lambda: place(engine, BUY, MARKET, "0.01", account="nobody")):
        with pytest.raises(ExchangeError, match="EAPI:Invalid key"):
            call()
    with pytest.raises(ValueError, match="already exists"):
        engine.open_account("a", {})
    with pytest.raises(ValueError, match="not negative"):
        engine.open_account("b", {"USD": Decimal(-1)})


def test_ids_are_kraken_shaped_and_reproducible_from_the_seed(engine: MatchingEngine) -> None:
    def run(seed: int) -> list[str]:
        eng = MatchingEngine(DEFAULT_MARKETS, seed=seed)
        eng.open_account("a", {"USD": Decimal(10000)})
        eng.on_candle(candle(0, 16528.7, 16530, 16511, 16514.9))
        orders = [place(eng, BUY, MARKET, "0.001").id for _ in range(3)]
        return orders + [f.id for f in eng.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9))]

    ids = run(7)
    assert all(re.fullmatch(r"O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}", i) for i in ids[:3])
    assert all(re.fullmatch(r"T[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}", i) for i in ids[3:])
    assert len(set(ids)) == 6 and run(7) == ids and run(8) != ids


def test_fills_since_index_returns_only_new_ones(engine: MatchingEngine) -> None:
    place(engine, BUY, MARKET, "0.001")
    place(engine, SELL, MARKET, "0.001")
    engine.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9))
    first = engine.fills("a")
    place(engine, BUY, MARKET, "0.001", now_ms=close_of(1))
    engine.on_candle(candle(2, 16528.9, 16540, 16520, 16530))
    assert len(first) == 2 and engine.fills("a", 2) == engine.fills("a")[2:] and len(engine.fills("a", 2)) == 1
    assert engine.last_price("XBT/USD") == Decimal("16530")
    with pytest.raises(ValueError):
        engine.fills("a", -1)


def test_every_status_change_goes_through_check_transition(engine: MatchingEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[OrderStatus, OrderStatus]] = []
    real = bookkeeping.check_transition
    monkeypatch.setattr(bookkeeping, "check_transition", lambda old, new: (seen.append((old, new)), real(old, new)))
    cancelled = place(engine, BUY, LIMIT, "0.001", "16000")
    place(engine, BUY, MARKET, "0.001")
    engine.cancel("a", cancelled.id, now_ms=close_of(0))
    engine.on_candle(candle(1, 16514.9, 16529, 16511.9, 16528.9))
    assert seen == [(OrderStatus.OPEN, OrderStatus.CANCELLED), (OrderStatus.PENDING, OrderStatus.FILLED)]
