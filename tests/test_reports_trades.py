"""Round trips from hand-made fills: answers worked out by hand in each test."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crypy.protocols import Fill, Side
from crypy.reports import RoundTrip, exit_reason, round_trips

QUOTE_HOLDER = "XBT/USD@USD"
BASE_HOLDER = "XBT/USD@XBT"


def fill(trader: str, side: Side, price: str, amount: str, fee: str, ts: int, client_id: str = "",
         pair: str = "XBT/USD") -> Fill:
    return Fill(ts=ts, id=f"f{ts}", order_id=f"o{ts}", client_id=client_id or f"{trader}-run-{ts}", pair=pair,
                side=side, price=D(price), amount=D(amount), fee=D(fee), fee_asset=pair.split("/")[1],
                liquidity="taker", trader=trader)


def test_simple_buy_then_sell() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "2", "0.5", 1000, "in"),
             fill(QUOTE_HOLDER, Side.SELL, "110", "2", "0.55", 2000, "out")]
    [trip] = round_trips(fills, reasons={"in": "entry", "out": "exit"}, strategies={QUOTE_HOLDER: "sma_crossover"})
    # paid 200 + 0.5, received 220 - 0.55: pnl = 220 - 200 - 1.05 = 18.95 USD on 200.5 USD put in
    assert trip == RoundTrip(trader=QUOTE_HOLDER, pair="XBT/USD", strategy="sma_crossover", side=Side.BUY,
                             entry_ts=1000, exit_ts=2000, entry_price=D(100), exit_price=D(110), amount=D(2),
                             fees=D("1.05"), pnl=D("18.95"), pnl_quote=D("18.95"), return_=pytest.approx(18.95 / 200.5),
                             exit_reason="signal")
    assert trip.holder_asset == "USD" and not trip.is_open


def test_strategy_defaults_to_empty_and_reason_to_signal() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0", 1), fill(QUOTE_HOLDER, Side.SELL, "90", "1", "0", 2)]
    [trip] = round_trips(fills)
    assert (trip.strategy, trip.exit_reason, trip.pnl, trip.return_) == ("", "signal", D(-10), -0.1)


def test_scale_in_two_entries_one_exit() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0.25", 1),
             fill(QUOTE_HOLDER, Side.BUY, "120", "1", "0.3", 2),
             fill(QUOTE_HOLDER, Side.SELL, "130", "2", "0.65", 3)]
    [trip] = round_trips(fills)
    # entry vwap (100 + 120) / 2 = 110; pnl = 260 - 220 - (0.25 + 0.3 + 0.65) = 38.8 on 220.55 put in
    assert (trip.entry_ts, trip.exit_ts, trip.entry_price, trip.exit_price) == (1, 3, D(110), D(130))
    assert (trip.amount, trip.fees, trip.pnl) == (D(2), D("1.2"), D("38.8"))
    assert trip.return_ == pytest.approx(38.8 / 220.55)


def test_exit_in_two_partial_fills() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "3", "0.75", 1),
             fill(QUOTE_HOLDER, Side.SELL, "90", "1", "0.2", 2, "e-sl"),
             fill(QUOTE_HOLDER, Side.SELL, "96", "2", "0.48", 3, "e-sl")]
    [trip] = round_trips(fills)
    # exit vwap (90 + 192) / 3 = 94; pnl = 282 - 300 - 1.43 = -19.43 on 300.75
    assert (trip.exit_ts, trip.exit_price, trip.fees, trip.pnl) == (3, D(94), D("1.43"), D("-19.43"))
    assert trip.return_ == pytest.approx(-19.43 / 300.75) and trip.exit_reason == "stop_loss"


def test_base_holder_sells_then_buys_back() -> None:
    fills = [fill(BASE_HOLDER, Side.SELL, "100", "1", "0.25", 1),
             fill(BASE_HOLDER, Side.BUY, "94", "1.05", "0.2", 2)]
    [trip] = round_trips(fills)
    # got 100 - 0.25 = 99.75 USD, paid 98.7 + 0.2 = 98.9: 0.85 USD left over (under 3% of 99.75: closed).
    # base: +1.05 - 1 = 0.05 XBT; pnl_quote = 0.85 + 0.05 * 94 = 5.55 USD; pnl = 5.55 / 94 XBT on 1 XBT sold
    assert (trip.side, trip.holder_asset, trip.exit_ts, trip.amount) == (Side.SELL, "XBT", 2, D(1))
    assert (trip.entry_price, trip.exit_price, trip.fees) == (D(100), D(94), D("0.45"))
    assert trip.pnl_quote == D("5.55") and trip.pnl == D("5.55") / D(94)
    assert abs(trip.pnl - (D("0.05") + D("0.85") / D(94))) < D("1e-20")
    assert trip.return_ == float(D("5.55") / D(94))


def test_base_holder_buy_back_fills_after_the_dust_belong_to_the_trip() -> None:
    fills = [fill(BASE_HOLDER, Side.SELL, "100", "1", "0", 1),
             fill(BASE_HOLDER, Side.BUY, "100", "0.5", "0", 2),  # 50 of 100 USD left: still open
             fill(BASE_HOLDER, Side.BUY, "100", "0.48", "0", 3),  # 2 USD left: closed (dust)
             fill(BASE_HOLDER, Side.BUY, "100", "0.02", "0", 4)]  # the dust chased after all
    [trip] = round_trips(fills)
    assert (trip.exit_ts, trip.exit_price, trip.pnl) == (4, D(100), D(0))
    partial = round_trips(fills[:2])[0]
    assert partial.is_open and partial.exit_price == D(100)
    # still open: 50 USD left valued at the last fill's 100: -0.5 + 50 / 100 = 0
    assert partial.pnl == D(0)


def test_exit_reasons_from_client_ids() -> None:
    trades = []
    for ts, client_id in enumerate(["x-sl", "x-tp", "x-tp-2", f"{QUOTE_HOLDER}-flatten-5000-1", "t-9", "t-10",
                                    "t-11"]):
        trades += [fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0", 10 * ts),
                   fill(QUOTE_HOLDER, Side.SELL, "100", "1", "0", 10 * ts + 1, client_id)]
    reasons = {"t-9": "trailing_stop", "t-10": "exit", "x-sl": "stop_loss of x"}
    assert [t.exit_reason for t in round_trips(trades, reasons)] == [
        "stop_loss", "take_profit", "take_profit", "flatten", "trailing_stop", "signal", "signal"]


def test_exit_reason_needs_the_whole_suffix() -> None:
    sell = fill(QUOTE_HOLDER, Side.SELL, "1", "1", "0", 1, "entry-slow")
    assert exit_reason(sell, {}) == "signal"


def test_trip_still_open_at_the_end() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0.25", 1),
             fill(QUOTE_HOLDER, Side.SELL, "105", "1", "0", 2),
             fill(QUOTE_HOLDER, Side.BUY, "100", "2", "0.5", 3),
             fill(QUOTE_HOLDER, Side.SELL, "104", "0.5", "0.1", 4)]
    closed, still_open = round_trips(fills)
    assert closed.exit_reason == "signal" and closed.pnl == D("4.75")
    assert (still_open.exit_ts, still_open.exit_reason, still_open.exit_price) == (None, "open", D(104))
    assert still_open.is_open and still_open.amount == D(2)
    # 1.5 XBT still held, valued at the last fill (104): 52 - 200 - 0.6 + 1.5 * 104 = 7.4
    assert still_open.pnl == D("7.4")
    # ... or at the pair's mark: 52 - 200 - 0.6 + 1.5 * 110 = 16.4 on 200.5 put in
    marked = round_trips(fills, marks={"XBT/USD": D(110)})[1]
    assert marked.pnl == D("16.4") and marked.return_ == pytest.approx(16.4 / 200.5)


def test_only_entries_so_far() -> None:
    [trip] = round_trips([fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0.25", 1)])
    assert (trip.exit_ts, trip.exit_price, trip.exit_reason, trip.pnl) == (None, None, "open", D("-0.25"))


def test_two_traders_interleaved() -> None:
    eth = "ETH/USD@USD"
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0", 1),
             fill(eth, Side.BUY, "10", "5", "0", 2, pair="ETH/USD"),
             fill(BASE_HOLDER, Side.SELL, "101", "1", "0", 3),
             fill(QUOTE_HOLDER, Side.SELL, "103", "1", "0", 4),
             fill(eth, Side.SELL, "9", "5", "0", 5, pair="ETH/USD"),
             fill(QUOTE_HOLDER, Side.BUY, "102", "1", "0", 6),
             fill(BASE_HOLDER, Side.BUY, "101", "1", "0", 7)]
    trips = round_trips(fills, strategies={eth: "rsi_reversion"})
    assert [(t.trader, t.entry_ts, t.exit_ts) for t in trips] == [
        (QUOTE_HOLDER, 1, 4), (eth, 2, 5), (BASE_HOLDER, 3, 7), (QUOTE_HOLDER, 6, None)]
    assert [t.pnl for t in trips] == [D(3), D(-5), D(0), D(0)]
    assert trips[1].strategy == "rsi_reversion" and trips[1].pair == "ETH/USD"


def test_overshooting_sell_is_split() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "1", "0.25", 1),
             fill(QUOTE_HOLDER, Side.SELL, "110", "1.5", "0.3", 2)]
    first, second = round_trips(fills)
    # 1 of the 1.5 sold closes the trip with 2/3 of the fee (0.2); the other 0.5 (fee 0.1) opens a sell-first trip
    assert (first.exit_ts, first.fees, first.pnl) == (2, D("0.45"), D("9.55"))
    assert (second.side, second.amount, second.fees, second.entry_ts) == (Side.SELL, D("0.5"), D("0.1"), 2)
    assert second.is_open and first.fees + second.fees == D("0.55")


def test_entry_after_a_partial_exit_ends_the_trip() -> None:
    fills = [fill(QUOTE_HOLDER, Side.BUY, "100", "2", "0", 1),
             fill(QUOTE_HOLDER, Side.SELL, "110", "1", "0", 2),
             fill(QUOTE_HOLDER, Side.BUY, "120", "1", "0", 3)]
    first, second = round_trips(fills)
    # the 1 XBT never given back is valued at the exit's 110: 110 - 200 + 110 = 20
    assert (first.exit_ts, first.exit_reason, first.pnl) == (2, "signal", D(20))
    assert (second.entry_ts, second.is_open) == (3, True)


def test_no_fills() -> None:
    assert round_trips([]) == []
