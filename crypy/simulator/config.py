"""The simulator's capabilities file: one TOML file says what the exchange offers and how badly it behaves.

``load_config`` reads it (by default the bundled ``exchange.toml``) into a ``SimConfig`` for the exchange itself
and a ``KrakenServerConfig`` for its Kraken-compatible servers. Every mistake is reported as a ``ConfigError``
naming the file and the offending key, because a simulator silently running with a typo'd fault rate would make
a robustness test prove nothing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from crypy.protocols import OrderType

from .exchange import SimConfig

DEFAULT_CONFIG = Path(__file__).with_name("exchange.toml")

SystemStatus = Literal["online", "maintenance", "cancel_only", "post_only"]
RateLimitTier = Literal["starter", "intermediate", "pro"]
ALL_ENDPOINTS = "*"


class ConfigError(ValueError):
    """The capabilities file is missing, not TOML, or has a bad value; the message names the file and the key."""


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {rate}")


class Latency(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per-request latency in milliseconds, drawn from a lognormal with this median and 99th percentile.

    Lognormal because real request latency has a long right tail: most requests are quick, a few are very slow.
    """

    p50: float = 0.0
    p99: float = 0.0

    def __post_init__(self) -> None:
        if self.p50 < 0 or self.p99 < self.p50:
            raise ValueError(f"latency_ms needs 0 <= p50 <= p99, got p50={self.p50} p99={self.p99}")
        if self.p50 == 0 and self.p99 > 0:
            raise ValueError("latency_ms.p50 must be > 0 when p99 is")


class EndpointFaults(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one endpoint misbehaves: it answers ``error`` instead, or holds the request past the client's timeout."""

    error_rate: float = 0.0
    error: str = "EService:Unavailable"
    timeout_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_rate("error_rate", self.error_rate)
        _check_rate("timeout_rate", self.timeout_rate)
        category, colon, _ = self.error.partition(":")
        if not (colon and category.startswith("E")):
            raise ValueError(f"error must be a Kraken error string such as EService:Unavailable, got {self.error!r}")


class Faults(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fault injection. ``endpoints`` is keyed by Kraken method name (``AddOrder``), ``"*"`` for all the others.

    A timed-out request is held ``timeout_seconds`` (longer than the client waits) and then answered
    ``EService:Unavailable``; whether a timed-out call took effect is random, as it is on a real exchange.
    ``ws_disconnect_interval`` > 0 drops WebSocket connections that often (seconds); ``system_status`` is what
    ``SystemStatus`` reports and what trading is allowed.
    """

    endpoints: dict[str, EndpointFaults] = {}
    timeout_seconds: float = 15.0
    ws_disconnect_interval: float = 0.0
    system_status: SystemStatus = "online"

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0 or self.ws_disconnect_interval < 0:
            raise ValueError("timeout_seconds must be > 0 and ws_disconnect_interval >= 0")

    def for_endpoint(self, method: str) -> EndpointFaults:
        return self.endpoints.get(method) or self.endpoints.get(ALL_ENDPOINTS) or _NO_FAULTS


_NO_FAULTS = EndpointFaults()


class KrakenServerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the Kraken-compatible servers behave in front of the simulated exchange.

    ``seed`` makes latency and faults reproducible. ``order_types`` are the types the exchange accepts (others
    are refused as invalid arguments). ``rate_limits`` false turns both limiters off, which load tests want.
    ``nonce_window`` > 0 tolerates nonces that far below the highest seen. ``lockout_after`` failed
    authentications within ``lockout_seconds`` lock a client out for ``lockout_seconds`` (0 never does).
    ``credentials_seed`` makes the issued API keys reproducible; ``None`` issues random ones.
    """

    seed: int = 0
    order_types: tuple[OrderType, ...] = tuple(OrderType)
    latency_ms: Latency = Latency()
    faults: Faults = Faults()
    rate_limit_tier: RateLimitTier = "starter"
    rate_limits: bool = True
    nonce_window: int = 0
    lockout_after: int = 10
    lockout_seconds: float = 60.0
    credentials_seed: int | None = None

    def __post_init__(self) -> None:
        if self.nonce_window < 0 or self.lockout_after < 0 or self.lockout_seconds <= 0:
            raise ValueError("nonce_window and lockout_after must be >= 0, lockout_seconds > 0")


def load_config(path: str | Path | None = None) -> tuple[SimConfig, KrakenServerConfig]:
    """Read a capabilities file (default: the bundled ``exchange.toml``) into the two configs."""
    file = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    try:
        return parse_config(raw, base_dir=file.parent)
    except (ValueError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{file}: {exc}") from None


def parse_config(raw: dict[str, Any], base_dir: Path) -> tuple[SimConfig, KrakenServerConfig]:
    """The two configs from a parsed TOML document; relative data files are taken relative to ``base_dir``."""
    exchange = dict(raw)
    server = dict(exchange.pop("kraken", {}))
    if "order_types" in exchange:
        server["order_types"] = exchange.pop("order_types")
    server["seed"] = exchange.get("seed", 0)
    known = {field.name for field in msgspec.structs.fields(SimConfig)}
    unknown = sorted(set(exchange) - known)
    if unknown:
        expected = ", ".join(["kraken", "order_types", *sorted(known)])
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: {expected})")
    if exchange.get("data_files") == []:
        del exchange["data_files"]
    elif "data_files" in exchange:
        exchange["data_files"] = [str(base_dir / file) for file in exchange["data_files"]]
    if "markets" in exchange:
        exchange["markets"] = {pair: {"pair": pair, **spec} for pair, spec in exchange["markets"].items()}
    sim_config = msgspec.convert(exchange, SimConfig)
    try:
        return sim_config, msgspec.convert(server, KrakenServerConfig)
    except msgspec.ValidationError as exc:
        raise ValueError(f"[kraken]: {exc}") from None
