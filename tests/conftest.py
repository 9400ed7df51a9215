"""Shared fixtures: real market data, test templates, and a private run directory per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crypy.protocols import Candle
from crypy.simulator import MatchingEngine, load_candles

from .sim_orders import funded_engine

ROOT = Path(__file__).resolve().parents[1]
MARKET_DATA = ROOT.parent / "shared" / "data" / "market"
EAGER_TEMPLATES = Path(__file__).parent / "templates" / "eager"


def real_candles(name: str) -> list[Candle]:
    """The candles of one file of the shared market data; the test is skipped where that data is not there."""
    path = MARKET_DATA / name
    if not path.is_file():
        pytest.skip(f"shared market data not found at {path}")
    return load_candles(path)


def eager_templates_with(directory: Path, **additions: str) -> Path:
    """A copy of the eager templates in ``directory`` with TOML appended per file (``desk="[risk]..."``)."""
    shutil.copytree(EAGER_TEMPLATES, directory)
    for name, text in additions.items():
        with (directory / f"{name}.toml").open("a") as file:
            file.write(text)
    return directory


@pytest.fixture(autouse=True)
def _private_run_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep each test's actor registry files away from a real crypy running on the same machine."""
    run_dir = tmp_path_factory.mktemp("run")
    monkeypatch.setenv("CRYPY_RUN_DIR", str(run_dir))
    monkeypatch.setenv("CRYPY_DATA_DIR", str(run_dir / "data"))  # the candle store, never the user's own
    return run_dir


@pytest.fixture
def market_data() -> Path:
    if not MARKET_DATA.is_dir():
        pytest.skip(f"shared market data not found at {MARKET_DATA}")
    return MARKET_DATA


@pytest.fixture
def engine() -> MatchingEngine:
    """A matching engine with XBT/USD priced at 16514.9 and account "a" holding USD 10000 and XBT 0.25."""
    return funded_engine()
