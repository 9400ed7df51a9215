"""Every built-in strategy: live decisions equal vectorized targets bit for bit on real candles, and each rule's
entries, exits, holds and strengths on hand-made candles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crypy.plugins import (
    BollingerReversion,
    Candles,
    DonchianBreakout,
    OpeningRangeBreakout,
    RsiReversion,
    SmaCrossover,
    Strategy,
)
from crypy.plugins.strategies import OpeningRange
from crypy.plugins.strategies.sizing import MIN_STRENGTH

from .conftest import real_candles

FIELDS = ("open", "high", "low", "close", "volume")
HOUR = 3_600_000
T0 = 1_672_531_200_000  # 2023-01-01 00:00 UTC
NAN = math.nan

STRATEGIES: list[Strategy] = [
    SmaCrossover(), SmaCrossover(3, 8),
    RsiReversion(), RsiReversion(window=5, oversold=35, exit_level=50),
    DonchianBreakout(), DonchianBreakout(window=8, exit_window=4, atr_window=5, min_break=0.1),
    BollingerReversion(), BollingerReversion(window=10, width=1.0),
    OpeningRangeBreakout(), OpeningRangeBreakout(range_minutes=30, session_hour=13),
]


def real(name: str) -> Candles:
    return Candles.from_candles(real_candles(name)[-3000:])


@pytest.fixture(scope="module", params=["kraken_BTCUSD_15m.csv.gz", "kraken_ETHUSD_15m.csv.gz"])
def market(request: pytest.FixtureRequest) -> Candles:
    return real(request.param)


def live_stream(strategy: Strategy, candles: Candles) -> tuple[list[float | None], np.ndarray]:
    live = strategy.live()
    targets, signals = [], []
    for row in zip(candles.time.tolist(), *(getattr(candles, f).tolist() for f in FIELDS), strict=True):
        targets.append(live.update(*row))
        signals.append(live.signal)
    return targets, np.array(signals)


def hand_made(hours: list[int], high: list[float], low: list[float], close: list[float]) -> Candles:
    """Candles at ``T0 + hours``, opening at the previous close (the first at its own close)."""
    return Candles.from_columns([T0 + h * HOUR for h in hours], [close[0], *close[:-1]], high, low, close,
                                [1.0] * len(close))


def bars(close: list[float]) -> Candles:
    return hand_made(list(range(len(close))), close, close, close)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_live_equals_vectorized_on_real_candles(market: Candles, strategy: Strategy) -> None:
    targets, signals = live_stream(strategy, market)
    first = strategy.warmup - 1
    assert targets[:first] == [None] * first and None not in targets[first:]
    vectorized = strategy.targets(market)
    assert np.array_equal(np.array(targets[first:], dtype=np.float64), vectorized[first:])
    assert np.array_equal(signals, strategy.signals(market), equal_nan=True)
    assert not vectorized[:first].any() and ((vectorized >= 0) & (vectorized <= 1)).all()
    assert np.count_nonzero(np.diff(vectorized)) >= 20, "the strategy must trade on this data for the test to bite"
    partial = np.count_nonzero((vectorized > 0) & (vectorized < 1))
    assert partial == 0 if isinstance(strategy, SmaCrossover) else partial > 100


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_declared_exits_and_defaults(strategy: Strategy) -> None:
    assert type(strategy)(**type(strategy).defaults).params == type(strategy).defaults
    assert strategy.exits.stop_loss is not None and strategy.warmup >= strategy.lookback


def test_rsi_reversion_buys_the_dip_holds_and_sells_the_recovery() -> None:
    candles = bars([10.0, 10.0, 9.0, 8.0, 7.0, 8.0, 9.0, 10.0])
    # RSI(2): 100 (no loss yet), 0, 0, 0, 53.3 (between 30 and 55: hold), 77.4, 87.5
    strategy = RsiReversion(window=2)
    assert strategy.warmup == 2
    assert strategy.targets(candles).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_rsi_reversion_strength_grows_with_the_depth() -> None:
    rsi = np.array([50.0, 29.7, 27.0, 15.0, 0.0, 40.0, 56.0])
    signals = RsiReversion().rule({"rsi": rsi})
    assert np.array_equal(signals, [NAN, MIN_STRENGTH, 0.1, 0.5, 1.0, NAN, 0.0], equal_nan=True)


@pytest.mark.parametrize(("min_break", "marginal"), [(0.0, MIN_STRENGTH), (0.2, NAN)])
def test_donchian_breakout_sizes_by_atr_and_exits_below_the_exit_channel(min_break: float, marginal: float) -> None:
    candles = hand_made(list(range(7)), high=[10, 10, 10, 12, 11.5, 11, 12.1], low=[9, 9, 9, 9.5, 10.5, 8, 11],
                        close=[9.5, 9.5, 9.5, 11, 11, 8.5, 12.05])
    strategy = DonchianBreakout(window=3, exit_window=2, atr_window=1, min_break=min_break)  # ATR(1): true range
    assert strategy.warmup == 4
    signals = strategy.signals(candles)
    # 3: 11 above the channel high 10 by 1, true range 2.5; 4: below the new high 12, above the exit low 9: hold;
    # 5: 8.5 below the exit low 9.5; 6: 12.05 above 12 by 0.05 of a 3.6 true range: the smallest entry, or none
    # when the filter asks for a fifth of an ATR
    assert np.array_equal(signals, [NAN, NAN, NAN, 0.4, NAN, 0.0, marginal], equal_nan=True)
    assert strategy.targets(candles).tolist() == [0.0, 0.0, 0.0, 0.4, 0.4, 0.0, 0.0 if min_break else MIN_STRENGTH]


def test_bollinger_reversion_buys_below_the_band_and_exits_above_the_mean() -> None:
    candles = bars([10.0, 10.0, 10.0, 7.0, 8.0, 9.0])
    strategy = BollingerReversion(window=3, width=1.0)
    signals = strategy.signals(candles)
    # 3: mean 9, sd sqrt(2): 7 is (9 - sqrt 2 - 7) / sqrt 2 = sqrt 2 - 1 half widths under the band
    # 4: mean 8.33, band 7.09: 8 is between band and mean, hold; 5: 9 above the mean 8
    assert np.isnan(signals[:3]).all() and np.isnan(signals[4]) and signals[5] == 0.0
    assert signals[3] == pytest.approx(math.sqrt(2) - 1, rel=1e-12)
    assert strategy.targets(candles)[3:].tolist() == [signals[3], signals[3], 0.0]


SIX_HOURLY = [0, 6, 12, 18, 24, 30, 36, 42]  # two UTC days of four candles each


def test_opening_range_across_a_day_boundary_in_both_forms() -> None:
    candles = hand_made(SIX_HOURLY, high=[10, 10.5, 10.3, 10.4, 20, 19, 22.5, 22],
                        low=[9, 9.5, 9.7, 9.9, 18, 17.4, 19, 21], close=[9.5, 10.2, 9.8, 10, 19, 17.5, 22, 21.5])
    feature = OpeningRange(range_minutes=360)
    expected = {"high": [NAN, 10, 10, 10, NAN, 20, 20, 20], "low": [NAN, 9, 9, 9, NAN, 18, 18, 18],
                "last": [NAN, 0, 0, 1, 0, 0, 0, 1]}
    computed = feature.compute(candles)
    assert all(np.array_equal(computed[k], v, equal_nan=True) for k, v in expected.items())
    live = feature.live()
    stream = [live.update(*row) for row in zip(candles.time.tolist(), *(getattr(candles, f).tolist()
                                                                        for f in FIELDS), strict=True)]
    assert stream[0] is None
    assert all(np.array_equal([point[k] for point in stream[1:]], v[1:], equal_nan=True)  # type: ignore[index]
               for k, v in expected.items())


def test_opening_range_sessions_start_at_the_session_hour_and_a_missed_range_stays_unknown() -> None:
    candles = hand_made(SIX_HOURLY, high=[10, 11, 12, 13, 14, 15, 16, 17], low=[9, 10, 11, 12, 13, 14, 15, 16],
                        close=[9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5])
    computed = OpeningRange(range_minutes=360, session_hour=6).compute(candles)
    # sessions from 06:00: the 00:00 candle closes one whose range was before the data
    assert np.array_equal(computed["high"], [NAN, NAN, 11, 11, 11, NAN, 15, 15], equal_nan=True)
    assert np.array_equal(computed["last"], [NAN, 0, 0, 0, 1, 0, 0, 0], equal_nan=True)


def test_opening_range_breakout_enters_on_the_break_and_is_flat_by_the_session_end() -> None:
    candles = hand_made(SIX_HOURLY, high=[10, 10.5, 10.3, 10.4, 20, 19, 22.5, 22],
                        low=[9, 9.5, 9.7, 9.9, 18, 17.4, 19, 21], close=[9.5, 10.2, 9.8, 10, 19, 17.5, 22, 21.5])
    strategy = OpeningRangeBreakout(range_minutes=360)
    signals = strategy.signals(candles)
    # day 1: 10.2 breaks the 9..10 range by a fifth of its height, 9.8 inside holds, the last candle exits;
    # day 2: no signal while the range forms, 17.5 below its low exits, 22 breaks 18..20 by a full height
    assert np.array_equal(signals, [NAN, (10.2 - 10) / 1, NAN, 0.0, NAN, 0.0, 1.0, 0.0], equal_nan=True)
    assert strategy.targets(candles).tolist() == [0.0, signals[1], signals[1], 0.0, 0.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(("cls", "params", "message"), [
    (RsiReversion, {"oversold": 40, "exit_level": 35}, "oversold must be < exit_level"),
    (RsiReversion, {"window": 1}, "window must be an int"),
    (DonchianBreakout, {"atr_window": 0}, "atr_window must be an int"),
    (BollingerReversion, {"width": 0.1}, "width must be a number"),
    (OpeningRangeBreakout, {"session_hour": 24}, "session_hour must be an int"),
])
def test_builtin_params_are_validated(cls: type[Strategy], params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**params)
