"""The wire codec: every event survives a round trip, frames are plain msgpack, bad frames are refused."""

from __future__ import annotations

from decimal import Decimal

import msgpack
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypy.protocols import (
    EVENT_TYPES,
    PROTOCOL_VERSION,
    Approval,
    Candle,
    Fill,
    FrameError,
    InvalidTransition,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    check_transition,
    decode,
    encode,
    timeframe_ms,
)

money = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, allow_infinity=False,
                    places=8)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


st.register_type_strategy(Decimal, money)
st.register_type_strategy(float, finite)
st.register_type_strategy(int, st.integers(min_value=-(2**63), max_value=2**63 - 1))

any_event = st.one_of(*[st.builds(cls) for cls in EVENT_TYPES])


@settings(max_examples=200, deadline=None)
@given(any_event)
def test_every_event_round_trips(event: msgspec.Struct) -> None:
    assert decode(encode(event)) == event


@settings(max_examples=100, deadline=None)
@given(any_event)
def test_frames_are_readable_by_plain_msgpack(event: msgspec.Struct) -> None:
    frame = msgpack.unpackb(encode(event))
    assert frame["v"] == PROTOCOL_VERSION
    assert frame["event"]["type"] == type(event).__name__
    assert frame["event"]["ts"] == event.ts


def test_decimals_travel_as_exact_strings() -> None:
    fill = Fill(ts=1, id="T1", order_id="O1", client_id="c1", pair="XBT/USD", side=Side.BUY,
                price=Decimal("16528.7"), amount=Decimal("0.00012345"), fee=Decimal("0.0053"), fee_asset="USD",
                liquidity="taker")
    raw = msgpack.unpackb(encode(fill))["event"]
    assert raw["price"] == "16528.7" and raw["amount"] == "0.00012345" and raw["fee"] == "0.0053"
    assert decode(encode(fill)).fee == Decimal("0.0053")


@settings(max_examples=100, deadline=None)
@given(any_event, st.data())
def test_truncated_frames_are_refused(event: msgspec.Struct, data: st.DataObject) -> None:
    frame = encode(event)
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    with pytest.raises(FrameError):
        decode(frame[:cut])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"", "malformed"),
        (b"\xc1", "malformed"),
        (msgpack.packb([1, 2, 3]), "protocol version"),
        (msgpack.packb({"event": {}}), "protocol version"),
        (msgpack.packb({"v": PROTOCOL_VERSION + 1, "event": {}}), "unsupported protocol version"),
        (msgpack.packb({"v": PROTOCOL_VERSION, "event": {"type": "Teleport", "ts": 1}}), "invalid event"),
        (msgpack.packb({"v": PROTOCOL_VERSION, "event": {"type": "Candle", "ts": 1}}), "missing required field"),
        (msgpack.packb({"v": PROTOCOL_VERSION, "event": {"type": "Ticker", "ts": 1, "pair": "XBT/USD",
                                                          "bid": "cheap", "ask": 1.0, "last": 1.0}}), "invalid event"),
    ],
)
def test_bad_frames_are_refused_with_a_clear_error(frame: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode(frame)


def test_unknown_extra_fields_are_ignored() -> None:
    raw = {"v": PROTOCOL_VERSION, "event": {"type": "Candle", "ts": 60_000, "pair": "XBT/USD", "timeframe": "1m",
                                            "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0,
                                            "added_in_a_newer_version": [1, 2]}}
    candle = decode(msgpack.packb(raw))
    assert isinstance(candle, Candle) and candle.close == 1.5


def test_events_are_immutable() -> None:
    request = OrderRequest(ts=1, client_id="c", trader="t", pair="XBT/USD", side=Side.BUY,
                           order_type=OrderType.MARKET, amount=Decimal("0.1"))
    with pytest.raises(AttributeError):
        request.amount = Decimal(5)  # type: ignore[misc]


def test_order_status_state_machine() -> None:
    check_transition(OrderStatus.PENDING, OrderStatus.OPEN)
    check_transition(OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
    check_transition(OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
    for terminal in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED):
        assert terminal.is_terminal
        with pytest.raises(InvalidTransition):
            check_transition(terminal, OrderStatus.OPEN)
    with pytest.raises(InvalidTransition):
        check_transition(OrderStatus.OPEN, OrderStatus.REJECTED)


def test_order_remaining_and_approval_embedding() -> None:
    approval = Approval(id="A1", holder="USD", trader="XBT/USD@USD", pair="XBT/USD", asset="USD",
                        amount=Decimal("500"), expires=10, signature="ab")
    order = Order(ts=1, id="O1", client_id="c", pair="XBT/USD", side=Side.SELL, order_type=OrderType.LIMIT,
                  amount=Decimal("1.5"), price=Decimal("20000"), status=OrderStatus.PARTIALLY_FILLED,
                  filled=Decimal("0.4"))
    assert order.remaining == Decimal("1.1")
    request = OrderRequest(ts=1, client_id="c", trader="t", pair="XBT/USD", side=Side.BUY,
                           order_type=OrderType.MARKET, amount=Decimal("0.1"), approval=approval)
    assert decode(encode(request)).approval == approval


@pytest.mark.parametrize(("tf", "ms"), [("1m", 60_000), ("15m", 900_000), ("1h", 3_600_000), ("1d", 86_400_000)])
def test_timeframes(tf: str, ms: int) -> None:
    assert timeframe_ms(tf) == ms


@pytest.mark.parametrize("tf", ["", "m", "15", "15x", "abc"])
def test_bad_timeframes(tf: str) -> None:
    with pytest.raises(ValueError, match="unknown timeframe"):
        timeframe_ms(tf)
