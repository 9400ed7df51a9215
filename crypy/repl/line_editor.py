"""Server-side line editing for telnet clients in character mode.

Pure: keys go in, the bytes to echo and the line events come out, in order, so
every key can be unit-tested without a socket and the session only forwards.
The output assumes a VT100-like terminal and one column per character.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Callable

from crypy.repl.completion import common_prefix, split_for_completion
from crypy.repl.telnet import CR, LF, MAX_LINE_BYTES, NUL, CancelLine, EndSession, Line, TelnetEvent

Output = bytes | TelnetEvent
"""Bytes to send to the client, or a finished line event for the session to act on."""

HISTORY_SIZE = 100
ESC = 0x1B
BELL = "\x07"
ERASE_TO_END = "\x1b[K"

_CSI_KEYS = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end"}
_TILDE_KEYS = {"1": "home", "7": "home", "4": "end", "8": "end", "3": "delete"}
_CONTROL_KEYS = {
    0x01: "home", 0x02: "left", 0x03: "cancel", 0x04: "eof", 0x05: "end", 0x06: "right", 0x08: "backspace",
    0x09: "tab", 0x0B: "kill_end", 0x0C: "redraw", 0x0E: "down", 0x10: "up", 0x15: "kill_start",
    0x17: "kill_word", 0x7F: "backspace",
}  # fmt: skip


def _left(columns: int) -> str:
    return f"\x1b[{columns}D" if columns > 0 else ""


def _right(columns: int) -> str:
    return f"\x1b[{columns}C" if columns > 0 else ""


def _no_candidates(text: str) -> list[str]:
    return []


def _no_help(text: str) -> str:
    return ""


class LineEditor:
    """One session's input line, cursor and history.

    `complete(text_before_cursor)` gives candidates for the word being typed,
    `describe(text_before_cursor)` the help `?` shows. With `secret` set (a
    password) nothing is echoed, completed or remembered.
    """

    def __init__(
        self,
        prompt: str,
        complete: Callable[[str], list[str]] = _no_candidates,
        describe: Callable[[str], str] = _no_help,
        *,
        history_size: int = HISTORY_SIZE,
        max_chars: int = MAX_LINE_BYTES,
    ) -> None:
        self.prompt = prompt
        self.secret = False
        self.buffer = ""
        self.cursor = 0
        self.history: deque[str] = deque(maxlen=history_size)
        self._complete = complete
        self._describe = describe
        self._max_chars = max_chars
        self._browse = 0
        self._draft = ""
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._escape: str | None = None
        self._after_cr = False
        self._tabbed = False
        self._outputs: list[Output] = []
        self._echo: list[str] = []

    def feed(self, data: bytes) -> list[Output]:
        """Process keystrokes; the result interleaves echo bytes and line events in order."""
        for byte in data:
            self._byte(byte)
        return self._take()

    def interrupt(self) -> list[Output]:
        """IAC IP: the same as ^C."""
        self._key("cancel")
        return self._take()

    def _take(self) -> list[Output]:
        self._flush()
        outputs, self._outputs = self._outputs, []
        return outputs

    def _flush(self) -> None:
        if self._echo:
            self._outputs.append("".join(self._echo).replace("\n", "\r\n").encode("utf-8"))
            self._echo.clear()

    def _emit(self, event: TelnetEvent) -> None:
        self._flush()
        self._outputs.append(event)

    def _byte(self, byte: int) -> None:
        if self._after_cr:
            self._after_cr = False
            if byte in (LF, NUL):
                return
        if self._escape is not None:
            self._escape_byte(chr(byte))
        elif byte in (CR, LF):
            self._after_cr = byte == CR
            self._key("enter")
        elif byte == ESC:
            self._escape = ""
        elif byte in _CONTROL_KEYS:
            self._key(_CONTROL_KEYS[byte])
        elif byte == ord("?") and not self.secret:
            self._key("help")
        elif byte >= 0x20:
            self._insert(self._utf8.decode(bytes([byte])))

    def _escape_byte(self, char: str) -> None:
        """Collect `ESC [ params final` or `ESC O final`; unknown sequences are dropped whole."""
        sequence = self._escape = (self._escape or "") + char
        if sequence in ("[", "O") or (sequence[0] == "[" and (char.isdigit() or char == ";")):
            if len(sequence) > 16:
                self._escape = None
            return
        self._escape = None
        if sequence[0] in "[O" and char in _CSI_KEYS:
            self._key(_CSI_KEYS[char])
        elif sequence[0] == "[" and char == "~":
            self._key(_TILDE_KEYS.get(sequence[1:-1].split(";")[0], "ignore"))

    def _key(self, name: str) -> None:
        self._utf8.reset()
        if name != "tab":
            self._tabbed = False
        getattr(self, f"_on_{name}", self._on_ignore)()

    def _insert(self, text: str) -> None:
        if not text:
            return
        if len(self.buffer) + len(text) > self._max_chars:
            self._write(BELL)
            return
        buffer = self.buffer[: self.cursor] + text + self.buffer[self.cursor :]
        self._redraw(self.cursor, buffer, self.cursor + len(text))

    def _redraw(self, start: int, buffer: str, cursor: int) -> None:
        """Show `buffer` from column `start` (the first change, not right of the cursor) and move to `cursor`."""
        erase = ERASE_TO_END if len(buffer) < len(self.buffer) else ""
        self._write(_left(self.cursor - start) + buffer[start:] + erase + _left(len(buffer) - cursor))
        self.buffer, self.cursor = buffer, cursor

    def _move(self, cursor: int) -> None:
        cursor = max(0, min(cursor, len(self.buffer)))
        self._write(_left(self.cursor - cursor) + _right(cursor - self.cursor))
        self.cursor = cursor

    def _write(self, text: str) -> None:
        if not self.secret:
            self._echo.append(text)

    def _show_below(self, text: str) -> None:
        """Print `text` under the line, then the prompt and the line again, cursor in place."""
        tail = len(self.buffer) - self.cursor
        self._write(f"\n{text}\n{self.prompt}{self.buffer}{_left(tail)}")

    def _reset(self) -> None:
        self.buffer, self.cursor = "", 0
        self._browse, self._draft = len(self.history), ""

    def _on_ignore(self) -> None:
        """Keys without a binding do nothing, so stray control bytes cannot garble the line."""

    def _on_enter(self) -> None:
        line = self.buffer
        self._echo.append("\n")
        if line.strip() and not self.secret and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._reset()
        self._emit(Line(line))

    def _on_cancel(self) -> None:
        self._echo.append("^C")
        self._reset()
        self._emit(CancelLine())

    def _on_eof(self) -> None:
        if self.buffer:
            self._on_delete()
        else:
            self._emit(EndSession())

    def _on_home(self) -> None:
        self._move(0)

    def _on_end(self) -> None:
        self._move(len(self.buffer))

    def _on_left(self) -> None:
        self._move(self.cursor - 1)

    def _on_right(self) -> None:
        self._move(self.cursor + 1)

    def _on_backspace(self) -> None:
        if self.cursor > 0:
            self._redraw(self.cursor - 1, self.buffer[: self.cursor - 1] + self.buffer[self.cursor :], self.cursor - 1)

    def _on_delete(self) -> None:
        if self.cursor < len(self.buffer):
            self._redraw(self.cursor, self.buffer[: self.cursor] + self.buffer[self.cursor + 1 :], self.cursor)

    def _on_kill_end(self) -> None:
        self._redraw(self.cursor, self.buffer[: self.cursor], self.cursor)

    def _on_kill_start(self) -> None:
        self._redraw(0, self.buffer[self.cursor :], 0)

    def _on_kill_word(self) -> None:
        head = self.buffer[: self.cursor].rstrip(" ")
        start = head.rfind(" ") + 1
        self._redraw(start, self.buffer[:start] + self.buffer[self.cursor :], start)

    def _on_redraw(self) -> None:
        tail = len(self.buffer) - self.cursor
        self._write(f"\r{ERASE_TO_END}{self.prompt}{self.buffer}{_left(tail)}")

    def _on_up(self) -> None:
        if self.secret or self._browse == 0:
            return
        if self._browse == len(self.history):
            self._draft = self.buffer
        self._browse -= 1
        self._recall(self.history[self._browse])

    def _on_down(self) -> None:
        if self.secret or self._browse >= len(self.history):
            return
        self._browse += 1
        self._recall(self.history[self._browse] if self._browse < len(self.history) else self._draft)

    def _recall(self, text: str) -> None:
        self._move(0)
        self._redraw(0, text, len(text))

    def _on_tab(self) -> None:
        """One candidate completes; several complete their common prefix, and a second TAB lists them."""
        if self.secret:
            return
        _, partial = split_for_completion(self.buffer[: self.cursor])
        candidates = [c for c in self._complete(self.buffer[: self.cursor]) if c.startswith(partial)]
        listing, self._tabbed = self._tabbed, True
        if len(candidates) == 1:
            at_end = self.cursor == len(self.buffer)
            self._insert(candidates[0][len(partial) :] + (" " if at_end else ""))
            self._tabbed = False
        elif len(common_prefix(candidates)) > len(partial):
            self._insert(common_prefix(candidates)[len(partial) :])
        elif candidates and listing:
            self._show_below("  ".join(candidates))
        else:
            self._write(BELL)

    def _on_help(self) -> None:
        self._show_below(self._describe(self.buffer[: self.cursor]))
