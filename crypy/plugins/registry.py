"""Strategies by name: the built-in ones, and third-party ones from the ``crypy.strategies`` entry point group.

A third-party package registers ``name = "package.module:StrategyClass"`` under ``[project.entry-points.
"crypy.strategies"]``. Entry points are loaded only when their name is asked for, so a broken plugin cannot
stop the others from loading. A built-in name cannot be taken over by a plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib.metadata import entry_points

from .sma_crossover import SmaCrossover
from .strategy import Strategy

ENTRY_POINT_GROUP = "crypy.strategies"

BUILTIN_STRATEGIES: dict[str, type[Strategy]] = {SmaCrossover.name: SmaCrossover}


def strategy_names() -> list[str]:
    """Every strategy name that ``load_strategy`` accepts, sorted."""
    return sorted(BUILTIN_STRATEGIES.keys() | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name``; the error names the known strategies."""
    if name in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[name]
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is not a crypy Strategy subclass")
        return cls
    raise ValueError(f"unknown strategy {name!r}; known strategies: {', '.join(strategy_names())}")


def load_strategy(name: str, params: Mapping[str, float]) -> Strategy:
    """An instance of strategy ``name`` with ``params``; raise ValueError naming what is wrong."""
    cls = strategy_class(name)
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"strategy {name!r} has no parameter {', '.join(unknown)}; "
                         f"its parameters are: {', '.join(accepted)}")
    try:
        return cls(**params)
    except ValueError as exc:
        raise ValueError(f"bad params for strategy {name!r}: {exc}") from exc
