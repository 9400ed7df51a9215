"""``PreviewedLive``: decisions made a chunk ahead are handed out one closed candle at a time, exactly as the
per-candle strategy would make them; a skipped candle, a live form without bulk updates and a rule that looks
ahead are each handled as a trader needs."""

from __future__ import annotations

import math

import pytest

from crypy.plugins.live import StrategyLive
from crypy.plugins.previewed import PreviewedLive
from crypy.plugins.strategies import SmaCrossover
from crypy.protocols import Candle

from .conftest import real_candles
from .test_plugins_strategies_chunks import hindsight, rising


def _feed(live: PreviewedLive | StrategyLive, candle: Candle) -> tuple[float | None, float]:
    target = live.update(candle.ts, candle.open, candle.high, candle.low, candle.close, candle.volume)
    return target, live.signal


def _same(a: list[tuple[float | None, float]], b: list[tuple[float | None, float]]) -> bool:
    return all(x[0] == y[0] and (x[1] == y[1] or math.isnan(x[1]) and math.isnan(y[1])) for x, y in zip(a, b,
                                                                                                        strict=True))


def test_previewed_decisions_are_the_per_candle_ones() -> None:
    candles = real_candles("kraken_BTCUSD_15m.csv.gz")[-3000:]
    plain = StrategyLive(SmaCrossover(fast=10, slow=30))
    expected = [_feed(plain, c) for c in candles]
    previewed, got = PreviewedLive(SmaCrossover(fast=10, slow=30).live()), []
    for start in range(0, len(candles), 700):
        chunk = candles[start:start + 700]
        if start // 700 % 3 != 1:  # every third chunk goes candle by candle, as when the trader was busy
            previewed.preview(chunk)
            assert previewed.ahead == len(chunk)
        got += [_feed(previewed, c) for c in chunk]
    assert _same(got, expected)
    assert sum(1 for target, _ in got if target == 1.0) > 100


def test_a_skipped_candle_is_an_error_not_a_wrong_decision() -> None:
    candles = real_candles("kraken_BTCUSD_15m.csv.gz")[-100:]
    previewed = PreviewedLive(SmaCrossover().live())
    previewed.preview(candles[:50])
    with pytest.raises(RuntimeError, match="a previewed candle was skipped"):
        _feed(previewed, candles[1])


def _rising_candles(n: int) -> list[Candle]:
    return [Candle(ts=int(t), pair="XBT/USD", timeframe="15m", open=o, high=h, low=lo, close=c, volume=v)
            for t, o, h, lo, c, v in zip(*(col.tolist() for col in rising(n)), strict=True)]


def test_a_live_form_without_bulk_updates_goes_candle_by_candle() -> None:
    strategy, candles = hindsight()(margin=0.0), _rising_candles(10)
    previewed, own = PreviewedLive(strategy.live()), strategy.live()  # the plugin's own live form: no update_many
    previewed.preview(candles)
    assert previewed.ahead == 0
    assert _same([_feed(previewed, c) for c in candles], [(_feed(own, c)) for c in candles])


def test_a_rule_that_looks_ahead_fails_when_its_candle_is_decided() -> None:
    candles = _rising_candles(10)
    previewed = PreviewedLive(StrategyLive(hindsight()(margin=0.0)))
    previewed.preview(candles)  # refused quietly here: the desk's driver must not fail for a trader's plugin
    with pytest.raises(ValueError, match="hindsight: its rule looks ahead"):
        _feed(previewed, candles[0])
