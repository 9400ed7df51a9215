"""What a trader decides on each closed candle, apart from the life it leads and the messages it sends.

``Trader`` inherits these: feeding the strategy, then the one order (if any) that brings the position toward the
strategy's target, the trailing stop, the amounts to spend and give back. Nothing here waits or sends: the
decisions are made synchronously (which lets a backtest decide a candle without a task switch,
``Trader.take_candle``), and the trader carries them out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from decimal import Decimal

from crypy.plugins.previewed import PreviewedLive
from crypy.protocols import Candle, MarketInfo, Order, Proposal, Side, Signal

from .bus import Subscription
from .ledger import CapitalLedger
from .runtime import Runtime
from .template import TraderTemplate
from .trader_evaluation import Evaluated
from .trader_orders import PlannedOrder, Reaction, TraderOrders
from .trader_sizing import ScaleIn, TrailingStop, exit_prices, give_back_amount, only_a_remainder, spend_amount

HOUR_MS = 3_600_000


class TraderDecisions:
    """The decision half of ``Trader`` (see the module docstring); the attributes are the trader's state."""

    name: str
    runtime: Runtime
    market: MarketInfo
    timeframe: str
    template: TraderTemplate
    ledger: CapitalLedger
    orders: TraderOrders
    proposal: Proposal | None
    live: PreviewedLive | None
    allocation: Decimal
    target: float | None
    signal: float
    last_candle: Candle | None
    candles: deque[Candle]
    candle_count: int
    scale: ScaleIn
    trailing: TrailingStop
    paused: bool
    _sat_out: bool | None
    evaluated: Evaluated | None
    _evaluated_at: int
    _idle: bool
    _replies: Subscription

    @property
    def exits(self) -> dict[str, float | None]:
        """The exits of the strategy being traded (stop_loss, take_profit, trailing_stop; None: not set)."""
        return self.evaluated.exits if self.evaluated else {}

    def _feed(self, candle: Candle) -> None:
        """One closed candle through the live strategy."""
        assert self.live is not None
        self.target = self.live.update(candle.ts, candle.open, candle.high, candle.low, candle.close, candle.volume)
        self.signal = self.live.signal
        self.last_candle = candle
        self.candles.append(candle)
        self.candle_count += 1

    def quiet_run(self, candles: Sequence[Candle], start: int, stop: int) -> int:
        """How many of ``candles[start:stop]`` (the next to close, in order, while no order is live) would leave
        this trader nothing to do but feed its strategy, whatever their prices: a backtest may hand those over in
        one go (``take_quietly``).

        That holds while the trader waits idle for candles, its strategy has decided them ahead with an unchanged
        target (no signal), no re-evaluation falls due, and its state makes the unchanged target ask for no
        order: warming up, paused, sitting out, flat and wanting to stay so, or fully in. A state whose answer
        depends on the price (a trailing stop or a re-evaluation while in position) is not quiet.
        """
        decided: Iterator[tuple[int, float | None, float]] | None = None
        for index in range(start, stop):
            candle = candles[index]
            if not self._is_next(candle):
                continue
            if decided is None:
                if not self._steady():
                    return index - start
                assert self.live is not None
                decided = self.live.decided()
            ts, target, _ = next(decided, (None, None, None))
            if ts != candle.ts or target != self.target or self._reevaluation_due(candle):
                return index - start
        return stop - start

    def take_quietly(self, candles: Sequence[Candle]) -> None:
        """Take ``candles`` of this trader's pair that ``quiet_run`` vouched for: what ``_react`` does to each."""
        own = [candle for candle in candles if self._is_next(candle)]
        if not own:
            return
        assert self.live is not None
        self.target, self.signal = self.live.advance([candle.ts for candle in own])
        self.last_candle = own[-1]
        self.candles.extend(own)
        self.candle_count += len(own)
        if self.target is not None and not self.paused and self._sat_out is None and not self._wants_out():
            self.scale.reset()  # what ``_planned_order`` does on each of them: flat, and staying flat

    def _is_next(self, candle: Candle) -> bool:
        """A candle this trader would decide on: its pair and timeframe, newer than its last."""
        return candle.pair == self.market.pair and candle.timeframe == self.timeframe \
            and (self.last_candle is None or candle.ts > self.last_candle.ts)

    def _steady(self) -> bool:
        """Whether a candle that leaves the target as it is asks this trader for nothing, whatever its price."""
        if not self._idle or len(self._replies) or self.live is None or self.proposal is None or self.open_orders:
            return False
        flat = not self.ledger.acquired
        if not flat and (self.trailing.fraction or self.template.evaluation.reevaluate_hours):
            return False
        if self.target is None or self.paused:
            return True
        wants_out = self._wants_out()
        if self._sat_out is not None:
            return wants_out == self._sat_out
        if not wants_out:
            return flat
        return self.ledger.holder_holds_quote and self.scale.full

    def _reevaluation_due(self, candle: Candle) -> bool:
        """A flat trader with nothing in flight re-evaluates every ``reevaluate_hours`` of exchange time."""
        hours = self.template.evaluation.reevaluate_hours
        return bool(hours) and not self.in_position and not self.open_orders \
            and candle.ts - self._evaluated_at >= hours * HOUR_MS

    @property
    def capital(self) -> Decimal:
        """What this trader may put into the pair: its allocation less what it has lost (what it gained is the
        holder's), so that a trader that lost never spends capital it no longer has."""
        return max(self.allocation + min(self.ledger.realized, Decimal(0)), Decimal(0))

    @property
    def in_position(self) -> bool:
        """Holding enough of the other asset that giving it back would be a valid order."""
        return self._exit_amount() > 0

    def close_order(self) -> tuple[Side, Decimal]:
        """The order that gives back everything this trader holds (amount 0 when it holds too little)."""
        side = Side.SELL if self.ledger.holder_holds_quote else Side.BUY
        return side, self._exit_amount()

    def _react(self, candle: Candle) -> Reaction | None:
        """Feed one closed candle to the strategy and decide what it asks for; nothing is sent yet."""
        assert self.live is not None and self.proposal is not None
        before = self.target
        self._feed(candle)
        if self.target is None:
            return None
        signal = None
        if self.target != before:
            signal = Signal(ts=self.runtime.now_ms(), trader=self.name, pair=self.market.pair,
                            strategy=self.proposal.strategy, direction=1 if self.target > 0 else 0,
                            strength=self.target, tags=(self.proposal.strategy,))
        if self._trailing_stop_hit(candle):
            self._sat_out = True
            return Reaction(signal, self._give_back_order("trailing_stop"))
        order = self._planned_order()
        return None if signal is None and order is None else Reaction(signal, order)

    def _trailing_stop_hit(self, candle: Candle) -> bool:
        if not self.trailing.fraction or not self.ledger.holder_holds_quote or not self.in_position \
                or self.open_orders:
            return False
        return self.trailing.hit(candle)

    def _wants_out(self) -> bool:
        """The target says: hold the other asset (base for a quote holder, quote for a base holder)."""
        if self.ledger.holder_holds_quote:
            return bool(self.target)
        return self.target == 0

    def _planned_order(self) -> PlannedOrder | None:
        """The one order that would bring the position toward the target, if any is needed.

        After a refusal, or an exit order that closed the position, the trader waits for the target to turn
        rather than asking again (or re-entering) on every candle.
        """
        if self.paused or self.open_orders or self.target is None or self.last_candle is None:
            return None
        wants_out = self._wants_out()
        if self._sat_out is not None:
            if wants_out == self._sat_out:
                return None
            self._sat_out = None
        if not wants_out:
            if self.in_position and not only_a_remainder(self.ledger, self.allocation):
                return self._give_back_order("exit")
            self.scale.reset()  # flat (a refused entry leaves no position): the next entry is a first one
            return None
        if self.ledger.holder_holds_quote:
            if not self.scale.may_enter(self.candle_count, signalled=self.signal > 0):
                return None
            budget = self.scale.budget(self.capital, self.target, self.ledger.committed)
        elif self.in_position and not only_a_remainder(self.ledger, self.allocation):
            return None
        else:
            budget = self.capital - self.ledger.committed
        amount = spend_amount(self.market, self.ledger, budget, self.last_candle.close,
                              self.template.evaluation.spread)
        if amount <= 0:
            return None
        side = Side.BUY if self.ledger.holder_holds_quote else Side.SELL
        return PlannedOrder(side, amount, "entry" if self.scale.entries == 0 else "add-on")

    def _give_back_order(self, reason: str) -> PlannedOrder | None:
        side, amount = self.close_order()
        return PlannedOrder(side, amount, reason) if amount > 0 else None

    def _exit_amount(self) -> Decimal:
        if self.last_candle is None or not self.ledger.acquired:  # flat: nothing to give back, at any price
            return Decimal(0)
        return give_back_amount(self.market, self.ledger, self.last_candle.close, self.template.evaluation.spread)

    @property
    def open_orders(self) -> dict[str, Order]:
        return self.orders.open

    def _exits(self) -> tuple[Decimal | None, Decimal | None]:
        """The stop-loss and take-profit prices around the last close, for a long entry."""
        if not self.ledger.holder_holds_quote or self.last_candle is None:
            return None, None
        return exit_prices(self.market, self.last_candle.close, self.exits)

