"""The end of a funded trader's life, written into the template memory that the next lifetime reads.

A holder hands every trader it funds to its ``OutcomeBook``; when the trader stops (retired, stopped by a human or
a risk limit, or at shutdown), its result is recorded once: into the holder's memory (strategy, params, pair,
result), from which ``usable_strategies`` avoids a strategy that failed on several pairs, and into the desk's
(the asset the trader bought and its result), from which ``bad_assets`` diverts capital. A trader that never
traded teaches nothing and is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
import trio

from .template import TemplateError, Templates
from .template_memory import desk_memory_file, holder_memory_file, record_asset_outcome, record_outcome

if TYPE_CHECKING:
    from .trader import Trader


@dataclass(frozen=True)
class LifeOutcome:
    trader: str
    pair: str
    asset: str
    """What the trader bought with its holder's capital."""
    strategy: str
    params: dict[str, int | float]
    result: float
    fills: int


class OutcomeBook:
    """One holder's funded traders whose outcome is not recorded yet."""

    def __init__(self, asset: str, templates: Templates, *, learn: bool) -> None:
        self.asset = asset
        self.templates = templates
        self.learn = learn
        self.recorded: list[LifeOutcome] = []
        self._funded: dict[str, Trader] = {}
        self._log = structlog.get_logger("crypy.memory").bind(holder=asset)

    def funded(self, trader: Trader) -> None:
        """``trader`` got an allocation (a trader restarted after a crash replaces its earlier self)."""
        self._funded[trader.name] = trader

    async def ended(self, name: str, now_ms: int) -> LifeOutcome | None:
        """Record the life of ``name`` if it was funded and traded; at most once."""
        trader = self._funded.pop(name, None)
        if trader is None or trader.proposal is None or (result := trader.outcome()) is None:
            return None
        outcome = LifeOutcome(trader=name, pair=trader.market.pair, asset=trader.ledger.other,
                              strategy=trader.proposal.strategy,
                              params={k: int(v) if float(v).is_integer() else v
                                      for k, v in trader.proposal.params.items()},
                              result=result[0], fills=result[1])
        self.recorded.append(outcome)
        self._log.info("trader outcome", trader=name, strategy=outcome.strategy, result=round(outcome.result, 6),
                       fills=outcome.fills, remembered=self.learn)
        if self.learn:
            try:
                await trio.to_thread.run_sync(self._write, outcome, now_ms)
            except (OSError, TemplateError) as exc:
                self._log.error("could not write the outcome into the template memory", error=str(exc))
        return outcome

    async def end_all(self, now_ms: int) -> None:
        for name in list(self._funded):
            await self.ended(name, now_ms)

    def _write(self, outcome: LifeOutcome, now_ms: int) -> None:
        directory = self.templates.directory
        record_outcome(holder_memory_file(directory, self.asset), trader=outcome.trader, pair=outcome.pair,
                       strategy=outcome.strategy, params=outcome.params, result=outcome.result, ts=now_ms)
        record_asset_outcome(desk_memory_file(directory), asset=outcome.asset, result=outcome.result, ts=now_ms)
