"""Commands every REPL offers; actors include BUILTINS in their own registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypy.repl.commands import Arg, CommandError, CommandRegistry
from crypy.repl.help_text import format_command_help, format_command_list

if TYPE_CHECKING:
    from crypy.repl.session import Session

BUILTINS = CommandRegistry()


@BUILTINS.command(
    "help",
    help="List commands, or show how to use one",
    args=[Arg("command", help="command name, e.g. 'help set limit'", default="", rest=True)],
)
async def help_command(session: Session, command: str) -> str:
    if not command:
        return format_command_list(session.registry.commands())
    return format_command_help(session.registry.find(command))


@BUILTINS.command("back", help="Return to the REPL this session entered from")
async def back_command(session: Session) -> str:
    if not session.leave():
        raise CommandError("nothing to go back to: this is where the session started")
    return f"back in {session.server.name}"


@BUILTINS.command("exit", help="Close this session")
@BUILTINS.command("quit", help="Close this session")
async def quit_command(session: Session) -> str:
    session.end()
    return "bye"
