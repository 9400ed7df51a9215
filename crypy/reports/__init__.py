"""What a backtest report shows: the round trips of a run and the statistics of its trades and equity curve."""

from .stats import (
    Drawdown,
    EquityCurve,
    Stats,
    TradeStats,
    breakdown,
    compute_stats,
    max_drawdown,
    monthly_returns,
    trade_stats,
)
from .trades import DUST_SHARE, RoundTrip, exit_reason, round_trips

__all__ = [
    "DUST_SHARE", "Drawdown", "EquityCurve", "RoundTrip", "Stats", "TradeStats", "breakdown", "compute_stats",
    "exit_reason", "max_drawdown", "monthly_returns", "round_trips", "trade_stats",
]
