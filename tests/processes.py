"""Running crypy as a user does: a child process whose output a test can wait on."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

CRYPY = [sys.executable, "-m", "crypy.cli"]


class RunningCrypy:
    """A crypy child process whose output lines are collected by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if match := re.search(pattern, line):
                return match
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines[-40:])}")

    def finish(self, timeout: float = 60.0) -> str:
        self.process.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return "".join(self.lines)


@contextmanager
def crypy(*args: str, env: dict[str, str] | None = None) -> Iterator[RunningCrypy]:
    """Run ``crypy ARGS...``; killed on the way out if it is still running."""
    process = subprocess.Popen([*CRYPY, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})})
    try:
        yield RunningCrypy(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def crypy_sim(*args: str, env: dict[str, str] | None = None) -> contextlib.AbstractContextManager[RunningCrypy]:
    return crypy("sim", *args, env=env)
