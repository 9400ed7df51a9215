"""Commands every actor's REPL offers besides the built-ins: ``watch`` a bus topic live."""

from __future__ import annotations

import json as jsonlib

import msgspec
import trio

from crypy.repl import BUILTINS, Arg, CommandError, CommandRegistry, Session
from crypy.repl.tables import format_utc

from .answers import JSON_FLAG, Message, json_value, render
from .bus import Subscription, Topic

COMMON_COMMANDS = CommandRegistry(parents=[BUILTINS])

WATCHABLE = ("candles", "orders", "fills", "signals", "decisions", "refusals")
WATCH_BUFFER = 256
"""Events waiting for a slow client; beyond it they are skipped, so a stalled telnet never stalls the bus."""
HIDDEN_FIELDS = ("ts", "approval")


def describe(event: msgspec.Struct) -> str:
    """One readable line: time, event type, then its fields (the approval is long and says nothing new)."""
    fields = msgspec.structs.asdict(event)
    details = " ".join(f"{k}={json_value(v)}" for k, v in fields.items() if k not in HIDDEN_FIELDS and v not in
                       (None, "", ()))
    return f"{format_utc(event.ts)} {type(event).__name__} {details}"


def as_json_line(event: msgspec.Struct) -> str:
    return jsonlib.dumps({"type": type(event).__name__} | json_value(msgspec.structs.asdict(event)))


@COMMON_COMMANDS.command("enter", help="Continue this session in the REPL of an actor below this one (`back` returns)",
                         args=[Arg("name", help="a holder (USD) or trader (XBT/USD@USD), as `actors` lists them")])
async def enter(session: Session, name: str) -> str:
    target = session.context.descendant(name)
    if target is None or target.repl_server is None:
        raise CommandError(f"no actor {name!r} below {session.context.name} (see `actors`)")
    session.enter(target.repl_server)
    return f"entered {name}: `help` lists its commands, `back` returns"


@COMMON_COMMANDS.command("watch", help="Print one line per event of a bus topic until ^C (or COUNT events)",
                         args=[Arg("topic", help="what to watch", choices=WATCHABLE),
                               Arg("count", int, help="stop after this many events (0: until ^C)", default=0),
                               JSON_FLAG])
async def watch(session: Session, topic: str, count: int, json: bool) -> str | None:
    """Lines are written as events come (JSON lines with ``--json``); the last line sums up."""
    if count < 0:
        raise CommandError("count must not be negative")
    actor = session.context
    send, receive = trio.open_memory_channel[msgspec.Struct](WATCH_BUFFER)
    skipped = 0
    shown = 0

    async def pump(sub: Subscription) -> None:
        nonlocal skipped
        with sub:
            async for event in sub:
                if actor.concerns(event):
                    try:
                        send.send_nowait(event)
                    except trio.WouldBlock:
                        skipped += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump, actor.runtime.bus.subscribe(Topic(topic)))
        async for event in receive:
            await session.write_line(as_json_line(event) if json else describe(event))
            shown += 1
            if count and shown >= count:
                break
        nursery.cancel_scope.cancel()
    return render(Message(f"watched {shown} {topic} event(s), {skipped} skipped",
                          {"shown": shown, "skipped": skipped}), json)
