"""Actor templates: the human-editable TOML files that configure desks, holders and traders.

Templates are validated into typed structs when crypy starts, so a typo fails at once with the file, the
line and the reason instead of misbehaving in the middle of a run. A directory may add per-asset holder and
per-pair trader overrides (``holder.USD.toml``, ``trader.XBT-USD.toml``), merged key by key over the base file.
The holder and desk templates also carry a ``[memory]`` that crypy itself appends to (``template_memory.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import msgspec


class TemplateError(ValueError):
    """A template file is missing, is not TOML, or does not match what the actor expects."""


class MarketDataSettings(msgspec.Struct, forbid_unknown_fields=True):
    timeframe: str = "15m"
    poll_seconds: float = 0.2
    history: int = 720


class OrderSettings(msgspec.Struct, forbid_unknown_fields=True):
    poll_seconds: float = 0.2
    balance_seconds: float = 2.0


class DeskLimits(msgspec.Struct, forbid_unknown_fields=True):
    max_order_notional: Decimal = Decimal(10_000)
    allowed_pairs: list[str] = msgspec.field(default_factory=list)
    max_open_orders: int = 50
    max_orders_per_minute: int = 600
    max_exposure: dict[str, Decimal] = msgspec.field(default_factory=dict)
    """Per asset, the most of it the traders may hold together (what they acquired, open orders included)."""

    def __post_init__(self) -> None:
        if self.max_order_notional <= 0 or self.max_open_orders < 1 or self.max_orders_per_minute < 1:
            raise ValueError("max_order_notional, max_open_orders and max_orders_per_minute must be positive")
        if any(limit < 0 for limit in self.max_exposure.values()):
            raise ValueError("max_exposure amounts must not be negative")


class RiskSettings(msgspec.Struct, forbid_unknown_fields=True):
    """The desk's risk controls; amounts are in ``quote``, the account's quote currency."""

    quote: str = "USD"
    daily_loss_limit: Decimal | None = None
    """Realized plus unrealized trading loss since 00:00 UTC that switches the desk to ``on_daily_loss``."""
    on_daily_loss: str = "halted"
    flatten_on_daily_loss: bool = True
    trader_max_drawdown: float | None = None
    """A trader whose P&L falls this fraction of its approval below its best is flattened and stopped."""
    flatten_on_shutdown: bool = False
    shutdown_deadline_seconds: float = 30.0
    """How long a closing shutdown waits for its market orders before it cancels what is left."""
    divert_after_losses: int = 2
    """An asset whose last this many recorded outcomes were losses gets no new capital (0: never divert)."""

    def __post_init__(self) -> None:
        if self.on_daily_loss not in ("reducing", "halted"):
            raise ValueError(f"on_daily_loss must be 'reducing' or 'halted', not {self.on_daily_loss!r}")
        if self.daily_loss_limit is not None and self.daily_loss_limit <= 0:
            raise ValueError("daily_loss_limit must be a positive amount")
        if self.trader_max_drawdown is not None and not 0 < self.trader_max_drawdown <= 1:
            raise ValueError("trader_max_drawdown must be a fraction in (0, 1]")
        if self.shutdown_deadline_seconds <= 0:
            raise ValueError("shutdown_deadline_seconds must be positive")
        if self.divert_after_losses < 0:
            raise ValueError("divert_after_losses must not be negative")


def _default_paper_balance() -> dict[str, Decimal]:
    return {"USD": Decimal(10000)}


class PaperSettings(msgspec.Struct, forbid_unknown_fields=True):
    balance: dict[str, Decimal] = msgspec.field(default_factory=_default_paper_balance)


class AssetOutcome(msgspec.Struct, forbid_unknown_fields=True):
    """What trading an asset gave in one trader's life (its result, as a fraction of the approval)."""

    asset: str
    result: float
    ts: int = 0


class DeskMemory(msgspec.Struct, forbid_unknown_fields=True):
    assets: list[AssetOutcome] = msgspec.field(default_factory=list)


class DeskTemplate(msgspec.Struct, forbid_unknown_fields=True):
    market_data: MarketDataSettings = msgspec.field(default_factory=MarketDataSettings)
    orders: OrderSettings = msgspec.field(default_factory=OrderSettings)
    limits: DeskLimits = msgspec.field(default_factory=DeskLimits)
    risk: RiskSettings = msgspec.field(default_factory=RiskSettings)
    paper: PaperSettings = msgspec.field(default_factory=PaperSettings)
    memory: DeskMemory = msgspec.field(default_factory=DeskMemory)


class HolderCriteria(msgspec.Struct, forbid_unknown_fields=True):
    min_return: float = 0.0
    min_trades: int = 1
    max_drawdown: float = 0.25
    min_return_ratio: float | None = None
    """Simulated total return over maximum drawdown must reach this (unset: not checked)."""
    manual: bool = False
    """Proposals wait for a human's ``accept`` or ``refuse`` in the holder's REPL instead of being judged."""
    avoid_after_failures: int = 2
    """A strategy that failed (result <= 0) on this many distinct pairs is avoided (0: never avoid)."""
    banned_strategies: list[str] = msgspec.field(default_factory=list)
    allowed_strategies: list[str] = msgspec.field(default_factory=list)
    """Empty: every strategy of the trader template."""

    def __post_init__(self) -> None:
        if self.avoid_after_failures < 0:
            raise ValueError("avoid_after_failures must not be negative")


class HolderAllocation(msgspec.Struct, forbid_unknown_fields=True):
    fraction: float = 0.5
    approval_hours: float = 168.0


class HolderLifecycle(msgspec.Struct, forbid_unknown_fields=True):
    retire_others_on_entry: bool = True
    respawn_seconds: float = 15.0
    learn: bool = True
    """Write each funded trader's outcome into the memory (``holder.toml``, ``desk.toml``) when its life ends."""


class Outcome(msgspec.Struct, forbid_unknown_fields=True):
    """The end of one trader's life: what it traded, how, and its result (a fraction of its approval)."""

    trader: str
    pair: str
    strategy: str
    result: float
    params: dict[str, int | float] = msgspec.field(default_factory=dict)
    ts: int = 0


class HolderMemory(msgspec.Struct, forbid_unknown_fields=True):
    outcomes: list[Outcome] = msgspec.field(default_factory=list)


class HolderTemplate(msgspec.Struct, forbid_unknown_fields=True):
    criteria: HolderCriteria = msgspec.field(default_factory=HolderCriteria)
    allocation: HolderAllocation = msgspec.field(default_factory=HolderAllocation)
    lifecycle: HolderLifecycle = msgspec.field(default_factory=HolderLifecycle)
    memory: HolderMemory = msgspec.field(default_factory=HolderMemory)


class Evaluation(msgspec.Struct, forbid_unknown_fields=True):
    history: int = 720
    spread: float = 0.0005
    reevaluate_hours: float = 24.0
    """A flat trader simulates its strategies again after this long (exchange time) and proposes anew when the
    best has changed; 0: never."""

    def __post_init__(self) -> None:
        if self.history < 2 or not 0 <= self.spread < 1 or self.reevaluate_hours < 0:
            raise ValueError("history must be >= 2, spread in [0, 1) and reevaluate_hours >= 0")


class Exits(msgspec.Struct, forbid_unknown_fields=True):
    """Protective exits set on each entry, as fractions of the entry price. Unset: the strategy's own rule;
    0: none, whatever the strategy says.

    Set for long positions (a holder of the quote currency buying the base): a base holder's exits would buy
    back more base than its sale brought in quote currency."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None

    def __post_init__(self) -> None:
        for name in EXIT_RULES:
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1:
                raise ValueError(f"exits.{name} must be a fraction in (0, 1), or 0 for none")

    def over(self, rules: Mapping[str, float | None]) -> dict[str, float | None]:
        """These exits laid over ``rules``: a set value wins, and 0 turns the rule off."""
        return {name: (rules.get(name) if getattr(self, name) is None else getattr(self, name)) or None
                for name in EXIT_RULES}


EXIT_RULES = ("stop_loss", "take_profit", "trailing_stop")


class Trading(msgspec.Struct, forbid_unknown_fields=True):
    """How a funded trader builds its position: the target is its allocation times the signal's strength."""

    scale_in: list[float] = msgspec.field(default_factory=lambda: [1.0])
    """Shares of the target bought by the first entry and each add-on (an entry signal while in position)."""
    entry_period: int = 1
    """At most one entry (first or add-on) per this many candles."""

    def __post_init__(self) -> None:
        if not self.scale_in or any(not 0 < share <= 1 for share in self.scale_in) \
                or abs(sum(self.scale_in) - 1) > 1e-9:
            raise ValueError(f"scale_in must be shares in (0, 1] that add up to 1, got {self.scale_in}")
        if self.entry_period < 1:
            raise ValueError("entry_period must be at least 1 candle")


class StrategyChoice(msgspec.Struct, forbid_unknown_fields=True):
    """A strategy to evaluate: an explicit ``grid`` of parameter sets, and/or ``samples`` random sets drawn
    within ``ranges`` (``{ fast = [5, 50] }``: inclusive bounds, ints when both bounds are ints)."""

    name: str
    grid: list[dict[str, int | float]] = msgspec.field(default_factory=list)
    ranges: dict[str, list[int | float]] = msgspec.field(default_factory=dict)
    samples: int = 0
    exits: Exits = msgspec.field(default_factory=Exits)

    def __post_init__(self) -> None:
        if any(len(bounds) != 2 or bounds[0] > bounds[1] for bounds in self.ranges.values()):
            raise ValueError("each range must be [low, high] with low <= high")
        if self.samples < 0 or bool(self.samples) != bool(self.ranges):
            raise ValueError("samples (> 0) and ranges go together")
        if not self.grid and not self.samples:
            raise ValueError(f"strategy {self.name!r} needs a grid or ranges with samples")


class TraderTemplate(msgspec.Struct, forbid_unknown_fields=True):
    strategies: list[StrategyChoice]
    evaluation: Evaluation = msgspec.field(default_factory=Evaluation)
    exits: Exits = msgspec.field(default_factory=Exits)
    trading: Trading = msgspec.field(default_factory=Trading)
    plugin_dir: str | None = None
    """A folder of strategy plugins (``*.py``), relative to the template's directory."""


class Templates(msgspec.Struct):
    desk: DeskTemplate
    holder: HolderTemplate
    trader: TraderTemplate
    holders: dict[str, HolderTemplate] = msgspec.field(default_factory=dict)
    """Per asset, ``holder.ASSET.toml`` merged over the holder template."""
    traders: dict[str, TraderTemplate] = msgspec.field(default_factory=dict)
    """Per pair (``XBT/USD``), ``trader.XBT-USD.toml`` merged over the trader template."""
    directory: Path | None = None
    """The template directory read (None: the shipped defaults alone); memory is written there."""

    def holder_for(self, asset: str) -> HolderTemplate:
        return self.holders.get(asset, self.holder)

    def trader_for(self, pair: str) -> TraderTemplate:
        return self.traders.get(pair, self.trader)
