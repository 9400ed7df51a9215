"""The desk's order gate: only requests covered by a valid holder approval reach the exchange."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import msgspec
import pytest

from crypy.actors import approval as approvals
from crypy.actors.order_gate import OrderGate
from crypy.actors.template import DeskLimits
from crypy.exchanges import Capabilities
from crypy.protocols import Fill, MarketInfo, OrderRequest, OrderType, Side, TimeInForce, TradingState

XBT_USD = MarketInfo(pair="XBT/USD", base="XBT", quote="USD", price_decimals=1, amount_decimals=8,
                     min_amount="0.0001", min_cost="0.5", maker_fee="0.0016", taker_fee="0.0026")
KEY = approvals.new_key()
PRICE = Decimal("20000")


def _approval(asset: str = "USD", amount: str = "1000", trader: str = "XBT/USD@USD", expires: int = 10_000,
              key: bytes = KEY):
    return approvals.sign(key, id="USD-A1", holder=asset, trader=trader, pair="XBT/USD", asset=asset,
                          amount=Decimal(amount), expires=expires)


def _request(amount: str = "0.01", side: Side = Side.BUY, approval=None, client_id: str = "c1",
             trader: str = "XBT/USD@USD", order_type: OrderType = OrderType.MARKET, price: str | None = None):
    return OrderRequest(ts=1, client_id=client_id, trader=trader, pair="XBT/USD", side=side, order_type=order_type,
                        amount=Decimal(amount), price=Decimal(price) if price else None, approval=approval)


def _gate(**limits: object) -> OrderGate:
    return OrderGate({"USD": KEY, "XBT": KEY}, DeskLimits(**limits))  # type: ignore[arg-type]


def _check(gate: OrderGate, request: OrderRequest, now: int = 5_000) -> str | None:
    return gate.check(request, market=XBT_USD, last_price=PRICE, now_ms=now)


def _fill(side: Side, amount: str, price: str = "20000", fee: str = "0.52", trader: str = "XBT/USD@USD") -> Fill:
    return Fill(ts=2, id=f"T{side}{amount}", order_id="O1", client_id="c1", pair="XBT/USD", side=side,
                price=Decimal(price), amount=Decimal(amount), fee=Decimal(fee), fee_asset="USD", liquidity="taker",
                trader=trader)


def test_an_approved_request_passes() -> None:
    assert _check(_gate(), _request(approval=_approval())) is None


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (_request(approval=None), "no holder approval"),
        (_request(approval=_approval(key=b"not the holder's key")), "signature is invalid"),
        (_request(approval=msgspec.structs.replace(_approval(), amount=Decimal("1000000"))), "signature is invalid"),
        (_request(approval=_approval(trader="ETH/USD@USD")), "does not cover"),
        (_request(approval=_approval(expires=4_999)), "expired"),
        (_request(amount="0.00001", approval=_approval()), "below the market minimum"),
        (_request(amount="0.0001", approval=_approval(), order_type=OrderType.LIMIT, price="1"),
         "below the market minimum 0.5"),
        (_request(amount="0", approval=_approval()), "amount must be positive"),
        (_request(amount="0.010000001", approval=_approval()), "amount 0.010000001 has more than 8 decimals"),
        (_request(order_type=OrderType.LIMIT, price="20000.05", approval=_approval()),
         "price 20000.05 has more than 1 decimals"),
        (_request(order_type=OrderType.LIMIT, approval=_approval()), "needs a positive price"),
        (_request(amount="0.1", approval=_approval()), "left, order needs"),
        (_request(side=Side.SELL, approval=_approval()), "holds 0 XBT"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(request_: OrderRequest, reason: str) -> None:
    assert reason in (_check(_gate(), request_) or "accepted")


def test_an_approval_from_an_unknown_holder_is_refused() -> None:
    gate = OrderGate({}, DeskLimits())
    assert "unknown holder" in (_check(gate, _request(approval=_approval())) or "")


def test_desk_limits_apply() -> None:
    assert "exceeds the desk limit" in (_check(_gate(max_order_notional=100.0), _request(approval=_approval())) or "")
    assert "not allowed" in (_check(_gate(allowed_pairs=["ETH/USD"]), _request(approval=_approval())) or "")


def test_an_approval_cannot_be_spent_twice() -> None:
    gate = _gate()
    approval = _approval(amount="1000")
    assert _check(gate, _request(amount="0.03", approval=approval, client_id="a")) is None
    refused = _check(gate, _request(amount="0.03", approval=approval, client_id="b"))
    assert refused is not None and "left" in refused
    gate.on_order_closed("XBT/USD@USD", "a")
    assert _check(gate, _request(amount="0.03", approval=approval, client_id="c")) is None


def test_fills_commit_capital_and_only_acquired_amounts_can_be_given_back() -> None:
    gate = _gate()
    approval = _approval(amount="1000")
    assert _check(gate, _request(amount="0.04", approval=approval, client_id="c1")) is None
    gate.on_fill(_fill(Side.BUY, "0.04", fee="2.08"))
    gate.on_order_closed("XBT/USD@USD", "c1")
    ledger = gate.ledgers["XBT/USD@USD"]
    assert ledger.committed == Decimal("802.08") and ledger.acquired == Decimal("0.04")
    assert "left" in (_check(gate, _request(amount="0.01", approval=approval, client_id="c2")) or "")
    assert "holds 0.04 XBT" in (_check(gate, _request(side=Side.SELL, amount="0.05", approval=approval)) or "")
    assert _check(gate, _request(side=Side.SELL, amount="0.04", approval=approval, client_id="c3")) is None
    gate.on_fill(_fill(Side.SELL, "0.04", price="21000", fee="2.184"))
    assert ledger.committed == 0 and ledger.acquired == 0
    assert ledger.realized == Decimal("840") - Decimal("2.184") - Decimal("802.08")


def test_a_base_holder_spends_by_selling_and_returns_by_buying() -> None:
    gate = _gate()
    approval = approvals.sign(KEY, id="XBT-A1", holder="XBT", trader="XBT/USD@XBT", pair="XBT/USD", asset="XBT",
                              amount=Decimal("0.1"), expires=10_000)
    sell = _request(side=Side.SELL, amount="0.1", approval=approval, trader="XBT/USD@XBT")
    assert _check(gate, sell) is None
    assert "left" in (_check(gate, _request(side=Side.SELL, amount="0.01", approval=approval, trader="XBT/USD@XBT",
                                            client_id="c2")) or "")
    gate.on_fill(_fill(Side.SELL, "0.1", fee="5.2", trader="XBT/USD@XBT"))
    ledger = gate.ledgers["XBT/USD@XBT"]
    assert ledger.committed == Decimal("0.1") and ledger.acquired == Decimal("1994.8")
    too_much = _request(side=Side.BUY, amount="0.1", approval=approval, trader="XBT/USD@XBT", client_id="c3")
    assert "holds 1994.8 USD" in (_check(gate, too_much) or "")
    enough = _request(side=Side.BUY, amount="0.099", approval=approval, trader="XBT/USD@XBT", client_id="c4")
    assert _check(gate, enough) is None


def test_a_tampered_field_breaks_the_signature() -> None:
    approval = _approval()
    assert approvals.verify(KEY, approval)
    for change in ({"pair": "ETH/USD"}, {"expires": 10**12}, {"trader": "other"}, {"asset": "XBT"}):
        assert not approvals.verify(KEY, msgspec.structs.replace(approval, **change))


def _capable(**changes: object) -> OrderGate:
    caps = Capabilities(order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}), post_only=False)
    gate = _gate()
    gate.capabilities = dataclasses.replace(caps, **changes)  # type: ignore[arg-type]
    return gate


@pytest.mark.parametrize(
    ("changes", "request_", "reason"),
    [
        ({}, _request(approval=_approval(), order_type=OrderType.STOP_LOSS, price=None), "does not offer stop-loss"),
        ({}, _request(approval=_approval(), order_type=OrderType.LIMIT, price="19000"), None),
        ({}, msgspec.structs.replace(_request(approval=_approval(), order_type=OrderType.LIMIT, price="19000"),
                                     post_only=True), "does not offer post-only"),
        ({}, msgspec.structs.replace(_request(approval=_approval()), time_in_force=TimeInForce.IOC),
         "does not offer time in force ioc"),
        ({"pair_status": {"XBT/USD": "cancel_only"}}, _request(approval=_approval()), "cancel_only mode"),
        ({"pair_status": {"XBT/USD": "limit_only"}}, _request(approval=_approval()), "limit_only mode"),
        ({"pair_status": {"XBT/USD": "post_only"}, "post_only": True},
         _request(approval=_approval(), order_type=OrderType.LIMIT, price="19000"), "post_only mode"),
        ({"pair_status": {"ETH/USD": "cancel_only"}}, _request(approval=_approval()), None),
    ],
)
def test_the_gate_refuses_what_the_exchange_does_not_offer(changes: dict[str, object], request_: OrderRequest,
                                                           reason: str | None) -> None:
    refusal = _check(_capable(**changes), request_)
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None and reason in refusal


def test_max_open_orders_counts_what_the_gate_let_through_until_it_ends() -> None:
    gate = _gate(max_open_orders=2)
    approval = _approval(amount="10000")
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="a")) is None
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="b")) is None
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="c")) == (
        "2 orders are open, the desk limit is 2")
    gate.on_order_closed("XBT/USD@USD", "a")
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="c")) is None


def test_max_orders_per_minute_is_a_sliding_window() -> None:
    now = [1000.0]
    gate = OrderGate({"USD": KEY}, DeskLimits(max_orders_per_minute=3), clock=lambda: now[0])
    approval = _approval(amount="10000")
    for n in range(3):
        assert _check(gate, _request(amount="0.01", approval=approval, client_id=f"o{n}")) is None
        gate.on_order_closed("XBT/USD@USD", f"o{n}")
        now[0] += 10
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="o3")) == (
        "3 orders in the last minute, the desk limit is 3")
    now[0] = 1000.0 + 60.5  # the first one left the window
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="o3")) is None


def test_max_exposure_adds_up_every_trader_holding_the_asset() -> None:
    gate = _gate(max_exposure={"XBT": Decimal("0.05")})
    first = _approval(amount="10000")
    assert _check(gate, _request(amount="0.03", approval=first, client_id="a")) is None
    gate.on_fill(_fill(Side.BUY, "0.03"))
    gate.on_order_closed("XBT/USD@USD", "a")
    other = approvals.sign(KEY, id="USD-A2", holder="USD", trader="XBT/USD@USD#2", pair="XBT/USD", asset="USD",
                           amount=Decimal("10000"), expires=10_000)
    refused = _check(gate, _request(amount="0.03", approval=other, trader="XBT/USD@USD#2", client_id="b"))
    assert refused == "exposure to XBT would be 0.06, above the desk limit 0.05"
    assert _check(gate, _request(amount="0.02", approval=other, trader="XBT/USD@USD#2", client_id="b")) is None
    # the entry in flight counts too, and giving back is never limited by exposure
    assert "exposure to XBT" in (_check(gate, _request(amount="0.01", approval=first, client_id="c")) or "")
    assert _check(gate, _request(side=Side.SELL, amount="0.03", approval=first, client_id="d")) is None


@pytest.mark.parametrize(
    ("state", "entry", "exit_"),
    [
        (TradingState.ACTIVE, None, None),
        (TradingState.REDUCING, "the desk is reducing: only orders that give a position back", None),
        (TradingState.HALTED, "the desk is halted: no new orders", "the desk is halted: no new orders"),
    ],
)
def test_each_trading_state_lets_through_what_it_says(state: TradingState, entry: str | None,
                                                      exit_: str | None) -> None:
    gate = _gate()
    approval = _approval(amount="10000")
    assert _check(gate, _request(amount="0.02", approval=approval, client_id="in")) is None
    gate.on_fill(_fill(Side.BUY, "0.02"))
    gate.on_order_closed("XBT/USD@USD", "in")
    gate.state = state
    assert _check(gate, _request(amount="0.01", approval=approval, client_id="more")) == entry
    assert _check(gate, _request(side=Side.SELL, amount="0.02", approval=approval, client_id="out")) == exit_


def test_a_reused_approval_is_refused_once_spent_and_for_anyone_else() -> None:
    gate = _gate()
    approval = _approval(amount="500")
    assert _check(gate, _request(amount="0.02", approval=approval, client_id="a")) is None
    gate.on_fill(_fill(Side.BUY, "0.02", fee="1.04"))
    gate.on_order_closed("XBT/USD@USD", "a")
    again = _check(gate, _request(amount="0.01", approval=approval, client_id="b"))
    assert again is not None and "approval USD-A1 has 98.96 USD left" in again
    stolen = _check(gate, _request(amount="0.001", approval=approval, trader="ETH/USD@USD", client_id="c"))
    assert stolen == "approval USD-A1 does not cover ETH/USD@USD on XBT/USD"


def test_bad_limits_in_a_template_are_refused() -> None:
    for limits in ({"max_open_orders": 0}, {"max_orders_per_minute": -1}, {"max_exposure": {"XBT": "-1"}}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(limits, DeskLimits)
