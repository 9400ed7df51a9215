"""One client connection of a ReplServer: read lines, run commands, answer."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import structlog
import trio

from crypy.repl.commands import CommandError, CommandRegistry
from crypy.repl.telnet import CancelLine, EndSession, Line, LineTooLong, TelnetEvent, TelnetLineDecoder

if TYPE_CHECKING:
    from crypy.repl.server import ReplServer

logger = structlog.get_logger(__name__)

RECEIVE_BYTES = 4096


class Session:
    """A client's conversation with an actor.

    Handlers get the session to reach the actor (`context`) and to write extra
    output; writes are serialised by a lock because background tasks a handler
    starts may write concurrently, which a trio stream refuses.
    """

    def __init__(self, stream: trio.abc.Stream, server: ReplServer, peer: str) -> None:
        self.server = server
        self.context: Any = server.context
        self.peer = peer
        self._stream = stream
        self._write_lock = trio.Lock()
        self._decoder = TelnetLineDecoder()
        self._pending: deque[TelnetEvent] = deque()
        self._ended = False

    @property
    def registry(self) -> CommandRegistry:
        return self.server.registry

    @property
    def ended(self) -> bool:
        return self._ended

    def end(self) -> None:
        """Close the session once the current command has answered."""
        self._ended = True

    async def write(self, text: str) -> None:
        """Send text as is, with line ends turned into telnet's CRLF."""
        data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
        async with self._write_lock:
            await self._stream.send_all(data)

    async def write_line(self, text: str) -> None:
        await self.write(text + "\n")

    async def run(self) -> None:
        """Converse until the client quits or goes away; transport errors propagate."""
        if self.server.requires_password and not await self._authenticate():
            return
        await self.write_line(self.server.name)
        await self.write(self.server.prompt)
        while not self._ended:
            event = await self._next_event()
            if event is None:
                return
            await self._respond(event)

    async def _authenticate(self) -> bool:
        await self.write("password: ")
        event = await self._next_event()
        if isinstance(event, Line) and self.server.check_password(event.text):
            return True
        if event is not None:
            await self.write_line("error: wrong password")
        return False

    async def _next_event(self) -> TelnetEvent | None:
        """The next input event, or None once the client has closed its side."""
        while not self._pending:
            data = await self._stream.receive_some(RECEIVE_BYTES)
            if not data:
                return None
            self._pending.extend(self._decoder.feed(data))
        return self._pending.popleft()

    async def _respond(self, event: TelnetEvent) -> None:
        if isinstance(event, EndSession):
            self.end()
            await self.write_line("bye")
        elif isinstance(event, CancelLine):
            await self._answer("")
        elif isinstance(event, LineTooLong):
            await self._answer("error: line too long")
        elif event.text.strip():
            await self._answer(await self._execute(event.text))
        else:
            await self._answer(None)

    async def _answer(self, text: str | None) -> None:
        if text is not None:
            await self.write_line(text)
        if not self._ended:
            await self.write(self.server.prompt)

    async def _execute(self, line: str) -> str | None:
        """Run one command line; any failure becomes an answer, never a crash of the actor."""
        try:
            return await self.registry.parse(line).run(self)
        except CommandError as error:
            return f"error: {error}"
        except Exception as error:
            logger.exception("repl command failed", repl=self.server.name, line=line, peer=self.peer)
            return f"error: internal: {type(error).__name__}: {error}"
