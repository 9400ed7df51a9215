"""Password checking for REPLs reachable from other machines, with per-address lockout."""

from __future__ import annotations

import hmac
from collections import deque
from pathlib import Path

MAX_FAILURES = 5
FAILURE_WINDOW = 60.0
LOCKOUT = 300.0


def read_token_file(path: Path) -> str:
    """The password is the file's first line, so it stays out of command lines and shell history."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ValueError(f"cannot read REPL token file {str(path)!r}: {error.strerror}") from None
    if not lines or not lines[0].strip():
        raise ValueError(f"REPL token file {str(path)!r} is empty")
    return lines[0].strip()


class PasswordGuard:
    """Checks passwords in constant time and locks out addresses that keep guessing.

    `MAX_FAILURES` wrong passwords from one address within `FAILURE_WINDOW`
    seconds lock it out for `LOCKOUT` seconds. Times are passed in, so the
    policy is testable without waiting.
    """

    def __init__(self, password: str) -> None:
        self._password = password.encode("utf-8")
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def check(self, attempt: str) -> bool:
        return hmac.compare_digest(attempt.encode("utf-8", errors="replace"), self._password)

    def is_locked(self, address: str, now: float) -> bool:
        until = self._locked_until.get(address)
        if until is not None and now >= until:
            del self._locked_until[address]
            return False
        return until is not None

    def record_failure(self, address: str, now: float) -> None:
        failures = self._failures.setdefault(address, deque())
        failures.append(now)
        while failures and failures[0] <= now - FAILURE_WINDOW:
            failures.popleft()
        if len(failures) >= MAX_FAILURES:
            self._locked_until[address] = now + LOCKOUT
            del self._failures[address]

    def record_success(self, address: str) -> None:
        self._failures.pop(address, None)
