"""A line client for actor REPLs and the in-process system the command tests drive (no tests here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from crypy.modes.sim import SimOptions

from .conftest import EAGER_TEMPLATES


def options(tmp_path: Path, template_dir: Path = EAGER_TEMPLATES) -> SimOptions:
    return SimOptions(speed=36_000.0, db=tmp_path / "journal.db", repl_port=0, template_dir=template_dir,
                      in_process=True)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.02)


class Client:
    """One telnet session: ``ask`` sends a line and returns the answer without the prompt that follows it."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""
        self.prompt = b"> "

    async def read_until(self, marker: bytes, timeout: float = 10.0) -> str:
        with trio.fail_after(timeout):
            while marker not in self.buffer:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError(self.buffer.decode(errors="replace"))
                self.buffer += data
        head, _, self.buffer = self.buffer.partition(marker)
        return (head + marker).decode(errors="replace")

    async def send(self, line: str) -> None:
        await self.stream.send_all(line.encode() + b"\r\n")

    async def ask(self, line: str, timeout: float = 10.0) -> str:
        await self.send(line)
        answer = (await self.read_until(self.prompt, timeout)).replace("\r\n", "\n")
        return answer.rsplit("\n", 1)[0].strip() if "\n" in answer else ""

    async def ask_json(self, line: str) -> Any:
        answer = await self.ask(line + " --json")
        return json.loads(answer)


@asynccontextmanager
async def connect(address: str) -> AsyncIterator[Client]:
    host, port = address.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        client = Client(stream)
        greeting = await client.read_until(b"> ")
        client.prompt = greeting.rsplit("\r\n", 1)[-1].encode()
        yield client
