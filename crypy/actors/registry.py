"""Which actors are alive, where their REPLs listen, and in what state.

The registry of a running crypy process is mirrored into a small JSON file in the run directory so that
another process (``crypy ps``) can list the actors without joining the dataflow.
"""

from __future__ import annotations

import enum
import json
import os
import time
from pathlib import Path

import msgspec

from crypy.repl.tables import format_table


class ActorState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class ActorInfo(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    parent: str
    state: ActorState = ActorState.STARTING
    repl: str = ""
    restarts: int = 0
    started: float = 0.0


def run_dir() -> Path:
    """Where live processes publish their registries (``$CRYPY_RUN_DIR`` or a per-user state folder)."""
    configured = os.environ.get("CRYPY_RUN_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "crypy" / "run"


class Registry:
    """The live actors of this process. Every change is written through to ``<run_dir>/<pid>.json``."""

    def __init__(self, path: Path | None = None) -> None:
        self._actors: dict[str, ActorInfo] = {}
        self.path = path

    def __contains__(self, name: str) -> bool:
        return name in self._actors

    def get(self, name: str) -> ActorInfo:
        return self._actors[name]

    def register(self, name: str, kind: str, parent: str) -> ActorInfo:
        info = self._actors.get(name)
        if info is None:
            info = ActorInfo(name=name, kind=kind, parent=parent, started=time.time())
            self._actors[name] = info
        self._save()
        return info

    def update(self, name: str, **changes: object) -> None:
        info = self._actors[name]
        for key, value in changes.items():
            setattr(info, key, value)
        self._save()

    def remove(self, name: str) -> None:
        self._actors.pop(name, None)
        self._save()

    def actors(self) -> list[ActorInfo]:
        return list(self._actors.values())

    def children(self, parent: str) -> list[ActorInfo]:
        return [info for info in self._actors.values() if info.parent == parent]

    def _save(self) -> None:
        if self.path is None:
            return
        payload = {"pid": os.getpid(), "actors": self.actors()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(payload))
        tmp.replace(self.path)

    def close(self) -> None:
        """Forget the run file: a stopped process has no live actors."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def open_process_registry() -> Registry:
    directory = run_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return Registry(directory / f"{os.getpid()}.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_actors(directory: Path | None = None) -> list[tuple[int, ActorInfo]]:
    """Every actor of every live crypy process; files left by dead processes are cleaned up."""
    directory = directory or run_dir()
    found: list[tuple[int, ActorInfo]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            payload = json.loads(path.read_text())
            pid = int(payload["pid"])
        except (OSError, ValueError, KeyError):
            continue
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        found.extend((pid, msgspec.convert(raw, ActorInfo)) for raw in payload["actors"])
    return found


def format_actors(infos: list[ActorInfo]) -> str:
    """The actor table shown at start-up, by ``crypy ps`` and by the desk's ``actors`` command."""
    rows = [(i.name, i.kind, i.parent or "-", i.state, i.repl or "-", i.restarts) for i in infos]
    return format_table(["name", "kind", "parent", "state", "repl", "restarts"], rows, empty="(no actors)")
