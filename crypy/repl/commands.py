"""REPL commands declared once, so parsing, help and completion cannot drift apart."""

from __future__ import annotations

import difflib
import enum
import itertools
import math
import shlex
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crypy.repl.session import Session

Handler = Callable[..., Awaitable[str | None]]
"""`async def handler(session, **typed_args) -> str | None`; returned text goes to the client."""


class CommandError(Exception):
    """A user mistake; the message is shown to the client as is, so keep it actionable."""


class _Required(enum.Enum):
    REQUIRED = "REQUIRED"

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required.REQUIRED
"""Default marking an argument the user must give."""

_TYPE_DESCRIPTIONS: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    Decimal: "a decimal number",
    bool: "a flag",
}


def _convert(kind: type, raw: str) -> object:
    """Convert one token; non-finite numbers are refused because no amount or price is infinite."""
    if kind is str:
        return raw
    if kind is int:
        return int(raw, 10)
    if kind is float:
        number = float(raw)
        if not math.isfinite(number):
            raise ValueError(raw)
        return number
    decimal = Decimal(raw)
    if not decimal.is_finite():
        raise ValueError(raw)
    return decimal


@dataclass(frozen=True)
class Arg:
    """One argument of a command: positional, or a `--flag` when `type` is bool.

    `rest=True` (last positional, str only) takes the remaining words joined by
    spaces, for free text and multi-word command names.
    """

    name: str
    type: type = str
    help: str = ""
    default: object = REQUIRED
    choices: Sequence[object] | None = None
    rest: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"argument name {self.name!r} must be a Python identifier")
        if self.type not in _TYPE_DESCRIPTIONS:
            raise TypeError(
                f"argument {self.name!r}: unsupported type {self.type!r}; use str, int, float, Decimal or bool"
            )
        if self.rest and self.type is not str:
            raise TypeError(f"argument {self.name!r}: rest=True needs type str")
        if self.type is bool and self.default is REQUIRED:
            object.__setattr__(self, "default", False)

    @property
    def is_flag(self) -> bool:
        return self.type is bool

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def flag(self) -> str:
        """The spelling on the command line, e.g. `--dry-run` for `dry_run`."""
        return "--" + self.name.replace("_", "-")

    @property
    def type_description(self) -> str:
        return _TYPE_DESCRIPTIONS[self.type]

    @property
    def usage(self) -> str:
        if self.is_flag:
            return f"[{self.flag}]"
        label = f"{self.name}..." if self.rest else self.name
        return f"<{label}>" if self.required else f"[{label}]"

    def convert(self, raw: str) -> object:
        """Turn a token into this argument's type, or explain why it cannot be."""
        try:
            value = _convert(self.type, raw)
        except (ValueError, InvalidOperation):
            raise CommandError(f"{self.name}: expected {self.type_description}, got {raw!r}") from None
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(choice) for choice in self.choices)
            raise CommandError(f"{self.name}: expected one of {allowed}, got {raw!r}")
        return value


@dataclass(frozen=True)
class Command:
    """A named handler with its argument declarations; `name` may be several words."""

    name: str
    handler: Handler
    help: str = ""
    args: tuple[Arg, ...] = ()

    def __post_init__(self) -> None:
        words = self.name.split()
        if not words:
            raise ValueError("a command needs a name")
        object.__setattr__(self, "name", " ".join(words))
        object.__setattr__(self, "args", tuple(self.args))
        names = [arg.name for arg in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"command {self.name!r}: duplicate argument names {names}")
        positionals = self.positionals
        for earlier, later in itertools.pairwise(positionals):
            if later.required and not earlier.required:
                raise ValueError(f"command {self.name!r}: required {later.name!r} follows optional {earlier.name!r}")
            if earlier.rest:
                raise ValueError(f"command {self.name!r}: rest argument {earlier.name!r} must be last")

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def summary(self) -> str:
        """The first line of the help, for command lists."""
        return self.help.strip().splitlines()[0] if self.help.strip() else ""

    @property
    def positionals(self) -> tuple[Arg, ...]:
        return tuple(arg for arg in self.args if not arg.is_flag)

    @property
    def flags(self) -> tuple[Arg, ...]:
        return tuple(arg for arg in self.args if arg.is_flag)

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(arg.usage for arg in self.positionals), *(arg.usage for arg in self.flags)])

    def bind(self, tokens: Sequence[str]) -> dict[str, object]:
        """Map the tokens after the command name to typed keyword arguments.

        Tokens starting with `--` are flags until a bare `--`, so negative
        numbers stay positional.
        """
        values = {arg.name: arg.default for arg in self.args if not arg.required}
        flags = {arg.flag: arg for arg in self.flags}
        words: list[str] = []
        options_ended = False
        for token in tokens:
            if not options_ended and token == "--":
                options_ended = True
            elif not options_ended and token.startswith("--"):
                if token not in flags:
                    raise CommandError(f"unknown option {token!r} (usage: {self.usage})")
                values[flags[token].name] = True
            else:
                words.append(token)
        positionals = self.positionals
        if positionals and positionals[-1].rest and len(words) > len(positionals):
            head = len(positionals) - 1
            words = [*words[:head], " ".join(words[head:])]
        if len(words) > len(positionals):
            extra = " ".join(repr(word) for word in words[len(positionals) :])
            raise CommandError(f"too many arguments: {extra} (usage: {self.usage})")
        for arg, word in zip(positionals, words, strict=False):
            values[arg.name] = arg.convert(word)
        for arg in positionals[len(words) :]:
            if arg.required:
                raise CommandError(f"missing argument {arg.name!r} (usage: {self.usage})")
        return values


@dataclass(frozen=True)
class Invocation:
    """A parsed line: the command and its typed arguments, ready to run."""

    command: Command
    arguments: dict[str, object]

    async def run(self, session: Session) -> str | None:
        return await self.command.handler(session, **self.arguments)


def split_line(line: str) -> list[str]:
    """Split like a shell, turning shlex's errors into user-facing ones."""
    try:
        return shlex.split(line)
    except ValueError as error:
        if "quotation" in str(error):
            raise CommandError("unbalanced quotes") from None
        raise CommandError(f"cannot parse line: {str(error).lower()}") from None


class CommandRegistry:
    """Commands by name; registries compose so actors add theirs to shared built-ins.

    Parents are consulted live, and this registry's own commands override theirs.
    """

    def __init__(self, parents: Iterable[CommandRegistry] = ()) -> None:
        self._own: dict[tuple[str, ...], Command] = {}
        self._parents: list[CommandRegistry] = []
        for parent in parents:
            self.include(parent)

    def include(self, other: CommandRegistry) -> None:
        """Make `other`'s commands available here too."""
        if any(registry is self for registry in other._lineage()):
            raise ValueError("including this registry would create a cycle")
        self._parents.append(other)

    def add(self, command: Command) -> None:
        if command.words in self._own:
            raise ValueError(f"command {command.name!r} is already registered")
        self._own[command.words] = command

    def command(self, name: str, *, help: str = "", args: Sequence[Arg] = ()) -> Callable[[Handler], Handler]:
        """Decorator registering `async def handler(session, **typed_args) -> str | None`."""

        def register(handler: Handler) -> Handler:
            self.add(Command(name, handler, help, tuple(args)))
            return handler

        return register

    def commands(self) -> list[Command]:
        """All visible commands, sorted by name."""
        return sorted(self._table().values(), key=lambda command: command.name)

    def find(self, name: str) -> Command:
        """The command called `name`, or a CommandError suggesting close names."""
        words = name.split()
        table = self._table()
        command = table.get(tuple(words))
        if command is None:
            raise CommandError(_unknown_command_message(words, table))
        return command

    def parse(self, line: str) -> Invocation:
        """Resolve the longest matching command name, then bind its arguments."""
        tokens = split_line(line)
        if not tokens:
            raise CommandError("empty command")
        table = self._table()
        longest = max((len(words) for words in table), default=0)
        for length in range(min(longest, len(tokens)), 0, -1):
            command = table.get(tuple(tokens[:length]))
            if command is not None:
                return Invocation(command, command.bind(tokens[length:]))
        raise CommandError(_unknown_command_message(tokens, table))

    def complete(self, text: str) -> list[str]:
        """Candidates for the word being typed at the end of `text` (command names, flags, choices)."""
        from crypy.repl.completion import complete  # late: completion imports help_text, which imports us

        return complete(self, text)

    def _table(self) -> dict[tuple[str, ...], Command]:
        table: dict[tuple[str, ...], Command] = {}
        for parent in self._parents:
            table.update(parent._table())
        table.update(self._own)
        return table

    def _lineage(self) -> Iterator[CommandRegistry]:
        yield self
        for parent in self._parents:
            yield from parent._lineage()


def _unknown_command_message(tokens: Sequence[str], table: dict[tuple[str, ...], Command]) -> str:
    """Name the first word that continues no known command, and suggest likely ones."""
    prefixes = {words[:length] for words in table for length in range(1, len(words))}
    known = 0
    while known < len(tokens) and tuple(tokens[: known + 1]) in prefixes:
        known += 1
    attempted = " ".join(tokens[: known + 1])
    names = [command.name for command in table.values()]
    suggestions = difflib.get_close_matches(attempted, names, n=3)
    if known:
        group = " ".join(tokens[:known]) + " "
        suggestions += sorted(name for name in names if name.startswith(group) and name not in suggestions)
    message = f"unknown command {attempted!r}"
    if suggestions:
        message += f"; did you mean: {', '.join(suggestions[:5])}?"
    return message
