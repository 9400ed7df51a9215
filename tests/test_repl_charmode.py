"""Character mode, passwords and the attach hook over real loopback TCP, and a real telnet in tmux."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import trio

from crypy.repl import BUILTINS, Arg, CommandRegistry, ReplServer, Session, auth
from crypy.repl.auth import PasswordGuard
from crypy.repl.telnet import OFFER_CHARACTER_MODE

from .test_repl_server import Reader

PROMPT = b"cm> "
DO_ECHO_SGA = b"\xff\xfd\x01\xff\xfd\x03"

registry = CommandRegistry(parents=[BUILTINS])


@registry.command("status", help="Report status")
async def status(session: Session) -> str:
    return "running"


@registry.command("set limit", help="Set a limit", args=[Arg("kind", choices=["daily", "order"]), Arg("value", int)])
async def set_limit(session: Session, kind: str, value: int) -> str:
    return f"{kind} limit {value}"


@registry.command("watch", help="Print ticks until ^C")
async def watch(session: Session) -> str:
    while True:
        await session.write_line("tick")
        await trio.sleep(0.05)


class Client(Reader):
    """A raw TCP client that speaks telnet only when a test sends the bytes itself."""

    def __init__(self, stream: trio.SocketStream) -> None:
        super().__init__(stream)
        self.stream = stream

    async def ask(self, line: bytes) -> bytes:
        await self.stream.send_all(line + b"\r\n")
        return await self.read_until(PROMPT)


async def _serve(nursery: trio.Nursery, **options: object) -> tuple[str, int]:
    repl = ReplServer("cm", PROMPT.decode(), registry, **options)  # type: ignore[arg-type]
    host, port = (await nursery.start(repl.serve)).rsplit(":", 1)
    return host, int(port)


async def _open(address: tuple[str, int]) -> Client:
    return Client(await trio.open_tcp_stream(*address))


async def _char_client(nursery: trio.Nursery) -> Client:
    client = await _open(await _serve(nursery))
    assert await client.read_until(PROMPT) == OFFER_CHARACTER_MODE + b"cm\r\n"
    await client.stream.send_all(DO_ECHO_SGA)
    return client


async def test_char_mode_echo_tab_and_history(nursery: trio.Nursery) -> None:
    client = await _char_client(nursery)
    await client.stream.send_all(b"sta\t")
    assert await client.read_until(b"tus ") == b"sta"
    await client.stream.send_all(b"\r")
    assert await client.read_until(PROMPT) == b"\r\nrunning\r\n"
    await client.stream.send_all(b"set limit \t\t")
    assert await client.read_until(b"\r\ndaily  order\r\n" + PROMPT + b"set limit ") == b"set limit \x07"
    await client.stream.send_all(b"d\t7x\x7f\x1b[D\x1b[D\x7f\r")
    answer = await client.read_until(PROMPT)
    assert answer.startswith(b"daily 7x\x1b[1D\x1b[K\x1b[1D\x1b[1D\x1b[1D 7\x1b[K\x1b[2D\r\n")
    assert answer.endswith(b"error: kind: expected one of daily, order, got 'dail'\r\n")
    await client.stream.send_all(b"\x1b[A\x1b[A\r")
    assert (await client.read_until(PROMPT)).endswith(b"\r\nrunning\r\n")
    await client.stream.send_all(b"set l\t?")
    assert b"usage: set limit <kind> <value>" in await client.read_until(b"\r\ncm> set limit ")


async def test_ctrl_c_cancels_a_running_command_then_the_session_goes_on(nursery: trio.Nursery) -> None:
    client = await _char_client(nursery)
    await client.stream.send_all(b"watch\r")
    assert await client.read_until(b"tick\r\ntick\r\n") == b"watch\r\n"
    await client.stream.send_all(b"\x03")
    assert (await client.read_until(PROMPT)).endswith(b"^C\r\n")
    await client.stream.send_all(b"watch\r")
    await client.read_until(b"tick\r\n")
    await client.stream.send_all(b"\xff\xf4")
    assert (await client.read_until(PROMPT)).endswith(b"^C\r\n")
    await client.stream.send_all(b"status\r\x04")
    assert await client.read_until(PROMPT) == b"status\r\nrunning\r\n"
    assert await client.read_to_end() == b"bye\r\n"


async def test_line_mode_clients_get_no_echo_and_can_cancel_too(nursery: trio.Nursery) -> None:
    client = await _open(await _serve(nursery))
    await client.read_until(PROMPT)
    assert await client.ask(b"sta\t?\x1b[D") == b"error: unknown command 'sta'; did you mean: status?\r\n"
    await client.stream.send_all(b"watch\r\n")
    await client.read_until(b"tick\r\n")
    await client.stream.send_all(b"\x03status\r\n")
    assert (await client.read_until(PROMPT)).endswith(b"^C\r\n")
    assert await client.read_until(PROMPT) == b"running\r\n"


async def test_password_in_char_mode_is_not_echoed(nursery: trio.Nursery) -> None:
    client = await _open(await _serve(nursery, password="s3cret"))
    assert await client.read_until(b"password: ") == OFFER_CHARACTER_MODE
    await client.stream.send_all(DO_ECHO_SGA + b"s3cret\r")
    assert await client.read_until(PROMPT) == b"\r\ncm\r\n"
    await client.stream.send_all(b"sta\t\r")
    assert await client.read_until(PROMPT) == b"status \r\nrunning\r\n"


async def test_five_failures_lock_the_address_out(nursery: trio.Nursery) -> None:
    address = await _serve(nursery, password="s3cret")
    for _ in range(auth.MAX_FAILURES):
        client = await _open(address)
        await client.stream.send_all(b"guess\r\n")
        assert (await client.read_to_end()).endswith(b"password: error: wrong password\r\n")
    client = await _open(address)
    assert await client.read_to_end() == b"error: locked out, try later\r\n"


def test_lockout_policy_window_and_expiry() -> None:
    guard = PasswordGuard("pw")
    assert guard.check("pw") and not guard.check("pW") and not guard.check("é")
    for second in range(4):
        guard.record_failure("a", second * 20.0)
    assert not guard.is_locked("a", 61.0), "the first failures left the 60 s window"
    guard.record_failure("a", 62.0)
    guard.record_failure("a", 63.0)
    assert guard.is_locked("a", 63.0) and not guard.is_locked("b", 63.0)
    assert guard.is_locked("a", 63.0 + auth.LOCKOUT - 1)
    assert not guard.is_locked("a", 63.0 + auth.LOCKOUT)


def test_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken\nignored\n")
    repl = ReplServer("x", "> ", registry, host="0.0.0.0", token_file=token)
    assert repl.requires_password and repl.check_password("t0ken") and not repl.check_password("ignored")
    token.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        ReplServer("x", "> ", registry, token_file=token)
    with pytest.raises(ValueError, match="cannot read"):
        ReplServer("x", "> ", registry, token_file=tmp_path / "missing")
    with pytest.raises(ValueError, match="not both"):
        ReplServer("x", "> ", registry, password="p", token_file=token)


async def test_attach_line_is_handed_over_or_refused(nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> None:
    import crypy.repl.attach_session as attach_session

    seen: list[bytes] = []

    async def fake_serve_attach(stream: trio.abc.Stream, server: ReplServer, *, initial: bytes, peer: str) -> None:
        seen.append(initial)
        await stream.send_all(b"framed")

    monkeypatch.setattr(attach_session, "serve_attach", fake_serve_attach)
    client = await _open(await _serve(nursery))
    await client.stream.send_all(b"!crypy 1\r\n\x00\x01")
    assert await client.read_to_end() == OFFER_CHARACTER_MODE + b"cm\r\ncm> framed"
    assert seen == [b"\x00\x01"]
    locked = await _open(await _serve(nursery, password="pw"))
    await locked.stream.send_all(b"!crypy 1\n")
    assert (await locked.read_to_end()).endswith(b"password: error: attach protocol not available\r\n")
    monkeypatch.setitem(__import__("sys").modules, "crypy.repl.attach_session", None)
    plain = await _open(await _serve(nursery))
    await plain.read_until(PROMPT)
    assert await plain.ask(b"!crypy 1") == b"error: attach protocol not available\r\n"
    assert await plain.ask(b"status") == b"running\r\n"


class Tmux:
    """A private tmux server (own socket) running one program in a detached pane."""

    def __init__(self, socket: Path, name: str) -> None:
        self.base = ["tmux", "-S", str(socket)]
        self.name = name

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True, text=True, timeout=5).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str) -> str:
        """The screen (trailing spaces trimmed by tmux) once `text` is on it."""
        deadline = time.monotonic() + 5
        while True:
            screen = self.run("capture-pane", "-p", "-t", self.name)
            if text in screen or time.monotonic() > deadline:
                assert text in screen, screen
                return screen
            time.sleep(0.05)


@pytest.mark.skipif(
    shutil.which("tmux") is None or shutil.which("telnet") is None,
    reason="needs tmux and telnet binaries (apt-get install tmux telnet)",
)
async def test_real_telnet_in_tmux_completes_recalls_and_cancels(nursery: trio.Nursery, tmp_path: Path) -> None:
    host, port = await _serve(nursery)
    tmux = Tmux(tmp_path / "tmux.sock", "repl")

    def drive() -> None:
        tmux.run("new-session", "-d", "-s", tmux.name, "-x", "100", "-y", "30", "telnet", host, str(port))
        try:
            tmux.run("set-option", "-t", tmux.name, "remain-on-exit", "on")
            tmux.wait_for("cm>")
            tmux.keys("sta", "Tab")
            tmux.wait_for("cm> status")
            tmux.keys("Enter")
            tmux.wait_for("running")
            tmux.keys("Up")
            assert tmux.wait_for("running\ncm> status").rstrip().endswith("cm> status")
            tmux.keys("C-u", "watch", "Enter")
            tmux.wait_for("tick")
            tmux.keys("C-c")
            assert tmux.wait_for("^C").rstrip().endswith("^C\ncm>")
            tmux.keys("quit", "Enter")
            tmux.wait_for("bye\nConnection closed by foreign host.")
        finally:
            subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=5)

    await trio.to_thread.run_sync(drive)
