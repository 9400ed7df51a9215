"""``crypy backtest``: the very actors of ``crypy sim`` (Desk, Holders, Traders) over history on a virtual clock.

The in-process simulator takes its time only from trio's clock, so under ``MockClock(autojump_threshold=0)``
market time jumps ahead whenever every actor is idle: the replay runs as fast as the system can digest it, and
the actors see exactly what they would see live. The run ends when the data runs out (or on Ctrl-C); the desk
then stops as usual (open orders cancelled, journal flushed) and ``crypy.reports.outputs`` writes the report.

Equity is recorded at every candle close: the account's balances (open orders' reserves included), each asset
valued at the last close of its pair against the quote currency (``XBT`` by ``XBT/USD``). Candles closing at
the same time give one point, taken after the last of them.
"""

from __future__ import annotations

import sys
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TextIO, overload

import trio
import trio.testing

from crypy.actors.template_files import load_templates
from crypy.exchanges.simulated import SimulatedExchange
from crypy.protocols import Candle, timeframe_ms
from crypy.reports.outputs import Report, write_report
from crypy.reports.pictures import write_pictures
from crypy.simulator import SimConfig, SimExchange, load_candles
from crypy.simulator.matching import candle_price

from .lockstep import drive
from .sim import fee_markets
from .system import open_system, wait_for_stop

ACCOUNT = "default"
_ZERO, _ONE = Decimal(0), Decimal(1)


def _usd_10000() -> dict[str, Decimal]:
    return {"USD": Decimal(10000)}


@dataclass
class BacktestOptions:
    """What to replay and where the report goes. ``from_ms``/``to_ms`` bound the candles' open times
    (``to_ms`` excluded); the ``warmup`` candles before ``from_ms`` are the exchange's history."""

    data: list[Path]
    out: Path = Path("backtest")
    from_ms: int | None = None
    to_ms: int | None = None
    template_dir: Path | None = None
    balance: dict[str, Decimal] = field(default_factory=_usd_10000)
    seed: int = 0
    fees: dict[str, Decimal] = field(default_factory=dict)
    """A flat ``maker`` and/or ``taker`` fee for every market instead of Kraken's tiers."""
    speed: float = 3600.0
    """Market seconds per virtual second: sets how often (in market time) the actors' polls look."""
    warmup: int = 720
    lockstep: bool = True
    """Drive the actors in lockstep (``modes/lockstep.py``); False: the reference path the lockstep must agree
    with, the replay sleeping to each close and the desk polling, candle by candle (far slower)."""

    @property
    def db(self) -> Path:
        return self.out / "journal.db"


class EquityPoints(Sequence[tuple[int, Decimal]]):
    """The equity at each close, ``(close_ms, equity)`` in time order, kept in columns (a long backtest has a
    million of them); candles closing at the same time leave one point, the equity after the last of them."""

    def __init__(self) -> None:
        self._times = array("q")
        self._values: list[Decimal] = []

    def record(self, close_ms: int, equity: Decimal) -> None:
        if self._times and self._times[-1] == close_ms:
            self._values[-1] = equity
        else:
            self._times.append(close_ms)
            self._values.append(equity)

    def __len__(self) -> int:
        return len(self._times)

    def __iter__(self) -> Iterator[tuple[int, Decimal]]:
        return zip(self._times, self._values, strict=True)

    @overload
    def __getitem__(self, index: int) -> tuple[int, Decimal]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, Decimal]]: ...

    def __getitem__(self, index: int | slice) -> tuple[int, Decimal] | list[tuple[int, Decimal]]:
        if isinstance(index, slice):
            return list(zip(self._times[index], self._values[index], strict=True))
        return self._times[index], self._values[index]


@dataclass
class Replayed:
    """What the replay showed: candles done of ``total``, the equity curve and each pair's last close."""

    total: int
    quote: str
    done: int = 0
    equity: EquityPoints = field(default_factory=lambda: EquityPoints())
    closes: dict[str, Decimal] = field(default_factory=dict)


class Progress:
    """``candles done/total, candles/s, ETA`` redrawn in place with ``\\r``; nothing when ``stream`` is None."""

    def __init__(self, stream: TextIO | None, total: int, every_s: float = 0.2) -> None:
        self._stream, self._total, self._every = stream, total, every_s
        self._start = self._drawn = time.monotonic()

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._stream is None or (not force and now - self._drawn < self._every):
            return
        self._drawn = now
        rate = done / (now - self._start) if now > self._start else 0.0
        eta = (self._total - done) / rate if rate > 0 else 0.0
        share = done / self._total if self._total else 1.0
        bar = "#" * round(30 * share)
        self._stream.write(f"\r[{bar:<30}] {done}/{self._total} candles  {rate:,.0f} candles/s  ETA {eta:4.0f} s ")
        self._stream.flush()

    def close(self, done: int) -> None:
        if self._stream is not None:
            self.update(done, force=True)
            self._stream.write("\n")
            self._stream.flush()


def _select(candles: list[Candle], options: BacktestOptions) -> list[Candle]:
    """The candles opening in [from, to), after the ``warmup`` candles before ``from`` that serve as history."""
    first = 0
    if options.from_ms is not None:
        first = sum(1 for c in candles if c.ts < options.from_ms)
        first = max(0, first - options.warmup)
    chosen = [c for c in candles[first:] if options.to_ms is None or c.ts < options.to_ms]
    if len(chosen) <= options.warmup:
        raise ValueError(f"{candles[0].pair} {candles[0].timeframe}: no candles to replay in the range chosen "
                         f"({len(chosen)} candles, all needed as the first {options.warmup} of history)")
    return chosen


def _series(options: BacktestOptions) -> dict[str, list[Candle]]:
    """The candles of each file to replay, by file name, cut to the range when one is given."""
    for path in options.data:
        if not path.is_file():
            raise ValueError(f"no candle file {path}")
    if len({path.name for path in options.data}) < len(options.data):
        raise ValueError("two candle files have the same name: the simulator knows each series by its file name")
    cut = options.from_ms is not None or options.to_ms is not None
    return {path.name: _select(candles, options) if cut else candles
            for path, candles in ((path, load_candles(path)) for path in options.data)}


def _quote(sim: SimExchange, balance: dict[str, Decimal]) -> str:
    """The one currency equity is counted in; every asset held must have a pair against it."""
    quotes = {pair.split("/")[1] for pair in sim.pairs}
    if len(quotes) != 1:
        raise ValueError(f"a backtest counts equity in one quote currency; the data has {', '.join(sorted(quotes))}")
    quote = quotes.pop()
    unpriced = sorted(a for a in balance if a != quote and f"{a}/{quote}" not in sim.pairs)
    if unpriced:
        raise ValueError(f"no {quote} pair in the data to value {', '.join(unpriced)}")
    return quote


def _watch(sim: SimExchange, replayed: Replayed, progress: Progress) -> None:
    """Record equity and progress at every candle close, from each pair's last close of the history on."""

    totals: list[dict[str, Decimal]] = []
    """The account's non-zero totals, read again after the engine's next order event (nothing else moves them)."""

    def on_order_news(account: str, event: object) -> None:
        totals.clear()

    def on_candles(candles: Sequence[Candle]) -> None:
        if not totals:
            totals.append({asset: balance.total for asset, balance in sim.balances(ACCOUNT).items() if balance.total})
        if all(asset == replayed.quote for asset in totals[0]):  # cash alone: the same equity at every close
            last = {candle.pair: candle for candle in candles}
            replayed.closes.update((pair, candle_price(candle.close)) for pair, candle in last.items())
            equity = _worth(_parts(totals[0], replayed.quote), replayed.closes)
            for candle in candles:
                replayed.equity.record(candle.ts + timeframe_ms(candle.timeframe), equity)
        else:
            parts = _parts(totals[0], replayed.quote)
            closes, record = replayed.closes, replayed.equity.record
            for candle in candles:
                closes[candle.pair] = candle_price(candle.close)
                record(candle.ts + timeframe_ms(candle.timeframe), _worth(parts, closes))
        replayed.done += len(candles)
        progress.update(replayed.done)

    for pair in sim.pairs:
        [last] = sim.candles(pair, sim.timeframes(pair)[0], limit=1)
        replayed.closes[pair] = candle_price(last.close)
    sim.add_listener(on_order_news)
    sim.add_candle_listener(on_candles)


def _worth(parts: list[tuple[Decimal, str | None]], closes: dict[str, Decimal]) -> Decimal:
    """What the totals (``_parts``) are worth in the quote currency at ``closes``."""
    equity = _ZERO
    for amount, pair in parts:
        equity += amount if pair is None else amount * closes[pair]
    return equity


def _parts(totals: dict[str, Decimal], quote: str) -> list[tuple[Decimal, str | None]]:
    """Each total with the pair that prices it in ``quote`` (None for the quote itself, worth its amount), in
    the order of ``totals``: worked out once for a batch of closes, each then summed in that same order."""
    return [(total * _ONE, None) if asset == quote else (total, f"{asset}/{quote}") for asset, total in totals.items()]


def _to_replay(series: dict[str, list[Candle]], start_ms: int) -> int:
    """How many candles close after ``start_ms``: the replay's, not the history's."""
    return sum(1 for candles in series.values() for c in candles if c.ts + timeframe_ms(c.timeframe) > start_ms)


def _clear(db: Path) -> None:
    """A backtest's journal starts empty (a new exchange account), like the rest of its output folder."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


async def _run(options: BacktestOptions, series: dict[str, list[Candle]], progress_stream: TextIO | None,
               clock: trio.testing.MockClock) -> Replayed:
    templates = load_templates(options.template_dir)
    sim = SimExchange(SimConfig(data_files=[str(path) for path in options.data], speed=options.speed,
                                seed=options.seed, warmup=options.warmup, accounts={ACCOUNT: dict(options.balance)},
                                markets=fee_markets(options.fees)), candles=series)
    replayed = Replayed(total=_to_replay(series, sim.now_ms()), quote=_quote(sim, options.balance))
    progress = Progress(progress_stream, replayed.total)
    _watch(sim, replayed, progress)
    exchange = SimulatedExchange(sim, ACCOUNT, yields=not options.lockstep)
    async with trio.open_nursery() as nursery:
        try:
            async with open_system(exchange, templates=templates, db=options.db, repl_port=0,
                                   candles_pushed=options.lockstep, durable=False) as system:
                # Only now: the desk reads its journal in a thread at start, and the virtual clock would run on.
                await system.traders_decided()
                if options.lockstep:
                    nursery.start_soon(drive, exchange, system.desk, clock)
                else:
                    await nursery.start(sim.run)
                await wait_for_stop(None, sim.finished)
        finally:
            await exchange.close()
            progress.close(replayed.done)
        nursery.cancel_scope.cancel()
    return replayed


def run_backtest(options: BacktestOptions, progress: TextIO | None = None) -> Report:
    """Replay, then write the report into ``options.out``; ``progress`` gets the progress bar (if given)."""
    options.out.mkdir(parents=True, exist_ok=True)
    _clear(options.db)
    started = time.monotonic()
    series = _series(options)
    clock = trio.testing.MockClock(autojump_threshold=0)
    replayed = trio.run(_run, options, series, progress, clock, clock=clock)
    elapsed = time.monotonic() - started
    report = write_report(options.out, options.db, replayed.equity, marks=replayed.closes,
                          quote=replayed.quote, candles=replayed.done, elapsed_s=elapsed)
    write_pictures(report, options.db, {candles[0].pair: candles for candles in series.values() if candles})
    return report


def default_progress_stream() -> TextIO | None:
    """stderr when it is a terminal: a progress bar in a log file or a pipe is noise."""
    return sys.stderr if sys.stderr.isatty() else None
