"""The backtest's market: candles closed one by one in the engine and handed straight to the desk.

Under a virtual clock nothing waits for real time, so what bounds a backtest is how often the actors must run.
They need to only when something happens: the engine filled or changed an order (the desk syncs before anyone
decides on the next candle), or a trader's decision asks for more than feeding its strategy (a new target to
announce, an order, a re-evaluation), or a risk limit or an exit fires. Every other candle is closed, booked and
decided on in one synchronous pass (``DeskCandles.take``, ``Trader.take_candle``), without a task switch.

Each candle is still decided on its own, in closing order, by the same code as in ``crypy sim``: a trader's order
reaches the engine before the next candle closes and fills on it, exactly as in a live run that keeps up. Trio's
clock is moved to each candle's close (``MockClock.jump``), so every timestamp is the one a candle-by-candle run
would give; when a timer falls due before the next close (a holder's respawn, the desk's balance report), the
driver sleeps to the close instead, so that each timer fires at its own time, in order.
"""

from __future__ import annotations

import trio
import trio.testing

from crypy.actors.desk import Desk
from crypy.exchanges.simulated import SimulatedExchange
from crypy.protocols import Candle
from crypy.simulator import SimExchange

CHUNK = 1000
"""Candles the traders' strategies decide in one go (``DeskCandles.preview``)."""
SETTLE_EVERY = 1000
"""Candles between two settles when nothing happens: Ctrl-C and the periodic jobs (balances) get their turn."""


async def settle() -> None:
    """Return once every other task is blocked: under ``MockClock(autojump_threshold=0)`` the clock moves on by
    this sleep only when nothing else can run."""
    await trio.sleep(1e-9)


async def drive(exchange: SimulatedExchange, desk: Desk, clock: trio.testing.MockClock) -> int:
    """Close every candle of the simulator's data in order and return how many; ``exchange.sim.finished`` is set
    at the end."""
    sim = exchange.sim
    sim.start()
    closed = quiet = previewed = 0
    chunk: list[Candle] = []
    seen = exchange.news
    while (due := sim.next_due()) is not None:
        if closed == previewed:
            chunk = sim.upcoming(CHUNK)
            desk.candles.preview(chunk)
            previewed += len(chunk)
        if run := _quiet_run(sim, desk, chunk, len(chunk) - (previewed - closed)):
            await _jump_to(sim.due_in(run - 1), clock)
            candles = sim.close_quietly(run)
            closed += run
            if desk.candles.take_quietly(candles):
                await desk.candles.announce(candles[-1])
                await settle()
            elif (quiet + run) // SETTLE_EVERY > quiet // SETTLE_EVERY:
                await settle()
            quiet += run
            seen = exchange.news
            continue
        await _jump_to(due, clock)
        candle = sim.close_next()
        closed += 1
        if exchange.news != seen:
            await settle()
        if desk.candles.take(candle):
            await desk.candles.announce(candle)
            await settle()
        elif (quiet := quiet + 1) % SETTLE_EVERY == 0:
            await settle()
        seen = exchange.news
    return closed


def _quiet_run(sim: SimExchange, desk: Desk, chunk: list[Candle], start: int) -> int:
    """How many of the next candles (``chunk[start:]``) may close in one go: no order is live, no timer falls due
    before the last of them closes, and the desk and its traders would do nothing with them but take them."""
    if not sim.quiet:
        return 0
    timers = trio.current_time() + trio.lowlevel.current_statistics().seconds_to_next_deadline
    stop = start + sim.closing_before(timers, len(chunk) - start)
    return desk.candles.quiet_run(chunk, start, stop) if stop > start else 0


async def _jump_to(due: float, clock: trio.testing.MockClock) -> None:
    """Move trio's clock to ``due``; when a timer falls due first (a respawn, a balance report), sleep there
    instead, so each timer fires at its own time."""
    if due <= trio.current_time():
        return
    if trio.lowlevel.current_statistics().seconds_to_next_deadline < due - trio.current_time():
        await trio.sleep_until(due)
    else:
        clock.jump(due - trio.current_time())
