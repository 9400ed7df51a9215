"""The trader's evaluation: every strategy of its template, over its parameter sets, simulated on the history.

Parameter sets come from the template: an explicit ``grid``, plus ``samples`` sets drawn within ``ranges``
(clipped to the strategy's declared ranges; floats to 4 decimals, as a human would write them) by a generator
seeded with the trader's name, so a trader evaluates the same sets every time it runs on the same template. The
exits simulated are the ones live trading will set: the strategy's own rules, overlaid by the template's
``[exits]``, overlaid by the strategy entry's ``exits``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import structlog

from crypy.plugins import Candles, Strategy, strategy_class
from crypy.plugins.evaluation import best_strategy
from crypy.plugins.metrics import periods_per_year

from .template import EXIT_RULES, StrategyChoice, TraderTemplate

log = structlog.get_logger("crypy.trader")


@dataclass(frozen=True)
class Evaluated:
    """The best parameter set of the best strategy, with its simulated metrics and the exits it assumed."""

    strategy: str
    params: dict[str, int | float]
    metrics: dict[str, float]
    exits: dict[str, float | None]


def parameter_sets(choice: StrategyChoice, cls: type[Strategy], rng: random.Random) -> list[dict[str, int | float]]:
    """The grid, then the samples; sets the strategy refuses (``fast >= slow``) and repeats are dropped."""
    return [params for params, _ in built_sets(choice, cls, rng)]


def built_sets(choice: StrategyChoice, cls: type[Strategy],
               rng: random.Random) -> list[tuple[dict[str, int | float], Strategy]]:
    """``parameter_sets``, each with its strategy: built once to check it, and evaluated as built."""
    sets = [dict(params) for params in choice.grid]
    for _ in range(choice.samples):
        drawn: dict[str, int | float] = {}
        for name, (low, high) in sorted(choice.ranges.items()):
            floor, ceiling = cls.param_ranges[name]
            low, high = max(low, floor), min(high, ceiling)
            integral = isinstance(floor, int) and isinstance(ceiling, int)
            drawn[name] = rng.randint(int(low), int(high)) if integral else round(rng.uniform(low, high), 4)
        sets.append(drawn)
    valid: list[tuple[dict[str, int | float], Strategy]] = []
    for params in sets:
        if any(params == seen for seen, _ in valid):
            continue
        try:
            valid.append((params, cls(**params)))
        except ValueError:
            continue
    return valid


def exits_for(template: TraderTemplate, choice: StrategyChoice, cls: type[Strategy]) -> dict[str, float | None]:
    """The strategy's exit rules, overlaid by the template's, overlaid by the strategy entry's."""
    own = {name: getattr(cls.exits, name) for name in EXIT_RULES}
    return choice.exits.over(template.exits.over(own))


def evaluate_strategies(template: TraderTemplate, candles: Candles, *, taker_fee: float, holder_holds_quote: bool,
                        timeframe: str, seed: str) -> Evaluated | None:
    """The best (by simulated total return) of every strategy and parameter set; None when the history is too
    short for all of them. A strategy whose plugin is broken is skipped (the registry has reported why)."""
    best: Evaluated | None = None
    for choice in template.strategies:
        try:
            cls = strategy_class(choice.name)
        except ValueError as exc:
            log.warning("strategy skipped", strategy=choice.name, error=str(exc))
            continue
        strategies = [strategy for _, strategy in built_sets(choice, cls, random.Random(f"{seed}:{choice.name}"))
                      if len(candles) >= strategy.warmup + 2]
        if not strategies:
            continue
        exits = exits_for(template, choice, cls) if holder_holds_quote else dict.fromkeys(EXIT_RULES)
        params, metrics = best_strategy(strategies, candles, fee=taker_fee, spread=template.evaluation.spread,
                                        holder_holds_quote=holder_holds_quote, **exits,
                                        periods_per_year=periods_per_year(timeframe))
        if best is None or metrics.total_return > best.metrics["total_return"]:
            best = Evaluated(choice.name, params, metrics.as_dict(), exits)
    return best
