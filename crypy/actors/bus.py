"""The in-process pub/sub bus that carries dataflow events between actors.

Every topic has an explicit delivery policy, because the two kinds of traffic fail differently:

* ``LATEST`` (market data): a slow subscriber must never slow the publisher. Its queue keeps the newest
  items and drops the oldest, counting what it dropped so the subscriber can notice and resynchronise.
* ``RELIABLE`` (orders, fills, decisions...): nothing may be lost. A full queue makes the publisher wait
  (backpressure) until the subscriber catches up.

Queues are small hand-made structures on ``trio.lowlevel.ParkingLot`` rather than memory channels,
because a memory channel cannot drop its *oldest* item.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

import trio


class Delivery(enum.Enum):
    LATEST = "latest"
    RELIABLE = "reliable"


class Topic(enum.StrEnum):
    """The streams of the system; the policy of each is in ``POLICIES``."""

    CANDLES = "candles"
    TICKERS = "tickers"
    BALANCES = "balances"
    HISTORY_REQUESTS = "history_requests"
    HISTORY = "history"
    ORDER_REQUESTS = "order_requests"
    ORDERS = "orders"
    FILLS = "fills"
    REFUSALS = "refusals"
    POSITIONS = "positions"
    SIGNALS = "signals"
    PROPOSALS = "proposals"
    DECISIONS = "decisions"
    LIFECYCLE = "lifecycle"
    RISK = "risk"


POLICIES: dict[Topic, Delivery] = {topic: Delivery.RELIABLE for topic in Topic} | {
    Topic.CANDLES: Delivery.LATEST,
    Topic.TICKERS: Delivery.LATEST,
    Topic.BALANCES: Delivery.LATEST,
}

DEFAULT_CAPACITY = {Delivery.LATEST: 1024, Delivery.RELIABLE: 4096}


class Subscription:
    """One subscriber's queue on one or more topics of the same delivery policy.

    It is live from creation until ``close`` (or the end of a ``with`` block), so an actor can subscribe in
    its set-up, before it reports ready, and consume in a task started later without missing anything.
    """

    def __init__(self, topics: tuple[Topic, ...], delivery: Delivery, capacity: int,
                 on_close: Callable[[Subscription], None], *, yields: bool = True) -> None:
        self.topics = topics
        self._yields = yields
        """Whether taking an item already queued is a schedule point (as trio's channels make it); a lockstep
        backtest's bus says no: its subscribers run through what is queued when the driver settles."""
        self._on_close = on_close
        self.delivery = delivery
        self.capacity = capacity
        self.dropped = 0
        self.delivered = 0
        self._items: deque[Any] = deque()
        self._readable = trio.lowlevel.ParkingLot()
        self._writable = trio.lowlevel.ParkingLot()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: Any) -> None:
        """Queue without waiting: drop the oldest item when full (the LATEST policy)."""
        if self._closed:
            return
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._readable.unpark_all()

    async def put(self, item: Any) -> None:
        """Queue, waiting while full (the RELIABLE policy)."""
        while len(self._items) >= self.capacity and not self._closed:
            await self._writable.park()
        if self._closed:
            return
        self._items.append(item)
        self._readable.unpark_all()

    async def receive(self) -> Any:
        """The oldest queued item; raises ``trio.EndOfChannel`` once closed and empty."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._items:  # a schedule point, as trio's channels give, only when parking gave none
            item = self._take()
            if self._yields:
                await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while not self._items:
            if self._closed:
                raise trio.EndOfChannel
            await self._readable.park()
        return self._take()

    def receive_nowait(self) -> Any:
        """The oldest queued item, or ``trio.WouldBlock``."""
        if not self._items:
            if self._closed:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        return self._take()

    def _take(self) -> Any:
        item = self._items.popleft()
        self.delivered += 1
        self._writable.unpark_all()
        return item

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close(self)
        self._readable.unpark_all()
        self._writable.unpark_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.receive()
            except trio.EndOfChannel:
                return


class Bus:
    """Routes each published event to every live subscription on its topic, by that topic's policy."""

    def __init__(self, capacity: dict[Delivery, int] | None = None, *, yields: bool = True) -> None:
        self._capacity = DEFAULT_CAPACITY | (capacity or {})
        self._yields = yields
        self._checkpoint = trio.lowlevel.checkpoint if yields else trio.lowlevel.checkpoint_if_cancelled
        """``publish`` lets other tasks run (``yields``), or is only a cancellation point: a backtest in lockstep
        runs its actors when its driver settles, and a switch per event would cost it a scheduling round. Its
        subscriptions likewise take an item already queued without a switch."""
        self._subscribers: dict[Topic, list[Subscription]] = {topic: [] for topic in Topic}
        self.published: dict[Topic, int] = {topic: 0 for topic in Topic}

    def subscribe(self, *topics: Topic, capacity: int | None = None) -> Subscription:
        """A live subscription, to ``close`` (or use in ``with``). All topics must share one delivery policy."""
        if not topics:
            raise ValueError("subscribe needs at least one topic")
        policies = {POLICIES[Topic(t)] for t in topics}
        if len(policies) != 1:
            raise ValueError(f"topics {[str(t) for t in topics]} mix delivery policies; subscribe separately")
        delivery = policies.pop()
        sub = Subscription(tuple(Topic(t) for t in topics), delivery, capacity or self._capacity[delivery],
                           self._unsubscribe, yields=self._yields)
        for topic in sub.topics:
            self._subscribers[topic].append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            self._subscribers[topic].remove(sub)

    async def publish(self, topic: Topic, event: Any) -> None:
        """Deliver ``event`` to the subscribers of ``topic``; waits only for full RELIABLE subscribers."""
        self.published[topic] += 1
        if POLICIES[topic] is Delivery.LATEST:
            for sub in self._subscribers[topic]:
                sub.offer(event)
        else:
            for sub in tuple(self._subscribers[topic]):
                await sub.put(event)
        await self._checkpoint()

    def subscriber_stats(self) -> list[tuple[str, int, int, int]]:
        """(topics, queued, delivered, dropped) for every subscription: what ``status`` commands show."""
        seen: dict[int, Subscription] = {}
        for subs in self._subscribers.values():
            for sub in subs:
                seen[id(sub)] = sub
        return [(",".join(sub.topics), len(sub), sub.delivered, sub.dropped) for sub in seen.values()]
