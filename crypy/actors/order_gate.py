"""The desk's order gate: every order request is checked here before it may reach the exchange.

A request passes only while the desk's trading state allows it (ACTIVE: all; REDUCING: only orders that
give a position back; HALTED: none), with a valid holder approval (signed by a holder the desk created, for
this trader and pair, not expired) that still covers it, within the desk's limits (pairs, order value, open
orders, orders per minute, exposure per asset) and what the exchange offers. The gate keeps a ledger per
trader of how much of its holder's asset it has committed, so an approval cannot be spent twice, and a
trader can only give back what it actually acquired.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from crypy.exchanges.base import Capabilities
from crypy.protocols import Approval, Fill, MarketInfo, OrderRequest, OrderType, Side, TradingState

from .approval import verify
from .ledger import CapitalLedger
from .template import DeskLimits


@dataclass
class TraderLedger(CapitalLedger):
    """A trader's capital ledger plus the orders the gate let through that have not finished yet."""

    pair: str = ""
    approval: Approval | None = None
    """The approval the trader's latest entry was checked against (its amount bounds the drawdown)."""
    pending_spend: dict[str, Decimal] = field(default_factory=dict)
    pending_return: dict[str, Decimal] = field(default_factory=dict)
    pending_acquire: dict[str, Decimal] = field(default_factory=dict)
    """How much of ``other`` each entry in flight would bring in (for the desk's exposure limit)."""


def _order_price(request: OrderRequest, last_price: Decimal) -> Decimal:
    """The price an order is judged at: its limit, or the last traded price for a market order."""
    if request.order_type is OrderType.LIMIT and request.price is not None:
        return request.price
    return last_price


def _decimals(value: Decimal) -> int:
    return max(0, -value.normalize().as_tuple().exponent)  # type: ignore[operator]


def _precision_refusal(request: OrderRequest, market: MarketInfo) -> str | None:
    """Amounts and prices finer than the market's steps: the exchange would refuse or round them unasked."""
    if _decimals(request.amount) > market.amount_decimals:
        return f"amount {request.amount} has more than {market.amount_decimals} decimals"
    for name in ("price", "trigger_price", "stop_loss", "take_profit"):
        value = getattr(request, name)
        if value is not None and _decimals(value) > market.price_decimals:
            return f"{name.replace('_', ' ')} {value} has more than {market.price_decimals} decimals"
    return None


class OrderGate:
    def __init__(self, holder_keys: dict[str, bytes], limits: DeskLimits, capabilities: Capabilities | None = None,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys = holder_keys
        self.limits = limits
        self.capabilities = capabilities
        self.ledgers: dict[str, TraderLedger] = {}
        self.state = TradingState.ACTIVE
        self._clock = clock
        self._sent: deque[float] = deque()
        """When (``clock`` seconds) the requests of the last minute passed, for ``max_orders_per_minute``."""

    def check(self, request: OrderRequest, *, market: MarketInfo | None, last_price: Decimal,
              now_ms: int) -> str | None:
        """The reason to refuse ``request``, or None when it may go to the exchange (and is then reserved)."""
        reason = self._refusal(request, market, last_price, now_ms)
        if reason is None:
            assert market is not None
            self.reserve(request, market, last_price)
            self._sent.append(self._clock())
        return reason

    def reserve(self, request: OrderRequest, market: MarketInfo, last_price: Decimal) -> None:
        """Count ``request`` as in flight until ``on_order_closed``: after ``check`` passed it, or for an order a
        restarted desk found open on the exchange."""
        ledger = self.recall(request, market)
        price = _order_price(request, last_price)
        estimate = self._estimate(request, market, price)
        if ledger.spends(request.side):
            ledger.pending_spend[request.client_id] = estimate
            ledger.pending_acquire[request.client_id] = request.amount if request.side is Side.BUY else (
                request.amount * price)
        else:
            ledger.pending_return[request.client_id] = estimate

    def recall(self, request: OrderRequest, market: MarketInfo) -> TraderLedger:
        """The ledger of the request's trader, made from its approval if the gate has none yet (a restart
        rebuilds the ledgers by recalling the journaled requests, then booking the journaled fills)."""
        assert request.approval is not None
        ledger = self._ledger(request, market)
        ledger.approval = request.approval
        return ledger

    def open_orders(self) -> int:
        """Orders this gate let through that have not reached a terminal state yet."""
        return sum(len(ledger.pending_spend) + len(ledger.pending_return) for ledger in self.ledgers.values())

    def _refusal(self, request: OrderRequest, market: MarketInfo | None, last_price: Decimal,
                 now_ms: int) -> str | None:
        approval = request.approval
        if self.state is TradingState.HALTED:
            return "the desk is halted: no new orders"
        if market is None:
            return f"unknown pair {request.pair}"
        if self.limits.allowed_pairs and request.pair not in self.limits.allowed_pairs:
            return f"pair {request.pair} is not allowed by the desk"
        if approval is None:
            return "no holder approval"
        key = self._keys.get(approval.holder)
        if key is None:
            return f"approval from unknown holder {approval.holder}"
        if not verify(key, approval):
            return "approval signature is invalid"
        if approval.trader != request.trader or approval.pair != request.pair:
            return f"approval {approval.id} does not cover {request.trader} on {request.pair}"
        if approval.asset not in (market.base, market.quote):
            return f"approval {approval.id} is for {approval.asset}, not traded on {request.pair}"
        if now_ms > approval.expires:
            return f"approval {approval.id} expired"
        unsupported = self._unsupported(request)
        if unsupported is not None:
            return unsupported
        if request.amount <= 0:
            return "amount must be positive"
        if request.order_type is OrderType.LIMIT and (request.price is None or request.price <= 0):
            return "a limit order needs a positive price"
        precision = _precision_refusal(request, market)
        if precision is not None:
            return precision
        price = _order_price(request, last_price)
        notional = request.amount * price
        if request.amount < Decimal(market.min_amount):
            return f"amount {request.amount} is below the market minimum {market.min_amount}"
        if notional < Decimal(market.min_cost):
            return f"order value {notional:.2f} is below the market minimum {market.min_cost}"
        if notional > self.limits.max_order_notional:
            return f"order value {notional:.2f} exceeds the desk limit {self.limits.max_order_notional}"
        ledger = self._ledger(request, market)
        estimate = self._estimate(request, market, price)
        if ledger.spends(request.side):
            if self.state is TradingState.REDUCING:
                return "the desk is reducing: only orders that give a position back"
            room = approval.amount - ledger.committed - sum(ledger.pending_spend.values())
            if estimate > room:
                return f"approval {approval.id} has {max(room, Decimal(0))} {ledger.asset} left, order needs {estimate}"
            exposure = self._exposure_refusal(ledger, request.amount if request.side is Side.BUY else notional)
            if exposure is not None:
                return exposure
        else:
            room = ledger.acquired - sum(ledger.pending_return.values())
            if estimate > room:
                return f"{request.trader} holds {max(room, Decimal(0))} {ledger.other}, order needs {estimate}"
        return self._pace_refusal()

    def _exposure_refusal(self, ledger: TraderLedger, acquires: Decimal) -> str | None:
        """Whether acquiring ``acquires`` more of ``ledger.other`` would take the traders past its exposure limit.

        Held amounts count, and so do the entries in flight (their reservation is in the holder's asset, so
        an open buy counts at its amount through ``pending_acquire``)."""
        limit = self.limits.max_exposure.get(ledger.other)
        if limit is None:
            return None
        held = sum((lg.acquired + sum(lg.pending_acquire.values()) for lg in self.ledgers.values()
                    if lg.other == ledger.other), Decimal(0))
        if held + acquires > limit:
            return f"exposure to {ledger.other} would be {held + acquires}, above the desk limit {limit}"
        return None

    def _pace_refusal(self) -> str | None:
        """Open orders and orders per minute: the brakes on a trader gone into a loop."""
        if self.open_orders() >= self.limits.max_open_orders:
            return f"{self.open_orders()} orders are open, the desk limit is {self.limits.max_open_orders}"
        now = self._clock()
        while self._sent and self._sent[0] <= now - 60:
            self._sent.popleft()
        if len(self._sent) >= self.limits.max_orders_per_minute:
            return f"{len(self._sent)} orders in the last minute, the desk limit is {self.limits.max_orders_per_minute}"
        return None

    def _unsupported(self, request: OrderRequest) -> str | None:
        """What the exchange reported it cannot do for this request (None before it reported anything)."""
        caps = self.capabilities
        if caps is None:
            return None
        if request.order_type not in caps.order_types:
            return f"the exchange does not offer {request.order_type} orders"
        if request.post_only and not caps.post_only:
            return "the exchange does not offer post-only orders"
        if request.time_in_force not in caps.time_in_force:
            return f"the exchange does not offer time in force {request.time_in_force}"
        status = caps.pair_status.get(request.pair)
        if status == "cancel_only":
            return f"{request.pair} is in cancel_only mode: no new orders"
        if status == "post_only" and not request.post_only:
            return f"{request.pair} is in post_only mode: only post-only orders"
        if status == "limit_only" and not request.order_type.has_limit_price:
            return f"{request.pair} is in limit_only mode: only limit orders"
        return None

    def _ledger(self, request: OrderRequest, market: MarketInfo) -> TraderLedger:
        assert request.approval is not None
        asset = request.approval.asset
        other = market.base if asset == market.quote else market.quote
        ledger = self.ledgers.get(request.trader)
        if ledger is None or ledger.asset != asset:
            ledger = self.ledgers[request.trader] = TraderLedger(asset=asset, other=other, base=market.base,
                                                                 pair=market.pair)
        return ledger

    @staticmethod
    def _estimate(request: OrderRequest, market: MarketInfo, price: Decimal) -> Decimal:
        """What the order pays, in the currency it pays with (quote cost includes the taker fee)."""
        if request.side is Side.BUY:
            return request.amount * price * (1 + Decimal(market.taker_fee))
        return request.amount

    def on_fill(self, fill: Fill) -> None:
        """Book a fill in its trader's ledger (fills of traders the gate never saw are not its business)."""
        ledger = self.ledgers.get(fill.trader)
        if ledger is not None:
            ledger.apply(fill)

    def on_order_closed(self, trader: str, client_id: str) -> None:
        """An order reached a terminal state: its reservation is no longer pending."""
        ledger = self.ledgers.get(trader)
        if ledger is not None:
            ledger.pending_spend.pop(client_id, None)
            ledger.pending_return.pop(client_id, None)
            ledger.pending_acquire.pop(client_id, None)
