"""How big a trader's orders are, and when its own exits fire: the target position, scaling in, the trailing stop,
and amounts and prices the exchange accepts.

A quote holder's trader (buying the base) aims at ``allocation x strength`` of its holder's asset in the pair,
reached in steps: the template's ``scale_in`` shares, one step per entry signal at most every ``entry_period``
candles. A reverse signal (target 0) gives everything back at once. A base holder's trader acts on direction
only: the strength describes a long position, which a holder of the base asset already has.

Amounts are rounded down to the market's precision, and an amount under the market's minimums becomes 0 (an
order the exchange would refuse is not worth sending).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from crypy.protocols import Candle, MarketInfo

from .ledger import CapitalLedger
from .template import Trading

SIZING_MARGIN = Decimal("0.02")
"""Kept aside when sizing a buy: the fill may be a little worse than the last close, and an exchange reserves that
much beyond the ask for a market buy (the simulator's ``MARKET_BUY_MARGIN``): with less, an allocation of a whole
balance could never be spent."""


def price_with_costs(close: float, spread: float, taker_fee: str) -> Decimal:
    """What one unit of base may cost at market, spread, fee and margin included."""
    return Decimal(repr(close)) * (1 + Decimal(repr(spread))) * (1 + Decimal(taker_fee)) * (1 + SIZING_MARGIN)


def round_amount(market: MarketInfo, amount: Decimal, close: float) -> Decimal:
    """Round down to the market's precision; 0 when below its minimum amount or cost."""
    amount = amount.quantize(Decimal(1).scaleb(-market.amount_decimals), rounding=ROUND_DOWN)
    if amount < Decimal(market.min_amount) or amount * Decimal(repr(close)) < Decimal(market.min_cost):
        return Decimal(0)
    return amount


def spend_amount(market: MarketInfo, ledger: CapitalLedger, budget: Decimal, close: float,
                 spread: float) -> Decimal:
    """The order amount (in base) that spends at most ``budget`` of the holder's asset."""
    if ledger.holder_holds_quote:
        return round_amount(market, budget / price_with_costs(close, spread, market.taker_fee), close)
    return round_amount(market, budget, close)


def give_back_amount(market: MarketInfo, ledger: CapitalLedger, close: float, spread: float) -> Decimal:
    """The order amount (in base) that gives back everything the trader acquired."""
    if ledger.holder_holds_quote:
        return round_amount(market, ledger.acquired, close)
    return round_amount(market, ledger.acquired / price_with_costs(close, spread, market.taker_fee), close)


REMAINDER_SHARE = 3 * SIZING_MARGIN


def only_a_remainder(ledger: CapitalLedger, allocation: Decimal) -> bool:
    """A base holder's exit buys back with all its quote, sized with a margin, so it leaves a little quote behind: a
    remainder that small is not chased with another market order, whose price could move past the margin and spend
    quote currency the trader does not have."""
    return not ledger.holder_holds_quote and ledger.committed < REMAINDER_SHARE * allocation


def exit_prices(market: MarketInfo, close: float,
                exits: Mapping[str, float | None]) -> tuple[Decimal | None, Decimal | None]:
    """The stop-loss and take-profit prices of a long entry around ``close``, at the market's price precision."""
    price, step = Decimal(repr(close)), Decimal(1).scaleb(-market.price_decimals)

    def at(fraction: float | None, sign: int) -> Decimal | None:
        return None if fraction is None else (price * (1 + sign * Decimal(repr(fraction)))).quantize(step)

    return at(exits.get("stop_loss"), -1), at(exits.get("take_profit"), 1)


@dataclass
class ScaleIn:
    """Counts the entries of the current position and says how much of the target each may reach."""

    trading: Trading
    entries: int = 0
    last_entry: int = -1
    """Index of the candle of the last entry (-1: none yet)."""

    def may_enter(self, candle: int, signalled: bool) -> bool:
        """A first entry needs only a target; an add-on needs an entry signal on this candle. Both wait for
        ``entry_period`` candles after the previous entry, and stop once every share is in."""
        if self.full:
            return False
        if self.last_entry >= 0 and candle - self.last_entry < self.trading.entry_period:
            return False
        return self.entries == 0 or signalled

    @property
    def full(self) -> bool:
        """Every share is in: no entry is allowed until the position is closed."""
        return self.entries >= len(self.trading.scale_in)

    def budget(self, allocation: Decimal, strength: float, committed: Decimal) -> Decimal:
        """What the next entry may spend: the target reached so far by the shares, less what is already in."""
        share = sum(self.trading.scale_in[:self.entries + 1])
        planned = min(allocation * Decimal(repr(strength)) * Decimal(repr(share)), allocation)
        return max(planned - committed, Decimal(0))

    def entered(self, candle: int) -> None:
        self.entries += 1
        self.last_entry = candle

    def reset(self) -> None:
        """The position is closed: the next entry is a first entry again."""
        self.entries, self.last_entry = 0, -1


@dataclass
class TrailingStop:
    """A stop ``fraction`` under the highest close since the entry, checked on each closed candle's low.

    As the evaluation counts it (``exits_model``): the highest of the entry fill price and the closes of earlier
    candles, so a candle's own high never moves the stop its low is checked against. It fires on a closed candle
    and the trader then sells at market, one candle later than the evaluation's stop order would have filled."""

    fraction: float | None = None
    peak: float | None = None

    def entered(self, price: Decimal) -> None:
        """An entry filled at ``price``: the stop trails from there at least."""
        self.peak = max(self.peak or 0.0, float(price))

    def hit(self, candle: Candle) -> bool:
        if not self.fraction or self.peak is None:
            return False
        peak, self.peak = self.peak, max(self.peak, candle.close)
        return candle.low <= peak * (1 - self.fraction)

    def reset(self) -> None:
        """The position is closed: the next one trails from its own entry."""
        self.peak = None
