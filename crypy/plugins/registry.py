"""Strategies and indicators by name, from wherever they come: crypy's own, installed packages, plugin folders.

Built-ins are registered exactly as a third-party package registers its own: an entry point in the
``crypy.strategies`` or ``crypy.indicators`` group (``name = "package.module:Class"``). A folder of ``*.py``
files adds the strategies or indicators those files define. A plugin that fails to import, or that is not a
concrete subclass of the kind's base class, is reported with its name and error and skipped: one broken plugin
never stops an actor, nor the others.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Generic, TypeVar

import structlog

from .indicators.base import Indicator
from .strategy import Strategy

ENTRY_POINT_GROUP = "crypy.strategies"
INDICATOR_ENTRY_POINT_GROUP = "crypy.indicators"

log = structlog.get_logger("crypy.plugins")

P = TypeVar("P")


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be used: its name, where it came from, and why."""

    name: str
    source: str
    error: str


@dataclass
class PluginRegistry(Generic[P]):
    """Every known subclass of ``base`` by name, with where it came from; ``kind`` names them in errors."""

    group: str
    base: type[P]
    kind: str
    classes: dict[str, type[P]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)
    _entry_points_loaded: bool = False
    _folders: set[Path] = field(default_factory=set)

    @property
    def kinds(self) -> str:
        return self.kind[:-1] + "ies" if self.kind.endswith("y") else self.kind + "s"

    def _add(self, name: str, cls: object, source: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            self._fail(name, source, f"{cls!r} is not a crypy {self.base.__name__} subclass")
        elif inspect.isabstract(cls):
            self._fail(name, source, f"{cls!r} is abstract")
        elif name in self.classes and self.classes[name] is not cls:
            self._fail(name, source, f"the name is taken by {self.sources[name]}")
        else:
            self.classes[name], self.sources[name] = cls, source

    def _fail(self, name: str, source: str, error: str) -> None:
        self.errors.append(PluginError(name, source, error))
        log.error("plugin skipped", kind=self.kind, plugin=name, source=source, error=error)

    def load_entry_points(self) -> None:
        """The installed plugins of the group (crypy's own among them), once."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in sorted(entry_points(group=self.group), key=lambda ep: ep.name):
            try:
                cls = ep.load()
            except Exception as exc:  # a plugin's import may raise anything; report it and go on
                self._fail(ep.name, f"entry point {ep.value}", f"{type(exc).__name__}: {exc}")
                continue
            self._add(ep.name, cls, f"entry point {ep.value}")

    def load_folder(self, folder: Path) -> None:
        """The plugins defined by the ``*.py`` files of ``folder`` (each file imported once)."""
        folder = folder.resolve()
        if folder in self._folders:
            return
        self.load_entry_points()  # installed names come first: a folder cannot take one over
        self._folders.add(folder)
        if not folder.is_dir():
            self._fail(folder.name, str(folder), "plugin folder does not exist")
            return
        for path in sorted(folder.glob("*.py")):
            module_name = f"crypy_plugins.{folder.name}.{path.stem}"
            try:
                spec = importlib.util.spec_from_file_location(module_name, path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            except Exception as exc:  # as above: a broken file is skipped, the folder's others still load
                sys.modules.pop(module_name, None)
                self._fail(path.stem, str(path), f"{type(exc).__name__}: {exc}")
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, self.base) and cls.__module__ == module_name and not inspect.isabstract(cls):
                    self._add(getattr(cls, "name", cls.__name__), cls, str(path))

    def names(self) -> list[str]:
        self.load_entry_points()
        return sorted(self.classes)

    def lookup(self, name: str) -> type[P]:
        """The class registered as ``name``; the error names the known ones (and a broken one's error)."""
        self.load_entry_points()
        if name in self.classes:
            return self.classes[name]
        broken = [e for e in self.errors if e.name == name]
        if broken:
            raise ValueError(f"{self.kind} {name!r} is broken ({broken[-1].source}): {broken[-1].error}")
        raise ValueError(f"unknown {self.kind} {name!r}; known {self.kinds}: {', '.join(self.names())}")


class StrategyRegistry(PluginRegistry[Strategy]):
    """The strategies' registry: entry points of ``crypy.strategies`` and folders of ``Strategy`` subclasses."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP, Strategy, "strategy")


REGISTRY = StrategyRegistry()
"""The process's strategies: entry points on first use, plugin folders as templates name them."""

INDICATOR_REGISTRY: PluginRegistry[Indicator] = PluginRegistry(INDICATOR_ENTRY_POINT_GROUP, Indicator, "indicator")
"""The process's indicators: entry points on first use, plugin folders as they are named."""


def strategy_names() -> list[str]:
    """Every strategy name that ``load_strategy`` accepts, sorted."""
    return REGISTRY.names()


def strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name``; the error names the known strategies (and a broken one's error)."""
    return REGISTRY.lookup(name)


def strategy_params(cls: type[Strategy]) -> dict[str, object]:
    """A strategy's parameters with their defaults (``inspect.Parameter.empty`` when it has none)."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items() if name != "self"}


def load_strategy(name: str, params: Mapping[str, float]) -> Strategy:
    """An instance of strategy ``name`` with ``params``; raise ValueError naming what is wrong."""
    cls = strategy_class(name)
    accepted = list(strategy_params(cls))
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"strategy {name!r} has no parameter {', '.join(unknown)}; "
                         f"its parameters are: {', '.join(accepted)}")
    try:
        return cls(**params)
    except ValueError as exc:
        raise ValueError(f"bad params for strategy {name!r}: {exc}") from exc
