"""What each simulated market allows: precision, minimums and fees, with Kraken's real values.

Sources (``/work/shared/reference/kraken``): XBT/USD from ccxt's static markets file; ETH/XBT from the example
AssetPairs response of Kraken's OpenAPI spec; ETH/USD from NOTES.md §5 (AssetPairs captures). SOL/USD is not in
the reference folder: its values follow third-party AssetPairs fixtures (pair_decimals 2, ordermin 0.02).
Fees follow the schedule ccxt hard-codes and the ``ccxt-static`` AssetPairs data serves (NOTES §5): 0.16% maker /
0.26% taker below $50k of 30-day volume, falling to 0.00% / 0.10% from $10M.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache

import msgspec

from crypy.protocols import MarketInfo


@lru_cache(maxsize=64)
def decimal_unit(decimals: int) -> Decimal:
    """The smallest step with ``decimals`` decimals (``2 -> 0.01``); cached, as every rounding asks for one."""
    return Decimal(1).scaleb(-decimals)


FeeTiers = tuple[tuple[Decimal, Decimal], ...]
"""Kraken's AssetPairs ``fees`` layout: ``(30-day USD volume threshold, fee in PERCENT)``, thresholds ascending."""


class MarketSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One pair's trading rules. A Struct so that a config file can define extra markets.

    ``maker_fee``/``taker_fee`` are fractions (``0.0016``) and are the base tier. ``fee_tiers``/``maker_tiers`` are
    percent, as Kraken serves them, so the REST server can pass them on verbatim; empty means one flat tier. When
    given they must start at volume 0 with the base fee, and never rise with volume (a hold priced at the base
    taker fee then always covers the fee actually charged).
    """

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
    fee_tiers: FeeTiers = ()
    maker_tiers: FeeTiers = ()

    def __post_init__(self) -> None:
        _check_tiers(self.pair, "fee_tiers", self.taker_schedule)
        _check_tiers(self.pair, "maker_tiers", self.maker_schedule)
        if self.taker_schedule[0][1] != self.taker_fee * 100 or self.maker_schedule[0][1] != self.maker_fee * 100:
            raise ValueError(f"{self.pair}: the first fee tier must equal maker_fee/taker_fee (in percent)")

    @property
    def taker_schedule(self) -> FeeTiers:
        """Taker tiers in percent, the flat base tier when none are given: what AssetPairs ``fees`` shows."""
        return self.fee_tiers or ((Decimal(0), self.taker_fee * 100),)

    @property
    def maker_schedule(self) -> FeeTiers:
        """Maker tiers in percent, the flat base tier when none are given: what AssetPairs ``fees_maker`` shows."""
        return self.maker_tiers or ((Decimal(0), self.maker_fee * 100),)

    def fee_rates(self, volume: Decimal) -> tuple[Decimal, Decimal]:
        """``(maker, taker)`` as fractions for an account that traded ``volume`` USD in the last 30 days."""
        return _tier_rate(self.maker_schedule, volume), _tier_rate(self.taker_schedule, volume)

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
        """Fee on ``cost`` in the quote currency: half up, never zero on a nonzero trade (fees are always charged)."""
        if cost <= 0:
            return Decimal(0)
        return max(self.round_cost(cost * rate, ROUND_HALF_UP), decimal_unit(self.cost_decimals))


def _check_tiers(pair: str, name: str, tiers: FeeTiers) -> None:
    thresholds = [threshold for threshold, _ in tiers]
    rates = [rate for _, rate in tiers]
    if thresholds[0] != 0 or any(later <= earlier for earlier, later in zip(thresholds, thresholds[1:], strict=False)):
        raise ValueError(f"{pair}: {name} thresholds must start at 0 and increase")
    if rates[-1] < 0 or any(later > earlier for earlier, later in zip(rates, rates[1:], strict=False)):
        raise ValueError(f"{pair}: {name} rates must not be negative nor rise with volume")


def _tier_rate(tiers: FeeTiers, volume: Decimal) -> Decimal:
    """The percent of the highest tier whose threshold ``volume`` has reached, as a fraction."""
    return next(rate for threshold, rate in reversed(tiers) if volume >= threshold) / 100


def _tiers(*rows: tuple[int, str]) -> FeeTiers:
    return tuple((Decimal(threshold), Decimal(rate)) for threshold, rate in rows)


_MAKER = Decimal("0.0016")
_TAKER = Decimal("0.0026")
_TAKER_TIERS = _tiers((0, "0.26"), (50_000, "0.24"), (100_000, "0.22"), (250_000, "0.20"), (500_000, "0.18"),
                      (1_000_000, "0.16"), (2_500_000, "0.14"), (5_000_000, "0.12"), (10_000_000, "0.10"))
_MAKER_TIERS = _tiers((0, "0.16"), (50_000, "0.14"), (100_000, "0.12"), (250_000, "0.10"), (500_000, "0.08"),
                      (1_000_000, "0.06"), (2_500_000, "0.04"), (5_000_000, "0.02"), (10_000_000, "0.00"))
_FEES = {"maker_fee": _MAKER, "taker_fee": _TAKER, "fee_tiers": _TAKER_TIERS, "maker_tiers": _MAKER_TIERS}

DEFAULT_MARKETS: dict[str, MarketSpec] = {
    spec.pair: spec
    for spec in (
        MarketSpec(pair="XBT/USD", base="XBT", quote="USD", price_decimals=1, amount_decimals=8, cost_decimals=5,
                   min_amount=Decimal("0.0001"), min_cost=Decimal("0.5"), **_FEES),
        MarketSpec(pair="ETH/USD", base="ETH", quote="USD", price_decimals=2, amount_decimals=8, cost_decimals=5,
                   min_amount=Decimal("0.002"), min_cost=Decimal("0.5"), **_FEES),
        MarketSpec(pair="SOL/USD", base="SOL", quote="USD", price_decimals=2, amount_decimals=8, cost_decimals=5,
                   min_amount=Decimal("0.02"), min_cost=Decimal("0.5"), **_FEES),
        MarketSpec(pair="ETH/XBT", base="ETH", quote="XBT", price_decimals=5, amount_decimals=8, cost_decimals=6,
                   min_amount=Decimal("0.01"), min_cost=Decimal("0.00002"), **_FEES),
    )
}


def with_flat_fees(markets: dict[str, MarketSpec], *, maker: Decimal | None = None,
                   taker: Decimal | None = None) -> dict[str, MarketSpec]:
    """``markets`` charging one flat fee whatever the volume (fractions, ``0.001`` = 0.1 %): a what-if run at
    another fee level. A fee not given keeps its base tier; the volume tiers are dropped either way."""
    return {pair: msgspec.structs.replace(spec, maker_fee=spec.maker_fee if maker is None else maker,
                                          taker_fee=spec.taker_fee if taker is None else taker,
                                          fee_tiers=(), maker_tiers=())
            for pair, spec in markets.items()}
