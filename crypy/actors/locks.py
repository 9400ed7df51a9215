"""Holding a trio lock without a task switch when nobody else holds it.

``async with lock`` on a ``trio.Lock`` is always a schedule point: trio lets other tasks run even when the lock
was free. On the order path (the desk's send, the tracker's sync) that costs a backtest in lockstep a whole
scheduling round per order and per sync, for nothing. ``held`` is still a cancellation point, and waits as
``trio.Lock`` does (fairly, in order) when the lock is taken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


@asynccontextmanager
async def held(lock: trio.Lock) -> AsyncIterator[None]:
    """Acquire ``lock`` for the block: at once if it is free, else after those waiting before."""
    await trio.lowlevel.checkpoint_if_cancelled()
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()
    try:
        yield
    finally:
        lock.release()
