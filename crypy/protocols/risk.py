"""The desk's trading state and the risk events that change it."""

from __future__ import annotations

import enum
from decimal import Decimal

from .base import Event


class TradingState(enum.StrEnum):
    """What the desk lets through its gate: everything, only orders that shrink positions, or nothing."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class RiskEvent(Event, frozen=True, kw_only=True):
    """A risk control fired or a human steered the desk: ``kind`` says which (``daily_loss_limit``,
    ``trader_drawdown``, ``kill``, ``resume``, ``state``, ``shutdown``, ``recovery``), ``state`` is the
    desk's trading state afterwards, ``value`` and ``limit`` the measured figure and its bound (in
    ``asset``) when a limit fired, ``trader`` the trader it concerns (empty for the whole desk)."""

    kind: str
    state: TradingState
    detail: str
    trader: str = ""
    value: Decimal | None = None
    limit: Decimal | None = None
    asset: str = ""
