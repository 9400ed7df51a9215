"""The strategy registry: built-ins by name, third-party entry points, and errors that say what is known."""

from __future__ import annotations

from importlib.metadata import EntryPoint, EntryPoints
from pathlib import Path

import pytest

from crypy.plugins import Candles, SmaCrossover, load_strategy, registry, strategy_class, strategy_names

BUILTINS = {
    "bollinger_reversion": "BollingerReversion", "donchian_breakout": "DonchianBreakout",
    "opening_range_breakout": "OpeningRangeBreakout", "rsi_reversion": "RsiReversion",
    "sma_crossover": "SmaCrossover",
}


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> registry.StrategyRegistry:
    """A registry of its own, seeing these installed entry points (crypy's own among them, then a broken one)."""
    installed = EntryPoints([
        EntryPoint(name="sma_crossover", value="crypy.plugins.strategies.sma_crossover:SmaCrossover",
                   group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="ext_sma", value="crypy.plugins.strategies.sma_crossover:SmaCrossover",
                   group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="not_a_strategy", value="math:sqrt", group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="missing", value="no_such_module:Thing", group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="other_group", value="math:sqrt", group="console_scripts"),
    ])
    monkeypatch.setattr(registry, "entry_points", lambda **select: installed.select(**select))
    fresh = registry.StrategyRegistry()
    monkeypatch.setattr(registry, "REGISTRY", fresh)
    return fresh


THIRD_PARTY = """
import numpy as np
from crypy.plugins import Strategy
from crypy.plugins.indicators import SMA


class Momentum(Strategy):
    \"\"\"Hold base while the close is above its mean over the last ``window`` candles.\"\"\"

    name = "momentum"
    param_ranges = {"window": (1, 100)}
    defaults = {"window": 3}
    lookback = 1

    def features(self):
        return {"mean": SMA(window=self.params["window"])}

    def rule(self, frame):
        return np.where(frame["close"] > frame["mean"], 1.0, 0.0)
"""


def test_builtin_strategy_with_float_params_from_a_proposal() -> None:
    strategy = load_strategy("sma_crossover", {"fast": 5.0, "slow": 20.0})
    assert isinstance(strategy, SmaCrossover)
    assert strategy.params == {"fast": 5, "slow": 20}
    assert load_strategy("sma_crossover", {}).params == {"fast": 10, "slow": 30}
    assert "sma_crossover" in strategy_names()


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown strategy 'rsi'; known strategies: .*sma_crossover"):
        load_strategy("rsi", {})


def test_unknown_parameter_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"'sma_crossover' has no parameter fats; its parameters are: fast, slow"):
        load_strategy("sma_crossover", {"fats": 5, "slow": 20})


@pytest.mark.parametrize(("params", "message"), [
    ({"fast": 30, "slow": 10}, "sma_crossover: fast must be < slow"),
    ({"fast": 2.5}, "sma_crossover: fast must be an int"),
    ({"slow": 0}, r"sma_crossover: slow must be an int in \[2, 2000\], got 0"),
])
def test_bad_parameter_values_name_the_strategy(params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=rf"bad params for strategy 'sma_crossover': {message}"):
        load_strategy("sma_crossover", params)


def test_crypy_registers_its_own_strategies_as_entry_points() -> None:
    for name, cls in BUILTINS.items():
        assert registry.REGISTRY.sources[name] == f"entry point crypy.plugins.strategies.{name}:{cls}"
        assert strategy_class(name).name == name


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_loads_from_a_proposal_with_its_declared_parameters(name: str) -> None:
    cls = strategy_class(name)
    assert list(registry.strategy_params(cls)) == list(cls.param_ranges)
    proposal = {key: float(value) for key, value in cls.defaults.items()}  # proposals carry floats
    assert load_strategy(name, proposal).params == cls.defaults
    with pytest.raises(ValueError, match=f"strategy {name!r} has no parameter nope"):
        load_strategy(name, {"nope": 1.0})


def test_entry_point_strategies_load_by_name_and_broken_ones_are_reported_and_skipped(
        fresh: registry.StrategyRegistry) -> None:
    assert strategy_names() == ["ext_sma", "sma_crossover"]
    assert load_strategy("ext_sma", {"fast": 3, "slow": 9}).params == {"fast": 3, "slow": 9}
    errors = {e.name: e.error for e in fresh.errors}
    assert "is not a crypy Strategy subclass" in errors["not_a_strategy"]
    assert errors["missing"].startswith("ModuleNotFoundError: No module named 'no_such_module'")
    with pytest.raises(ValueError, match="strategy 'missing' is broken .*ModuleNotFoundError"):
        strategy_class("missing")
    with pytest.raises(ValueError, match="unknown strategy 'other_group'"):
        strategy_class("other_group")


def test_a_plugin_folder_adds_its_strategies_and_skips_a_file_that_raises(
        fresh: registry.StrategyRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "momentum.py").write_text(THIRD_PARTY)
    (folder / "broken.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    (folder / "taken.py").write_text(THIRD_PARTY.replace('name = "momentum"', 'name = "sma_crossover"'))
    fresh.load_folder(folder)
    assert "momentum" in strategy_names() and fresh.sources["momentum"] == str(folder / "momentum.py")
    strategy = load_strategy("momentum", {"window": 2})
    close = [1.0, 2.0, 3.0, 2.0, 1.0]  # mean of 2: -, 1.5, 2.5, 2.5, 1.5
    candles = Candles.from_columns(range(5), close, close, close, close, [1.0] * 5)
    assert strategy.targets(candles).tolist() == [0, 1, 1, 0, 0]
    errors = {e.name: e.error for e in fresh.errors}
    assert errors["broken"] == "RuntimeError: this plugin is broken on purpose"
    assert "the name is taken by entry point" in errors["sma_crossover"], "a plugin cannot take over a name"
    assert strategy_class("sma_crossover") is SmaCrossover
    fresh.load_folder(folder)  # once only
    assert len(fresh.errors) == len(errors) == 4  # two entry points, two files
