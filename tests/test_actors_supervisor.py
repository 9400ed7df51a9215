"""Supervision: a crashing actor is restarted, its siblings and parent keep running, stops are graceful."""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import trio

from crypy.actors.actor import Actor
from crypy.actors.bus import Topic
from crypy.actors.registry import ActorState, Registry, live_actors, open_process_registry
from crypy.actors.runtime import Runtime
from crypy.actors.supervisor import RestartPolicy, Supervisor
from crypy.protocols import ActorCrashed, ActorStarted
from crypy.repl import BUILTINS, CommandRegistry


class Ticking(Actor):
    """Counts ticks; crashes on the tick numbers it is told to, once per run."""

    kind = "test"

    def __init__(self, name: str, parent: str, runtime: Runtime, *, crash_at: int | None = None,
                 log: list[str] | None = None) -> None:
        super().__init__(name, parent, runtime)
        self.crash_at = crash_at
        self.ticks = 0
        self.events = log if log is not None else []

    def commands(self) -> CommandRegistry:
        return BUILTINS

    async def setup(self, nursery: trio.Nursery) -> None:
        nursery.start_soon(self._tick)

    async def _tick(self) -> None:
        while True:
            await trio.sleep(0.01)
            self.ticks += 1
            if self.crash_at is not None and self.ticks == self.crash_at:
                raise RuntimeError(f"{self.name} exploded")

    async def on_stop(self) -> None:
        self.events.append(f"{self.name} stopped cleanly")


async def test_a_crashing_actor_is_restarted_and_its_sibling_keeps_running() -> None:
    runtime = Runtime()
    with runtime.bus.subscribe(Topic.LIFECYCLE) as lifecycle:
        async with trio.open_nursery() as nursery:
            root = Supervisor(nursery, runtime, owner="")
            crashing = await root.start(functools.partial(Ticking, "crashy", "", runtime, crash_at=3),
                                        RestartPolicy(max_restarts=5, window=60, backoff=0.01))
            steady = await root.start(functools.partial(Ticking, "steady", "", runtime))
            await trio.sleep(0.2)
            with trio.fail_after(1):  # it crashes on every third tick: catch it up again, not in its backoff
                while runtime.registry.get("crashy").state is not ActorState.RUNNING:
                    await trio.sleep(0.001)
            replacement = root.actor("crashy")
            assert replacement is not None and replacement is not crashing, "the crashed actor was not replaced"
            assert runtime.registry.get("crashy").restarts >= 1
            assert steady.ticks >= 15, "the sibling stopped while its neighbour crashed"
            assert root.actor("steady") is steady
            await root.stop_all()
        events = []
        while True:
            try:
                events.append(lifecycle.receive_nowait())
            except trio.WouldBlock:
                break
    crashes = [e for e in events if isinstance(e, ActorCrashed)]
    assert crashes and crashes[0].name == "crashy" and "exploded" in crashes[0].error and crashes[0].will_restart
    assert sum(isinstance(e, ActorStarted) and e.name == "crashy" for e in events) >= 2


async def test_an_actor_that_keeps_crashing_is_given_up_without_harming_the_parent() -> None:
    runtime = Runtime()
    async with trio.open_nursery() as nursery:
        root = Supervisor(nursery, runtime, owner="")
        await root.start(functools.partial(Ticking, "doomed", "", runtime, crash_at=1),
                         RestartPolicy(max_restarts=2, window=60, backoff=0.0))
        await trio.sleep(0.3)
        assert runtime.registry.get("doomed").state is ActorState.FAILED
        assert "doomed" not in root
        survivor = await root.start(functools.partial(Ticking, "survivor", "", runtime))
        await trio.sleep(0.05)
        assert survivor.ticks > 0
        await root.stop_all()


async def test_children_stop_before_their_parent_runs_its_stop_hook() -> None:
    runtime = Runtime()
    order: list[str] = []

    class Parent(Ticking):
        async def setup(self, nursery: trio.Nursery) -> None:
            await super().setup(nursery)
            await self.children.start(functools.partial(Ticking, "child", self.name, self.runtime, log=order))

    async with trio.open_nursery() as nursery:
        root = Supervisor(nursery, runtime, owner="")
        await root.start(functools.partial(Parent, "parent", "", runtime, log=order))
        assert [i.name for i in runtime.registry.children("parent")] == ["child"]
        await root.stop("parent")
    assert order == ["child stopped cleanly", "parent stopped cleanly"]
    assert runtime.registry.actors() == []


async def test_a_stop_hook_that_hangs_is_cancelled_after_the_grace_period() -> None:
    runtime = Runtime()

    class Stubborn(Ticking):
        grace = 0.05

        async def on_stop(self) -> None:
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        root = Supervisor(nursery, runtime, owner="")
        await root.start(functools.partial(Stubborn, "stubborn", "", runtime))
        with trio.fail_after(2):
            await root.stop("stubborn", grace=1.0)
    assert "stubborn" not in runtime.registry


async def test_every_actor_serves_a_repl_and_the_registry_is_visible_to_other_processes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CRYPY_RUN_DIR", str(tmp_path))
    runtime = Runtime(registry=open_process_registry())
    async with trio.open_nursery() as nursery:
        root = Supervisor(nursery, runtime, owner="")
        actor = await root.start(functools.partial(Ticking, "visible", "", runtime))
        host, port = actor.repl_address.rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        async with stream:
            await stream.send_all(b"help\r\n")
            received = b""
            with trio.fail_after(2):
                while b"quit" not in received:
                    received += await stream.receive_some(4096)
        listed = live_actors(tmp_path)
        assert [(info.name, info.state, info.repl) for _, info in listed] == [
            ("visible", ActorState.RUNNING, actor.repl_address)]
        await root.stop_all()
    runtime.registry.close()
    assert live_actors(tmp_path) == []


def test_files_of_dead_processes_are_ignored_and_removed(tmp_path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead_pid = int(finished.stdout)
    stale = Registry(tmp_path / "stale.json")
    stale.register("ghost", "desk", "")
    payload = json.loads(stale.path.read_text())
    payload["pid"] = dead_pid
    stale.path.write_text(json.dumps(payload))
    assert live_actors(tmp_path) == []
    assert not stale.path.exists()
