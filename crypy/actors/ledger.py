"""What a trader has done with its holder's capital, in exact Decimals.

A trader converts its holder's asset (``asset``) into the pair's other asset (``other``) and back. The
ledger follows each fill: ``committed`` is how much of the holder's asset is out (at cost), ``acquired``
how much of the other asset the trader holds, ``realized`` the profit or loss already booked in the
holder's asset. The desk's order gate and the trader both keep one, from the same fills, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crypy.protocols import Fill, Side


@dataclass
class CapitalLedger:
    asset: str
    other: str
    base: str
    committed: Decimal = Decimal(0)
    acquired: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)

    @property
    def holder_holds_quote(self) -> bool:
        return self.asset != self.base

    def spends(self, side: Side) -> bool:
        """Whether an order of ``side`` pays out the holder's asset (an entry) rather than buying it back."""
        return (side is Side.BUY) == self.holder_holds_quote

    def apply(self, fill: Fill) -> Decimal:
        """Book ``fill``; returns the profit or loss it realized in the holder's asset (0 for an entry)."""
        paid_quote = fill.cost + fill.fee
        got_quote = fill.cost - fill.fee
        if self.spends(fill.side):
            self.committed += paid_quote if fill.side is Side.BUY else fill.amount
            self.acquired += fill.amount if fill.side is Side.BUY else got_quote
            return Decimal(0)
        given_back = fill.amount if fill.side is Side.SELL else paid_quote
        received = got_quote if fill.side is Side.SELL else fill.amount
        share = min(given_back / self.acquired, Decimal(1)) if self.acquired > 0 else Decimal(1)
        cost = self.committed * share
        self.committed -= cost
        self.acquired = max(self.acquired - given_back, Decimal(0))
        pnl = received - cost
        self.realized += pnl
        return pnl
