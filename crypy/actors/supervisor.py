"""Supervision: start actors, restart the ones that crash, stop them gracefully.

Each actor runs in its own cancel scope inside its parent's nursery. An exception escaping an actor is
caught here, logged, reported as an ``ActorCrashed`` event and answered by the restart policy; it never
reaches the parent's nursery, so siblings and parent keep running.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
import trio

from crypy.protocols import ActorCrashed, ActorStopped

from .bus import Topic
from .failures import single_cause
from .registry import ActorState
from .runtime import Runtime

if TYPE_CHECKING:
    from .actor import Actor

log = structlog.get_logger()


class ActorStartError(RuntimeError):
    """An actor failed before it was ever ready, and its policy does not let it try again."""


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a crashed actor unless it crashed more than ``max_restarts`` times within ``window`` seconds."""

    max_restarts: int = 3
    window: float = 60.0
    backoff: float = 0.2


@dataclass
class _Supervised:
    factory: Callable[[], Actor]
    policy: RestartPolicy
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    actor: Actor | None = None
    stopping: bool = False
    done: trio.Event = field(default_factory=trio.Event)


class Supervisor:
    """The children of one actor (or of the process, for the desk)."""

    generation = 0
    """Bumped whenever any supervisor's set of child actors changes (a start, a restart, an end): lets a hot path
    keep a listing of actors until it is stale (``DeskCandles.take``)."""

    def __init__(self, nursery: trio.Nursery, runtime: Runtime, owner: str) -> None:
        self._nursery = nursery
        self._runtime = runtime
        self.owner = owner
        self._children: dict[str, _Supervised] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._children

    @property
    def names(self) -> list[str]:
        return list(self._children)

    def actor(self, name: str) -> Actor | None:
        child = self._children.get(name)
        return child.actor if child else None

    async def start(self, factory: Callable[[], Actor], policy: RestartPolicy | None = None) -> Actor:
        """Start a child and return it once it is ready (its REPL listens and its subscriptions exist)."""
        child = _Supervised(factory, policy or RestartPolicy())
        return await self._nursery.start(functools.partial(self._supervise, child))

    async def _supervise(self, child: _Supervised, task_status: trio.TaskStatus[Actor]) -> None:
        registry, bus = self._runtime.registry, self._runtime.bus
        crashes: deque[float] = deque()
        restarts = 0
        status: trio.TaskStatus[Actor] = task_status
        name = ""
        try:
            with child.scope:
                while True:
                    actor = child.factory()
                    name = actor.name
                    child.actor = actor
                    self._children[name] = child
                    Supervisor.generation += 1
                    registry.register(name, actor.kind, self.owner)
                    registry.update(name, state=ActorState.STARTING, restarts=restarts)
                    try:
                        await actor.run(status)
                        break
                    except Exception as exc:
                        cause = single_cause(exc) or exc
                        if actor.ready:
                            status = trio.TASK_STATUS_IGNORED
                        now = trio.current_time()
                        crashes.append(now)
                        while crashes and now - crashes[0] > child.policy.window:
                            crashes.popleft()
                        again = not child.stopping and len(crashes) <= child.policy.max_restarts
                        log.error("actor crashed" if actor.ready else "actor failed to start", name=name,
                                  error=repr(cause), restarts=restarts, will_restart=again,
                                  exc_info=exc if actor.ready else None)
                        await bus.publish(Topic.LIFECYCLE, ActorCrashed(
                            ts=self._runtime.now_ms(), name=name, error=repr(cause), restarts=restarts,
                            will_restart=again))
                        if not again:
                            registry.update(name, state=ActorState.FAILED)
                            if not actor.ready and status is task_status:
                                raise ActorStartError(f"{name} could not start: {cause}") from exc
                            return
                        restarts += 1
                        registry.update(name, state=ActorState.RESTARTING, restarts=restarts)
                        await trio.sleep(child.policy.backoff)
        finally:
            child.done.set()
            if name and self._children.get(name) is child:
                del self._children[name]
                Supervisor.generation += 1
                if name in registry and registry.get(name).state is not ActorState.FAILED:
                    registry.remove(name)
        with trio.CancelScope(shield=True):
            await bus.publish(Topic.LIFECYCLE, ActorStopped(ts=self._runtime.now_ms(), name=name))

    async def stop(self, name: str, grace: float = 5.0) -> None:
        """Ask a child to stop, and cancel it if it has not finished within ``grace`` seconds."""
        child = self._children.get(name)
        if child is None:
            return
        child.stopping = True
        if child.actor is not None:
            child.actor.request_stop()
        with trio.move_on_after(grace):
            await child.done.wait()
        child.scope.cancel()
        await child.done.wait()

    async def stop_all(self, grace: float = 5.0) -> None:
        """Stop every child concurrently (newest first is not needed: children are independent)."""
        async with trio.open_nursery() as nursery:
            for name in list(self._children):
                nursery.start_soon(self.stop, name, grace)
