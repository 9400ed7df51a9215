"""Report charts and HTML page, drawn from real candles and trips filled at their closes."""

from __future__ import annotations

import html
import re
from decimal import Decimal as D
from pathlib import Path

import pytest
from matplotlib.image import imread

from crypy.protocols import Candle, Fill, Side
from crypy.reports import RoundTrip, Stats, breakdown, compute_stats, monthly_returns, round_trips
from crypy.reports.charts import SIZE, _floats, equity_png, pair_png
from crypy.reports.html import duration, report_html
from crypy.reports.stats import equity_columns

from .conftest import real_candles

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUOTE_HOLDER = "XBT/USD@USD"
BASE_HOLDER = "XBT/USD@XBT"
STRATEGIES = {QUOTE_HOLDER: "<b>x</b>", BASE_HOLDER: "sma_crossover"}
START_CASH = D(10_000)


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    return real_candles("kraken_BTCUSD_15m.csv.gz")[:4000]  # about six weeks: two calendar months


def fill(candles: list[Candle], index: int, trader: str, side: Side, amount: D, client_id: str) -> Fill:
    candle = candles[index]
    price = D(str(candle.close))
    return Fill(ts=candle.ts, id=f"f{index}{side}", order_id=f"o{index}{side}", client_id=client_id,
                pair="XBT/USD", side=side, price=price, amount=amount, fee=(price * amount * D("0.0026")),
                fee_asset="USD", liquidity="taker", trader=trader)


def make_fills(candles: list[Candle]) -> list[Fill]:
    """Quote-holder trips exiting on each reason, base-holder trips that sell first, one trip left open."""
    fills = []
    for number, start in enumerate(range(100, 3500, 300)):
        exit_ids = [f"in-{number}-sl", f"in-{number}-tp", f"{QUOTE_HOLDER}-flatten-{number}-1", f"out-{number}"]
        fills += [fill(candles, start, QUOTE_HOLDER, Side.BUY, D("0.1"), f"in-{number}"),
                  fill(candles, start + 90 + number * 7, QUOTE_HOLDER, Side.SELL, D("0.1"), exit_ids[number % 4])]
    for number, start in enumerate(range(250, 3500, 700)):
        sold = fill(candles, start, BASE_HOLDER, Side.SELL, D("0.2"), f"short-{number}")
        back = D(str(candles[start + 120].close))
        fills += [sold, fill(candles, start + 120, BASE_HOLDER, Side.BUY,
                             ((sold.cost - sold.fee) / back * D("0.99")).quantize(D("0.00000001")),
                             f"short-{number}-tp")]
    fills.append(fill(candles, 3800, QUOTE_HOLDER, Side.BUY, D("0.1"), "in-last"))
    return sorted(fills, key=lambda f: f.ts)


def equity_curve(candles: list[Candle], fills: list[Fill]) -> list[tuple[int, D]]:
    """The quote holder's cash plus its base at each close."""
    cash, base, curve, pending = START_CASH, D(0), [], [f for f in fills if f.trader == QUOTE_HOLDER]
    for candle in candles:
        while pending and pending[0].ts <= candle.ts:
            done = pending.pop(0)
            sign = 1 if done.side is Side.BUY else -1
            cash -= sign * done.cost + done.fee
            base += sign * done.amount
        curve.append((candle.ts, cash + base * D(str(candle.close))))
    return curve


@pytest.fixture(scope="module")
def run(candles: list[Candle]) -> tuple[list[RoundTrip], list[tuple[int, D]]]:
    fills = make_fills(candles)
    return round_trips(fills, strategies=STRATEGIES), equity_curve(candles, fills)


def assert_png(path: Path) -> None:
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert imread(path).shape[:2] == (SIZE[1], SIZE[0])
    assert b"matplotlib" not in path.read_bytes().lower()  # no software metadata


def test_trips_cover_every_exit_reason(run: tuple[list[RoundTrip], list[tuple[int, D]]]) -> None:
    trips, _ = run
    assert {t.exit_reason for t in trips} == {"stop_loss", "take_profit", "flatten", "signal", "open"}
    assert {t.side for t in trips} == {Side.BUY, Side.SELL}


def test_equity_png_is_a_valid_deterministic_png(run: tuple[list[RoundTrip], list[tuple[int, D]]],
                                                 tmp_path: Path) -> None:
    _, curve = run
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    equity_png(curve, first, title="BTC run")
    equity_png(curve, second, title="BTC run")
    assert_png(first)
    assert first.read_bytes() == second.read_bytes()


def test_pair_png_is_a_valid_deterministic_png(candles: list[Candle],
                                               run: tuple[list[RoundTrip], list[tuple[int, D]]],
                                               tmp_path: Path) -> None:
    trips, _ = run
    stops = [(t.entry_ts, t.entry_price * D("0.97")) for t in trips if t.side is Side.BUY]
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    pair_png("XBT/USD", candles, trips, first, stops=stops)
    pair_png("XBT/USD", candles, trips, second, stops=stops)
    assert_png(first)
    assert first.read_bytes() == second.read_bytes()
    without_stops = tmp_path / "c.png"
    pair_png("XBT/USD", candles, trips, without_stops)
    assert without_stops.read_bytes() != first.read_bytes()


def test_equity_png_draws_columns_as_their_points(run: tuple[list[RoundTrip], list[tuple[int, D]]],
                                                  tmp_path: Path) -> None:
    _, curve = run
    equity_png(curve, tmp_path / "points.png")
    equity_png(equity_columns(curve), tmp_path / "columns.png")
    assert (tmp_path / "points.png").read_bytes() == (tmp_path / "columns.png").read_bytes()


def test_equity_floats_are_each_amounts_float() -> None:
    # a flat stretch is converted once, whatever way its amounts are written
    amounts = [D("1.5"), D("1.50"), D("1.5"), D("2"), D("1E+3"), D("1000"), D("-0"), D("0.1")]
    assert _floats(amounts).tolist() == [float(amount) for amount in amounts]


def test_charts_of_nothing(tmp_path: Path) -> None:
    equity_png([], tmp_path / "equity.png")
    pair_png("XBT/USD", [], [], tmp_path / "pair.png")
    assert_png(tmp_path / "equity.png")
    assert_png(tmp_path / "pair.png")


def test_report_html(candles: list[Candle], run: tuple[list[RoundTrip], list[tuple[int, D]]],
                     tmp_path: Path) -> None:
    trips, curve = run
    images = [tmp_path / "equity.png", tmp_path / "pair.png"]
    equity_png(curve, images[0])
    pair_png("XBT/USD", candles, trips, images[1])
    stats = compute_stats(trips, curve)
    by_strategy, by_pair = breakdown(trips, "strategy"), breakdown(trips, "pair")
    by_exit, monthly = breakdown(trips, "exit_reason"), monthly_returns(curve)
    page = tmp_path / "report.html"
    report_html(page, title="Backtest <BTC>", stats=stats, by_strategy=by_strategy, by_pair=by_pair,
                by_exit=by_exit, monthly=monthly, images=images, run_info={"config": "a & b"})
    text = page.read_text(encoding="utf-8")

    assert "<script" not in text.lower() and not re.search(r"<link|src=\"(?!data:)|url\(", text)
    assert text.count('<img src="data:image/png;base64,') == 2
    assert "Backtest &lt;BTC&gt;" in text and "a &amp; b" in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert f"{stats.total_return * 100:.2f}%" in text and f"{stats.win_rate * 100:.2f}%" in text
    assert f"{stats.fees:,.2f}" in text and f"{stats.sharpe:.2f}" in text
    assert duration(stats.max_drawdown_duration) in text
    assert stats.trades == 17 and "<td class=\"num\">17</td>" in text
    for groups in (by_strategy, by_pair, by_exit):
        for name in groups:
            assert f"<th>{html.escape(name)}</th>" in text
    monthly_table = re.search(r'<table class="monthly">.*?</table>', text, re.S)
    assert monthly_table is not None
    assert "<th>Jan</th>" in monthly_table[0] and "<th>Dec</th>" in monthly_table[0]
    assert "<th>2023</th>" in monthly_table[0]
    for value in monthly.values():
        cls = "num pos" if value > 0 else "num neg" if value < 0 else "num"
        assert f'<td class="{cls}">{value * 100:.2f}%</td>' in monthly_table[0]


def test_report_html_without_trades(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    report_html(page, title="nothing", stats=Stats(), by_strategy={}, by_pair={}, by_exit={}, monthly={}, images=[])
    text = page.read_text(encoding="utf-8")
    assert "no closed trades" in text and "<img" not in text


def test_duration_format() -> None:
    assert [duration(ms) for ms in (0, 59 * 60_000, 5 * 3_600_000, 27 * 3_600_000 + 1)] == ["0h", "0h", "5h", "1d 3h"]
