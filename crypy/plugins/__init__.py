"""Strategies, indicators and their evaluation over history. Depends on numpy and crypy.protocols only."""

from .evaluation import Metrics, evaluate_grid, simulate
from .indicators import INDICATORS, Indicator, Rolling, RollingMean, get_indicator, sma
from .registry import ENTRY_POINT_GROUP, REGISTRY, load_strategy, strategy_class, strategy_names
from .strategies import BollingerReversion, DonchianBreakout, OpeningRangeBreakout, RsiReversion, SmaCrossover
from .strategy import Candles, ExitRules, Feature, LiveStrategy, Strategy

__all__ = [
    "ENTRY_POINT_GROUP", "REGISTRY", "INDICATORS", "BollingerReversion", "Candles", "DonchianBreakout",
    "ExitRules", "Feature", "Indicator", "LiveStrategy", "Metrics", "OpeningRangeBreakout", "Rolling",
    "RollingMean", "RsiReversion", "SmaCrossover", "Strategy", "evaluate_grid", "get_indicator", "load_strategy",
    "simulate", "sma", "strategy_class", "strategy_names",
]
