"""The desk's REPL: the account, its markets and orders, and the actors working on it.

The commands that steer the desk (limits, poll period, kill switch) are in ``desk_control.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypy.exchanges import ExchangeError
from crypy.repl import Arg, CommandError, CommandRegistry, Session
from crypy.repl.tables import format_utc

from .answers import JSON_FLAG, Pairs, Table, actor_command, at_least_one, render
from .common_commands import COMMON_COMMANDS
from .desk_control import DESK_CONTROL
from .desk_risk_commands import DESK_RISK
from .registry import format_actors

if TYPE_CHECKING:
    from .desk import Desk

DESK_COMMANDS = CommandRegistry(parents=[COMMON_COMMANDS, DESK_CONTROL, DESK_RISK])


def _desk(session: Session) -> Desk:
    return session.context


def _known_pair(desk: Desk, pair: str) -> str:
    if pair not in desk.markets:
        raise CommandError(f"unknown pair {pair!r}; this desk trades {', '.join(desk.markets) or 'nothing'}")
    return pair


@actor_command(DESK_COMMANDS, "status", help="Exchange, market time, orders, fills and actors of this desk")
async def status(session: Session) -> Pairs:
    desk = _desk(session)
    return Pairs([
        ("desk", desk.name),
        ("exchange time", format_utc(desk.exchange.now_ms())),
        ("trading", str(desk.state)),
        ("pairs", ", ".join(f"{pair} ({desk.timeframe})" for pair in desk.markets) or "-"),
        ("order types", ", ".join(sorted(desk.capabilities.order_types)) if desk.capabilities else "-"),
        ("candles", desk.candle_count),
        ("open orders", len(desk.open_orders)),
        ("orders", len(desk.orders)),
        ("fills", desk.fill_count),
        ("refusals", len(desk.refusals)),
        ("exchange errors", desk.exchange_errors),
        ("actors", len(desk.runtime.registry.actors())),
    ])


@actor_command(DESK_COMMANDS, "balances", help="Balances of the account as last reported by the exchange")
async def balances(session: Session) -> Table:
    snapshot = _desk(session).balances
    rows = [(asset, b.total, b.held, b.available) for asset, b in sorted(snapshot.balances.items())]
    return Table(["asset", "total", "held", "available"], rows, empty="(no balances yet)")


@actor_command(DESK_COMMANDS, "markets", help="Traded pairs with their precision, minimums and fees")
async def markets(session: Session) -> Table:
    rows = [(m.pair, m.base, m.quote, m.price_decimals, m.amount_decimals, m.min_amount, m.min_cost, m.maker_fee,
             m.taker_fee) for m in _desk(session).markets.values()]
    return Table(["pair", "base", "quote", "price decimals", "amount decimals", "min amount", "min cost",
                  "maker fee", "taker fee"], rows, empty="(no markets)")


@actor_command(DESK_COMMANDS, "ticker", help="Best bid, ask and last price of a pair, asked from the exchange now",
               args=[Arg("pair", help="e.g. XBT/USD")])
async def ticker(session: Session, pair: str) -> Pairs:
    desk = _desk(session)
    try:
        quote = await desk.exchange.ticker(_known_pair(desk, pair))
    except ExchangeError as exc:
        raise CommandError(f"the exchange did not answer: {exc}") from None
    return Pairs([("pair", quote.pair), ("bid", quote.bid), ("ask", quote.ask), ("last", quote.last),
                  ("time", format_utc(quote.ts))])


@actor_command(DESK_COMMANDS, "candles", help="The latest closed candles of a pair from the desk's history",
               args=[Arg("pair", help="e.g. XBT/USD"), Arg("count", int, help="how many, newest last", default=10)])
async def candles(session: Session, pair: str, count: int) -> Table:
    desk = _desk(session)
    recent = list(desk.history[_known_pair(desk, pair)])[-at_least_one(count):]
    rows = [(format_utc(c.ts), c.open, c.high, c.low, c.close, round(c.volume, 8)) for c in recent]
    return Table(["time", "open", "high", "low", "close", "volume"], rows, empty="(no candles yet)")


@actor_command(DESK_COMMANDS, "orders", help="Orders of this desk, newest last",
               args=[Arg("which", help="open or all", default="open", choices=("open", "all"))])
async def orders(session: Session, which: str) -> Table:
    desk = _desk(session)
    chosen = desk.open_orders if which == "open" else desk.orders
    rows = [(o.id, o.trader, o.pair, o.side, o.order_type, o.amount, o.price or "-", o.status, o.filled,
             o.avg_price or "-", o.fee) for o in chosen.values()]
    return Table(["id", "trader", "pair", "side", "type", "amount", "price", "status", "filled", "avg price", "fee"],
                 rows, empty=f"(no {which} orders)")


@actor_command(DESK_COMMANDS, "fills", help="The latest fills, newest last",
               args=[Arg("count", int, help="how many", default=10)])
async def fills(session: Session, count: int) -> Table:
    rows = [(f.id, f.trader, f.pair, f.side, f.amount, f.price, f"{f.fee} {f.fee_asset}", f.liquidity)
            for f in list(_desk(session).fills)[-at_least_one(count):]]
    return Table(["id", "trader", "pair", "side", "amount", "price", "fee", "liquidity"], rows,
                 empty="(no fills yet)")


@actor_command(DESK_COMMANDS, "refusals", help="Order requests the desk or the exchange refused, newest last",
               args=[Arg("count", int, help="how many", default=10)])
async def refusals(session: Session, count: int) -> Table:
    rows = [(format_utc(r.ts), r.trader, r.pair, r.client_id, r.reason)
            for r in list(_desk(session).refusals)[-at_least_one(count):]]
    return Table(["time", "trader", "pair", "client id", "reason"], rows, empty="(no refusals)")


@actor_command(DESK_COMMANDS, "holders", help="The holders of this desk: asset, capital and traders")
async def holders(session: Session) -> Table:
    rows = [(h.name, h.asset, h.capital, h.allocated, len(h.children.names), h.repl_address)
            for h in _desk(session).holders()]
    return Table(["holder", "asset", "capital", "allocated", "traders", "repl"], rows, empty="(no holders)")


@actor_command(DESK_COMMANDS, "traders", help="Every trader of every holder: phase, allocation and position")
async def traders(session: Session) -> Table:
    rows = [(t.name, t.parent, t.phase, t.proposal.strategy if t.proposal else "-", t.allocation,
             "yes" if t.in_position else "no", t.repl_address) for t in _desk(session).traders()]
    return Table(["trader", "holder", "phase", "strategy", "allocation", "in position", "repl"], rows,
                 empty="(no traders)")


@DESK_COMMANDS.command("actors", help="Every live actor with its kind, parent, state and REPL address",
                       args=[JSON_FLAG])
async def actors(session: Session, json: bool) -> str:
    """Rendered by the registry itself (``crypy ps`` prints the same table), so it bypasses ``Table``."""
    listed = _desk(session).runtime.registry.actors()
    if not json:
        return format_actors(listed)
    return render(Table(["name", "kind", "parent", "state", "repl", "restarts"],
                        [(a.name, a.kind, a.parent, a.state, a.repl, a.restarts) for a in listed]), True) or ""
