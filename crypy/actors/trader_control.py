"""The trader's steering commands: its parameters, evaluation, manual orders, pause and retirement.

Manual orders carry the trader's holder approval and pass the desk's gate like automatic ones, so a human
at a trader's REPL can do no more than the trader itself may.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from crypy.protocols import OrderRefused, Side
from crypy.repl import Arg, CommandError, CommandRegistry, Session

from .answers import JSON_FLAG, YES_FLAG, Message, Pairs, actor_command, render, require_yes

if TYPE_CHECKING:
    from .trader import Trader

TRADER_CONTROL = CommandRegistry()


def _trader(session: Session) -> Trader:
    return session.context


@actor_command(TRADER_CONTROL, "set param", help="Change one strategy parameter; the live strategy restarts with it",
               args=[Arg("name", help="the parameter, as listed by 'params'"), Arg("value", float, help="its value")])
async def set_param(session: Session, name: str, value: float) -> Message:
    trader = _trader(session)
    if trader.proposal is None:
        raise CommandError(f"{trader.name} has no strategy yet (phase {trader.phase})")
    params = dict(trader.proposal.params)
    if name not in params:
        raise CommandError(f"unknown parameter {name!r}; {trader.proposal.strategy} has {', '.join(params)}")
    params[name] = value
    try:
        await trader.set_params(params)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Message(f"{trader.proposal.strategy} restarted with {params}", {"params": params, "target": trader.target})


@actor_command(TRADER_CONTROL, "evaluate", help="Simulate the template's strategies on the desk's history now")
async def evaluate(session: Session) -> Pairs:
    trader = _trader(session)
    try:
        best = await trader.reevaluate()
    except TimeoutError:
        raise CommandError("the desk did not send the history") from None
    if best is None:
        raise CommandError("not enough history to evaluate any strategy")
    return Pairs([("strategy", best.strategy), ("params", best.params),
                  ("exits", {k: v for k, v in best.exits.items() if v is not None}),
                  *((k, round(v, 6)) for k, v in best.metrics.items())])


async def _order(session: Session, side: Side, amount: Decimal, price: Decimal | None) -> Message:
    trader = _trader(session)
    if amount <= 0 or (price is not None and price <= 0):
        raise CommandError("amount and price must be positive")
    try:
        answer = await trader.manual_order(side, amount, price)
    except TimeoutError:
        raise CommandError("the desk did not answer the order request") from None
    if isinstance(answer, OrderRefused):
        raise CommandError(f"refused: {answer.reason}")
    return Message(f"order {answer.id} {answer.side} {answer.amount} {trader.market.pair}: {answer.status}",
                   {"id": answer.id, "client_id": answer.client_id, "side": answer.side, "amount": answer.amount,
                    "price": answer.price, "status": answer.status})


ORDER_ARGS = [Arg("amount", Decimal, help="in the pair's base asset"),
              Arg("price", Decimal, help="a limit price (default: a market order)", default=None), YES_FLAG]


@actor_command(TRADER_CONTROL, "buy", help="Buy under this trader's approval (through the desk's gate)",
               args=ORDER_ARGS)
async def buy(session: Session, amount: Decimal, price: Decimal | None, yes: bool) -> Message:
    require_yes(yes, "buy")
    return await _order(session, Side.BUY, amount, price)


@actor_command(TRADER_CONTROL, "sell", help="Sell under this trader's approval (through the desk's gate)",
               args=ORDER_ARGS)
async def sell(session: Session, amount: Decimal, price: Decimal | None, yes: bool) -> Message:
    require_yes(yes, "sell")
    return await _order(session, Side.SELL, amount, price)


@actor_command(TRADER_CONTROL, "close", help="Give back at market what this trader holds, and pause it",
               args=[YES_FLAG])
async def close(session: Session, yes: bool) -> Message:
    """Pausing too, or the strategy would enter again at its next candle."""
    require_yes(yes, "close")
    trader = _trader(session)
    side, amount = trader.close_order()
    if amount <= 0:
        raise CommandError(f"{trader.name} holds nothing it could sell")
    await trader.set_paused(True)
    return await _order(session, side, amount, None)


@actor_command(TRADER_CONTROL, "pause", help="Stop sending automatic orders (signals are still followed)")
async def pause(session: Session) -> Message:
    await _trader(session).set_paused(True)
    return Message("paused", {"paused": True})


@actor_command(TRADER_CONTROL, "resume", help="Send automatic orders again, trading to the strategy's target")
async def resume(session: Session) -> Message:
    await _trader(session).set_paused(False)
    return Message("trading", {"paused": False})


@TRADER_CONTROL.command("retire", help="Stop this trader (its holder may create a fresh one later)",
                        args=[YES_FLAG, JSON_FLAG])
async def retire(session: Session, yes: bool, json: bool) -> None:
    """Answer first: stopping the trader closes its REPL, this session included."""
    require_yes(yes, "retire")
    trader = _trader(session)
    await session.write_line(render(Message(f"{trader.name} retiring", {"trader": trader.name}), json) or "")
    trader.phase = "retired"
    trader.request_stop()
