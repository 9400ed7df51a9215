"""Hostile input to every kind of actor: random lines and bytes at a live desk, holder and trader.

Half the lines start with a real command name followed by random arguments, so handlers' argument paths get
explored, not only the parser's. Every answer must end with the prompt again and must never be an internal
error (an exception a handler did not expect); the actors must still be running at the end.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypy.actors.registry import ActorState
from crypy.modes.sim import SimOptions, open_sim_system

from .conftest import EAGER_TEMPLATES

ACTORS = ("sim:default", "USD", "XBT/USD@USD")
DANGEROUS = ("kill", "retire", "close", "buy", "sell", "quit", "exit", "resume", "set", "freq", "spawn", "accept",
             "refuse", "pause", "watch")  # watch streams until ^C: not a one-answer command


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, bytes, list[str]]]]:
    """A live system in its own thread; yields each fuzzed actor's address, prompt and command names."""
    ready: queue.Queue[object] = queue.Queue()
    db = tmp_path_factory.mktemp("fuzz") / "journal.db"
    states: dict[str, ActorState] = {}

    async def main() -> None:
        options = SimOptions(db=db, repl_port=0, in_process=True, template_dir=EAGER_TEMPLATES, speed=3600)
        async with open_sim_system(options) as (running, _):
            registry = running.runtime.registry
            with trio.fail_after(20):
                while not all(name in registry for name in ACTORS):
                    await trio.sleep(0.05)
            desk = running.desk
            actors = {"sim:default": desk, "USD": desk.children.actor("USD")}
            holder = actors["USD"]
            assert holder is not None
            actors["XBT/USD@USD"] = holder.children.actor("XBT/USD@USD")
            ready.put({name: (registry.get(name).repl, actor.prompt.encode(),  # type: ignore[union-attr]
                              [c.name for c in actor.commands().commands()])  # type: ignore[union-attr]
                       for name, actor in actors.items()})
            ready.put(trio.lowlevel.current_trio_token())
            done = trio.Event()
            ready.put(done)
            await done.wait()
            states.update({name: registry.get(name).state for name in ACTORS if name in registry})

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    targets = ready.get(timeout=60)
    token, done = ready.get(timeout=5), ready.get(timeout=5)
    yield targets  # type: ignore[misc]
    trio.from_thread.run_sync(done.set, trio_token=token)  # type: ignore[arg-type]
    thread.join(timeout=60)
    assert states == dict.fromkeys(ACTORS, ActorState.RUNNING), f"an actor did not survive the fuzzing: {states}"


def _exchange(address: str, prompt: bytes, payload: bytes) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        received = b""
        while not received.endswith(prompt):
            received += conn.recv(65536)
        conn.sendall(payload + b"\r\n")
        answer = b""
        while not answer.endswith(prompt):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        conn.sendall(b"status\r\n")
        after = b""
        while not after.endswith(prompt):
            chunk = conn.recv(65536)
            assert chunk, "the session died after hostile input"
            after += chunk
    return answer


arguments = st.lists(st.one_of(st.text(max_size=12), st.integers().map(str), st.decimals(allow_nan=True).map(str),
                               st.sampled_from(["--json", "--yes", "--flatten", "-1", "0", "XBT/USD", "all", "''"])),
                     max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actor=st.sampled_from(ACTORS), raw=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)),
       command_index=st.integers(min_value=0, max_value=100), args=arguments, use_command=st.booleans())
def test_every_actor_answers_hostile_lines_with_a_result_or_an_error(
        system: dict[str, tuple[str, bytes, list[str]]], actor: str, raw: bytes, command_index: int,
        args: list[str], use_command: bool) -> None:
    address, prompt, names = system[actor]
    safe = [name for name in names if name.split()[0] not in DANGEROUS]
    if use_command:
        line = " ".join([safe[command_index % len(safe)], *args]).replace("\r", " ").replace("\n", " ")
        payload = line.encode(errors="replace")
    else:
        payload = raw.replace(b"\r", b" ").replace(b"\n", b" ").replace(b"\x04", b" ")
    if b"!crypy" in payload:
        return
    answer = _exchange(address, prompt, payload)
    assert b"error: internal" not in answer, f"{actor}: {payload!r} -> {answer!r}"
