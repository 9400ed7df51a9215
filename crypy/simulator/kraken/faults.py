"""Seeded misbehaviour: latency, injected errors, timeouts and the exchange's system status.

One ``random.Random(seed)`` drives every draw, so a failing robustness test replays exactly. Each draw is a method
so the REST app (and anything else that wants the same faults) asks in plain words.
"""

from __future__ import annotations

import math
import random

from ..config import KrakenServerConfig, SystemStatus

UNAVAILABLE = "EService:Unavailable"
CANCEL_ONLY = "EService:Market in cancel_only mode"
POST_ONLY = "EService:Market in post_only mode"

_Z99 = 2.3263478740408408  # the standard normal's 99th percentile

ORDER_ENTRY_METHODS = frozenset({"AddOrder", "AddOrderBatch", "AmendOrder", "EditOrder"})
"""Methods that create or change orders: what cancel_only mode refuses."""

TRADING_METHODS = ORDER_ENTRY_METHODS | {"CancelOrder", "CancelOrderBatch", "CancelAll", "CancelAllOrdersAfter"}
"""Methods that act on orders: what maintenance mode refuses."""


class Faults:
    """The fault plan of one server: what to inject into each request, drawn from a seeded generator."""

    def __init__(self, config: KrakenServerConfig) -> None:
        self._config = config.faults
        self._random = random.Random(config.seed)
        latency = config.latency_ms
        self._latency_mu = math.log(latency.p50 / 1000) if latency.p50 > 0 else None
        self._latency_sigma = math.log(latency.p99 / latency.p50) / _Z99 if latency.p50 > 0 else 0.0
        self.system_status: SystemStatus = config.faults.system_status

    @property
    def timeout_seconds(self) -> float:
        return self._config.timeout_seconds

    def latency(self) -> float:
        """Seconds to delay this request: lognormal with the configured median and 99th percentile, or 0."""
        if self._latency_mu is None:
            return 0.0
        return self._random.lognormvariate(self._latency_mu, self._latency_sigma)

    def injected_error(self, method: str) -> str | None:
        """The error to answer instead of serving ``method``, if this request draws one."""
        faults = self._config.for_endpoint(method)
        if faults.error_rate and self._random.random() < faults.error_rate:
            return faults.error
        return None

    def times_out(self, method: str) -> bool:
        """Whether this request is held past the client's timeout."""
        rate = self._config.for_endpoint(method).timeout_rate
        return bool(rate) and self._random.random() < rate

    def executes_before_timeout(self) -> bool:
        """Whether a timed-out request took effect anyway: a coin flip, so clients must check before retrying."""
        return self._random.random() < 0.5

    def status_refusal(self, method: str) -> str | None:
        """The error the system status imposes on ``method`` regardless of its parameters."""
        if self.system_status == "maintenance" and method in TRADING_METHODS:
            return UNAVAILABLE
        if self.system_status == "cancel_only" and method in ORDER_ENTRY_METHODS:
            return CANCEL_ONLY
        return None

    def post_only_refusal(self, post_only: bool) -> str | None:
        """In post_only mode an order that could take liquidity is refused."""
        return POST_ONLY if self.system_status == "post_only" and not post_only else None
