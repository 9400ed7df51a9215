"""Building blocks of the matching-engine tests: candles on a 15m grid from 2023-01-01, orders with string
amounts, balance snapshots. The ``engine`` fixture built from them lives in ``conftest.py``."""

from __future__ import annotations

from decimal import Decimal

from crypy.protocols import Candle, OrderType, Side
from crypy.simulator import DEFAULT_MARKETS, MatchingEngine

T0 = 1672531200000
STEP = 900_000
BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT = OrderType.MARKET, OrderType.LIMIT


def candle(index: int, o: float, h: float, lo: float, c: float, pair: str = "XBT/USD", volume: float = 1.0) -> Candle:
    return Candle(ts=T0 + index * STEP, pair=pair, timeframe="15m", open=o, high=h, low=lo, close=c, volume=volume)


def close_of(index: int) -> int:
    return T0 + (index + 1) * STEP


def funded_engine() -> MatchingEngine:
    """XBT/USD priced at 16514.9 after candle 0; account "a" holds USD 10000 and XBT 0.25."""
    eng = MatchingEngine(DEFAULT_MARKETS)
    eng.open_account("a", {"USD": Decimal(10000), "XBT": Decimal("0.25")})
    eng.on_candle(candle(0, 16528.7, 16530, 16511, 16514.9))
    return eng


def place(eng: MatchingEngine, side: Side, order_type: OrderType, amount: str, price: str | None = None,
          client_id: str = "", pair: str = "XBT/USD", now_ms: int = close_of(0), account: str = "a", **extra: object):
    """Place with string amounts; ``extra`` passes the newer parameters (trigger_price, post_only, ...) as they are."""
    return eng.place(account, client_id=client_id, pair=pair, side=side, order_type=order_type, amount=Decimal(amount),
                     price=None if price is None else Decimal(price), now_ms=now_ms, **extra)


def totals(eng: MatchingEngine, account: str = "a") -> dict[str, tuple[Decimal, Decimal]]:
    return {asset: (b.total, b.held) for asset, b in eng.balances(account).items()}
