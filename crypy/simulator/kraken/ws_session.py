"""One WebSocket client's state: what it subscribed to, what it has been sent, and where its messages go.

Kept free of trio: the server hands each session a ``send`` that queues without waiting (and drops the
connection when its queue is full), so the exchange's listeners can push from synchronous code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .ws_channels import BookView, encode

TradeKey = tuple[int, Any]
"""A public trade's place on the tape: (time, trade id). Trades past a session's key are new to it."""


@dataclass(eq=False)
class Session:
    """Subscriptions are keyed by v2 symbol; private ones by the account the subscribing token named."""

    connection_id: int
    send: Callable[[str], None]
    ticker: set[str] = field(default_factory=set)
    ohlc: set[tuple[str, int]] = field(default_factory=set)  # (symbol, interval in minutes)
    trades: dict[str, TradeKey] = field(default_factory=dict)  # symbol -> last trade sent
    books: dict[str, BookView] = field(default_factory=dict)
    executions: dict[str, bool] = field(default_factory=dict)  # account -> every status transition wanted
    balances: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)  # valid while the connection is open
    sequence: int = 0

    def push(self, message: dict[str, object] | str) -> None:
        self.send(message if isinstance(message, str) else encode(message))

    def sequenced(self, message: dict[str, object]) -> dict[str, object]:
        """Number a private channel message: a per-connection sequence lets a client spot a gap."""
        self.sequence += 1
        message["sequence"] = self.sequence
        return message
