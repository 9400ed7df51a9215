"""The desk's risk commands: the trading state, the risk limits, and each trader's result."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from crypy.protocols import TradingState
from crypy.repl import Arg, CommandError, CommandRegistry, Session

from .answers import YES_FLAG, Message, Pairs, Table, actor_command, require_yes
from .desk_control import positive_amount
from .risk import ledger_pnl

if TYPE_CHECKING:
    from .desk import Desk

DESK_RISK = CommandRegistry()
SETTINGS = ("daily_loss_limit", "on_daily_loss", "flatten_on_daily_loss", "trader_max_drawdown",
            "flatten_on_shutdown", "shutdown_deadline_seconds")
STATES = tuple(str(state) for state in TradingState)
EIGHT_DECIMALS = Decimal("1e-8")
"""Results are shown to 8 decimals: exact values carry the fee's digits far beyond any asset's precision."""


def _desk(session: Session) -> Desk:
    return session.context


def _risk(desk: Desk) -> Pairs:
    settings = desk.template.risk
    return Pairs([
        ("trading", str(desk.state)),
        (f"daily P&L ({settings.quote})", desk.risk.monitor.daily_pnl.quantize(Decimal("0.01"))),
        *((name, getattr(settings, name)) for name in SETTINGS),
    ])


@actor_command(DESK_RISK, "risk", help="The trading state, today's trading P&L and the risk limits")
async def risk(session: Session) -> Pairs:
    return _risk(_desk(session))


@actor_command(DESK_RISK, "pnl", help="Each trader's realized and unrealized result, in its holder's asset")
async def pnl(session: Session) -> Table:
    desk = _desk(session)
    rows = []
    for trader, ledger in sorted(desk.gate.ledgers.items()):
        market, price = desk.markets.get(ledger.pair), desk.last_price(ledger.pair)
        total = ledger_pnl(ledger, market, price).quantize(EIGHT_DECIMALS) if market and price else None
        rows.append((trader, ledger.pair, ledger.acquired, ledger.other, ledger.realized.quantize(EIGHT_DECIMALS),
                     total, ledger.asset))
    return Table(["trader", "pair", "holds", "asset", "realized", "total", "in"], rows, empty="(no trader yet)")


def _yes_no(name: str, value: str) -> bool:
    if value not in ("yes", "no"):
        raise CommandError(f"{name}: expected yes or no, got {value!r}")
    return value == "yes"


@actor_command(DESK_RISK, "set risk", help="Change a risk setting (- clears a limit); applies at the next price",
               args=[Arg("name", help="which setting", choices=SETTINGS), Arg("value", help="its new value")])
async def set_risk(session: Session, name: str, value: str) -> Pairs:
    desk = _desk(session)
    settings = desk.template.risk
    if name == "daily_loss_limit":
        settings.daily_loss_limit = None if value == "-" else positive_amount(name, value)
    elif name == "trader_max_drawdown":
        fraction = None if value == "-" else float(positive_amount(name, value))
        if fraction is not None and fraction > 1:
            raise CommandError("trader_max_drawdown is a fraction of the approval, at most 1")
        settings.trader_max_drawdown = fraction
    elif name == "on_daily_loss":
        if value not in ("reducing", "halted"):
            raise CommandError(f"on_daily_loss: expected reducing or halted, got {value!r}")
        settings.on_daily_loss = value
    elif name == "shutdown_deadline_seconds":
        settings.shutdown_deadline_seconds = float(positive_amount(name, value))
    else:
        setattr(settings, name, _yes_no(name, value))
    desk.log.warning("risk setting changed", setting=name, value=value)
    return _risk(desk)


@actor_command(DESK_RISK, "state", help="Switch trading: active (all orders), reducing (only orders that give "
               "positions back) or halted (none; open orders stay: 'kill' cancels them)",
               args=[Arg("state", help="the new trading state", choices=STATES), YES_FLAG])
async def state(session: Session, state: str, yes: bool) -> Message:
    require_yes(yes, "state")
    desk = _desk(session)
    await desk.risk.set_state(TradingState(state), "state", f"set by a human in the desk's REPL ({session.peer})")
    return Message(f"trading {state}", {"trading": state})
