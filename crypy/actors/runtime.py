"""What every actor of one process shares: the bus, the registry and the clock."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .bus import Bus
from .registry import Registry


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Runtime:
    """Shared services. ``now_ms`` is the system's notion of now: the exchange's (possibly replayed) time."""

    bus: Bus = field(default_factory=Bus)
    registry: Registry = field(default_factory=Registry)
    now_ms: Callable[[], int] = wall_clock_ms
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    """Part of every client id this process makes, so none repeats one of an earlier run on the same account."""
    sequence: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    """Numbers the ids actors make (client ids, requests, proposals) across the whole process: a fresh trader that
    takes the name of a retired one must not repeat its client ids."""
