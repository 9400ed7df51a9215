"""The pure line editor (every key) and registry-driven completion, without sockets."""

from __future__ import annotations

import pytest

from crypy.repl import BUILTINS, Arg, CommandRegistry, Session
from crypy.repl.completion import complete, describe
from crypy.repl.line_editor import LineEditor, Output
from crypy.repl.telnet import CancelLine, EndSession, Line

registry = CommandRegistry(parents=[BUILTINS])


@registry.command("status", help="Report status")
async def _status(session: Session) -> str:
    return "ok"


@registry.command("set limit", help="Set a limit", args=[Arg("kind", choices=["daily", "dollar", "order"]), Arg("value", int)])
@registry.command("set mode", help="Set the mode", args=[Arg("mode", choices=["live", "paper"]), Arg("force", bool)])
@registry.command("stop", help="Stop trading")
async def _other(session: Session, **arguments: object) -> str:
    return "ok"


def _editor() -> LineEditor:
    return LineEditor("> ", registry.complete, lambda text: describe(registry, text), history_size=3)


def _echo(outputs: list[Output]) -> bytes:
    return b"".join(item for item in outputs if isinstance(item, bytes))


def _events(outputs: list[Output]) -> list[object]:
    return [item for item in outputs if not isinstance(item, bytes)]


def _typed(keys: bytes) -> LineEditor:
    editor = _editor()
    editor.feed(keys)
    return editor


def test_printable_keys_are_inserted_and_echoed() -> None:
    editor = _editor()
    assert editor.feed("sté".encode()) == ["sté".encode()]
    assert (editor.buffer, editor.cursor) == ("sté", 3)


def test_enter_submits_with_any_line_ending_and_orders_echo_and_events() -> None:
    for ending in (b"\r", b"\r\n", b"\r\x00", b"\n"):
        outputs = _editor().feed(b"ab" + ending + b"cd")
        assert outputs == [b"ab\r\n", Line("ab"), b"cd"]


@pytest.mark.parametrize(
    ("keys", "buffer", "cursor"),
    [
        (b"abc\x7f", "ab", 2),
        (b"abc\x08", "ab", 2),
        (b"abc\x1b[D\x1b[DX", "aXbc", 2),
        (b"abc\x1b[D\x1b[D\x1b[C", "abc", 2),
        (b"abc\x1bOD", "abc", 2),
        (b"abc\x01X", "Xabc", 1),
        (b"abc\x1b[HX", "Xabc", 1),
        (b"abc\x1b[1~X", "Xabc", 1),
        (b"abc\x01\x05X", "abcX", 4),
        (b"abc\x01\x1b[FX", "abcX", 4),
        (b"abc\x01\x1b[4~X", "abcX", 4),
        (b"abc\x01\x1b[3~", "bc", 0),
        (b"abc\x01\x04", "bc", 0),
        (b"abc\x02\x02\x06", "abc", 2),
        (b"abcd\x1b[D\x1b[D\x0b", "ab", 2),
        (b"abcd\x1b[D\x1b[D\x15", "cd", 0),
        (b"set limit  dai\x17", "set limit  ", 11),
        (b"set limit\x17", "set ", 4),
        (b"\x7f\x1b[D\x01\x0b", "", 0),
        (b"ab\x1b[1;5Cc\x1bxd\x07\x00", "abcd", 4),
    ],
)
def test_editing_keys(keys: bytes, buffer: str, cursor: int) -> None:
    editor = _typed(keys)
    assert (editor.buffer, editor.cursor) == (buffer, cursor)


def test_mid_line_edits_redraw_the_tail() -> None:
    editor = _typed(b"abc\x1b[D\x1b[D")
    assert editor.feed(b"X") == [b"Xbc\x1b[2D"]
    assert editor.feed(b"\x7f") == [b"\x1b[1Dbc\x1b[K\x1b[2D"]
    assert editor.feed(b"\x05") == [b"\x1b[2C"]


def test_ctrl_c_cancels_and_ctrl_d_ends_only_on_an_empty_line() -> None:
    editor = _typed(b"sta")
    assert editor.feed(b"\x03") == [b"^C", CancelLine()]
    assert editor.buffer == ""
    assert _typed(b"x").interrupt() == [b"^C", CancelLine()]
    assert _editor().feed(b"\x04") == [EndSession()]


def test_history_up_down_keeps_the_draft_and_is_bounded() -> None:
    editor = _typed(b"one\rtwo\rtwo\rthree\rfour\rdra")
    assert list(editor.history) == ["two", "three", "four"]
    editor.feed(b"\x1b[A")
    assert editor.buffer == "four"
    editor.feed(b"\x1b[A\x1b[A\x1b[A\x10")
    assert editor.buffer == "two"
    editor.feed(b"\x1b[B\x0e")
    assert editor.buffer == "four"
    editor.feed(b"\x1b[B")
    assert (editor.buffer, editor.cursor) == ("dra", 3)
    editor.feed(b"\x1b[B")
    assert editor.buffer == "dra"


def test_tab_completes_one_candidate_with_a_space() -> None:
    editor = _typed(b"sta\t")
    assert editor.buffer == "status "
    assert _typed(b"set l\t").buffer == "set limit "
    assert _typed(b"set limit o\t").buffer == "set limit order "


def test_tab_completes_the_common_prefix_then_lists() -> None:
    editor = _typed(b"set limit d\t")
    assert editor.buffer == "set limit d"
    outputs = editor.feed(b"\t")
    assert _echo(outputs) == b"\r\ndaily  dollar\r\n> set limit d"
    assert _typed(b"s\t").buffer == "s"
    assert _typed(b"se\t").buffer == "set "
    assert _typed(b"zz\t").feed(b"\t") == [b"\x07"]


def test_question_mark_shows_help_and_redraws_the_line() -> None:
    echo = _echo(_typed(b"set").feed(b"?"))
    assert b"set limit  Set a limit" in echo and echo.endswith(b"\r\n> set")
    echo = _echo(_typed(b"set limit d\x1b[D").feed(b"?"))
    assert echo.startswith(b"\r\nusage: set limit <kind> <value>") and echo.endswith(b"> set limit d\x1b[1D")


def test_secret_mode_echoes_nothing_and_remembers_nothing() -> None:
    editor = _editor()
    editor.secret = True
    assert editor.feed(b"pw?\t\x1b[D\x7fd\r") == [b"\r\n", Line("pd?")], "? is a password character"
    assert list(editor.history) == []


def test_line_length_is_bounded() -> None:
    editor = LineEditor("> ", max_chars=4)
    assert editor.feed(b"abcdef") == [b"abcd\x07\x07"]


def test_invalid_utf8_is_replaced() -> None:
    assert _typed(b"a\xff\xc3b").buffer == "a\ufffd\ufffdb"


def test_complete_names_flags_and_choices() -> None:
    assert complete(registry, "") == ["back", "exit", "help", "quit", "set", "status", "stop"]
    assert complete(registry, "st") == ["status", "stop"]
    assert complete(registry, "set ") == ["limit", "mode"]
    assert complete(registry, "set mode ") == ["live", "paper"]
    assert complete(registry, "set mode live --") == ["--force"]
    assert complete(registry, "set mode live --force ") == []
    assert complete(registry, "set limit daily ") == []
    assert complete(registry, "nothing ") == []
    assert registry.complete("set limit d") == ["daily", "dollar"]


def test_describe() -> None:
    assert describe(registry, "set limit").startswith("usage: set limit <kind> <value>")
    assert describe(registry, "st").splitlines()[1:3] == ["  status  Report status", "  stop    Stop trading"]
    assert describe(registry, "xyz") == "no command starts with 'xyz'"
