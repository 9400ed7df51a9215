"""``held``: a trio lock taken without a task switch when free, and waited for fairly when not."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from crypy.actors.locks import held


async def test_a_free_lock_is_taken_without_letting_others_run() -> None:
    lock, ran = trio.Lock(), []

    async def other() -> None:
        ran.append("other")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        async with held(lock):
            assert lock.locked() and ran == []
    assert not lock.locked() and ran == ["other"]


async def test_a_cancelled_caller_does_not_take_even_a_free_lock() -> None:
    lock = trio.Lock()
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            async with held(lock):
                pytest.fail("the block ran")
    assert not lock.locked()


async def test_a_taken_lock_is_waited_for_in_arrival_order_and_released_on_errors() -> None:
    lock, order = trio.Lock(), []

    async def take(name: str) -> None:
        async with held(lock):
            order.append(name)
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        await lock.acquire()
        for name in ("first", "second"):
            nursery.start_soon(take, name)
            await trio.testing.wait_all_tasks_blocked()
        assert order == []
        lock.release()
    assert order == ["first", "second"]
    with pytest.raises(ValueError):
        async with held(lock):
            raise ValueError("inside")
    assert not lock.locked()
