"""The indicator registry: built-ins as entry points, folder plugins by name, broken plugins reported and skipped."""

from __future__ import annotations

from importlib.metadata import EntryPoint, EntryPoints
from pathlib import Path

import numpy as np
import pytest

from crypy.plugins import registry
from crypy.plugins.indicators import INDICATORS, SMA, Indicator, indicator_class, load_indicator

SPREAD = """
import numpy as np
from crypy.plugins.indicators import Indicator
from crypy.plugins.indicators.base import WindowLive


class Spread(Indicator):
    name = "spread"
    param_ranges = {"scale": (0.0, 10.0)}
    defaults = {"scale": 1.0}
    outputs = ("spread",)

    @property
    def warmup(self) -> int:
        return 0

    def compute(self, open, high, low, close, volume):
        return {"spread": (high - low) * self.params["scale"]}

    def live(self):
        return WindowLive(self)
"""


def new_registry() -> registry.PluginRegistry[Indicator]:
    return registry.PluginRegistry(registry.INDICATOR_ENTRY_POINT_GROUP, Indicator, "indicator")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> registry.PluginRegistry[Indicator]:
    """A registry of its own, seeing the installed entry points, that the lookups of ``indicators`` use."""
    fresh = new_registry()
    monkeypatch.setattr(registry, "INDICATOR_REGISTRY", fresh)
    return fresh


def test_builtin_indicators_are_entry_points_of_their_group() -> None:
    assert registry.INDICATOR_ENTRY_POINT_GROUP == "crypy.indicators"
    assert indicator_class("sma") is SMA
    assert registry.INDICATOR_REGISTRY.sources["sma"] == "entry point crypy.plugins.indicators.moving:SMA"
    assert all(source.startswith("entry point crypy.plugins.indicators.")
               for source in registry.INDICATOR_REGISTRY.sources.values())
    assert list(INDICATORS) == registry.INDICATOR_REGISTRY.names(), "INDICATORS is a view of the registry"


def test_a_folder_indicator_is_found_by_name_and_computes(
        fresh: registry.PluginRegistry[Indicator], tmp_path: Path) -> None:
    (tmp_path / "spread.py").write_text(SPREAD)
    fresh.load_folder(tmp_path)
    assert fresh.sources["spread"] == str(tmp_path / "spread.py") and "spread" in INDICATORS
    spread = load_indicator("spread", {"scale": 2.0})
    high, low = np.array([3.0, 5.0]), np.array([1.0, 4.0])
    assert spread.compute(low, high, low, high, high)["spread"].tolist() == [4.0, 2.0]
    assert spread.live().update(1.0, 3.0, 1.0, 2.0, 1.0) == {"spread": 4.0}
    assert fresh.errors == []


def test_a_file_that_raises_is_reported_and_skipped_and_the_others_still_load(
        fresh: registry.PluginRegistry[Indicator], tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('this indicator is broken on purpose')\n")
    (tmp_path / "spread.py").write_text(SPREAD)
    fresh.load_folder(tmp_path)
    assert [(e.name, e.source, e.error) for e in fresh.errors] == [
        ("broken", str(tmp_path / "broken.py"), "RuntimeError: this indicator is broken on purpose")]
    assert indicator_class("spread").name == "spread"
    with pytest.raises(ValueError, match="indicator 'broken' is broken .*RuntimeError: this indicator is broken"):
        indicator_class("broken")


def test_a_name_clash_is_reported_and_the_builtin_keeps_its_name(
        fresh: registry.PluginRegistry[Indicator], tmp_path: Path) -> None:
    (tmp_path / "fake_sma.py").write_text(SPREAD.replace('name = "spread"', 'name = "sma"'))
    fresh.load_folder(tmp_path)
    [error] = fresh.errors
    assert error.name == "sma" and error.source == str(tmp_path / "fake_sma.py")
    assert error.error == "the name is taken by entry point crypy.plugins.indicators.moving:SMA"
    assert indicator_class("sma") is SMA


def test_entry_points_that_are_not_concrete_indicators_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = EntryPoints([
        EntryPoint(name="sma", value="crypy.plugins.indicators.moving:SMA", group=registry.INDICATOR_ENTRY_POINT_GROUP),
        EntryPoint(name="base", value="crypy.plugins.indicators.base:Indicator",
                   group=registry.INDICATOR_ENTRY_POINT_GROUP),
        EntryPoint(name="dict", value="builtins:dict", group=registry.INDICATOR_ENTRY_POINT_GROUP),
        EntryPoint(name="missing", value="no_such_module:Thing", group=registry.INDICATOR_ENTRY_POINT_GROUP),
    ])
    monkeypatch.setattr(registry, "entry_points", lambda **select: installed.select(**select))
    fresh = new_registry()
    assert fresh.names() == ["sma"]
    errors = {e.name: e.error for e in fresh.errors}
    assert errors["base"].endswith("is abstract")
    assert "is not a crypy Indicator subclass" in errors["dict"]
    assert errors["missing"].startswith("ModuleNotFoundError: No module named 'no_such_module'")
    with pytest.raises(ValueError, match="unknown indicator 'kama'; known indicators: sma$"):
        fresh.lookup("kama")
