"""Exact balances with holds: what each account owns and what its open orders have reserved.

The ledger refuses any change that would make a balance negative or spend held money, so an accounting bug
surfaces as an error rather than as silently created coins.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from crypy.protocols import Balance

from .errors import INVALID_KEY, ExchangeError, InsufficientFunds

FEE_ACCOUNT = "exchange:fees"


class Ledger:
    """Balances of every account plus the exchange's fee account, so per-asset totals only move by trading."""

    def __init__(self) -> None:
        self._totals: dict[str, dict[str, Decimal]] = {FEE_ACCOUNT: {}}
        self._held: dict[str, dict[str, Decimal]] = {FEE_ACCOUNT: {}}

    def open(self, account: str, balances: dict[str, Decimal]) -> None:
        if account in self._totals:
            raise ValueError(f"account {account!r} already exists")
        if any(not amount.is_finite() or amount < 0 for amount in balances.values()):
            raise ValueError(f"account {account!r}: opening balances must be finite and not negative")
        self._totals[account] = dict(balances)
        self._held[account] = {}

    def require(self, account: str) -> None:
        """An unknown account is what a wrong API key looks like on a real exchange."""
        if account not in self._totals:
            raise ExchangeError(INVALID_KEY, f"no account {account!r}")

    def balances(self, account: str) -> dict[str, Balance]:
        self.require(account)
        held = self._held[account]
        return {
            asset: Balance(asset=asset, total=total, held=held.get(asset, Decimal(0)))
            for asset, total in sorted(self._totals[account].items())
        }

    def fees(self) -> dict[str, Decimal]:
        """What the exchange has earned, per asset."""
        return {asset: total for asset, total in sorted(self._totals[FEE_ACCOUNT].items()) if total}

    def available(self, account: str, asset: str) -> Decimal:
        self.require(account)
        return self._totals[account].get(asset, Decimal(0)) - self._held[account].get(asset, Decimal(0))

    def check_available(self, account: str, asset: str, amount: Decimal) -> None:
        """Raise ``InsufficientFunds`` unless ``amount`` could be held now (a dry run, or an increase of a hold)."""
        available = self.available(account, asset)
        if amount > available:
            raise InsufficientFunds(f"{account} needs {amount} {asset} but has {available} available")

    def hold(self, account: str, asset: str, amount: Decimal) -> None:
        self.check_available(account, asset, amount)
        self._held[account][asset] = self._held[account].get(asset, Decimal(0)) + amount

    def release(self, account: str, asset: str, amount: Decimal) -> None:
        self.require(account)
        held = self._held[account].get(asset, Decimal(0))
        if amount > held:
            raise ValueError(f"{account}: releasing {amount} {asset} but only {held} is held")
        self._held[account][asset] = held - amount

    def trade(self, account: str, *, pay: tuple[str, Decimal], receive: tuple[str, Decimal],
              fee: tuple[str, Decimal]) -> None:
        """Swap with the market and pay the fee to the exchange, all or nothing, out of available funds only."""
        deltas: defaultdict[str, Decimal] = defaultdict(Decimal)
        deltas[pay[0]] -= pay[1]
        deltas[receive[0]] += receive[1]
        deltas[fee[0]] -= fee[1]
        for asset, delta in deltas.items():
            if self.available(account, asset) + delta < 0:
                raise InsufficientFunds(f"{account} is short of {asset} by {-(self.available(account, asset) + delta)}")
        for asset, delta in deltas.items():
            self._credit(account, asset, delta)
        self._credit(FEE_ACCOUNT, fee[0], fee[1])

    def _credit(self, account: str, asset: str, amount: Decimal) -> None:
        self._totals[account][asset] = self._totals[account].get(asset, Decimal(0)) + amount
