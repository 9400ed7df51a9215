"""A telnet REPL server: each actor serves one on loopback so humans can steer it."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import structlog
import trio

from crypy.repl.auth import PasswordGuard, read_token_file
from crypy.repl.commands import CommandRegistry
from crypy.repl.session import Session

logger = structlog.get_logger(__name__)


def is_loopback_host(host: str) -> bool:
    """Whether `host` is only reachable from this machine; unknown names count as not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def format_address(sockaddr: Any) -> str:
    """`host:port`, bracketing IPv6 hosts so the port stays unambiguous."""
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ReplServer:
    """Serves `registry` over telnet; `context` is handed to handlers as `session.context`.

    `context` is typed Any so handlers can declare what they expect, e.g.
    `desk: Desk = session.context`, without casts.

    Binding beyond loopback needs a password (given, or the first line of
    `token_file`), because the commands can move money.
    """

    def __init__(
        self,
        name: str,
        prompt: str,
        registry: CommandRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        password: str | None = None,
        token_file: Path | None = None,
        context: Any = None,
    ) -> None:
        if token_file is not None:
            if password is not None:
                raise ValueError(f"REPL {name!r}: give a password or a token file, not both")
            password = read_token_file(token_file)
        if password is None and not is_loopback_host(host):
            raise ValueError(f"REPL {name!r}: refusing to listen on non-loopback host {host!r} without a password")
        self.name = name
        self.prompt = prompt
        self.registry = registry
        self.context: Any = context
        self._host = host
        self._port = port
        self.guard = None if password is None else PasswordGuard(password)
        self._address: str | None = None

    @property
    def address(self) -> str:
        """The bound `host:port` (the real port when 0 was asked for)."""
        if self._address is None:
            raise RuntimeError(f"REPL {self.name!r} is not serving")
        return self._address

    @property
    def requires_password(self) -> bool:
        return self.guard is not None

    def check_password(self, attempt: str) -> bool:
        """Constant-time comparison, so timing does not leak the password."""
        return self.guard is None or self.guard.check(attempt)

    async def serve(self, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind, report the address through `task_status`, then serve until cancelled."""
        try:
            listeners = await trio.open_tcp_listeners(self._port, host=self._host)
        except OSError as exc:
            where = f"{self._host}:{self._port}"
            raise OSError(exc.errno, f"{self.name}: cannot listen on {where}: {exc.strerror}") from None
        self._address = format_address(listeners[0].socket.getsockname())
        logger.debug("repl listening", repl=self.name, address=self._address)
        try:
            task_status.started(self._address)
            await trio.serve_listeners(self._serve_connection, listeners)
        finally:
            self._address = None

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        """Run one session; whatever the client does, nothing escapes to the listener.

        `except*` because the session's reader task and conversation share a nursery.
        """
        peer, address = "unknown peer", ""
        try:
            sockaddr = stream.socket.getpeername()
            peer, address = format_address(sockaddr), sockaddr[0]
            await Session(stream, self, peer, address=address).run()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            logger.debug("repl client went away", repl=self.name, peer=peer, error=repr(group.exceptions[0]))
        except* Exception:
            logger.exception("repl session failed", repl=self.name, peer=peer)
