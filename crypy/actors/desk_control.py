"""The desk's steering commands: its limits, its market-data pace, the kill switch, and its journal."""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import trio

from crypy.protocols import TradingState
from crypy.repl import Arg, CommandError, CommandRegistry, Session
from crypy.store import JournalReader

from .answers import JSON_FLAG, YES_FLAG, Message, Pairs, Table, actor_command, at_least_one, render, require_yes

if TYPE_CHECKING:
    from .desk import Desk

DESK_CONTROL = CommandRegistry()
LIMITS = ("max_order_notional", "allowed_pairs", "max_open_orders", "max_orders_per_minute", "max_exposure")
MIN_POLL_SECONDS = 0.01


def _desk(session: Session) -> Desk:
    return session.context


def _limits(desk: Desk) -> Pairs:
    current = desk.template.limits
    return Pairs([("max_order_notional", current.max_order_notional),
                  ("allowed_pairs", list(current.allowed_pairs)),
                  ("max_open_orders", current.max_open_orders),
                  ("max_orders_per_minute", current.max_orders_per_minute),
                  ("max_exposure", ", ".join(f"{a}={n}" for a, n in sorted(current.max_exposure.items())) or "-")])


@actor_command(DESK_CONTROL, "limits", help="The desk's order limits, checked on every order request")
async def limits(session: Session) -> Pairs:
    return _limits(_desk(session))


@actor_command(DESK_CONTROL, "set limit", help="Change a limit: max_order_notional AMOUNT, allowed_pairs PAIR,PAIR "
               "(- for every pair), max_open_orders N, max_orders_per_minute N, max_exposure ASSET=AMOUNT (ASSET=- "
               "clears it); applies to the next order request",
               args=[Arg("name", help="which limit", choices=LIMITS), Arg("value", help="its new value")])
async def set_limit(session: Session, name: str, value: str) -> Pairs:
    desk = _desk(session)
    current = desk.template.limits
    if name == "max_order_notional":
        current.max_order_notional = positive_amount(name, value)
    elif name in ("max_open_orders", "max_orders_per_minute"):
        if not value.isdigit() or int(value) < 1:
            raise CommandError(f"{name}: expected a whole number of at least 1, got {value!r}")
        setattr(current, name, int(value))
    elif name == "max_exposure":
        asset, sep, amount = value.partition("=")
        if not sep or not asset:
            raise CommandError(f"max_exposure: expected ASSET=AMOUNT, got {value!r}")
        if amount == "-":
            current.max_exposure.pop(asset.upper(), None)
        else:
            current.max_exposure[asset.upper()] = positive_amount(name, amount)
    else:
        pairs = [] if value == "-" else [p for p in value.split(",") if p]
        unknown = [p for p in pairs if p not in desk.markets]
        if unknown:
            raise CommandError(f"unknown pair(s) {', '.join(unknown)}; this desk trades {', '.join(desk.markets)}")
        current.allowed_pairs = pairs
    desk.log.warning("limit changed", limit=name, value=value)
    return _limits(desk)


def positive_amount(name: str, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CommandError(f"{name}: expected a decimal number, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise CommandError(f"{name} must be a positive amount")
    return amount


@actor_command(DESK_CONTROL, "freq", help="Show, or set, how often the desk polls market data (seconds)",
               args=[Arg("seconds", float, help="the new period", default=None)])
async def freq(session: Session, seconds: float | None) -> Pairs:
    desk = _desk(session)
    if seconds is not None:
        if seconds < MIN_POLL_SECONDS:
            raise CommandError(f"seconds must be at least {MIN_POLL_SECONDS}")
        desk.set_poll_seconds(seconds)
    return Pairs([("poll_seconds", desk.template.market_data.poll_seconds), ("timeframe", desk.timeframe)])


@DESK_CONTROL.command("kill", help="Emergency stop: halt new orders and cancel every open order of the account; "
                      "--flatten also stops the traders and sells at market what they hold",
                      args=[Arg("flatten", bool, help="stop the traders and give back their positions"), YES_FLAG,
                            JSON_FLAG])
async def kill(session: Session, flatten: bool, yes: bool, json: bool) -> None:
    """Answer first, then work in the desk's nursery: the work stops traders and must outlive this command."""
    require_yes(yes, "kill")
    desk = _desk(session)
    desk.gate.state = TradingState.HALTED
    work = "cancelling every open order" + (", flattening and stopping the traders" if flatten else "")
    reply = Message(f"halted: {work}; 'resume --yes' allows trading again", {"trading": "halted", "flatten": flatten})
    await session.write_line(render(reply, json) or "")
    desk.nursery.start_soon(functools.partial(desk.kill, flatten=flatten))


@actor_command(DESK_CONTROL, "resume", help="Allow new orders again after a kill", args=[YES_FLAG])
async def resume(session: Session, yes: bool) -> Message:
    require_yes(yes, "resume")
    desk = _desk(session)
    await desk.resume()
    return Message("trading active", {"trading": "active"})


@actor_command(DESK_CONTROL, "journal", help="The latest journal entries, oldest first",
               args=[Arg("count", int, help="how many", default=20)])
async def journal(session: Session, count: int) -> Table:
    desk = _desk(session)
    at_least_one(count)
    await desk.journal.flush()

    def read() -> list[str]:
        with JournalReader(desk.journal_path) as reader:
            return reader.recent(count)

    entries = await trio.to_thread.run_sync(read)
    return Table(["entry"], [(entry,) for entry in entries], empty="(the journal is empty)")
