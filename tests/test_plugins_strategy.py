"""The strategy interface: candles, exits, parameter validation, the latch in both forms, the live frame window,
indicators shared by a grid, and SmaCrossover's rule."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from crypy.plugins import Candles, ExitRules, SmaCrossover, Strategy
from crypy.plugins.indicators import SMA, Bollinger, Indicator
from crypy.plugins.strategy import Feature, Latch, Number, latch, previous, shared_indicators
from crypy.protocols import CandleBatch

from .conftest import real_candles

FIELDS = ("open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def btc() -> Candles:
    return Candles.from_candles(real_candles("kraken_BTCUSD_15m.csv.gz")[-6000:])


def closes(close: list[float] | np.ndarray, start: int = 1_672_531_200_000) -> Candles:
    """Candles 15 minutes apart whose every price is the close (the SMA rules read the close only)."""
    close = np.asarray(close, dtype=np.float64)
    return Candles.from_columns(start + 900_000 * np.arange(close.size), close, close, close, close,
                                np.ones(close.size))


def live_stream(strategy: Strategy, candles: Candles) -> tuple[list[float | None], list[float]]:
    live = strategy.live()
    targets, signals = [], []
    for row in zip(candles.time.tolist(), *(getattr(candles, f).tolist() for f in FIELDS), strict=True):
        targets.append(live.update(*row))
        signals.append(live.signal)
    return targets, signals


def assert_live_matches_vectorized(strategy: Strategy, candles: Candles) -> None:
    targets, signals = live_stream(strategy, candles)
    first = strategy.warmup - 1
    assert targets[:first] == [None] * first
    assert np.array_equal(np.array(targets[first:], dtype=np.float64), strategy.targets(candles)[first:])
    assert np.array_equal(np.array(signals), strategy.signals(candles), equal_nan=True)


@given(arrays(np.float64, st.integers(0, 60), elements=st.sampled_from([np.nan, 0.0, 0.25, 0.5, 1.0])))
def test_vectorized_latch_equals_live_latch(signals: np.ndarray) -> None:
    live = Latch()
    assert np.array_equal(latch(signals), np.array([live.update(x) for x in signals.tolist()], dtype=np.float64))


def test_latch_keeps_the_last_signal_and_starts_flat() -> None:
    assert latch(np.array([np.nan, 0.5, np.nan, 0.0, np.nan, 1.0])).tolist() == [0.0, 0.5, 0.5, 0.0, 0.0, 1.0]


def test_candles_columns_dtypes_tail_and_batch() -> None:
    candles = Candles.from_columns([1, 2, 3], [1, 2, 3], [2, 3, 4], [0, 1, 2], [1.5, 2.5, 3.5], [9, 9, 9])
    assert len(candles) == 3 and candles.time.dtype == np.int64 and candles.close.dtype == np.float64
    assert candles.tail(2).close.tolist() == [2.5, 3.5] and len(candles.tail(0)) == 0 and len(candles.tail(9)) == 3
    batch = CandleBatch(ts=0, pair="XBT/USD", timeframe="15m", times=[5, 6], open=[1.0, 2.0], high=[1.0, 2.0],
                        low=[1.0, 2.0], close=[1.0, 2.0], volume=[3.0, 4.0])
    assert Candles.from_batch(batch).time.tolist() == [5, 6]
    with pytest.raises(ValueError, match="equal length"):
        Candles.from_columns([1, 2], [1], [1], [1], [1], [1])


@pytest.mark.parametrize("rules", [{"stop_loss": 0.0}, {"take_profit": 1.0}, {"trailing_stop": -0.1},
                                   {"stop_loss": float("nan")}])
def test_exit_rules_are_fractions_of_the_entry_price(rules: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=f"{next(iter(rules))} must be a fraction"):
        ExitRules(**rules)


class Momentum(Strategy):
    """Hold base while the close beats the close ``lookback - 1`` candles ago: the rule reads the oldest row of its
    window, so it tests the live window at any size."""

    name: ClassVar[str] = "momentum"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {}
    defaults: ClassVar[dict[str, Number]] = {}

    def features(self) -> dict[str, Feature | Indicator]:
        return {}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.where(frame["close"] > previous(frame["close"], self.lookback - 1), 1.0, 0.0)


@pytest.mark.parametrize("lookback", [2, 5, 98])
def test_live_window_serves_any_lookback(btc: Candles, lookback: int) -> None:
    strategy = type("Momentum", (Momentum,), {"lookback": lookback})()
    assert strategy.warmup == lookback
    assert_live_matches_vectorized(strategy, btc.tail(3000))


class BandTouch(Strategy):
    """Two indicator features, one with several outputs, a float parameter and a rule with three outcomes."""

    name: ClassVar[str] = "band_touch"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (2, 100), "k": (0.5, 4.0)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20, "k": 2.0}

    def features(self) -> dict[str, Feature | Indicator]:
        return {"bands": Bollinger(window=self.params["window"], k=self.params["k"]), "trend": SMA(window=50)}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        low = frame["close"] < frame["bands.lower"]
        return np.where(low & (frame["trend"] < frame["close"] * 1.01), 0.5,
                        np.where(frame["close"] > frame["bands.upper"], 0.0, np.nan))


def test_multi_output_features_and_latched_strengths_live(btc: Candles) -> None:
    strategy = BandTouch(window=10, k=1.5)
    assert strategy.warmup == 49 + 2
    assert set(strategy.frame(btc.tail(60))) == {"time", *FIELDS, "bands.mid", "bands.upper", "bands.lower", "trend"}
    assert set(np.unique(strategy.targets(btc))) == {0.0, 0.5}
    assert_live_matches_vectorized(strategy, btc)


@pytest.mark.parametrize(("params", "message"), [
    ({"window": 5, "width": 1}, "band_touch: unknown parameter.s. width; known: window, k"),
    ({"window": 1}, r"band_touch: window must be an int in \[2, 100\], got 1"),
    ({"window": 2.5}, r"window must be an int in \[2, 100\], got 2.5"),
    ({"window": True}, "window must be an int"),
    ({"window": "10"}, "window must be an int"),
    ({"k": 4.5}, r"k must be a number in \[0.5, 4.0\], got 4.5"),
    ({"k": float("nan")}, "k must be a number"),
])
def test_params_are_validated_against_their_ranges(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BandTouch(**params)  # type: ignore[arg-type]


def test_params_are_normalised_and_declared_in_the_signature() -> None:
    strategy = BandTouch(window=12.0, k=3)
    assert strategy.params == {"window": 12, "k": 3.0}
    assert type(strategy.params["window"]) is int and type(strategy.params["k"]) is float
    assert repr(strategy) == "BandTouch(window=12, k=3.0)"
    assert {name: p.default for name, p in inspect.signature(BandTouch).parameters.items()} == BandTouch.defaults


def test_a_feature_may_not_overwrite_a_candle_column_and_must_be_a_feature() -> None:
    clash = type("Clash", (Momentum,), {"features": lambda self: {"close": SMA(window=3)}})
    with pytest.raises(ValueError, match="would overwrite frame column.s. close"):
        clash()
    junk = type("Junk", (Momentum,), {"features": lambda self: {"x": 42}})
    with pytest.raises(TypeError, match="neither an Indicator nor a Feature"):
        junk()


def test_declarations_are_checked_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="param_ranges and defaults name different parameters"):
        type("Undeclared", (Momentum,), {"param_ranges": {"window": (1, 9)}})
    with pytest.raises(TypeError, match="lookback must be >= 1"):
        type("Blind", (Momentum,), {"lookback": 0})


def test_signals_outside_zero_to_one_are_refused_in_both_forms(btc: Candles) -> None:
    leveraged = type("Leveraged", (Momentum,), {"rule": lambda self, frame: frame["close"] * 0 + 2.0})()
    with pytest.raises(ValueError, match="signals must be NaN or in"):
        leveraged.targets(btc.tail(10))
    live = leveraged.live()
    live.update(0, 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="signals must be NaN or in"):
        live.update(1, 1.0, 1.0, 1.0, 1.0, 1.0)


class ScaledSma(SMA):
    """An indicator with state beyond its parameters: two of them with equal parameters are not the same."""

    def __init__(self, scale: float, **params: Number) -> None:
        super().__init__(**params)
        self.scale = scale

    def compute(self, *columns: np.ndarray) -> dict[str, np.ndarray]:  # type: ignore[override]
        return {"sma": super().compute(*columns)["sma"] * self.scale}


class Overwriting(Strategy):
    """A rule that scales its frame's column in place: it must not reach another parameter set's frame."""

    name: ClassVar[str] = "overwriting"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {"window": (2, 100), "scale": (0.5, 2.0)}
    defaults: ClassVar[dict[str, Number]] = {"window": 20, "scale": 1.0}
    lookback: ClassVar[int] = 1

    def features(self) -> dict[str, Feature | Indicator]:
        return {"sma": SMA(window=self.params["window"]), "scaled": ScaledSma(self.params["scale"], window=10)}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        sma = frame["sma"]
        sma *= 1.001
        return np.where(frame["close"] > sma, 1.0, np.where(frame["close"] < frame["scaled"], 0.0, np.nan))


def test_a_grid_computes_equal_indicators_once_with_the_same_results(btc: Candles,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    grid = [Overwriting(window=20), Overwriting(window=20, scale=1.02), Overwriting(window=30)]
    alone = [strategy.signals(btc) for strategy in grid]
    computed: list[int] = []
    compute = SMA.compute
    monkeypatch.setattr(SMA, "compute", lambda self, *columns: computed.append(self.window) or compute(self, *columns))
    with shared_indicators(btc):
        shared = [strategy.signals(btc) for strategy in grid]
        grid[0].signals(btc.tail(500))  # other candles: computed, not taken from the share
    assert computed == [20, 10, 10, 30, 10, 20, 10]  # SMA(20) once; the scaled ones (state) every time
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(alone, shared, strict=True))
    assert not np.array_equal(shared[0], shared[1], equal_nan=True)


@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (10, 30), (50, 150)])
def test_sma_crossover_live_equals_vectorized(btc: Candles, fast: int, slow: int) -> None:
    strategy = SmaCrossover(fast, slow)
    assert np.count_nonzero(np.diff(strategy.targets(btc))) > 20
    assert_live_matches_vectorized(strategy, btc)


def test_ties_on_a_flat_stretch_are_no_trend_in_both_paths(btc: Candles) -> None:
    candles = closes(np.concatenate((btc.close[:3000], np.full(400, 23456.7))))  # rounding must not invent a cross
    strategy = SmaCrossover(10, 30)
    assert not strategy.targets(candles)[-370:].any()
    assert_live_matches_vectorized(strategy, candles)


def test_sma_crossover_rule_on_known_prices() -> None:
    candles = closes([10.0, 10.0, 10.0, 13.0, 7.0, 7.0, 7.0, 7.0])
    # SMA(2):         -    10    10   11.5   10    7     7     7
    # SMA(3):         -     -    10    11    10    9     7     7
    assert SmaCrossover(2, 3).targets(candles).tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert live_stream(SmaCrossover(2, 3), candles)[0] == [None, None, 0, 1, 0, 0, 0, 0]


def test_sma_crossover_params_and_repr() -> None:
    strategy = SmaCrossover(fast=5.0, slow=20)  # proposals carry floats
    assert strategy.params == {"fast": 5, "slow": 20}
    assert type(strategy.params["fast"]) is int
    assert strategy.warmup == 20
    assert repr(strategy) == "SmaCrossover(fast=5, slow=20)"
    assert SmaCrossover().params == {"fast": 10, "slow": 30}


@pytest.mark.parametrize(("fast", "slow", "message"), [
    (0, 30, r"fast must be an int in \[1, 500\], got 0"),
    (10, -1, r"slow must be an int in \[2, 2000\], got -1"),
    (30, 30, "fast must be < slow, got fast=30, slow=30"),
    (40, 30, "fast must be < slow"),
    (2.5, 30, "fast must be an int"),
    (True, 30, "fast must be an int"),
    ("10", 30, "fast must be an int"),
    (10, float("inf"), "slow must be an int"),
])
def test_sma_crossover_rejects_bad_params(fast: object, slow: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SmaCrossover(fast, slow)  # type: ignore[arg-type]
