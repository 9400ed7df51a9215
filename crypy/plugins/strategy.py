"""The strategy interface, and the one rule that serves both history evaluation and live trading.

A strategy declares named ``features`` (indicators, or any ``Feature``) and one vectorized ``rule`` from a frame
of columns (``time, open, high, low, close, volume`` and the feature outputs) to a signal per candle:

- NaN: no signal, the target stays what it was;
- 0.0: exit, target 0 (hold the quote asset);
- (0, 1]: entry or hold, target that fraction of the position in the base asset (the strength).

``targets`` latches the signals: the target after each closed candle is the last signal that was not NaN (0 at the
start). Live decisions do not re-implement the rule: ``live()`` feeds each feature's incremental form (exactly the
floats of its vectorized form, see ``indicators``), keeps the newest ``lookback`` rows of the frame, runs the same
``rule`` on them and latches the last value the same way. Live and evaluation therefore cannot drift apart,
provided the rule honours the contract:

- row i of the result depends only on frame rows ``i - lookback + 1 .. i`` (use ``previous`` to look back);
- elementwise numpy arithmetic and comparisons only (``np.where``, ``np.clip``, ``+ - * /``): they give the same
  bits for a row whether it sits in a 2-row window or in a million-row history. No Python branching on values, no
  reductions across rows, no transcendental functions (their SIMD and scalar paths may round differently).

Warmup: ``warmup = max(feature warmups) + lookback`` candles. A feature's warmup counts its leading candles without
a value (as ``Indicator.warmup``); the rule then needs ``lookback`` rows of values, so the first decision is after
candle ``warmup - 1`` (0-based): ``signals`` are NaN and ``targets`` 0 before it, and ``live().update`` returns
``None`` for the first ``warmup - 1`` candles. Recursive features (EMA, RSI, ATR) depend on where they start, so a
live stream agrees with ``targets`` when both start from the same first candle.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from crypy.protocols import Candle, CandleBatch

from .indicators import Indicator
from .live import CANDLE_COLUMNS, Latch, LiveFeature, LiveStrategy, StrategyLive, TimelessLive

__all__ = ["CANDLE_COLUMNS", "Candles", "ExitRules", "Feature", "IndicatorFeature", "Latch", "LiveFeature",
           "LiveStrategy", "Number", "Strategy", "latch", "previous", "shared_indicators"]

Number = int | float


@dataclass(frozen=True, eq=False)
class Candles:
    """Candle columns, oldest first: ``time`` is each candle's open time (int64 ms UTC), the rest float64."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        shapes = {name: np.shape(getattr(self, name)) for name in ("time", *CANDLE_COLUMNS)}
        if len(set(shapes.values())) != 1 or len(shapes["time"]) != 1:
            raise ValueError(f"candle columns must be 1-D and of equal length, got shapes {shapes}")

    @classmethod
    def from_columns(cls, time: object, open: object, high: object, low: object, close: object,
                     volume: object) -> Candles:
        return cls(np.asarray(time, dtype=np.int64), *(np.asarray(column, dtype=np.float64)
                                                       for column in (open, high, low, close, volume)))

    @classmethod
    def from_batch(cls, batch: CandleBatch) -> Candles:
        return cls.from_columns(batch.times, batch.open, batch.high, batch.low, batch.close, batch.volume)

    @classmethod
    def from_candles(cls, candles: Sequence[Candle]) -> Candles:
        return cls.from_columns([c.ts for c in candles], *([getattr(c, name) for c in candles]
                                                           for name in CANDLE_COLUMNS))

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def tail(self, n: int) -> Candles:
        """The last ``n`` candles (all of them when there are fewer)."""
        rows = slice(max(len(self) - n, 0), None)
        return Candles(*(getattr(self, name)[rows] for name in ("time", *CANDLE_COLUMNS)))


@dataclass(frozen=True)
class ExitRules:
    """Exits armed at each entry, as fractions of the entry price: stop below, take-profit above, trailing stop
    below the highest price since the entry. ``None`` goes without."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None

    def __post_init__(self) -> None:
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not 0 < value < 1):
                raise ValueError(f"{name} must be a fraction in (0, 1) or None, got {value!r}")


@runtime_checkable
class Feature(Protocol):
    """A named input of a rule: ``compute`` over candles, and a ``live`` form giving the same floats per candle.

    ``warmup`` leading values are NaN (``live`` returns ``None`` for as many updates); NaN later is allowed.
    """

    outputs: tuple[str, ...]

    @property
    def warmup(self) -> int: ...

    def compute(self, candles: Candles) -> dict[str, np.ndarray]: ...

    def live(self) -> LiveFeature: ...


class IndicatorFeature:
    """An ``Indicator`` as a ``Feature``: indicators see no time, so the live form drops it."""

    def __init__(self, indicator: Indicator) -> None:
        self.indicator = indicator
        self.outputs = indicator.outputs

    @property
    def warmup(self) -> int:
        return self.indicator.warmup

    def compute(self, candles: Candles) -> dict[str, np.ndarray]:
        shared = _SHARED.get()
        key = None if shared is None or shared.candles is not candles else _sharing_key(self.indicator)
        if key is None:
            return self.indicator.compute(candles.open, candles.high, candles.low, candles.close, candles.volume)
        series = shared.series.get(key)
        if series is None:
            series = shared.series[key] = self.indicator.compute(candles.open, candles.high, candles.low,
                                                                 candles.close, candles.volume)
        return {output: np.array(values, dtype=np.float64) for output, values in series.items()}  # a frame's own

    def live(self) -> LiveFeature:
        return TimelessLive(self.indicator.live(), self.outputs)


class _SharedIndicators:
    """Indicator outputs over one history, by what makes them equal (``_sharing_key``)."""

    def __init__(self, candles: Candles) -> None:
        self.candles = candles
        self.series: dict[tuple[object, ...], dict[str, np.ndarray]] = {}


_SHARED: ContextVar[_SharedIndicators | None] = ContextVar("crypy_shared_indicators", default=None)


@contextmanager
def shared_indicators(candles: Candles) -> Iterator[None]:
    """Within it, equal indicators over ``candles`` are computed once: the parameter sets of a grid share their
    SMA(20) or RSI(14) instead of each computing it again (each frame still gets its own copy of the values)."""
    token = _SHARED.set(_SharedIndicators(candles))
    try:
        yield
    finally:
        _SHARED.reset(token)


def _sharing_key(indicator: Indicator) -> tuple[object, ...] | None:
    """The class and parameters of an indicator whose state is its number parameters alone, so that equal keys
    compute equal series; None for any other indicator (it is computed as it is, not shared)."""
    state = getattr(indicator, "__dict__", None)
    if state is None or state.keys() != {"params"} \
            or not all(type(value) in (int, float) for value in indicator.params.values()):
        return None
    return (type(indicator), *((name, repr(value)) for name, value in indicator.params.items()))


def previous(values: np.ndarray, k: int = 1) -> np.ndarray:
    """``values`` shifted ``k`` rows later, NaN in front: row i holds row i - k (needs ``lookback > k``)."""
    out = np.full(values.shape[0], np.nan)
    out[k:] = values[:values.shape[0] - k]
    return out


def latch(signals: np.ndarray) -> np.ndarray:
    """Targets from signals: the last non-NaN signal so far, 0 before the first (a forward fill, no loop)."""
    return Latch().update_many(signals)


class Strategy(ABC):
    """A parameterised rule from candles to a target exposure in [0, 1] to the pair's base asset.

    Parameters are declared in ``param_ranges`` (inclusive; int bounds make an int parameter, and an integral float
    passes as one since proposals carry floats) with ``defaults``; ``check`` adds constraints between them.
    """

    name: ClassVar[str]
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]]
    defaults: ClassVar[dict[str, Number]]
    exits: ClassVar[ExitRules] = ExitRules()
    lookback: ClassVar[int] = 2

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Refuse inconsistent declarations early, and show the declared parameters to ``inspect.signature`` (the
        registry and the CLI read a strategy's parameters from its signature) when ``__init__`` takes ``**params``."""
        super().__init_subclass__(**kwargs)
        if cls.lookback < 1:
            raise TypeError(f"{cls.__name__}: lookback must be >= 1, got {cls.lookback}")
        ranges, defaults = getattr(cls, "param_ranges", None), getattr(cls, "defaults", None)
        if ranges is None or defaults is None:
            return
        if set(ranges) != set(defaults):
            raise TypeError(f"{cls.__name__}: param_ranges and defaults name different parameters")
        if cls.__init__ is Strategy.__init__:
            cls.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
                inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=defaults[key]) for key in ranges])

    def __init__(self, **params: Number) -> None:
        unknown = sorted(set(params) - set(self.param_ranges))
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                             f"known: {', '.join(self.param_ranges)}")
        self.params: dict[str, Number] = {
            key: _checked(self.name, key, params.get(key, self.defaults[key]), low, high)
            for key, (low, high) in self.param_ranges.items()}
        self.check()
        self._features = _resolve(self.features())
        self.warmup: int = max((feature.warmup for feature, _ in self._features.values()), default=0) + self.lookback

    def check(self) -> None:
        """Constraints between parameters, beyond each one's range; raise ValueError naming them."""
        return None

    @abstractmethod
    def features(self) -> dict[str, Feature | Indicator]:
        """The named inputs of ``rule``, built from ``params`` (called once, after ``check``). An output goes into
        the frame as ``name`` when its feature has one output, else as ``name.output``."""

    @abstractmethod
    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        """Signal per row of ``frame`` (float64: NaN, 0.0 or (0, 1]), under the contract of the module docstring."""

    def frame(self, candles: Candles) -> dict[str, np.ndarray]:
        """The candle columns and every feature output, as ``rule`` sees them."""
        frame = {"time": candles.time, **{name: getattr(candles, name) for name in CANDLE_COLUMNS}}
        for feature, columns in self._features.values():
            series = feature.compute(candles)
            for output, column in columns.items():
                frame[column] = np.asarray(series[output], dtype=np.float64)
        return frame

    def signals(self, candles: Candles) -> np.ndarray:
        """The rule's signal per candle, NaN before the first decision (candle ``warmup - 1``)."""
        signals = np.array(self.rule(self.frame(candles)), dtype=np.float64)  # a copy: the rule may return a column
        if signals.shape != (len(candles),):
            raise ValueError(f"{self.name}: rule gave shape {signals.shape} for {len(candles)} candles")
        signals[:self.warmup - 1] = np.nan
        if ((signals < 0) | (signals > 1)).any():
            raise ValueError(f"{self.name}: signals must be NaN or in [0, 1]")
        return signals

    def targets(self, candles: Candles) -> np.ndarray:
        """Target exposure (float64 in [0, 1]) after each candle: the signals latched, 0 before the first one."""
        return latch(self.signals(candles))

    def live(self) -> LiveStrategy:
        """A fresh live decision stream running this strategy's ``rule`` on its newest ``lookback`` rows (or on a
        chunk of candles at once: ``update_many``, see ``crypy.plugins.live``)."""
        return StrategyLive(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


def _checked(strategy: str, key: str, value: object, low: Number, high: Number) -> Number:
    """``value`` validated against its range and normalised (an int for int bounds)."""
    integral = isinstance(low, int) and isinstance(high, int)
    number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    fits = number and math.isfinite(value) and low <= value <= high  # type: ignore[arg-type]
    if fits and integral and not float(value).is_integer():  # type: ignore[arg-type]
        fits = False
    if not fits:
        kind = "an int" if integral else "a number"
        raise ValueError(f"{strategy}: {key} must be {kind} in [{low}, {high}], got {value!r}")
    return int(value) if integral else float(value)  # type: ignore[arg-type]


def _resolve(features: dict[str, Feature | Indicator]) -> dict[str, tuple[Feature, dict[str, str]]]:
    """Each feature (indicators wrapped) with its frame column per output."""
    resolved: dict[str, tuple[Feature, dict[str, str]]] = {}
    taken = {"time", *CANDLE_COLUMNS}
    for name, feature in features.items():
        if isinstance(feature, Indicator):
            feature = IndicatorFeature(feature)
        elif not isinstance(feature, Feature):  # a Protocol check costs more than the rest of a strategy's set-up
            raise TypeError(f"feature {name!r} is neither an Indicator nor a Feature: {feature!r}")
        columns = {output: name if len(feature.outputs) == 1 else f"{name}.{output}" for output in feature.outputs}
        clash = taken & set(columns.values())
        if clash:
            raise ValueError(f"feature {name!r} would overwrite frame column(s) {', '.join(sorted(clash))}")
        taken |= set(columns.values())
        resolved[name] = (feature, columns)
    return resolved
