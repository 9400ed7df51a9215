"""A backtest's report files: ``trades.csv``, ``orders.csv``, ``equity.csv`` and ``stats.json``.

Everything is read back from the run's journal and equity curve, never from the clock of the machine, so the same
inputs and seed give the same bytes. Times are ISO 8601 UTC, amounts plain decimal strings (no exponent), ratios
floats as Python prints them; a ratio that is infinite (``profit_factor`` without a loss) is written "inf".
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import msgspec
import numpy as np

from crypy.protocols import Order
from crypy.repl.tables import format_table, plain
from crypy.store import JournalReader

from .stats import (
    EquityColumns,
    EquityCurve,
    Stats,
    TradeStats,
    breakdown,
    compute_stats,
    equity_columns,
    monthly_returns,
)
from .trades import RoundTrip, round_trips

TRADE_COLUMNS = ("trader", "pair", "strategy", "side", "entry_time", "exit_time", "entry_price", "exit_price",
                 "amount", "fees", "pnl", "pnl_quote", "return", "exit_reason")
EQUITY_COLUMNS = ("time", "ts_ms", "equity")
ORDER_COLUMNS = tuple(f.name for f in msgspec.structs.fields(Order))
BREAKDOWNS = {"by_strategy": "strategy", "by_pair": "pair", "by_exit_reason": "exit_reason"}
_TIMES = {"ts", "created", "closed", "expire_ts"}
_AS_IS = {str, int, bool, float}
"""Types of order cells that ``csv`` writes as they are."""


@dataclass(frozen=True)
class Report:
    """What a backtest wrote, and what the terminal shows of it."""

    out: Path
    stats: Stats
    trips: list[RoundTrip]
    curve: EquityCurve
    quote: str
    candles: int
    elapsed_s: float

    def render(self) -> str:
        """The statistics as an aligned table, headed by the run's span and final equity."""
        s = self.stats
        first, last = (self.curve[0], self.curve[-1]) if self.curve else ((0, Decimal(0)), (0, Decimal(0)))
        rows = [
            ("period", f"{iso_utc(first[0])} .. {iso_utc(last[0])}"),
            ("candles", self.candles),
            (f"equity ({self.quote})", f"{plain(first[1])} -> {plain(last[1])}"),
            ("total return", _percent(s.total_return)), ("CAGR", _percent(s.cagr)),
            ("trades", s.trades), ("open trades", sum(1 for trip in self.trips if trip.is_open)),
            ("win rate", _percent(s.win_rate)), ("expectancy", _percent(s.expectancy)),
            ("avg win / loss", f"{_percent(s.avg_win)} / {_percent(s.avg_loss)}"),
            ("best / worst trade", f"{_percent(s.best_trade)} / {_percent(s.worst_trade)}"),
            ("profit factor", f"{s.profit_factor:.2f}"),
            ("max drawdown", f"{_percent(s.max_drawdown)} ({plain(s.max_drawdown_value)} {self.quote}, "
                             f"{s.max_drawdown_duration / 86_400_000:.1f} days)"),
            ("sharpe / sortino", f"{s.sharpe:.2f} / {s.sortino:.2f}"), ("calmar", f"{s.calmar:.2f}"),
            ("exposure", _percent(s.exposure)), (f"fees ({self.quote})", plain(s.fees)),
            ("profitable months", _percent(s.profitable_months)),
        ]
        return format_table(("statistic", "value"), [(name, str(value)) for name, value in rows])


def write_report(out: Path, db: Path, curve: EquityCurve, *, marks: Mapping[str, Decimal], quote: str,
                 candles: int, elapsed_s: float = 0.0) -> Report:
    """Write the four files into ``out`` from the journal ``db`` and the equity ``curve``; trips still open are
    valued at ``marks`` (each pair's last close). The curve is read into columns once, for all that follows."""
    curve = equity_columns(curve)
    with JournalReader(db) as journal:
        fills, orders = journal.fills(), journal.orders()
        reasons = {request.client_id: request.reason for request in journal.order_requests()}
        strategies = {proposal.trader: proposal.strategy for proposal in journal.proposals()}
        strategies.update({signal.trader: signal.strategy for signal in journal.signals()})
    trips = round_trips(fills, reasons, strategies, marks=marks)
    stats = compute_stats(trips, curve)
    write_trades(out / "trades.csv", trips)
    write_orders(out / "orders.csv", orders)
    write_equity(out / "equity.csv", curve)
    (out / "stats.json").write_text(json.dumps(stats_json(stats, trips, curve, quote=quote, candles=candles),
                                               indent=2, sort_keys=True) + "\n")
    return Report(out=out, stats=stats, trips=trips, curve=curve, quote=quote, candles=candles,
                  elapsed_s=elapsed_s)


def write_trades(path: Path, trips: Sequence[RoundTrip]) -> None:
    """One row per round trip, in the order they opened."""
    rows = [(t.trader, t.pair, t.strategy, t.side.value, iso_utc(t.entry_ts), _iso_or_empty(t.exit_ts),
             plain(t.entry_price), _plain_or_empty(t.exit_price), plain(t.amount), plain(t.fees), plain(t.pnl),
             plain(t.pnl_quote), _ratio(t.return_), t.exit_reason) for t in trips]
    _write_csv(path, TRADE_COLUMNS, rows)


def write_orders(path: Path, orders: Sequence[Order]) -> None:
    """Every order's final state, one column per ``Order`` field, oldest order first. Cells are converted a column
    at a time: as they are when ``csv`` writes them as they are, every one the same way when all are amounts."""
    columns = zip(*map(msgspec.structs.astuple, orders), strict=True)
    cells = [_order_cells(name, column) for name, column in zip(ORDER_COLUMNS, columns, strict=False)]
    _write_csv(path, ORDER_COLUMNS, zip(*cells, strict=True))


def _order_cells(name: str, column: tuple[object, ...]) -> Sequence[object]:
    kinds = set(map(type, column))
    if name in _TIMES and kinds == {int}:  # 0 is no time
        return [stamp if ts else ts for stamp, ts in zip(_stamps(np.array(column, dtype=np.int64)), column,
                                                         strict=True)]
    if kinds <= _AS_IS and name not in _TIMES:
        return column
    if kinds == {Decimal}:
        return list(map(plain, column))
    return [_cell(name, value) for value in column]


def write_equity(path: Path, curve: EquityCurve) -> None:
    """One row per point, as ``csv`` would write them (no cell needs quoting), a chunk of rows at a time."""
    columns = equity_columns(curve)
    with path.open("w", newline="") as file:
        file.write(",".join(EQUITY_COLUMNS) + "\n")
        for chunk in range(0, len(columns), _ROWS):
            file.write("".join(_equity_rows(columns[chunk:chunk + _ROWS])))


def _equity_rows(points: EquityColumns) -> list[str]:
    times = points.times
    return [f"{stamp},{ts},{amount}\n" for stamp, ts, amount
            in zip(_stamps(times), times.tolist(), _amounts(points.values), strict=True)]


def _stamps(times: np.ndarray) -> list[str]:
    """``iso_utc`` of each time. For whole seconds (a candle's close) that is a day's date and a clock, each written
    once (a run of minutes spans a few days, every day the same clocks), else one by one."""
    if (times % 1000).any():
        return [iso_utc(ts) for ts in times.tolist()]
    days, day_at = np.unique(times // 86_400_000, return_inverse=True)
    seconds, second_at = np.unique(times // 1000 % 86_400, return_inverse=True)
    dates = np.datetime_as_string(days.astype("datetime64[D]")).tolist()
    clocks = [f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}" for second in seconds.tolist()]
    return [f"{dates[day]}T{clocks[second]}Z" for day, second in zip(day_at.tolist(), second_at.tolist(), strict=True)]


def _amounts(values: list[Decimal]) -> list[str]:
    """``plain`` of each amount. ``str`` writes the same digits, but for a zero (plain writes "0") or with an
    exponent, which a chunk is checked for at once (then plain does them all)."""
    texts = list(map(str, values))
    if _ZERO in values or "E" in "".join(texts):
        return [plain(value) for value in values]
    return texts


def stats_json(stats: Stats, trips: Sequence[RoundTrip], curve: EquityCurve, *, quote: str, candles: int
               ) -> dict[str, object]:
    """The statistics, their breakdowns by strategy, pair and exit reason, and the monthly returns."""
    return {
        "run": {"quote": quote, "candles": candles, "start": iso_utc(curve[0][0]) if curve else "",
                "end": iso_utc(curve[-1][0]) if curve else "",
                "initial_equity": plain(curve[0][1]) if curve else "0",
                "final_equity": plain(curve[-1][1]) if curve else "0",
                "open_trades": sum(1 for trip in trips if trip.is_open)},
        "stats": _json_fields(stats),
        **{name: {group: _json_fields(ts) for group, ts in breakdown(trips, key).items()}
           for name, key in BREAKDOWNS.items()},
        "monthly_returns": {f"{year:04d}-{month:02d}": _json_value(r)
                            for (year, month), r in monthly_returns(curve).items()},
    }


_ROWS = 65_536
"""Equity rows written at a time: a long backtest has a million."""
_ZERO = Decimal(0)


def iso_utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat().replace("+00:00", "Z")


def _json_fields(record: Stats | TradeStats) -> dict[str, object]:
    return {f.name: _json_value(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _cell(name: str, value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, enum.Enum):
        return value.value
    if name in _TIMES and isinstance(value, int) and value:
        return iso_utc(value)
    return value


def _ratio(value: float) -> str:
    return repr(value) if math.isfinite(value) else str(value)


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%" if math.isfinite(value) else str(value)


def _iso_or_empty(ms: int | None) -> str:
    return "" if ms is None else iso_utc(ms)


def _plain_or_empty(amount: Decimal | None) -> str:
    return "" if amount is None else plain(amount)
