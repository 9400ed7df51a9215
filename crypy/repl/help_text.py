"""Help texts rendered from command declarations, so help never disagrees with parsing."""

from __future__ import annotations

from collections.abc import Sequence

from crypy.repl.commands import Arg, Command


def format_command_list(commands: Sequence[Command]) -> str:
    """One aligned line per command with its one-line summary."""
    if not commands:
        return "no commands"
    width = max(len(command.name) for command in commands)
    lines = [f"  {command.name.ljust(width)}  {command.summary}".rstrip() for command in commands]
    return "\n".join(["commands:", *lines, "type 'help NAME' for details"])


def format_command_help(command: Command) -> str:
    """Usage line, full help, then one aligned line per argument."""
    sections = [f"usage: {command.usage}"]
    if command.help.strip():
        sections.append(command.help.strip())
    if command.args:
        labels = [_label(arg) for arg in (*command.positionals, *command.flags)]
        width = max(len(label) for label in labels)
        rows = [
            f"  {label.ljust(width)}  {_describe(arg)}"
            for label, arg in zip(labels, (*command.positionals, *command.flags), strict=True)
        ]
        sections.append("\n".join(["arguments:", *rows]))
    return "\n\n".join(sections)


def _label(arg: Arg) -> str:
    return arg.flag if arg.is_flag else arg.name


def _describe(arg: Arg) -> str:
    details = [arg.type_description]
    if arg.choices is not None:
        details.append("one of " + ", ".join(str(choice) for choice in arg.choices))
    if not arg.required and not arg.is_flag and arg.default not in (None, ""):
        details.append(f"default {arg.default}")
    description = f"({'; '.join(details)})"
    return f"{arg.help} {description}" if arg.help else description
