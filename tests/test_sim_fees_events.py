"""Fee tiers by 30-day volume, the listener's event stream, and lookups by client id, trade id and account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypy.protocols import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from crypy.simulator import DEFAULT_MARKETS, ExchangeError, MatchingEngine, UnknownOrder

from .sim_orders import T0, close_of, place, totals
from .sim_orders import candle as bar

BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT = OrderType.MARKET, OrderType.LIMIT
D = Decimal
DAY = 86_400_000


def engine_with(balances: dict[str, Decimal]) -> MatchingEngine:
    eng = MatchingEngine(DEFAULT_MARKETS)
    eng.open_account("a", balances)
    eng.on_candle(bar(0, 16528.7, 16530, 16511, 16514.9))
    return eng


def test_the_fee_tier_drops_once_30_day_volume_passes_50k_and_rises_again_when_it_ages_out() -> None:
    eng = engine_with({"USD": D(200000)})
    assert eng.fee_rates("a", "XBT/USD") == (D("0.0016"), D("0.0026")) and eng.volume("a") == 0
    place(eng, BUY, MARKET, "3")
    [big] = eng.on_candle(bar(1, 16514.9, 16529, 16511.9, 16528.9))
    assert (big.price, big.fee) == (D("16519.1"), D("128.84898"))  # 49557.3 at 0.26%
    assert eng.volume("a") == D("49557.3") and eng.fee_rates("a", "XBT/USD")[1] == D("0.0026")
    place(eng, BUY, MARKET, "0.1", now_ms=close_of(1))
    [second] = eng.on_candle(bar(2, 16528.9, 16540, 16520, 16530))
    assert second.fee == D("4.29861")  # still 0.26%: the tier is set by the volume before the fill
    assert eng.volume("a") == D("51210.61") and eng.fee_rates("a", "XBT/USD") == (D("0.0014"), D("0.0024"))
    place(eng, BUY, MARKET, "0.1", now_ms=close_of(2))
    [third] = eng.on_candle(bar(3, 16530, 16540, 16520, 16530))
    assert (third.price, third.fee) == (D("16534.2"), D("3.96821"))  # 1653.42 at 0.24%
    eng.on_candle(bar(2 + 30 * 96, 16530, 16540, 16520, 16530))  # closes 30 days after the first two fills
    assert eng.volume("a") == D("1653.42") and eng.fee_rates("a", "XBT/USD")[1] == D("0.0026")


@pytest.mark.parametrize("arrival", [("T-10", "T-2"), ("T-2", "T-10")])
def test_the_fills_of_one_candle_cost_the_same_whatever_the_order_of_arrival(arrival: tuple[str, str]) -> None:
    """Fills decided at one close are simultaneous: the one that passes the 50k tier makes none of the others
    cheaper (the next candle's are). Which trader's task reached the exchange first must change nothing; the
    engine takes them in client-id order anyway, after the orders of earlier candles."""
    eng = engine_with({"USD": D(200000)})
    place(eng, BUY, MARKET, "0.1", client_id="Z-1", now_ms=close_of(0) - 1)  # from the candle before: first
    for client_id, at in zip(arrival, (close_of(0) + 5, close_of(0) + 9), strict=True):
        place(eng, BUY, MARKET, "3" if client_id == "T-2" else "0.1", client_id=client_id, now_ms=at)
    fills = eng.on_candle(bar(1, 16514.9, 16529, 16511.9, 16528.9))
    assert [f.client_id for f in fills] == ["Z-1", "T-2", "T-10"]  # numbers in client ids read as numbers
    assert [f.fee for f in fills] == [D("4.29497"), D("128.84898"), D("4.29497")]  # all at 0.26%
    place(eng, BUY, MARKET, "0.1", client_id="N-1", now_ms=close_of(1))
    [after] = eng.on_candle(bar(2, 16528.9, 16540, 16520, 16530))
    assert after.fee == D("3.96794")  # 1653.31 at 0.24%: the three fills passed the tier together


def test_volume_counts_a_non_usd_quote_at_its_usd_price_or_not_at_all() -> None:
    eng = MatchingEngine(DEFAULT_MARKETS)
    eng.open_account("a", {"XBT": D(1)})
    place(eng, BUY, LIMIT, "1", "0.07", pair="ETH/XBT", now_ms=T0)
    eng.on_candle(bar(0, 0.075, 0.075, 0.069, 0.07, pair="ETH/XBT", volume=10))
    assert eng.volume("a") == 0  # no XBT/USD price yet: this fill counts nothing
    eng.on_candle(bar(0, 16528.7, 16530, 16511, 16514.9))
    place(eng, BUY, LIMIT, "1", "0.07", pair="ETH/XBT", now_ms=close_of(0))
    eng.on_candle(bar(1, 0.075, 0.075, 0.069, 0.07, pair="ETH/XBT", volume=10))
    assert len(eng.fills("a")) == 2 and eng.volume("a") == D("0.07") * D("16514.9")


def test_listeners_hear_every_change_once_and_each_fill_before_its_order() -> None:
    eng = engine_with({"USD": D(10000), "XBT": D("0.25")})
    events: list[tuple[str, Order | Fill]] = []
    eng.add_listener(lambda account, event: events.append((account, event)))
    part = place(eng, BUY, LIMIT, "0.5", "16000")
    stop = place(eng, SELL, OrderType.STOP_LOSS_LIMIT, "0.01", "16440", trigger_price=D("16450"))
    gone = place(eng, BUY, LIMIT, "0.01", "15000", time_in_force=TimeInForce.GTD, expire_ts=close_of(1) + 1)
    eng.cancel("a", place(eng, BUY, LIMIT, "0.01", "15000").id, now_ms=close_of(0))
    eng.on_candle(bar(1, 16100, 16150, 15990, 16050, volume=0.8))  # part fills 0.2, stop triggers
    eng.amend("a", part.id, amount=D("0.4"), now_ms=close_of(1))
    eng.on_candle(bar(2, 16450, 16460, 15900, 15950, volume=0.8))  # gone expires; stop and part fill
    assert {account for account, _ in events} == {"a"}
    stream = [event for _, event in events]
    for index, event in enumerate(stream):
        if isinstance(event, Fill):
            after = stream[index + 1]
            assert isinstance(after, Order) and after.id == event.order_id and after.ts == event.ts
    statuses = {}
    for event in stream:
        if isinstance(event, Order):
            statuses.setdefault(event.id, []).append((event.status, event.filled))
    assert statuses[part.id] == [
        (OrderStatus.OPEN, 0), (OrderStatus.PARTIALLY_FILLED, D("0.2")), (OrderStatus.PARTIALLY_FILLED, D("0.2")),
        (OrderStatus.FILLED, D("0.4"))]
    assert statuses[stop.id] == [(OrderStatus.OPEN, 0), (OrderStatus.OPEN, 0), (OrderStatus.FILLED, D("0.01"))]
    assert statuses[gone.id] == [(OrderStatus.OPEN, 0), (OrderStatus.EXPIRED, 0)]
    assert sum(isinstance(event, Fill) for event in stream) == 3
    terminal = [e for e in stream if isinstance(e, Order) and e.status.is_terminal]
    assert len(terminal) == len({e.id for e in terminal}) == 4 and all(e.closed == e.ts for e in terminal)
    assert [e.closed for e in stream if isinstance(e, Order) and not e.status.is_terminal] == [0] * 7


def test_a_market_order_rejected_at_its_fill_is_reported() -> None:
    eng = engine_with({"USD": D(170)})
    events: list = []
    eng.add_listener(lambda account, event: events.append(event.status))
    place(eng, BUY, MARKET, "0.01")
    eng.on_candle(bar(1, 17500, 17600, 17400, 17500))
    assert events == [OrderStatus.PENDING, OrderStatus.REJECTED]


def test_orders_are_found_by_client_id_and_fills_by_trade_id() -> None:
    eng = engine_with({"USD": D(10000), "XBT": D("0.25")})
    order = place(eng, BUY, MARKET, "0.01", client_id="retry-1", userref=42)
    assert eng.order_by_client_id("a", "retry-1") == order and order.userref == 42
    for missing in ("nope", ""):
        with pytest.raises(UnknownOrder, match="EOrder:Unknown order"):
            eng.order_by_client_id("a", missing)
    [fill] = eng.on_candle(bar(1, 16514.9, 16529, 16511.9, 16528.9))
    assert eng.fill("a", fill.id) == fill and eng.order_by_client_id("a", "retry-1").status is OrderStatus.FILLED
    with pytest.raises(ExchangeError, match="EGeneral:Invalid arguments:txid"):
        eng.fill("a", "TNOPE0-00000-000000")
    with pytest.raises(ExchangeError, match="EAPI:Invalid key"):
        eng.order_by_client_id("nobody", "retry-1")


def test_cancel_all_cancels_every_live_order_and_counts_them() -> None:
    eng = engine_with({"USD": D(10000), "XBT": D("0.25")})
    placed = [place(eng, BUY, LIMIT, "0.01", "15000"), place(eng, SELL, OrderType.STOP_LOSS, "0.01",
                                                            trigger_price=D("15000")), place(eng, BUY, MARKET, "0.01")]
    eng.on_candle(bar(1, 16514.9, 16529, 16511.9, 16528.9))  # the market order fills
    assert eng.cancel_all("a", close_of(1)) == 2 and eng.cancel_all("a", close_of(1)) == 0
    assert [o.status for o in eng.closed_orders("a")] == [
        OrderStatus.CANCELLED, OrderStatus.CANCELLED, OrderStatus.FILLED]
    assert [o.id for o in eng.closed_orders("a")] == [o.id for o in placed] and eng.open_orders("a") == []
    assert totals(eng)["USD"][1] == 0 and totals(eng)["XBT"][1] == 0
