"""The pure telnet decoder: negotiation stripping, line endings, control keys."""

from __future__ import annotations

import pytest

from crypy.repl import CancelLine, EndSession, Line, LineTooLong, TelnetLineDecoder


@pytest.mark.parametrize("ending", [b"\r\n", b"\r\x00", b"\n", b"\r"])
def test_line_endings(ending: bytes) -> None:
    decoder = TelnetLineDecoder()
    assert decoder.feed(b"status" + ending + b"help" + ending) == [Line("status"), Line("help")]


def test_crlf_split_across_reads_gives_one_line() -> None:
    decoder = TelnetLineDecoder()
    assert decoder.feed(b"a\r") == [Line("a")]
    assert decoder.feed(b"\nb\n") == [Line("b")]


def test_negotiation_is_stripped_even_split_across_reads() -> None:
    data = b"\xff\xfb\x01st\xff\xfd\x03at\xff\xfa\x18\x00xt\xff\xffrm\xff\xf0us\xff\xf1\r\n"
    assert TelnetLineDecoder().feed(data) == [Line("status")]
    decoder = TelnetLineDecoder()
    events = [event for byte in data for event in decoder.feed(bytes([byte]))]
    assert events == [Line("status")]


def test_escaped_iac_is_a_data_byte() -> None:
    assert TelnetLineDecoder().feed(b"a\xff\xffb\n") == [Line("a\ufffdb")]


def test_interrupt_cancels_the_line() -> None:
    assert TelnetLineDecoder().feed(b"bal\x03ok\n") == [CancelLine(), Line("ok")]
    assert TelnetLineDecoder().feed(b"bal\xff\xf4ok\n") == [CancelLine(), Line("ok")]


def test_ctrl_d_ends_session_only_on_empty_line() -> None:
    assert TelnetLineDecoder().feed(b"\x04") == [EndSession()]
    assert TelnetLineDecoder().feed(b"ab\x04c\n") == [Line("abc")]


def test_nul_is_ignored_and_utf8_decoded() -> None:
    assert TelnetLineDecoder().feed("\x00pré\x00\n".encode()) == [Line("pré")]


def test_long_line_is_discarded_and_reported_at_its_end() -> None:
    decoder = TelnetLineDecoder(max_line_bytes=8)
    assert decoder.feed(b"x" * 5) == []
    assert decoder.feed(b"x" * 5000) == []
    assert decoder.feed(b"\x04tail\r\nok\r\n") == [LineTooLong(), Line("ok")]
    assert decoder.feed(b"12345678\n") == [Line("12345678")]
