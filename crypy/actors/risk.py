"""Risk measured on the traders' ledgers: the desk's daily loss and each trader's drawdown.

Both are trading results, realized plus unrealized: what the traders' fills did to their holders' capital,
with open positions valued at the last price net of the taker fee it would cost to close them. Money the
account held before crypy traded (and its price moves) is not the desk's loss to limit: it cannot be
flattened anyway.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from crypy.protocols import MarketInfo

from .order_gate import TraderLedger
from .template import RiskSettings

DAY_MS = 86_400_000

PriceOf = Callable[[str], Decimal | None]
"""The last price of a pair, None before the first candle."""


@dataclass(frozen=True)
class Breach:
    """A risk limit crossed: ``kind`` is ``daily_loss_limit`` or ``trader_drawdown``."""

    kind: str
    detail: str
    value: Decimal
    limit: Decimal
    asset: str
    trader: str = ""


def ledger_pnl(ledger: TraderLedger, market: MarketInfo, price: Decimal) -> Decimal:
    """Realized plus unrealized result of one trader, in its holder's asset, closing at ``price`` as a taker."""
    fee = Decimal(market.taker_fee)
    if ledger.holder_holds_quote:
        worth = ledger.acquired * price * (1 - fee)
    else:
        worth = ledger.acquired / (price * (1 + fee))
    return ledger.realized + worth - ledger.committed


class RiskMonitor:
    """Watches the ledgers on every price update and reports each limit once when it is crossed."""

    def __init__(self, settings: RiskSettings, markets: dict[str, MarketInfo]) -> None:
        self.settings = settings
        self.markets = markets
        self.day = -1
        self.day_start_pnl = Decimal(0)
        self.daily_pnl = Decimal(0)
        self.daily_fired = False
        self._peaks: dict[tuple[str, str], Decimal] = {}
        self._stopped: set[tuple[str, str]] = set()

    def value_in_quote(self, asset: str, amount: Decimal, price_of: PriceOf) -> Decimal | None:
        """``amount`` of ``asset`` in the account's quote currency, through a direct market; None without one."""
        quote = self.settings.quote
        if asset == quote:
            return amount
        for market in self.markets.values():
            price = price_of(market.pair)
            if price is None:
                continue
            if (market.base, market.quote) == (asset, quote):
                return amount * price
            if (market.base, market.quote) == (quote, asset):
                return amount / price
        return None

    def total_pnl(self, ledgers: Iterable[TraderLedger], price_of: PriceOf) -> Decimal:
        """Every trader's result in the quote currency (traders on pairs without a price yet count as 0)."""
        total = Decimal(0)
        for ledger in ledgers:
            market, price = self.markets.get(ledger.pair), price_of(ledger.pair)
            if market is None or price is None:
                continue
            value = self.value_in_quote(ledger.asset, ledger_pnl(ledger, market, price), price_of)
            total += value or Decimal(0)
        return total

    def check(self, now_ms: int, ledgers: dict[str, TraderLedger], price_of: PriceOf) -> list[Breach]:
        """The limits crossed since the last check; a new UTC day starts a new daily account."""
        breaches = []
        total = self.total_pnl(ledgers.values(), price_of)
        day = now_ms // DAY_MS
        if day != self.day:
            self.day, self.day_start_pnl, self.daily_fired = day, total, False
        self.daily_pnl = total - self.day_start_pnl
        limit = self.settings.daily_loss_limit
        if limit is not None and not self.daily_fired and -self.daily_pnl >= limit:
            self.daily_fired = True
            breaches.append(Breach("daily_loss_limit", f"daily trading loss {-self.daily_pnl:.2f} "
                                   f"{self.settings.quote} reached the limit {limit}", -self.daily_pnl, limit,
                                   self.settings.quote))
        if self.settings.trader_max_drawdown is not None:
            breaches.extend(self._drawdowns(ledgers, price_of, Decimal(str(self.settings.trader_max_drawdown))))
        return breaches

    def would_breach(self, now_ms: int, ledgers: dict[str, TraderLedger], price_of: PriceOf) -> bool:
        """Whether ``check`` would report a limit now; nothing changes here."""
        probe = copy.copy(self)
        probe._peaks, probe._stopped = dict(self._peaks), set(self._stopped)
        return bool(probe.check(now_ms, ledgers, price_of))

    def _drawdowns(self, ledgers: dict[str, TraderLedger], price_of: PriceOf, fraction: Decimal) -> list[Breach]:
        """Each trader's fall from its best result under its current approval, against the approved amount."""
        breaches = []
        for trader, ledger in ledgers.items():
            market, price = self.markets.get(ledger.pair), price_of(ledger.pair)
            if ledger.approval is None or market is None or price is None:
                continue
            key = (trader, ledger.approval.id)
            pnl = ledger_pnl(ledger, market, price)
            peak = self._peaks[key] = max(self._peaks.get(key, pnl), pnl)
            drawdown, limit = peak - pnl, ledger.approval.amount * fraction
            if key not in self._stopped and drawdown > 0 and drawdown >= limit:
                self._stopped.add(key)
                breaches.append(Breach("trader_drawdown", f"{trader} fell {drawdown:.8f} {ledger.asset} from its "
                                       f"best, the limit is {limit:.8f}", drawdown, limit, ledger.asset, trader))
        return breaches
