"""The event bus on memory:// and on a real Redis, and the upstream Redis bug it works around.

Redis is GUICHET_TEST_BROADCAST_URL when that is a redis:// URL; otherwise the module starts
its own throwaway `redis-server` on a free port.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from broadcaster import Broadcast
from redis.exceptions import ConnectionError as RedisConnectionError

from guichet.subscriptions.bus import Bus
from tests.conftest import free_port

RECEIVE_TIMEOUT = 2.0


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    configured = os.environ.get("GUICHET_TEST_BROADCAST_URL") or ""
    if configured.startswith("redis://"):
        yield configured
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        pytest.fail("redis-server is not installed (.ci/run installs it)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    bus = Bus(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RedisConnectionError):
        async with asyncio.timeout(10):
            await bus.ping()


async def test_ping_on_memory_is_always_fine():
    bus = await _connected("memory://")
    try:
        await bus.ping()
    finally:
        await bus.disconnect()


# ---------------------------------------------------------------- the upstream bug


async def test_stock_broadcaster_redis_backend_can_miss_events(redis_url):
    """Why SubscribedFirstRedisBackend exists: broadcaster 0.3.1's RedisBackend sets its
    ready flag *before* sending SUBSCRIBE. Its listener wakes while no channel is subscribed
    yet, so redis-py's `listen()` ends at once; the listener clears the flag and waits for a
    readiness that never comes. The first subscription of a freshly connected Broadcast
    therefore never receives an event published after `subscribe` returned.

    If this test starts failing, broadcaster (or redis-py) fixed it: the workaround in
    guichet.subscriptions.redis_backend can then go.
    """
    for _attempt in range(2):
        broadcast = Broadcast(redis_url)
        await broadcast.connect()
        try:
            topic = _topic()
            async with broadcast.subscribe(topic) as subscriber:
                await broadcast.publish(topic, "published after subscribe returned")
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(RECEIVE_TIMEOUT):
                        await subscriber.get()
                # The listener gave up: it waits for a flag that is clear, while the
                # subscription is live in Redis.
                assert not broadcast._backend._ready.is_set()
                assert broadcast._backend._pubsub.subscribed
        finally:
            await broadcast.disconnect()

    # The same scenario with Guichet's backend: delivered.
    bus = await _connected(redis_url)
    try:
        topic = _topic()
        async with bus.subscribe(topic) as events:
            await bus.publish(topic, {"delivered": True})
            assert await _next(events) == {"delivered": True}
    finally:
        await bus.disconnect()
