"""A backtest report as ONE self-contained HTML file: inline CSS, images as data URIs, no script, no link.

A single file can be mailed, archived next to its run or opened offline and still show everything. Every
string that reaches the page is escaped: strategy, pair and reason names come from plugins and configs.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from html import escape
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .stats import Stats, TradeStats

_NO_INFO: Mapping[str, str] = MappingProxyType({})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
_HOUR_MS = 3600 * 1000

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pos { background: #d4f4d4; color: #0a5c0a; }
td.neg { background: #f8d4d4; color: #8b0000; }
img { display: block; max-width: 100%; margin: 1em 0; }
"""


def report_html(path: Path, *, title: str, stats: Stats, by_strategy: Mapping[str, TradeStats],
                by_pair: Mapping[str, TradeStats], by_exit: Mapping[str, TradeStats],
                monthly: Mapping[tuple[int, int], float], images: Sequence[Path],
                run_info: Mapping[str, str] = _NO_INFO) -> None:
    """Write the report to ``path``: run info, statistics, breakdowns, monthly returns, then the charts."""
    parts = [f"<h1>{escape(title)}</h1>"]
    if run_info:
        parts.append(_key_values("Run", [(key, escape(value)) for key, value in run_info.items()]))
    parts.append(_key_values("Statistics", [(_label(name), _format_stat(name, value))
                                            for name, value in _fields(stats)]))
    for heading, groups in (("By strategy", by_strategy), ("By pair", by_pair), ("By exit reason", by_exit)):
        parts.append(_breakdown_table(heading, groups))
    parts.append(_monthly_table(monthly))
    if images:
        parts.append("<h2>Charts</h2>")
        parts.extend(_image(image) for image in images)
    body = "\n".join(parts)
    path.write_text(f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                    f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n"
                    "</html>\n", encoding="utf-8")


def percent(value: float) -> str:
    return _special(value) or f"{value * 100:.2f}%"


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def ratio(value: float) -> str:
    return _special(value) or f"{value:.2f}"


def duration(ms: int) -> str:
    """``3d 4h``, or ``5h`` under a day (rounded down to the hour; ``0h`` under an hour)."""
    days, hours = divmod(ms // _HOUR_MS, 24)
    return f"{days}d {hours}h" if days else f"{hours}h"


def _special(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return ""


_STAT_FORMATS: dict[str, Callable[[Any], str]] = {
    "trades": str, "profit_factor": ratio, "sharpe": ratio, "sortino": ratio, "calmar": ratio,
    "max_drawdown_value": money, "fees": money, "max_drawdown_duration": duration,
}
"""How a ``Stats`` field is shown; any other is a fraction, shown as a percentage."""

_LABELS = {"cagr": "CAGR", "max_drawdown_value": "Max drawdown (value)",
           "max_drawdown_duration": "Max drawdown (duration)"}


def _fields(stats: Stats) -> list[tuple[str, Any]]:
    return [(field.name, getattr(stats, field.name)) for field in dataclasses.fields(stats)]


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " ").capitalize())


def _format_stat(name: str, value: Any) -> str:
    return escape(_STAT_FORMATS.get(name, percent)(value))


def _key_values(heading: str, rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; the values come already formatted and escaped."""
    cells = "".join(f'<tr><th>{escape(key)}</th><td class="num">{value}</td></tr>' for key, value in rows)
    return f"<h2>{escape(heading)}</h2>\n<table>{cells}</table>"


def _breakdown_table(heading: str, groups: Mapping[str, TradeStats]) -> str:
    head = "<tr><th>Name</th><th>Trades</th><th>Win rate</th><th>PnL</th><th>Expectancy</th>" \
           "<th>Profit factor</th></tr>"
    rows = [f"<tr><th>{escape(name)}</th>{_num(str(s.trades))}{_num(percent(s.win_rate))}"
            f"{_num(money(s.pnl), _sign(s.pnl))}{_num(percent(s.expectancy), _sign(s.expectancy))}"
            f"{_num(ratio(s.profit_factor))}</tr>" for name, s in groups.items()]
    if not rows:
        rows = ['<tr><td colspan="6">no closed trades</td></tr>']
    return f"<h2>{escape(heading)}</h2>\n<table>{head}{''.join(rows)}</table>"


def _monthly_table(monthly: Mapping[tuple[int, int], float]) -> str:
    """Years as rows, months as columns, then the year's compounded total; empty cells for months absent."""
    head = "<tr><th>Year</th>" + "".join(f"<th>{month}</th>" for month in _MONTHS) + "<th>Total</th></tr>"
    rows = []
    for year in sorted({year for year, _ in monthly}):
        cells, growth = [], 1.0
        for month in range(1, 13):
            value = monthly.get((year, month))
            if value is None:
                cells.append("<td></td>")
            else:
                growth *= 1 + value
                cells.append(_num(percent(value), _sign(value)))
        cells.append(_num(percent(growth - 1), _sign(growth - 1)))
        rows.append(f"<tr><th>{year}</th>{''.join(cells)}</tr>")
    if not rows:
        rows = ['<tr><td colspan="14">no months</td></tr>']
    return f"<h2>Monthly returns</h2>\n<table class=\"monthly\">{head}{''.join(rows)}</table>"


def _num(text: str, sign: str = "") -> str:
    return f'<td class="num {sign}">{escape(text)}</td>' if sign else f'<td class="num">{escape(text)}</td>'


def _sign(value: float | Decimal) -> str:
    """The CSS class of a gain or a loss; none for 0 (or NaN)."""
    return "pos" if value > 0 else "neg" if value < 0 else ""


def _image(path: Path) -> str:
    kind = _IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path.name}: not an image type a report embeds ({', '.join(_IMAGE_TYPES)})")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:{kind};base64,{data}" alt="{escape(path.stem)}">'
