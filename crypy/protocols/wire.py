"""The MessagePack wire codec.

A frame is a msgpack map ``{"v": PROTOCOL_VERSION, "event": {"type": "<EventClass>", ...fields}}``. Any msgpack
reader can read it (Decimals travel as strings). Decoding is typed and all-or-nothing: a frame that is
truncated, malformed, of another protocol version, or names an unknown event type raises ``FrameError``.
Unknown extra fields are ignored so that a newer peer can add fields without breaking an older one.
"""

from __future__ import annotations

from typing import Union

import msgspec

from .account import BalanceSnapshot, Position
from .decisions import Decision, Proposal, Signal
from .lifecycle import ActorCrashed, ActorStarted, ActorStopped
from .market import Candle, CandleBatch, HistoryRequest, Ticker
from .orders import CancelRequest, Fill, Order, OrderRefused, OrderRequest
from .risk import RiskEvent

PROTOCOL_VERSION = 1

EVENT_TYPES: tuple[type, ...] = (
    Candle, CandleBatch, Ticker, HistoryRequest,
    BalanceSnapshot, Position,
    OrderRequest, CancelRequest, OrderRefused, Order, Fill,
    Signal, Proposal, Decision,
    ActorStarted, ActorStopped, ActorCrashed,
    RiskEvent,
)

AnyEvent = Union[EVENT_TYPES]  # type: ignore[valid-type]  # noqa: UP007 - built from a tuple at run time


class FrameError(ValueError):
    """A frame could not be decoded into an event; nothing of it was applied."""


class _Frame(msgspec.Struct, frozen=True):
    v: int
    event: AnyEvent  # type: ignore[valid-type]


class _Header(msgspec.Struct, frozen=True):
    v: int


_encoder = msgspec.msgpack.Encoder()
_frame_decoder = msgspec.msgpack.Decoder(_Frame)
_header_decoder = msgspec.msgpack.Decoder(_Header)


def encode(event: msgspec.Struct) -> bytes:
    """One event as one frame."""
    return _encoder.encode(_Frame(v=PROTOCOL_VERSION, event=event))


def decode(frame: bytes) -> msgspec.Struct:
    """The event in ``frame``, or ``FrameError`` saying what is wrong with it."""
    try:
        header = _header_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise FrameError(f"frame without a protocol version: {exc}") from None
    except msgspec.DecodeError as exc:
        raise FrameError(f"malformed frame: {exc}") from None
    if header.v != PROTOCOL_VERSION:
        raise FrameError(f"unsupported protocol version {header.v} (this side speaks {PROTOCOL_VERSION})")
    try:
        return _frame_decoder.decode(frame).event
    except msgspec.ValidationError as exc:
        raise FrameError(f"invalid event: {exc}") from None
    except msgspec.DecodeError as exc:
        raise FrameError(f"malformed frame: {exc}") from None
