"""Money is conserved and never negative, whatever sequence of orders (of every type), amends, cancels and candles
comes in; and every order's fills add up to what it says it filled."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from crypy.protocols import Fill, OrderType, Side, TimeInForce, timeframe_ms
from crypy.simulator import DEFAULT_MARKETS, ExchangeError, MatchingEngine, load_candles

from .conftest import MARKET_DATA

CANDLES = {
    pair: load_candles(MARKET_DATA / name)[5000:5200]
    for pair, name in (("XBT/USD", "kraken_BTCUSD_15m.csv.gz"), ("ETH/USD", "kraken_ETHUSD_15m.csv.gz"))
}
OPENING = {
    "rich": {"USD": Decimal(20000), "XBT": Decimal("0.5"), "ETH": Decimal(3)},
    "poor": {"USD": Decimal(300), "ETH": Decimal("0.1")},
}

offsets = st.decimals(Decimal("-0.01"), Decimal("0.01"), places=6)
place_op = st.tuples(
    st.just("place"), st.sampled_from(sorted(OPENING)), st.sampled_from(sorted(CANDLES)), st.sampled_from(Side),
    st.sampled_from(OrderType), st.decimals(Decimal("0.0001"), Decimal("0.6"), places=9), offsets, offsets,
    st.booleans(), st.sampled_from(TimeInForce),
)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 40))
amend_op = st.tuples(st.just("amend"), st.integers(0, 40), st.decimals(Decimal("0.5"), Decimal("1.5"), places=3),
                     offsets)
candle_op = st.tuples(st.just("candle"))
operations = st.lists(st.one_of(place_op, place_op, cancel_op, amend_op, candle_op, candle_op), min_size=20,
                      max_size=80)
SIZE = {"XBT/USD": Decimal("0.5"), "ETH/USD": Decimal(3)}
STEP = timeframe_ms("15m")
"""A fraction of ``SIZE`` makes orders of a sensible size for each pair, so many of them fill."""


def flows(fills: list[Fill]) -> dict[str, Decimal]:
    """What fills moved between the account and the market (fees excluded)."""
    moved: defaultdict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        spec = DEFAULT_MARKETS[fill.pair]
        sign = 1 if fill.side is Side.BUY else -1
        moved[spec.base] += sign * fill.amount
        moved[spec.quote] -= sign * fill.cost
    return moved


def check(engine: MatchingEngine) -> None:
    all_fills = [f for account in OPENING for f in engine.fills(account)]
    charged: defaultdict[str, Decimal] = defaultdict(Decimal)
    for fill in all_fills:
        charged[fill.fee_asset] += fill.fee
    assert engine.fees() == {asset: fee for asset, fee in charged.items() if fee}
    for account, opening in OPENING.items():
        fills = engine.fills(account)
        expected = defaultdict(Decimal, opening)
        for asset, amount in flows(fills).items():
            expected[asset] += amount
        for fill in fills:
            expected[fill.fee_asset] -= fill.fee
        for asset, balance in engine.balances(account).items():
            assert balance.total == expected[asset], (account, asset)
            assert 0 <= balance.held <= balance.total, (account, asset)
        selling: defaultdict[str, Decimal] = defaultdict(Decimal)
        for order in engine.orders(account):
            own = [fill for fill in fills if fill.order_id == order.id]
            assert order.filled == sum((f.amount for f in own), Decimal(0)) <= order.amount, order
            assert order.fee == sum((f.fee for f in own), Decimal(0)) and all(f.fee > 0 for f in own), order
            assert (order.closed > 0) == order.status.is_terminal, order
            if order.side is Side.SELL and not order.status.is_terminal:
                selling[DEFAULT_MARKETS[order.pair].base] += order.remaining
        for asset, balance in engine.balances(account).items():
            if asset != "USD":
                assert balance.held == selling[asset], (account, asset)


def new_engine() -> MatchingEngine:
    engine = MatchingEngine(DEFAULT_MARKETS, seed=1, fill_share=Decimal("0.002"))  # small: limit orders fill in parts
    for account, balances in OPENING.items():
        engine.open_account(account, balances)
    for series in CANDLES.values():
        engine.on_candle(series[0])
    return engine


def apply(engine: MatchingEngine, op: tuple, position: int) -> int:
    """Carry out one generated operation; returns the index of the last candle fed (``position``, or one more)."""
    now_ms = CANDLES["XBT/USD"][position].ts + STEP
    if op[0] == "candle" and position + 1 < len(CANDLES["XBT/USD"]):
        position += 1
        for series in CANDLES.values():
            engine.on_candle(series[position])
    elif op[0] == "place":
        _, account, pair, side, order_type, fraction, offset, trigger_offset, post_only, tif = op
        last = engine.last_price(pair)
        try:
            engine.place(account, client_id="", pair=pair, side=side, order_type=order_type,
                         amount=SIZE[pair] * fraction, price=last * (1 + offset),
                         trigger_price=last * (1 + trigger_offset), trailing_offset=abs(trigger_offset) * 100,
                         trailing_percent=True, post_only=post_only and order_type.has_limit_price,
                         time_in_force=tif, expire_ts=now_ms + 2 * STEP if tif is TimeInForce.GTD else 0,
                         now_ms=now_ms)
        except ExchangeError:
            pass
    elif op[0] in ("cancel", "amend"):
        orders = [(a, o) for a in OPENING for o in engine.orders(a)]
        if orders:
            account, order = orders[op[1] % len(orders)]
            try:
                if op[0] == "cancel":
                    engine.cancel(account, order.id, now_ms=now_ms)
                else:
                    engine.amend(account, order.id, amount=order.amount * op[2], now_ms=now_ms,
                                 price=None if order.price is None else order.price * (1 + op[3]))
            except ExchangeError:
                pass
    return position


@settings(max_examples=80, deadline=None)
@given(operations)
def test_balances_are_conserved_and_never_negative(ops: list[tuple]) -> None:
    engine = new_engine()
    position = 0
    for op in ops:
        position = apply(engine, op, position)
        check(engine)
    for account in OPENING:
        engine.cancel_all(account, now_ms=0)
        assert all(b.held == 0 for b in engine.balances(account).values())
