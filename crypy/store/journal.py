"""The journal task: the single writer of a journal file, fed by every actor through one memory channel.

Actors ``await journal.record(event)``; ``Journal.run`` takes whatever has queued up, writes it in one
transaction and goes back for more. The writes are synchronous SQLite calls made in the task itself, not in
a thread: inserts take microseconds, and the same code must run under trio's virtual clock in simulations.
"""

from __future__ import annotations

from os import PathLike

import trio

from crypy.protocols import Event

from .rows import ENCODERS
from .writer import JournalFile


class JournalClosed(RuntimeError):
    """The journal's writer has stopped (or failed): what was being recorded or flushed is not in the file."""


class _Barrier:
    """Queued by ``flush``: released once everything queued before it is committed, or the writer stopped."""

    __slots__ = ("_done", "committed")

    def __init__(self) -> None:
        self._done = trio.Event()
        self.committed = False

    def release(self, committed: bool) -> None:
        """Settle the barrier; the first outcome wins."""
        if not self._done.is_set():
            self.committed = committed
            self._done.set()

    async def wait(self) -> bool:
        await self._done.wait()
        return self.committed


class Journal:
    """Everything the system does, appended to a SQLite file by one task.

    ``buffer`` bounds how many events may wait for the writer: a producer that outruns it is made to wait
    (backpressure) instead of losing events. ``batch`` bounds how many events go into one transaction.
    A ``Journal`` runs once: after ``run`` returns, ``record`` and ``flush`` raise ``JournalClosed``.

    A journal that is not ``durable`` (a backtest's: a crash ends the run, and there is nothing to recover)
    commits only full batches, flushes and what is left at the end, and ``secure`` costs it nothing. Its events
    are held by ``record`` until a batch is full and then handed to the writer in one piece: the writer runs once
    a batch, not once an event. ``buffer`` then bounds the events in batches waiting for the writer.
    """

    def __init__(self, path: str | PathLike[str], *, buffer: int = 10_000, batch: int = 500,
                 durable: bool = True) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._path = path
        self._batch = batch
        self.durable = durable
        self._ran = False
        self._closed = False
        self._barriers: set[_Barrier] = set()
        self._held: list[Event] = []
        """A journal that is not durable: events recorded since the last batch went to the writer."""
        capacity = buffer if durable else max(1, buffer // batch)
        self._send, self._receive = trio.open_memory_channel[Event | _Barrier | list[Event]](capacity)

    @property
    def path(self) -> str | PathLike[str]:
        """The journal file (readers open it themselves: WAL lets them read while this writes)."""
        return self._path

    async def record(self, event: Event) -> None:
        """Queue ``event`` for the writer; it is in the file once a later ``flush`` returns.

        Returns without yielding while the buffer has room, and waits for the writer only when it is full,
        so that recording is cheap on the hot path and never drops. Raises ``TypeError`` at once for an event
        type the journal does not store (a caller bug), and ``JournalClosed`` once the writer has stopped.
        """
        if type(event) not in ENCODERS:
            raise TypeError(f"the journal does not record {type(event).__name__} events")
        if self.durable:
            await self._put(event)
            return
        if self._closed:
            raise JournalClosed("the journal writer is not running; nothing was recorded")
        self._held.append(event)
        if len(self._held) >= self._batch:
            await self._hand_over()

    async def flush(self) -> None:
        """Return once everything recorded before this call is committed to the file."""
        barrier = _Barrier()
        self._barriers.add(barrier)
        try:
            await self._hand_over()
            await self._put(barrier)
            committed = await barrier.wait()
        finally:
            self._barriers.discard(barrier)
        if not committed:
            raise JournalClosed("the journal writer stopped before committing what was recorded")

    async def secure(self) -> None:
        """Before an act that cannot be taken back (sending an order): make what is recorded survive a crash, so
        that recovery finds it; a ``flush``, or nothing at all in a journal that is not durable."""
        if self.durable:
            await self.flush()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open and migrate the file, report started, then write batches until cancelled.

        On cancellation everything already queued is written before returning: the final writes are
        synchronous, so the cancellation cannot interrupt them. If a write fails, the error propagates and
        the journal closes (later ``record`` and pending ``flush`` calls raise ``JournalClosed``).
        """
        if self._ran:
            raise RuntimeError("a Journal runs only once")
        self._ran = True
        try:
            with JournalFile(self._path) as file:
                task_status.started()
                await self._write_until_cancelled(file)
        finally:
            self._close_queue()

    async def _hand_over(self) -> None:
        """Queue the held events (a journal that is not durable) for the writer, as one item."""
        if self._held:
            held, self._held = self._held, []
            await self._put(held)

    async def _put(self, item: Event | _Barrier | list[Event]) -> None:
        try:
            try:
                self._send.send_nowait(item)
            except trio.WouldBlock:
                await self._send.send(item)
        except trio.BrokenResourceError:
            raise JournalClosed("the journal writer is not running; nothing was recorded") from None

    async def _write_until_cancelled(self, file: JournalFile) -> None:
        items: list[Event | _Barrier] = []
        try:
            while True:
                _add(items, await self._receive.receive())  # the checkpoint between batches
                self._drain(items)
                if self.durable or len(items) >= self._batch or self._barriers:
                    self._commit(file, items)
                    items = []
        except trio.Cancelled:
            while items := self._drain(items):
                self._commit(file, items)
                items = []
            if self._held:
                self._commit(file, [*self._held])
                self._held.clear()
            raise

    def _drain(self, items: list[Event | _Barrier]) -> list[Event | _Barrier]:
        while len(items) < self._batch:
            try:
                _add(items, self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return items

    def _commit(self, file: JournalFile, items: list[Event | _Barrier]) -> None:
        file.write([item for item in items if not isinstance(item, _Barrier)])
        for item in items:
            if isinstance(item, _Barrier):
                item.release(committed=True)

    def _close_queue(self) -> None:
        """Refuse further records, and wake the senders and flushes still waiting (only left after an error)."""
        self._closed = True
        self._receive.close()
        for barrier in self._barriers:
            barrier.release(committed=False)


def _add(items: list[Event | _Barrier], item: Event | _Barrier | list[Event]) -> None:
    """One item from the queue into a batch: a batch of held events counts as its events."""
    if isinstance(item, list):
        items.extend(item)
    else:
        items.append(item)
