"""``crypy strategies`` and ``crypy indicators``: what is installed, with parameters, and the broken plugins by name
and error."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .processes import CRYPY
from .test_plugins_indicator_registry import SPREAD
from .test_plugins_registry import THIRD_PARTY


def test_indicators_lists_every_indicator_with_its_parameters_and_outputs() -> None:
    result = subprocess.run([*CRYPY, "indicators"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(lines) == {"atr", "bollinger", "donchian", "ema", "linreg_slope", "macd", "range", "rsi", "sma", "vwap",
                          "volatility", "wma"}
    assert "fast=12 [" in lines["macd"] and "macd, signal, hist" in lines["macd"]
    assert lines["macd"].endswith("entry point crypy.plugins.indicators.oscillators:MACD")


def test_indicators_lists_folder_plugins_and_reports_a_broken_one(tmp_path: Path) -> None:
    (tmp_path / "spread.py").write_text(SPREAD)
    (tmp_path / "broken.py").write_text("import no_such_package\n")
    result = subprocess.run([*CRYPY, "indicators", "--plugin-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, "a broken plugin makes the listing fail, after listing the rest"
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert "scale=1.0 [0.0..10.0]" in lines["spread"] and lines["spread"].endswith(str(tmp_path / "spread.py"))
    assert "sma" in lines, "the installed indicators are still listed"
    assert str(tmp_path / "broken.py") in lines["broken"]
    assert "ModuleNotFoundError: No module named 'no_such_package'" in lines["broken"]


def test_strategies_lists_installed_and_folder_plugins_and_reports_a_broken_one(tmp_path: Path) -> None:
    result = subprocess.run([*CRYPY, "strategies"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(lines) == {"bollinger_reversion", "donchian_breakout", "opening_range_breakout", "rsi_reversion",
                          "sma_crossover"}
    assert "fast=10 [1..500], slow=30 [2..2000]" in lines["sma_crossover"]
    assert lines["sma_crossover"].endswith("entry point crypy.plugins.strategies.sma_crossover:SmaCrossover")

    (tmp_path / "momentum.py").write_text(THIRD_PARTY)
    (tmp_path / "broken.py").write_text("import no_such_package\n")
    result = subprocess.run([*CRYPY, "strategies", "--plugin-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, "a broken plugin makes the listing fail, after listing the rest"
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert "window=3 [1..100]" in lines["momentum"] and lines["momentum"].endswith(str(tmp_path / "momentum.py"))
    assert "broken" in result.stdout and "ModuleNotFoundError: No module named 'no_such_package'" in result.stdout
