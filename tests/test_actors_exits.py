"""The exit book: stop-loss and take-profit orders linked to their entry (OCO), real or emulated, without I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypy.actors.exits import ExitActions, ExitBook, ExitOrder
from crypy.protocols import Candle, Fill, Order, OrderRequest, OrderStatus, OrderType, Side

from .conftest import real_candles

BOTH = frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT})
NONE = frozenset({OrderType.MARKET, OrderType.LIMIT})
TRADER, PAIR = "XBT/USD@USD", "XBT/USD"


def entry(client_id: str = "t-1", side: Side = Side.BUY, *, stop_loss: str | None = "25000",
          take_profit: str | None = "28000", trader: str = TRADER) -> OrderRequest:
    return OrderRequest(ts=0, client_id=client_id, trader=trader, pair=PAIR, side=side,
                        order_type=OrderType.MARKET, amount=Decimal("0.1"),
                        stop_loss=None if stop_loss is None else Decimal(stop_loss),
                        take_profit=None if take_profit is None else Decimal(take_profit))


def fill(client_id: str, amount: str | Decimal, side: Side = Side.BUY, order_id: str = "") -> Fill:
    return Fill(ts=0, id=f"f-{client_id}-{amount}", order_id=order_id or f"o-{client_id}", client_id=client_id,
                pair=PAIR, side=side, price=Decimal("26000"), amount=Decimal(amount), fee=Decimal(0), fee_asset="USD",
                liquidity="taker")


def order(client_id: str, status: OrderStatus, filled: str | Decimal = "0", order_id: str = "") -> Order:
    return Order(ts=0, id=order_id or f"o-{client_id}", client_id=client_id, pair=PAIR, side=Side.BUY,
                 order_type=OrderType.MARKET, amount=Decimal("0.1"), price=None, status=status,
                 filled=Decimal(filled))


def entered(book: ExitBook, request: OrderRequest, *amounts: str) -> ExitActions:
    """Attach ``request``, book its fills and finish it: what the book then asks for."""
    book.attach(request)
    for amount in amounts:
        assert not book.on_fill(fill(request.client_id, amount, request.side))
    return book.on_order(order(request.client_id, OrderStatus.FILLED, sum(map(Decimal, amounts), Decimal(0))))


def test_a_long_entry_places_both_exits_selling_what_it_filled() -> None:
    book = ExitBook(BOTH)
    book.attach(entry())
    assert not book.on_fill(fill("t-1", "0.04"))
    assert not book.on_order(order("t-1", OrderStatus.PARTIALLY_FILLED, "0.04"))
    assert not book.on_fill(fill("t-1", "0.05"))
    actions = book.on_order(order("t-1", OrderStatus.CANCELLED, "0.09"))

    stop, take = actions.place
    assert stop == ExitOrder(client_id="t-1-sl", trader=TRADER, pair=PAIR, side=Side.SELL,
                             order_type=OrderType.STOP_LOSS, amount=Decimal("0.09"), trigger_price=Decimal("25000"),
                             entry_client_id="t-1", kind="stop_loss", emulated=False)
    assert (take.client_id, take.side, take.order_type, take.amount, take.trigger_price, take.kind) == (
        "t-1-tp", Side.SELL, OrderType.TAKE_PROFIT, Decimal("0.09"), Decimal("28000"), "take_profit")
    assert (stop.exchange_type, stop.exchange_trigger) == (OrderType.STOP_LOSS, Decimal("25000"))
    assert not actions.cancel and not actions.amend and not actions.lost
    assert book.live() == [stop, take] and book.live("someone else") == []
    assert book.exit_client_ids() == {"t-1-sl", "t-1-tp"}
    assert book.is_exit("t-1-sl") and not book.is_exit("t-1")


def test_a_base_holders_short_places_both_exits_buying_back() -> None:
    book = ExitBook(BOTH)
    actions = entered(book, entry(side=Side.SELL, stop_loss="28000", take_profit="25000", trader="XBT/USD@XBT"),
                      "0.1")
    assert [(x.side, x.order_type, x.amount, x.trigger_price) for x in actions.place] == [
        (Side.BUY, OrderType.STOP_LOSS, Decimal("0.1"), Decimal("28000")),
        (Side.BUY, OrderType.TAKE_PROFIT, Decimal("0.1"), Decimal("25000")),
    ]


def test_exit_amounts_round_down_to_the_markets_precision() -> None:
    book = ExitBook(BOTH)
    book.attach(entry(), amount_decimals=3)
    book.on_fill(fill("t-1", "0.0999"))
    assert {x.amount for x in book.on_order(order("t-1", OrderStatus.FILLED, "0.0999")).place} == {Decimal("0.099")}


@pytest.mark.parametrize(("filled", "sibling"), [("t-1-sl", "t-1-tp"), ("t-1-tp", "t-1-sl")])
def test_one_exit_filling_cancels_the_other(filled: str, sibling: str) -> None:
    book = ExitBook(BOTH)
    entered(book, entry(), "0.1")
    assert book.on_fill(fill(filled, "0.1", Side.SELL)) == ExitActions(cancel=[sibling])
    assert book.live() == [] and book.exit_client_ids() == set()
    assert not book.on_order(order(filled, OrderStatus.FILLED, "0.1"))
    assert not book.on_order(order(sibling, OrderStatus.CANCELLED))  # cancelled by us: not lost
    assert book.is_exit(sibling)


def test_a_partial_exit_fill_amends_the_sibling_to_what_is_left() -> None:
    book = ExitBook(BOTH, amend=True)
    entered(book, entry(), "0.1")
    assert book.on_fill(fill("t-1-sl", "0.04", Side.SELL)) == ExitActions(amend=[("t-1-tp", Decimal("0.06"))])
    assert [x.amount for x in book.live()] == [Decimal("0.1"), Decimal("0.06")]
    assert book.on_fill(fill("t-1-sl", "0.06", Side.SELL)) == ExitActions(cancel=["t-1-tp"])


def test_an_amend_counts_what_the_sibling_filled_already() -> None:
    book = ExitBook(BOTH, amend=True)
    entered(book, entry(), "0.1")
    book.on_fill(fill("t-1-sl", "0.02", Side.SELL))
    assert book.on_fill(fill("t-1-tp", "0.03", Side.SELL)) == ExitActions(amend=[("t-1-sl", Decimal("0.07"))])
    assert book.on_fill(fill("t-1-sl", "0.05", Side.SELL)) == ExitActions(cancel=["t-1-tp"])


def test_a_partial_exit_fill_replaces_the_sibling_without_amend() -> None:
    book = ExitBook(BOTH)
    entered(book, entry(), "0.1")
    first = book.on_fill(fill("t-1-sl", "0.04", Side.SELL))
    assert first.cancel == ["t-1-tp"]
    assert [(x.client_id, x.order_type, x.amount, x.trigger_price) for x in first.place] == [
        ("t-1-tp-2", OrderType.TAKE_PROFIT, Decimal("0.06"), Decimal("28000"))]
    second = book.on_fill(fill("t-1-sl", "0.01", Side.SELL))
    assert (second.cancel, [(x.client_id, x.amount) for x in second.place]) == (
        ["t-1-tp-2"], [("t-1-tp-3", Decimal("0.05"))])
    assert book.on_fill(fill("t-1-sl", "0.05", Side.SELL)) == ExitActions(cancel=["t-1-tp-3"])


def test_the_traders_own_exit_cancels_both_first() -> None:
    book = ExitBook(BOTH)
    entered(book, entry(), "0.1")
    entered(book, entry("u-1", trader="XBT/USD@XBT", side=Side.SELL, stop_loss="28000", take_profit="25000"), "0.1")
    book.attach(entry("t-2"))  # still running: its exits must never come
    assert book.before_exit(TRADER, "ETH/USD") == ExitActions()
    assert book.before_exit(TRADER, PAIR) == ExitActions(cancel=["t-1-sl", "t-1-tp"])
    assert not book.on_fill(fill("t-2", "0.1"))
    assert not book.on_order(order("t-2", OrderStatus.FILLED, "0.1"))
    assert [x.entry_client_id for x in book.live()] == ["u-1", "u-1"]
    assert book.clear() == ExitActions(cancel=["u-1-sl", "u-1-tp"]) and book.live() == []


def test_an_entry_that_filled_nothing_gets_no_exits() -> None:
    book = ExitBook(BOTH)
    book.attach(entry())
    assert not book.on_order(order("t-1", OrderStatus.CANCELLED))
    assert not book.on_fill(fill("t-1", "0.1")) and book.live() == []


def test_a_stop_alone_has_nothing_to_cancel_when_it_fills() -> None:
    book = ExitBook(BOTH)
    actions = entered(book, entry(take_profit=None), "0.1")
    assert [x.client_id for x in actions.place] == ["t-1-sl"]
    assert not book.on_fill(fill("t-1-sl", "0.04", Side.SELL))
    assert not book.on_fill(fill("t-1-sl", "0.06", Side.SELL))
    assert book.live() == []


def test_an_entry_without_triggers_is_not_linked() -> None:
    book = ExitBook(BOTH)
    assert not entered(book, entry(stop_loss=None, take_profit=None), "0.1")


def test_unknown_client_ids_are_ignored() -> None:
    book = ExitBook(BOTH)
    entered(book, entry(), "0.1")
    assert not book.on_fill(fill("nobody", "0.1", Side.SELL))
    assert not book.on_order(order("nobody", OrderStatus.CANCELLED))
    assert not book.on_fill(fill("", "0.1", Side.SELL, order_id="unknown-id"))
    assert not book.refused("nobody")
    assert not book.before_exit("nobody", PAIR)
    assert len(book.live()) == 2


def test_an_exit_the_exchange_ended_is_lost_and_its_sibling_stays() -> None:
    book = ExitBook(BOTH)
    entered(book, entry(), "0.1")
    assert book.on_order(order("t-1-tp", OrderStatus.EXPIRED)) == ExitActions(lost=["t-1-tp"])
    assert [x.client_id for x in book.live()] == ["t-1-sl"]
    assert book.refused("t-1-sl") == ExitActions(lost=["t-1-sl"])
    assert book.live() == [] and not book.on_fill(fill("t-1-sl", "0.1", Side.SELL))


def test_a_refused_entry_forgets_its_exits() -> None:
    book = ExitBook(BOTH)
    book.attach(entry())
    assert not book.refused("t-1")
    assert not book.on_fill(fill("t-1", "0.1")) and not book.on_order(order("t-1", OrderStatus.FILLED, "0.1"))


def test_exit_fills_without_a_client_id_are_matched_by_order_id() -> None:
    book = ExitBook(BOTH)
    entered(book, entry(), "0.1")
    book.placed("t-1-sl", "OSL-1")
    assert book.on_fill(fill("", "0.1", Side.SELL, order_id="OSL-1")) == ExitActions(cancel=["t-1-tp"])


def test_actions_combine_and_are_false_when_empty() -> None:
    assert not ExitActions()
    combined = ExitActions(cancel=["a"]) + ExitActions(amend=[("b", Decimal(1))], lost=["c"])
    assert combined == ExitActions(cancel=["a"], amend=[("b", Decimal(1))], lost=["c"]) and combined


# Emulated exits, driven by real Kraken candles.


@pytest.fixture(scope="module")
def btc() -> list[Candle]:
    return real_candles("kraken_BTCUSD_15m.csv.gz")[-5000:]


def price(value: float, factor: str) -> Decimal:
    return (Decimal(repr(value)) * Decimal(factor)).quantize(Decimal("0.1"))


def on_candle(book: ExitBook, candle: Candle) -> ExitActions:
    return book.on_price(candle.pair, candle.low, candle.high)


def test_an_emulated_stop_fires_on_the_candle_whose_low_crosses_it(btc: list[Candle]) -> None:
    before, crossing = next((a, b) for a, b in zip(btc, btc[1:], strict=False)
                            if b.low < a.close * 0.99 and a.low > a.close * 0.995 and b.high < a.close * 1.05)
    book = ExitBook(NONE)
    request = entry(stop_loss=str(price(before.close, "0.995")), take_profit=str(price(before.close, "1.05")))
    assert not entered(book, request, "0.1")  # nothing goes to the exchange yet
    assert [(x.kind, x.emulated) for x in book.live()] == [("stop_loss", True), ("take_profit", True)]
    assert not on_candle(book, before)

    actions = on_candle(book, crossing)
    (stop,) = actions.place
    assert (stop.client_id, stop.side, stop.amount, stop.exchange_type, stop.exchange_trigger) == (
        "t-1-sl", Side.SELL, Decimal("0.1"), OrderType.MARKET, None)
    assert not actions.cancel  # the emulated take-profit was never on the exchange
    assert book.live() == [stop] and not on_candle(book, crossing)  # fires once
    assert not book.on_fill(fill("t-1-sl", "0.1", Side.SELL)) and book.live() == []


def test_a_candle_crossing_both_emulated_triggers_fires_the_stop(btc: list[Candle]) -> None:
    candle = next(c for c in btc if c.low < c.open * 0.995 and c.high > c.open * 1.005)
    book = ExitBook(NONE)
    entered(book, entry(stop_loss=str(price(candle.open, "0.997")), take_profit=str(price(candle.open, "1.003"))),
            "0.1")
    assert [x.kind for x in on_candle(book, candle).place] == ["stop_loss"]


def test_a_shorts_emulated_stop_fires_when_the_high_crosses_it(btc: list[Candle]) -> None:
    before, rising = next((a, b) for a, b in zip(btc, btc[1:], strict=False)
                          if b.high > a.close * 1.01 and a.high < a.close * 1.005 and b.low > a.close * 0.95)
    book = ExitBook(NONE)
    request = entry(side=Side.SELL, stop_loss=str(price(before.close, "1.005")),
                    take_profit=str(price(before.close, "0.95")))
    entered(book, request, "0.1")
    assert not on_candle(book, before)
    assert [(x.kind, x.side, x.exchange_type) for x in on_candle(book, rising).place] == [
        ("stop_loss", Side.BUY, OrderType.MARKET)]


def test_an_emulated_take_profit_cancels_the_real_stop(btc: list[Candle]) -> None:
    candle = next(c for c in btc if c.high > c.open * 1.01 and c.low > c.open * 0.99)
    book = ExitBook(NONE | {OrderType.STOP_LOSS})
    placed = entered(book, entry(stop_loss=str(price(candle.open, "0.99")),
                                 take_profit=str(price(candle.open, "1.005"))), "0.1")
    assert [x.client_id for x in placed.place] == ["t-1-sl"]
    actions = on_candle(book, candle)
    assert actions.cancel == ["t-1-sl"] and [(x.client_id, x.exchange_type) for x in actions.place] == [
        ("t-1-tp", OrderType.MARKET)]


def test_a_real_stop_crossed_with_an_emulated_take_profit_is_left_to_the_exchange(btc: list[Candle]) -> None:
    candle = next(c for c in btc if c.low < c.open * 0.995 and c.high > c.open * 1.005)
    book = ExitBook(NONE | {OrderType.STOP_LOSS})
    entered(book, entry(stop_loss=str(price(candle.open, "0.997")), take_profit=str(price(candle.open, "1.003"))),
            "0.1")
    assert not on_candle(book, candle)


def test_a_partial_fill_shrinks_an_armed_emulated_sibling_in_the_book() -> None:
    book = ExitBook(NONE | {OrderType.STOP_LOSS})
    entered(book, entry(), "0.1")
    assert not book.on_fill(fill("t-1-sl", "0.03", Side.SELL))
    assert [(x.client_id, x.amount) for x in book.live()] == [("t-1-sl", Decimal("0.1")), ("t-1-tp", Decimal("0.07"))]


# The property: whatever fills, the exits never give back more than the entry got.


@dataclass
class FakeExchange:
    """The exit orders on the exchange as the desk would keep them by following the book's actions."""

    orders: dict[str, list[Decimal]] = field(default_factory=dict)  # client id -> [amount, filled]

    def apply(self, actions: ExitActions) -> None:
        for client_id in actions.cancel:
            del self.orders[client_id]
        for client_id, amount in actions.amend:
            assert amount > self.orders[client_id][1]
            self.orders[client_id][0] = amount
        for exit_order in actions.place:
            assert exit_order.client_id not in self.orders and exit_order.amount > 0
            self.orders[exit_order.client_id] = [exit_order.amount, Decimal(0)]

    def open_to_give_back(self, kind: str) -> Decimal:
        suffix = "-sl" if kind == "stop_loss" else "-tp"
        return sum((a - f for cid, (a, f) in self.orders.items() if suffix in cid), Decimal(0))


STEPS = st.one_of(
    st.tuples(st.just("fill"), st.integers(0, 9), st.sampled_from([1, 30, 333, 1000])),
    st.tuples(st.just("price"), st.sampled_from([50, 100, 150]), st.sampled_from([150, 200, 250])),
    st.tuples(st.just("lost"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("exit"), st.just(0), st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(
    supported=st.sampled_from([BOTH, NONE, NONE | {OrderType.STOP_LOSS}, NONE | {OrderType.TAKE_PROFIT}]),
    amend=st.booleans(),
    triggers=st.sampled_from([("100", "200"), ("100", None), (None, "200")]),
    entry_fills=st.lists(st.integers(0, 1000), max_size=4),
    steps=st.lists(STEPS, max_size=15),
)
def test_exits_never_give_back_more_than_the_entry_filled(
    supported: frozenset[OrderType], amend: bool, triggers: tuple[str | None, str | None], entry_fills: list[int],
    steps: list[tuple[str, int, int]],
) -> None:
    book, exchange = ExitBook(supported, amend=amend), FakeExchange()
    filled = sum((Decimal(n).scaleb(-3) for n in entry_fills), Decimal(0))
    exchange.apply(entered(book, entry(stop_loss=triggers[0], take_profit=triggers[1]),
                           *(str(Decimal(n).scaleb(-3)) for n in entry_fills if n)))
    given_back = Decimal(0)
    for step, pick, size in steps:
        live = sorted(exchange.orders)
        if step == "fill" and live:
            client_id = live[pick % len(live)]
            state = exchange.orders[client_id]
            amount = min(Decimal(size).scaleb(-3), state[0] - state[1])
            state[1] += amount
            given_back += amount
            actions = book.on_fill(fill(client_id, amount, Side.SELL))
            if state[1] == state[0]:
                del exchange.orders[client_id]
                actions += book.on_order(order(client_id, OrderStatus.FILLED, state[1]))
            exchange.apply(actions)
        elif step == "price":
            exchange.apply(book.on_price(PAIR, float(pick), float(size)))
        elif step == "lost" and live:
            client_id = live[pick % len(live)]
            del exchange.orders[client_id]
            actions = book.on_order(order(client_id, OrderStatus.CANCELLED))
            assert actions.lost == [client_id]
            exchange.apply(actions)
        elif step == "exit":
            exchange.apply(book.before_exit(TRADER, PAIR))
            assert exchange.orders == {} and book.live() == []
        assert given_back <= filled
        for kind in ("stop_loss", "take_profit"):
            assert exchange.open_to_give_back(kind) <= filled - given_back
        assert set(exchange.orders) <= book.exit_client_ids()
        assert all(x.amount <= filled - given_back for x in book.live() if x.client_id not in exchange.orders)
