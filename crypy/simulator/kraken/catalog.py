"""The simulated exchange's pairs and assets under Kraken's names, resolved from whatever spelling a client sends.

Kraken accepts a pair as its id (``XXBTZUSD``) or altname (``XBTUSD``) and keys results by the id; an unknown
name is ``EQuery:Unknown asset pair``. Both REST APIs resolve names here so they agree on every spelling.
"""

from __future__ import annotations

from typing import Any

from ..errors import UNKNOWN_PAIR, ExchangeError
from ..markets import MarketSpec
from .naming import KrakenAsset, KrakenPair, UnknownName, asset, pair
from .params import Params

UNKNOWN_ASSET = "EQuery:Unknown asset"


class Catalog:
    """Kraken names of the exchange's markets, in the exchange's order."""

    def __init__(self, sim: Any) -> None:
        self.specs: dict[str, MarketSpec] = dict(sim.specs())
        self.pairs: dict[str, KrakenPair] = {name: pair(name) for name in self.specs}
        self._by_name = {
            spelling: names
            for names in self.pairs.values()
            for spelling in (names.id, names.altname, names.wsname, names.v2)
        }

    def pair(self, name: str) -> KrakenPair:
        names = self._by_name.get(name)
        if names is None:
            raise ExchangeError(UNKNOWN_PAIR, name)
        return names

    def spec(self, names: KrakenPair) -> MarketSpec:
        return self.specs[names.crypy]

    def requested_pairs(self, params: Params, name: str = "pair") -> list[KrakenPair]:
        """The pairs a comma list names; every pair when it is absent."""
        wanted = params.names(name)
        return [self.pair(item) for item in wanted] if wanted else list(self.pairs.values())

    def assets(self) -> list[KrakenAsset]:
        """Every asset some market trades, bases first, in a stable order."""
        seen: dict[str, KrakenAsset] = {}
        for names in self.pairs.values():
            seen.setdefault(names.base.id, names.base)
        for names in self.pairs.values():
            seen.setdefault(names.quote.id, names.quote)
        return list(seen.values())

    def asset_by_name(self, name: str) -> KrakenAsset:
        for candidate in self.assets():
            if name in (candidate.id, candidate.altname, candidate.v2, candidate.crypy):
                return candidate
        raise ExchangeError(UNKNOWN_ASSET, name)


def kraken_asset(crypy_name: str) -> KrakenAsset | None:
    """Kraken's names for an account asset, or ``None`` for one Kraken's naming table does not know."""
    try:
        return asset(crypy_name)
    except UnknownName:
        return None
