"""The strategy registry: built-ins by name, third-party entry points, and errors that say what is known."""

from __future__ import annotations

from importlib.metadata import EntryPoint, EntryPoints

import pytest

from crypy.plugins import SmaCrossover, load_strategy, registry, strategy_class, strategy_names


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend an installed package registered these entry points."""
    installed = EntryPoints([
        EntryPoint(name="ext_sma", value="crypy.plugins.sma_crossover:SmaCrossover", group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="not_a_strategy", value="math:sqrt", group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="sma_crossover", value="math:sqrt", group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="other_group", value="math:sqrt", group="console_scripts"),
    ])
    monkeypatch.setattr(registry, "entry_points", lambda **select: installed.select(**select))


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
    ({"fast": 30, "slow": 10}, "fast must be < slow"),
    ({"fast": 2.5}, "fast must be an integer"),
    ({"slow": 0}, "slow must be >= 1"),
])
def test_bad_parameter_values_name_the_strategy(params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=rf"bad params for strategy 'sma_crossover': {message}"):
        load_strategy("sma_crossover", params)


@pytest.mark.usefixtures("plugins")
def test_entry_point_strategies_load_by_name() -> None:
    assert strategy_names() == ["ext_sma", "not_a_strategy", "sma_crossover"]
    assert load_strategy("ext_sma", {"fast": 3, "slow": 9}).params == {"fast": 3, "slow": 9}
    with pytest.raises(TypeError, match="'not_a_strategy' .* is not a crypy Strategy"):
        strategy_class("not_a_strategy")
    with pytest.raises(ValueError, match="unknown strategy 'other_group'"):
        strategy_class("other_group")


@pytest.mark.usefixtures("plugins")
def test_a_plugin_cannot_take_over_a_builtin_name() -> None:
    assert strategy_class("sma_crossover") is SmaCrossover
