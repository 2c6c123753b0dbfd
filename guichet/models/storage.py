"""Attachment files: each stored once, by the SHA-256 of its bytes, written as it arrives.

A file is streamed to a temporary name in chunks (never held whole in memory), hashed on
the way, and moved to its place (`ab/cd/<sha256>`) only once it is complete and within the
size limit: a file over the limit, or an upload that stops half way, leaves nothing
behind. The same bytes uploaded twice are stored once. `FileStore` is the interface the
rest of the code sees, so an S3-compatible store can take `LocalFileStore`'s place.

A request whose files end up attached to nothing gives them back (`release`). Since the
same bytes are one file, another request may have saved them too, and be about to attach
them: each save marks the file (its modification time set to a value of its own), and a
release removes the file only while it still carries that release's mark. The check and
the removal are one step: the file is first renamed away (atomic), then its mark read; a
save that comes after the rename finds no file and places its own copy; one that came
before left its mark, and the file is put back. A file two requests saved and both gave
back stays (disk space, never a missing file) until the worker's sweep (`stored_before`,
`forget_abandoned_uploads`: files a day old that no attachment row refers to).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

READ_CHUNK = 64 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TooLarge(Exception):
    """The file is over the size limit: nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The file is larger than {limit} bytes.")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    size: int
    # This save's mark on the file (see `release`): whoever saves the same bytes later
    # changes it, and this save's release then leaves the file alone.
    mark: int = 0


class FileStore(Protocol):
    async def save(self, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredFile: ...

    def read(self, sha256: str) -> AsyncIterator[bytes]: ...

    async def exists(self, sha256: str) -> bool: ...

    async def release(self, stored: StoredFile) -> bool: ...

    def stored_before(self, moment: datetime) -> AsyncIterator[list[StoredFile]]: ...

    async def forget_abandoned_uploads(self, moment: datetime) -> int: ...


class LocalFileStore:
    """Files under a directory of the local disk (GUICHET_STORAGE_DIR)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):  # only names this store made: no path tricks
            raise ValueError("not a SHA-256 in hex")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def save(self, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredFile:
        """Store the bytes `chunks` yields; TooLarge past `max_bytes` (nothing kept), and
        whatever `chunks` raises (an upload cut short) also leaves nothing."""
        incoming = self.root / "incoming"
        await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
        temporary = incoming / uuid.uuid4().hex
        digest, size = hashlib.sha256(), 0
        handle = await asyncio.to_thread(open, temporary, "wb")
        try:
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    await asyncio.to_thread(handle.write, chunk)
            finally:
                await asyncio.to_thread(handle.close)
            sha256, mark = digest.hexdigest(), _new_mark()
            await asyncio.to_thread(self._keep, temporary, self._path(sha256), mark)
            return StoredFile(sha256, size, mark)
        except BaseException:
            await asyncio.to_thread(_remove, temporary)
            raise

    @staticmethod
    def _keep(temporary: Path, final: Path, mark: int) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.utime(final, ns=(mark, mark))  # the same bytes again: stored once, marked
            temporary.unlink()
        except FileNotFoundError:  # new bytes (or released meanwhile): this copy is the one
            os.utime(temporary, ns=(mark, mark))
            os.replace(temporary, final)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks (FileNotFoundError when it is not stored). No file
        stays open between chunks: a download its client abandons, whose generator is never
        closed, leaves no open file behind."""
        path, offset = self._path(sha256), 0
        while chunk := await asyncio.to_thread(_read_at, path, offset):
            offset += len(chunk)
            yield chunk

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).is_file)

    async def release(self, stored: StoredFile) -> bool:
        """Remove the file a save stored, unless it was saved again since (by anyone);
        whether it was removed (False too when it is not stored)."""
        return await asyncio.to_thread(self._release, self._path(stored.sha256), stored.mark)

    def _release(self, final: Path, mark: int) -> bool:
        released = self.root / "incoming" / f"{uuid.uuid4().hex}.released"
        released.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(final, released)
        except FileNotFoundError:
            return False
        try:
            mine = released.stat().st_mtime_ns == mark
        except BaseException:
            os.replace(released, final)
            raise
        if mine:
            released.unlink()
        else:  # saved again since: put back (over a copy saved meanwhile: the same bytes)
            os.replace(released, final)
        return mine

    async def stored_before(self, moment: datetime) -> AsyncIterator[list[StoredFile]]:
        """The files last saved before `moment`, a batch per top-level folder (at most
        1/256 of the store), each with its current mark: releasing one that is saved
        again meanwhile leaves it."""
        cutoff = int(moment.timestamp() * 1_000_000_000)
        folders = await asyncio.to_thread(_folders, self.root)
        for folder in folders:
            if batch := await asyncio.to_thread(_saved_before, folder, cutoff):
                yield batch

    async def forget_abandoned_uploads(self, moment: datetime) -> int:
        """Remove what a save left half-written before `moment` (a process killed while
        receiving a file); how many."""
        cutoff = moment.timestamp()
        return await asyncio.to_thread(_remove_older, self.root / "incoming", cutoff)


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch("[0-9a-f]{2}", p.name))


def _saved_before(folder: Path, cutoff_ns: int) -> list[StoredFile]:
    found = []
    for path in folder.glob("*/*"):
        if not _SHA256.match(path.name):
            continue
        with contextlib.suppress(FileNotFoundError):  # released meanwhile
            status = path.stat()
            if status.st_mtime_ns < cutoff_ns:
                found.append(StoredFile(path.name, status.st_size, status.st_mtime_ns))
    return found


def _remove_older(folder: Path, cutoff: float) -> int:
    removed = 0
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def _new_mark() -> int:
    """A modification time (ns) no other save will set: now, with random low digits."""
    return time.time_ns() // 1_000_000 * 1_000_000 + secrets.randbelow(1_000_000)


def _read_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(READ_CHUNK)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
