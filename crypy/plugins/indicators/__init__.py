"""Indicators by name, each in two forms that give the same values: vectorized over a history with numpy
(``compute``), and incremental for live use (``live().update`` per closed candle).

Names come from ``registry.INDICATOR_REGISTRY``: crypy's own indicators are entry points of the
``crypy.indicators`` group, like a third-party package's. ``load_indicator("macd", {"fast": 8})`` builds one with
validated parameters; ``INDICATORS`` is a read-only view of the registry for code that indexes it like a dict.
``sma``, ``Rolling`` and ``RollingMean`` are the plain one-series helpers strategies use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from .bands import ATR, Bollinger, Donchian, Range
from .base import Indicator, LiveIndicator, Number
from .moving import EMA, SMA, WMA, Rolling, RollingMean, sma
from .oscillators import MACD, RSI
from .stats import LinregSlope, Volatility
from .volume import VWAP

if TYPE_CHECKING:
    from ..registry import PluginRegistry


def _registry() -> PluginRegistry[Indicator]:
    """Imported on use, not with this package: the registry imports ``.base`` from here."""
    from ..registry import INDICATOR_REGISTRY

    INDICATOR_REGISTRY.load_entry_points()
    return INDICATOR_REGISTRY


class _RegisteredIndicators(Mapping[str, type[Indicator]]):
    """The registry's indicators by name, sorted: a view, so folder plugins show up once loaded."""

    def __getitem__(self, name: str) -> type[Indicator]:
        return _registry().classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_registry().names())

    def __len__(self) -> int:
        return len(_registry().classes)


INDICATORS: Mapping[str, type[Indicator]] = _RegisteredIndicators()


def indicator_class(name: str) -> type[Indicator]:
    """The indicator class registered as ``name``; the error names the known ones (and a broken one's error)."""
    return _registry().lookup(name)


get_indicator = indicator_class  # the name strategies used before the registry held classes


def load_indicator(name: str, params: Mapping[str, Number] | None = None) -> Indicator:
    """An indicator built from its name and parameters (defaults for those left out), validated."""
    return indicator_class(name)(**dict(params or {}))


__all__ = [
    "ATR", "EMA", "INDICATORS", "MACD", "RSI", "SMA", "VWAP", "WMA", "Bollinger", "Donchian", "Indicator",
    "LinregSlope", "LiveIndicator", "Range", "Rolling", "RollingMean", "Volatility", "get_indicator",
    "indicator_class", "load_indicator", "sma",
]
