"""What traders think and what holders decide."""

from __future__ import annotations

from decimal import Decimal

from .base import Event
from .orders import Approval


class Signal(Event, frozen=True, kw_only=True):
    """A strategy's view on a pair after a closed candle. ``direction``: 1 long, 0 flat, -1 short."""

    trader: str
    pair: str
    strategy: str
    direction: int
    strength: float = 1.0
    tags: tuple[str, ...] = ()


class Proposal(Event, frozen=True, kw_only=True):
    """A trader offers its holder a strategy, with the metrics of its simulation over history."""

    id: str
    trader: str
    holder: str
    pair: str
    strategy: str
    params: dict[str, float]
    metrics: dict[str, float]


class Decision(Event, frozen=True, kw_only=True):
    """A holder's answer to a proposal. An accepted proposal carries the approval the desk will check."""

    proposal_id: str
    holder: str
    trader: str
    accepted: bool
    reason: str
    allocation: Decimal = Decimal(0)
    approval: Approval | None = None
