"""Actor lifecycle events: the supervisor reports what starts, stops and crashes."""

from __future__ import annotations

from .base import Event


class ActorStarted(Event, frozen=True, kw_only=True):
    name: str
    kind: str
    parent: str
    repl: str = ""


class ActorStopped(Event, frozen=True, kw_only=True):
    name: str
    reason: str = ""


class ActorCrashed(Event, frozen=True, kw_only=True):
    name: str
    error: str
    restarts: int
    will_restart: bool
