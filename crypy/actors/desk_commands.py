"""The desk's REPL: the account, its orders, and the actors working on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypy.repl import BUILTINS, Arg, CommandError, CommandRegistry, Session
from crypy.repl.tables import format_pairs, format_table, format_utc

from .registry import format_actors

if TYPE_CHECKING:
    from .desk import Desk

DESK_COMMANDS = CommandRegistry(parents=[BUILTINS])


def _desk(session: Session) -> Desk:
    return session.context


@DESK_COMMANDS.command("status", help="Exchange, market time, orders, fills and actors of this desk")
async def status(session: Session) -> str:
    desk = _desk(session)
    registry = desk.runtime.registry
    return format_pairs([
        ("desk", desk.name),
        ("exchange time", format_utc(desk.exchange.now_ms())),
        ("trading", "halted" if desk.halted else "active"),
        ("pairs", ", ".join(f"{pair} ({desk.timeframe})" for pair in desk.markets) or "-"),
        ("order types", ", ".join(sorted(desk.capabilities.order_types)) if desk.capabilities else "-"),
        ("candles", desk.candle_count),
        ("open orders", len(desk.open_orders)),
        ("orders", len(desk.orders)),
        ("fills", desk.fill_count),
        ("refusals", len(desk.refusals)),
        ("exchange errors", desk.exchange_errors),
        ("actors", len(registry.actors())),
    ])


@DESK_COMMANDS.command("balances", help="Balances of the account as last reported by the exchange")
async def balances(session: Session) -> str:
    snapshot = _desk(session).balances
    rows = [(asset, b.total, b.held, b.available) for asset, b in sorted(snapshot.balances.items())]
    return format_table(["asset", "total", "held", "available"], rows, empty="(no balances yet)")


@DESK_COMMANDS.command("orders", help="Orders of this desk, newest last",
                       args=[Arg("which", help="open or all", default="open", choices=("open", "all"))])
async def orders(session: Session, which: str) -> str:
    desk = _desk(session)
    chosen = desk.open_orders if which == "open" else desk.orders
    rows = [(o.id, o.trader, o.pair, o.side, o.order_type, o.amount, o.price or "-", o.status, o.filled,
             o.avg_price or "-", o.fee) for o in chosen.values()]
    return format_table(["id", "trader", "pair", "side", "type", "amount", "price", "status", "filled", "avg price",
                         "fee"], rows, empty=f"(no {which} orders)")


@DESK_COMMANDS.command("fills", help="The latest fills, newest last",
                       args=[Arg("count", int, help="how many", default=10)])
async def fills(session: Session, count: int) -> str:
    if count < 1:
        raise CommandError("count must be at least 1")
    rows = [(f.id, f.trader, f.pair, f.side, f.amount, f.price, f"{f.fee} {f.fee_asset}", f.liquidity)
            for f in list(_desk(session).fills)[-count:]]
    return format_table(["id", "trader", "pair", "side", "amount", "price", "fee", "liquidity"], rows,
                        empty="(no fills yet)")


@DESK_COMMANDS.command("refusals", help="Order requests the desk or the exchange refused, newest last",
                       args=[Arg("count", int, help="how many", default=10)])
async def refusals(session: Session, count: int) -> str:
    if count < 1:
        raise CommandError("count must be at least 1")
    rows = [(format_utc(r.ts), r.trader, r.pair, r.client_id, r.reason) for r in list(_desk(session).refusals)[-count:]]
    return format_table(["time", "trader", "pair", "client id", "reason"], rows, empty="(no refusals)")


@DESK_COMMANDS.command("actors", help="Every live actor with its kind, parent, state and REPL address")
async def actors(session: Session) -> str:
    return format_actors(_desk(session).runtime.registry.actors())
