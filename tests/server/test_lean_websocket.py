"""The lighter websocket protocol: its inbox and flag behave as the asyncio.Queue and
asyncio.Event uvicorn's protocol uses, and live servers run it."""

from __future__ import annotations

import asyncio

import pytest

from guichet.server.lean_websocket import WEBSOCKET_OPTIONS, Flag, Inbox, LeanWebSocketProtocol


async def test_the_inbox_hands_out_events_in_order_and_waits_for_the_next():
    inbox = Inbox()
    inbox.put_nowait("connect")
    inbox.put_nowait("receive")
    assert inbox.qsize() == 2 and not inbox.empty()
    assert [await inbox.get(), await inbox.get()] == ["connect", "receive"]
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.put_nowait("disconnect")
    assert await asyncio.wait_for(waiting, 1) == "disconnect"
    assert inbox.empty()


async def test_a_cancelled_wait_loses_no_event():
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    first.cancel()
    inbox.put_nowait("receive")
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "receive"


async def test_an_event_given_to_a_wait_cancelled_meanwhile_goes_to_the_next():
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("receive")  # wakes the first...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "receive"


async def test_the_flag_holds_writers_until_it_is_set_again():
    flag = Flag()
    flag.set()
    assert flag.is_set() and await flag.wait()
    flag.clear()
    writers = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in writers)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*writers), 1) == [True, True, True]


def test_guichet_serve_and_the_tests_live_server_run_the_lighter_protocol():
    assert WEBSOCKET_OPTIONS["ws"] is LeanWebSocketProtocol
    assert WEBSOCKET_OPTIONS["ws_per_message_deflate"] is False
