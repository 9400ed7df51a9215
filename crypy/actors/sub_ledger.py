"""A holder's sub-ledger: how its capital of one asset is shared among its traders, in exact Decimals.

Several traders spend one asset. Each gets an allocation; what they have not spent yet must fit in what the
holder has free, or two approvals would promise the same money and one trader would spend another's capital.

The books, per holder:
- ``capital`` is what the holder was given; ``committed`` what its traders have out in positions (at cost,
  fees included); ``realized`` the profit or loss their exits booked. ``own = capital + realized - committed``
  is what the holder's books say is free, so ``committed + own == capital + realized`` always.
- ``free`` is ``own``, capped by the exchange's last report of the asset (never below 0).
- A trader's allocation is its grant: the part not committed yet (``grant - committed``) is *reserved*.

The rule for a shrinking balance: when the reserved parts add up to more than ``free`` (a report below the
books: a withdrawal, another holder's trade, fills the exchange reported before the holder booked them; or a
loss that shrank ``own``), every reserved part shrinks by the same proportion, so they fit again, and nothing is
left for new allocations. The grants themselves are kept: the shrink is a view of the last report, so the
allocations grow back when a report or a profit restores ``free``. Approvals already signed are not re-signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from crypy.protocols import Fill

from .ledger import CapitalLedger

ASSET_DECIMALS = 8
QUANTUM = Decimal(1).scaleb(-ASSET_DECIMALS)
ZERO = Decimal(0)


@dataclass
class Grant:
    """One trader's share: ``amount`` is what its approvals were signed for (0 once released)."""

    amount: Decimal
    ledger: CapitalLedger

    @property
    def uncommitted(self) -> Decimal:
        return max(self.amount - self.ledger.committed, ZERO)

    @property
    def flat(self) -> bool:
        return self.ledger.committed == 0 and self.ledger.acquired == 0


class SubLedger:
    def __init__(self, asset: str, capital: Decimal) -> None:
        self.asset = asset
        self.capital = capital
        self.reported: Decimal | None = None
        """The exchange's last balance of the asset; None until the first report."""
        self.grants: dict[str, Grant] = {}
        """Funded traders, and released ones still in position (their exits bring capital back)."""
        self._closed_realized = ZERO

    @property
    def committed(self) -> Decimal:
        return sum((g.ledger.committed for g in self.grants.values()), ZERO)

    @property
    def realized(self) -> Decimal:
        return self._closed_realized + sum((g.ledger.realized for g in self.grants.values()), ZERO)

    @property
    def own(self) -> Decimal:
        """Free by the holder's books alone: its capital and results, less what is in positions."""
        return self.capital + self.realized - self.committed

    @property
    def free(self) -> Decimal:
        """Free by the books and by the exchange's last report, whichever is lower."""
        free = self.own if self.reported is None else min(self.own, self.reported)
        return max(free, ZERO)

    def _wanted(self) -> Decimal:
        return sum((g.uncommitted for g in self.grants.values()), ZERO)

    def uncommitted(self, trader: str) -> Decimal:
        """What ``trader`` may still spend of its allocation, shrunk when the reserved parts do not fit."""
        grant = self.grants.get(trader)
        if grant is None:
            return ZERO
        wanted, free = self._wanted(), self.free
        if wanted <= free:
            return grant.uncommitted
        return (grant.uncommitted * free / wanted).quantize(QUANTUM, rounding=ROUND_DOWN)

    @property
    def reserved(self) -> Decimal:
        return sum((self.uncommitted(name) for name in self.grants), ZERO)

    @property
    def unallocated(self) -> Decimal:
        return max(self.free - self.reserved, ZERO)

    @property
    def allocated(self) -> Decimal:
        """What the traders hold or may still spend."""
        return self.committed + self.reserved

    def allocate(self, trader: str, amount: Decimal, ledger: CapitalLedger) -> Decimal:
        """Add at most what is unallocated to ``trader``'s grant; returns what was granted.

        ``ledger`` books the trader's fills from now on (a trader already known keeps its own).
        """
        granted = max(min(amount, self.unallocated), ZERO)
        grant = self.grants.setdefault(trader, Grant(ZERO, ledger))
        grant.amount += granted
        return granted

    def adopt(self, trader: str, ledger: CapitalLedger) -> None:
        """A position taken before this holder existed (the desk restarted): ``capital`` (the free balance) grows by
        its cost, so the books stay as they were, and its exit brings the capital back as any other."""
        held = CapitalLedger(asset=ledger.asset, other=ledger.other, base=ledger.base, committed=ledger.committed,
                             acquired=ledger.acquired)
        self.capital += held.committed
        self.grants[trader] = Grant(ZERO, held)  # nothing more to spend until the holder funds it again

    def release(self, trader: str) -> None:
        """Take back what ``trader`` has not spent; what it has in position stays booked until its exit."""
        grant = self.grants.get(trader)
        if grant is not None:
            grant.amount = ZERO
            self._forget_if_done(trader)

    def on_fill(self, fill: Fill) -> None:
        """Book a fill of a known trader: an entry commits capital, an exit brings it back with its result."""
        grant = self.grants.get(fill.trader)
        if grant is not None:
            grant.ledger.apply(fill)
            self._forget_if_done(fill.trader)

    def on_balance(self, balance: Decimal) -> None:
        """A new exchange report of the asset: the account's total, since open orders hold reserved capital."""
        self.reported = balance

    def _forget_if_done(self, trader: str) -> None:
        grant = self.grants[trader]
        if grant.amount == 0 and grant.flat:
            self._closed_realized += grant.ledger.realized
            del self.grants[trader]

    def check(self) -> None:
        """Raise ValueError unless the reserved parts fit in what is free, and nothing is negative."""
        free = self.free
        if free < 0 or self.committed < 0:
            raise ValueError(f"{self.asset}: free {free}, committed {self.committed}: negative")
        for name, grant in self.grants.items():
            if not ZERO <= self.uncommitted(name) <= grant.uncommitted:
                raise ValueError(f"{self.asset}: {name} may spend {self.uncommitted(name)} of {grant.uncommitted}")
        if self.reserved > free:
            raise ValueError(f"{self.asset}: {self.reserved} reserved but only {free} free")
