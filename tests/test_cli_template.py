"""``crypy template show|diff|reset`` as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from crypy.actors.template_files import default_template_dir, load_templates
from crypy.actors.template_memory import record_outcome

from .processes import CRYPY


def _template(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRYPY, "template", *args], capture_output=True, text=True, timeout=60)


def _edited_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "templates"
    shutil.copytree(default_template_dir(), directory)
    holder = directory / "holder.toml"
    holder.write_text(holder.read_text().replace("min_trades = 1 ", "min_trades = 4 "))
    record_outcome(holder, trader="XBT/USD@USD", pair="XBT/USD", strategy="sma_crossover", params={"fast": 5},
                   result=-0.25, ts=1)
    (directory / "trader.XBT-USD.toml").write_text("[evaluation]\nspread = 0.002\n")
    return directory


def test_show_prints_the_effective_templates_with_overrides_and_memory(tmp_path: Path) -> None:
    directory = _edited_dir(tmp_path)
    result = _template("show", "--template-dir", str(directory))
    assert result.returncode == 0, result.stderr
    for expected in ("# ---- desk ----", "timeframe = \"15m\"", "# ---- holder ----", "min_trades = 4",
                     "[[memory.outcomes]]", "result = -0.25", "# ---- trader for XBT/USD (trader.XBT-USD.toml) ----",
                     "spread = 0.002"):
        assert expected in result.stdout
    holder = _template("show", "--template-dir", str(directory), "holder")
    assert "min_trades = 4" in holder.stdout and "---- desk" not in holder.stdout and "---- trader" not in holder.stdout


def test_diff_shows_what_changed_from_the_shipped_templates(tmp_path: Path) -> None:
    directory = _edited_dir(tmp_path)
    result = _template("diff", "--template-dir", str(directory))
    assert result.returncode == 0, result.stderr
    assert f"+++ {directory / 'holder.toml'}" in result.stdout
    assert "-min_trades = 1 " in result.stdout and "+min_trades = 4 " in result.stdout
    assert "+[[memory.outcomes]]" in result.stdout
    assert f"+++ {directory / 'trader.XBT-USD.toml'}" in result.stdout and "+spread = 0.002" in result.stdout
    assert "desk.toml" not in result.stdout
    shutil.copyfile(default_template_dir() / "holder.toml", directory / "holder.toml")
    (directory / "trader.XBT-USD.toml").unlink()
    assert "no differences" in _template("diff", "--template-dir", str(directory)).stdout


def test_reset_memory_only_keeps_the_edits(tmp_path: Path) -> None:
    directory = _edited_dir(tmp_path)
    result = _template("reset", "--template-dir", str(directory), "--memory-only", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"{directory / 'holder.toml'}: memory cleared" in result.stdout
    templates = load_templates(directory)
    assert templates.holder.memory.outcomes == [] and templates.holder.criteria.min_trades == 4
    assert (directory / "trader.XBT-USD.toml").exists()


def test_reset_restores_the_shipped_templates(tmp_path: Path) -> None:
    directory = _edited_dir(tmp_path)
    result = _template("reset", "--template-dir", str(directory), "--yes")
    assert result.returncode == 0, result.stderr
    assert (directory / "holder.toml").read_text() == (default_template_dir() / "holder.toml").read_text()
    assert not (directory / "trader.XBT-USD.toml").exists()
    assert f"{directory / 'trader.XBT-USD.toml'}: removed" in result.stdout


def test_without_a_dir_the_commands_use_the_user_dir(tmp_path: Path) -> None:
    assert "no template dir" in _template("diff").stdout
    assert "nothing to reset" in _template("reset", "--yes").stdout
    assert "# templates: the shipped" in _template("show").stdout


def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    directory = _edited_dir(tmp_path)
    result = _template("reset", "--template-dir", str(directory))
    assert (result.returncode, result.stderr) == (2, "crypy: error: template reset overwrites or removes files: "
                                                     "add --yes to confirm\n")
    assert "[[memory.outcomes]]" in (directory / "holder.toml").read_text()
    result = _template("show", "--template-dir", str(tmp_path / "nowhere"))
    assert (result.returncode, result.stderr.count("\n")) == (2, 1) and "does not exist" in result.stderr
    (directory / "desk.toml").write_text("[limits]\n\nmax_open_orders = 'many'\n")
    result = _template("show", "--template-dir", str(directory))
    assert result.returncode == 2 and result.stderr.startswith(f"crypy: error: {directory / 'desk.toml'}:3: ")
    assert _template("show", "everything").returncode == 2
