"""The root of every event type.

Events are immutable msgspec Structs. ``tag=True`` puts the class name in a ``type`` field so that any
mix of events can travel on one stream and be decoded back to the right class (a tagged union).
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, tag_field="type"):
    """Base class of all dataflow events. ``ts`` is milliseconds since the epoch (UTC)."""

    ts: int
