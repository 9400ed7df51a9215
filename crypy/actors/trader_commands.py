"""The trader's "trade" REPL: what a human asks one trader."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypy.repl import BUILTINS, Arg, CommandError, CommandRegistry, Session
from crypy.repl.tables import format_pairs, format_table, format_utc

if TYPE_CHECKING:
    from .trader import Trader

TRADER_COMMANDS = CommandRegistry(parents=[BUILTINS])


def _trader(session: Session) -> Trader:
    return session.context


@TRADER_COMMANDS.command("status", help="Phase, strategy, target and position of this trader")
async def status(session: Session) -> str:
    trader = _trader(session)
    proposal = trader.proposal
    last = trader.last_candle
    return format_pairs([
        ("trader", trader.name),
        ("holder", trader.parent),
        ("pair", f"{trader.market.pair} ({trader.timeframe})"),
        ("phase", trader.phase),
        ("strategy", f"{proposal.strategy} {proposal.params}" if proposal else "-"),
        ("simulated return", f"{proposal.metrics['total_return']:.2%}" if proposal else "-"),
        ("allocation", f"{trader.allocation} {trader.ledger.asset}"),
        ("target", "-" if trader.target is None else ("base" if trader.target else "quote")),
        ("in position", "yes" if trader.in_position else "no"),
        ("open orders", len(trader.open_orders)),
        ("last close", f"{last.close} ({format_utc(last.ts)} candle)" if last else "-"),
    ])


@TRADER_COMMANDS.command("position", help="What this trader holds and has realized")
async def position(session: Session) -> str:
    ledger = _trader(session).ledger
    return format_pairs([
        ("holds", f"{ledger.acquired} {ledger.other}"),
        ("committed", f"{ledger.committed} {ledger.asset}"),
        ("realized pnl", f"{ledger.realized} {ledger.asset}"),
    ])


@TRADER_COMMANDS.command("signals", help="The latest signals of this trader's strategy",
                         args=[Arg("count", int, help="how many, newest last", default=10)])
async def signals(session: Session, count: int) -> str:
    if count < 1:
        raise CommandError("count must be at least 1")
    recent = list(_trader(session).signals)[-count:]
    rows = [(format_utc(s.ts), s.strategy, s.direction, ",".join(s.tags)) for s in recent]
    return format_table(["time", "strategy", "direction", "tags"], rows, empty="(no signals yet)")
