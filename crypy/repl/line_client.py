"""A line-mode REPL client for scripts, tests and benchmarks: send a line, read the answer up to the prompt."""

from __future__ import annotations

from types import TracebackType

import trio


class LineClient:
    """One session with an actor's REPL over TCP, in line mode (it never answers telnet negotiation)."""

    def __init__(self, stream: trio.SocketStream, prompt: bytes) -> None:
        self._stream = stream
        self._prompt = prompt
        self._buffer = b""

    @classmethod
    async def connect(cls, address: str, prompt: str) -> LineClient:
        """Connect to ``host:port`` and read up to the first prompt."""
        host, port = address.rsplit(":", 1)
        client = cls(await trio.open_tcp_stream(host, int(port)), prompt.encode())
        await client._until_prompt()
        return client

    async def _until_prompt(self) -> str:
        while not self._buffer.endswith(self._prompt):
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                raise EOFError("the REPL closed the session")
            self._buffer += chunk
        text, self._buffer = self._buffer[: -len(self._prompt)], b""
        return text.decode(errors="replace").replace("\r\n", "\n").strip("\n")

    async def ask(self, line: str) -> str:
        """The answer to ``line``, without the trailing prompt."""
        await self._stream.send_all(line.encode() + b"\r\n")
        return await self._until_prompt()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> LineClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
