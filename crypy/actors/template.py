"""Actor templates: the human-editable TOML files that configure desks, holders and traders.

Templates are validated into typed structs when crypy starts, so a typo fails at once with the file, the
line and the reason instead of misbehaving in the middle of a run. A directory may add per-asset holder and
per-pair trader overrides (``holder.USD.toml``, ``trader.XBT-USD.toml``), merged key by key over the base file.
The holder and desk templates also carry a ``[memory]`` that crypy itself appends to (``template_memory.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

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
    holders: dict[str, HolderTemplate] = msgspec.field(default_factory=dict)
    """Per asset, ``holder.ASSET.toml`` merged over the holder template."""
    traders: dict[str, TraderTemplate] = msgspec.field(default_factory=dict)
    """Per pair (``XBT/USD``), ``trader.XBT-USD.toml`` merged over the trader template."""

    def holder_for(self, asset: str) -> HolderTemplate:
        return self.holders.get(asset, self.holder)

    def trader_for(self, pair: str) -> TraderTemplate:
        return self.traders.get(pair, self.trader)


def default_template_dir() -> Path:
    """The shipped templates: inside the installed package, or ``templates/`` of a source checkout."""
    packaged = Path(str(resources.files("crypy"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


TEMPLATE_FILES = ("desk.toml", "holder.toml", "trader.toml")


def user_template_dir() -> Path:
    """Where a run without ``--template-dir`` keeps its memory, since the shipped files are read-only."""
    if data_dir := os.environ.get("CRYPY_DATA_DIR"):
        return Path(data_dir) / "templates"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "crypy" / "templates"


def writable_template_dir(template_dir: Path | None) -> Path:
    """``template_dir`` itself, else the user's template dir, created on first use from the shipped templates."""
    if template_dir is not None:
        return template_dir
    directory = user_template_dir()
    if not directory.is_dir():
        staging = directory.with_name(f".{directory.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(default_template_dir(), staging)
        staging.replace(directory)  # a half-copied directory is never taken for the templates
    return directory


def override_name(kind: str, key: str) -> str:
    """``holder.USD.toml`` for an asset, ``trader.XBT-USD.toml`` for a pair (a slash cannot be in a file name)."""
    return f"{kind}.{key.replace('/', '-')}.toml"


_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_AOT_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_ERROR_PATH = re.compile(r" - at `\$([^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")

_Path = tuple[str | int, ...]
_S = TypeVar("_S", bound=msgspec.Struct)


def _parts(dotted: str) -> list[str]:
    return [part.strip("\"'") for part in re.findall(_KEY, dotted)]


def _key_lines(text: str) -> dict[_Path, int]:
    """The line of each table header and key of a TOML text, by its path (array of tables entries indexed)."""
    lines: dict[_Path, int] = {}
    aot_counts: dict[_Path, int] = {}
    table: _Path = ()
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        quotes = line.count('"""') + line.count("'''")
        if in_string:
            in_string = quotes % 2 == 0
            continue
        in_string = quotes % 2 == 1
        if match := _AOT_HEADER.match(line) or _TABLE_HEADER.match(line):
            *parents, name = _parts(match.group(1))
            resolved: list[str | int] = []
            for part in parents:  # a parent that is an array of tables means its latest entry
                resolved.append(part)
                if count := aot_counts.get(tuple(resolved)):
                    resolved.append(count - 1)
            resolved.append(name)
            if match.re is _AOT_HEADER:
                lines.setdefault(tuple(resolved), number)
                aot_counts[tuple(resolved)] = aot_counts.get(tuple(resolved), 0) + 1
                resolved.append(aot_counts[tuple(resolved)] - 1)
            table = tuple(resolved)
            lines.setdefault(table, number)
        elif match := _KEY_LINE.match(line):
            lines.setdefault((*table, *_parts(match.group(1))), number)
    return lines


def _error_path(message: str) -> _Path:
    """The path of a msgspec validation error (``$.limits.max_open_orders`` -> ("limits", "max_open_orders"))."""
    path: list[str | int] = []
    if match := _ERROR_PATH.search(message):
        for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", match.group(1).split("[...]")[0]):
            path.append(name if name else int(index))
    if match := _UNKNOWN.search(message):
        path.append(match.group(1))
    return tuple(path)


def _locate(text: str, path: _Path) -> tuple[int, int]:
    """(depth, line) of the deepest key or header of ``text`` on ``path``; (0, 1) when none is."""
    lines = _key_lines(text)
    for depth in range(len(path), 0, -1):
        if (line := lines.get(path[:depth])) is not None:
            return depth, line
    return 0, 1


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read template: {exc.strerror}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = match.group(1) if (match := re.search(r"at line (\d+)", str(exc))) else "1"
        raise TemplateError(f"{path}:{line}: not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base`` key by key: tables merge, any other value (arrays too) replaces."""
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged


def _load_merged(files: list[Path], kind: type[_S]) -> _S:
    """Validate the files merged in order; an error names the last file that sets the offending key."""
    read = [(path, *_read(path)) for path in files]
    raw: dict[str, Any] = {}
    for _, _, data in read:
        raw = _merge(raw, data)
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        path = _error_path(str(exc))
        located = [(*_locate(text, path), file) for file, text, _ in reversed(read)]
        _, line, file = max(located, key=lambda found: found[0])  # the deepest match; on a tie, the override
        raise TemplateError(f"{file}:{line}: {exc}") from None


def _overrides(directory: Path | None, kind: str) -> dict[str, Path]:
    """``{"USD": holder.USD.toml}`` or ``{"XBT/USD": trader.XBT-USD.toml}`` of a template directory."""
    if directory is None:
        return {}
    found = {}
    for path in sorted(directory.glob(f"{kind}.*.toml")):
        key = path.name[len(kind) + 1:-len(".toml")]
        found[key.replace("-", "/") if kind == "trader" else key] = path
    return found


def _check_trader(template: TraderTemplate, path: Path) -> TraderTemplate:
    if not template.strategies:
        raise TemplateError(f"{path}:1: a trader template needs at least one [[strategies]] entry")
    return template


def load_templates(template_dir: Path | None = None) -> Templates:
    """Each of desk/holder/trader.toml (and the overrides) from ``template_dir`` when it has one, else the shipped
    default; with no ``template_dir``, the user's template dir (where memory goes) when it exists."""
    defaults = default_template_dir()
    if template_dir is not None and not template_dir.is_dir():
        raise TemplateError(f"{template_dir}: template directory does not exist")
    if template_dir is None and user_template_dir().is_dir():
        template_dir = user_template_dir()

    def pick(name: str) -> Path:
        if template_dir is not None and (template_dir / name).is_file():
            return template_dir / name
        return defaults / name

    holder_file, trader_file = pick("holder.toml"), pick("trader.toml")
    return Templates(
        desk=_load_merged([pick("desk.toml")], DeskTemplate),
        holder=_load_merged([holder_file], HolderTemplate),
        trader=_check_trader(_load_merged([trader_file], TraderTemplate), trader_file),
        holders={asset: _load_merged([holder_file, path], HolderTemplate)
                 for asset, path in _overrides(template_dir, "holder").items()},
        traders={pair: _check_trader(_load_merged([trader_file, path], TraderTemplate), path)
                 for pair, path in _overrides(template_dir, "trader").items()},
    )
