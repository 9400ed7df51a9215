"""Each account's 30-day traded volume in USD, which picks its fee tier as on Kraken.

Kraken counts volume in USD across all pairs. The simulator counts a fill's cost as USD when the pair is quoted
in USD, and converts other quotes (XBT for ETH/XBT) at the last price of ``<quote>/USD`` when that market is
simulated; otherwise the fill counts zero, which can only keep an account on a dearer tier, never a cheaper one.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

WINDOW_MS = 30 * 86_400_000
"""Kraken's fee tiers look at the last 30 days."""


def usd_value(quote: str, cost: Decimal, last_prices: dict[str, Decimal]) -> Decimal:
    """``cost`` in ``quote`` as USD, or zero when the simulator knows no ``<quote>/USD`` price."""
    if quote == "USD":
        return cost
    rate = last_prices.get(f"{quote}/USD")
    return cost * rate if rate is not None else Decimal(0)


class VolumeTracker:
    """A rolling 30-day sum of USD volume per account, kept incrementally so each fill costs O(1) on average."""

    def __init__(self) -> None:
        self._trades: dict[str, deque[tuple[int, Decimal]]] = {}
        self._sums: dict[str, Decimal] = {}

    def record(self, account: str, ts: int, usd: Decimal) -> None:
        self._trades.setdefault(account, deque()).append((ts, usd))
        self._sums[account] = self._sums.get(account, Decimal(0)) + usd

    def volume_before(self, account: str, now_ms: int) -> Decimal:
        """``volume`` less the trades made at ``now_ms`` itself (the other fills of the same candle)."""
        total = self.volume(account, now_ms)
        for ts, usd in reversed(self._trades.get(account, ())):
            if ts < now_ms:
                break
            total -= usd
        return total

    def volume(self, account: str, now_ms: int) -> Decimal:
        """USD traded in the 30 days up to ``now_ms`` (market time; it never goes back, so old trades drop for good)."""
        trades = self._trades.get(account)
        if not trades:
            return Decimal(0)
        while trades and trades[0][0] <= now_ms - WINDOW_MS:
            self._sums[account] -= trades.popleft()[1]
        return self._sums[account]
