"""Adapters to the outside world, behind one async interface. They know nothing of actors."""

from .base import Exchange, ExchangeError, OrderRejected

__all__ = ["Exchange", "ExchangeError", "OrderRejected"]
