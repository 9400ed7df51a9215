"""``crypy strategies``: what is installed, with parameters, and the broken plugins by name and error."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .processes import CRYPY
from .test_plugins_registry import THIRD_PARTY


def test_indicators_lists_every_indicator_with_its_parameters_and_outputs() -> None:
    result = subprocess.run([*CRYPY, "indicators"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(lines) == {"atr", "bollinger", "donchian", "ema", "linreg_slope", "macd", "range", "rsi", "sma", "vwap",
                          "volatility", "wma"}
    assert "fast=12 [" in lines["macd"] and lines["macd"].endswith("macd, signal, hist")


def test_strategies_lists_installed_and_folder_plugins_and_reports_a_broken_one(tmp_path: Path) -> None:
    result = subprocess.run([*CRYPY, "strategies"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sma_crossover  fast=10, slow=30" in result.stdout
    assert "entry point crypy.plugins.sma_crossover:SmaCrossover" in result.stdout

    (tmp_path / "momentum.py").write_text(THIRD_PARTY)
    (tmp_path / "broken.py").write_text("import no_such_package\n")
    result = subprocess.run([*CRYPY, "strategies", "--plugin-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, "a broken plugin makes the listing fail, after listing the rest"
    assert "momentum       lookback=3" in result.stdout and str(tmp_path / "momentum.py") in result.stdout
    assert "broken" in result.stdout and "ModuleNotFoundError: No module named 'no_such_package'" in result.stdout
