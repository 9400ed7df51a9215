"""What each simulated market allows: precision, minimums and fees, with Kraken's real values.

Sources (``/work/shared/reference/kraken``): XBT/USD from ccxt's static markets file; ETH/XBT from the example
AssetPairs response of Kraken's OpenAPI spec; ETH/USD from NOTES.md §5 (AssetPairs captures). SOL/USD is not in
the reference folder: its values follow third-party AssetPairs fixtures (pair_decimals 2, ordermin 0.02).
Fees are Kraken's base tier (maker 0.16%, taker 0.26%), the tier ccxt and the reference data use.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import msgspec

from crypy.protocols import MarketInfo


def decimal_unit(decimals: int) -> Decimal:
    """The smallest step with ``decimals`` decimals (``2 -> 0.01``)."""
    return Decimal(1).scaleb(-decimals)


class MarketSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One pair's trading rules. A Struct so that a config file can define extra markets."""

    pair: str
    base: str
    quote: str
    price_decimals: int
    amount_decimals: int
    cost_decimals: int
    min_amount: Decimal
    min_cost: Decimal
    maker_fee: Decimal
    taker_fee: Decimal

    def info(self) -> MarketInfo:
        return MarketInfo(
            pair=self.pair,
            base=self.base,
            quote=self.quote,
            price_decimals=self.price_decimals,
            amount_decimals=self.amount_decimals,
            min_amount=str(self.min_amount),
            min_cost=str(self.min_cost),
            maker_fee=str(self.maker_fee),
            taker_fee=str(self.taker_fee),
        )

    def round_price(self, price: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
        """Price on the tick grid; the rounding direction is the caller's (fills round against the trader)."""
        return price.quantize(decimal_unit(self.price_decimals), rounding=rounding)

    def round_amount(self, amount: Decimal) -> Decimal:
        """Amounts are truncated, as Kraken and ccxt do, so an order never exceeds what was asked."""
        return amount.quantize(decimal_unit(self.amount_decimals), rounding=ROUND_DOWN)

    def round_cost(self, cost: Decimal, rounding: str) -> Decimal:
        return cost.quantize(decimal_unit(self.cost_decimals), rounding=rounding)

    def fee(self, cost: Decimal, rate: Decimal) -> Decimal:
        """Fee on ``cost`` in the quote currency: half up, and never zero on a nonzero trade (fees are always charged)."""
        if cost <= 0:
            return Decimal(0)
        return max(self.round_cost(cost * rate, ROUND_HALF_UP), decimal_unit(self.cost_decimals))


_MAKER = Decimal("0.0016")
_TAKER = Decimal("0.0026")

DEFAULT_MARKETS: dict[str, MarketSpec] = {
    spec.pair: spec
    for spec in (
        MarketSpec(pair="XBT/USD", base="XBT", quote="USD", price_decimals=1, amount_decimals=8, cost_decimals=5,
                   min_amount=Decimal("0.0001"), min_cost=Decimal("0.5"), maker_fee=_MAKER, taker_fee=_TAKER),
        MarketSpec(pair="ETH/USD", base="ETH", quote="USD", price_decimals=2, amount_decimals=8, cost_decimals=5,
                   min_amount=Decimal("0.002"), min_cost=Decimal("0.5"), maker_fee=_MAKER, taker_fee=_TAKER),
        MarketSpec(pair="SOL/USD", base="SOL", quote="USD", price_decimals=2, amount_decimals=8, cost_decimals=5,
                   min_amount=Decimal("0.02"), min_cost=Decimal("0.5"), maker_fee=_MAKER, taker_fee=_TAKER),
        MarketSpec(pair="ETH/XBT", base="ETH", quote="XBT", price_decimals=5, amount_decimals=8, cost_decimals=6,
                   min_amount=Decimal("0.01"), min_cost=Decimal("0.00002"), maker_fee=_MAKER, taker_fee=_TAKER),
    )
}
