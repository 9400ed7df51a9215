"""Two runs compared trade by trade: where a backtest and a live (or paper) run disagree, and how.

Client ids cannot be matched across runs (they carry a per-process run id), so orders are matched per trader by
their place in the trader's sequence of requests: the two sequences are aligned on (side, reason), ties broken by
the closest request times, so that an order one run has and the other lacks shifts no later match. A desk's
stop-loss and take-profit (``ENTRY-sl``, ``ENTRY-tp-2``) follow their entry's match; flatten orders are the
trader's own. A trade is a fill (as Kraken calls it); the fills of each matched order are compared as a whole.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from os import PathLike
from typing import Literal

from crypy.protocols import Fill, Order, OrderRequest, Side
from crypy.repl.tables import format_table, format_utc, plain
from crypy.store import JournalReader, SchemaVersionError

DiffKind = Literal["missing", "side", "amount", "partial_fill", "fill_price", "fees", "timing"]
KINDS: tuple[DiffKind, ...] = ("missing", "side", "amount", "partial_fill", "fill_price", "fees", "timing")

_EXIT_ID = re.compile(r"^(?P<entry>.+)-(?P<kind>sl|tp)(?:-(?P<number>\d+))?$")
_EXIT_NAMES = {"sl": "stop-loss", "tp": "take-profit"}
_BAND = 64
"""How far (in orders) the alignment may stray from the proportional diagonal: bounds its cost to O(n * band)."""


class JournalDiffError(ValueError):
    """A run to compare is not a readable crypy journal; the message is one line meant for the user."""


@dataclass(frozen=True)
class OrderTrades:
    """One order of a run with its trades: the unit matched between runs."""

    client_id: str
    trader: str
    side: Side
    reason: str
    requested: int
    amount: Decimal
    outcome: str
    fills: tuple[Fill, ...]

    @property
    def filled(self) -> Decimal:
        return sum((f.amount for f in self.fills), Decimal(0))

    @property
    def avg_price(self) -> Decimal:
        return sum((f.price * f.amount for f in self.fills), Decimal(0)) / self.filled

    @property
    def fee(self) -> Decimal:
        return sum((f.fee for f in self.fills), Decimal(0))

    @property
    def fee_assets(self) -> str:
        return "/".join(sorted({f.fee_asset for f in self.fills}))

    @property
    def traded(self) -> int:
        """When its first trade happened (ms)."""
        return min(f.ts for f in self.fills)

    @property
    def label(self) -> str:
        return f"{self.side} {self.reason}"


@dataclass(frozen=True)
class Difference:
    """One way the runs disagree on a trade; ``detail`` is the sentence that explains it."""

    kind: DiffKind
    trader: str
    at: int
    order_a: str
    order_b: str
    detail: str


@dataclass(frozen=True)
class RunDiff:
    """The comparison of run A with run B: trade counts, and every difference in time order."""

    run_a: str
    run_b: str
    trades_a: int
    trades_b: int
    matched: int
    differences: tuple[Difference, ...]

    def counts(self) -> dict[str, int]:
        """Differences by kind, only the kinds that occur."""
        return {kind: n for kind in KINDS if (n := sum(d.kind == kind for d in self.differences))}

    def to_json(self) -> dict[str, object]:
        return {"run_a": self.run_a, "run_b": self.run_b, "trades_a": self.trades_a, "trades_b": self.trades_b,
                "matched": self.matched, "counts": self.counts(),
                "differences": [asdict(d) for d in self.differences]}


@dataclass(frozen=True)
class _Limits:
    price: Decimal
    time_ms: int
    timeframe_ms: int | None


@dataclass
class _Run:
    trades: int
    by_trader: dict[str, list[OrderTrades]] = field(default_factory=dict)
    exits: dict[str, dict[str, OrderTrades]] = field(default_factory=dict)
    """Entry client id -> exit name (``stop-loss``, ``take-profit #2``) -> the exit order."""


Pair = tuple[OrderTrades | None, OrderTrades | None]


def diff_journals(path_a: str | PathLike[str], path_b: str | PathLike[str], *, price_tolerance: Decimal = Decimal(0),
                  time_tolerance_ms: int = 0, timeframe_ms: int | None = None) -> RunDiff:
    """Compare the trades of two journals. ``price_tolerance`` is relative (``0.001`` = 0.1 %) and applies to
    average prices and fees; ``timeframe_ms``, when known, states timing differences in candles too.

    Raises ``FileNotFoundError`` for a missing file and ``JournalDiffError`` for a file that is no journal.
    """
    if price_tolerance < 0 or time_tolerance_ms < 0:
        raise ValueError("tolerances cannot be negative")
    a, b = _load(path_a), _load(path_b)
    limits = _Limits(price_tolerance, time_tolerance_ms, timeframe_ms)
    differences: list[Difference] = []
    matched = 0
    for x, y in _pairs(a, b):
        if x is not None and y is not None:
            matched += min(len(x.fills), len(y.fills))
        differences += _compare(x, y, limits)
    differences.sort(key=lambda d: (d.at, d.trader))
    return RunDiff(run_a=str(path_a), run_b=str(path_b), trades_a=a.trades, trades_b=b.trades, matched=matched,
                   differences=tuple(differences))


def render(diff: RunDiff) -> str:
    """A summary, then one table row per difference, for the terminal."""
    counts = ", ".join(f"{kind} {n}" for kind, n in diff.counts().items())
    lines = [f"A: {diff.run_a} ({diff.trades_a} trades)", f"B: {diff.run_b} ({diff.trades_b} trades)",
             f"matched trades: {diff.matched}",
             f"{len(diff.differences)} differences" + (f": {counts}" if counts else "")]
    if diff.differences:
        rows = [(format_utc(d.at), d.trader, d.order_a or f"B: {d.order_b}", d.kind, d.detail)
                for d in diff.differences]
        lines += ["", format_table(("at", "trader", "order", "difference", "detail"), rows)]
    return "\n".join(lines)


def _load(path: str | PathLike[str]) -> _Run:
    """Every order of a journal with its fills, per trader in request order, exits apart under their entry."""
    try:
        with JournalReader(path) as reader:
            requests, orders, fills, refusals = (reader.order_requests(), reader.orders(), reader.fills(),
                                                 reader.refusals())
    except sqlite3.DatabaseError as exc:
        raise JournalDiffError(f"{path} is not a crypy journal ({exc})") from None
    except SchemaVersionError as exc:
        raise JournalDiffError(str(exc)) from None
    client_of = {o.id: o.client_id for o in orders}
    fills_of: dict[str, list[Fill]] = {}
    for f in fills:
        fills_of.setdefault(f.client_id or client_of.get(f.order_id, f.order_id), []).append(f)
    first_request: dict[str, OrderRequest] = {}
    for r in requests:
        first_request.setdefault(r.client_id, r)
    latest = {o.client_id: o for o in orders}
    refused = {r.client_id: r.reason for r in refusals}
    ids = dict.fromkeys([*first_request, *latest, *fills_of])
    run = _Run(trades=len(fills))
    for client_id in ids:
        exit_id = _EXIT_ID.match(client_id)
        if exit_id is not None and exit_id["entry"] not in ids:
            exit_id = None
        name = ""
        if exit_id is not None:
            name = _EXIT_NAMES[exit_id["kind"]] + (f" #{exit_id['number']}" if exit_id["number"] else "")
        order = _order_trades(client_id, name, first_request.get(client_id), latest.get(client_id),
                              refused.get(client_id), fills_of.get(client_id, []))
        if exit_id is not None:
            run.exits.setdefault(exit_id["entry"], {})[name] = order
        else:
            run.by_trader.setdefault(order.trader, []).append(order)
    for sequence in run.by_trader.values():
        sequence.sort(key=lambda o: o.requested)
    return run


def _order_trades(client_id: str, exit_name: str, request: OrderRequest | None, order: Order | None,
                  refusal: str | None, fills: list[Fill]) -> OrderTrades:
    first: OrderRequest | Order | Fill = request or order or fills[0]
    if exit_name:
        reason = exit_name
    elif request is not None:
        reason = request.reason or "order"
    else:
        reason = "flatten" if "-flatten-" in client_id else (order and order.reason) or "order"
    requested = request.ts if request else (order.created or order.ts) if order else fills[0].ts
    amount = request.amount if request else order.amount if order else sum((f.amount for f in fills), Decimal(0))
    if refusal is not None:
        outcome = f"was refused ({refusal})"
    elif order is not None:
        outcome = f"ended {order.status}" if order.status.is_terminal else f"was left {order.status}"
    else:
        outcome = "was requested but never placed"
    return OrderTrades(client_id=client_id, trader=first.trader, side=first.side, reason=reason, requested=requested,
                       amount=amount, outcome=outcome, fills=tuple(fills))


def _pairs(a: _Run, b: _Run) -> list[Pair]:
    """Matched orders (or an order with ``None`` when the other run has none): traders' sequences aligned,
    then each pair's exits matched by name."""
    pairs: list[Pair] = []
    for trader in sorted(a.by_trader.keys() | b.by_trader.keys()):
        for x, y in _align(a.by_trader.get(trader, []), b.by_trader.get(trader, [])):
            pairs.append((x, y))
            exits_a = a.exits.get(x.client_id, {}) if x else {}
            exits_b = b.exits.get(y.client_id, {}) if y else {}
            pairs += [(exits_a.get(name), exits_b.get(name)) for name in dict.fromkeys([*exits_a, *exits_b])]
    return pairs


def _affinity(x: OrderTrades, y: OrderTrades) -> int:
    """How well two orders match: same side and reason 2, same reason on the other side 1, else not at all."""
    if x.reason != y.reason:
        return 0
    return 2 if x.side == y.side else 1


def _align(a: Sequence[OrderTrades], b: Sequence[OrderTrades]) -> list[Pair]:
    """The alignment of two order sequences with the most affinity, then the least total request-time distance
    (a banded Needleman-Wunsch: gaps cost nothing, so an extra order is left unmatched rather than forced)."""
    if len(a) < len(b):
        return [(x, y) for y, x in _align(b, a)]
    n, m = len(a), len(b)
    if m == 0:
        return [(x, None) for x in a]
    lo = [max(0, i * m // n - _BAND) for i in range(n + 1)]
    hi = [min(m, -(-i * m // n) + _BAND) for i in range(n + 1)]
    score: list[dict[int, tuple[int, int]]] = []
    move: list[dict[int, int]] = []  # 0: pair a[i-1] with b[j-1]; 1: a[i-1] alone; 2: b[j-1] alone
    for i in range(n + 1):
        row_score: dict[int, tuple[int, int]] = {}
        row_move: dict[int, int] = {}
        above = score[i - 1] if i else {}
        for j in range(lo[i], hi[i] + 1):
            options: list[tuple[tuple[int, int], int]] = []
            if i and j and j - 1 in above and (weight := _affinity(a[i - 1], b[j - 1])):
                total, distance = above[j - 1]
                options.append(((total + weight, distance - abs(a[i - 1].requested - b[j - 1].requested)), 0))
            if j in above:
                options.append((above[j], 1))
            if j > lo[i]:
                options.append((row_score[j - 1], 2))
            row_score[j], row_move[j] = max(options, key=lambda option: option[0]) if options else ((0, 0), 2)
        score.append(row_score)
        move.append(row_move)
    pairs: list[Pair] = []
    i, j = n, m
    while i or j:
        step = move[i][j]
        pairs.append((a[i - 1] if step != 2 else None, b[j - 1] if step != 1 else None))
        i, j = i - (step != 2), j - (step != 1)
    return pairs[::-1]


def _compare(x: OrderTrades | None, y: OrderTrades | None, limits: _Limits) -> list[Difference]:
    """The differences between one order of A and its match in B (either may be missing)."""
    if x is None or y is None:
        alone = x or y
        assert alone is not None
        if not alone.fills:
            return []
        run, other = ("A", "B") if x else ("B", "A")
        why = f"{other} has no such order"
        return [_difference("missing", x, y, f"{alone.label} traded in {run} only ({_trades(alone)}): {why}")]
    found: list[Difference] = []
    if x.side != y.side:
        found.append(_difference("side", x, y, f"{x.reason}: {x.side} in A, {y.side} in B"))
    if x.amount != y.amount:
        found.append(_difference("amount", x, y, f"{x.label} asked for {plain(x.amount)} in A, {plain(y.amount)} "
                                                 f"in B ({_signed(y.amount - x.amount)})"))
    if not x.fills or not y.fills:
        if x.fills or y.fills:
            traded, run, other = (x, "A", "B") if x.fills else (y, "B", "A")
            idle = y if x.fills else x
            found.append(_difference("missing", x, y, f"{traded.label} traded in {run} only ({_trades(traded)}): "
                                                       f"{other}'s order {idle.outcome}"))
        return found
    return found + _compare_trades(x, y, limits)


def _compare_trades(x: OrderTrades, y: OrderTrades, limits: _Limits) -> list[Difference]:
    found: list[Difference] = []
    if x.amount - x.filled != y.amount - y.filled or len(x.fills) != len(y.fills):
        found.append(_difference("partial_fill", x, y, f"{x.label} filled {_trades(x)} of {plain(x.amount)} in A, "
                                                       f"{_trades(y)} of {plain(y.amount)} in B"))
    if _beyond(x.avg_price, y.avg_price, limits.price):
        change = y.avg_price - x.avg_price
        found.append(_difference("fill_price", x, y, f"{x.label} average price {_num(x.avg_price)} in A, "
                                                     f"{_num(y.avg_price)} in B ({_signed(change)}, "
                                                     f"{change / x.avg_price:+.4%})"))
    if _beyond(x.fee, y.fee, limits.price) or x.fee_assets != y.fee_assets:
        rate_a, rate_b = _fee_rate(x), _fee_rate(y)
        why = (f"the same {rate_a} rate on a different cost" if rate_a == rate_b
               else f"rate {rate_a} in A, {rate_b} in B")
        found.append(_difference("fees", x, y, f"{x.label} paid {_num(x.fee)} {x.fee_assets} in fees in A, "
                                               f"{_num(y.fee)} {y.fee_assets} in B ({_signed(y.fee - x.fee)}): {why}"))
    late = y.traded - x.traded
    if abs(late) > limits.time_ms:
        asked = y.requested - x.requested
        why = ("though requested at the same time" if abs(asked) <= limits.time_ms
               else f"requested {_duration(abs(asked), limits.timeframe_ms)} {_when(asked)}")
        found.append(_difference("timing", x, y, f"{x.label} traded {_duration(abs(late), limits.timeframe_ms)} "
                                                 f"{_when(late)} in B, {why}"))
    return found


def _difference(kind: DiffKind, x: OrderTrades | None, y: OrderTrades | None, detail: str) -> Difference:
    either = x or y
    assert either is not None
    at = next((o.traded for o in (x, y) if o is not None and o.fills), either.requested)
    return Difference(kind=kind, trader=either.trader, at=at, order_a=x.client_id if x else "",
                      order_b=y.client_id if y else "", detail=detail)


def _beyond(a: Decimal, b: Decimal, tolerance: Decimal) -> bool:
    return abs(b - a) > tolerance * abs(a)


def _fee_rate(order: OrderTrades) -> str:
    """The fee as a share of what was traded, and whether as maker or taker: why two fees differ."""
    cost = sum((f.price * f.amount for f in order.fills), Decimal(0))
    liquidity = "/".join(sorted({f.liquidity for f in order.fills}))
    return f"{order.fee / cost:.3%} ({liquidity})" if cost else f"- ({liquidity})"


def _trades(order: OrderTrades) -> str:
    count = len(order.fills)
    return f"{plain(order.filled)} in {count} trade{'s' if count != 1 else ''} at {_num(order.avg_price)}"


def _num(value: Decimal, places: int = 10) -> str:
    """Exact when short; an average's endless digits rounded to ``places`` for reading."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        value = value.quantize(Decimal(1).scaleb(-places)).normalize()
    return plain(value)


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + _num(value)


def _when(delta_ms: int) -> str:
    return "later" if delta_ms > 0 else "earlier"


def _duration(ms: int, timeframe_ms: int | None) -> str:
    """``ms`` in the largest fitting unit, and in candles when the timeframe is known."""
    text = f"{ms} ms"
    for unit, size, threshold in (("h", 3_600_000, 7_200_000), ("min", 60_000, 120_000), ("s", 1_000, 1_000)):
        if ms >= threshold:
            text = f"{_num(Decimal(ms) / size, 2)} {unit}"
            break
    if timeframe_ms:
        candles = Decimal(ms) / timeframe_ms
        return f"{_num(candles, 2)} candle{'s' if candles != 1 else ''} ({text})"
    return text
