"""Every adapter offers the whole ``Exchange`` interface with the same parameters, so the desk can take any."""

from __future__ import annotations

import inspect

import pytest

from crypy.exchanges import Exchange
from crypy.exchanges.ccxt_kraken import KrakenCcxtExchange
from crypy.exchanges.paper import PaperExchange
from crypy.exchanges.simulated import SimulatedExchange

METHODS = [name for name in vars(Exchange) if not name.startswith("_") and callable(getattr(Exchange, name))]


@pytest.mark.parametrize("adapter", [SimulatedExchange, KrakenCcxtExchange, PaperExchange])
def test_adapters_match_the_interface(adapter: type) -> None:
    assert {"place_order", "amend_order", "capabilities", "close", "fills_since"} <= set(METHODS)
    for name in METHODS:
        expected, actual = inspect.signature(getattr(Exchange, name)), inspect.signature(getattr(adapter, name))
        assert list(actual.parameters) == list(expected.parameters), f"{adapter.__name__}.{name}"
        assert inspect.iscoroutinefunction(getattr(adapter, name)) == inspect.iscoroutinefunction(
            getattr(Exchange, name)), f"{adapter.__name__}.{name}"
