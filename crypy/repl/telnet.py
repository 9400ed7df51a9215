"""Telnet byte-stream decoding for the line-mode REPL.

Kept free of I/O so arbitrary client bytes can be fed to it in unit tests, and so
a character-mode line editor (TAB completion, history) can later replace it while
producing the same events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto

MAX_LINE_BYTES = 4096

IAC = 0xFF
DONT = 0xFE
DO = 0xFD
WONT = 0xFC
WILL = 0xFB
SB = 0xFA
IP = 0xF4
SE = 0xF0

NUL = 0x00
CTRL_C = 0x03
CTRL_D = 0x04
LF = 0x0A
CR = 0x0D

_OPTION_VERBS = frozenset({WILL, WONT, DO, DONT})
_SPECIAL_BYTE = re.compile(rb"[\x00\x03\x04\n\r\xff]")


@dataclass(frozen=True)
class Line:
    """A complete input line, decoded as UTF-8 with undecodable bytes replaced."""

    text: str


@dataclass(frozen=True)
class LineTooLong:
    """An input line exceeded the limit; its bytes were discarded up to its end."""


@dataclass(frozen=True)
class CancelLine:
    """The client interrupted (^C or IAC IP): the partial line was dropped."""


@dataclass(frozen=True)
class EndSession:
    """The client sent ^D on an empty line."""


TelnetEvent = Line | LineTooLong | CancelLine | EndSession


class _State(Enum):
    DATA = auto()
    COMMAND = auto()
    OPTION = auto()
    SUBNEGOTIATION = auto()
    SUBNEGOTIATION_IAC = auto()


class TelnetLineDecoder:
    """Turns raw client bytes into line events, stripping telnet negotiation.

    Memory stays bounded whatever the client sends: a line longer than
    `max_line_bytes` stops being buffered and is reported once it ends.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max_line_bytes = max_line_bytes
        self._line = bytearray()
        self._overflowed = False
        self._state = _State.DATA
        self._after_cr = False

    def feed(self, data: bytes | bytearray) -> list[TelnetEvent]:
        """Consume `data` and return the events it completes, in order."""
        events: list[TelnetEvent] = []
        position = 0
        while position < len(data):
            if self._state is _State.DATA:
                position = self._consume_data(data, position, events)
            else:
                self._consume_command_byte(data[position], events)
                position += 1
        return events

    def _consume_data(self, data: bytes | bytearray, position: int, events: list[TelnetEvent]) -> int:
        if self._after_cr:
            self._after_cr = False
            if data[position] in (LF, NUL):
                return position + 1
        special = _SPECIAL_BYTE.search(data, position)
        end = len(data) if special is None else special.start()
        self._append(data[position:end])
        if special is None:
            return end
        self._handle_special_byte(data[end], events)
        return end + 1

    def _handle_special_byte(self, byte: int, events: list[TelnetEvent]) -> None:
        if byte == IAC:
            self._state = _State.COMMAND
        elif byte == CR:
            self._after_cr = True
            self._end_line(events)
        elif byte == LF:
            self._end_line(events)
        elif byte == CTRL_C:
            self._cancel_line(events)
        elif byte == CTRL_D and not self._line and not self._overflowed:
            events.append(EndSession())

    def _consume_command_byte(self, byte: int, events: list[TelnetEvent]) -> None:
        state = self._state
        if state is _State.COMMAND:
            self._state = _State.DATA
            if byte == IAC:
                self._after_cr = False
                self._append(bytes([IAC]))
            elif byte in _OPTION_VERBS:
                self._state = _State.OPTION
            elif byte == SB:
                self._state = _State.SUBNEGOTIATION
            elif byte == IP:
                self._cancel_line(events)
        elif state is _State.OPTION:
            self._state = _State.DATA
        elif state is _State.SUBNEGOTIATION:
            if byte == IAC:
                self._state = _State.SUBNEGOTIATION_IAC
        elif state is _State.SUBNEGOTIATION_IAC:
            self._state = _State.DATA if byte == SE else _State.SUBNEGOTIATION

    def _append(self, chunk: bytes | bytearray) -> None:
        if self._overflowed:
            return
        if len(self._line) + len(chunk) > self._max_line_bytes:
            self._overflowed = True
            self._line.clear()
        else:
            self._line += chunk

    def _end_line(self, events: list[TelnetEvent]) -> None:
        if self._overflowed:
            events.append(LineTooLong())
        else:
            events.append(Line(self._line.decode("utf-8", errors="replace")))
        self._reset_line()

    def _cancel_line(self, events: list[TelnetEvent]) -> None:
        self._reset_line()
        events.append(CancelLine())

    def _reset_line(self) -> None:
        self._line.clear()
        self._overflowed = False
