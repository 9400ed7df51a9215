"""Indicators: sma is the naive window mean bit for bit; RollingMean tracks sma; lookups fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crypy.plugins import indicators
from crypy.plugins.indicators import RollingMean, get_indicator, sma

BTC_15M = Path(__file__).resolve().parents[1] / "crypy" / "data" / "kraken_BTCUSD_15m.csv.gz"


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    return np.loadtxt(BTC_15M, delimiter=",", skiprows=1, usecols=4)


def naive_sma(values: np.ndarray, n: int) -> np.ndarray:
    """The definition: each window summed oldest first, divided by n."""
    out = np.full(len(values), np.nan)
    for i in range(n - 1, len(values)):
        total = 0.0
        for x in values[i - n + 1:i + 1]:
            total += float(x)
        out[i] = total / n
    return out


@pytest.mark.parametrize("n", [1, 2, 7, 30, 150])
def test_sma_is_the_naive_window_mean_bit_for_bit(close: np.ndarray, n: int) -> None:
    values = close[:2000]
    assert np.array_equal(sma(values, n), naive_sma(values, n), equal_nan=True)


def test_sma_blocks_do_not_change_the_result(close: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = sma(close, 30)
    monkeypatch.setattr(indicators, "_BLOCK_ELEMENTS", 30 * 7)  # 7 windows per block, the last one partial
    assert np.array_equal(sma(close, 30), whole, equal_nan=True)


def test_sma_of_a_window_does_not_depend_on_its_position(close: np.ndarray) -> None:
    whole = sma(close, 50)
    for end in (49, 1000, 13_337, len(close) - 1):
        assert sma(close[end - 49:end + 1], 50)[-1] == whole[end]


def test_sma_short_input_and_bad_arguments() -> None:
    assert np.isnan(sma(np.arange(3.0), 5)).all()
    assert sma(np.array([2.0, 4.0, 9.0]), 2)[1:].tolist() == [3.0, 6.5]
    for n in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="positive int"):
            sma(np.arange(5.0), n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1-D"):
        sma(np.ones((4, 4)), 2)


@pytest.mark.parametrize("n", [1, 10, 150])
def test_rolling_mean_tracks_sma(close: np.ndarray, n: int) -> None:
    mean = RollingMean(n)
    stream = [mean.update(float(x)) for x in close]
    assert stream[:n - 1] == [None] * (n - 1)
    np.testing.assert_allclose(np.array(stream[n - 1:], dtype=float), sma(close, n)[n - 1:], rtol=1e-11, atol=0)


def test_indicator_registry() -> None:
    sma_indicator = get_indicator("sma")
    assert sma_indicator.vectorized is sma
    assert sma_indicator.incremental(2).update(1.0) is None
    with pytest.raises(ValueError, match=r"unknown indicator 'ema'; known: sma"):
        get_indicator("ema")
