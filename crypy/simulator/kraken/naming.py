"""Kraken's many names for one asset or pair.

crypy calls bitcoin ``XBT`` and pairs ``XBT/USD``. Kraken's REST API calls the asset ``XXBT`` (altname ``XBT``)
and the pair ``XXBTZUSD`` (altname ``XBTUSD``, v1 wsname ``XBT/USD``); WebSocket v2 and ccxt call it
``BTC/USD``. Results are keyed by the pair id; order descriptions use the altname; trades use the id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KrakenAsset:
    crypy: str  # XBT
    id: str  # XXBT
    altname: str  # XBT
    v2: str  # BTC (WebSocket v2 and ccxt)
    decimals: int
    display_decimals: int


@dataclass(frozen=True)
class KrakenPair:
    crypy: str  # XBT/USD
    id: str  # XXBTZUSD
    altname: str  # XBTUSD
    wsname: str  # XBT/USD
    v2: str  # BTC/USD
    base: KrakenAsset
    quote: KrakenAsset


ASSETS: dict[str, KrakenAsset] = {
    asset.crypy: asset
    for asset in (
        KrakenAsset("XBT", "XXBT", "XBT", "BTC", 10, 5),
        KrakenAsset("ETH", "XETH", "ETH", "ETH", 10, 5),
        KrakenAsset("USD", "ZUSD", "USD", "USD", 4, 2),
        KrakenAsset("EUR", "ZEUR", "EUR", "EUR", 4, 2),
        KrakenAsset("SOL", "SOL", "SOL", "SOL", 10, 5),
        KrakenAsset("USDT", "USDT", "USDT", "USDT", 8, 4),
    )
}

_LEGACY = {"XBT", "ETH", "USD", "EUR"}  # assets whose pair ids concatenate the X/Z-prefixed asset ids


class UnknownName(KeyError):
    """A name that none of Kraken's spellings of any known asset or pair matches."""


def asset(crypy_name: str) -> KrakenAsset:
    try:
        return ASSETS[crypy_name]
    except KeyError:
        raise UnknownName(crypy_name) from None


def pair(crypy_pair: str) -> KrakenPair:
    """Kraken's names for a crypy pair such as ``XBT/USD``."""
    base_name, _, quote_name = crypy_pair.partition("/")
    base, quote = asset(base_name), asset(quote_name)
    legacy = base.crypy in _LEGACY and quote.crypy in _LEGACY
    return KrakenPair(
        crypy=crypy_pair,
        id=base.id + quote.id if legacy else base.altname + quote.altname,
        altname=base.altname + quote.altname,
        wsname=f"{base.altname}/{quote.altname}",
        v2=f"{base.v2}/{quote.v2}",
        base=base,
        quote=quote,
    )


def find_pair(name: str, crypy_pairs: list[str]) -> KrakenPair:
    """The pair among ``crypy_pairs`` that ``name`` spells in any of Kraken's ways (id, altname, ws names)."""
    for crypy_pair in crypy_pairs:
        names = pair(crypy_pair)
        if name in (names.id, names.altname, names.wsname, names.v2, names.crypy):
            return names
    raise UnknownName(name)


def find_asset(name: str) -> KrakenAsset:
    """The asset spelled ``name`` in any of Kraken's ways (``XXBT``, ``XBT``, ``BTC``)."""
    for candidate in ASSETS.values():
        if name in (candidate.id, candidate.altname, candidate.v2, candidate.crypy):
            return candidate
    raise UnknownName(name)
