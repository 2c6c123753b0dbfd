"""File uploads on the GraphQL endpoint, by the GraphQL multipart request spec
(https://github.com/jaydenseric/graphql-multipart-request-spec).

A `multipart/form-data` POST carries, in this order, an `operations` part (the JSON body
a plain request would have, with null where each file goes), a `map` part (which file
part goes to which variable: `{"0": ["variables.input.attachments.0"]}`) and the files.
The body is parsed as it arrives (python-multipart's streaming parser): `operations` and
`map` together are held to MAX_BODY_BYTES, while each file goes to the file store in
chunks, never whole in memory, held only to GUICHET_MAX_UPLOAD_MB per file. Each file's
variable then holds the stored file (or why it was refused); the mutation given it
attaches it or answers the refusal in its payload (FILE_TOO_LARGE, EMPTY_FILE).

What the client can act on, besides payload errors:
- multipart requests carry one mutation, signed in: anything else is refused with a 4xx
  before a file is read (a query with files has nothing to do with them; a stranger's
  50 MB are not ours to store). Sign-in is by bearer header only (no cookies), so a
  cross-site form cannot upload in someone's name: no CSRF preflight header is asked for.
- 413 (code FILE_TOO_LARGE) when a refused file runs on past twice the limit: the server
  stops reading rather than discard gigabytes.
- an upload cut short stores nothing (the client is gone; the answer is a 400).
After the operation, the stored files no attachment row refers to are removed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from guichet.resolvers.tickets import attachments
from guichet.resolvers.tickets.attachments import IncomingFile, SavedFile

MULTIPART = "multipart/form-data"
MAX_FILE_PARTS = attachments.MAX_FILES


class UploadProblem(Exception):
    """A multipart request refused as a whole (shaped like graphql_http's RequestProblem)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers: dict[str, str] = {}


class _CutShort(Exception):
    """The body ended (or the client left) before the multipart message did."""


class _Parts:
    """The parts of a multipart body as they arrive: `next_part()` skips to the next
    part's headers, `data()` yields the current part's bytes."""

    def __init__(self, source: AsyncIterator[bytes], boundary: bytes) -> None:
        self._source = source
        self._events: deque[tuple[str, Any]] = deque()
        self._headers: dict[str, str] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._in_part = False
        # Bytes skipped (the rest of a refused file), and how many may be before giving up.
        self.discarded = 0
        self.discard_limit: float = float("inf")
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self._events.append(("headers", self._headers)),
                "on_part_data": lambda d, s, e: self._events.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self._events.append(("end", None)),
                "on_end": lambda: self._events.append(("done", None)),
            },
        )

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        # Latin-1 keeps the bytes as they are: a UTF-8 file name is decoded once parsed.
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = self._value.decode("latin-1").strip()
        self._field.clear()
        self._value.clear()

    async def _event(self) -> tuple[str, Any]:
        while not self._events:
            try:
                chunk = await anext(self._source)
            except StopAsyncIteration:
                raise _CutShort from None
            except ClientDisconnect:
                raise _CutShort from None
            try:
                self._parser.write(chunk)
            except MultipartParseError:
                raise UploadProblem(400, "The multipart body is malformed.") from None
        return self._events.popleft()

    async def next_part(self) -> dict[str, str] | None:
        """The next part's headers (the rest of the current part skipped), None at the end."""
        while True:
            kind, value = await self._event()
            if kind == "headers":
                self._in_part = True
                return value
            if kind == "done":
                return None
            if kind == "data":
                self.discarded += len(value)
                if self.discarded > self.discard_limit:
                    raise UploadProblem(413, "A file is far over the size limit.", "FILE_TOO_LARGE")

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, in the chunks they came in."""
        while self._in_part:
            kind, value = await self._event()
            if kind == "data":
                yield value
            elif kind == "end":
                self._in_part = False

    async def field(self, limit: int) -> bytes:
        """The current part whole, for the small JSON parts."""
        body = bytearray()
        async for chunk in self.data():
            body += chunk
            if len(body) > limit:
                raise UploadProblem(413, f"operations and map are larger than {limit} bytes.")
        return bytes(body)


def _boundary(content_type: str) -> bytes:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise UploadProblem(400, "The multipart/form-data content type names no boundary.")
    return boundary


def _disposition(headers: dict[str, str]) -> tuple[str, str | None]:
    _, options = parse_options_header(headers.get("content-disposition", ""))
    name = options.get(b"name", b"").decode("utf-8", "replace")
    filename = options.get(b"filename")
    return name, filename.decode("utf-8", "replace") if filename is not None else None


def _json(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UploadProblem(400, f"The {what} part is not valid JSON.") from None


class MultipartUpload:
    """One multipart request: its operation, then its files, then what to forget."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.saved: list[SavedFile] = []
        self._parts: _Parts | None = None
        self._map: dict[str, list[str]] = {}
        self._runs = False

    async def operations(self, limit: int) -> dict[str, Any]:
        """Read `operations` and `map` (together at most `limit` bytes): the request's
        parameters, as a JSON body would give them."""
        content_type = self.request.headers.get("content-type", "")
        self._parts = parts = _Parts(self.request.stream(), _boundary(content_type))
        found: dict[str, Any] = {}
        read = 0
        try:
            for expected in ("operations", "map"):
                headers = await parts.next_part()
                if headers is None or _disposition(headers)[0] != expected:
                    raise UploadProblem(
                        400, "A multipart request starts with the operations part, then map."
                    )
                raw = await parts.field(limit - read)
                read += len(raw)
                found[expected] = _json(raw, expected)
        except _CutShort:
            raise UploadProblem(400, "The request body stopped before its end.") from None
        operations, mapping = found["operations"], found["map"]
        if not isinstance(operations, dict):
            raise UploadProblem(400, "operations must be one JSON object (no batches).")
        if (
            not isinstance(mapping, dict)
            or len(mapping) > MAX_FILE_PARTS
            or not all(
                isinstance(paths, list) and all(isinstance(p, str) for p in paths)
                for paths in mapping.values()
            )
        ):
            raise UploadProblem(
                400, f"map must be a JSON object of at most {MAX_FILE_PARTS} lists of paths."
            )
        self._map = mapping
        return operations

    def check(self, viewer: Any, query: str, operation_name: str | None) -> None:
        """Before any file is read: only a signed-in viewer's mutation takes files."""
        if viewer is None:
            raise UploadProblem(
                401, "Sign in first: send 'Authorization: Bearer <token>'.", "UNAUTHENTICATED"
            )
        try:
            operation = get_operation_ast(parse(query), operation_name)
        except GraphQLError:
            operation = None  # strawberry answers the syntax error
        if operation is not None and operation.operation is not OperationType.MUTATION:
            raise UploadProblem(400, "Multipart requests (with files) carry a mutation only.")
        # A document that does not parse or names no operation runs nothing: its files
        # are not read (strawberry answers the error).
        self._runs = operation is not None

    async def receive(self, settings: Any, variables: dict[str, Any] | None) -> None:
        """Stream each file to the store and put what became of it where `map` says."""
        parts = self._parts
        if parts is None or not self._runs:
            return
        # A refused file's rest is read and dropped, up to one more limit's worth, so that
        # the client reads the answer (payload errors) instead of a closed connection.
        parts.discard_limit = settings.max_upload_bytes
        try:
            while (headers := await parts.next_part()) is not None:
                name, filename = _disposition(headers)
                paths = self._map.pop(name, None)
                if paths is None:
                    continue  # a part no variable wants: skipped
                incoming = IncomingFile(
                    filename or "", headers.get("content-type", ""), parts.data()
                )
                stored = await attachments.store_file(settings, incoming)
                if isinstance(stored, SavedFile):
                    self.saved.append(stored)
                for path in paths:
                    _put(variables, path, stored)
        except _CutShort:
            raise UploadProblem(400, "The upload stopped before the end of the request.") from None


def _put(variables: dict[str, Any] | None, path: str, value: Any) -> None:
    """Set `variables.a.0.b` (a path of the map) to the file; other paths are refused."""
    steps = path.split(".")
    if steps[0] != "variables" or len(steps) < 2 or variables is None:
        raise UploadProblem(400, f"The map path {path!r} is not a variable of the operation.")
    target: Any = variables
    for step, following in zip(steps[1:], [*steps[2:], None], strict=True):
        key: Any = int(step) if isinstance(target, list) and step.isdigit() else step
        try:
            if following is None:
                if target[key] is not None:
                    raise UploadProblem(400, f"The map path {path!r} must hold null.")
                target[key] = value
            else:
                target = target[key]
        except (KeyError, IndexError, TypeError):
            raise UploadProblem(400, f"The map path {path!r} is not in variables.") from None
