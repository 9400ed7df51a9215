"""A trader's order sizes against what the exchange reserves for them: a whole allocation must be spendable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crypy.actors.ledger import CapitalLedger
from crypy.actors.trader_sizing import spend_amount
from crypy.simulator import DEFAULT_MARKETS
from crypy.simulator.matching import market_buy_hold

from .conftest import real_candles


@pytest.mark.parametrize("pair", ["XBT/USD", "ETH/USD"])
@pytest.mark.parametrize("balance", [Decimal(100), Decimal(10_000), Decimal(1_000_000)])
def test_an_allocation_of_the_whole_balance_buys_within_the_exchanges_hold(pair: str, balance: Decimal) -> None:
    """The simulator reserves the ask plus fee plus a margin for a market buy: the trader's all-in order, sized
    at the last close, must fit that reserve in the balance, or it would be refused on every entry signal."""
    spec = DEFAULT_MARKETS[pair]
    ledger = CapitalLedger(asset=spec.quote, other=spec.base, base=spec.base)
    spread = Decimal("0.0005")
    name = "kraken_BTCUSD_15m.csv.gz" if pair == "XBT/USD" else "kraken_ETHUSD_15m.csv.gz"
    for candle in real_candles(name)[-500:]:
        amount = spend_amount(spec.info(), ledger, balance, candle.close, float(spread))
        assert amount > 0
        last = spec.round_price(Decimal(repr(candle.close)))
        assert market_buy_hold(spec, last, amount, spread) <= balance, (candle, amount)
