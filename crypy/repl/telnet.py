"""Telnet byte-stream decoding, split in two pure layers so both input modes share one parser.

`TelnetParser` strips the protocol (RFC 854) and reports data, option
negotiation and interrupts in order, so a session can switch to character mode
exactly where the client agreed to it. `LineAssembler` turns data into line
events for line-mode clients (nc, scripts); the character-mode `LineEditor`
produces the same events. Everything is free of I/O so hostile bytes can be fed
to it in unit tests.
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

ECHO = 0x01
SUPPRESS_GO_AHEAD = 0x03

NUL = 0x00
CTRL_C = 0x03
CTRL_D = 0x04
LF = 0x0A
CR = 0x0D

OFFER_CHARACTER_MODE = bytes([IAC, WILL, ECHO, IAC, WILL, SUPPRESS_GO_AHEAD])
"""Sent at connect: a telnet client that answers DO ECHO lets the server echo and edit (RFC 857, 858)."""

_OPTION_VERBS = frozenset({WILL, WONT, DO, DONT})
_LINE_BYTE = re.compile(rb"[\x00\x03\x04\n\r]")


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


@dataclass(frozen=True)
class Negotiation:
    """An option command from the client, e.g. `Negotiation(DO, ECHO)`."""

    verb: int
    option: int


@dataclass(frozen=True)
class Interrupt:
    """IAC IP: the client's interrupt key in telnet's own encoding."""


Token = bytes | Negotiation | Interrupt
"""What the parser yields: a run of data bytes, a negotiation, or an interrupt."""


class _State(Enum):
    DATA = auto()
    COMMAND = auto()
    OPTION = auto()
    SUBNEGOTIATION = auto()
    SUBNEGOTIATION_IAC = auto()


class TelnetParser:
    """Splits client bytes into data runs and telnet commands; state survives split reads."""

    def __init__(self) -> None:
        self._state = _State.DATA
        self._verb = 0

    def feed(self, data: bytes | bytearray) -> list[Token]:
        tokens: list[Token] = []
        position = 0
        while position < len(data):
            if self._state is _State.DATA:
                end = data.find(IAC, position)
                end = len(data) if end < 0 else end
                if end > position:
                    tokens.append(bytes(data[position:end]))
                if end < len(data):
                    self._state = _State.COMMAND
                position = end + 1
            else:
                self._command_byte(data[position], tokens)
                position += 1
        return tokens

    def _command_byte(self, byte: int, tokens: list[Token]) -> None:
        state = self._state
        if state is _State.COMMAND:
            self._state = _State.DATA
            if byte == IAC:
                tokens.append(bytes([IAC]))
            elif byte in _OPTION_VERBS:
                self._state, self._verb = _State.OPTION, byte
            elif byte == SB:
                self._state = _State.SUBNEGOTIATION
            elif byte == IP:
                tokens.append(Interrupt())
        elif state is _State.OPTION:
            self._state = _State.DATA
            tokens.append(Negotiation(self._verb, byte))
        elif state is _State.SUBNEGOTIATION:
            if byte == IAC:
                self._state = _State.SUBNEGOTIATION_IAC
        elif state is _State.SUBNEGOTIATION_IAC:
            self._state = _State.DATA if byte == SE else _State.SUBNEGOTIATION


class LineAssembler:
    """Turns data bytes into line events for line-mode clients, with bounded memory.

    A line longer than `max_line_bytes` stops being buffered and is reported once it ends.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max_line_bytes = max_line_bytes
        self._line = bytearray()
        self._overflowed = False
        self._after_cr = False

    def feed(self, data: bytes | bytearray) -> list[TelnetEvent]:
        events: list[TelnetEvent] = []
        position = 0
        while position < len(data):
            if self._after_cr:
                self._after_cr = False
                if data[position] in (LF, NUL):
                    position += 1
                    continue
            special = _LINE_BYTE.search(data, position)
            end = len(data) if special is None else special.start()
            self._append(data[position:end])
            if special is not None:
                self._special_byte(data[end], events)
            position = end + 1
        return events

    def cancel(self) -> CancelLine:
        self._reset_line()
        return CancelLine()

    def _special_byte(self, byte: int, events: list[TelnetEvent]) -> None:
        if byte == CR:
            self._after_cr = True
            self._end_line(events)
        elif byte == LF:
            self._end_line(events)
        elif byte == CTRL_C:
            events.append(self.cancel())
        elif byte == CTRL_D and not self._line and not self._overflowed:
            events.append(EndSession())

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

    def _reset_line(self) -> None:
        self._line.clear()
        self._overflowed = False


class TelnetLineDecoder:
    """Raw client bytes to line events, negotiation stripped: parser and assembler in one."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._parser = TelnetParser()
        self._assembler = LineAssembler(max_line_bytes)

    def feed(self, data: bytes | bytearray) -> list[TelnetEvent]:
        """Consume `data` and return the events it completes, in order."""
        events: list[TelnetEvent] = []
        for token in self._parser.feed(data):
            if isinstance(token, bytes):
                events.extend(self._assembler.feed(token))
            elif isinstance(token, Interrupt):
                events.append(self._assembler.cancel())
        return events
