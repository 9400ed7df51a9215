"""The end-of-run summary, and the proof that the journal agrees with the exchange to the last unit.

The check replays every journaled fill onto the starting balances (buy: +amount base, -cost-fee quote;
sell: -amount base, +cost-fee quote) and compares the result with the balances the exchange reports.
Any difference means a fill was lost, doubled, or mis-charged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from crypy.protocols import Fill, Order, Side
from crypy.repl.tables import format_table, format_utc, plain


def balances_from_fills(initial: Mapping[str, Decimal], fills: Iterable[Fill]) -> dict[str, Decimal]:
    """Starting balances moved by every fill, exactly."""
    result = dict(initial)
    for fill in fills:
        base, quote = fill.pair.split("/")
        sign = 1 if fill.side is Side.BUY else -1
        result[base] = result.get(base, Decimal(0)) + sign * fill.amount
        result[quote] = result.get(quote, Decimal(0)) - sign * fill.cost - fill.fee
    return result


@dataclass
class RunSummary:
    stopped_because: str
    journal: str
    initial: dict[str, Decimal]
    final: dict[str, Decimal]
    fills: list[Fill]
    orders: list[Order]
    candles: int
    market_start: int
    market_end: int

    @property
    def expected(self) -> dict[str, Decimal]:
        return balances_from_fills(self.initial, self.fills)

    @property
    def balances_match(self) -> bool:
        assets = self.expected.keys() | self.final.keys()
        return all(self.expected.get(a, Decimal(0)) == self.final.get(a, Decimal(0)) for a in assets)

    @property
    def open_orders(self) -> int:
        return sum(1 for order in self.orders if not order.status.is_terminal)

    def render(self) -> str:
        fees: dict[str, Decimal] = {}
        for fill in self.fills:
            fees[fill.fee_asset] = fees.get(fill.fee_asset, Decimal(0)) + fill.fee
        assets = sorted(self.initial.keys() | self.final.keys())
        rows = [(a, self.initial.get(a, Decimal(0)), self.final.get(a, Decimal(0)),
                 self.final.get(a, Decimal(0)) - self.initial.get(a, Decimal(0))) for a in assets]
        lines = [
            "",
            f"stopped: {self.stopped_because}",
            f"journal: {self.journal}",
            f"market time: {format_utc(self.market_start)} -> {format_utc(self.market_end)}",
            f"candles replayed: {self.candles}",
            f"orders: {len(self.orders)} (open: {self.open_orders})",
            f"trades: {len(self.fills)}",
            "fees: " + (", ".join(f"{plain(v)} {k}" for k, v in sorted(fees.items())) or "0"),
            "balances:",
            format_table(["asset", "start", "end", "change"], rows),
            "balances check: " + ("journal fills reproduce the exchange balances exactly" if self.balances_match
                                  else f"MISMATCH: journal says {self.expected}, exchange says {self.final}"),
        ]
        return "\n".join(lines)
