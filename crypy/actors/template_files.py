"""Template files: where they are, how they are read, merged and validated, with file and line on error.

Shipped defaults live in ``templates/`` (inside the package once installed). A run names a template directory, or
uses the user's (``user_template_dir``), created from the defaults on first use because memory is written there.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import msgspec

from crypy.plugins.registry import REGISTRY, load_strategy, strategy_class

from .template import DeskTemplate, HolderTemplate, TemplateError, Templates, TraderTemplate


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
    raw: dict[str, Any] = {}
    for path in files:
        raw = _merge(raw, _read(path)[1])
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        _fail_at(files, _error_path(str(exc)), str(exc))


def _fail_at(files: list[Path], path: _Path, reason: str) -> NoReturn:
    """Raise a TemplateError at the line of ``path`` in the last of ``files`` that sets it."""
    located = [(*_locate(_read(file)[0], path), file) for file in reversed(files)]
    _, line, file = max(located, key=lambda found: found[0])  # the deepest match; on a tie, the override
    raise TemplateError(f"{file}:{line}: {reason}") from None


def _overrides(directory: Path | None, kind: str) -> dict[str, Path]:
    """``{"USD": holder.USD.toml}`` or ``{"XBT/USD": trader.XBT-USD.toml}`` of a template directory."""
    if directory is None:
        return {}
    found = {}
    for path in sorted(directory.glob(f"{kind}.*.toml")):
        key = path.name[len(kind) + 1:-len(".toml")]
        found[key.replace("-", "/") if kind == "trader" else key] = path
    return found


def _check_trader(template: TraderTemplate, files: list[Path]) -> TraderTemplate:
    """Strategies that exist, with valid parameters; the plugin folder resolved and loaded.

    A strategy whose plugin is broken is not an error here: the registry has reported it, and the trader skips
    it (one broken plugin never stops an actor). An unknown name is a typo, and fails at start."""
    if not template.strategies:
        raise TemplateError(f"{files[-1]}:1: a trader template needs at least one [[strategies]] entry")
    if template.plugin_dir is not None:
        setter = next(f for f in reversed(files) if "plugin_dir" in _read(f)[1])
        folder = (setter.parent / template.plugin_dir).resolve()
        if not folder.is_dir():
            _fail_at(files, ("plugin_dir",), f"plugin folder {folder} does not exist")
        REGISTRY.load_folder(folder)
        template = msgspec.structs.replace(template, plugin_dir=str(folder))
    broken = {error.name for error in REGISTRY.errors}
    for index, choice in enumerate(template.strategies):
        try:
            cls = strategy_class(choice.name)
        except ValueError as exc:
            if choice.name in broken:
                continue
            _fail_at(files, ("strategies", index, "name"), str(exc))
        for params in choice.grid:
            try:
                load_strategy(choice.name, params)
            except ValueError as exc:
                _fail_at(files, ("strategies", index, "grid"), str(exc))
        unknown = sorted(set(choice.ranges) - set(cls.param_ranges))
        if unknown:
            _fail_at(files, ("strategies", index, "ranges"),
                     f"strategy {choice.name!r} has no parameter {', '.join(unknown)}")
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
        trader=_check_trader(_load_merged([trader_file], TraderTemplate), [trader_file]),
        holders={asset: _load_merged([holder_file, path], HolderTemplate)
                 for asset, path in _overrides(template_dir, "holder").items()},
        traders={pair: _check_trader(_load_merged([trader_file, path], TraderTemplate), [trader_file, path])
                 for pair, path in _overrides(template_dir, "trader").items()},
        directory=template_dir,
    )
