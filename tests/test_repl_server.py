"""ReplServer over real loopback TCP: prompts, errors, hostile clients, concurrency."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import pytest
import trio
from structlog.testing import capture_logs

from crypy.repl import BUILTINS, Arg, CommandRegistry, ReplServer, Session
from crypy.repl.telnet import OFFER_CHARACTER_MODE

PROMPT = b"sim:default> "
SESSIONS = 20


@dataclass
class Desk:
    """Stand-in for the actor state a REPL exposes through `session.context`."""

    bought: list[Decimal] = field(default_factory=list)
    arrived: int = 0
    all_arrived: trio.Event = field(default_factory=trio.Event)


registry = CommandRegistry(parents=[BUILTINS])


@registry.command("status", help="Report that the desk runs")
async def status(session: Session) -> str:
    return "running"


@registry.command("buy", help="Buy an amount", args=[Arg("symbol"), Arg("amount", Decimal), Arg("json", bool)])
async def buy(session: Session, symbol: str, amount: Decimal, json: bool) -> str:
    session.context.bought.append(amount)
    return f'{{"bought": "{amount}"}}' if json else f"bought {amount} {symbol}"


@registry.command("boom", help="Fail on purpose")
async def boom(session: Session) -> str:
    raise RuntimeError("kaput")


@registry.command("gather", help="Wait until all concurrent sessions arrived")
async def gather(session: Session) -> str:
    desk = session.context
    desk.arrived += 1
    if desk.arrived == SESSIONS:
        desk.all_arrived.set()
    await desk.all_arrived.wait()
    await session.write_line("extra line")
    return "all here"


class Reader:
    """Reads a byte stream up to markers such as the prompt, failing fast on silence."""

    def __init__(self, source: trio.abc.ReceiveStream) -> None:
        self.source = source
        self.buffer = b""

    async def read_until(self, marker: bytes) -> bytes:
        with trio.fail_after(3):
            while marker not in self.buffer:
                data = await self.source.receive_some(65536)
                if not data:
                    raise EOFError(f"closed before {marker!r}; got {self.buffer!r}")
                self.buffer += data
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    async def read_to_end(self) -> bytes:
        with trio.fail_after(3):
            while data := await self.source.receive_some(65536):
                self.buffer += data
        rest, self.buffer = self.buffer, b""
        return rest


class Client(Reader):
    """A raw TCP client of the REPL."""

    def __init__(self, stream: trio.SocketStream) -> None:
        super().__init__(stream)
        self.stream = stream

    async def ask(self, line: bytes | str) -> str:
        raw = line.encode() if isinstance(line, str) else line
        await self.stream.send_all(raw + b"\r\n")
        return (await self.read_until(PROMPT)).decode()


@pytest.fixture
async def server(nursery: trio.Nursery) -> ReplServer:
    repl = ReplServer("sim:default", PROMPT.decode(), registry, context=Desk())
    await nursery.start(repl.serve)
    return repl


async def connect(repl: ReplServer) -> Client:
    host, port = repl.address.rsplit(":", 1)
    client = Client(await trio.open_tcp_stream(host, int(port)))
    assert await client.read_until(PROMPT) == OFFER_CHARACTER_MODE + b"sim:default\r\n"
    return client


@pytest.fixture
async def client(server: ReplServer) -> AsyncIterator[Client]:
    connected = await connect(server)
    async with connected.stream:
        yield connected


async def test_address_is_the_real_port(nursery: trio.Nursery) -> None:
    repl = ReplServer("x", "> ", registry)
    address = await nursery.start(repl.serve)
    assert address == repl.address
    assert address.startswith("127.0.0.1:") and not address.endswith(":0")


async def test_help_and_typed_command(client: Client, server: ReplServer) -> None:
    assert "  status  Report that the desk runs\r\n" in await client.ask("help")
    assert (await client.ask("help buy")).startswith("usage: buy <symbol> <amount> [--json]\r\n")
    assert await client.ask("buy BTC/EUR 0.25") == "bought 0.25 BTC/EUR\r\n"
    assert await client.ask("buy BTC/EUR 1 --json") == '{"bought": "1"}\r\n'
    assert server.context.bought == [Decimal("0.25"), Decimal(1)]
    assert await client.ask("") == ""


async def test_errors_leave_the_session_usable(client: Client) -> None:
    assert await client.ask("stauts") == "error: unknown command 'stauts'; did you mean: status?\r\n"
    assert await client.ask("buy BTC abc") == "error: amount: expected a decimal number, got 'abc'\r\n"
    assert await client.ask("buy 'BTC") == "error: unbalanced quotes\r\n"
    assert await client.ask("status") == "running\r\n"


async def test_handler_exception_is_reported_and_server_keeps_serving(client: Client, server: ReplServer) -> None:
    with capture_logs() as logs:
        assert await client.ask("boom") == "error: internal: RuntimeError: kaput\r\n"
    assert [(log["event"], log["line"]) for log in logs] == [("repl command failed", "boom")]
    assert await client.ask("status") == "running\r\n"
    other = await connect(server)
    async with other.stream:
        assert await other.ask("status") == "running\r\n"


async def test_telnet_negotiation_and_garbage(client: Client, server: ReplServer) -> None:
    assert await client.ask(b"\xff\xfb\x18\xff\xfd\x03sta\xff\xfa\x18\x00xterm\xff\xf0tus") == "running\r\n"
    garbage = bytes(byte for byte in range(256) if byte not in b"\x03\x04\n\r\xff") * 3
    assert (await client.ask(garbage)).startswith("error: unknown command")
    assert await client.ask("status") == "running\r\n"
    hostile = await connect(server)
    async with hostile.stream:
        await hostile.stream.send_all(bytes(range(256)) * 40)
    assert await client.ask("status") == "running\r\n"


async def test_ctrl_c_cancels_and_ctrl_d_ends(client: Client) -> None:
    await client.stream.send_all(b"boo\x03sta\xff\xf4status\r\n")
    assert [await client.read_until(PROMPT) for _ in range(3)] == [b"\r\n", b"\r\n", b"running\r\n"]
    await client.stream.send_all(b"\x04")
    assert await client.read_to_end() == b"bye\r\n"


async def test_long_line_is_refused_then_session_continues(client: Client) -> None:
    assert await client.ask("status " + "x" * 10_000) == "error: line too long\r\n"
    assert await client.ask("status") == "running\r\n"


async def test_quit_and_half_close(client: Client, server: ReplServer) -> None:
    await client.stream.send_all(b"status\r\n")
    await client.stream.send_eof()
    assert await client.read_to_end() == b"running\r\n" + PROMPT
    other = await connect(server)
    await other.stream.send_all(b"exit\r\nstatus\r\n")
    assert await other.read_to_end() == b"bye\r\n"


async def test_abrupt_disconnects_do_not_hurt_the_server(server: ReplServer) -> None:
    with capture_logs() as logs:
        for payload in (b"sta", b"help\r\n" * 500):
            victim = await connect(server)
            victim.stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await victim.stream.send_all(payload)
            await victim.stream.aclose()
        survivor = await connect(server)
        async with survivor.stream:
            assert await survivor.ask("status") == "running\r\n"
    assert {(log["event"], log["log_level"]) for log in logs} == {("repl client went away", "debug")}


async def test_concurrent_sessions(server: ReplServer) -> None:
    answers: list[str] = []

    async def converse(index: int) -> None:
        client = await connect(server)
        async with client.stream:
            answers.append(await client.ask("gather"))
            assert await client.ask(f"buy S{index} {index}") == f"bought {index} S{index}\r\n"

    async with trio.open_nursery() as sessions:
        for index in range(SESSIONS):
            sessions.start_soon(converse, index)
    assert answers == ["extra line\r\nall here\r\n"] * SESSIONS
    assert sorted(server.context.bought) == [Decimal(index) for index in range(SESSIONS)]


async def test_cancelling_serve_closes_listener_and_sessions() -> None:
    async with trio.open_nursery() as nursery:
        repl = ReplServer("x", "> ", registry)
        address = await nursery.start(repl.serve)
        host, port = address.rsplit(":", 1)
        client = Client(await trio.open_tcp_stream(host, int(port)))
        await client.read_until(b"> ")
        nursery.cancel_scope.cancel()
    assert await client.read_to_end() == b""
    with pytest.raises(OSError):
        await trio.open_tcp_stream(host, int(port))
    with pytest.raises(RuntimeError, match="not serving"):
        _ = repl.address


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_non_loopback_without_password_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        ReplServer("x", "> ", registry, host=host)
    ReplServer("x", "> ", registry, host=host, password="secret")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_password(host: str) -> None:
    ReplServer("x", "> ", registry, host=host)


async def test_password_is_checked(nursery: trio.Nursery) -> None:
    repl = ReplServer("locked", "> ", registry, password="s3cret")
    host, port = (await nursery.start(repl.serve)).rsplit(":", 1)
    wrong = Client(await trio.open_tcp_stream(host, int(port)))
    await wrong.stream.send_all(b"guess\r\nstatus\r\n")
    assert await wrong.read_to_end() == OFFER_CHARACTER_MODE + b"password: error: wrong password\r\n"
    right = Client(await trio.open_tcp_stream(host, int(port)))
    await right.stream.send_all(b"s3cret\r\nstatus\r\n")
    assert await right.read_until(b"running\r\n") == OFFER_CHARACTER_MODE + b"password: locked\r\n> "


@pytest.mark.skipif(shutil.which("telnet") is None, reason="no telnet client binary installed (apt-get install telnet)")
async def test_real_telnet_client(server: ReplServer) -> None:
    host, port = server.address.rsplit(":", 1)
    command = [shutil.which("telnet") or "telnet", host, port]
    run_telnet = partial(trio.run_process, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, check=False)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            process = await nursery.start(run_telnet)
            output = Reader(process.stdout)
            await output.read_until(PROMPT)
            await process.stdin.send_all(b"status\n")
            assert (await output.read_until(PROMPT)).strip() == b"status\r\nrunning", "echoed by the server"
            await process.stdin.send_all(b"quit\n")
            assert (await output.read_to_end()).strip().startswith(b"quit\r\nbye")
    assert process.returncode == 0
