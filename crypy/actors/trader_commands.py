"""The trader's "trade" REPL: what a human asks one trader. Steering commands are in ``trader_control.py``."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from crypy.repl import Arg, CommandRegistry, Session
from crypy.repl.tables import format_utc, plain

from .answers import Pairs, Table, actor_command, at_least_one
from .common_commands import COMMON_COMMANDS
from .trader_control import TRADER_CONTROL

if TYPE_CHECKING:
    from .trader import Trader

TRADER_COMMANDS = CommandRegistry(parents=[COMMON_COMMANDS, TRADER_CONTROL])


def _trader(session: Session) -> Trader:
    return session.context


@actor_command(TRADER_COMMANDS, "status", help="Phase, strategy, target and position of this trader")
async def status(session: Session) -> Pairs:
    trader = _trader(session)
    proposal = trader.proposal
    last = trader.last_candle
    return Pairs([
        ("trader", trader.name),
        ("holder", trader.parent),
        ("pair", f"{trader.market.pair} ({trader.timeframe})"),
        ("phase", trader.phase),
        ("paused", "yes" if trader.paused else "no"),
        ("strategy", f"{proposal.strategy} {proposal.params}" if proposal else "-"),
        ("simulated return", f"{proposal.metrics['total_return']:.2%}" if proposal else "-"),
        ("allocation", f"{plain(trader.allocation)} {trader.ledger.asset}"),
        ("approval", trader.approval.id if trader.approval else "-"),
        ("target", "-" if trader.target is None else f"{trader.target:g} ({trader.market.base} exposure)"),
        ("in position", "yes" if trader.in_position else "no"),
        ("open orders", len(trader.open_orders)),
        ("last close", f"{last.close} ({format_utc(last.ts)} candle)" if last else "-"),
    ])


@actor_command(TRADER_COMMANDS, "position", help="What this trader holds and has realized")
async def position(session: Session) -> Pairs:
    ledger = _trader(session).ledger
    return Pairs([
        ("holds", f"{plain(ledger.acquired)} {ledger.other}"),
        ("committed", f"{plain(ledger.committed)} {ledger.asset}"),
        ("realized pnl", f"{plain(ledger.realized)} {ledger.asset}"),
    ])


@actor_command(TRADER_COMMANDS, "pnl", help="Realized and unrealized profit, in the holder's asset")
async def pnl(session: Session) -> Pairs:
    """Unrealized: what the holding would give back at the last close (before fees), less its cost."""
    trader = _trader(session)
    ledger, last = trader.ledger, trader.last_candle
    unrealized: Decimal | str = "-"
    if last is not None:
        price = Decimal(repr(last.close))
        value = ledger.acquired * price if ledger.holder_holds_quote else ledger.acquired / price
        unrealized = value - ledger.committed
    total = ledger.realized + unrealized if isinstance(unrealized, Decimal) else "-"
    return Pairs([("asset", ledger.asset), ("realized", ledger.realized), ("unrealized", unrealized),
                  ("total", total), ("allocation", trader.allocation)])


@actor_command(TRADER_COMMANDS, "strategy", help="The strategy this trader proposed and trades, with its metrics")
async def strategy(session: Session) -> Pairs:
    proposal = _trader(session).proposal
    if proposal is None:
        return Pairs([("strategy", "-")])
    return Pairs([("strategy", proposal.strategy), ("params", proposal.params), ("proposal", proposal.id),
                  *((name, round(value, 6)) for name, value in proposal.metrics.items())])


@actor_command(TRADER_COMMANDS, "params", help="The live strategy's parameters")
async def params(session: Session) -> Table:
    proposal = _trader(session).proposal
    rows = [(name, value) for name, value in proposal.params.items()] if proposal else []
    return Table(["name", "value"], rows, empty="(no strategy yet)")


@actor_command(TRADER_COMMANDS, "signals", help="The latest signals of this trader's strategy",
               args=[Arg("count", int, help="how many, newest last", default=10)])
async def signals(session: Session, count: int) -> Table:
    recent = list(_trader(session).signals)[-at_least_one(count):]
    rows = [(format_utc(s.ts), s.strategy, s.direction, ",".join(s.tags)) for s in recent]
    return Table(["time", "strategy", "direction", "tags"], rows, empty="(no signals yet)")
