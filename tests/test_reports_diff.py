"""``crypy diff``: two runs' journals compared trade by trade, from hand-made journals and from real sim runs."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from crypy.protocols import Event, Fill, Order, OrderRefused, OrderRequest, OrderStatus, OrderType, Side
from crypy.reports.diff import RunDiff, diff_journals, render
from crypy.store import Journal

from .conftest import EAGER_TEMPLATES
from .processes import CRYPY, crypy_sim

T0 = 1_673_186_400_000
CANDLE = 900_000
XBT, ETH = "XBT/USD@USD", "ETH/USD@USD"


@dataclass(frozen=True)
class Trade:
    """One execution of a hand-made order."""

    ts: int
    price: str
    amount: str
    fee: str
    liquidity: str = "taker"


@dataclass(frozen=True)
class Placed:
    """A hand-made order: its request, its trades, and what became of it."""

    trader: str
    side: Side
    reason: str
    requested: int
    amount: str
    trades: tuple[Trade, ...]
    refused: str = ""
    suffix: str = ""  # "-sl" / "-tp": the desk's exit of the order placed just before


def _entry(trader: str, k: int, side: Side = Side.BUY, reason: str = "entry", price: str = "17000.0") -> Placed:
    at = T0 + k * CANDLE
    return Placed(trader=trader, side=side, reason=reason, requested=at - 60_000, amount="0.1",
                  trades=(Trade(at, price, "0.1", "4.42"),))


BASE: tuple[Placed, ...] = (
    _entry(XBT, 0),
    _entry(XBT, 2, Side.SELL, "exit", "17100.0"),
    _entry(ETH, 3, price="1300.00"),
    _entry(XBT, 5, price="17050.0"),
    _entry(XBT, 7, Side.SELL, "exit", "17200.0"),
)


def _events(run_id: str, orders: Sequence[Placed]) -> list[Event]:
    """The journal entries a desk writes for these orders, with client ids of this run's id."""
    events: list[Event] = []
    sequence: dict[str, int] = {}
    client_id = ""
    for placed in orders:
        if placed.suffix:
            client_id = f"{client_id}{placed.suffix}"
        else:
            sequence[placed.trader] = sequence.get(placed.trader, 0) + 1
            client_id = f"{placed.trader}-{run_id}-{sequence[placed.trader]}"
        amount = Decimal(placed.amount)
        events.append(OrderRequest(ts=placed.requested, client_id=client_id, trader=placed.trader, pair="XBT/USD",
                                   side=placed.side, order_type=OrderType.MARKET, amount=amount,
                                   reason=placed.reason))
        if placed.refused:
            events.append(OrderRefused(ts=placed.requested, client_id=client_id, trader=placed.trader,
                                       pair="XBT/USD", reason=placed.refused))
            continue
        order_id = f"O-{client_id}"
        for n, trade in enumerate(placed.trades):
            events.append(Fill(ts=trade.ts, id=f"T-{client_id}-{n}", order_id=order_id, client_id=client_id,
                               pair="XBT/USD", side=placed.side, price=Decimal(trade.price),
                               amount=Decimal(trade.amount), fee=Decimal(trade.fee), fee_asset="USD",
                               liquidity=trade.liquidity, trader=placed.trader))
        filled = sum((Decimal(t.amount) for t in placed.trades), Decimal(0))
        events.append(Order(ts=max((t.ts for t in placed.trades), default=placed.requested), id=order_id,
                            client_id=client_id, trader=placed.trader, pair="XBT/USD", side=placed.side,
                            order_type=OrderType.MARKET, amount=amount, price=None, filled=filled,
                            status=OrderStatus.FILLED if filled == amount else OrderStatus.CANCELLED,
                            created=placed.requested))
    return events


def _journal(path: Path, run_id: str, orders: Sequence[Placed]) -> Path:
    async def write() -> None:
        journal = Journal(path)
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            for event in _events(run_id, orders):
                await journal.record(event)
            await journal.flush()
            nursery.cancel_scope.cancel()

    trio.run(write)
    return path


def _diff(tmp_path: Path, a: Sequence[Placed], b: Sequence[Placed], *, price_tolerance: Decimal = Decimal(0),
          time_tolerance_ms: int = 0, timeframe_ms: int | None = None) -> RunDiff:
    """Both runs journaled afresh (a journal file appends), then compared."""
    runs = Path(tempfile.mkdtemp(dir=tmp_path))
    return diff_journals(_journal(runs / "a.db", "aaaaaa", a), _journal(runs / "b.db", "bbbbbb", b),
                         price_tolerance=price_tolerance, time_tolerance_ms=time_tolerance_ms,
                         timeframe_ms=timeframe_ms)


def _kinds(diff: RunDiff) -> list[str]:
    return [d.kind for d in diff.differences]


def _with_trade(orders: Sequence[Placed], index: int, **changes: Any) -> tuple[Placed, ...]:
    """``orders`` with the first trade of ``orders[index]`` changed."""
    placed = orders[index]
    trades = (replace(placed.trades[0], **changes), *placed.trades[1:])
    return (*orders[:index], replace(placed, trades=trades), *orders[index + 1:])


def test_identical_runs_have_no_differences(tmp_path: Path) -> None:
    diff = _diff(tmp_path, BASE, BASE)
    assert (diff.trades_a, diff.trades_b, diff.matched) == (5, 5, 5)
    assert diff.differences == ()
    assert "0 differences" in render(diff)


def test_one_fee_changed_is_exactly_one_fees_difference(tmp_path: Path) -> None:
    diff = _diff(tmp_path, BASE, _with_trade(BASE, 0, fee="2.21", liquidity="maker"))
    assert _kinds(diff) == ["fees"]
    (fees,) = diff.differences
    assert fees.trader == XBT and fees.order_a == f"{XBT}-aaaaaa-1" and fees.order_b == f"{XBT}-bbbbbb-1"
    assert "4.42 USD in fees in A, 2.21 USD in B (-2.21)" in fees.detail
    assert "rate 0.260% (taker) in A, 0.130% (maker) in B" in fees.detail
    assert diff.counts() == {"fees": 1} and "1 differences: fees 1" in render(diff)


def test_a_different_price_is_a_fill_price_difference_absolute_and_relative(tmp_path: Path) -> None:
    diff = _diff(tmp_path, BASE, _with_trade(BASE, 1, price="17117.1"))
    assert _kinds(diff) == ["fill_price"]
    assert "average price 17100.0 in A, 17117.1 in B (+17.1, +0.1000%)" in diff.differences[0].detail


def test_a_later_fill_is_a_timing_difference_in_candles_when_the_timeframe_is_known(tmp_path: Path) -> None:
    later = _with_trade(BASE, 2, ts=T0 + 4 * CANDLE)
    assert _kinds(_diff(tmp_path, BASE, later)) == ["timing"]
    (timing,) = _diff(tmp_path, BASE, later, timeframe_ms=CANDLE).differences
    assert timing.detail == "buy entry traded 1 candle (15 min) later in B, though requested at the same time"
    assert _diff(tmp_path, BASE, later, time_tolerance_ms=CANDLE).differences == ()


def test_a_price_within_the_tolerance_is_no_difference(tmp_path: Path) -> None:
    changed = _with_trade(BASE, 1, price="17117.1", fee="4.424")
    assert _kinds(_diff(tmp_path, BASE, changed, price_tolerance=Decimal("0.001"))) == []
    assert _kinds(_diff(tmp_path, BASE, changed, price_tolerance=Decimal("0.0009"))) == ["fill_price", "fees"]


def test_an_order_missing_in_b_is_one_difference_and_later_trades_still_match(tmp_path: Path) -> None:
    without_second_entry = BASE[:3] + BASE[4:]  # B's trader skipped an entry; its next exit is still the later one
    diff = _diff(tmp_path, BASE, without_second_entry)
    assert _kinds(diff) == ["missing"]
    (missing,) = diff.differences
    assert missing.order_a == f"{XBT}-aaaaaa-3" and missing.order_b == ""
    assert missing.detail == "buy entry traded in A only (0.1 in 1 trade at 17050.0): B has no such order"
    assert (diff.trades_a, diff.trades_b, diff.matched) == (5, 4, 4)


def test_an_order_refused_in_b_says_why_its_trade_is_missing(tmp_path: Path) -> None:
    refused = (*BASE[:3], replace(BASE[3], refused="over the trader's allocation"), *BASE[4:])
    (missing,) = _diff(tmp_path, BASE, refused).differences
    assert missing.kind == "missing" and missing.order_b == f"{XBT}-bbbbbb-3"
    assert missing.detail.endswith("B's order was refused (over the trader's allocation)")


def test_two_fills_instead_of_one_is_a_partial_fill_difference(tmp_path: Path) -> None:
    at = T0 + 3 * CANDLE
    split = (*BASE[:2], replace(BASE[2], trades=(Trade(at, "1300.00", "0.04", "1.77"),
                                                 Trade(at + CANDLE, "1300.00", "0.06", "2.65"))), *BASE[3:])
    diff = _diff(tmp_path, BASE, split)
    assert _kinds(diff) == ["partial_fill"]
    assert "0.1 in 1 trade at 1300.00 of 0.1 in A, 0.10 in 2 trades at 1300.00 of 0.1 in B" in diff.differences[0].detail
    assert (diff.trades_b, diff.matched) == (6, 5)  # the second fill of B's order has no counterpart


def test_a_less_filled_order_is_a_partial_fill_difference(tmp_path: Path) -> None:
    half = _with_trade(BASE, 0, amount="0.05", fee="2.21")
    assert _kinds(_diff(tmp_path, BASE, half)) == ["partial_fill", "fees"]


def test_exits_are_matched_through_their_entry(tmp_path: Path) -> None:
    stop = Placed(trader=XBT, side=Side.SELL, reason="stop_loss", requested=T0 + CANDLE, amount="0.1",
                  trades=(Trade(T0 + CANDLE, "16900.0", "0.1", "4.39"),), suffix="-sl")
    take = replace(stop, reason="take_profit", suffix="-tp", trades=(Trade(T0 + CANDLE, "17300.0", "0.1", "4.50"),))
    diff = _diff(tmp_path, (BASE[0], stop, *BASE[1:]), (BASE[0], take, *BASE[1:]))
    assert sorted((d.kind, d.order_a, d.order_b) for d in diff.differences) == [
        ("missing", "", f"{XBT}-bbbbbb-1-tp"), ("missing", f"{XBT}-aaaaaa-1-sl", "")]
    assert diff.matched == 5  # every trader order still matched: exits are not part of the trader's sequence
    same = _diff(tmp_path, (BASE[0], stop, *BASE[1:]), (BASE[0], stop, *BASE[1:]))
    assert (same.matched, same.differences) == (6, ())


def test_cli_exit_status_and_a_bad_file(tmp_path: Path) -> None:
    a = _journal(tmp_path / "a.db", "aaaaaa", BASE)
    b = _journal(tmp_path / "b.db", "bbbbbb", _with_trade(BASE, 1, price="17117.1"))
    differ = subprocess.run([*CRYPY, "diff", str(a), str(b), "--json"], capture_output=True, text=True, timeout=60)
    assert differ.returncode == 1, differ.stderr
    assert '"fill_price": 1' in differ.stdout
    (tmp_path / "notes.txt").write_text("not a journal\n")
    for bad, message in (("notes.txt", "is not a crypy journal"), ("absent.db", "no journal at")):
        result = subprocess.run([*CRYPY, "diff", str(a), str(tmp_path / bad)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2
        assert result.stderr.startswith("crypy: error: ") and message in result.stderr
        assert "Traceback" not in result.stderr


def test_two_real_sim_runs_compared_by_the_cli(tmp_path: Path) -> None:
    runs = []
    for name in ("a.db", "b.db"):
        with crypy_sim("--in-process", "--duration", "5", "--speed", "36000", "--repl-port", "0", "--db",
                       str(tmp_path / name), "--template-dir", str(EAGER_TEMPLATES), "--seed", "1") as sim:
            output = sim.finish()
        assert sim.process.returncode == 0, output[-3000:]
        runs.append(str(tmp_path / name))
    itself = subprocess.run([*CRYPY, "diff", runs[0], runs[0]], capture_output=True, text=True, timeout=60)
    assert itself.returncode == 0, itself.stdout + itself.stderr
    assert "0 differences" in itself.stdout
    both = subprocess.run([*CRYPY, "diff", runs[0], runs[1], "--timeframe", "15m"], capture_output=True, text=True,
                          timeout=60)
    assert both.returncode in (0, 1), both.stderr
    assert "matched trades: " in both.stdout and " differences" in both.stdout
    assert "Traceback" not in both.stderr
