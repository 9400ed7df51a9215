"""The asyncio attach client against serve_attach running on trio in a thread, typed through a pipe."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import trio
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from crypy.repl import BUILTINS, Arg, CommandRegistry, ReplServer, Session
from crypy.repl.attach_client import (
    AttachClient,
    AttachError,
    CommandCompleter,
    history_path,
    resolve_target,
    run_attached,
)
from crypy.repl.attach_session import describe_command, serve_attach

registry = CommandRegistry(parents=[BUILTINS])


@registry.command("status", help="Report that the desk runs")
async def status(session: Any) -> str:
    return "running desk"


@registry.command(
    "set limit",
    help="Set a limit",
    args=[Arg("symbol", choices=["XBT/USD", "ETH/USD"]), Arg("amount", float), Arg("force", bool, help="skip checks")],
)
async def set_limit(session: Any, symbol: str, amount: float, force: bool) -> str:
    return f"limit {symbol} {amount}{' forced' if force else ''}"


@registry.command("set mode", help="Set the mode", args=[Arg("mode", choices=["live", "paper"])])
async def set_mode(session: Any, mode: str) -> str:
    return f"mode {mode}"


@registry.command("watch", help="Stream events of a topic", args=[Arg("topic", choices=["fills", "candles"])])
async def watch(session: Session, topic: str) -> None:
    await session.write_line(f"live {topic}: T1 buy 0.01 XBT/USD @ 16514.9")
    await trio.sleep_forever()


@registry.command("slow", help="Wait until cancelled")
async def slow(session: Any) -> str:
    await session.write_line("starting")
    await trio.sleep_forever()
    return "never"


def complete(text: str) -> list[str]:
    completer = CommandCompleter([describe_command(command) for command in registry.commands()])
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]


def test_completion_walks_the_command_tree() -> None:
    assert complete("") == ["back", "exit", "help", "quit", "set", "slow", "status", "watch"]
    assert complete("s") == ["set", "slow", "status"]
    assert complete("set ") == ["limit", "mode"]
    assert complete("set l") == ["limit"]
    assert complete("set limit ") == ["XBT/USD", "ETH/USD"]
    assert complete("set limit E") == ["ETH/USD"]
    assert complete("set limit ETH/USD ") == []  # a number: nothing to offer
    assert complete("set limit ETH/USD 3 ") == ["--force"]
    assert complete("set limit --") == ["--force"]
    assert complete("set limit --force ") == ["XBT/USD", "ETH/USD"]
    assert complete("set mode p") == ["paper"]
    assert complete("help set m") == ["mode"]
    assert complete("nonsense ") == []


@dataclass
class Info:
    name: str
    kind: str
    repl: str


def test_resolve_target_defaults_to_the_desk() -> None:
    actors = [
        Info("trader-1", "trader", "127.0.0.1:7201"),
        Info("desk", "desk", "127.0.0.1:7100"),
        Info("holder", "holder", "[::1]:7300"),
        Info("starting", "trader", ""),
    ]
    assert resolve_target(None, actors) == ("desk", "127.0.0.1", 7100)
    assert resolve_target("holder", actors) == ("holder", "::1", 7300)
    assert resolve_target("127.0.0.1:9999", actors) == ("127.0.0.1:9999", "127.0.0.1", 9999)
    with pytest.raises(AttachError, match="no running actor 'nope'.*desk, holder, trader-1"):
        resolve_target("nope", actors)
    with pytest.raises(AttachError, match="no running desk"):
        resolve_target(None, actors[:1])


def test_history_path_honours_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("CRYPY_STATE_DIR", str(tmp_path))
    assert history_path() == tmp_path / "attach_history"
    monkeypatch.delenv("CRYPY_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert history_path() == tmp_path / "xdg" / "crypy" / "attach_history"


@pytest.fixture
def server_port() -> Iterator[int]:
    """A trio thread serving like a ReplServer with the hook: telnet banner, then `!crypy 1` switches to frames."""
    server = ReplServer("desk", "sim:desk> ", registry, context=None)
    ports: queue.Queue[int] = queue.Queue()
    stop: list[Callable[[], None]] = []

    async def handle(stream: trio.SocketStream) -> None:
        await stream.send_all(b"desk\r\nsim:desk> ")
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = await stream.receive_some(1)
            if not chunk:
                return
            line += chunk
        assert line == b"!crypy 1\r\n"
        await serve_attach(stream, server)

    async def main() -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            stop.append(lambda: token.run_sync_soon(nursery.cancel_scope.cancel))
            ports.put(listeners[0].socket.getsockname()[1])
            await trio.serve_listeners(handle, listeners)

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    yield ports.get(timeout=5)
    stop[0]()
    thread.join(timeout=5)


async def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def keys(pipe: Any, *chunks: str) -> None:
    """Type in chunks, letting completion (which runs asynchronously) settle in between, as a human would."""
    for chunk in chunks:
        pipe.send_text(chunk)
        await asyncio.sleep(0.15)


def test_typing_with_tab_completion_runs_the_command(server_port: int, tmp_path: Any) -> None:
    lines: list[str] = []

    async def session() -> int:
        client = await AttachClient.connect("127.0.0.1", server_port)
        assert client.name == "desk" and client.prompt == "sim:desk> "
        with create_pipe_input() as pipe:
            history = FileHistory(str(tmp_path / "history"))
            task = asyncio.create_task(
                run_attached(client, input=pipe, output=DummyOutput(), echo=lines.append, history=history)
            )
            await keys(pipe, "sta", "\t", "\r")
            await wait_for(lambda: "running desk" in lines)
            await keys(pipe, "set li", "\t", " E", "\t", " 2.5", "\r")
            await wait_for(lambda: "limit ETH/USD 2.5" in lines)
            pipe.send_text("bogus\r")
            await wait_for(lambda: any(line.startswith("error: unknown command 'bogus'") for line in lines))
            pipe.send_text("\x04")  # Ctrl-D on an empty line
            return await asyncio.wait_for(task, 20)

    assert asyncio.run(session()) == 0
    assert (tmp_path / "history").read_text().count("\n+") == 3  # three entries, kept for the next session
    assert "+set limit ETH/USD 2.5" in (tmp_path / "history").read_text()


def test_ctrl_c_clears_the_line_then_cancels_the_running_command(server_port: int) -> None:
    lines: list[str] = []

    async def session() -> int:
        client = await AttachClient.connect("127.0.0.1", server_port)
        with create_pipe_input() as pipe:
            task = asyncio.create_task(run_attached(client, input=pipe, output=DummyOutput(), echo=lines.append))
            pipe.send_text("slow\r")
            await wait_for(lambda: "starting" in lines)
            pipe.send_text("status")
            await asyncio.sleep(0.1)
            pipe.send_text("\x03")  # clears the half-typed line, cancels nothing
            await asyncio.sleep(0.2)
            assert client.running and "error: cancelled" not in lines
            pipe.send_text("\x03")  # empty line: cancel
            await wait_for(lambda: "error: cancelled" in lines)
            assert not client.running
            pipe.send_text("quit\r")  # the server says bye and closes: a normal end
            return await asyncio.wait_for(task, 20)

    assert asyncio.run(session()) == 0
    assert "running desk" not in lines
    assert lines[-1] == "bye"


def test_server_going_away_ends_the_session(server_port: int) -> None:
    lines: list[str] = []

    async def session() -> int:
        client = await AttachClient.connect("127.0.0.1", server_port)
        with create_pipe_input() as pipe:
            task = asyncio.create_task(run_attached(client, input=pipe, output=DummyOutput(), echo=lines.append))
            await asyncio.sleep(0.1)
            client._writer.transport.abort()  # as if the actor died
            return await asyncio.wait_for(task, 20)

    assert asyncio.run(session()) == 1
    assert lines[-1] == "connection to desk closed" and "live fills: T1 buy 0.01 XBT/USD @ 16514.9" in lines


def test_connecting_to_something_else_fails_clearly() -> None:
    async def session() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"password: ")
            await writer.drain()
            await reader.read()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(AttachError, match="password"):
                await AttachClient.connect("127.0.0.1", port, timeout=2)
        with pytest.raises(AttachError, match="cannot connect"):
            await AttachClient.connect("127.0.0.1", port, timeout=2)

    asyncio.run(session())


def test_live_events_print_above_the_prompt_without_being_asked(server_port: int) -> None:
    lines: list[str] = []

    async def session() -> int:
        client = await AttachClient.connect("127.0.0.1", server_port)
        with create_pipe_input() as pipe:
            task = asyncio.create_task(run_attached(client, input=pipe, output=DummyOutput(), echo=lines.append))
            await wait_for(lambda: "live fills: T1 buy 0.01 XBT/USD @ 16514.9" in lines)
            assert not client.running, "a live watch is not a running command: Ctrl-C must not cancel it"
            assert len(client.background) == 1, "only the topics the actor offers and crypy shows live are watched"
            pipe.send_text("\x04")
            return await asyncio.wait_for(task, 20)

    assert asyncio.run(session()) == 0
    assert not any("live candles" in line for line in lines)
