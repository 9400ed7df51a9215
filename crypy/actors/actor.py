"""The actor base class: a trio task tree with a REPL, children, and a graceful stop.

Lifecycle: ``run`` starts the actor's REPL, calls ``setup`` (subscriptions, tasks), reports ready through
``task_status`` and then lives until ``request_stop``. Stopping stops the children first, then runs
``on_stop`` (close positions, cancel orders, flush) within ``grace`` seconds, then cancels what is left.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import structlog
import trio

from crypy.protocols import ActorStarted
from crypy.repl import CommandRegistry, ReplServer

from .bus import Topic
from .registry import ActorState
from .runtime import Runtime
from .supervisor import Supervisor


class Actor(ABC):
    kind: ClassVar[str]
    grace: ClassVar[float] = 5.0

    def __init__(self, name: str, parent: str, runtime: Runtime, *, repl_host: str = "127.0.0.1",
                 repl_port: int = 0) -> None:
        self.name = name
        self.parent = parent
        self.runtime = runtime
        self.repl_host = repl_host
        self.repl_port = repl_port
        self.repl_address = ""
        self.repl_server: ReplServer | None = None
        self.ready = False
        self.log = structlog.get_logger().bind(actor=name)
        self._stop_requested = trio.Event()
        self._children: Supervisor | None = None

    @property
    def prompt(self) -> str:
        return f"{self.name}> "

    @property
    def children(self) -> Supervisor:
        if self._children is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._children

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def request_stop(self) -> None:
        self._stop_requested.set()

    @abstractmethod
    def commands(self) -> CommandRegistry:
        """The REPL commands of this kind of actor."""

    @abstractmethod
    async def setup(self, nursery: trio.Nursery) -> None:
        """Subscribe and start the actor's tasks in ``nursery``; return when the actor can do its job."""

    async def on_stop(self) -> None:  # noqa: B027 - a hook: most actors have nothing to clean up
        """Leave cleanly (cancel orders, flush). Runs after the children stopped, bounded by ``grace``."""

    def concerns(self, event: object) -> bool:  # noqa: ARG002 - the base actor is interested in everything
        """Whether ``event`` is this actor's business: what its ``watch`` command shows."""
        return True

    def descendant(self, name: str) -> Actor | None:
        """The live actor called ``name`` among this actor's children, grandchildren, ..."""
        if self._children is None:
            return None
        for child_name in self._children.names:
            child = self._children.actor(child_name)
            if child is None:
                continue
            if child_name == name:
                return child
            found = child.descendant(name)
            if found is not None:
                return found
        return None

    def state_summary(self) -> dict[str, object]:
        """What ``status`` shows for this actor."""
        return {"name": self.name, "kind": self.kind, "parent": self.parent, "repl": self.repl_address}

    async def run(self, task_status: trio.TaskStatus[Actor] = trio.TASK_STATUS_IGNORED) -> None:
        structlog.contextvars.bind_contextvars(actor=self.name)
        registry, bus = self.runtime.registry, self.runtime.bus
        async with trio.open_nursery() as nursery:
            self._children = Supervisor(nursery, self.runtime, owner=self.name)
            server = ReplServer(self.name, self.prompt, self.commands(), host=self.repl_host,
                                port=self.repl_port, context=self)
            self.repl_server = server
            self.repl_address = await nursery.start(server.serve)
            await self.setup(nursery)
            self.ready = True
            registry.register(self.name, self.kind, self.parent)
            registry.update(self.name, state=ActorState.RUNNING, repl=self.repl_address)
            task_status.started(self)
            await bus.publish(Topic.LIFECYCLE, ActorStarted(
                ts=self.runtime.now_ms(), name=self.name, kind=self.kind, parent=self.parent, repl=self.repl_address))
            await self._stop_requested.wait()
            registry.update(self.name, state=ActorState.STOPPING)
            await self._children.stop_all(self.grace)
            with trio.move_on_after(self.grace) as scope:
                await self.on_stop()
            if scope.cancelled_caught:
                self.log.warning("stop hook overran its grace period", grace=self.grace)
            nursery.cancel_scope.cancel()
