"""Templates that learn: outcomes appended to the template files, comments intact, and what they teach."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypy.actors.template import (
    AssetOutcome,
    DeskMemory,
    HolderCriteria,
    HolderMemory,
    HolderTemplate,
    Outcome,
    StrategyChoice,
    TemplateError,
    TraderTemplate,
)
from crypy.actors.template_files import default_template_dir, load_templates
from crypy.actors.template_memory import (
    avoided_strategies,
    bad_assets,
    clear_memory,
    desk_memory_file,
    holder_memory_file,
    record_asset_outcome,
    record_outcome,
    usable_strategies,
)

HUMAN_HOLDER = """\
# My holder: I tuned these by hand.
[criteria]
min_return = 0.02   # two percent, after the March losses
min_trades = 3

# keep it small
[allocation]
fraction = 0.25
"""


def _record(path: Path, pair: str, result: float, *, strategy: str = "sma_crossover", ts: int = 1) -> None:
    record_outcome(path, trader=f"{pair}@USD", pair=pair, strategy=strategy, params={"fast": 5, "slow": 20.5},
                   result=result, ts=ts)


def test_outcomes_are_appended_and_the_humans_text_stays_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "holder.toml"
    path.write_text(HUMAN_HOLDER)
    _record(path, "XBT/USD", -0.03, ts=100)
    _record(path, "ETH/USD", 0.04, strategy="rsi", ts=200)
    text = path.read_text()
    assert text.startswith(HUMAN_HOLDER)
    assert text.count("[[memory.outcomes]]") == 2
    memory = load_templates(tmp_path).holder.memory
    assert memory.outcomes == [
        Outcome(trader="XBT/USD@USD", pair="XBT/USD", strategy="sma_crossover", result=-0.03,
                params={"fast": 5, "slow": 20.5}, ts=100),
        Outcome(trader="ETH/USD@USD", pair="ETH/USD", strategy="rsi", result=0.04,
                params={"fast": 5, "slow": 20.5}, ts=200),
    ]
    assert load_templates(tmp_path).holder.criteria.min_return == 0.02
    assert clear_memory(path)
    assert path.read_text() == HUMAN_HOLDER
    assert not clear_memory(path)
    assert [p.name for p in tmp_path.iterdir()] == ["holder.toml"]  # no temporary file left behind


def test_comments_inside_the_memory_survive_too(tmp_path: Path) -> None:
    path = tmp_path / "holder.toml"
    path.write_text(HUMAN_HOLDER + "\n# what crypy learned\n[[memory.outcomes]]  # the first one\ntrader = 't'\n"
                    "pair = 'XBT/USD'\nstrategy = 's'\nresult = 0.1  # good\n")
    before = path.read_text()
    _record(path, "ETH/USD", -0.1)
    assert path.read_text().startswith(before)
    assert len(load_templates(tmp_path).holder.memory.outcomes) == 2


def test_memory_that_is_not_an_array_of_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "holder.toml"
    path.write_text("[memory]\noutcomes = 3\n")
    with pytest.raises(TemplateError, match=r"memory\.outcomes must be an array of tables"):
        _record(path, "XBT/USD", 0.1)
    assert path.read_text() == "[memory]\noutcomes = 3\n"


def test_the_desk_records_asset_outcomes(tmp_path: Path) -> None:
    path = desk_memory_file(tmp_path)
    assert path.read_text() == (default_template_dir() / "desk.toml").read_text()  # a copy of the shipped one
    record_asset_outcome(path, asset="ETH", result=-0.2, ts=5)
    assert load_templates(tmp_path).desk.memory.assets == [AssetOutcome(asset="ETH", result=-0.2, ts=5)]


def test_the_holders_memory_file_is_its_override_when_it_has_one(tmp_path: Path) -> None:
    assert holder_memory_file(tmp_path, "USD") == tmp_path / "holder.toml"
    (tmp_path / "holder.XBT.toml").write_text("[criteria]\nmin_return = 0.1\n")
    assert holder_memory_file(tmp_path, "XBT") == tmp_path / "holder.XBT.toml"
    _record(holder_memory_file(tmp_path, "XBT"), "XBT/USD", -0.1)
    templates = load_templates(tmp_path)
    assert len(templates.holder_for("XBT").memory.outcomes) == 1
    assert templates.holder_for("USD").memory.outcomes == []


def test_without_a_template_dir_memory_goes_to_the_user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPY_DATA_DIR", str(tmp_path))
    shipped = (default_template_dir() / "holder.toml").read_bytes()
    path = holder_memory_file(None, "USD")
    assert path == tmp_path / "templates" / "holder.toml"
    _record(path, "XBT/USD", -0.1)
    assert len(load_templates().holder.memory.outcomes) == 1  # the next run without --template-dir learns it
    assert (default_template_dir() / "holder.toml").read_bytes() == shipped, "the shipped template is never written"
    assert "[[memory.outcomes]]" in path.read_text()


def _outcome(pair: str, result: float, strategy: str = "sma") -> Outcome:
    return Outcome(trader="t", pair=pair, strategy=strategy, result=result)


def test_a_strategy_is_avoided_after_failing_on_enough_distinct_pairs() -> None:
    memory = HolderMemory([_outcome("XBT/USD", -0.1), _outcome("XBT/USD", 0.0), _outcome("ETH/USD", 0.2),
                           _outcome("XBT/USD", -0.1, "rsi"), _outcome("ETH/USD", 0.0, "rsi"),
                           _outcome("ETH/USD", 0.1, "macd"), _outcome("XBT/USD", 0.1, "macd")])
    assert avoided_strategies(memory) == {"rsi"}  # sma failed twice on one pair only; a zero result is a failure
    assert avoided_strategies(memory, min_pairs=1) == {"sma", "rsi"}
    assert avoided_strategies(memory, min_pairs=1, max_result=-0.05) == {"sma", "rsi"}
    assert avoided_strategies(memory, min_pairs=2, max_result=-0.05) == set()
    assert avoided_strategies(memory, min_pairs=0) == set()


def _trader(*names: str) -> TraderTemplate:
    return TraderTemplate(strategies=[StrategyChoice(name=name, grid=[{"n": 1}]) for name in names])


def test_usable_strategies_apply_the_humans_lists_and_the_memory() -> None:
    failed_twice = HolderMemory([_outcome("XBT/USD", -0.1, "rsi"), _outcome("ETH/USD", -0.1, "rsi")])
    holder = HolderTemplate(memory=failed_twice)
    assert [s.name for s in usable_strategies(holder, _trader("sma", "rsi")).strategies] == ["sma"]
    assert [s.name for s in usable_strategies(holder, _trader("rsi")).strategies] == ["rsi"]  # never none by memory
    holder = HolderTemplate(criteria=HolderCriteria(avoid_after_failures=0), memory=failed_twice)
    assert [s.name for s in usable_strategies(holder, _trader("sma", "rsi")).strategies] == ["sma", "rsi"]
    holder = HolderTemplate(criteria=HolderCriteria(banned_strategies=["sma"]), memory=failed_twice)
    assert [s.name for s in usable_strategies(holder, _trader("sma", "rsi", "macd")).strategies] == ["macd"]
    holder = HolderTemplate(criteria=HolderCriteria(allowed_strategies=["macd"]))
    assert [s.name for s in usable_strategies(holder, _trader("sma", "macd")).strategies] == ["macd"]
    holder = HolderTemplate(criteria=HolderCriteria(banned_strategies=["sma"]))
    assert usable_strategies(holder, _trader("sma")).strategies == []  # the human's word: no trader


def test_bad_assets_are_those_whose_recent_outcomes_all_lost() -> None:
    memory = DeskMemory([AssetOutcome("ETH", -0.1, ts=1), AssetOutcome("ETH", -0.2, ts=2),
                         AssetOutcome("XBT", -0.1, ts=1), AssetOutcome("XBT", 0.3, ts=3), AssetOutcome("XBT", -0.1, ts=2),
                         AssetOutcome("SOL", -0.5, ts=1), AssetOutcome("ADA", 0.0, ts=1), AssetOutcome("ADA", 0.0, ts=2)])
    assert bad_assets(memory) == {"ETH"}  # XBT's latest was good; SOL lost once; ADA broke even
    assert bad_assets(memory, after_losses=1) == {"ETH", "SOL"}
    assert bad_assets(memory, after_losses=3) == set()
    assert bad_assets(memory, after_losses=2, min_result=0.01) == {"ETH", "ADA"}
    assert bad_assets(memory, after_losses=0) == set()
