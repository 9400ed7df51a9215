"""The risk monitor: trading P&L by hand-computed answers, the daily loss limit and each trader's drawdown."""

from __future__ import annotations

from decimal import Decimal

from crypy.actors import approval as approvals
from crypy.actors.order_gate import TraderLedger
from crypy.actors.risk import DAY_MS, RiskMonitor, ledger_pnl
from crypy.actors.template import RiskSettings
from crypy.protocols import Fill, MarketInfo, Side

XBT_USD = MarketInfo(pair="XBT/USD", base="XBT", quote="USD", price_decimals=1, amount_decimals=8,
                     min_amount="0.0001", min_cost="0.5", maker_fee="0.0016", taker_fee="0.0025")
ETH_XBT = MarketInfo(pair="ETH/XBT", base="ETH", quote="XBT", price_decimals=5, amount_decimals=8,
                     min_amount="0.01", min_cost="0.0001", maker_fee="0.0016", taker_fee="0.0025")
MARKETS = {"XBT/USD": XBT_USD, "ETH/XBT": ETH_XBT}
KEY = approvals.new_key()


def _bought(trader: str = "XBT/USD@USD", amount: str = "0.1", price: str = "20000", fee: str = "5") -> TraderLedger:
    ledger = TraderLedger(asset="USD", other="XBT", base="XBT", pair="XBT/USD")
    ledger.approval = approvals.sign(KEY, id=f"{trader}-A", holder="USD", trader=trader, pair="XBT/USD", asset="USD",
                                     amount=Decimal("4000"), expires=10**15)
    ledger.apply(Fill(ts=0, id="T1", order_id="O1", client_id="c", pair="XBT/USD", side=Side.BUY,
                      price=Decimal(price), amount=Decimal(amount), fee=Decimal(fee), fee_asset="USD",
                      liquidity="taker", trader=trader))
    return ledger


def test_pnl_values_an_open_position_at_what_closing_it_would_bring() -> None:
    ledger = _bought()  # paid 2000 + 5 fee
    assert ledger.committed == Decimal("2005")
    # closing 0.1 XBT at 19000 brings 1900 minus 0.25% = 1895.25
    assert ledger_pnl(ledger, XBT_USD, Decimal("19000")) == Decimal("1895.25") - Decimal("2005")


def test_a_base_holder_position_is_valued_by_buying_the_base_back() -> None:
    ledger = TraderLedger(asset="XBT", other="USD", base="XBT", pair="XBT/USD", committed=Decimal("0.1"),
                          acquired=Decimal("1995"))
    pnl = ledger_pnl(ledger, XBT_USD, Decimal("19000"))
    assert pnl == Decimal("1995") / (Decimal("19000") * Decimal("1.0025")) - Decimal("0.1")


def test_the_daily_loss_limit_fires_once_a_day_on_realized_plus_unrealized_loss() -> None:
    monitor = RiskMonitor(RiskSettings(daily_loss_limit=Decimal("100")), MARKETS)
    ledgers = {"XBT/USD@USD": _bought()}
    prices = {"XBT/USD": Decimal("20000")}
    day = 19_000 * DAY_MS
    assert monitor.check(day + 1, ledgers, prices.get) == []  # the day starts at -10.0 (the fee and the spread)
    start = Decimal("1995") - Decimal("2005")
    assert monitor.day_start_pnl == start
    prices["XBT/USD"] = Decimal("19100")  # worth 1905.225 - 2005 = -99.775: 89.775 below the day's start
    assert monitor.check(day + 2, ledgers, prices.get) == []
    prices["XBT/USD"] = Decimal("19000")  # -109.75: 99.75 below
    assert monitor.check(day + 3, ledgers, prices.get) == []
    prices["XBT/USD"] = Decimal("18990")
    [breach] = monitor.check(day + 4, ledgers, prices.get)
    assert breach.kind == "daily_loss_limit" and breach.asset == "USD"
    assert breach.value == -(Decimal("18990") * Decimal("0.1") * Decimal("0.9975") - Decimal("2005") - start)
    assert monitor.check(day + 5, ledgers, prices.get) == []  # once
    assert monitor.check(day + DAY_MS, ledgers, prices.get) == []  # a new day starts from here


def test_pnl_in_another_quote_is_converted_through_a_direct_market() -> None:
    monitor = RiskMonitor(RiskSettings(), MARKETS)
    ledger = TraderLedger(asset="XBT", other="ETH", base="ETH", pair="ETH/XBT", committed=Decimal("0.1"),
                          realized=Decimal("0.01"))
    prices = {"XBT/USD": Decimal("20000"), "ETH/XBT": Decimal("0.07")}
    assert monitor.total_pnl([ledger], prices.get) == (Decimal("0.01") - Decimal("0.1")) * Decimal("20000")
    assert monitor.value_in_quote("SOL", Decimal(1), prices.get) is None


def test_a_trader_past_its_drawdown_is_reported_once_per_approval() -> None:
    monitor = RiskMonitor(RiskSettings(trader_max_drawdown=0.05), MARKETS)  # 5% of 4000 = 200 USD
    ledgers = {"XBT/USD@USD": _bought()}
    prices = {"XBT/USD": Decimal("22000")}  # the best: 2194.5 - 2005 = 189.5
    assert monitor.check(1, ledgers, prices.get) == []
    prices["XBT/USD"] = Decimal("20100")  # 2004.975 - 2005: 189.525 below the best
    assert monitor.check(2, ledgers, prices.get) == []
    prices["XBT/USD"] = Decimal("20000")  # 199.5 below
    assert monitor.check(3, ledgers, prices.get) == []
    prices["XBT/USD"] = Decimal("19990")
    [breach] = monitor.check(4, ledgers, prices.get)
    assert (breach.kind, breach.trader, breach.limit) == ("trader_drawdown", "XBT/USD@USD", Decimal("200.00"))
    assert monitor.check(5, ledgers, prices.get) == []
