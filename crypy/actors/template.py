"""Actor templates: the human-editable TOML files that configure desks, holders and traders.

Templates are validated into typed structs when crypy starts, so a typo fails at once with the file and
the reason instead of misbehaving in the middle of a run.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
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

    def __post_init__(self) -> None:
        if self.on_daily_loss not in ("reducing", "halted"):
            raise ValueError(f"on_daily_loss must be 'reducing' or 'halted', not {self.on_daily_loss!r}")
        if self.daily_loss_limit is not None and self.daily_loss_limit <= 0:
            raise ValueError("daily_loss_limit must be a positive amount")
        if self.trader_max_drawdown is not None and not 0 < self.trader_max_drawdown <= 1:
            raise ValueError("trader_max_drawdown must be a fraction in (0, 1]")
        if self.shutdown_deadline_seconds <= 0:
            raise ValueError("shutdown_deadline_seconds must be positive")


def _default_paper_balance() -> dict[str, Decimal]:
    return {"USD": Decimal(10000)}


class PaperSettings(msgspec.Struct, forbid_unknown_fields=True):
    balance: dict[str, Decimal] = msgspec.field(default_factory=_default_paper_balance)


class DeskTemplate(msgspec.Struct, forbid_unknown_fields=True):
    market_data: MarketDataSettings = msgspec.field(default_factory=MarketDataSettings)
    orders: OrderSettings = msgspec.field(default_factory=OrderSettings)
    limits: DeskLimits = msgspec.field(default_factory=DeskLimits)
    risk: RiskSettings = msgspec.field(default_factory=RiskSettings)
    paper: PaperSettings = msgspec.field(default_factory=PaperSettings)


class HolderCriteria(msgspec.Struct, forbid_unknown_fields=True):
    min_return: float = 0.0
    min_trades: int = 1
    max_drawdown: float = 0.25
    manual: bool = False
    """Proposals wait for a human's ``accept`` or ``refuse`` in the holder's REPL instead of being judged."""


class HolderAllocation(msgspec.Struct, forbid_unknown_fields=True):
    fraction: float = 0.5
    approval_hours: float = 168.0


class HolderLifecycle(msgspec.Struct, forbid_unknown_fields=True):
    retire_others_on_entry: bool = True
    respawn_seconds: float = 15.0


class HolderTemplate(msgspec.Struct, forbid_unknown_fields=True):
    criteria: HolderCriteria = msgspec.field(default_factory=HolderCriteria)
    allocation: HolderAllocation = msgspec.field(default_factory=HolderAllocation)
    lifecycle: HolderLifecycle = msgspec.field(default_factory=HolderLifecycle)


class Evaluation(msgspec.Struct, forbid_unknown_fields=True):
    history: int = 720
    spread: float = 0.0005


class Exits(msgspec.Struct, forbid_unknown_fields=True):
    """Protective exits set on each entry, as fractions of the entry price (none: the strategy alone exits).

    Set for long positions (a holder of the quote currency buying the base): a base holder's exits would buy
    back more base than its sale brought in quote currency."""

    stop_loss: float | None = None
    take_profit: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("stop_loss", self.stop_loss), ("take_profit", self.take_profit)):
            if value is not None and not 0 < value < 1:
                raise ValueError(f"exits.{name} must be a fraction in (0, 1)")


class StrategyChoice(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    grid: list[dict[str, int | float]]


class TraderTemplate(msgspec.Struct, forbid_unknown_fields=True):
    strategies: list[StrategyChoice]
    evaluation: Evaluation = msgspec.field(default_factory=Evaluation)
    exits: Exits = msgspec.field(default_factory=Exits)


class Templates(msgspec.Struct):
    desk: DeskTemplate
    holder: HolderTemplate
    trader: TraderTemplate


def default_template_dir() -> Path:
    """The shipped templates: inside the installed package, or ``templates/`` of a source checkout."""
    packaged = Path(str(resources.files("crypy"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def _load(path: Path, kind: type[msgspec.Struct]) -> msgspec.Struct:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read template: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise TemplateError(f"{path}: {exc}") from None


def load_templates(template_dir: Path | None = None) -> Templates:
    """Each of desk/holder/trader.toml from ``template_dir`` when it has one, else the shipped default."""
    defaults = default_template_dir()
    if template_dir is not None and not template_dir.is_dir():
        raise TemplateError(f"{template_dir}: template directory does not exist")

    def pick(name: str) -> Path:
        if template_dir is not None and (template_dir / name).is_file():
            return template_dir / name
        return defaults / name

    templates = Templates(
        desk=_load(pick("desk.toml"), DeskTemplate),
        holder=_load(pick("holder.toml"), HolderTemplate),
        trader=_load(pick("trader.toml"), TraderTemplate),
    )
    if not templates.trader.strategies:
        raise TemplateError(f"{pick('trader.toml')}: a trader template needs at least one [[strategies]] entry")
    return templates
