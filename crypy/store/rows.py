"""Events to rows and back: the one module that knows both the protocol structs and the table columns.

Decimals travel as ``str(Decimal)`` and return through ``Decimal(text)``, which is exact (``1.10`` stays
``1.10``). Float maps go through the stdlib ``json`` because it keeps ``inf`` and ``nan`` (msgspec would turn
them into ``null``), and a strategy's metrics may legitimately be infinite.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from crypy.protocols import (
    ActorCrashed,
    ActorStarted,
    ActorStopped,
    Approval,
    Balance,
    BalanceSnapshot,
    CancelRequest,
    Decision,
    Event,
    Fill,
    Order,
    OrderRefused,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Proposal,
    RiskEvent,
    Side,
    Signal,
    TimeInForce,
    TradingState,
)

Row = tuple[Any, ...]
TableRows = tuple[tuple[str, Row], ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("seq", "ts", "order_id", "client_id", "trader", "pair", "side", "order_type", "amount", "price",
               "status", "filled", "avg_price", "fee", "created", "reason"),
    "fills": ("seq", "ts", "fill_id", "order_id", "client_id", "trader", "pair", "side", "price", "amount", "fee",
              "fee_asset", "liquidity"),
    "order_requests": ("seq", "ts", "client_id", "trader", "pair", "side", "order_type", "amount", "price",
                       "approval_id", "approval", "reason", "trigger_price", "trailing_offset", "trailing_percent",
                       "post_only", "time_in_force", "expire_ts", "stop_loss", "take_profit"),
    "cancel_requests": ("seq", "ts", "client_id", "trader"),
    "refusals": ("seq", "ts", "client_id", "trader", "pair", "reason"),
    "proposals": ("seq", "ts", "proposal_id", "trader", "holder", "pair", "strategy", "params", "metrics"),
    "decisions": ("seq", "ts", "proposal_id", "holder", "trader", "accepted", "reason", "allocation",
                  "approval_id", "approval"),
    "signals": ("seq", "ts", "trader", "pair", "strategy", "direction", "strength", "tags"),
    "positions": ("seq", "ts", "trader", "pair", "asset", "amount", "entry_price", "realized_pnl", "pnl_asset"),
    "balance_snapshots": ("seq", "ts", "account"),
    "balances": ("snapshot", "asset", "total", "held"),
    "actor_events": ("seq", "ts", "name", "event", "kind", "parent", "repl", "reason", "error", "restarts",
                     "will_restart"),
    "risk_events": ("seq", "ts", "kind", "state", "detail", "trader", "value", "limit_value", "asset"),
}
"""Column order of the tuples the encoders below produce (and of the writer's INSERTs)."""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _approval_json(approval: Approval | None) -> str | None:
    return None if approval is None else msgspec.json.encode(approval).decode()


def _approval(text: str | None) -> Approval | None:
    return None if text is None else msgspec.json.decode(text, type=Approval)


def _floats(text: str) -> dict[str, float]:
    return {key: float(value) for key, value in json.loads(text).items()}


def _order(seq: int, e: Order) -> TableRows:
    return (("orders", (seq, e.ts, e.id, e.client_id, e.trader, e.pair, str(e.side), str(e.order_type),
                        str(e.amount), _text(e.price), str(e.status), str(e.filled), _text(e.avg_price),
                        str(e.fee), e.created, e.reason)),)


def _fill(seq: int, e: Fill) -> TableRows:
    return (("fills", (seq, e.ts, e.id, e.order_id, e.client_id, e.trader, e.pair, str(e.side), str(e.price),
                       str(e.amount), str(e.fee), e.fee_asset, e.liquidity)),)


def _order_request(seq: int, e: OrderRequest) -> TableRows:
    approval_id = None if e.approval is None else e.approval.id
    return (("order_requests", (seq, e.ts, e.client_id, e.trader, e.pair, str(e.side), str(e.order_type),
                                str(e.amount), _text(e.price), approval_id, _approval_json(e.approval),
                                e.reason, _text(e.trigger_price), _text(e.trailing_offset), int(e.trailing_percent),
                                int(e.post_only), str(e.time_in_force), e.expire_ts, _text(e.stop_loss),
                                _text(e.take_profit))),)


def _cancel_request(seq: int, e: CancelRequest) -> TableRows:
    return (("cancel_requests", (seq, e.ts, e.client_id, e.trader)),)


def _refusal(seq: int, e: OrderRefused) -> TableRows:
    return (("refusals", (seq, e.ts, e.client_id, e.trader, e.pair, e.reason)),)


def _proposal(seq: int, e: Proposal) -> TableRows:
    return (("proposals", (seq, e.ts, e.id, e.trader, e.holder, e.pair, e.strategy, json.dumps(e.params),
                           json.dumps(e.metrics))),)


def _decision(seq: int, e: Decision) -> TableRows:
    approval_id = None if e.approval is None else e.approval.id
    return (("decisions", (seq, e.ts, e.proposal_id, e.holder, e.trader, int(e.accepted), e.reason,
                           str(e.allocation), approval_id, _approval_json(e.approval))),)


def _signal(seq: int, e: Signal) -> TableRows:
    return (("signals", (seq, e.ts, e.trader, e.pair, e.strategy, e.direction, e.strength, json.dumps(e.tags))),)


def _position(seq: int, e: Position) -> TableRows:
    return (("positions", (seq, e.ts, e.trader, e.pair, e.asset, str(e.amount), _text(e.entry_price),
                           str(e.realized_pnl), e.pnl_asset)),)


def _balance_snapshot(seq: int, e: BalanceSnapshot) -> TableRows:
    """One parent row, then one row per asset pointing at it (the snapshot's ``seq``)."""
    balances = tuple(("balances", (seq, b.asset, str(b.total), str(b.held))) for b in e.balances.values())
    return (("balance_snapshots", (seq, e.ts, e.account)), *balances)


def _actor_started(seq: int, e: ActorStarted) -> TableRows:
    return (("actor_events", (seq, e.ts, e.name, "started", e.kind, e.parent, e.repl, None, None, None, None)),)


def _actor_stopped(seq: int, e: ActorStopped) -> TableRows:
    return (("actor_events", (seq, e.ts, e.name, "stopped", None, None, None, e.reason, None, None, None)),)


def _actor_crashed(seq: int, e: ActorCrashed) -> TableRows:
    return (("actor_events", (seq, e.ts, e.name, "crashed", None, None, None, None, e.error, e.restarts,
                              int(e.will_restart))),)


def _risk_event(seq: int, e: RiskEvent) -> TableRows:
    return (("risk_events", (seq, e.ts, e.kind, str(e.state), e.detail, e.trader, _text(e.value), _text(e.limit),
                             e.asset)),)


ENCODERS: dict[type[Event], Callable[[int, Any], TableRows]] = {
    Order: _order, Fill: _fill, OrderRequest: _order_request, CancelRequest: _cancel_request,
    OrderRefused: _refusal, Proposal: _proposal, Decision: _decision, Signal: _signal, Position: _position,
    BalanceSnapshot: _balance_snapshot, ActorStarted: _actor_started, ActorStopped: _actor_stopped,
    ActorCrashed: _actor_crashed, RiskEvent: _risk_event,
}
"""The event types the journal records; anything else is refused at ``record`` time."""


def order(r: sqlite3.Row) -> Order:
    return Order(ts=r["ts"], id=r["order_id"], client_id=r["client_id"], trader=r["trader"], pair=r["pair"],
                 side=Side(r["side"]), order_type=OrderType(r["order_type"]), amount=Decimal(r["amount"]),
                 price=_decimal(r["price"]), status=OrderStatus(r["status"]), filled=Decimal(r["filled"]),
                 avg_price=_decimal(r["avg_price"]), fee=Decimal(r["fee"]), created=r["created"],
                 reason=r["reason"])


def fill(r: sqlite3.Row) -> Fill:
    return Fill(ts=r["ts"], id=r["fill_id"], order_id=r["order_id"], client_id=r["client_id"], trader=r["trader"],
                pair=r["pair"], side=Side(r["side"]), price=Decimal(r["price"]), amount=Decimal(r["amount"]),
                fee=Decimal(r["fee"]), fee_asset=r["fee_asset"], liquidity=r["liquidity"])


def order_request(r: sqlite3.Row) -> OrderRequest:
    return OrderRequest(ts=r["ts"], client_id=r["client_id"], trader=r["trader"], pair=r["pair"],
                        side=Side(r["side"]), order_type=OrderType(r["order_type"]), amount=Decimal(r["amount"]),
                        price=_decimal(r["price"]), approval=_approval(r["approval"]), reason=r["reason"],
                        trigger_price=_decimal(r["trigger_price"]), trailing_offset=_decimal(r["trailing_offset"]),
                        trailing_percent=bool(r["trailing_percent"]), post_only=bool(r["post_only"]),
                        time_in_force=TimeInForce(r["time_in_force"]), expire_ts=r["expire_ts"],
                        stop_loss=_decimal(r["stop_loss"]), take_profit=_decimal(r["take_profit"]))


def cancel_request(r: sqlite3.Row) -> CancelRequest:
    return CancelRequest(ts=r["ts"], client_id=r["client_id"], trader=r["trader"])


def refusal(r: sqlite3.Row) -> OrderRefused:
    return OrderRefused(ts=r["ts"], client_id=r["client_id"], trader=r["trader"], pair=r["pair"], reason=r["reason"])


def proposal(r: sqlite3.Row) -> Proposal:
    return Proposal(ts=r["ts"], id=r["proposal_id"], trader=r["trader"], holder=r["holder"], pair=r["pair"],
                    strategy=r["strategy"], params=_floats(r["params"]), metrics=_floats(r["metrics"]))


def decision(r: sqlite3.Row) -> Decision:
    return Decision(ts=r["ts"], proposal_id=r["proposal_id"], holder=r["holder"], trader=r["trader"],
                    accepted=bool(r["accepted"]), reason=r["reason"], allocation=Decimal(r["allocation"]),
                    approval=_approval(r["approval"]))


def signal(r: sqlite3.Row) -> Signal:
    """SQLite stores a NaN REAL as NULL, so NULL strength reads back as NaN."""
    strength = math.nan if r["strength"] is None else r["strength"]
    return Signal(ts=r["ts"], trader=r["trader"], pair=r["pair"], strategy=r["strategy"], direction=r["direction"],
                  strength=strength, tags=tuple(json.loads(r["tags"])))


def position(r: sqlite3.Row) -> Position:
    return Position(ts=r["ts"], trader=r["trader"], pair=r["pair"], asset=r["asset"], amount=Decimal(r["amount"]),
                    entry_price=_decimal(r["entry_price"]), realized_pnl=Decimal(r["realized_pnl"]),
                    pnl_asset=r["pnl_asset"])


def balance_snapshot(r: sqlite3.Row, balances: list[sqlite3.Row]) -> BalanceSnapshot:
    return BalanceSnapshot(ts=r["ts"], account=r["account"], balances={
        b["asset"]: Balance(asset=b["asset"], total=Decimal(b["total"]), held=Decimal(b["held"])) for b in balances
    })


def actor_event(r: sqlite3.Row) -> ActorStarted | ActorStopped | ActorCrashed:
    if r["event"] == "started":
        return ActorStarted(ts=r["ts"], name=r["name"], kind=r["kind"], parent=r["parent"], repl=r["repl"])
    if r["event"] == "stopped":
        return ActorStopped(ts=r["ts"], name=r["name"], reason=r["reason"])
    return ActorCrashed(ts=r["ts"], name=r["name"], error=r["error"], restarts=r["restarts"],
                        will_restart=bool(r["will_restart"]))


def risk_event(r: sqlite3.Row) -> RiskEvent:
    return RiskEvent(ts=r["ts"], kind=r["kind"], state=TradingState(r["state"]), detail=r["detail"],
                     trader=r["trader"], value=_decimal(r["value"]), limit=_decimal(r["limit_value"]),
                     asset=r["asset"])
