"""The event bus on memory:// and on a real Redis, including Redis going away and back.

Redis is GUICHET_TEST_BROADCAST_URL when that is a redis:// URL; otherwise the module starts
its own throwaway `redis-server` on a free port (skipped where there is none). The outage
tests always run a redis-server of their own, which they kill and start again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from guichet.subscriptions.bus import RESUMED, Bus
from tests import services
from tests.services import free_port

RECEIVE_TIMEOUT = 2.0


@pytest.fixture(params=["memory", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return request.getfixturevalue("redis_url")


async def _connected(url: str) -> Bus:
    bus = Bus(url)
    await bus.connect()
    return bus


@pytest.fixture
async def bus(bus_url: str) -> AsyncIterator[Bus]:
    bus = await _connected(bus_url)
    yield bus
    await bus.disconnect()


def _topic() -> str:
    return f"guichet:test:{uuid.uuid4().hex}"


async def _next(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        return await anext(events)


# ---------------------------------------------------------------- the Bus


async def test_an_event_published_right_after_subscribing_is_received(bus):
    """No warm-up: every fresh subscription receives what is published as soon as it is in."""
    topic = _topic()
    for round_ in range(50):
        async with bus.subscribe(topic) as events:
            await bus.publish(topic, {"round": round_})
            assert await _next(events) == {"round": round_}


async def test_fresh_topics_each_receive_their_first_event(bus):
    for round_ in range(50):
        topic = _topic()
        async with bus.subscribe(topic) as events:
            await bus.publish(topic, {"round": round_, "topic": topic})
            assert await _next(events) == {"round": round_, "topic": topic}


async def test_a_subscriber_does_not_receive_other_topics_events(bus):
    mine, other = _topic(), _topic()
    async with bus.subscribe(mine) as events:
        # Published in this order on one bus: had the other topic's event leaked, it would
        # arrive first.
        await bus.publish(other, {"for": "other"})
        await bus.publish(mine, {"for": "me"})
        assert await _next(events) == {"for": "me"}
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await anext(events)


async def test_every_subscriber_of_a_topic_receives_its_events(bus):
    topic = _topic()
    async with bus.subscribe(topic) as first, bus.subscribe(topic) as second:
        await bus.publish(topic, {"n": 1})
        assert await _next(first) == {"n": 1}
        assert await _next(second) == {"n": 1}
    # Leaving and coming back works too.
    async with bus.subscribe(topic) as again:
        await bus.publish(topic, {"n": 2})
        assert await _next(again) == {"n": 2}


async def test_subscribers_entering_one_topic_at_once_all_receive(bus):
    """Two tabs of one user subscribing at the same moment: both get every event, and both
    leave cleanly (broadcaster alone loses all but one queue and raises KeyError on Redis)."""
    topic = _topic()
    count = 5
    inside = asyncio.Event()
    entered: list[int] = []

    async def subscriber(index: int) -> dict[str, Any]:
        async with bus.subscribe(topic) as events:
            entered.append(index)
            if len(entered) == count:
                inside.set()
            return await _next(events)

    tasks = [asyncio.create_task(subscriber(i)) for i in range(count)]
    async with asyncio.timeout(5):
        await inside.wait()
    await bus.publish(topic, {"to": "everyone"})
    assert await asyncio.gather(*tasks) == [{"to": "everyone"}] * count
    # Every subscriber left: the topic is free again and works for a newcomer.
    async with bus.subscribe(topic) as events:
        await bus.publish(topic, {"to": "newcomer"})
        assert await _next(events) == {"to": "newcomer"}


async def test_a_cancelled_subscriber_leaves_the_topic(bus):
    topic = _topic()
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with bus.subscribe(topic) as events:
            subscribed.set()
            await anext(events)

    task = asyncio.create_task(listen())
    async with asyncio.timeout(5):
        await subscribed.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with bus.subscribe(topic) as events:
        await bus.publish(topic, {"after": "cancel"})
        assert await _next(events) == {"after": "cancel"}


class _HeldConfirmation(asyncio.Event):
    """Redis' SUBSCRIBE confirmation, held back until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.awaited = asyncio.Event()

    async def wait(self) -> bool:
        self.awaited.set()
        return await super().wait()

    def set(self) -> None:  # what the backend's listener calls on confirmation
        pass

    def release(self) -> None:
        super().set()


async def test_a_subscriber_cancelled_as_redis_confirms_stops(redis_url):
    """A websocket client that leaves just as Redis confirms its SUBSCRIBE: the cancelled
    subscription must end, not go on listening (and hold server shutdown) forever.
    Python 3.11's asyncio.wait_for returns the result when the cancellation and the
    completion arrive together; here they do, deterministically."""
    bus = await _connected(redis_url)
    try:
        topic = _topic()
        confirmation = _HeldConfirmation()
        bus._backend._confirmations[topic] = confirmation

        async def listen() -> None:
            async with bus.subscribe(topic) as events:
                await anext(events)

        task = asyncio.create_task(listen())
        async with asyncio.timeout(5):
            await confirmation.awaited.wait()
        confirmation.release()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=RECEIVE_TIMEOUT)
        if not done:
            task.cancel()
            await asyncio.wait({task})
        assert done, "the cancelled subscriber kept listening"
        # It ends cancelled, or with broadcaster's KeyError: its `subscribe` cleans up
        # bookkeeping it had not written yet when the backend's subscribe is interrupted.
        assert task.cancelled() or isinstance(task.exception(), KeyError)
    finally:
        await bus.disconnect()


async def test_events_reach_every_process_subscribed_to_the_topic(redis_url):
    """Two Bus instances stand for two server processes sharing one Redis."""
    first, second, publisher = (
        await _connected(redis_url),
        await _connected(redis_url),
        await _connected(redis_url),
    )
    try:
        topic = _topic()
        async with first.subscribe(topic) as on_first, second.subscribe(topic) as on_second:
            await publisher.publish(topic, {"from": "third"})
            assert await _next(on_first) == {"from": "third"}
            assert await _next(on_second) == {"from": "third"}
            await first.publish(topic, {"from": "first"})
            assert await _next(on_first) == {"from": "first"}
            assert await _next(on_second) == {"from": "first"}
    finally:
        for bus in (first, second, publisher):
            await bus.disconnect()


async def test_ping_succeeds_when_redis_answers(redis_url):
    bus = await _connected(redis_url)
    try:
        await bus.ping()
    finally:
        await bus.disconnect()


async def test_ping_raises_when_nothing_listens():
    bus = await _connected(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RedisConnectionError):
            async with asyncio.timeout(10):
                await bus.ping()
    finally:
        await bus.disconnect()


async def test_ping_on_memory_is_always_fine():
    bus = await _connected("memory://")
    try:
        await bus.ping()
    finally:
        await bus.disconnect()


# ---------------------------------------------------------------- prefixes


async def test_deployments_with_different_prefixes_do_not_hear_each_other(redis_url):
    first, second = Bus(redis_url, "first:"), Bus(redis_url, "second:")
    await first.connect()
    await second.connect()
    try:
        topic = _topic()
        async with first.subscribe(topic) as on_first, second.subscribe(topic) as on_second:
            await second.publish(topic, {"for": "second"})
            await first.publish(topic, {"for": "first"})
            assert await _next(on_first) == {"for": "first"}
            assert await _next(on_second) == {"for": "second"}
    finally:
        await first.disconnect()
        await second.disconnect()


# ---------------------------------------------------------------- Redis going away


@pytest.fixture
def own_redis() -> Iterator[services.RedisServer]:
    """A redis-server this test may kill and start again."""
    server = services.RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


async def _until(condition) -> None:
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - polling a plain attribute
            await asyncio.sleep(0.02)


async def _client_count(url: str) -> int:
    from redis import asyncio as redis

    client = redis.Redis.from_url(url)
    try:
        return len(await client.client_list()) - 1  # less this one
    finally:
        await client.aclose()


async def test_a_subscriber_is_told_to_replay_and_hears_again_after_redis_restarts(
    own_redis, caplog
):
    bus = await _connected(own_redis.url)
    try:
        topic = _topic()
        async with bus.subscribe(topic) as events:
            await bus.publish(topic, {"n": 1})
            assert await _next(events) == {"n": 1}

            own_redis.kill()
            await _until(lambda: not bus._backend.is_connected)
            with caplog.at_level(logging.WARNING, logger="guichet.bus"):
                await bus.publish(topic, {"n": "lost"})  # never raises
            assert bus.failed_publishes == 1
            assert "publishing to the pub/sub failed" in caplog.text

            own_redis.start()
            async with asyncio.timeout(10):
                assert await anext(events) is RESUMED
            await bus.publish(topic, {"n": 2})
            assert await _next(events) == {"n": 2}
            await bus.ping()
    finally:
        await bus.disconnect()


async def test_subscribing_while_redis_is_away_works_once_it_is_back(own_redis):
    bus = await _connected(own_redis.url)
    try:
        own_redis.kill()
        await _until(lambda: not bus._backend.is_connected)
        with pytest.raises(RedisConnectionError):
            await bus.ping()
        topic = _topic()
        async with bus.subscribe(topic) as events:
            own_redis.start()
            async with asyncio.timeout(10):
                assert await anext(events) is RESUMED
            await bus.publish(topic, {"after": "outage"})
            assert await _next(events) == {"after": "outage"}
    finally:
        await bus.disconnect()


async def test_a_process_started_while_redis_is_away_connects_when_it_comes(own_redis):
    own_redis.kill()
    bus = await _connected(own_redis.url)
    try:
        with pytest.raises(RedisConnectionError):
            await bus.ping()
        own_redis.start()
        await _until(lambda: bus._backend.is_connected)
        await bus.ping()
        topic = _topic()
        async with bus.subscribe(topic) as events:
            await bus.publish(topic, {"n": 1})
            assert await _next(events) == {"n": 1}
    finally:
        await bus.disconnect()


async def test_a_bus_closes_every_connection_it_opened(own_redis):
    bus = await _connected(own_redis.url)
    topic = _topic()
    async with bus.subscribe(topic) as events:
        await bus.publish(topic, {"n": 1})
        await _next(events)
        assert await _client_count(own_redis.url) == 2  # subscribing and publishing
    await bus.disconnect()
    async with asyncio.timeout(5):
        while await _client_count(own_redis.url):  # noqa: ASYNC110 - the server's count
            await asyncio.sleep(0.05)


async def test_a_publisher_cancelled_mid_publish_stops(bus):
    """A cancelled task must stop even when the client library swallows the cancellation
    of a command in flight (redis-py did, about once in 150): a request cancelled while it
    publishes would otherwise carry on."""
    topic = _topic()
    rng = random.Random(12)

    async def keep_publishing() -> None:
        while True:
            await bus.publish(topic, {"n": 1})
            await asyncio.sleep(0)

    for _ in range(400):
        publisher = asyncio.create_task(keep_publishing())
        await asyncio.sleep(rng.random() * 0.004)
        publisher.cancel()
        done, _ = await asyncio.wait({publisher}, timeout=RECEIVE_TIMEOUT)
        assert done, "a cancelled publisher carried on"
        assert publisher.cancelled()
