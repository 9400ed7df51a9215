"""One readable line per journal row, for a human skimming the journal at the REPL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _at(price: str | None) -> str:
    return "" if price is None else f" @ {price}"


def _because(reason: str | None) -> str:
    return f" ({reason})" if reason else ""


def _figures(r: sqlite3.Row, labels: tuple[tuple[str, str], ...]) -> str:
    """`` label value`` for each (label, column) of ``r`` that is not NULL."""
    return "".join(f" {label} {r[column]}" for label, column in labels if r[column] is not None)


def _order(r: sqlite3.Row) -> str:
    filled = f" filled {r['filled']}{_at(r['avg_price'])} fee {r['fee']}" if Decimal(r["filled"]) else ""
    return (f"order {r['order_id']} [{r['client_id']}] {r['trader'] or '-'}: {r['side']} {r['order_type']} "
            f"{r['amount']} {r['pair']}{_at(r['price'])} -> {r['status']}{filled}{_because(r['reason'])}")


def _fill(r: sqlite3.Row) -> str:
    return (f"fill {r['fill_id']} of {r['order_id']} {r['trader'] or '-'}: {r['side']} {r['amount']} {r['pair']} "
            f"@ {r['price']} fee {r['fee']} {r['fee_asset']} {r['liquidity']}")


def _order_request(r: sqlite3.Row) -> str:
    approval = f" approval {r['approval_id']}" if r["approval_id"] else ""
    prices = _figures(r, (("trigger", "trigger_price"), ("stop loss", "stop_loss"), ("take profit", "take_profit")))
    return (f"request [{r['client_id']}] {r['trader']}: {r['side']} {r['order_type']} {r['amount']} "
            f"{r['pair']}{_at(r['price'])}{prices}{approval}{_because(r['reason'])}")


def _cancel_request(r: sqlite3.Row) -> str:
    return f"cancel [{r['client_id']}] {r['trader']}"


def _refusal(r: sqlite3.Row) -> str:
    return f"refused [{r['client_id']}] {r['trader']} {r['pair']}: {r['reason']}"


def _proposal(r: sqlite3.Row) -> str:
    return f"proposal {r['proposal_id']} {r['trader']} -> {r['holder']}: {r['strategy']} on {r['pair']} {r['metrics']}"


def _decision(r: sqlite3.Row) -> str:
    verdict = f"accepted, allocation {r['allocation']}" if r["accepted"] else "rejected"
    return f"decision on {r['proposal_id']} {r['holder']} -> {r['trader']}: {verdict}{_because(r['reason'])}"


def _signal(r: sqlite3.Row) -> str:
    return (f"signal {r['trader']} {r['pair']} {r['strategy']}: direction {r['direction']:+d} "
            f"strength {r['strength']}")


def _position(r: sqlite3.Row) -> str:
    entry = f" entry {r['entry_price']}" if r["entry_price"] is not None else ""
    realized = f"realized {r['realized_pnl']} {r['pnl_asset']}".rstrip()
    return f"position {r['trader']} {r['pair']}: {r['amount']} {r['asset']}{entry} {realized}"


def _actor_event(r: sqlite3.Row) -> str:
    if r["event"] == "started":
        return f"actor {r['name']} started ({r['kind']} under {r['parent'] or '-'})"
    if r["event"] == "stopped":
        return f"actor {r['name']} stopped{_because(r['reason'])}"
    then = "will restart" if r["will_restart"] else "gives up"
    return f"actor {r['name']} crashed after {r['restarts']} restarts, {then}: {r['error']}"


def _risk_event(r: sqlite3.Row) -> str:
    figures = _figures(r, (("value", "value"), ("limit", "limit_value")))
    asset = f" {r['asset']}" if figures and r["asset"] else ""
    return f"risk {r['kind']} {r['trader'] or 'desk'} -> {r['state']}: {r['detail']}{figures}{asset}"


_LINES: dict[str, Callable[[sqlite3.Row], str]] = {
    "orders": _order, "fills": _fill, "order_requests": _order_request, "cancel_requests": _cancel_request,
    "refusals": _refusal, "proposals": _proposal, "decisions": _decision, "signals": _signal,
    "positions": _position, "actor_events": _actor_event, "risk_events": _risk_event,
}


def describe(conn: sqlite3.Connection, table: str, r: sqlite3.Row) -> str:
    """``#seq time text`` for row ``r`` of ``table``; a balance snapshot reads its assets through ``conn``."""
    if table == "balance_snapshots":
        assets = conn.execute("SELECT * FROM balances WHERE snapshot = ? ORDER BY asset", (r["seq"],))
        parts = [f"{b['asset']} {b['total']}" + (f" (held {b['held']})" if Decimal(b["held"]) else "") for b in assets]
        text = f"balances {r['account']}: {', '.join(parts) or 'none'}"
    else:
        text = _LINES[table](r)
    return f"#{r['seq']} {_when(r['ts'])} {text}"
