"""An exchange in-process: recorded candles replayed on a (possibly virtual) trio clock, with exact matching.

Knows nothing of actors: it speaks ``crypy.protocols`` types only, so any adapter (in-process, REST, WebSocket)
can put it behind the same interface as a real exchange.
"""

from .accounts import FEE_ACCOUNT, Ledger
from .candles import bundled_candle_files, load_candles, parse_file_name
from .engine import MatchingEngine
from .errors import ExchangeError, InsufficientFunds, OrderRejected, UnknownOrder
from .exchange import SimConfig, SimExchange
from .ids import KrakenIds
from .market_stats import OrderBook, PublicTrade, TickerStats
from .markets import DEFAULT_MARKETS, MarketSpec, with_flat_fees
from .matching import MARKET_BUY_MARGIN
from .replay import MAX_ROWS, MarketReplay

__all__ = [
    "DEFAULT_MARKETS", "FEE_ACCOUNT", "MARKET_BUY_MARGIN", "MAX_ROWS", "ExchangeError", "InsufficientFunds",
    "KrakenIds", "Ledger", "MarketReplay", "MarketSpec", "MatchingEngine", "OrderBook", "OrderRejected",
    "PublicTrade", "SimConfig", "SimExchange", "TickerStats", "UnknownOrder", "bundled_candle_files",
    "load_candles", "parse_file_name", "with_flat_fees",
]
