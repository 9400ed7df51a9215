"""`crypy attach`: a prompt_toolkit client for an actor's REPL, speaking the framed protocol.

Runs in its own process on asyncio (prompt_toolkit's loop); it imports nothing
of trio. See `crypy.repl.attach_session` for the protocol.

The prompt stays live while commands run: their output, answers and pushed
events are printed above it without disturbing the half-typed line. Ctrl-C
clears the line, or with an empty line cancels the running commands; Ctrl-D
on an empty line leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

MAGIC = b"!crypy 1\r\n"
MAX_FRAME = 1 << 20
MAX_PREAMBLE = 1 << 16
"""How much telnet text (banner, prompt) may precede the server's `!crypy 1` answer."""
CONNECT_TIMEOUT = 5.0
LIVE_TOPICS = ("fills", "decisions", "refusals")
"""What an attached client shows as it happens, above the prompt, without being asked."""
_LENGTH = struct.Struct(">I")


class AttachError(Exception):
    """Why attaching failed, worded for the user."""


# --- finding the actor -------------------------------------------------------------------------------------------


def parse_address(text: str) -> tuple[str, int]:
    """`host:port` or `[v6host]:port`."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise AttachError(f"not a host:port address: {text!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def resolve_target(name: str | None, actors: Iterable[Any] | None = None) -> tuple[str, str, int]:
    """(actor name, host, port) of the actor called `name`, by default the desk.

    `actors` are ActorInfo-like objects (name, kind, repl); by default those of
    every live crypy process. A `name` that is no actor but a `host:port` is
    used as the address.
    """
    if actors is None:
        from crypy.actors.registry import live_actors

        actors = [info for _, info in live_actors()]
    infos = [info for info in actors if info.repl]
    if name is None:
        desks = [info for info in infos if info.kind == "desk"]
        if not desks:
            raise AttachError("no running desk found (is crypy running? see `crypy ps`)")
        if len(desks) > 1:
            raise AttachError(f"several desks are running ({', '.join(d.name for d in desks)}); name one")
        chosen = desks[0]
    else:
        matches = [info for info in infos if info.name == name]
        if not matches:
            with contextlib.suppress(AttachError):
                host, port = parse_address(name)
                return name, host, port
            known = ", ".join(sorted(info.name for info in infos)) or "none"
            raise AttachError(f"no running actor {name!r} (running: {known})")
        chosen = matches[0]
    host, port = parse_address(chosen.repl)
    return chosen.name, host, port


def history_path() -> Path:
    """`$CRYPY_STATE_DIR/attach_history`, else under `$XDG_STATE_HOME/crypy` or `~/.local/state/crypy`."""
    configured = os.environ.get("CRYPY_STATE_DIR")
    if configured:
        return Path(configured) / "attach_history"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "crypy" / "attach_history"


# --- completion --------------------------------------------------------------------------------------------------


def _summary(help_text: str) -> str:
    stripped = help_text.strip()
    return stripped.splitlines()[0] if stripped else ""


class CommandCompleter(Completer):
    """Completes command names word by word, then the next argument's choices and the flags.

    Built from the `commands` of the server's hello; `help` completes command names.
    """

    def __init__(self, commands: list[dict[str, Any]]) -> None:
        self._commands = {tuple(command["name"].split()): command for command in commands}

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        yield from self._complete(document.text_before_cursor)

    def _complete(self, text: str) -> Iterator[Completion]:
        words = text.split()
        current = words.pop() if words and not text[-1].isspace() else ""
        given = tuple(words)
        yield from self._next_words(given, current)
        command_words = max((names for names in self._commands if given[: len(names)] == names), key=len, default=None)
        if command_words is None:
            return
        command, rest = self._commands[command_words], list(given[len(command_words) :])
        if command["name"] == "help":
            yield from self._complete(text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else "")
            return
        yield from self._arguments(command, rest, current)

    def _next_words(self, given: tuple[str, ...], current: str) -> Iterator[Completion]:
        seen: set[str] = set()
        for names, command in sorted(self._commands.items()):
            if len(names) <= len(given) or names[: len(given)] != given:
                continue
            word = names[len(given)]
            if word.startswith(current) and word not in seen:
                seen.add(word)
                meta = _summary(command["help"]) if len(names) == len(given) + 1 else "..."
                yield Completion(word, -len(current), display_meta=meta)

    def _arguments(self, command: dict[str, Any], tokens: list[str], current: str) -> Iterator[Completion]:
        args = command["args"]
        positionals = [arg for arg in args if not arg.get("flag")]
        used_flags = {token for token in tokens if token.startswith("--")}
        position = len([token for token in tokens if not token.startswith("--")])
        if positionals and positionals[-1].get("rest"):
            position = min(position, len(positionals) - 1)
        if not current.startswith("-") and position < len(positionals):
            arg = positionals[position]
            for choice in arg.get("choices") or ():
                if choice.startswith(current):
                    yield Completion(choice, -len(current), display_meta=arg["name"])
        if current.startswith("-") or position >= len(positionals):
            for arg in args:
                flag = arg.get("flag")
                if flag and flag not in used_flags and flag.startswith(current):
                    yield Completion(flag, -len(current), display_meta=_summary(arg.get("help", "")))


# --- the connection ----------------------------------------------------------------------------------------------


class AttachClient:
    """A framed connection to one REPL: send commands, get frames through `on_frame`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: dict[str, Any]) -> None:
        self._reader = reader
        self._writer = writer
        self.hello = hello
        self.name: str = hello.get("name", "?")
        self.prompt: str = hello.get("prompt", "> ")
        self.commands: list[dict[str, Any]] = hello.get("commands", [])
        self.background: set[int] = set()
        self.connected = True
        self.said_bye = False
        self.running: set[int] = set()
        self._next_id = 1

    @classmethod
    async def connect(cls, host: str, port: int, *, timeout: float = CONNECT_TIMEOUT) -> AttachClient:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_FRAME + 16)
        except (TimeoutError, OSError) as error:
            reason = "timed out" if isinstance(error, TimeoutError) else (error.strerror or str(error))
            raise AttachError(f"cannot connect to {host}:{port}: {reason}") from None
        try:
            async with asyncio.timeout(timeout):
                writer.write(MAGIC)
                await writer.drain()
                await cls._skip_preamble(reader)
                hello = await read_frame(reader)
        except TimeoutError:
            writer.close()
            raise AttachError(f"{host}:{port} did not answer as a crypy REPL within {timeout:g} s") from None
        except (asyncio.IncompleteReadError, OSError, AttachError, msgspec.DecodeError) as error:
            writer.close()
            if isinstance(error, AttachError):
                raise
            if isinstance(error, msgspec.DecodeError):
                raise AttachError(f"{host}:{port} sent a malformed hello") from None
            raise AttachError(f"{host}:{port} closed the connection before the hello") from None
        if hello.get("type") != "hello":
            writer.close()
            raise AttachError(f"{host}:{port} sent {hello.get('type')!r} instead of hello")
        return cls(reader, writer, hello)

    @staticmethod
    async def _skip_preamble(reader: asyncio.StreamReader) -> None:
        """Drop what the telnet session wrote before answering `!crypy 1` (name line, prompt)."""
        seen = b""
        while not seen.endswith(MAGIC):
            if len(seen) > MAX_PREAMBLE:
                raise AttachError("the server does not speak the crypy attach protocol")
            chunk = await reader.readexactly(1)
            seen += chunk
            if seen.endswith(b"password: "):
                raise AttachError("the REPL asks for a password, which attach does not support yet")

    def send_command(self, line: str, *, background: bool = False) -> int:
        """Send ``line``; a background command (a live ``watch``) is neither counted as running nor cancelled
        by Ctrl-C: it streams until the session ends."""
        ident = self._next_id
        self._next_id += 1
        (self.background if background else self.running).add(ident)
        self._send({"type": "command", "id": ident, "line": line})
        return ident

    def watch_live_events(self) -> list[str]:
        """Start a background ``watch`` for each of ``LIVE_TOPICS`` the actor offers; returns the topics."""
        watch = next((command for command in self.commands if command.get("name") == "watch"), None)
        if watch is None:
            return []
        offered = next((arg.get("choices") or [] for arg in watch.get("args", []) if arg.get("name") == "topic"), [])
        topics = [topic for topic in LIVE_TOPICS if topic in offered]
        for topic in topics:
            self.send_command(f"watch {topic}", background=True)
        return topics

    def cancel_running(self) -> list[int]:
        idents = sorted(self.running)
        for ident in idents:
            self._send({"type": "cancel", "id": ident})
        return idents

    def _send(self, message: dict[str, Any]) -> None:
        if self.connected:
            payload = msgspec.msgpack.encode(message)
            self._writer.write(_LENGTH.pack(len(payload)) + payload)

    async def pump(self, on_frame: Callable[[dict[str, Any]], None]) -> None:
        """Read frames until the server closes; `running` tracks which commands have not answered."""
        try:
            while True:
                frame = await read_frame(self._reader)
                if frame.get("type") in ("result", "error") and isinstance(frame.get("id"), int):
                    self.running.discard(frame["id"])
                    self.background.discard(frame["id"])
                on_frame(frame)
                if frame.get("type") == "bye":
                    self.said_bye = True
                    return
        except (asyncio.IncompleteReadError, ConnectionError, AttachError):
            return
        finally:
            self.connected = False

    async def close(self) -> None:
        self.connected = False
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise AttachError(f"frame of {length} bytes from the server exceeds {MAX_FRAME}")
    message = msgspec.msgpack.decode(await reader.readexactly(length))
    if not isinstance(message, dict):
        raise AttachError("the server sent a frame that is not a map")
    return message


def frame_text(frame: dict[str, Any]) -> str | None:
    """What to print for a frame, or None for nothing."""
    kind, text = frame.get("type"), frame.get("text")
    if kind in ("output", "result", "error", "event") and text is not None:
        return str(text)
    return None


# --- the interactive loop ----------------------------------------------------------------------------------------


def _key_bindings(client: AttachClient) -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.text:
            buffer.reset()
        elif client.running:
            client.cancel_running()
        event.app.invalidate()

    return bindings


async def run_attached(
    client: AttachClient,
    *,
    address: str = "",
    history: History | None = None,
    input: Input | None = None,
    output: Output | None = None,
    echo: Callable[[str], None] | None = None,
) -> int:
    """The prompt loop over a connected client; 0 when the user left, 1 when the server went away."""
    echo = echo or (lambda text: print(text, flush=True))
    session: PromptSession[str] = PromptSession(
        message=client.prompt,
        completer=CommandCompleter(client.commands),
        history=history if history is not None else InMemoryHistory(),
        bottom_toolbar=lambda: _toolbar(client, address),
        key_bindings=_key_bindings(client),
        input=input,
        output=output,
    )

    def on_frame(frame: dict[str, Any]) -> None:
        text = frame_text(frame)
        if text is not None:
            echo(text)
        session.app.invalidate()

    pump = asyncio.create_task(client.pump(on_frame))
    client.watch_live_events()

    def lost(_: asyncio.Task[None]) -> None:
        if session.app.is_running:
            session.app.exit(exception=EOFError())

    pump.add_done_callback(lost)
    user_left = False
    try:
        while client.connected:
            try:
                line = await session.prompt_async()
            except KeyboardInterrupt:
                continue
            except EOFError:
                user_left = client.connected
                break
            if line.strip() and client.connected:
                client.send_command(line)
    finally:
        await client.close()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    if not user_left and not client.said_bye:
        echo(f"connection to {client.name} closed")
        return 1
    return 0


def _toolbar(client: AttachClient, address: str) -> str:
    state = "connected" if client.connected else "disconnected"
    busy = f" | running {len(client.running)}" if client.running else ""
    where = f" {address}" if address else ""
    return f" {client.name}{where} | {state}{busy} | Tab complete, Ctrl-R search, Ctrl-C cancel, Ctrl-D exit"


async def attach(host: str, port: int, *, history: History | None = None) -> int:
    """Connect and converse on the real terminal."""
    client = await AttachClient.connect(host, port)
    if history is None:
        path = history_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(path))
    with patch_stdout(raw=True):
        return await run_attached(client, address=f"{host}:{port}", history=history)


def attach_main(name: str | None) -> int:
    """`crypy attach [NAME]`: attach to the named actor's REPL, by default the desk's."""
    try:
        _, host, port = resolve_target(name)
        return asyncio.run(attach(host, port))
    except AttachError as error:
        print(f"crypy attach: error: {error}", file=sys.stderr)
        return 2
