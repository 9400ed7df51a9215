"""The pictures of a backtest report: the equity curve with its drawdown, and each pair's price with its trades.

Figures are drawn with matplotlib's object API (``Figure`` + ``FigureCanvasAgg``): no pyplot, so no global
figure registry and no interactive backend, which lets reports be drawn from any thread or a headless server.
The PNGs carry no software/date metadata, so the same inputs give byte-identical files (reports can be diffed
and cached). Times are UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from crypy.protocols import Candle

from .stats import equity_columns, max_drawdown
from .trades import RoundTrip

SIZE = (1200, 700)
"""Every chart's size in pixels (width, height)."""

_DPI = 100
_PNG_METADATA: dict[str, str | None] = {"Software": None}  # no matplotlib version in the file
_ENTRY_STYLE = {"marker": "^", "color": "#2ca02c", "label": "entry"}
_EXIT_STYLES: dict[str, dict[str, str]] = {
    "signal": {"marker": "v", "color": "#d62728"},
    "stop_loss": {"marker": "X", "color": "#8b0000"},
    "take_profit": {"marker": "*", "color": "#ff7f0e"},
    "flatten": {"marker": "s", "color": "#7f7f7f"},
}
_OTHER_EXIT = {"marker": "D", "color": "#9467bd"}  # any reason a plugin made up


def equity_png(curve: Sequence[tuple[int, Decimal]], path: Path, *, title: str = "Equity") -> None:
    """Equity over time above its drawdown (fraction below the running peak), the deepest one marked."""
    figure = _figure()
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    columns = equity_columns(curve)
    times = _times(columns.times)
    equity = _floats(columns.values)
    peaks = np.maximum.accumulate(equity) if len(equity) else equity
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.where(peaks > 0, equity / peaks - 1, 0.0)
    top.plot(times, equity, color="#1f77b4", linewidth=1.2)
    top.set_title(title)
    top.set_ylabel("equity")
    bottom.fill_between(times, below * 100, 0, color="#d62728", alpha=0.35, linewidth=0)
    bottom.plot(times, below * 100, color="#d62728", linewidth=0.8)
    bottom.set_ylabel("drawdown %")
    drawdown = max_drawdown(columns)
    if drawdown.fraction > 0:
        trough = int(np.argmin(below))  # the first of equally deep ones, as max_drawdown
        peak = trough - int(np.argmax(equity[trough::-1]))  # the peak's last point before the fall
        start = columns[peak][0]
        top.axvspan(times[peak], _times([start + drawdown.duration])[0], color="#d62728", alpha=0.08)
        top.plot(times[trough], equity[trough], "o", color="#d62728")
        bottom.plot(times[trough], below[trough] * 100, "o", color="#d62728")
        late = trough > len(columns) / 2  # label on the side with room, inside the axes
        bottom.annotate(f"max drawdown {drawdown.fraction:.1%}", (times[trough], below[trough] * 100),
                        xytext=(-8 if late else 8, 8), textcoords="offset points", color="#8b0000",
                        ha="right" if late else "left")
    for axes in (top, bottom):
        axes.grid(True, alpha=0.3)
    _date_axis(bottom)
    _save(figure, path)


def pair_png(pair: str, candles: Sequence[Candle], trips: Sequence[RoundTrip], path: Path, *,
             stops: Sequence[tuple[int, Decimal]] = ()) -> None:
    """``pair``'s close price with its trips' entries and exits (a marker per exit reason) and stop levels.

    Trips of other pairs are left out; ``stops`` are ``(ts_ms, level)`` points, drawn as short dashes.
    """
    figure = _figure()
    axes = figure.subplots()
    axes.plot(_times([c.ts for c in candles]), [c.close for c in candles], color="#1f77b4", linewidth=0.8,
              label="close")
    mine = [trip for trip in trips if trip.pair == pair]
    if mine:
        axes.plot(_times([t.entry_ts for t in mine]), [float(t.entry_price) for t in mine], linestyle="none",
                  markersize=8, markeredgecolor="black", markeredgewidth=0.5, **_ENTRY_STYLE)
    exits: dict[str, list[tuple[int, float]]] = {}
    for trip in mine:
        if trip.exit_ts is not None and trip.exit_price is not None:
            exits.setdefault(trip.exit_reason, []).append((trip.exit_ts, float(trip.exit_price)))
    for reason in sorted(exits):
        style = _EXIT_STYLES.get(reason, _OTHER_EXIT)
        axes.plot(_times([ts for ts, _ in exits[reason]]), [price for _, price in exits[reason]],
                  linestyle="none", markersize=8, markeredgecolor="black", markeredgewidth=0.5,
                  label=f"exit: {reason}", **style)
    if stops:
        axes.plot(_times([ts for ts, _ in stops]), [float(level) for _, level in stops], linestyle="none",
                  marker="_", markersize=10, markeredgewidth=1.5, color="#ff7f0e", label="stop")
    axes.set_title(pair)
    axes.set_ylabel(pair.split("/")[-1])
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    _date_axis(axes)
    _save(figure, path)


def _figure() -> Figure:
    return Figure(figsize=(SIZE[0] / _DPI, SIZE[1] / _DPI), dpi=_DPI, layout="constrained")


def _floats(amounts: Sequence[Decimal]) -> np.ndarray:
    """``float`` of each amount, once per stretch of equal ones (a flat equity while no trade is open)."""
    floats: list[float] = []
    last: Decimal | None = None
    value = 0.0
    for amount in amounts:
        if amount != last:
            last, value = amount, float(amount)
        floats.append(value)
    return np.array(floats, dtype=float)


def _times(timestamps: Sequence[int] | np.ndarray) -> np.ndarray:
    """Milliseconds since the epoch as datetimes matplotlib puts on a date axis."""
    return np.asarray(timestamps, dtype=np.int64).astype("datetime64[ms]")


def _date_axis(axes: Axes) -> None:
    locator = mdates.AutoDateLocator(tz=UTC)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=_DPI, metadata=_PNG_METADATA)
