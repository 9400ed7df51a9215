"""serve_attach over an in-memory stream pair: hello, results, errors, output, events, cancel, hostile frames."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from crypy.repl import BUILTINS, Arg, CommandRegistry, ReplServer
from crypy.repl.attach_session import MAX_FRAME, FrameReader, encode_frame, serve_attach

registry = CommandRegistry(parents=[BUILTINS])


@registry.command("status", help="Report that the desk runs\nMore detail.")
async def status(session: Any) -> str:
    return f"running {session.context['name']}"


@registry.command(
    "buy",
    help="Buy an amount",
    args=[Arg("symbol", choices=["XBT/USD", "ETH/USD"]), Arg("amount", Decimal), Arg("dry_run", bool)],
)
async def buy(session: Any, symbol: str, amount: Decimal, dry_run: bool) -> str:
    return f"{'would buy' if dry_run else 'bought'} {amount} {symbol}"


@registry.command("chatty", help="Write lines before answering")
async def chatty(session: Any) -> str:
    await session.write_line("one")
    await session.write("two\n")
    await session.write_event("something happened")
    return "done"


@registry.command("slow", help="Wait forever")
async def slow(session: Any) -> str:
    session.context["slow_started"].set()
    await trio.sleep_forever()
    return "never"


@registry.command("watch", help="Push events in the background")
async def watch(session: Any) -> str:
    async def pump() -> None:
        for n in range(3):
            await session.write_event(f"tick {n}")
        await trio.sleep_forever()

    session.start_background(pump)
    return "watching"


@registry.command("boom", help="Fail on purpose")
async def boom(session: Any) -> str:
    raise RuntimeError("kaput")


class Client:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.reader = FrameReader()

    async def send(self, message: dict[str, Any]) -> None:
        await self.stream.send_all(encode_frame(message))

    async def receive(self) -> dict[str, Any]:
        with trio.fail_after(5):
            while True:
                frame = self.reader.next_frame()
                if frame is not None:
                    return frame
                data = await self.stream.receive_some(65536)
                assert data, "server closed the stream"
                self.reader.feed(data)

    async def until(self, kind: str, ident: int | None = None) -> list[dict[str, Any]]:
        """Frames up to and including the first of `kind` (for `ident`)."""
        frames = []
        while True:
            frame = await self.receive()
            frames.append(frame)
            if frame["type"] == kind and (ident is None or frame.get("id") == ident):
                return frames


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    server = ReplServer("desk", "sim:desk> ", registry, context={"name": "desk", "slow_started": trio.Event()})
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def serve() -> None:
        async with server_stream:  # closed on return, as trio.serve_listeners does
            await serve_attach(server_stream, server)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        client = Client(client_stream)
        magic = b""
        with trio.fail_after(5):
            while not magic.endswith(b"\r\n"):
                magic += await client_stream.receive_some(1)
        assert magic == b"!crypy 1\r\n"
        client.server = server  # type: ignore[attr-defined]
        yield client
        nursery.cancel_scope.cancel()


async def test_hello_describes_the_command_tree(client: Client) -> None:
    hello = await client.receive()
    assert hello["type"] == "hello"
    assert hello["name"] == "desk"
    assert hello["prompt"] == "sim:desk> "
    commands = {command["name"]: command for command in hello["commands"]}
    assert {"help", "quit", "exit", "status", "buy", "slow"} <= set(commands)
    assert commands["status"]["help"].startswith("Report that the desk runs")
    symbol, amount, dry_run = commands["buy"]["args"]
    assert symbol == {
        "name": "symbol",
        "type": "str",
        "choices": ["XBT/USD", "ETH/USD"],
        "required": True,
        "flag": None,
        "rest": False,
        "help": "",
    }
    assert amount["type"] == "Decimal" and amount["choices"] is None
    assert dry_run["flag"] == "--dry-run" and dry_run["required"] is False


async def test_command_result_and_errors(client: Client) -> None:
    await client.receive()
    await client.send({"type": "command", "id": 1, "line": "status"})
    assert await client.receive() == {"type": "result", "id": 1, "text": "running desk"}
    await client.send({"type": "command", "id": 2, "line": "buy ETH/USD 0.5 --dry-run"})
    assert await client.receive() == {"type": "result", "id": 2, "text": "would buy 0.5 ETH/USD"}
    await client.send({"type": "command", "id": 3, "line": "bye now"})
    error = await client.receive()
    assert error["type"] == "error" and error["id"] == 3 and error["text"].startswith("error: unknown command 'bye'")
    await client.send({"type": "command", "id": 4, "line": "buy DOGE/USD 1"})
    assert (await client.receive())["text"] == "error: symbol: expected one of XBT/USD, ETH/USD, got 'DOGE/USD'"
    await client.send({"type": "command", "id": 5, "line": "boom"})
    assert await client.receive() == {"type": "error", "id": 5, "text": "error: internal: RuntimeError: kaput"}
    await client.send({"type": "command", "id": 6, "line": "   "})
    assert await client.receive() == {"type": "result", "id": 6, "text": None}


async def test_output_and_event_frames_precede_the_result(client: Client) -> None:
    await client.receive()
    await client.send({"type": "command", "id": 7, "line": "chatty"})
    assert await client.until("result", 7) == [
        {"type": "output", "id": 7, "text": "one"},
        {"type": "output", "id": 7, "text": "two"},
        {"type": "event", "text": "something happened"},
        {"type": "result", "id": 7, "text": "done"},
    ]


async def test_background_events_keep_flowing_after_the_answer(client: Client) -> None:
    await client.receive()
    await client.send({"type": "command", "id": 1, "line": "watch"})
    frames = [await client.receive() for _ in range(4)]
    assert {"type": "result", "id": 1, "text": "watching"} in frames
    assert [f["text"] for f in frames if f["type"] == "event"] == ["tick 0", "tick 1", "tick 2"]
    await client.send({"type": "command", "id": 2, "line": "status"})
    assert await client.receive() == {"type": "result", "id": 2, "text": "running desk"}


@pytest.mark.parametrize(
    "raw",
    [
        b"\xc1",  # never valid msgpack
        msgspec.msgpack.encode([1, 2, 3]),
        msgspec.msgpack.encode({"id": 1}),
        msgspec.msgpack.encode({"type": "launch", "id": 1}),
        msgspec.msgpack.encode({"type": "command", "id": "one", "line": "status"}),
        msgspec.msgpack.encode({"type": "command", "id": 1}),
        msgspec.msgpack.encode({"type": "cancel"}),
    ],
)
async def test_malformed_frames_get_an_error_and_the_connection_survives(client: Client, raw: bytes) -> None:
    await client.receive()
    await client.stream.send_all(struct.pack(">I", len(raw)) + raw)
    if b"cancel" not in raw:
        error = await client.receive()
        assert error["type"] == "error" and error["text"].startswith("error: ")
    else:
        error = await client.receive()
        assert error == {"type": "error", "id": None, "text": "error: cancel frame needs an integer 'id'"}
    await client.send({"type": "command", "id": 9, "line": "status"})
    assert await client.receive() == {"type": "result", "id": 9, "text": "running desk"}


async def test_a_huge_length_closes_the_connection(client: Client) -> None:
    await client.receive()
    await client.stream.send_all(struct.pack(">I", MAX_FRAME + 1))
    error = await client.receive()
    assert error["type"] == "error" and "exceeds" in error["text"]
    with trio.fail_after(5):
        assert await client.stream.receive_some(100) == b""


async def test_cancel_stops_a_slow_command_only(client: Client) -> None:
    await client.receive()
    await client.send({"type": "command", "id": 1, "line": "slow"})
    await client.server.context["slow_started"].wait()  # type: ignore[attr-defined]
    await client.send({"type": "command", "id": 1, "line": "status"})
    assert await client.receive() == {"type": "error", "id": 1, "text": "error: command 1 is already running"}
    await client.send({"type": "command", "id": 2, "line": "status"})  # runs while 1 is still busy
    assert await client.receive() == {"type": "result", "id": 2, "text": "running desk"}
    await client.send({"type": "cancel", "id": 1})
    assert await client.receive() == {"type": "error", "id": 1, "text": "error: cancelled"}
    await client.send({"type": "cancel", "id": 1})  # already finished: ignored
    await client.send({"type": "command", "id": 1, "line": "status"})  # the id is free again
    assert await client.receive() == {"type": "result", "id": 1, "text": "running desk"}


async def test_quit_answers_then_closes(client: Client) -> None:
    await client.receive()
    await client.send({"type": "command", "id": 1, "line": "quit"})
    assert await client.until("bye") == [{"type": "result", "id": 1, "text": "bye"}, {"type": "bye"}]
    with trio.fail_after(5):
        assert await client.stream.receive_some(100) == b""


async def test_client_vanishing_mid_command_ends_quietly() -> None:
    server = ReplServer("desk", "> ", registry, context={"name": "desk", "slow_started": trio.Event()})
    client_stream, server_stream = trio.testing.memory_stream_pair()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_attach, server_stream, server)
            await client_stream.send_all(encode_frame({"type": "command", "id": 1, "line": "slow"}))
            await server.context["slow_started"].wait()
            await client_stream.aclose()
    # serve_attach returned by itself, without raising


async def test_frames_read_past_the_magic_line_are_used() -> None:
    server = ReplServer("desk", "> ", registry, context={"name": "desk"})
    client_stream, server_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        initial = encode_frame({"type": "command", "id": 1, "line": "status"})
        nursery.start_soon(lambda: serve_attach(server_stream, server, initial=initial))
        client = Client(client_stream)
        await client_stream.receive_some(len(b"!crypy 1\r\n"))
        assert (await client.receive())["type"] == "hello"
        assert await client.receive() == {"type": "result", "id": 1, "text": "running desk"}
        nursery.cancel_scope.cancel()
