"""The parts of a backtest report people look at: ``equity.png``, one ``PAIR.png`` per pair, and ``report.html``
holding the statistics, the breakdowns, the monthly returns and those charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from crypy.protocols import Candle, OrderType, timeframe_ms
from crypy.store import JournalReader

from .charts import equity_png, pair_png
from .html import report_html
from .outputs import Report, iso_utc
from .stats import breakdown, monthly_returns


def write_pictures(report: Report, db: Path, candles: Mapping[str, Sequence[Candle]]) -> list[Path]:
    """Draw the charts of ``report`` (prices from ``candles`` by pair, the replayed span only) and the HTML page;
    returns the files written."""
    with JournalReader(db) as journal:
        stops = [o for o in journal.orders() if o.order_type is OrderType.STOP_LOSS and o.trigger_price is not None]
    start = report.curve[0][0] if report.curve else 0
    images = [report.out / "equity.png"]
    equity_png(report.curve, images[0], title=f"Equity ({report.quote})")
    for pair, series in sorted(candles.items()):
        shown = [c for c in series if c.ts + timeframe_ms(c.timeframe) >= start]  # closes in the replay
        path = report.out / f"{pair.replace('/', '-')}.png"
        pair_png(pair, shown, [trip for trip in report.trips if trip.pair == pair], path,
                 stops=[(o.ts, o.trigger_price) for o in stops if o.pair == pair and o.trigger_price is not None])
        images.append(path)
    run = {"period": f"{iso_utc(report.curve[0][0])} .. {iso_utc(report.curve[-1][0])}" if report.curve else "",
           "candles": str(report.candles), "quote": report.quote}
    page = report.out / "report.html"
    report_html(page, title="crypy backtest", stats=report.stats, by_strategy=breakdown(report.trips, "strategy"),
                by_pair=breakdown(report.trips, "pair"), by_exit=breakdown(report.trips, "exit_reason"),
                monthly=monthly_returns(report.curve), images=images, run_info=run)
    return [*images, page]
