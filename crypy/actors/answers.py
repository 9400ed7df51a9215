"""How actor commands answer: one reply value, rendered as a table for people or as JSON for scripts.

Handlers return a ``Table``, ``Pairs`` or ``Message`` and never format by themselves, so every actor
command gets ``--json`` from one place (``actor_command``) and the two renderings cannot drift apart.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crypy.repl import Arg, Command, CommandError, CommandRegistry, Handler, Session
from crypy.repl.tables import format_pairs, format_table, plain

JSON_FLAG = Arg("json", bool, help="answer one JSON document instead of a table")
YES_FLAG = Arg("yes", bool, help="confirm: this command moves money or stops trading")


@dataclass(frozen=True)
class Table:
    """Rows under headers; as JSON, a list of objects keyed by the headers in snake_case."""

    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    empty: str = "(none)"


@dataclass(frozen=True)
class Pairs:
    """``key  value`` lines; as JSON, one object keyed in snake_case."""

    items: Sequence[tuple[str, object]]


@dataclass(frozen=True)
class Message:
    """A sentence for people; as JSON, ``{"message": ...}`` plus the structured ``data``."""

    text: str
    data: dict[str, object] = field(default_factory=dict)


Reply = Table | Pairs | Message | None


def json_key(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace("-", "_")


def json_value(value: object) -> Any:
    """Decimals as exact strings (a float would lose digits), enums by value, containers recursively."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def render(reply: Reply, as_json: bool) -> str | None:
    """The text sent to the client for ``reply``."""
    if reply is None:
        return json.dumps({"ok": True}) if as_json else None
    if isinstance(reply, Table):
        if as_json:
            keys = [json_key(h) for h in reply.headers]
            return json.dumps([dict(zip(keys, map(json_value, row), strict=True)) for row in reply.rows])
        return format_table(reply.headers, reply.rows, empty=reply.empty)
    if isinstance(reply, Pairs):
        if as_json:
            return json.dumps({json_key(k): json_value(v) for k, v in reply.items})
        return format_pairs(reply.items)
    if as_json:
        return json.dumps({"message": reply.text} | {k: json_value(v) for k, v in reply.data.items()})
    return reply.text


def actor_command(registry: CommandRegistry, name: str, *, help: str,
                  args: Sequence[Arg] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``async def handler(session, **args) -> Reply`` with a ``--json`` flag added and handled."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        async def run(session: Session, **arguments: object) -> str | None:
            as_json = bool(arguments.pop("json"))
            return render(await handler(session, **arguments), as_json)

        wrapped: Handler = run
        registry.add(Command(name, wrapped, help, (*args, JSON_FLAG)))
        return handler

    return register


def require_yes(yes: bool, what: str) -> None:
    """Refuse a command that moves money or stops trading unless the user confirmed it."""
    if not yes:
        raise CommandError(f"{what} needs --yes")


def at_least_one(count: int) -> int:
    if count < 1:
        raise CommandError("count must be at least 1")
    return count
