"""Templates: the shipped ones load, and a broken one stops crypy at start with the file and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crypy.actors.template import TemplateError
from crypy.actors.template_files import default_template_dir, load_templates, user_template_dir, writable_template_dir


def test_the_shipped_templates_load() -> None:
    templates = load_templates()
    assert templates.desk.market_data.timeframe == "15m"
    assert templates.holder.criteria.min_return == 0.0
    assert [s.name for s in templates.trader.strategies] == ["sma_crossover", "rsi_reversion", "bollinger_reversion",
                                                          "donchian_breakout", "opening_range_breakout"]
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
        ("desk.toml", "[market_data\ntimeframe = 15m", ":1: not valid TOML"),
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


HOLDER_WITH_A_BAD_VALUE_ON_LINE_7 = """\
# a holder
[criteria]
min_return = 0.0
min_trades = 1

[allocation]
fraction = "half"
"""


def test_a_bad_value_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "holder.toml").write_text(HOLDER_WITH_A_BAD_VALUE_ON_LINE_7)
    with pytest.raises(TemplateError, match=r"holder\.toml:7: Expected `float`, got `str` - at `\$\.allocation\.fraction`"):
        load_templates(tmp_path)


@pytest.mark.parametrize(
    ("file", "text", "line"),
    [
        ("desk.toml", "[market_data]\ntimeframe = '15m'\n\n[orders]\npoll_secs = 1\n", 5),  # an unknown key
        ("desk.toml", "# limits\n\n[limits]\nmax_open_orders = 0\n", 3),  # a table's own check: its header
        ("desk.toml", "[limits.max_exposure]\nXBT = '-1'\n", 1),
        ("holder.toml", "[memory]\n[[memory.outcomes]]\ntrader = 't'\npair = 'XBT/USD'\nstrategy = 's'\n"
                        "result = 'bad'\n", 6),
        ("trader.toml", "[[strategies]]\nname = 'a'\ngrid = [{}]\n\n[[strategies]]\nname = 'b'\ngrid = 3\n", 7),
        ("trader.toml", "[[strategies]]\nname = 'a'\ngrid = [{}]\n[[strategies]]\ngrid = [{}]\n", 4),  # missing name
        ("trader.toml", "[evaluation]\nhistory = 720\n", 1),  # missing at the top: the first line
    ],
)
def test_the_line_is_the_offending_key_or_its_table(tmp_path: Path, file: str, text: str, line: int) -> None:
    (tmp_path / file).write_text(text)
    with pytest.raises(TemplateError) as failure:
        load_templates(tmp_path)
    assert str(failure.value).startswith(f"{tmp_path / file}:{line}: ")


def test_overrides_merge_key_by_key_over_the_base_template(tmp_path: Path) -> None:
    (tmp_path / "holder.toml").write_text("[criteria]\nmin_return = 0.01\nmin_trades = 3\n")
    (tmp_path / "holder.USD.toml").write_text("[criteria]\nmin_return = 0.05\n\n[allocation]\nfraction = 0.2\n")
    (tmp_path / "trader.XBT-USD.toml").write_text("[evaluation]\nspread = 0.001\n\n"
                                                  "[[strategies]]\nname = 'rsi_reversion'\ngrid = [{ window = 14 }]\n")
    templates = load_templates(tmp_path)
    usd = templates.holder_for("USD")
    assert (usd.criteria.min_return, usd.criteria.min_trades, usd.allocation.fraction) == (0.05, 3, 0.2)
    assert templates.holder_for("XBT") == templates.holder
    xbt_usd = templates.trader_for("XBT/USD")
    assert [s.name for s in xbt_usd.strategies] == ["rsi_reversion"]  # arrays replace, they do not merge
    assert xbt_usd.evaluation.spread == 0.001 and xbt_usd.evaluation.history == 720  # from the shipped trader
    assert templates.trader_for("ETH/USD") == templates.trader


def test_a_bad_override_fails_at_start_with_its_own_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "holder.XBT.toml").write_text("# XBT\n[lifecycle]\nrespawn_seconds = 'soon'\n")
    with pytest.raises(TemplateError, match=rf"^{tmp_path / 'holder.XBT.toml'}:3: Expected `float`"):
        load_templates(tmp_path)
    (tmp_path / "holder.XBT.toml").unlink()
    (tmp_path / "trader.ETH-USD.toml").write_text("strategies = []\n")
    with pytest.raises(TemplateError, match=r"trader\.ETH-USD\.toml:1: .*at least one \[\[strategies\]\]"):
        load_templates(tmp_path)


def test_an_error_in_the_base_file_names_the_base_file_even_with_an_override(tmp_path: Path) -> None:
    (tmp_path / "holder.toml").write_text("[criteria]\nmin_trades = 'many'\n")
    (tmp_path / "holder.USD.toml").write_text("[criteria]\nmin_return = 0.05\n")
    with pytest.raises(TemplateError, match=rf"^{tmp_path / 'holder.toml'}:2: "):
        load_templates(tmp_path)


def test_without_a_dir_the_user_template_dir_is_read_once_it_exists(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPY_DATA_DIR", str(tmp_path / "data"))
    assert user_template_dir() == tmp_path / "data" / "templates"
    assert writable_template_dir(tmp_path) == tmp_path
    assert not user_template_dir().exists()
    directory = writable_template_dir(None)
    assert directory == user_template_dir()
    assert (directory / "desk.toml").read_text() == (default_template_dir() / "desk.toml").read_text()
    (directory / "holder.toml").write_text("[criteria]\nmin_trades = 9\n")
    assert load_templates().holder.criteria.min_trades == 9
