"""What flows between actors: typed, immutable events and their wire codec. Imports nothing else of crypy."""

from .account import Balance, BalanceSnapshot, Position
from .base import Event
from .decisions import Decision, Proposal, Signal
from .lifecycle import ActorCrashed, ActorStarted, ActorStopped
from .market import Candle, CandleBatch, HistoryRequest, MarketInfo, Ticker, timeframe_ms
from .orders import (
    Approval,
    CancelRequest,
    Fill,
    InvalidTransition,
    Order,
    OrderRefused,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    check_transition,
)
from .risk import RiskEvent, TradingState
from .wire import EVENT_TYPES, PROTOCOL_VERSION, FrameError, decode, encode

__all__ = [
    "EVENT_TYPES", "PROTOCOL_VERSION", "ActorCrashed", "ActorStarted", "ActorStopped", "Approval", "Balance",
    "BalanceSnapshot", "CancelRequest", "Candle", "CandleBatch", "Decision", "Event", "Fill", "FrameError",
    "HistoryRequest", "InvalidTransition", "MarketInfo", "Order", "OrderRefused", "OrderRequest", "OrderStatus",
    "OrderType", "Position", "Proposal", "RiskEvent", "Side", "Signal", "Ticker", "TimeInForce", "TradingState",
    "check_transition", "decode", "encode", "timeframe_ms",
]
