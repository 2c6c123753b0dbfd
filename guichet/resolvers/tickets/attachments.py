"""Attachments: files that come with a new ticket or a comment, by upload or by mail.

A file reaches the store before the transaction that attaches it (`store_incoming`: the
bytes are streamed, never held whole), then the rule writes its rows inside its
transaction (`attach`). When that transaction fails, or the mutation is refused, the
stored bytes no row refers to are removed (`forget_unused`): nothing is left behind.
Who may see a file follows what it belongs to: the ticket's own files go with the
ticket, a comment's with the comment (an internal note's files are staff-only).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from guichet.models.attachments import Attachment
from guichet.models.storage import FileStore, LocalFileStore, StoredFile, TooLarge
from guichet.models.tickets import Channel, TicketEventKind
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import Refused, UserError
from guichet.resolvers.sql import as_datetime

if TYPE_CHECKING:
    from guichet.resolvers.context import Context
    from guichet.resolvers.tickets.history import Changes
    from guichet.server.settings import Settings

log = logging.getLogger("guichet.attachments")

MAX_FILENAME = 255
MAX_CONTENT_TYPE = 200
MAX_FILES = 20
DEFAULT_NAME = "attachment"
DEFAULT_TYPE = "application/octet-stream"


class AttachmentErrorCode(StrEnum):
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    EMPTY_FILE = "EMPTY_FILE"
    # A value where a file was expected that is not one (not sent as a multipart file).
    NOT_A_FILE = "NOT_A_FILE"
    TOO_MANY_FILES = "TOO_MANY_FILES"


# ---------------------------------------------------------------- files on their way in


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file as it arrives: its bytes are read once, in chunks, by `store_incoming`."""

    filename: str
    content_type: str
    chunks: AsyncIterable[bytes]


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A file in the store, not attached yet (its name already sanitised)."""

    filename: str
    content_type: str
    stored: StoredFile

    @property
    def sha256(self) -> str:
        return self.stored.sha256

    @property
    def size(self) -> int:
        return self.stored.size


@dataclass(frozen=True, slots=True)
class RefusedFile:
    """An upload the store refused: a rule given it refuses with `error` (code only; the
    rule adds where in its input the file was)."""

    filename: str
    error: UserError


def file_store(settings: Settings) -> FileStore:
    return LocalFileStore(settings.storage_dir)


def safe_filename(name: str | None) -> str:
    """The last part of a path (either slash), without control characters or leading dots,
    at most 255 characters with its extension kept: `../../etc/passwd` is `passwd`."""
    name = unicodedata.normalize("NFC", name or "")
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_FILENAME - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_FILENAME]
    return name.strip() or DEFAULT_NAME


def safe_content_type(value: str | None) -> str:
    """A `type/subtype` as declared (parameters dropped), or application/octet-stream."""
    media_type = (value or "").split(";")[0].strip().lower()
    kind, slash, subtype = media_type.partition("/")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-")
    if not (slash and kind and subtype and set(kind + subtype) <= allowed):
        return DEFAULT_TYPE
    return media_type[:MAX_CONTENT_TYPE]


class _Empty(Exception):
    pass


async def _not_empty(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The chunks, raising at the end when there were no bytes (the store then keeps none)."""
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            yield chunk
    finally:
        # Closed now, not whenever the collector gets to it: a refused file stops early.
        if (close := getattr(chunks, "aclose", None)) is not None:
            await close()
    if not size:
        raise _Empty


async def store_file(settings: Settings, incoming: IncomingFile) -> SavedFile | RefusedFile:
    """Stream one file to the store; a file over the limit or without bytes is refused and
    leaves nothing stored. What the chunks raise (an upload cut short) propagates, also
    leaving nothing."""
    filename = safe_filename(incoming.filename)
    limit = settings.max_upload_bytes
    chunks = _not_empty(incoming.chunks)
    try:
        stored = await file_store(settings).save(chunks, limit)
    except TooLarge:
        log.info("refused %r: over %d bytes", filename, limit)
        message = f"{filename} is larger than {settings.max_upload_mb} MB."
        return RefusedFile(filename, UserError(message, AttachmentErrorCode.FILE_TOO_LARGE))
    except _Empty:
        log.info("refused %r: no bytes", filename)
        message = f"{filename} is empty."
        return RefusedFile(filename, UserError(message, AttachmentErrorCode.EMPTY_FILE))
    finally:
        await chunks.aclose()
    content_type = safe_content_type(incoming.content_type)
    return SavedFile(filename, content_type, stored)


async def store_incoming(
    settings: Settings, files: Iterable[IncomingFile], path: Sequence[str]
) -> list[SavedFile]:
    """Stream each file to the store, before the transaction that attaches them. Refused
    (FILE_TOO_LARGE, EMPTY_FILE at `path` + index) leaves none of them stored."""
    saved: list[SavedFile | RefusedFile] = []
    try:
        for incoming in files:
            saved.append(await store_file(settings, incoming))
        return received(saved, path)
    except BaseException:
        await forget_unused(settings, [s for s in saved if isinstance(s, SavedFile)])
        raise


def received(uploads: Sequence[Any] | None, path: Sequence[str]) -> list[SavedFile]:
    """The stored files of an input's list; Refused with each refused (or not-a-file)
    value's error at `path` + its index."""
    uploads = list(uploads or ())
    if len(uploads) > MAX_FILES:
        message = f"At most {MAX_FILES} files at a time."
        raise Refused(UserError(message, AttachmentErrorCode.TOO_MANY_FILES, list(path)))
    errors = []
    for i, upload in enumerate(uploads):
        where = [*path, str(i)]
        if isinstance(upload, RefusedFile):
            errors.append(UserError(upload.error.message, upload.error.code, where))
        elif not isinstance(upload, SavedFile):
            message = "Send files as parts of a multipart request (GraphQL multipart spec)."
            errors.append(UserError(message, AttachmentErrorCode.NOT_A_FILE, where))
    if errors:
        raise Refused(*errors)
    return uploads


async def attach(
    changes: Changes,
    saved: Sequence[SavedFile],
    *,
    ticket_pk: int,
    comment_pk: int | None,
    uploader_pk: int | None,
    via: Channel,
    public: bool,
) -> list[Attachment]:
    """Inside the caller's transaction: a row per file and an ATTACHMENT_ADDED event
    (public unless the file came with an internal note)."""
    rows = []
    for file in saved:
        row = await Attachment.create(
            ticket_id=ticket_pk,
            comment_id=comment_pk,
            uploader_id=uploader_pk,
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
        )
        data = {
            "attachment": ids.encode("Attachment", row.id),
            "filename": file.filename,
            "size": file.size,
            "comment": ids.encode("Comment", comment_pk) if comment_pk else None,
        }
        await changes.record(
            ticket_pk, TicketEventKind.ATTACHMENT_ADDED, actor_pk=uploader_pk, via=via,
            public=public, data=data,
        )  # fmt: skip
        rows.append(row)
    return rows


_REFERRED = sql.select("DISTINCT sha256", from_="attachment").where(sql.among("sha256"))


async def forget_unused(settings: Settings, saved: Iterable[SavedFile | Any]) -> None:
    """Give back the stored files that no attachment row refers to (after a refused
    mutation or a rolled-back transaction); a file saved again since by another request
    stays (`FileStore.release`). Never raises: a file left behind is only disk space."""
    files = [s.stored for s in saved if isinstance(s, SavedFile)]
    if not files:
        return
    digests = list(dict.fromkeys(f.sha256 for f in files))
    try:
        kept = {r["sha256"] for r in await _REFERRED.fetch(digests)}
        store = file_store(settings)
        for stored in files:
            if stored.sha256 not in kept:
                await store.release(stored)
    except Exception:
        log.exception("could not remove unused files %s", digests)


# Files saved longer ago than this and attached to nothing are swept (no request lasts it).
ORPHANS_AFTER = timedelta(days=1)
SWEEP_BATCH = 500  # digests looked up per statement


async def sweep_orphans(settings: Settings, older_than: timedelta = ORPHANS_AFTER) -> int:
    """The worker's sweep: remove stored files no attachment row refers to, saved more than
    `older_than` ago (left by a process that died between saving and attaching, or given
    back by two requests at once), and half-written uploads; how many files went. A file
    saved again meanwhile stays (`FileStore.release`)."""
    store, moment = file_store(settings), datetime.now(UTC) - older_than
    removed = await store.forget_abandoned_uploads(moment)
    async for folder in store.stored_before(moment):
        for start in range(0, len(folder), SWEEP_BATCH):
            batch = folder[start : start + SWEEP_BATCH]
            kept = {r["sha256"] for r in await _REFERRED.fetch([f.sha256 for f in batch])}
            for stored in batch:
                if stored.sha256 not in kept and await store.release(stored):
                    removed += 1
    if removed:
        log.info("swept %d stored files no attachment needs", removed)
    return removed


# ---------------------------------------------------------------- reading them back


@dataclass(slots=True)
class AttachmentRow:
    pk: int
    ticket_id: int
    comment_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    url: str = ""

    @property
    def id(self) -> str:
        return ids.encode("Attachment", self.pk)


ATTACHMENT = sql.Table(
    "attachment", "a", AttachmentRow,
    "id", "ticket_id", "comment_id", "filename", "content_type", "size", "sha256",
    ("created_at", as_datetime),
)  # fmt: skip

# The comment a file came with must be visible too (none: the ticket's own file).
_FROM = f"{ATTACHMENT} LEFT JOIN comment c ON c.id = a.comment_id"
_VISIBLE = "(a.comment_id IS NULL OR ({}))"
_BY_TICKET = (
    sql.select(ATTACHMENT, from_=_FROM).where(sql.among("a.ticket_id"), sql.GIVEN).order("a.id")
)
_BY_COMMENT = (
    sql.select(ATTACHMENT, from_=_FROM).where(sql.among("a.comment_id"), sql.GIVEN).order("a.id")
)
_BY_ID = sql.select(ATTACHMENT, from_=f"{_FROM} JOIN ticket t ON t.id = a.ticket_id").where(
    sql.among("a.id"), sql.GIVEN, sql.GIVEN
)


def _visible(context: Context) -> str:
    return _VISIBLE.format(access.visible_comments_condition(context.require_viewer(), "c"))


def _with_url(context: Context) -> Any:
    base = context.settings.public_url.rstrip("/") + "/attachments/"

    def build(r: dict[str, Any]) -> AttachmentRow:
        row = ATTACHMENT.row(r)
        row.url = base + row.id
        return row

    return build


async def attachments_by_ticket(context: Context, keys: Sequence[int]) -> list[list[AttachmentRow]]:
    """Each ticket's files the viewer may see (its own and its visible comments'), oldest
    first: one statement for a whole list of tickets."""
    rows = await _BY_TICKET.fetch(keys, _visible(context))
    return sql.grouped_by(keys, rows, _with_url(context), "ticket_id")


async def attachments_by_comment(
    context: Context, keys: Sequence[int]
) -> list[list[AttachmentRow]]:
    rows = await _BY_COMMENT.fetch(keys, _visible(context))
    return sql.grouped_by(keys, rows, _with_url(context), "comment_id")


async def attachments_by_id(context: Context, keys: Sequence[int]) -> list[AttachmentRow | None]:
    """Attachments by id, each only if the viewer may see its ticket and its comment."""
    viewer = context.require_viewer()
    rows = await _BY_ID.fetch(
        keys, _visible(context), access.visible_tickets_condition(viewer, "t", 1)
    )
    return sql.in_key_order(keys, rows, _with_url(context))


async def attachment_for_viewer(context: Context, pk: int) -> AttachmentRow:
    """An attachment the viewer may see and download, or NotFound (missing and hidden
    alike)."""
    return await context.visible_one(attachments_by_id, pk, "No such attachment.")
