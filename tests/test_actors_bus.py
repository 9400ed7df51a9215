"""The bus: market data never blocks the publisher, orders and fills are never dropped."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from crypy.actors.bus import Bus, Delivery, Topic


async def test_slow_market_data_subscriber_does_not_block_the_publisher() -> None:
    bus = Bus()
    with bus.subscribe(Topic.CANDLES, capacity=10) as slow:
        with trio.fail_after(1):
            for i in range(1_000):
                await bus.publish(Topic.CANDLES, i)
        assert slow.dropped == 990
        assert [slow.receive_nowait() for _ in range(10)] == list(range(990, 1_000))
        with pytest.raises(trio.WouldBlock):
            slow.receive_nowait()


async def test_reliable_topics_apply_backpressure_and_lose_nothing() -> None:
    bus = Bus()
    received: list[int] = []
    with bus.subscribe(Topic.FILLS, capacity=4) as sub:
        async with trio.open_nursery() as nursery:

            async def publish_all() -> None:
                for i in range(200):
                    await bus.publish(Topic.FILLS, i)

            nursery.start_soon(publish_all)
            await trio.sleep(0.05)
            assert len(sub) == 4, "publisher must wait for a full reliable subscriber"
            while len(received) < 200:
                received.append(await sub.receive())
                await trio.sleep(0)
    assert received == list(range(200))
    assert sub.dropped == 0


async def test_each_subscriber_gets_every_event_of_its_topics_only() -> None:
    bus = Bus()
    with bus.subscribe(Topic.ORDERS, Topic.FILLS) as both, bus.subscribe(Topic.FILLS) as fills:
        await bus.publish(Topic.ORDERS, "o1")
        await bus.publish(Topic.FILLS, "f1")
        await bus.publish(Topic.DECISIONS, "d1")
        assert [both.receive_nowait(), both.receive_nowait()] == ["o1", "f1"]
        assert fills.receive_nowait() == "f1"
        with pytest.raises(trio.WouldBlock):
            fills.receive_nowait()


async def test_a_closed_subscription_no_longer_blocks_publishers() -> None:
    bus = Bus()
    with bus.subscribe(Topic.ORDERS, capacity=1):
        await bus.publish(Topic.ORDERS, 1)
    with trio.fail_after(1):
        for i in range(10):
            await bus.publish(Topic.ORDERS, i)


async def test_receive_ends_when_closed_and_iteration_stops() -> None:
    bus = Bus()
    got: list[int] = []
    with bus.subscribe(Topic.SIGNALS) as sub:
        await bus.publish(Topic.SIGNALS, 1)
        await bus.publish(Topic.SIGNALS, 2)
        sub.close()
        async for item in sub:
            got.append(item)
    assert got == [1, 2]


def test_mixed_policies_in_one_subscription_are_refused() -> None:
    bus = Bus()
    with pytest.raises(ValueError, match="mix delivery policies"):
        with bus.subscribe(Topic.CANDLES, Topic.FILLS):
            pass


def test_policies_are_explicit() -> None:
    from crypy.actors.bus import POLICIES

    assert POLICIES[Topic.CANDLES] is Delivery.LATEST
    for topic in (Topic.ORDERS, Topic.FILLS, Topic.DECISIONS, Topic.ORDER_REQUESTS):
        assert POLICIES[topic] is Delivery.RELIABLE


async def test_publish_is_a_full_checkpoint_on_a_bus_that_yields() -> None:
    bus = Bus()
    with bus.subscribe(Topic.FILLS), trio.testing.assert_checkpoints():
        await bus.publish(Topic.FILLS, 1)


async def test_a_lockstep_bus_publishes_without_letting_others_run_and_still_honours_cancellation() -> None:
    bus = Bus(yields=False)
    ran: list[str] = []
    with bus.subscribe(Topic.FILLS) as sub:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_note, ran)
            await bus.publish(Topic.FILLS, 1)
            await bus.publish(Topic.CANDLES, 2)
            assert ran == []  # no task switch: the other task has not run yet
        assert sub.receive_nowait() == 1
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await bus.publish(Topic.FILLS, 3)
        assert sub.receive_nowait() == 3  # delivered before the cancellation point


async def test_receive_is_a_checkpoint_whether_or_not_it_waits() -> None:
    bus = Bus()
    with bus.subscribe(Topic.FILLS) as sub:
        await bus.publish(Topic.FILLS, "ready")
        with trio.testing.assert_checkpoints():
            assert await sub.receive() == "ready"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bus.publish, Topic.FILLS, "later")
            with trio.testing.assert_checkpoints():
                assert await sub.receive() == "later"  # waited for it


async def test_a_lockstep_subscription_takes_a_queued_item_without_letting_others_run() -> None:
    bus = Bus(yields=False)
    ran: list[str] = []
    with bus.subscribe(Topic.FILLS) as sub:
        await bus.publish(Topic.FILLS, "ready")
        await bus.publish(Topic.FILLS, "also ready")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_note, ran)
            assert await sub.receive() == "ready"
            assert ran == []  # no task switch
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await sub.receive()
        assert sub.receive_nowait() == "also ready"  # a cancelled receive took nothing


async def _note(ran: list[str]) -> None:
    ran.append("other task")
