"""Refusals of the simulated exchange, carrying Kraken's exact error strings.

An adapter that speaks Kraken's API can pass ``reason`` on verbatim, so a client (ccxt included) maps it to the
same exception it would get from the real exchange.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """The exchange refused a request. ``reason`` is the Kraken error string; ``detail`` is for humans."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason
        self.detail = detail


class OrderRejected(ExchangeError):
    """An order was not placed, or a pending market order could not be executed."""


class UnknownOrder(ExchangeError):
    """No such order, or (for a cancel) the order is already closed: Kraken answers both the same way."""

    def __init__(self, detail: str) -> None:
        super().__init__("EOrder:Unknown order", detail)


class InsufficientFunds(ExchangeError):
    """An account cannot cover a hold or a settlement."""

    def __init__(self, detail: str) -> None:
        super().__init__("EOrder:Insufficient funds", detail)


UNKNOWN_PAIR = "EQuery:Unknown asset pair"
INVALID_KEY = "EAPI:Invalid key"
