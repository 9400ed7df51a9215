"""Adapters to the outside world, behind one async interface. They know nothing of actors."""

from .base import (
    Capabilities,
    Exchange,
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailable,
    OrderRejected,
    patiently,
)

__all__ = [
    "Capabilities", "Exchange", "ExchangeAuthError", "ExchangeError", "ExchangeUnavailable", "OrderRejected",
    "patiently",
]
