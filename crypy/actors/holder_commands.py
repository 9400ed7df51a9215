"""The holder's "invest" REPL: the capital of one asset and who uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crypy.repl import BUILTINS, CommandRegistry, Session
from crypy.repl.tables import format_pairs, format_table

if TYPE_CHECKING:
    from .holder import Holder

HOLDER_COMMANDS = CommandRegistry(parents=[BUILTINS])


def _holder(session: Session) -> Holder:
    return session.context


@HOLDER_COMMANDS.command("status", help="Capital, allocations and traders of this holder")
async def status(session: Session) -> str:
    holder = _holder(session)
    return format_pairs([
        ("holder", holder.name),
        ("asset", holder.asset),
        ("capital", f"{holder.capital} {holder.asset}"),
        ("allocated", f"{holder.allocated} {holder.asset}"),
        ("available in account", f"{holder.available} {holder.asset}"),
        ("traders", ", ".join(holder.children.names) or "-"),
        ("proposals judged", len(holder.proposals)),
    ])


@HOLDER_COMMANDS.command("allocations", help="Capital given to traders, with their approvals")
async def allocations(session: Session) -> str:
    rows = [(a.trader, a.pair, a.strategy, a.amount, a.approval_id, "yes" if a.in_position else "no")
            for a in _holder(session).allocations.values()]
    return format_table(["trader", "pair", "strategy", "amount", "approval", "in position"], rows,
                        empty="(no allocations)")


@HOLDER_COMMANDS.command("proposals", help="Proposals judged so far and the decisions taken")
async def proposals(session: Session) -> str:
    rows = [(p.trader, p.strategy, f"{p.metrics.get('total_return', 0.0):.2%}", int(p.metrics.get("trades", 0)),
             "accepted" if d.accepted else "refused", d.reason) for p, d in _holder(session).proposals]
    return format_table(["trader", "strategy", "sim return", "trades", "decision", "reason"], rows,
                        empty="(no proposals yet)")
