"""Hostile input over TCP: random lines and bytes never crash a ReplServer or get odd answers."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from crypy.repl import BUILTINS, Arg, CommandRegistry, ReplServer, Session
from crypy.repl.telnet import OFFER_CHARACTER_MODE

PROMPT = b"fz> "
registry = CommandRegistry(parents=[BUILTINS])


@registry.command("status", help="Report status")
async def status(session: Session) -> str:
    return "running"


@registry.command("say", help="Repeat text", args=[Arg("text", rest=True)])
async def say(session: Session, text: str) -> str:
    return "said: " + text.replace("\n", " ")


@registry.command("set limit", help="Set a limit", args=[Arg("kind", choices=["daily", "order"]), Arg("value", int)])
async def set_limit(session: Session, kind: str, value: int) -> str:
    return "limit set"


@registry.command("boom", help="Fail on purpose")
async def boom(session: Session) -> str:
    raise RuntimeError("kaput")


RESULTS = (b"running\r\n", b"said: ", b"limit set\r\n", b"commands:", b"usage: ", b"bye\r\n", b"^C\r\n")


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    """A server in its own thread and trio run, so hypothesis can drive it with plain sockets."""
    started: queue.Queue[tuple[str, int, trio.lowlevel.TrioToken, trio.CancelScope]] = queue.Queue()

    async def main() -> None:
        with trio.CancelScope() as scope:
            repl = ReplServer("fz", PROMPT.decode(), registry)
            async with trio.open_nursery() as nursery:
                host, port = (await nursery.start(repl.serve)).rsplit(":", 1)
                started.put((host, int(port), trio.lowlevel.current_trio_token(), scope))

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    with capture_logs() as logs:
        thread.start()
        host, port, token, scope = started.get(timeout=5)
        yield host, port
        assert _converse(host, port, b"status\r\n").endswith(b"running\r\n" + PROMPT), "still serving"
        trio.from_thread.run_sync(scope.cancel, trio_token=token)
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert {log["event"] for log in logs} <= {"repl listening", "repl client went away", "repl command failed"}


def _converse(host: str, port: int, data: bytes) -> bytes:
    """Send everything, half-close, and read until the server ends the session."""
    received = b""
    with socket.create_connection((host, port), timeout=5) as conn:
        try:
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            while chunk := conn.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the session ended (quit, ^D) before reading all we sent
    return received


def _answers(output: bytes) -> list[bytes]:
    """The answers between prompts; none when the client opened the framed attach protocol."""
    greeting = OFFER_CHARACTER_MODE + b"fz\r\n" + PROMPT
    assert output.startswith(greeting), output[:100]
    if output.startswith(greeting + b"!crypy 1\r\n"):
        return []
    return output[len(greeting) :].split(PROMPT)


def _is_expected(answer: bytes) -> bool:
    return answer in (b"", b"\r\n") or answer.startswith(b"error: ") or answer.startswith(RESULTS)


LINE_TEXT = st.text(st.characters(blacklist_characters="\r\n\x00\x03\x04", blacklist_categories=["Cs"]), max_size=200)
COMMAND_LIKE = st.sampled_from(["status", "say hi", "set limit daily 3", "set limit weekly x", "help", "help say",
                                "boom", "'unbalanced", "--", "say 'a b' c", "set", "help nothing"])
FRAGMENTS = st.sampled_from([
    b"\xff", b"\xff\xff", b"\xff\xfb\x01", b"\xff\xfd\x03", b"\xff\xfe\x01", b"\xff\xfa\x18\x00xterm\xff\xf0",
    b"\xff\xfa", b"\xff\xf0", b"\xff\xf4", b"\xff\xf1", b"\x1b[A", b"\x1b[D", b"\x1b[3~", b"\x1b", b"\x1bO",
    b"\t", b"?", b"\x7f", b"\x08", b"\x03", b"\x04", b"\x00", b"\r", b"\n", b"\r\n", b"\r\x00", b"\xc3", b"\xe2\x82",
    b"\xed\xa0\x80", b"status", b"quit", b"help", b"boom", b"x" * 5000,
])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(LINE_TEXT, COMMAND_LIKE), max_size=4))
def test_random_lines_get_a_result_or_an_error(address: tuple[str, int], lines: list[str]) -> None:
    output = _converse(*address, "".join(line + "\r\n" for line in lines).encode())
    answers = _answers(output)
    assert all(_is_expected(answer) for answer in answers), answers
    ended = any(line.split()[:1] in (["quit"], ["exit"]) for line in lines)
    assert len(answers) == len(lines) + 1 or ended or lines[:1] == ["!crypy 1"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.one_of(st.binary(max_size=40), FRAGMENTS), max_size=12))
def test_random_bytes_in_line_mode(address: tuple[str, int], chunks: list[bytes]) -> None:
    data = b"".join(chunks).replace(b"\xfd", b"")  # no DO: the client never accepts character mode here
    answers = _answers(_converse(*address, data + b"\r\n"))
    assert all(_is_expected(answer) for answer in answers), answers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.one_of(st.binary(max_size=40), FRAGMENTS), max_size=12))
def test_random_bytes_in_char_mode_end_cleanly(address: tuple[str, int], chunks: list[bytes]) -> None:
    output = _converse(*address, b"\xff\xfd\x01\xff\xfd\x03" + b"".join(chunks) + b"\rstatus\r")
    assert output.startswith(OFFER_CHARACTER_MODE + b"fz\r\n" + PROMPT)
