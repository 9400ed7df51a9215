"""Heikin-Ashi and Renko against plain definitions on real candles; resampling 5m into 15m against Kraken's own."""

from __future__ import annotations

import math

import pytest

from crypy.plugins.candle_transforms import Brick, Renko, Timeframes, heikin_ashi, renko, resample
from crypy.protocols import Candle

from .conftest import real_candles


@pytest.fixture(scope="module")
def btc_15m() -> list[Candle]:
    return real_candles("kraken_BTCUSD_15m.csv.gz")[-3000:]


def test_heikin_ashi_matches_the_definition(btc_15m: list[Candle]) -> None:
    ha_open = (btc_15m[0].open + btc_15m[0].close) / 2
    ha_close = math.nan
    for i, (c, ha) in enumerate(zip(btc_15m, heikin_ashi(btc_15m), strict=True)):
        if i:
            ha_open = (ha_open + ha_close) / 2
        ha_close = (c.open + c.high + c.low + c.close) / 4
        assert (ha.ts, ha.pair, ha.timeframe, ha.volume) == (c.ts, c.pair, c.timeframe, c.volume)
        assert ha.open == pytest.approx(ha_open, rel=1e-9)
        assert ha.close == pytest.approx(ha_close, rel=1e-9)
        assert ha.high == pytest.approx(max(c.high, ha_open, ha_close), rel=1e-9)
        assert ha.low == pytest.approx(min(c.low, ha_open, ha_close), rel=1e-9)


def reference_renko(candles: list[Candle], box: float) -> list[tuple[int, float, float]]:
    """Bricks as (ts, open, close) from the edges of the last brick, in boxes from the first close: an up brick
    always runs from the top edge one box up, a down brick from the bottom edge one box down."""
    anchor = candles[0].close
    low = high = 0
    bricks = []
    for candle in candles[1:]:
        while True:
            if candle.close >= anchor + (high + 1) * box:
                bricks.append((candle.ts, anchor + high * box, anchor + (high + 1) * box))
                low, high = high, high + 1
            elif candle.close <= anchor + (low - 1) * box:
                bricks.append((candle.ts, anchor + low * box, anchor + (low - 1) * box))
                low, high = low - 1, low
            else:
                break
    return bricks


@pytest.mark.parametrize("box", [10.0, 75.5, 400])
def test_renko_matches_the_definition(btc_15m: list[Candle], box: float) -> None:
    bricks = renko(btc_15m, box)
    expected = reference_renko(btc_15m, box)
    assert len(bricks) == len(expected) > 10
    for brick, (ts, open, close) in zip(bricks, expected, strict=True):
        assert brick.ts == ts
        assert brick.open == pytest.approx(open, rel=1e-9)
        assert brick.close == pytest.approx(close, rel=1e-9)
        assert brick.up == (close > open)
        assert abs(brick.close - brick.open) == pytest.approx(box, rel=1e-9)


def candle(ts: int, close: float, timeframe: str = "5m", volume: float = 1.0) -> Candle:
    return Candle(ts=ts, pair="XBT/USD", timeframe=timeframe, open=close, high=close + 1, low=close - 1,
                  close=close, volume=volume)


def test_renko_reversal_needs_two_boxes_and_several_bricks_can_come_at_once() -> None:
    transform = Renko(10)
    assert transform.update(candle(0, 100)) == []
    assert transform.update(candle(1, 131)) == [Brick(1, 100, 110), Brick(1, 110, 120), Brick(1, 120, 130)]
    assert transform.update(candle(2, 111)) == []  # one box back is no reversal
    assert transform.update(candle(3, 110)) == [Brick(3, 120, 110)]
    assert not Brick(3, 120, 110).up
    for box in (0, -1, math.inf, math.nan, True):
        with pytest.raises(ValueError, match="box"):
            Renko(box)


def test_resampled_5m_candles_equal_the_real_15m_ones() -> None:
    five = real_candles("kraken_BTCUSD_5m.csv.gz")
    fifteen = {c.ts: c for c in real_candles("kraken_BTCUSD_15m.csv.gz")}
    times = {c.ts for c in five}
    complete = {start for start in times if start % 900_000 == 0 and {start + 300_000, start + 600_000} <= times}
    built = resample(five, "15m")
    assert [c.ts for c in built] == sorted(complete)  # one per complete span, none from a partial one
    compared = 0
    for c in built:
        assert c.timeframe == "15m" and c.pair == "XBT/USD"
        real_candle = fifteen.get(c.ts)
        if real_candle is None:
            continue
        compared += 1
        assert (c.open, c.high, c.low, c.close) == (real_candle.open, real_candle.high, real_candle.low,
                                                    real_candle.close)
        assert c.volume == pytest.approx(real_candle.volume, rel=1e-9)
    assert compared > 1000


def test_resample_drops_incomplete_groups_and_refuses_bad_input() -> None:
    lows = [candle(0, 1), candle(300_000, 2), candle(600_000, 3, volume=2.5),  # complete
            candle(900_000, 4), candle(1_500_000, 6),  # the middle one is missing
            candle(2_100_000, 8), candle(2_400_000, 9)]  # the first one is missing
    built = resample(lows, "15m")
    assert built == [Candle(ts=0, pair="XBT/USD", timeframe="15m", open=1, high=4, low=0, close=3, volume=4.5)]
    with pytest.raises(ValueError, match="larger multiple"):
        resample([candle(0, 1)], "7m")
    with pytest.raises(ValueError, match="larger multiple"):
        resample([candle(0, 1, timeframe="15m")], "15m")
    with pytest.raises(ValueError, match="does not follow"):
        resample([candle(300_000, 1), candle(0, 1)], "15m")


def test_higher_timeframes_come_first_and_equal_resampling_each_alone() -> None:
    five = real_candles("kraken_BTCUSD_5m.csv.gz")[:3000]
    timeframes = Timeframes(["15m", "1h", "4h"])
    stream = [c for candle in five for c in timeframes.update(candle)]
    assert [c for c in stream if c.timeframe == "5m"] == five
    for timeframe in ("15m", "1h", "4h"):
        assert [c for c in stream if c.timeframe == timeframe] == resample(five, timeframe)
    position = {(c.timeframe, c.ts): i for i, c in enumerate(stream)}
    closing = [c for c in stream if c.timeframe == "4h"]
    assert len(closing) > 5
    for higher in closing:  # the 5m candle that closes a 4h span follows the 4h, 1h and 15m candles it closes
        hour, quarter = higher.ts + 3 * 3_600_000, higher.ts + 3 * 3_600_000 + 2_700_000
        assert position[("4h", higher.ts)] < position[("1h", hour)] < position[("15m", quarter)] \
            < position[("5m", quarter + 600_000)]
