"""Strategies, indicators and their evaluation over history. Depends on numpy and crypy.protocols only."""

from .evaluation import Metrics, evaluate_grid, simulate
from .indicators import INDICATORS, Indicator, Rolling, RollingMean, get_indicator, sma
from .registry import ENTRY_POINT_GROUP, REGISTRY, load_strategy, strategy_class, strategy_names
from .sma_crossover import SmaCrossover
from .strategy import LiveStrategy, Strategy, WindowLive, int_param

__all__ = [
    "ENTRY_POINT_GROUP", "REGISTRY", "INDICATORS", "Indicator", "LiveStrategy", "Metrics", "Rolling",
    "RollingMean", "SmaCrossover", "Strategy", "WindowLive", "evaluate_grid", "get_indicator", "int_param",
    "load_strategy", "simulate", "sma", "strategy_class", "strategy_names",
]
