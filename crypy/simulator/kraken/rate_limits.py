"""Kraken's two rate limiters: the per-key REST call counter and the per-pair trading counter.

Both are counters that rise with each call and decay linearly with time; a call that would push a counter over
its tier's maximum is refused and costs nothing. Time is whatever monotonic seconds the caller passes (the server
passes trio's clock), because limits protect the server in real time, whatever speed the market replays at.
"""

from __future__ import annotations

from dataclasses import dataclass

REST_LIMIT = "EAPI:Rate limit exceeded"
TRADING_LIMIT = "EOrder:Rate limit exceeded"


class RateLimited(Exception):
    """A call was refused by a limiter; ``reason`` is Kraken's error string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Tier:
    """One verification tier's limits (NOTES §1.6)."""

    rest_max: float
    rest_decay: float  # per second
    trading_max: float
    trading_decay: float  # per second


TIERS: dict[str, Tier] = {
    "starter": Tier(rest_max=15, rest_decay=0.33, trading_max=60, trading_decay=1.0),
    "intermediate": Tier(rest_max=20, rest_decay=0.5, trading_max=125, trading_decay=2.34),
    "pro": Tier(rest_max=20, rest_decay=1.0, trading_max=180, trading_decay=3.75),
}

TRADING_LIMITED = frozenset(
    {"AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder", "CancelOrder", "CancelOrderBatch"}
)
"""Private methods the REST counter skips: the trading counter covers them."""

_HEAVY_METHODS = frozenset({"Ledgers", "QueryLedgers", "TradesHistory"})

# (age limit in seconds, extra cost) pairs: an action on an order younger than the limit costs the extra.
_AMEND_EXTRA = ((5, 3), (10, 2), (15, 1))
_EDIT_EXTRA = ((5, 6), (10, 5), (15, 4), (45, 2), (90, 1))
_CANCEL_EXTRA = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


class OrderAges:
    """When (on the limiter's clock) each order was placed through this server, to price actions on young orders."""

    def __init__(self) -> None:
        self._placed: dict[str, float] = {}

    def placed(self, order_id: str, now: float) -> None:
        self._placed[order_id] = now

    def age(self, order_id: str, now: float) -> float | None:
        placed = self._placed.get(order_id)
        return None if placed is None else now - placed


@dataclass
class _Counter:
    value: float = 0.0
    at: float = 0.0

    def try_add(self, cost: float, maximum: float, decay: float, now: float) -> bool:
        self.value = max(0.0, self.value - (now - self.at) * decay)
        self.at = now
        if self.value + cost > maximum:
            return False
        self.value += cost
        return True


class RestLimiter:
    """The per-API-key call counter: +1 per private call, +2 for history calls, trading calls excluded."""

    def __init__(self, tier: Tier) -> None:
        self._tier = tier
        self._counters: dict[str, _Counter] = {}

    def charge(self, api_key: str, method: str, now: float) -> None:
        if method in TRADING_LIMITED:
            return
        cost = 2 if method in _HEAVY_METHODS else 1
        if not self._counters.setdefault(api_key, _Counter(at=now)).try_add(
            cost, self._tier.rest_max, self._tier.rest_decay, now
        ):
            raise RateLimited(REST_LIMIT)


class TradingLimiter:
    """The per-account, per-pair trading counter, where amending or cancelling a young order costs extra.

    Kraken charges young-order actions more to discourage quote stuffing. Order ages come from ``ages`` (when
    this server saw each order placed); an order it never saw counts as old.
    """

    def __init__(self, tier: Tier, ages: OrderAges) -> None:
        self._tier = tier
        self._ages = ages
        self._counters: dict[tuple[str, str], _Counter] = {}

    def add(self, account: str, pair: str, now: float, count: int = 1) -> None:
        self._charge(account, pair, count, now)

    def amend(self, account: str, pair: str, order_id: str, now: float) -> None:
        self._charge(account, pair, 1 + self._extra(_AMEND_EXTRA, order_id, now), now)

    def edit(self, account: str, pair: str, order_id: str, now: float) -> None:
        self._charge(account, pair, 1 + self._extra(_EDIT_EXTRA, order_id, now), now)

    def cancel(self, account: str, pair: str, order_id: str, now: float) -> None:
        self._charge(account, pair, self._extra(_CANCEL_EXTRA, order_id, now), now)

    def _extra(self, table: tuple[tuple[int, int], ...], order_id: str, now: float) -> int:
        age = self._ages.age(order_id, now)
        if age is None:
            return 0
        return next((extra for limit, extra in table if age < limit), 0)

    def _charge(self, account: str, pair: str, cost: float, now: float) -> None:
        counter = self._counters.setdefault((account, pair), _Counter(at=now))
        if not counter.try_add(cost, self._tier.trading_max, self._tier.trading_decay, now):
            raise RateLimited(TRADING_LIMIT)
