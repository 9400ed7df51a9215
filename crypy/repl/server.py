"""A telnet REPL server: each actor serves one on loopback so humans can steer it."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

import structlog
import trio

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

    Binding beyond loopback needs a password, because the commands can move money.
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
        context: Any = None,
    ) -> None:
        if password is None and not is_loopback_host(host):
            raise ValueError(f"REPL {name!r}: refusing to listen on non-loopback host {host!r} without a password")
        self.name = name
        self.prompt = prompt
        self.registry = registry
        self.context: Any = context
        self._host = host
        self._port = port
        self._password = password
        self._address: str | None = None

    @property
    def address(self) -> str:
        """The bound `host:port` (the real port when 0 was asked for)."""
        if self._address is None:
            raise RuntimeError(f"REPL {self.name!r} is not serving")
        return self._address

    @property
    def requires_password(self) -> bool:
        return self._password is not None

    def check_password(self, attempt: str) -> bool:
        """Constant-time comparison, so timing does not leak the password."""
        if self._password is None:
            return True
        return hmac.compare_digest(attempt.encode("utf-8"), self._password.encode("utf-8"))

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
        """Run one session; whatever the client does, nothing escapes to the listener."""
        peer = "unknown peer"
        try:
            peer = format_address(stream.socket.getpeername())
            await Session(stream, self, peer).run()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            logger.debug("repl client went away", repl=self.name, peer=peer, error=repr(error))
        except Exception:
            logger.exception("repl session failed", repl=self.name, peer=peer)
