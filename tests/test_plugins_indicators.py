"""Indicators: sma is the naive window mean bit for bit; RollingMean tracks sma; the bulk recursions and window sums
give the step-by-step floats; parameters and lookups fail clearly. (Values against references:
test_plugins_indicators_reference.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crypy.plugins.indicators import (
    INDICATORS,
    MACD,
    SMA,
    WMA,
    Bollinger,
    RollingMean,
    get_indicator,
    indicator_class,
    load_indicator,
    sma,
    windows,
)
from crypy.plugins.indicators.bands import AtrLive
from crypy.plugins.indicators.base import Ewm

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
    monkeypatch.setattr(windows, "_BLOCK_ELEMENTS", 30 * 7)  # 7 windows per block, the last one partial
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


@pytest.mark.parametrize("spec", [{"span": 12}, {"span": 1}, {"alpha": 1 / 14}, {"alpha": 1.0}, {"alpha": 0.3}])
def test_ewm_in_bulk_is_update_value_by_value(close: np.ndarray, spec: dict[str, float]) -> None:
    values = np.concatenate(([0.0, -0.0], close[:300], [np.nan, 5.0, 5.0, 0.0, -0.0, np.inf, -np.inf, 7.0], close[:50]))
    one_by_one, bulk = Ewm(**spec), Ewm(**spec)
    expected = np.array([one_by_one.update(x) for x in values.tolist()])
    got = np.concatenate([bulk.update_many(part) for part in (values[:100], values[100:100], values[100:])])
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))  # every bit, a zero's sign and NaN too
    assert bulk.value == one_by_one.value


@pytest.mark.parametrize("fed", [0, 3, 14, 40])
def test_atr_smoothing_in_bulk_is_smooth_value_by_value(close: np.ndarray, fed: int) -> None:
    true_ranges = np.abs(np.diff(close[:500]))
    one_by_one, bulk = AtrLive(14), AtrLive(14)
    expected = [one_by_one.smooth(x) for x in true_ranges.tolist()]
    started = [bulk.smooth(x) for x in true_ranges[:fed].tolist()]
    assert np.array_equal(np.concatenate((started, bulk.smooth_many(true_ranges[fed:]))), expected, equal_nan=True)
    assert bulk.smooth(1.0) == one_by_one.smooth(1.0)


@pytest.mark.parametrize("indicator", [SMA(window=150), WMA(window=30), Bollinger(window=40, k=2.0)])
def test_window_sums_by_column_and_by_row_give_the_same_bits(close: np.ndarray, indicator: SMA,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    bars = (close[:3000],) * 4 + (np.ones(3000),)
    by_column = indicator.compute(*bars)
    monkeypatch.setattr(windows, "_COLUMN_SUMS_FROM_ROWS", 10**9)
    by_row = indicator.compute(*bars)
    assert all(np.array_equal(by_column[key], by_row[key], equal_nan=True) for key in by_row)


def test_indicator_registry() -> None:
    assert get_indicator is indicator_class
    assert indicator_class("sma") is SMA and INDICATORS["macd"] is MACD
    macd = load_indicator("macd", {"fast": 5})
    assert isinstance(macd, MACD) and macd.params == {"fast": 5, "slow": 26, "signal": 9}
    assert repr(macd) == "MACD(fast=5, slow=26, signal=9)"
    assert load_indicator("bollinger").params == {"window": 20, "k": 2.0}
    with pytest.raises(ValueError, match=r"unknown indicator 'kama'; known indicators: atr, bollinger, donchian, ema, "):
        get_indicator("kama")
    for name, cls in INDICATORS.items():
        assert cls.name == name and cls.outputs and set(cls.param_ranges) == set(cls.defaults)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("sma", {"window": 0}, r"sma: window must be an int in \[1, 10000\], got 0"),
    ("ema", {"window": -3}, "ema: window must be an int"),
    ("rsi", {"window": 2.5}, "rsi: window must be an int"),
    ("atr", {"window": True}, "atr: window must be an int"),
    ("volatility", {"window": 1}, r"volatility: window must be an int in \[2, "),
    ("linreg_slope", {"window": 1}, "linreg_slope: window"),
    ("bollinger", {"k": -1.0}, r"bollinger: k must be a number in \[0.0, 100.0\], got -1.0"),
    ("bollinger", {"k": float("nan")}, "bollinger: k must be a number"),
    ("macd", {"fast": 26, "slow": 12}, r"macd: fast \(26\) must be below slow \(12\)"),
    ("macd", {"fast": 12, "slow": 12}, "macd: fast"),
    ("macd", {"signal": 0}, "macd: signal"),
    ("donchian", {"period": 3}, "donchian: unknown parameter.*period"),
])
def test_bad_parameters_are_refused_by_name(name: str, params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_indicator(name, params)


def test_short_history_is_all_nan_and_live_stays_silent() -> None:
    bars = [np.full(5, 100.0)] * 5
    for name in INDICATORS:
        indicator = load_indicator(name, {"window": 30} if "window" in INDICATORS[name].param_ranges else {})
        assert all(np.isnan(values).all() for values in indicator.compute(*bars).values()), name
        live = indicator.live()
        assert all(live.update(100.0, 100.0, 100.0, 100.0, 1.0) is None for _ in range(5)), name


def test_vwap_of_a_window_without_trades_is_nan() -> None:
    volume = np.array([1.0, 0.0, 0.0, 2.0])
    prices = np.array([3.0, 6.0, 9.0, 12.0])
    vwap = load_indicator("vwap", {"window": 2}).compute(prices, prices, prices, prices, volume)["vwap"]
    assert np.array_equal(vwap, [np.nan, 3.0, np.nan, 12.0], equal_nan=True)
