"""Attachment storage: stored once by content, streamed, nothing left behind by a file
over the limit or an upload cut short, and a file given back only while no other request
saved the same bytes."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from guichet.models.storage import LocalFileStore, TooLarge


async def _chunks(*parts: bytes, fail_after: int | None = None):
    for i, part in enumerate(parts):
        if fail_after is not None and i == fail_after:
            raise ConnectionResetError("the client went away")
        yield part


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_a_file_is_stored_by_its_sha256_and_read_back_in_chunks(tmp_path):
    store = LocalFileStore(tmp_path)
    data = b"screenshot" * 20_000
    stored = await store.save(_chunks(data[:70_000], data[70_000:]), max_bytes=1_000_000)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    assert await store.exists(stored.sha256)
    read = [chunk async for chunk in store.read(stored.sha256)]
    assert b"".join(read) == data and len(read) > 1
    assert _files(tmp_path) == [tmp_path / stored.sha256[:2] / stored.sha256[2:4] / stored.sha256]


async def test_the_same_bytes_twice_are_stored_once(tmp_path):
    store = LocalFileStore(tmp_path)
    first = await store.save(_chunks(b"invoice"), max_bytes=100)
    second = await store.save(_chunks(b"inv", b"oice"), max_bytes=100)
    assert (first.sha256, first.size) == (second.sha256, second.size)
    assert len(_files(tmp_path)) == 1


async def test_a_zero_byte_file_is_a_file(tmp_path):
    stored = await LocalFileStore(tmp_path).save(_chunks(), max_bytes=100)
    assert stored.size == 0 and stored.sha256 == hashlib.sha256(b"").hexdigest()


async def test_a_file_over_the_limit_leaves_nothing(tmp_path):
    store = LocalFileStore(tmp_path)
    with pytest.raises(TooLarge):
        await store.save(_chunks(b"a" * 60, b"b" * 60), max_bytes=100)
    assert _files(tmp_path) == []


async def test_an_upload_cut_short_leaves_nothing(tmp_path):
    store = LocalFileStore(tmp_path)
    with pytest.raises(ConnectionResetError):
        await store.save(_chunks(b"half", b"way", fail_after=1), max_bytes=100)
    assert _files(tmp_path) == []


async def test_only_names_the_store_made_can_be_read(tmp_path):
    store = LocalFileStore(tmp_path)
    for name in ("../../etc/passwd", "ABC", "0" * 63):
        with pytest.raises(ValueError):
            await store.exists(name)
    with pytest.raises(FileNotFoundError):
        [chunk async for chunk in store.read("0" * 64)]


async def test_a_file_given_back_is_removed_and_giving_it_back_twice_is_harmless(tmp_path):
    store = LocalFileStore(tmp_path)
    stored = await store.save(_chunks(b"temporary"), max_bytes=100)
    await store.release(stored)
    await store.release(stored)
    assert not await store.exists(stored.sha256)
    assert _files(tmp_path) == []


async def test_bytes_saved_again_by_another_request_stay_when_the_first_gives_them_back(
    tmp_path,
):
    store = LocalFileStore(tmp_path)
    first = await store.save(_chunks(b"the same screenshot"), max_bytes=100)
    second = await store.save(_chunks(b"the same screenshot"), max_bytes=100)
    await store.release(first)
    assert await store.exists(second.sha256)
    await store.release(second)
    assert _files(tmp_path) == []


async def test_a_save_racing_a_release_of_the_same_bytes_always_keeps_its_file(tmp_path):
    """Threads really interleave here: whichever runs first, the bytes the second request
    saved are there once both are done."""
    store = LocalFileStore(tmp_path)
    jitter = random.Random(2026)

    async def release_a_little_later(stored):
        await asyncio.sleep(jitter.random() / 1000)  # within the time a save takes
        await store.release(stored)

    for n in range(200):
        data = f"race {n}".encode()
        given_back = await store.save(_chunks(data), max_bytes=100)
        _, kept = await asyncio.gather(
            release_a_little_later(given_back), store.save(_chunks(data), max_bytes=100)
        )
        assert await store.exists(kept.sha256), f"lost the file of round {n}"
    assert not list((tmp_path / "incoming").iterdir())


async def test_a_download_abandoned_half_way_leaves_no_file_open(tmp_path):
    store = LocalFileStore(tmp_path)
    stored = await store.save(_chunks(b"x" * 300_000), max_bytes=1_000_000)
    chunks = store.read(stored.sha256)
    assert len(await anext(chunks)) > 0
    assert _open_files_naming(stored.sha256) == 0
    # The client went away: the generator is dropped, never closed (warnings are errors:
    # a file left open would fail the test as it is collected).
    del chunks
    gc.collect()


def _open_files_naming(sha256: str) -> int:
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += sha256 in str(fd.readlink())
        except OSError:
            continue
    return count


def _age(path: Path, days: float) -> None:
    moment = time.time_ns() - int(days * 86_400 * 1_000_000_000)
    os.utime(path, ns=(moment, moment))


async def test_the_files_saved_before_a_moment_are_listed_with_their_marks(tmp_path):
    store = LocalFileStore(tmp_path)
    old = await store.save(_chunks(b"old"), max_bytes=100)
    fresh = await store.save(_chunks(b"fresh"), max_bytes=100)
    [old_path] = [p for p in _files(tmp_path) if p.name == old.sha256]
    _age(old_path, 2)
    listed = [f async for batch in store.stored_before(_days_ago(1)) for f in batch]
    assert [(f.sha256, f.size, f.mark) for f in listed] == [
        (old.sha256, 3, old_path.stat().st_mtime_ns)
    ]
    assert await store.release(listed[0]) is True
    assert [p.name for p in _files(tmp_path)] == [fresh.sha256]


async def test_half_written_uploads_left_by_a_dead_process_are_forgotten(tmp_path):
    store = LocalFileStore(tmp_path)
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming" / "dead").write_bytes(b"half")
    (tmp_path / "incoming" / "arriving").write_bytes(b"still coming")
    _age(tmp_path / "incoming" / "dead", 2)
    assert await store.forget_abandoned_uploads(_days_ago(1)) == 1
    assert [p.name for p in _files(tmp_path)] == ["arriving"]


def _days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
