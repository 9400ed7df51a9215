"""The desk's market data: candles polled from the exchange, or pushed by a backtest's driver, into the history.

Polled (``poll``), each new candle is published after the fills the exchange has announced are booked, so a
trader decides on a candle knowing what its orders did up to that candle's close. Pushed (``take``, the backtest's
lockstep, ``modes/lockstep.py``), a candle is booked and decided on by the pair's traders at once, without a task
switch; only what must wait goes through the bus (``announce``). ``preview`` hands traders the candles about to
close, for their strategies to decide a chunk in one go.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from crypy.exchanges import ExchangeError
from crypy.protocols import Candle, timeframe_ms
from crypy.repl.tables import format_utc

from .bus import Topic
from .risk import DAY_MS, Breach
from .supervisor import Supervisor
from .trader import Trader

if TYPE_CHECKING:
    from .desk import Desk


class DeskCandles:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._pair_traders: tuple[int, dict[str, list[Trader]]] = (-1, {})
        self._breaches: list[Breach] = []
        """Risk limits a pushed candle crossed, for ``announce`` to act on."""
        self._chunk: list[Candle] = []
        """The candles previewed last (``preview``), and the live strategies (by id) shown them."""
        self._shown: set[int] = set()

    async def poll(self) -> None:
        """Publish the candles closed since the last poll, each after the fills it brought: a trader decides on a
        candle knowing what its orders did up to that candle's close, whatever the order of the exchange's news."""
        desk = self.desk
        fresh = False
        for pair, cached in desk.history.items():
            since = cached[-1].ts + 1 if cached else None
            for candle in await desk.exchange.candles(pair, desk.timeframe, since_ms=since):
                if cached and candle.ts <= cached[-1].ts:
                    continue
                await self._sync_news_before(candle)
                self._book(candle)
                fresh = True
                await desk.runtime.bus.publish(Topic.CANDLES, candle)
        if fresh:
            await desk.risk.watch()

    async def _sync_news_before(self, candle: Candle) -> None:
        """Book the fills the exchange has announced (pushed news not synced yet) before publishing ``candle``. A
        failing exchange only delays them, as it would without this: the candle goes out anyway."""
        desk = self.desk
        if not desk.open_orders or desk.order_news == desk.news_synced:
            return
        try:
            await desk.sync_orders()
        except ExchangeError as exc:
            desk.exchange_errors += 1
            desk.log.warning("order sync before a candle failed", pair=candle.pair, error=str(exc))

    def _book(self, candle: Candle) -> bool:
        """Keep a new closed candle in the pair's history and let the exits follow it; True when that asks for an
        action of theirs."""
        desk = self.desk
        desk.history[candle.pair].append(candle)
        desk.candle_count += 1
        if desk.log.is_enabled_for(logging.INFO):  # a backtest's quiet logs skip formatting a line per candle
            self._log(candle)
        return desk.exits.on_candle(candle)

    def _log(self, candle: Candle) -> None:
        self.desk.log.info("candle", pair=candle.pair, at=format_utc(candle.ts), close=candle.close,
                           volume=round(candle.volume, 4))

    def _traders_of(self, pair: str) -> list[Trader]:
        return self._listing().get(pair, [])

    def _listing(self) -> dict[str, list[Trader]]:
        """The live traders by pair, listed again only when some actor started or stopped since."""
        if self._pair_traders[0] != Supervisor.generation:
            listing: dict[str, list[Trader]] = {}
            for trader in self.desk.traders():
                listing.setdefault(trader.market.pair, []).append(trader)
            self._pair_traders = (Supervisor.generation, listing)
        return self._pair_traders[1]

    def preview(self, candles: list[Candle]) -> None:
        """Hand each trader the next candles of its pair before they close, for its strategy to decide them in one
        go (a backtest's chunk); the trader still acts on each only when ``take`` closes it."""
        self._chunk, self._shown = candles, set()
        for trader in self.desk.traders():
            self._show(trader)

    def _show(self, trader: Trader) -> None:
        """Preview the rest of the chunk to ``trader``'s live strategy, once per chunk (``Trader.preview`` keeps the
        candles it has not taken yet): one started during a chunk gets it after taking its first candle."""
        if trader.live is not None and id(trader.live) not in self._shown:
            self._shown.add(id(trader.live))
            trader.preview([c for c in self._chunk if c.pair == trader.market.pair])

    def take(self, candle: Candle) -> bool:
        """A closed candle handed over by a driver (a backtest's fast path, with the fills it brought already
        booked): booked, and decided on at once by the pair's traders. True when something must wait: then the
        driver calls ``announce`` and lets the actors run."""
        desk = self.desk
        cached = desk.history.get(candle.pair)
        if cached is None or candle.timeframe != desk.timeframe or (cached and candle.ts <= cached[-1].ts):
            return False
        waits = self._book(candle)
        for trader in self._traders_of(candle.pair):
            if trader.take_candle(candle):
                waits = True
            else:
                self._show(trader)
        self._breaches = desk.risk.check()
        return waits or bool(self._breaches)

    def quiet_run(self, candles: Sequence[Candle], start: int, stop: int) -> int:
        """How many of ``candles[start:stop]`` (the next to close, no order live) the desk would book with nothing
        else to do, and its traders take with nothing to do but feed their strategies (``Trader.quiet_run``):
        those may be taken in one go (``take_quietly``), exactly as one by one.

        Besides the traders: no exit armed, and the risk monitor must come to what checking each candle would: its
        UTC day stays the same, and with a limit set no trader holds a position (a flat trader's result does not
        move with the price)."""
        desk = self.desk
        if desk.exits.book.armed() or not self._risk_quiet():
            return 0
        for traders in self._listing().values():
            for trader in traders:
                stop = start + trader.quiet_run(candles, start, stop)
        return self._same_day(candles, start, stop) - start

    def _same_day(self, candles: Sequence[Candle], start: int, stop: int) -> int:
        """Where the run must stop: at a candle the desk would not book as a new one, or one that closes on
        another UTC day than the risk monitor's (clear of a day's edge by a millisecond, the clock's rounding).
        Candles the desk does not follow (another timeframe or pair) pass: it ignores them."""
        desk, day = self.desk, self.desk.risk.monitor.day
        last = {pair: cached[-1].ts if cached else -1 for pair, cached in desk.history.items()}
        for index in range(start, stop):
            candle = candles[index]
            if candle.timeframe != desk.timeframe or candle.pair not in last:
                continue
            closed_at = candle.ts + timeframe_ms(candle.timeframe)
            if candle.ts <= last[candle.pair] or not (closed_at - 1) // DAY_MS == (closed_at + 1) // DAY_MS == day:
                return index
            last[candle.pair] = candle.ts
        return stop

    def _risk_quiet(self) -> bool:
        """Whether checking the risk limits on each candle of a quiet run comes to checking them after the last:
        without limits only the day's start matters (``_same_day``); with one, every trader must be flat (its
        result then stays as it is) and no limit crossed yet."""
        desk = self.desk
        settings = desk.template.risk
        if settings.daily_loss_limit is None and settings.trader_max_drawdown is None:
            return True
        if any(ledger.acquired for ledger in desk.gate.ledgers.values()):
            return False
        return not desk.risk.monitor.would_breach(desk.runtime.now_ms(), desk.gate.ledgers, desk.last_price)

    def take_quietly(self, candles: Sequence[Candle]) -> bool:
        """Book ``candles`` that ``quiet_run`` vouched for, and hand them to their traders, in one go; True when a
        risk limit was crossed after all (the driver then calls ``announce`` with the last)."""
        desk = self.desk
        logged = desk.log.is_enabled_for(logging.INFO)
        by_pair: dict[str, list[Candle]] = {}
        for candle in candles:
            if candle.timeframe == desk.timeframe and candle.pair in desk.history:
                by_pair.setdefault(candle.pair, []).append(candle)
                if logged:
                    self._log(candle)
        for pair, own in by_pair.items():
            desk.history[pair].extend(own)
            desk.candle_count += len(own)
            for trader in self._traders_of(pair):
                trader.take_quietly(own)
        self._breaches = desk.risk.check()
        return bool(self._breaches)

    async def announce(self, candle: Candle) -> None:
        """The slow part of a pushed candle: the bus delivers it (its traders carry out what they decided) and
        the desk acts on the risk limits it crossed."""
        desk = self.desk
        await desk.runtime.bus.publish(Topic.CANDLES, candle)
        breaches, self._breaches = self._breaches, []
        await desk.risk.act_on(breaches)
