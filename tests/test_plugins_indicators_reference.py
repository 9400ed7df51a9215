"""Every indicator against an independent reference on real BTC candles, in both forms.

References: the ``ta`` package where it has the indicator; otherwise a plain definition written here (stdlib
``statistics`` for volatility and the regression slope, loops for the range). The live form, fed the candles
one by one, must give exactly the vectorized values after warmup (and ``None`` before).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
import ta

from crypy.plugins.indicators import INDICATORS, Indicator, load_indicator

from .conftest import real_candles

Columns = dict[str, np.ndarray]
FIELDS = ("open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def bars() -> Columns:
    candles = real_candles("kraken_BTCUSD_15m.csv.gz")[-3000:]
    return {field: np.array([getattr(c, field) for c in candles]) for field in FIELDS}


def check(indicator: Indicator, bars: Columns, expected: Columns) -> None:
    """Vectorized: NaN before warmup, then ``expected`` to 1e-9 relative. Live: None, then the same floats."""
    warmup = indicator.warmup
    series = indicator.compute(*(bars[field] for field in FIELDS))
    assert tuple(series) == indicator.outputs == tuple(expected)
    for key, values in series.items():
        assert values.shape == bars["close"].shape
        assert np.isnan(values[:warmup]).all(), key
        assert not np.isnan(values[warmup:]).any(), key
        np.testing.assert_allclose(values[warmup:], expected[key][warmup:], rtol=1e-9, atol=0, err_msg=key)
    live = indicator.live()
    stream = [live.update(*row) for row in zip(*(bars[field].tolist() for field in FIELDS), strict=True)]
    assert stream[:warmup] == [None] * warmup
    for key, values in series.items():
        assert np.array_equal(np.array([point[key] for point in stream[warmup:]]), values[warmup:]), key


def s(values: np.ndarray) -> pd.Series:
    return pd.Series(values)


@pytest.mark.parametrize("window", [1, 5, 20, 200])
def test_sma_matches_ta(bars: Columns, window: int) -> None:
    expected = ta.trend.SMAIndicator(s(bars["close"]), window).sma_indicator().to_numpy()
    check(load_indicator("sma", {"window": window}), bars, {"sma": expected})


@pytest.mark.parametrize("window", [1, 9, 50, 200])
def test_ema_matches_ta(bars: Columns, window: int) -> None:
    expected = ta.trend.EMAIndicator(s(bars["close"]), window).ema_indicator().to_numpy()
    check(load_indicator("ema", {"window": window}), bars, {"ema": expected})


@pytest.mark.parametrize("window", [1, 9, 30])
def test_wma_matches_ta(bars: Columns, window: int) -> None:
    expected = ta.trend.WMAIndicator(s(bars["close"]), window).wma().to_numpy()
    check(load_indicator("wma", {"window": window}), bars, {"wma": expected})


@pytest.mark.parametrize("window", [2, 14, 50])
def test_rsi_matches_ta(bars: Columns, window: int) -> None:
    expected = ta.momentum.RSIIndicator(s(bars["close"]), window).rsi().to_numpy()
    check(load_indicator("rsi", {"window": window}), bars, {"rsi": expected})


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (3, 10, 16), (1, 2, 1)])
def test_macd_matches_ta(bars: Columns, fast: int, slow: int, signal: int) -> None:
    macd = ta.trend.MACD(s(bars["close"]), window_slow=slow, window_fast=fast, window_sign=signal)
    expected = {"macd": macd.macd(), "signal": macd.macd_signal(), "hist": macd.macd_diff()}
    indicator = load_indicator("macd", {"fast": fast, "slow": slow, "signal": signal})
    assert indicator.warmup == slow + signal - 2
    check(indicator, bars, {key: values.to_numpy() for key, values in expected.items()})


@pytest.mark.parametrize(("window", "k"), [(20, 2.0), (5, 1.5), (100, 3)])
def test_bollinger_matches_ta(bars: Columns, window: int, k: float) -> None:
    close = s(bars["close"])
    bands = ta.volatility.BollingerBands(close, window, k)
    mid = bands.bollinger_mavg().to_numpy()
    # pandas' running variance leaves a residue (~1e-8, so a band 1e-4 off the mid) on windows of one price;
    # there the exact width is 0
    flat = (close.rolling(window).max() == close.rolling(window).min()).to_numpy()
    expected = {"mid": mid, "upper": np.where(flat, mid, bands.bollinger_hband()),
                "lower": np.where(flat, mid, bands.bollinger_lband())}
    check(load_indicator("bollinger", {"window": window, "k": k}), bars, expected)


@pytest.mark.parametrize("window", [1, 14, 60])
def test_atr_matches_ta(bars: Columns, window: int) -> None:
    expected = ta.volatility.AverageTrueRange(s(bars["high"]), s(bars["low"]), s(bars["close"]), window)
    check(load_indicator("atr", {"window": window}), bars, {"atr": expected.average_true_range().to_numpy()})


@pytest.mark.parametrize("window", [1, 20, 55])
def test_donchian_matches_ta(bars: Columns, window: int) -> None:
    channel = ta.volatility.DonchianChannel(s(bars["high"]), s(bars["low"]), s(bars["close"]), window)
    expected = {"upper": channel.donchian_channel_hband(), "lower": channel.donchian_channel_lband()}
    check(load_indicator("donchian", {"window": window}), bars,
          {key: values.to_numpy() for key, values in expected.items()})


@pytest.mark.parametrize("window", [1, 14, 96])
def test_vwap_matches_ta(bars: Columns, window: int) -> None:
    vwap = ta.volume.VolumeWeightedAveragePrice(s(bars["high"]), s(bars["low"]), s(bars["close"]),
                                                s(bars["volume"]), window)
    check(load_indicator("vwap", {"window": window}), bars, {"vwap": vwap.volume_weighted_average_price().to_numpy()})


def padded(values: list[float], total: int) -> np.ndarray:
    """Reference values for the last ``len(values)`` candles, NaN before."""
    return np.array([math.nan] * (total - len(values)) + values)


@pytest.mark.parametrize("window", [2, 20, 96])
def test_volatility_is_the_sample_std_of_log_returns(bars: Columns, window: int) -> None:
    closes = bars["close"].tolist()
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    expected = [statistics.stdev(returns[i - window:i]) for i in range(window, len(returns) + 1)]
    check(load_indicator("volatility", {"window": window}), bars, {"volatility": padded(expected, len(closes))})


@pytest.mark.parametrize("window", [2, 14, 50])
def test_linreg_slope_is_the_least_squares_slope(bars: Columns, window: int) -> None:
    closes = bars["close"].tolist()
    xs = list(range(window))
    expected = [statistics.linear_regression(xs, closes[i - window:i]).slope
                for i in range(window, len(closes) + 1)]
    check(load_indicator("linreg_slope", {"window": window}), bars, {"linreg_slope": padded(expected, len(closes))})


@pytest.mark.parametrize("window", [1, 10, 96])
def test_range_is_highest_high_minus_lowest_low(bars: Columns, window: int) -> None:
    highs, lows = bars["high"].tolist(), bars["low"].tolist()
    expected = [max(highs[i - window:i]) - min(lows[i - window:i]) for i in range(window, len(highs) + 1)]
    check(load_indicator("range", {"window": window}), bars, {"range": padded(expected, len(highs))})


def test_every_registered_indicator_is_checked_here() -> None:
    assert sorted(INDICATORS) == sorted(["sma", "ema", "wma", "rsi", "macd", "bollinger", "atr", "donchian",
                                         "vwap", "volatility", "linreg_slope", "range"])
