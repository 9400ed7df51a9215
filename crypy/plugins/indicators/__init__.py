"""Indicators by name, each in two forms that give the same values: vectorized over a history with numpy
(``compute``), and incremental for live use (``live().update`` per closed candle).

``INDICATORS`` maps each lowercase name to its class; ``load_indicator("macd", {"fast": 8})`` builds one with
validated parameters. ``sma``, ``Rolling`` and ``RollingMean`` are the plain one-series helpers strategies use.
"""

from __future__ import annotations

from collections.abc import Mapping

from .bands import ATR, Bollinger, Donchian, Range
from .base import Indicator, LiveIndicator, Number
from .moving import EMA, SMA, WMA, Rolling, RollingMean, sma
from .oscillators import MACD, RSI
from .stats import LinregSlope, Volatility
from .volume import VWAP

INDICATORS: dict[str, type[Indicator]] = {
    cls.name: cls for cls in (SMA, EMA, WMA, RSI, MACD, Bollinger, ATR, Donchian, VWAP, Volatility, LinregSlope,
                              Range)
}


def indicator_class(name: str) -> type[Indicator]:
    """The indicator class registered as ``name``; the error lists the known names."""
    try:
        return INDICATORS[name]
    except KeyError:
        raise ValueError(f"unknown indicator {name!r}; known: {', '.join(sorted(INDICATORS))}") from None


get_indicator = indicator_class  # the name strategies used before the registry held classes


def load_indicator(name: str, params: Mapping[str, Number] | None = None) -> Indicator:
    """An indicator built from its name and parameters (defaults for those left out), validated."""
    return indicator_class(name)(**dict(params or {}))


__all__ = [
    "ATR", "EMA", "INDICATORS", "MACD", "RSI", "SMA", "VWAP", "WMA", "Bollinger", "Donchian", "Indicator",
    "LinregSlope", "LiveIndicator", "Range", "Rolling", "RollingMean", "Volatility", "get_indicator",
    "indicator_class", "load_indicator", "sma",
]
