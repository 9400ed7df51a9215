"""Market replay: closing order across series, gaps kept, no future candles, a virtual clock runs it fast."""

from __future__ import annotations

import time

import pytest
import trio
import trio.testing

from crypy.protocols import Candle, timeframe_ms
from crypy.simulator import MarketReplay, load_candles

from .conftest import MARKET_DATA

BTC_15M = load_candles(MARKET_DATA / "kraken_BTCUSD_15m.csv.gz")
ETH_15M = load_candles(MARKET_DATA / "kraken_ETHUSD_15m.csv.gz")
BTC_5M = load_candles(MARKET_DATA / "kraken_BTCUSD_5m.csv.gz")


def closes(candle: Candle) -> int:
    return candle.ts + timeframe_ms(candle.timeframe)


def first_gap(candles: list[Candle]) -> int:
    """Index of the first candle after a missing interval."""
    step = timeframe_ms(candles[0].timeframe)
    return next(i for i in range(1, len(candles)) if candles[i].ts - candles[i - 1].ts > step)


async def test_full_btc_file_replays_in_order_on_a_virtual_clock(autojump_clock: trio.testing.MockClock) -> None:
    replay = MarketReplay({"btc": BTC_15M}, speed=3600, warmup=720)
    seen: list[Candle] = []
    late: list[Candle] = []

    def on_close(candle: Candle) -> None:
        if closes(candle) != replay.now_ms():
            late.append(candle)
        seen.append(candle)

    started = time.perf_counter()
    begin = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(replay.run, on_close)
        await replay.finished.wait()
    assert seen == BTC_15M[720:] and late == []
    assert trio.current_time() - begin == pytest.approx((closes(BTC_15M[-1]) - BTC_15M[720].ts) / 3600 / 1000)
    assert time.perf_counter() - started < 10


async def test_two_pairs_merge_in_closing_order_and_gaps_stay_gaps(autojump_clock: trio.testing.MockClock) -> None:
    gap = first_gap(BTC_15M)
    btc, eth = BTC_15M[: gap + 200], ETH_15M[: gap + 200]
    replay = MarketReplay({"btc": btc, "eth": eth}, speed=3600, warmup=100)
    seen: list[Candle] = []
    await replay.run(seen.append)
    assert [closes(c) for c in seen] == sorted(closes(c) for c in seen)
    assert [c for c in seen if c.pair == "XBT/USD"] == btc[100:]
    assert [c for c in seen if c.pair == "ETH/USD"] == eth[100:]
    missing = btc[gap - 1].ts + timeframe_ms("15m")
    assert missing < btc[gap].ts and all(c.ts != missing for c in seen)
    assert replay.finished.is_set()


async def test_mixed_timeframes_of_one_pair_interleave_finest_first_on_ties(autojump_clock: trio.testing.MockClock) -> None:
    fine = [c for c in BTC_5M if c.ts < BTC_5M[0].ts + 3 * 86_400_000]
    coarse = [c for c in BTC_15M if c.ts < fine[-1].ts]
    replay = MarketReplay({"5m": fine, "15m": coarse}, speed=36000, warmup=10)
    assert replay.timeframes == {"XBT/USD": ("5m", "15m")} and replay.pairs == ("XBT/USD",)
    assert replay.start_ms == max(fine[10].ts, coarse[10].ts)
    seen: list[Candle] = []
    await replay.run(seen.append)
    keys = [(closes(c), timeframe_ms(c.timeframe)) for c in seen]
    assert keys == sorted(keys)
    assert {c.timeframe for c in seen} == {"5m", "15m"}


async def test_closed_candles_never_include_a_future_candle(autojump_clock: trio.testing.MockClock) -> None:
    replay = MarketReplay({"btc": BTC_15M[:3000], "eth": ETH_15M[:3000]}, speed=3600, warmup=720)
    checked = 0

    async def watch() -> None:
        nonlocal checked
        while not replay.finished.is_set():
            now = replay.now_ms()
            for pair in replay.pairs:
                rows = replay.closed_candles(pair, "15m", limit=720)
                assert len(rows) == 720 and closes(rows[-1]) <= now
                later = replay.closed_candles(pair, "15m", since_ms=now - 3_600_000)
                assert all(closes(c) <= now for c in later)
                checked += 1
            await trio.sleep(0.37)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(replay.run, lambda c: None)
        nursery.start_soon(watch)
    assert checked > 1000


async def test_history_is_closed_at_start_and_time_runs_at_speed(mock_clock: trio.testing.MockClock) -> None:
    replay = MarketReplay({"btc": BTC_15M[:1000]}, speed=3600, warmup=720)
    assert replay.now_ms() == BTC_15M[720].ts
    assert replay.closed_candles("XBT/USD", "15m", limit=5000) == BTC_15M[:720]
    assert replay.closed_candles("XBT/USD", "15m", limit=3) == BTC_15M[717:720]
    async with trio.open_nursery() as nursery:
        await nursery.start(replay.run, lambda c: None)
        mock_clock.jump(1.0)
        await trio.testing.wait_all_tasks_blocked()
        assert replay.now_ms() == BTC_15M[720].ts + 3_600_000
        visible = replay.closed_candles("XBT/USD", "15m", since_ms=BTC_15M[719].ts)
        assert visible == [c for c in BTC_15M[719:1000] if closes(c) <= replay.now_ms()]
        assert len(visible) >= 2
        nursery.cancel_scope.cancel()
    with pytest.raises(RuntimeError):
        await replay.run(lambda c: None)


def test_since_pages_forward_and_bad_arguments_are_refused() -> None:
    replay = MarketReplay({"btc": BTC_15M[:800]}, speed=60, warmup=720)
    page = replay.closed_candles("XBT/USD", "15m", since_ms=BTC_15M[10].ts, limit=100)
    assert page == BTC_15M[10:110]
    assert replay.closed_candles("XBT/USD", "15m", since_ms=BTC_15M[10].ts + 1, limit=1) == BTC_15M[11:12]
    with pytest.raises(ValueError, match="no 1h candles"):
        replay.closed_candles("XBT/USD", "1h")
    with pytest.raises(ValueError, match="limit"):
        replay.closed_candles("XBT/USD", "15m", limit=0)
    for speed in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="speed"):
            MarketReplay({"btc": BTC_15M[:10]}, speed=speed)
    with pytest.raises(ValueError, match="no candles"):
        MarketReplay({"btc": []}, speed=1)
    with pytest.raises(ValueError, match="mixes"):
        MarketReplay({"mixed": BTC_15M[:2] + ETH_15M[2:4]}, speed=1)
    with pytest.raises(ValueError, match="strictly increasing"):
        MarketReplay({"btc": BTC_15M[:3] + BTC_15M[:1]}, speed=1)
    with pytest.raises(ValueError, match="second series"):
        MarketReplay({"a": BTC_15M[:3], "b": BTC_15M[3:6]}, speed=1)
