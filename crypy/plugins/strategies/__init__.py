"""crypy's built-in strategies, one module each, registered as entry points of ``crypy.strategies``."""

from .bollinger_reversion import BollingerReversion
from .donchian_breakout import DonchianBreakout
from .opening_range import OpeningRange
from .opening_range_breakout import OpeningRangeBreakout
from .rsi_reversion import RsiReversion
from .sma_crossover import SmaCrossover

__all__ = ["BollingerReversion", "DonchianBreakout", "OpeningRange", "OpeningRangeBreakout", "RsiReversion",
           "SmaCrossover"]
