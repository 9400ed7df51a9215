"""The framed side of a REPL connection, for `crypy attach` and other programs.

A client whose first line is `!crypy 1` leaves telnet: the server answers the
line `!crypy 1` (so the client can skip whatever the telnet session printed
before, e.g. the banner and prompt) and from then on both sides exchange
frames: a 4-byte big-endian length, then a msgpack map with a `type`.

Client to server:
    {"type": "command", "id": N, "line": "..."}   run a command line
    {"type": "cancel", "id": N}                    cancel command N if still running

Server to client:
    {"type": "hello", "name", "prompt", "commands": [{"name", "help", "args": [...]}]}
    {"type": "output", "id": N, "text"}            extra lines written by command N
    {"type": "result", "id": N, "text"}            command N's answer (text may be null)
    {"type": "error", "id": N | null, "text"}      command N failed, or a frame was malformed
    {"type": "event", "text"}                      pushed by a running command (e.g. `watch`)
    {"type": "bye"}                                the session ended (`quit`)

Commands run concurrently, each in its own task, so a long `watch` does not
block the next command; closing the connection cancels them all.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
import trio

from crypy.repl.commands import Arg, Command, CommandError, CommandRegistry

if TYPE_CHECKING:
    from crypy.repl.server import ReplServer

logger = structlog.get_logger(__name__)

MAGIC_LINE = "!crypy 1"
"""The first line a client sends to switch to frames, and the line the server answers with."""

MAX_FRAME = 1 << 20
"""Largest frame either side accepts; a larger length means the stream cannot be trusted."""

RECEIVE_BYTES = 65536
_LENGTH = struct.Struct(">I")

_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


class FrameError(Exception):
    """The peer sent bytes that are not a frame; the message says why."""


class FrameTooLarge(FrameError):
    """A length prefix beyond MAX_FRAME: the stream is out of step and must be closed."""


def encode_frame(message: dict[str, Any]) -> bytes:
    payload = _encoder.encode(message)
    if len(payload) > MAX_FRAME:
        raise FrameTooLarge(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frames; `next_frame` raises FrameError for a bad payload.

    A bad payload is consumed, so the next frame can still be read; only a
    too-large length (FrameTooLarge) leaves the reader unusable.
    """

    def __init__(self, initial: bytes = b"") -> None:
        self._buffer = bytearray(initial)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_frame(self) -> dict[str, Any] | None:
        """The next complete frame, or None until more bytes arrive."""
        if len(self._buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer)
        if length > MAX_FRAME:
            raise FrameTooLarge(f"frame length {length} exceeds {MAX_FRAME}")
        end = _LENGTH.size + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[_LENGTH.size : end])
        del self._buffer[:end]
        try:
            message = _decoder.decode(payload)
        except msgspec.DecodeError as error:
            raise FrameError(f"malformed frame: {error}") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise FrameError("malformed frame: expected a map with a string 'type'")
        return message


def describe_arg(arg: Arg) -> dict[str, Any]:
    choices = None if arg.choices is None else [str(choice) for choice in arg.choices]
    return {
        "name": arg.name,
        "type": arg.type.__name__,
        "choices": choices,
        "required": arg.required,
        "flag": arg.flag if arg.is_flag else None,
        "rest": arg.rest,
        "help": arg.help,
    }


def describe_command(command: Command) -> dict[str, Any]:
    return {"name": command.name, "help": command.help, "args": [describe_arg(arg) for arg in command.args]}


def hello_message(server: ReplServer) -> dict[str, Any]:
    return {
        "type": "hello",
        "name": server.name,
        "prompt": server.prompt,
        "commands": [describe_command(command) for command in server.registry.commands()],
    }


class AttachConnection:
    """One framed client: a writer lock, the running commands, and a nursery they live in."""

    def __init__(self, stream: trio.abc.Stream, server: ReplServer, peer: str) -> None:
        self.stream = stream
        self.server = server
        self.peer = peer
        self.ended = False
        self._write_lock = trio.Lock()
        self._running: dict[int, trio.CancelScope] = {}
        self._nursery: trio.Nursery | None = None

    async def send(self, message: dict[str, Any]) -> None:
        frame = encode_frame(message)
        async with self._write_lock:
            await self.stream.send_all(frame)

    def start_background(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run `fn(*args)` until the client goes away (for commands that keep pushing events)."""
        assert self._nursery is not None
        self._nursery.start_soon(self._background, fn, args)

    async def _background(self, fn: Callable[..., Awaitable[object]], args: tuple[object, ...]) -> None:
        """A background task's failure is logged and ends that task only; a gone client ends the connection."""
        try:
            await fn(*args)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()
        except Exception:
            logger.exception("repl background task failed", repl=self.server.name, peer=self.peer)

    async def run(self, initial: bytes) -> None:
        """Converse until the client leaves or ends the session; a vanished client is not an error."""
        reader = FrameReader(initial)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                await self.send(hello_message(self.server))
                await self._receive_loop(reader)
            except _GONE as error:
                logger.debug("attached client went away", repl=self.server.name, peer=self.peer, error=repr(error))
            finally:
                nursery.cancel_scope.cancel()

    async def _receive_loop(self, reader: FrameReader) -> None:
        while not self.ended:
            try:
                message = reader.next_frame()
            except FrameTooLarge as error:
                await self.send({"type": "error", "id": None, "text": f"error: {error}"})
                return
            except FrameError as error:
                await self.send({"type": "error", "id": None, "text": f"error: {error}"})
                continue
            if message is None:
                data = await self.stream.receive_some(RECEIVE_BYTES)
                if not data:
                    return
                reader.feed(data)
                continue
            await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind, ident = message["type"], message.get("id")
        if kind not in ("command", "cancel"):
            await self.send({"type": "error", "id": _plain_id(ident), "text": f"error: unknown frame type {kind!r}"})
            return
        if not isinstance(ident, int) or isinstance(ident, bool):
            await self.send({"type": "error", "id": None, "text": f"error: {kind} frame needs an integer 'id'"})
            return
        if kind == "cancel":
            scope = self._running.get(ident)
            if scope is not None:
                scope.cancel()
            return
        line = message.get("line")
        if not isinstance(line, str):
            await self.send({"type": "error", "id": ident, "text": "error: command frame needs a string 'line'"})
            return
        if ident in self._running:
            await self.send({"type": "error", "id": ident, "text": f"error: command {ident} is already running"})
            return
        scope = trio.CancelScope()
        self._running[ident] = scope
        assert self._nursery is not None
        self._nursery.start_soon(self._run_command, ident, line, scope)

    async def _run_command(self, ident: int, line: str, scope: trio.CancelScope) -> None:
        answer: dict[str, Any] = {"type": "error", "id": ident, "text": "error: cancelled"}
        try:
            with scope:
                answer = await self._execute(ident, line)
        finally:
            del self._running[ident]
        try:
            await self.send(answer)
            if self.ended:
                await self.send({"type": "bye"})
        except _GONE:
            self.ended = True
        if self.ended and self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _execute(self, ident: int, line: str) -> dict[str, Any]:
        """Like a telnet session's: any failure becomes an answer, never a crash of the actor."""
        if not line.strip():
            return {"type": "result", "id": ident, "text": None}
        try:
            text = await self.server.registry.parse(line).run(CommandSession(self, ident))  # type: ignore[arg-type]
        except CommandError as error:
            return {"type": "error", "id": ident, "text": f"error: {error}"}
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.ended = True  # the client went away while the command wrote
            return {"type": "error", "id": ident, "text": "error: client went away"}
        except Exception as error:
            logger.exception("repl command failed", repl=self.server.name, line=line, peer=self.peer)
            return {"type": "error", "id": ident, "text": f"error: internal: {type(error).__name__}: {error}"}
        return {"type": "result", "id": ident, "text": text}


def _plain_id(ident: object) -> int | None:
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


class CommandSession:
    """What a handler sees as `session` while it runs for an attached client.

    It offers what the telnet Session offers (`context`, `registry`, `server`,
    `peer`, `write`, `write_line`, `end`, `ended`), plus `attached = True`,
    `write_event` for pushed events and `start_background` for tasks that keep
    running after the command answered, until the client goes away.
    """

    attached = True

    def __init__(self, connection: AttachConnection, ident: int) -> None:
        self.connection = connection
        self.id = ident
        self.server = connection.server
        self.context: Any = connection.server.context
        self.peer = connection.peer

    @property
    def registry(self) -> CommandRegistry:
        return self.server.registry

    @property
    def ended(self) -> bool:
        return self.connection.ended

    def end(self) -> None:
        """Close the connection once the current command has answered."""
        self.connection.ended = True

    async def write(self, text: str) -> None:
        """Output of this command; one trailing newline is dropped because each frame is shown as a line."""
        await self.connection.send({"type": "output", "id": self.id, "text": text.removesuffix("\n")})

    async def write_line(self, text: str) -> None:
        await self.connection.send({"type": "output", "id": self.id, "text": text})

    async def write_event(self, text: str) -> None:
        await self.connection.send({"type": "event", "text": text})

    def start_background(self, fn: Callable[..., Awaitable[object]], *args: object) -> None:
        self.connection.start_background(fn, *args)


async def serve_attach(stream: trio.abc.Stream, server: ReplServer, *, initial: bytes = b"", peer: str = "") -> None:
    """Serve one framed client on `stream`, whose `!crypy 1` line has been read already.

    `initial` holds any bytes the caller read past that line. Transport errors
    propagate like a telnet session's; everything the client sends is answered.
    """
    peer = peer or _peer_of(stream)
    await stream.send_all(f"{MAGIC_LINE}\r\n".encode())
    await AttachConnection(stream, server, peer).run(initial)


def _peer_of(stream: trio.abc.Stream) -> str:
    socket = getattr(stream, "socket", None)
    if socket is None:
        return "unknown peer"
    try:
        host, port = socket.getpeername()[:2]
    except OSError:
        return "unknown peer"
    return f"{host}:{port}"
