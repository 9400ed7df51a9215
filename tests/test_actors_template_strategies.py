"""The trader template's strategies: checked at start (names, parameters, ranges, plugin folder), exits layered,
parameter sets drawn within bounds, and the position built in scale-in steps."""

from __future__ import annotations

import random
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from crypy.actors.template import Exits, StrategyChoice, TemplateError, TraderTemplate, Trading
from crypy.actors.template_files import load_templates
from crypy.actors.trader_evaluation import exits_for, parameter_sets
from crypy.actors.trader_sizing import ScaleIn
from crypy.plugins import REGISTRY, SmaCrossover, strategy_class

PLUGINS = Path(__file__).parent / "plugins"


def _trader(tmp_path: Path, text: str) -> TraderTemplate:
    (tmp_path / "trader.toml").write_text(text)
    return load_templates(tmp_path).trader


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("[[strategies]]\nname = 'sma_crossover'\ngrid = [{ fast = 5, slow = 20 }]\n\n"
     "[[strategies]]\nname = 'sma_crosover'\ngrid = [{ fast = 5 }]\n", 6, "unknown strategy 'sma_crosover'"),
    ("[[strategies]]\nname = 'sma_crossover'\ngrid = [{ fast = 30, slow = 20 }]\n", 3, "fast must be < slow"),
    ("[[strategies]]\nname = 'rsi_reversion'\ngrid = [{ window = 14, speed = 2 }]\n", 3, "speed"),
    ("[[strategies]]\nname = 'rsi_reversion'\nranges = { windw = [5, 30] }\nsamples = 4\n", 3, "windw"),
    ("[[strategies]]\nname = 'rsi_reversion'\nranges = { window = [5, 30] }\n", 1, "samples"),
    ("[[strategies]]\nname = 'rsi_reversion'\n", 1, "needs a grid or ranges"),
    ("plugin_dir = 'nowhere'\n[[strategies]]\nname = 'sma_crossover'\ngrid = [{}]\n", 1, "does not exist"),
    ("[trading]\nscale_in = [0.5, 0.2]\n[[strategies]]\nname = 'sma_crossover'\ngrid = [{}]\n", 1, "add up to 1"),
    ("[exits]\ntrailing_stop = 1.5\n[[strategies]]\nname = 'sma_crossover'\ngrid = [{}]\n", 1, "exits.trailing"),
])
def test_a_bad_strategy_entry_fails_at_start_with_its_line(tmp_path: Path, text: str, line: int,
                                                           reason: str) -> None:
    with pytest.raises(TemplateError, match=rf"trader\.toml:{line}: .*{reason}"):
        _trader(tmp_path, text)


def test_a_plugin_folder_named_in_the_template_adds_its_strategies_and_skips_a_broken_one(tmp_path: Path) -> None:
    shutil.copytree(PLUGINS, tmp_path / "plugins")
    template = _trader(tmp_path, "plugin_dir = 'plugins'\n\n[[strategies]]\nname = 'hindsight'\ngrid = [{}]\n\n"
                                 "[[strategies]]\nname = 'broken'\ngrid = [{}]\n")
    assert template.plugin_dir == str((tmp_path / "plugins").resolve())
    assert strategy_class("hindsight").__module__.endswith(".hindsight")
    broken = [error for error in REGISTRY.errors if error.name == "broken"]
    assert broken and "NoSuchThing" in broken[-1].error
    with pytest.raises(ValueError, match="strategy 'broken' is broken"):
        strategy_class("broken")


def test_exits_are_the_strategy_rules_under_the_template_under_the_entry() -> None:
    choice = StrategyChoice(name="sma_crossover", grid=[{}], exits=Exits(take_profit=0.2))
    template = TraderTemplate(strategies=[choice], exits=Exits(stop_loss=0.03, trailing_stop=0))
    assert SmaCrossover.exits.trailing_stop  # the strategy trails by default; the template turns it off
    assert exits_for(template, choice, SmaCrossover) == {"stop_loss": 0.03, "take_profit": 0.2,
                                                         "trailing_stop": None}
    plain = TraderTemplate(strategies=[StrategyChoice(name="sma_crossover", grid=[{}])])
    assert exits_for(plain, plain.strategies[0], SmaCrossover) == {
        "stop_loss": SmaCrossover.exits.stop_loss, "take_profit": SmaCrossover.exits.take_profit,
        "trailing_stop": SmaCrossover.exits.trailing_stop}


def test_samples_are_drawn_within_both_bounds_the_same_way_each_time() -> None:
    choice = StrategyChoice(name="sma_crossover", grid=[{"fast": 5, "slow": 20}],
                            ranges={"fast": [0, 40], "slow": [10, 60]}, samples=40)
    sets = parameter_sets(choice, SmaCrossover, random.Random("XBT/USD@USD:sma_crossover"))
    assert sets[0] == {"fast": 5, "slow": 20}
    assert all(1 <= s["fast"] < s["slow"] <= 60 and isinstance(s["fast"], int) for s in sets)  # 0 clipped to 1
    assert len(sets) == len({tuple(sorted(s.items())) for s in sets}) > 10  # repeats and fast >= slow dropped
    assert sets == parameter_sets(choice, SmaCrossover, random.Random("XBT/USD@USD:sma_crossover"))


def test_scale_in_reaches_the_target_in_steps_one_entry_per_period() -> None:
    scale = ScaleIn(Trading(scale_in=[0.5, 0.25, 0.25], entry_period=3))
    allocation = Decimal(1000)
    assert scale.may_enter(10, signalled=False)  # a first entry needs only a target
    assert scale.budget(allocation, 0.8, Decimal(0)) == Decimal(400)  # half of 0.8 x 1000
    scale.entered(10)
    assert not scale.may_enter(12, signalled=True)  # too soon
    assert not scale.may_enter(13, signalled=False)  # an add-on needs an entry signal
    assert scale.may_enter(13, signalled=True)
    assert scale.budget(allocation, 0.8, Decimal(400)) == Decimal(200)
    scale.entered(13)
    scale.entered(16)
    assert not scale.may_enter(30, signalled=True)  # every share is in
    assert scale.budget(allocation, 1.0, Decimal(1200)) == 0  # never negative
    scale.reset()
    assert scale.may_enter(31, signalled=False) and scale.budget(allocation, 1.0, Decimal(0)) == Decimal(500)
