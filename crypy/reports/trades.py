"""Round trips: a trader's fills grouped into trades, from the first entry to the exit that gives it all back.

A trader converts its holder's asset into the pair's other asset and back. A quote holder's trader
(``XBT/USD@USD``) buys first and sells the base back; a base holder's trader (``XBT/USD@XBT``) sells first and
buys the base back. A trip's entry side is the side of the fill that opens it (which is the holder's, as above).

Per trader and pair, in fill order:

- a fill while no trip is open opens one; further fills of the entry side add to it (scale-in);
- fills of the other side are its exits (an exit may take several fills);
- an entry-side fill after exits ends the trip and opens the next one;
- a trip is closed once its exits have given back what its entries acquired, to within ``DUST_SHARE``: a base
  holder's buy-back is sized with a margin and leaves a little quote behind, which the trader does not chase
  (as its ``REMAINDER_SHARE``); later exit fills still belong to the trip until the next entry;
- a sell that gives back more base than a buy-first trip holds (not expected) is split pro rata, fee included:
  the part that empties the trip closes it, the rest opens a sell-first trip. A sell-first trip's buy-backs are
  never split: spending more quote than the trip received only spends what earlier trips left behind.

Money: ``q`` is the trip's net quote flow (sells' cost - buys' cost - all fees, fees being charged in the quote
currency) and ``b`` its net base flow (bought - sold). Both are valued at the trip's *valuation price* ``P``:
its last exit fill's price once closed; for a trip still open, the pair's mark if given, else its last fill's.

- ``pnl_quote = q + b * P``, in the quote currency;
- ``pnl`` is in the holder's asset: ``pnl_quote`` for a quote holder (quote received - quote paid - fees, as
  ``b`` is 0 once closed); ``pnl_quote / P = b + q / P`` for a base holder (base bought back - base sold, plus
  the quote left over, fees included, converted at ``P``);
- ``return_ = pnl / capital put in``: quote paid by the entries (cost + fees) for a quote holder, base sold by
  the entries for a base holder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from crypy.protocols import Fill, Side

DUST_SHARE = Decimal("0.03")
"""A trip is closed once what it still holds of the other asset is at most this share of what it acquired."""

_EXIT_SUFFIX = re.compile(r"-(sl|tp)(-\d+)?$")  # the desk's exits: "<entry>-sl", amended "<entry>-sl-2"
_EXIT_KINDS = {"sl": "stop_loss", "tp": "take_profit"}
_REASON_NAMES = {"exit": "signal"}  # the trader's own exit, on its strategy's signal
_ZERO = Decimal(0)


@dataclass(frozen=True)
class RoundTrip:
    """One trade of one trader, from its first entry fill to its last exit fill (see the module docstring).

    ``entry_price`` / ``exit_price`` are volume-weighted over the entry / exit fills (``exit_price`` is None
    before any exit fill); ``amount`` is the base the entries bought (quote holder) or sold (base holder);
    ``fees`` are every fill's, in the quote currency. ``exit_ts`` is None and ``exit_reason`` "open" while open.
    """

    trader: str
    pair: str
    strategy: str
    side: Side
    entry_ts: int
    exit_ts: int | None
    entry_price: Decimal
    exit_price: Decimal | None
    amount: Decimal
    fees: Decimal
    pnl: Decimal
    pnl_quote: Decimal
    return_: float
    exit_reason: str

    @property
    def is_open(self) -> bool:
        return self.exit_ts is None

    @property
    def holder_asset(self) -> str:
        """The asset ``pnl`` is counted in: the quote for a buy-first trip, the base for a sell-first one."""
        base, quote = self.pair.split("/")
        return quote if self.side is Side.BUY else base


def exit_reason(fill: Fill, reasons: Mapping[str, str]) -> str:
    """Why ``fill``'s order exited: the desk's stop-loss, take-profit or flatten orders are known by their
    client id; other orders by their request's reason (the trader's ``exit`` is its signal's), else "signal"."""
    kind = _EXIT_SUFFIX.search(fill.client_id)
    if kind:
        return _EXIT_KINDS[kind.group(1)]
    if "-flatten-" in fill.client_id:
        return "flatten"
    reason = reasons.get(fill.client_id, "")
    return _REASON_NAMES.get(reason, reason) or "signal"


@dataclass
class _Trip:
    """A trip being assembled; ``ended`` once the next one of its trader has opened."""

    side: Side
    entries: list[Fill]
    exits: list[Fill] = field(default_factory=list)
    ended: bool = False

    def acquired(self) -> Decimal:
        """What the entries got of the other asset: base for a buy-first trip, quote after fees otherwise."""
        if self.side is Side.BUY:
            return sum((f.amount for f in self.entries), _ZERO)
        return sum((f.cost - f.fee for f in self.entries), _ZERO)

    def held(self) -> Decimal:
        """What is left of it after the exits."""
        if self.side is Side.BUY:
            return self.acquired() - sum((f.amount for f in self.exits), _ZERO)
        return self.acquired() - sum((f.cost + f.fee for f in self.exits), _ZERO)

    def closed(self) -> bool:
        return bool(self.exits) and (self.ended or self.held() <= DUST_SHARE * self.acquired())


def round_trips(fills: Iterable[Fill], reasons: Mapping[str, str] | None = None,
                strategies: Mapping[str, str] | None = None, *,
                marks: Mapping[str, Decimal] | None = None) -> list[RoundTrip]:
    """The round trips of ``fills``, in the order they opened.

    ``reasons`` maps a client id to its order request's reason, ``strategies`` a trader to its strategy, and
    ``marks`` a pair to the price that values what trips still open hold (default: their last fill's price).
    """
    trips: list[tuple[str, str, _Trip]] = []
    current: dict[tuple[str, str], _Trip] = {}

    def open_trip(fill: Fill) -> None:
        previous = current.get((fill.trader, fill.pair))
        if previous is not None:
            previous.ended = True
        current[fill.trader, fill.pair] = trip = _Trip(fill.side, [fill])
        trips.append((fill.trader, fill.pair, trip))

    for fill in fills:
        trip = current.get((fill.trader, fill.pair))
        if trip is None or (fill.side is trip.side and trip.exits):
            open_trip(fill)
        elif fill.side is trip.side:
            trip.entries.append(fill)
        elif trip.side is Side.SELL or fill.amount <= trip.held():
            trip.exits.append(fill)
        else:
            held = max(trip.held(), _ZERO)
            if held > 0:
                trip.exits.append(_part(fill, held, fill.fee * held / fill.amount))
            open_trip(_part(fill, fill.amount - held, fill.fee - fill.fee * held / fill.amount))
    return [_round_trip(trader, pair, trip, reasons or {}, strategies or {}, marks or {})
            for trader, pair, trip in trips]


def _part(fill: Fill, amount: Decimal, fee: Decimal) -> Fill:
    return msgspec.structs.replace(fill, amount=amount, fee=fee)


def _vwap(fills: list[Fill]) -> Decimal | None:
    amount = sum((f.amount for f in fills), _ZERO)
    return sum((f.cost for f in fills), _ZERO) / amount if amount else None


def _round_trip(trader: str, pair: str, trip: _Trip, reasons: Mapping[str, str], strategies: Mapping[str, str],
                marks: Mapping[str, Decimal]) -> RoundTrip:
    closed = trip.closed()
    fills = trip.entries + trip.exits
    last = (trip.exits or trip.entries)[-1]
    price = last.price if closed else marks.get(pair, last.price)
    quote = sum((f.cost if f.side is Side.SELL else -f.cost for f in fills), _ZERO)
    fees = sum((f.fee for f in fills), _ZERO)
    base = sum((f.amount if f.side is Side.BUY else -f.amount for f in fills), _ZERO)
    pnl_quote = quote - fees + base * price
    if trip.side is Side.BUY:
        pnl, capital = pnl_quote, sum((f.cost + f.fee for f in trip.entries), _ZERO)
    else:
        pnl = pnl_quote / price if price else _ZERO
        capital = sum((f.amount for f in trip.entries), _ZERO)
    entry_price = _vwap(trip.entries)
    return RoundTrip(
        trader=trader, pair=pair, strategy=strategies.get(trader, ""), side=trip.side,
        entry_ts=trip.entries[0].ts, exit_ts=trip.exits[-1].ts if closed else None,
        entry_price=entry_price if entry_price is not None else _ZERO, exit_price=_vwap(trip.exits),
        amount=sum((f.amount for f in trip.entries), _ZERO), fees=fees, pnl=pnl, pnl_quote=pnl_quote,
        return_=float(pnl / capital) if capital else 0.0,
        exit_reason=exit_reason(trip.exits[-1], reasons) if closed else "open",
    )
