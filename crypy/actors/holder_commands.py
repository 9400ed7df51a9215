"""The holder's "invest" REPL: the capital of one asset, who uses it, and the decisions on proposals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypy.repl import Arg, CommandError, CommandRegistry, Session
from crypy.repl.tables import plain

from .answers import YES_FLAG, Message, Pairs, Table, actor_command, require_yes
from .common_commands import COMMON_COMMANDS

if TYPE_CHECKING:
    from .holder import Holder

HOLDER_COMMANDS = CommandRegistry(parents=[COMMON_COMMANDS])
CRITERIA = ("min_return", "min_trades", "max_drawdown", "manual")
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _holder(session: Session) -> Holder:
    return session.context


@actor_command(HOLDER_COMMANDS, "status", help="Capital, allocations and traders of this holder")
async def status(session: Session) -> Pairs:
    holder = _holder(session)
    return Pairs([
        ("holder", holder.name),
        ("asset", holder.asset),
        ("capital", f"{plain(holder.capital)} {holder.asset}"),
        ("allocated", f"{plain(holder.allocated)} {holder.asset}"),
        ("available in account", f"{plain(holder.available)} {holder.asset}"),
        ("traders", ", ".join(holder.children.names) or "-"),
        ("proposals judged", len(holder.proposals)),
        ("proposals waiting", len(holder.pending)),
    ])


@actor_command(HOLDER_COMMANDS, "capital",
               help="This holder's capital: given, in positions, free, allocated, and the next share")
async def capital(session: Session) -> Pairs:
    holder = _holder(session)
    return Pairs([
        ("asset", holder.asset),
        ("capital", holder.capital),
        ("committed", holder.sub_ledger.committed),
        ("realized", holder.sub_ledger.realized),
        ("free", holder.sub_ledger.free),
        ("allocated", holder.allocated),
        ("unallocated", holder.sub_ledger.unallocated),
        ("available in account", holder.available),
        ("fraction per allocation", holder.template.allocation.fraction),
        ("next allocation", holder.next_allocation()),
    ])


@actor_command(HOLDER_COMMANDS, "allocations", help="Capital given to traders, with their approvals")
async def allocations(session: Session) -> Table:
    rows = [(a.trader, a.pair, a.strategy, a.amount, a.approval_id, "yes" if a.in_position else "no")
            for a in _holder(session).allocations.values()]
    return Table(["trader", "pair", "strategy", "amount", "approval", "in position"], rows, empty="(no allocations)")


@actor_command(HOLDER_COMMANDS, "traders", help="The traders of this holder: phase, strategy, allocation")
async def traders(session: Session) -> Table:
    holder = _holder(session)
    rows = []
    for name in holder.children.names:
        trader = holder.children.actor(name)
        if trader is not None:
            strategy = getattr(trader, "proposal", None)
            rows.append((name, getattr(trader, "phase", "-"), strategy.strategy if strategy else "-",
                         getattr(trader, "allocation", 0), trader.repl_address))
    return Table(["trader", "phase", "strategy", "allocation", "repl"], rows, empty="(no traders)")


@actor_command(HOLDER_COMMANDS, "proposals", help="Proposals waiting for a decision, then those judged so far")
async def proposals(session: Session) -> Table:
    holder = _holder(session)
    rows = [(p.id, p.trader, p.strategy, f"{p.metrics.get('total_return', 0.0):.2%}", int(p.metrics.get("trades", 0)),
             "waiting", holder.refusal_reason(p) or "meets the criteria") for p in holder.pending.values()]
    rows += [(p.id, p.trader, p.strategy, f"{p.metrics.get('total_return', 0.0):.2%}", int(p.metrics.get("trades", 0)),
              "accepted" if d.accepted else "refused", d.reason) for p, d in holder.proposals]
    return Table(["id", "trader", "strategy", "sim return", "trades", "decision", "reason"], rows,
                 empty="(no proposals yet)")


async def _decide(session: Session, proposal_id: str, *, accept: bool, reason: str) -> Message:
    try:
        decision = await _holder(session).decide_pending(proposal_id, accept=accept, reason=reason)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if decision.accepted:
        verdict = f"accepted, {plain(decision.allocation)} allocated"
    else:
        verdict = f"refused: {decision.reason}"
    return Message(f"{decision.trader}: {verdict}", {"proposal": proposal_id, "trader": decision.trader,
                                                    "accepted": decision.accepted, "allocation": decision.allocation,
                                                    "reason": decision.reason})


@actor_command(HOLDER_COMMANDS, "accept", help="Fund a proposal that waits for a manual decision",
               args=[Arg("id", help="the proposal id, as listed by 'proposals'")])
async def accept(session: Session, id: str) -> Message:  # noqa: A002 - the name users see in help
    return await _decide(session, id, accept=True, reason="accepted by hand")


@actor_command(HOLDER_COMMANDS, "refuse", help="Refuse a proposal that waits for a manual decision",
               args=[Arg("id", help="the proposal id, as listed by 'proposals'"),
                     Arg("reason", help="why, for the trader and the journal", default="refused by hand", rest=True)])
async def refuse(session: Session, id: str, reason: str) -> Message:  # noqa: A002
    return await _decide(session, id, accept=False, reason=reason)


def _criteria(holder: Holder) -> Pairs:
    return Pairs([(name, getattr(holder.criteria, name)) for name in CRITERIA])


@actor_command(HOLDER_COMMANDS, "criteria", help="What a proposal needs to be funded (manual: a human decides)")
async def criteria(session: Session) -> Pairs:
    return _criteria(_holder(session))


def _parse_criterion(name: str, value: str) -> float | int | bool:
    if name == "manual":
        if value.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise CommandError(f"manual: expected true or false, got {value!r}")
        return value.lower() in TRUE_WORDS
    try:
        return int(value) if name == "min_trades" else float(value)
    except ValueError:
        raise CommandError(f"{name}: expected {'an integer' if name == 'min_trades' else 'a number'}, "
                           f"got {value!r}") from None


@actor_command(HOLDER_COMMANDS, "set criterion", help="Change one criterion for the next proposals",
               args=[Arg("name", help="which criterion", choices=CRITERIA), Arg("value", help="its new value")])
async def set_criterion(session: Session, name: str, value: str) -> Pairs:
    holder = _holder(session)
    setattr(holder.criteria, name, _parse_criterion(name, value))
    holder.log.info("criterion changed", criterion=name, value=value)
    if not holder.criteria.manual and holder.pending:
        await holder.judge_pending()
    return _criteria(holder)


@actor_command(HOLDER_COMMANDS, "spawn", help="Create a trader on a pair now", args=[Arg("pair", help="e.g. XBT/USD")])
async def spawn(session: Session, pair: str) -> Message:
    try:
        name = await _holder(session).spawn(pair)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Message(f"{name} started", {"trader": name})


@actor_command(HOLDER_COMMANDS, "retire", help="Stop the trader of a pair and do not create it again",
               args=[Arg("pair", help="e.g. XBT/USD"), YES_FLAG])
async def retire(session: Session, pair: str, yes: bool) -> Message:
    require_yes(yes, "retire")
    try:
        name = await _holder(session).retire(pair)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Message(f"{name} retired", {"trader": name})
