"""The desk's order gate: every order request is checked here before it may reach the exchange.

A request passes only with a valid holder approval (signed by a holder the desk created, for this trader
and pair, not expired) that still covers it, within the desk's limits and the market's minimums. The gate
keeps a ledger per trader of how much of its holder's asset it has committed, so an approval cannot be
spent twice, and a trader can only give back what it actually acquired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from crypy.exchanges.base import Capabilities
from crypy.protocols import Fill, MarketInfo, OrderRequest, OrderType, Side

from .approval import verify
from .ledger import CapitalLedger
from .template import DeskLimits


@dataclass
class TraderLedger(CapitalLedger):
    """A trader's capital ledger plus the orders the gate let through that have not finished yet."""

    pair: str = ""
    pending_spend: dict[str, Decimal] = field(default_factory=dict)
    pending_return: dict[str, Decimal] = field(default_factory=dict)


def _order_price(request: OrderRequest, last_price: Decimal) -> Decimal:
    """The price an order is judged at: its limit, or the last traded price for a market order."""
    if request.order_type is OrderType.LIMIT and request.price is not None:
        return request.price
    return last_price


class OrderGate:
    def __init__(self, holder_keys: dict[str, bytes], limits: DeskLimits,
                 capabilities: Capabilities | None = None) -> None:
        self._keys = holder_keys
        self.limits = limits
        self.capabilities = capabilities
        self.ledgers: dict[str, TraderLedger] = {}

    def check(self, request: OrderRequest, *, market: MarketInfo | None, last_price: Decimal,
              now_ms: int) -> str | None:
        """The reason to refuse ``request``, or None when it may go to the exchange (and is then reserved)."""
        reason = self._refusal(request, market, last_price, now_ms)
        if reason is None:
            assert market is not None and request.approval is not None
            ledger = self._ledger(request, market)
            estimate = self._estimate(request, market, _order_price(request, last_price))
            if ledger.spends(request.side):
                ledger.pending_spend[request.client_id] = estimate
            else:
                ledger.pending_return[request.client_id] = estimate
        return reason

    def _refusal(self, request: OrderRequest, market: MarketInfo | None, last_price: Decimal,
                 now_ms: int) -> str | None:
        approval = request.approval
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
            room = approval.amount - ledger.committed - sum(ledger.pending_spend.values())
            if estimate > room:
                return f"approval {approval.id} has {max(room, Decimal(0))} {ledger.asset} left, order needs {estimate}"
        else:
            room = ledger.acquired - sum(ledger.pending_return.values())
            if estimate > room:
                return f"{request.trader} holds {max(room, Decimal(0))} {ledger.other}, order needs {estimate}"
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
