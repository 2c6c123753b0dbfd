"""Attachment files: each stored once, by the SHA-256 of its bytes, written as it arrives.

A file is streamed to a temporary name in chunks (never held whole in memory), hashed on
the way, and moved to its place (`ab/cd/<sha256>`) only once it is complete and within the
size limit: a file over the limit, or an upload that stops half way, leaves nothing
behind. The same bytes uploaded twice are stored once. `FileStore` is the interface the
rest of the code sees, so an S3-compatible store can take `LocalFileStore`'s place.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
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


class FileStore(Protocol):
    async def save(self, chunks: AsyncIterable[bytes], max_bytes: int) -> StoredFile: ...

    def read(self, sha256: str) -> AsyncIterator[bytes]: ...

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> None: ...


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
            stored = StoredFile(digest.hexdigest(), size)
            await asyncio.to_thread(self._keep, temporary, self._path(stored.sha256))
            return stored
        except BaseException:
            await asyncio.to_thread(_remove, temporary)
            raise

    @staticmethod
    def _keep(temporary: Path, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # the same bytes again: stored once
            temporary.unlink()
        else:
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

    async def delete(self, sha256: str) -> None:
        """Remove a file no attachment refers to any more (nothing when it is not stored)."""
        await asyncio.to_thread(_remove, self._path(sha256))


def _read_at(path: Path, offset: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(READ_CHUNK)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
