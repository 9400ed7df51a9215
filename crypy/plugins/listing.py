"""What ``crypy strategies`` prints: every strategy with its parameters and origin, then the broken plugins."""

from __future__ import annotations

import inspect
from pathlib import Path

from crypy.repl.tables import format_table

from .registry import REGISTRY, strategy_params


def strategy_listing(plugin_dirs: list[Path]) -> tuple[str, bool]:
    """The table to print, and whether some plugin is broken (its name and error are in the table below)."""
    for folder in plugin_dirs:
        REGISTRY.load_folder(folder)
    rows = []
    for name in REGISTRY.names():
        cls = REGISTRY.classes[name]
        ranges = getattr(cls, "param_ranges", {})
        params = ", ".join(
            f"{param}={'?' if default is inspect.Parameter.empty else default}"
            + (f" [{ranges[param][0]}..{ranges[param][1]}]" if param in ranges else "")
            for param, default in strategy_params(cls).items())
        rows.append((name, params or "-", REGISTRY.sources[name]))
    text = format_table(["strategy", "parameters (default [range])", "from"], rows)
    if REGISTRY.errors:
        text += "\n\n" + format_table(["broken plugin", "from", "error"],
                                      [(e.name, e.source, e.error) for e in REGISTRY.errors])
    return text, bool(REGISTRY.errors)
