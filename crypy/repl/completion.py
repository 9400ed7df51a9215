"""TAB completion and `?` help computed from the registry, so they always match what parses."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from crypy.repl.help_text import format_command_help, format_command_list

if TYPE_CHECKING:
    from crypy.repl.commands import Command, CommandRegistry


def split_for_completion(text: str) -> tuple[list[str], str]:
    """The finished words and the word being typed (empty after a space).

    Plain whitespace splitting: a half-typed quote must not make completion fail.
    """
    words = text.split()
    if not words or text[-1].isspace():
        return words, ""
    return words[:-1], words[-1]


def complete(registry: CommandRegistry, text: str) -> list[str]:
    """Sorted candidates for the word being typed at the end of `text`."""
    done, partial = split_for_completion(text)
    commands = registry.commands()
    candidates = set(_next_name_words(commands, done, partial))
    command = _resolve(commands, done)
    if command is not None:
        candidates.update(_argument_values(command, done[len(command.words) :], partial))
    return sorted(candidates)


def _argument_values(command: Command, args: list[str], partial: str) -> list[str]:
    """Unused flags when a flag is being typed, else the choices of the positional being typed."""
    if partial.startswith("-"):
        return [arg.flag for arg in command.flags if arg.flag.startswith(partial) and arg.flag not in args]
    position = len([word for word in args if not word.startswith("--")])
    positionals = command.positionals
    if position >= len(positionals) or positionals[position].choices is None:
        return []
    choices = (str(choice) for choice in positionals[position].choices or ())
    return [choice for choice in choices if choice.startswith(partial)]


def describe(registry: CommandRegistry, text: str) -> str:
    """Help for what is typed so far: the command's help once it is named, else the commands it may become."""
    done, partial = split_for_completion(text)
    commands = registry.commands()
    command = _resolve(commands, [*done, partial] if partial else done)
    if command is not None:
        return format_command_help(command)
    typed = " ".join([*done, partial])
    matching = [candidate for candidate in commands if candidate.name.startswith(typed)]
    return format_command_list(matching) if matching else f"no command starts with {typed!r}"


def common_prefix(candidates: list[str]) -> str:
    return os.path.commonprefix(candidates)


def _resolve(commands: list[Command], words: list[str]) -> Command | None:
    """The command with the longest name that `words` starts with."""
    best: Command | None = None
    for command in commands:
        size = len(command.words)
        if tuple(words[:size]) == command.words and (best is None or size > len(best.words)):
            best = command
    return best


def _next_name_words(commands: list[Command], done: list[str], partial: str) -> list[str]:
    """Next words of multi-word command names that continue `done`."""
    position = len(done)
    return sorted(
        {
            command.words[position]
            for command in commands
            if len(command.words) > position
            and list(command.words[:position]) == done
            and command.words[position].startswith(partial)
        }
    )
