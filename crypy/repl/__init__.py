"""Telnet REPLs through which humans inspect and steer crypy actors."""

from crypy.repl.builtin_commands import BUILTINS
from crypy.repl.commands import REQUIRED, Arg, Command, CommandError, CommandRegistry, Handler, Invocation
from crypy.repl.server import ReplServer
from crypy.repl.session import Session
from crypy.repl.telnet import CancelLine, EndSession, Line, LineTooLong, TelnetEvent, TelnetLineDecoder

__all__ = [
    "BUILTINS",
    "REQUIRED",
    "Arg",
    "CancelLine",
    "Command",
    "CommandError",
    "CommandRegistry",
    "EndSession",
    "Handler",
    "Invocation",
    "Line",
    "LineTooLong",
    "ReplServer",
    "Session",
    "TelnetEvent",
    "TelnetLineDecoder",
]
