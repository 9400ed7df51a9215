"""Templates: the shipped ones load, and a broken one stops crypy at start with the file and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crypy.actors.template import TemplateError, default_template_dir, load_templates


def test_the_shipped_templates_load() -> None:
    templates = load_templates()
    assert templates.desk.market_data.timeframe == "15m"
    assert templates.holder.criteria.min_return == 0.0
    assert [s.name for s in templates.trader.strategies] == ["sma_crossover"]
    assert {"fast": 10, "slow": 30} in templates.trader.strategies[0].grid
    assert (default_template_dir() / "desk.toml").is_file()


def test_a_template_dir_overrides_only_the_files_it_has(tmp_path: Path) -> None:
    (tmp_path / "holder.toml").write_text("[criteria]\nmin_return = 0.05\n")
    templates = load_templates(tmp_path)
    assert templates.holder.criteria.min_return == 0.05
    assert templates.holder.allocation.fraction == 0.5
    assert templates.desk == load_templates().desk


@pytest.mark.parametrize(
    ("file", "text", "reason"),
    [
        ("desk.toml", "[market_data\ntimeframe = 15m", "not valid TOML"),
        ("desk.toml", "[market_data]\ntimefram = '15m'\n", "unknown field `timefram`"),
        ("holder.toml", "[criteria]\nmin_return = 'high'\n", "Expected `float`, got `str` - at `$.criteria.min_return`"),
        ("trader.toml", "strategies = []\n", "at least one [[strategies]]"),
        ("trader.toml", "[evaluation]\nhistory = 720\n", "missing required field `strategies`"),
    ],
)
def test_invalid_templates_name_the_file_and_the_reason(tmp_path: Path, file: str, text: str, reason: str) -> None:
    (tmp_path / file).write_text(text)
    with pytest.raises(TemplateError) as failure:
        load_templates(tmp_path)
    assert str(tmp_path / file) in str(failure.value)
    assert reason in str(failure.value)


def test_a_missing_template_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        load_templates(tmp_path / "nowhere")


def test_crypy_sim_refuses_to_start_with_an_invalid_template(tmp_path: Path) -> None:
    (tmp_path / "holder.toml").write_text("[criteria]\nmin_return = 'high'\n")
    result = subprocess.run([sys.executable, "-m", "crypy.cli", "sim", "--template-dir", str(tmp_path),
                             "--db", str(tmp_path / "j.db"), "--repl-port", "0", "--duration", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "crypy: error:" in result.stderr and "holder.toml" in result.stderr and "min_return" in result.stderr
    assert not (tmp_path / "j.db").exists()
