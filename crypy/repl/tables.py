"""Aligned plain-text tables: what reads well over telnet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str = "(none)") -> str:
    """Columns padded to their widest cell; numbers and Decimals right-aligned, text left-aligned."""
    if not rows:
        return empty
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def plain(amount: Decimal) -> str:
    """An exact amount without exponents: ``0E-8`` reads ``0``, ``1E+4`` reads ``10000``, digits are kept."""
    if amount == 0:
        return "0"
    return format(amount, "f")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def format_pairs(items: Sequence[tuple[str, object]]) -> str:
    """``key: value`` lines with the keys aligned, for ``status``-like answers."""
    width = max((len(key) for key, _ in items), default=0)
    return "\n".join(f"{key.ljust(width)}  {_cell(value)}" for key, value in items)


def format_utc(ms: int) -> str:
    """A millisecond timestamp as people read it: ``2023-01-09 10:15 UTC``."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
