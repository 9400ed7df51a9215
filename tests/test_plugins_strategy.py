"""Strategies: live decisions equal vectorized targets candle for candle; SmaCrossover's rule and validation."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from crypy.plugins import SmaCrossover, Strategy

BTC_15M = Path(__file__).resolve().parents[1] / "crypy" / "data" / "kraken_BTCUSD_15m.csv.gz"


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    return np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=4)


def live_stream(strategy: Strategy, close: np.ndarray) -> list[int | None]:
    live = strategy.live()
    return [live.update(float(x)) for x in close]


def assert_live_matches_vectorized(strategy: Strategy, close: np.ndarray) -> None:
    stream = live_stream(strategy, close)
    first = strategy.warmup - 1
    assert stream[:first] == [None] * first
    decided = np.array(stream[first:], dtype=np.int8)
    vectorized = strategy.targets(close)[first:]
    mismatches = np.flatnonzero(decided != vectorized)
    assert mismatches.size == 0, f"live differs from vectorized at candles {(mismatches + first)[:10]}"


@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (10, 30), (50, 150)])
def test_live_equals_vectorized_over_the_whole_file(close: np.ndarray, fast: int, slow: int) -> None:
    assert len(close) > 26_000
    assert_live_matches_vectorized(SmaCrossover(fast, slow), close)


def test_ties_on_a_flat_stretch_are_no_trend_in_both_paths(close: np.ndarray) -> None:
    series = np.concatenate((close[:3000], np.full(400, 23456.7)))  # rounding must not invent a crossover
    strategy = SmaCrossover(10, 30)
    assert not strategy.targets(series)[-370:].any()
    assert_live_matches_vectorized(strategy, series)


class Momentum(Strategy):
    """A second strategy, to test the live machinery apart from SMA: hold base while close beats close k ago."""

    name: ClassVar[str] = "momentum"

    def __init__(self, lookback: int) -> None:
        self.lookback = lookback

    @property
    def params(self) -> dict[str, int | float]:
        return {"lookback": self.lookback}

    @property
    def warmup(self) -> int:
        return self.lookback + 1

    def targets(self, close: np.ndarray) -> np.ndarray:
        out = np.zeros(len(close), dtype=np.int8)
        out[self.lookback:] = close[self.lookback:] > close[:len(close) - self.lookback]
        return out


@pytest.mark.parametrize("lookback", [0, 1, 4, 97])
def test_live_ring_buffer_serves_any_window_size(close: np.ndarray, lookback: int) -> None:
    assert_live_matches_vectorized(Momentum(lookback), close[:3000])


def test_sma_crossover_rule_on_known_prices() -> None:
    close = np.array([10.0, 10.0, 10.0, 13.0, 7.0, 7.0, 7.0, 7.0])
    # SMA(2):         -    10    10   11.5   10    7     7     7
    # SMA(3):         -     -    10    11    10    9     7     7
    assert SmaCrossover(2, 3).targets(close).tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    assert live_stream(SmaCrossover(2, 3), close) == [None, None, 0, 1, 0, 0, 0, 0]


def test_sma_crossover_params_and_repr() -> None:
    strategy = SmaCrossover(fast=5.0, slow=20)  # type: ignore[arg-type]  # proposals carry floats
    assert strategy.params == {"fast": 5, "slow": 20}
    assert type(strategy.params["fast"]) is int
    assert strategy.warmup == 20
    assert repr(strategy) == "SmaCrossover(fast=5, slow=20)"
    assert SmaCrossover().params == {"fast": 10, "slow": 30}


@pytest.mark.parametrize(("fast", "slow", "message"), [
    (0, 30, "fast must be >= 1"),
    (10, -1, "slow must be >= 1"),
    (30, 30, "fast must be < slow"),
    (40, 30, "fast must be < slow"),
    (2.5, 30, "fast must be an integer"),
    (True, 30, "fast must be an integer"),
    ("10", 30, "fast must be an integer"),
    (10, float("inf"), "slow must be an integer"),
])
def test_sma_crossover_rejects_bad_params(fast: object, slow: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SmaCrossover(fast, slow)  # type: ignore[arg-type]
