"""What an account owns and what a trader holds."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .base import Event


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """One asset of an account. ``held`` is reserved by open orders; ``available`` is what may be spent."""

    asset: str
    total: Decimal
    held: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.total - self.held


class BalanceSnapshot(Event, frozen=True, kw_only=True):
    """Every balance of one account at one moment, as reported by the exchange."""

    account: str
    balances: dict[str, Balance]


class Position(Event, frozen=True, kw_only=True):
    """A trader's exposure: ``amount`` of ``asset`` bought with (or sold from) its holder's capital."""

    trader: str
    pair: str
    asset: str
    amount: Decimal
    entry_price: Decimal | None = None
    realized_pnl: Decimal = Decimal(0)
    pnl_asset: str = ""
