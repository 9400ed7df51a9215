"""One client connection of a ReplServer: read input, run commands, answer.

At connect the server offers character mode (WILL ECHO, WILL SGA). A telnet
client that answers DO ECHO gets server-side line editing (`LineEditor`);
clients that never answer (nc, scripts) stay in line mode. A reader task runs
beside the conversation so ^C can cancel a running command such as `watch`.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import structlog
import trio

from crypy.repl.commands import CommandError, CommandRegistry
from crypy.repl.completion import describe
from crypy.repl.line_editor import LineEditor, Output
from crypy.repl.telnet import (
    CTRL_C,
    DO,
    DONT,
    ECHO,
    OFFER_CHARACTER_MODE,
    CancelLine,
    EndSession,
    Interrupt,
    Line,
    LineAssembler,
    LineTooLong,
    Negotiation,
    TelnetEvent,
    TelnetParser,
    Token,
)

if TYPE_CHECKING:
    from crypy.repl.server import ReplServer

logger = structlog.get_logger(__name__)

RECEIVE_BYTES = 4096
TOKEN_BUFFER = 64
"""Parsed input chunks queued while a command runs; a full queue stops reading (backpressure)."""
ATTACH_LINE = b"!crypy 1"


class Session:
    """A client's conversation with an actor.

    Handlers get the session to reach the actor (`context`) and to write extra
    output; writes are serialised by a lock because background tasks a handler
    starts may write concurrently, which a trio stream refuses.
    """

    def __init__(self, stream: trio.abc.Stream, server: ReplServer, peer: str, *, address: str = "") -> None:
        self.server = server
        self.context: Any = server.context
        self._entered: list[ReplServer] = []
        self.peer = peer
        self._address = address or peer
        self._stream = stream
        self._write_lock = trio.Lock()
        self._parser = TelnetParser()
        self._assembler = LineAssembler()
        self._editor: LineEditor | None = None
        self._pending: deque[Output] = deque()
        self._running: trio.CancelScope | None = None
        self._authenticated = not server.requires_password
        self._ended = False

    @property
    def registry(self) -> CommandRegistry:
        return self.server.registry

    def enter(self, server: ReplServer) -> None:
        """Continue this session in another actor's REPL (``back`` returns): one connection, many actors."""
        self._entered.append(self.server)
        self._switch(server)

    def leave(self) -> bool:
        """Return to the REPL this session came from; False when it is already where it started."""
        if not self._entered:
            return False
        self._switch(self._entered.pop())
        return True

    def _switch(self, server: ReplServer) -> None:
        self.server = server
        self.context = server.context
        if self._editor is not None:
            self._editor.prompt = server.prompt

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self) -> None:
        """Close the session once the current command has answered."""
        self._ended = True

    async def write(self, text: str) -> None:
        """Send text as is, with line ends turned into telnet's CRLF."""
        await self._send(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))

    async def write_line(self, text: str) -> None:
        await self.write(text + "\n")

    async def _send(self, data: bytes) -> None:
        async with self._write_lock:
            await self._stream.send_all(data)

    async def run(self) -> None:
        """Converse until the client quits or goes away; transport errors propagate."""
        guard = self.server.guard
        if guard is not None and guard.is_locked(self._address, trio.current_time()):
            await self.write_line("error: locked out, try later")
            return
        await self._send(OFFER_CHARACTER_MODE)
        await self.write("password: " if guard is not None else f"{self.server.name}\n{self.server.prompt}")
        initial = await self._take_attach_line()
        if initial is None:
            return
        send, receive = trio.open_memory_channel[Token](TOKEN_BUFFER)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read, initial, send)
            async with receive:
                await self._converse(receive)
            nursery.cancel_scope.cancel()

    async def _take_attach_line(self) -> bytes | None:
        """Hand the connection to the framed protocol if it opens with `!crypy 1`.

        Returns the bytes read for the telnet session, or None once the framed
        session has run. Only bytes that can still become that line are waited
        for, so a telnet client is never delayed.
        """
        raw = b""
        while ATTACH_LINE.startswith(raw[: len(ATTACH_LINE)]):
            rest = raw[len(ATTACH_LINE) :]
            if rest[:1] not in (b"", b"\r", b"\n") or (rest[:1] == b"\r" and rest[1:2] not in (b"", b"\n")):
                break
            if rest.startswith((b"\n", b"\r\n")):
                return await self._attach(rest[rest.index(b"\n") + 1 :])
            data = await self._stream.receive_some(RECEIVE_BYTES)
            if not data:
                break
            raw += data
        return raw

    async def _attach(self, rest: bytes) -> bytes | None:
        if not self.server.requires_password:
            try:
                from crypy.repl.attach_session import serve_attach  # optional: the framed protocol may be absent
            except ImportError:
                pass
            else:
                await serve_attach(self._stream, self.server, initial=rest, peer=self.peer)
                return None
        await self.write_line("error: attach protocol not available")
        if self.server.requires_password:
            return None
        await self.write(self.server.prompt)
        return rest

    async def _read(self, initial: bytes, send: trio.MemorySendChannel[Token]) -> None:
        """Parse client bytes into tokens; ^C while a command runs cancels it instead of being queued."""
        async with send:
            data = initial
            while True:
                for token in self._parser.feed(data):
                    kept = self._intercept_interrupt(token)
                    if kept is not None:
                        await send.send(kept)
                try:
                    data = await self._stream.receive_some(RECEIVE_BYTES)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
                    logger.debug("repl client went away", repl=self.server.name, peer=self.peer, error=repr(error))
                    return
                if not data:
                    return

    def _intercept_interrupt(self, token: Token) -> Token | None:
        if self._running is None:
            return token
        if isinstance(token, Interrupt):
            self._running.cancel()
            return None
        if isinstance(token, bytes) and CTRL_C in token:
            self._running.cancel()
            return token[token.index(CTRL_C) + 1 :] or None
        return token

    async def _converse(self, tokens: trio.MemoryReceiveChannel[Token]) -> None:
        if not self._authenticated and not await self._authenticate(tokens):
            return
        while not self._ended:
            event = await self._next_event(tokens)
            if event is None:
                return
            await self._respond(event)

    async def _authenticate(self, tokens: trio.MemoryReceiveChannel[Token]) -> bool:
        """One attempt per connection; failures count towards the address's lockout."""
        guard = self.server.guard
        assert guard is not None
        event = await self._next_event(tokens)
        if event is None or isinstance(event, EndSession):
            return False
        if isinstance(event, Line) and guard.check(event.text):
            guard.record_success(self._address)
            self._authenticated = True
            if self._editor is not None:
                self._editor.secret = False
            await self.write(f"{self.server.name}\n{self.server.prompt}")
            return True
        guard.record_failure(self._address, trio.current_time())
        await self.write_line("error: wrong password")
        return False

    async def _next_event(self, tokens: trio.MemoryReceiveChannel[Token]) -> TelnetEvent | None:
        """The next input event, sending any echo on the way; None once the client has closed its side."""
        while True:
            while self._pending:
                item = self._pending.popleft()
                if not isinstance(item, bytes):
                    return item
                await self._send(item)
            try:
                token = await tokens.receive()
            except trio.EndOfChannel:
                return None
            self._pending.extend(self._decode(token))

    def _decode(self, token: Token) -> list[Output]:
        if isinstance(token, Negotiation):
            self._negotiate(token)
            return []
        if self._editor is not None:
            return self._editor.interrupt() if isinstance(token, Interrupt) else self._editor.feed(token)
        if isinstance(token, Interrupt):
            return [self._assembler.cancel()]
        return list(self._assembler.feed(token))

    def _negotiate(self, negotiation: Negotiation) -> None:
        """DO ECHO accepts our offer of character mode; DONT ECHO falls back to line mode."""
        if negotiation == Negotiation(DO, ECHO) and self._editor is None:
            self._editor = LineEditor(  # completion follows `enter`: the registry is looked up on each use
                self.server.prompt, lambda text: self.registry.complete(text),
                lambda text: describe(self.registry, text),
            )
            self._editor.secret = not self._authenticated
        elif negotiation == Negotiation(DONT, ECHO):
            self._editor = None

    async def _respond(self, event: TelnetEvent) -> None:
        if isinstance(event, EndSession):
            self.end()
            await self.write_line("bye")
        elif isinstance(event, CancelLine):
            await self._answer("")
        elif isinstance(event, LineTooLong):
            await self._answer("error: line too long")
        elif event.text.strip():
            await self._answer(await self._run_command(event.text))
        else:
            await self._answer(None)

    async def _answer(self, text: str | None) -> None:
        if text is not None:
            await self.write_line(text)
        if not self._ended:
            await self.write(self.server.prompt)

    async def _run_command(self, line: str) -> str | None:
        """Run in a cancel scope, so ^C from the reader task stops long commands like `watch`."""
        with trio.CancelScope() as scope:
            self._running = scope
            try:
                answer = await self._execute(line)
            finally:
                self._running = None
        return "^C" if scope.cancelled_caught else answer

    async def _execute(self, line: str) -> str | None:
        """Run one command line; any failure becomes an answer, never a crash of the actor."""
        try:
            return await self.registry.parse(line).run(self)
        except CommandError as error:
            return f"error: {error}"
        except Exception as error:
            logger.exception("repl command failed", repl=self.server.name, line=line, peer=self.peer)
            return f"error: internal: {type(error).__name__}: {error}"
