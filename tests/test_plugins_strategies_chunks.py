"""Live decisions on chunks of candles (``update_many``) equal per-candle ``update`` bit for bit, for every built-in
strategy, and leave the stream where ``update`` leaves it; a rule that looks ahead is refused in bulk."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from crypy.plugins import Candles, SmaCrossover, Strategy, strategies
from crypy.plugins.indicators import SMA, Bollinger, Indicator
from crypy.plugins.indicators.base import BulkLiveIndicator
from crypy.plugins.live import StrategyLive
from crypy.plugins.strategy import Number

from .conftest import real_candles
from .test_plugins_strategies_live import FIELDS, STRATEGIES

Stream = tuple[np.ndarray, np.ndarray]
PATTERN = (1, 2, 7, 100, 1000)


@pytest.fixture(scope="module")
def btc() -> Candles:
    return Candles.from_candles(real_candles("kraken_BTCUSD_15m.csv.gz")[-3000:])


def rows(candles: Candles, start: int = 0, stop: int | None = None) -> Iterator[tuple[int | float, ...]]:
    return zip(*(getattr(candles, name)[start:stop].tolist() for name in ("time", *FIELDS)), strict=True)


def per_candle(live: StrategyLive, candles: Candles, start: int = 0, stop: int | None = None) -> Stream:
    """``update`` on each candle: targets (NaN for None) and the signal after each."""
    targets, signals = [], []
    for row in rows(candles, start, stop):
        target = live.update(*row)
        targets.append(np.nan if target is None else target)
        signals.append(live.signal)
    return np.array(targets, dtype=np.float64), np.array(signals, dtype=np.float64)


def bulk(live: StrategyLive, candles: Candles, sizes: list[int], start: int = 0) -> Stream:
    """``update_many`` on consecutive chunks of ``sizes`` candles from ``start``."""
    targets, signals = [], []
    for size in sizes:
        chunk = slice(start, start + size)
        out = live.update_many(candles.time[chunk], *(getattr(candles, name)[chunk] for name in FIELDS))
        targets.append(out[0])
        signals.append(out[1])
        start += size
    return np.concatenate(targets), np.concatenate(signals)


def chunk_sizes(head: list[int], total: int) -> list[int]:
    """``head``, then the sizes of ``PATTERN`` over and over, the last one cut at ``total`` candles."""
    sizes, done = list(head), sum(head)
    while done < total:
        sizes.append(min(PATTERN[(len(sizes) - len(head)) % len(PATTERN)], total - done))
        done += sizes[-1]
    return sizes


@pytest.fixture(scope="module")
def reference(btc: Candles) -> Callable[[Strategy], Stream]:
    """The per-candle stream of a strategy over ``btc``, computed once per strategy."""
    cache: dict[int, Stream] = {}

    def stream(strategy: Strategy) -> Stream:
        if id(strategy) not in cache:
            cache[id(strategy)] = per_candle(StrategyLive(strategy), btc)
        return cache[id(strategy)]

    return stream


def test_every_builtin_strategy_is_covered_twice() -> None:
    builtins = {cls for cls in vars(strategies).values() if isinstance(cls, type) and issubclass(cls, Strategy)}
    covered = [type(strategy) for strategy in STRATEGIES]
    assert builtins == set(covered) and all(covered.count(cls) == 2 for cls in builtins)


@pytest.mark.parametrize("spanning", [False, True], ids=["small-chunks-first", "warmup-in-one-chunk"])
@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_chunks_equal_per_candle_updates(btc: Candles, reference: Callable[[Strategy], Stream],
                                         strategy: Strategy, spanning: bool) -> None:
    expected = reference(strategy)
    decided = np.flatnonzero(~np.isnan(expected[0]))
    assert decided[0] == strategy.warmup - 1 and decided.size == len(btc) - decided[0]
    sizes = chunk_sizes([strategy.warmup + 2] if spanning else [], len(btc))
    targets, signals = bulk(StrategyLive(strategy), btc, sizes)
    np.testing.assert_array_equal(targets, expected[0])
    np.testing.assert_array_equal(signals, expected[1])
    assert np.count_nonzero(np.diff(targets[decided])) >= 20, "the strategy must trade for the test to bite"


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_bulk_and_per_candle_mix_and_leave_the_same_state(btc: Candles, reference: Callable[[Strategy], Stream],
                                                          strategy: Strategy) -> None:
    mixed, plain = StrategyLive(strategy), StrategyLive(strategy)
    first = bulk(mixed, btc, [1500])
    per_candle(plain, btc, 0, 1500)
    assert_same_state(mixed, plain)
    second = per_candle(mixed, btc, 1500, 2000)
    third = bulk(mixed, btc, [3, 497, 1000], start=2000)
    per_candle(plain, btc, 1500)
    assert_same_state(mixed, plain)
    for got, expected in zip(zip(first, second, third, strict=True), reference(strategy), strict=True):
        np.testing.assert_array_equal(np.concatenate(got), expected)


def assert_same_state(bulk_live: StrategyLive, live: StrategyLive) -> None:
    """The frame rows, the count, the latch and the signal; the features' state shows in the next decisions."""
    np.testing.assert_array_equal(bulk_live._rows, live._rows)
    np.testing.assert_array_equal(bulk_live._time, live._time)
    assert (bulk_live._count, bulk_live._latch.target) == (live._count, live._latch.target)
    np.testing.assert_array_equal(bulk_live.signal, live.signal)


def test_live_strategy_type_offers_update_many() -> None:
    live = SmaCrossover(2, 3).live()
    targets, signals = live.update_many(np.arange(4), *(np.array([1.0, 2.0, 3.0, 4.0]),) * 5)
    np.testing.assert_array_equal(targets, [np.nan, np.nan, 1.0, 1.0])
    np.testing.assert_array_equal(signals, [np.nan, np.nan, 1.0, 1.0])
    assert live.signal == 1.0


@pytest.mark.parametrize("columns", [
    (np.arange(3), *(np.ones(3),) * 4, np.ones(2)),
    (np.arange(0), *(np.ones(0),) * 5),
    (np.zeros((2, 2), dtype=np.int64), *(np.ones((2, 2)),) * 5),
])
def test_update_many_refuses_ragged_or_empty_chunks(columns: tuple[np.ndarray, ...]) -> None:
    with pytest.raises(ValueError, match="sma_crossover: update_many needs 1-D columns of one length >= 1"):
        SmaCrossover().live().update_many(*columns)


def hindsight() -> type[Strategy]:
    """The look-ahead strategy of ``tests/plugins``, loaded from its file."""
    spec = importlib.util.spec_from_file_location("chunks_hindsight", Path(__file__).parent / "plugins/hindsight.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Hindsight


def rising(n: int, start: int = 1_672_531_200_000) -> tuple[np.ndarray, ...]:
    """Candles 15 minutes apart whose opens rise 1% each: the next open always beats this one."""
    prices = 100.0 * 1.01 ** np.arange(n)
    return (start + 900_000 * np.arange(n), prices, prices, prices, prices, np.ones(n))


def test_a_rule_that_looks_ahead_is_refused_in_bulk() -> None:
    strategy = hindsight()(margin=0.0)  # its own live() chases; the rule's live form is what a chunk would run
    columns = rising(10)
    one_by_one = StrategyLive(strategy)
    assert [one_by_one.update(*row) for row in zip(*(c.tolist() for c in columns), strict=True)][1:] == [0.0] * 9
    singles = StrategyLive(strategy)
    for i in range(10):
        singles.update_many(*(column[i:i + 1] for column in columns))  # a chunk of one cannot look ahead
    with pytest.raises(ValueError, match=rf"hindsight: its rule looks ahead: at candle {columns[0][5]} it gives 1.0 "
                                         r"within a chunk but 0.0 on its newest 2 rows alone"):
        StrategyLive(strategy).update_many(*columns)


class LongMemory(Strategy):
    """Reads the previous close with ``lookback`` 1: further back than it declared."""

    name = "long_memory"
    param_ranges: ClassVar[dict[str, tuple[Number, Number]]] = {}
    defaults: ClassVar[dict[str, Number]] = {}
    lookback = 1

    def features(self) -> dict[str, Indicator]:
        return {}

    def rule(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        close = frame["close"]
        return np.where(np.append(np.nan, close[:-1]) < close, 1.0, 0.0)


def test_a_rule_that_reads_beyond_its_lookback_is_refused_in_bulk() -> None:
    with pytest.raises(ValueError, match="long_memory: its rule looks ahead: .* on its newest 1 rows alone"):
        LongMemory().live().update_many(*rising(5))


@pytest.mark.parametrize("indicator", [SMA(window=20), Bollinger(window=30, k=2.5), SMA(window=1)], ids=repr)
def test_window_live_in_chunks_equals_update(btc: Candles, indicator: Indicator) -> None:
    columns = [getattr(btc, name) for name in FIELDS]
    one_by_one = indicator.live()
    expected: dict[str, list[float]] = {output: [] for output in indicator.outputs}
    for row in zip(*(column.tolist() for column in columns), strict=True):
        values = one_by_one.update(*row)
        for output in indicator.outputs:
            expected[output].append(np.nan if values is None else values[output])
    chunked = indicator.live()
    assert isinstance(chunked, BulkLiveIndicator)
    got: dict[str, list[np.ndarray]] = {output: [] for output in indicator.outputs}
    start = 0
    for size in chunk_sizes([3, 5, 1, 40], len(btc)):  # inside the warmup, across its end, then the pattern
        values = chunked.update_many(*(column[start:start + size] for column in columns))
        for output in indicator.outputs:
            got[output].append(values[output])
        start += size
    series = indicator.compute(*columns)
    for output in indicator.outputs:
        np.testing.assert_array_equal(np.concatenate(got[output]), expected[output])
        np.testing.assert_array_equal(np.concatenate(got[output]), series[output])
    again = [column[-1] for column in columns]
    assert chunked.update(*again) == one_by_one.update(*again)  # the same kept candles
