"""GraphQL over HTTP, by the GraphQL-over-HTTP specification.

POST with a JSON body, or GET with URL parameters for queries only. The response is
`application/graphql-response+json` when the client accepts it (request errors then
answer 400), else `application/json` (request errors answer 200, as the spec asks of
that media type). Bodies over MAX_BODY_BYTES, bodies that are not JSON objects and
unknown content types get a 4xx with a JSON error, never a 500. A document with several
operations and no operationName answers 400 under both media types, and runs nothing.

Before anything runs, the rate limits (rate_limits.py) take the operation's cost from its
viewer's budget and count sign-ins: a throttled request answers 429 with Retry-After and a
THROTTLED error; every answer to a charged operation carries `extensions.cost`.

A `multipart/form-data` POST carries a mutation with files (server/uploads.py): the
MAX_BODY_BYTES limit holds for its `operations` and `map`, each file is held to
GUICHET_MAX_UPLOAD_MB, and the files no attachment row refers to once the operation ran
(refused, rolled back, or never used) are removed from the store.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from guichet.models.db import is_unreachable, one_connection
from guichet.resolvers.tickets.attachments import forget_unused
from guichet.schema.execution import RawData, run_planned
from guichet.schema.faults import RETRY_AFTER_SECONDS, SERVICE_UNAVAILABLE
from guichet.server.auth import context_for
from guichet.server.graphiql import graphiql_page
from guichet.server.rate_limits import Admission, plan_operation
from guichet.server.uploads import MULTIPART, MultipartUpload, UploadProblem

log = logging.getLogger("guichet.http")

MAX_BODY_BYTES = 1024 * 1024
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
QUERY_ONLY = (OperationType.QUERY,)
QUERY_AND_MUTATION = (OperationType.QUERY, OperationType.MUTATION)
MUTATION_ONLY = (OperationType.MUTATION,)


class RequestProblem(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code


def _unavailable() -> RequestProblem:
    return RequestProblem(
        503,
        "The database cannot be reached right now. Try again in a few seconds.",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
        SERVICE_UNAVAILABLE,
    )


def _unavailable_only(errors: list[GraphQLError] | None) -> bool:
    return bool(errors) and all(
        (e.extensions or {}).get("code") == SERVICE_UNAVAILABLE for e in errors or ()
    )


def _json(
    status: int, body: Any, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        headers=headers,
    )


def _media_types(accept: str) -> list[str]:
    """The media types of an Accept header, most preferred first (q=0 means refused)."""
    weighted = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and fields[0]:
            weighted.append((quality, fields[0].lower()))
    # sorted() is stable: among equal qualities the client's own order decides.
    return [media_type for _, media_type in sorted(weighted, key=lambda w: -w[0])]


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, or None when we have none it takes."""
    if not accept:
        return APPLICATION_JSON
    types = _media_types(accept)
    for media_type in types:
        if media_type == GRAPHQL_RESPONSE_JSON:
            return GRAPHQL_RESPONSE_JSON
        if media_type in (APPLICATION_JSON, "application/*", "*/*"):
            return APPLICATION_JSON
    return None


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestProblem(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestProblem(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    return bytes(body)


def _params_from_json(body: bytes) -> dict[str, Any]:
    if not body:
        raise RequestProblem(400, "The request body is empty: send a JSON object with a query.")
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestProblem(400, "The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise RequestProblem(
            400, "The request body must be a JSON object (batches are not accepted)."
        )
    return params


def _params_from_url(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("query", "operationName", "variables", "extensions"):
        value = request.query_params.get(name)
        if value is None:
            continue
        if name in ("variables", "extensions"):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise RequestProblem(400, f"The {name} parameter is not valid JSON.") from None
        params[name] = value
    return params


def _check(params: dict[str, Any]) -> tuple[str, str | None, dict | None, dict | None]:
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestProblem(400, "A query (a non-empty string) is required.")
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestProblem(400, "operationName must be a string.")
    variables = params.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise RequestProblem(400, "variables must be a JSON object.")
    extensions = params.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise RequestProblem(400, "extensions must be a JSON object.")
    return query, operation_name, variables, extensions


def _wants_ide(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "query" not in request.query_params and "text/html" in accept


def _is_request_error(result: Any) -> bool:
    """No execution happened: parse, validation or variable-coercion errors."""
    if isinstance(result, PreExecutionError):
        return True
    return (
        result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)
    )


def _no_operation(error: CannotGetOperationTypeError) -> str:
    if error.operation_name is None:
        return "The document has no operation to run."
    return f'The document has no operation named "{error.operation_name}".'


def _formatted(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    return [error.formatted for error in errors]


async def _admit(
    request: Request, context: Any, query: str, operation_name: str | None, allowed: tuple
) -> Admission | None:
    """The rate limits' word on the operation, before anything runs (see rate_limits);
    None for what strawberry refuses anyway (a text that does not parse, an operation the
    document lacks or this method does not allow)."""
    limits = request.app.state.rate_limits
    peer = request.client.host if request.client else None
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    context.client_ip = limits.client_ip(peer, forwarded)
    try:
        plan = plan_operation(request.app.state.schema._schema, query, operation_name)
    except GraphQLError:
        return None
    if plan.ambiguous:
        raise RequestProblem(
            400,
            "The document has several operations: name the one to run in operationName.",
        )
    if plan.kind is None or plan.kind.value not in {kind.value for kind in allowed}:
        return None
    return await limits.admit(context, plan)


def _with_cost(body: dict[str, Any], cost: dict | None) -> dict[str, Any]:
    if cost is not None:
        body["extensions"] = {"cost": cost}
    return body


async def graphql_http(request: Request) -> Response:
    upload = MultipartUpload(request)
    try:
        return await _answer(request, upload)
    finally:
        # Files of a refused or failed mutation (or never used): nothing stays behind.
        await forget_unused(request.app.state.settings, upload.saved)


async def _answer(request: Request, upload: MultipartUpload) -> Response:
    app = request.app
    multipart = False
    if _wants_ide(request):
        return graphiql_page(request)
    media_type = negotiate(request.headers.get("accept"))
    try:
        if media_type is None:
            raise RequestProblem(406, f"Accept {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}.")
        if request.method == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type == MULTIPART:
                params = await upload.operations(MAX_BODY_BYTES)
                allowed, multipart = MUTATION_ONLY, True
            elif content_type != APPLICATION_JSON:
                raise RequestProblem(
                    415, "Send the request as application/json (with files: multipart/form-data)."
                )
            else:
                params = _params_from_json(await _read_body(request))
                allowed = QUERY_AND_MUTATION
        else:
            params = _params_from_url(request)
            allowed = QUERY_ONLY
        query, operation_name, variables, extensions = _check(params)
        try:
            context = await context_for(app.state, request.headers.get("authorization"))
        except Exception as error:
            if not is_unreachable(error):
                raise
            log.warning("signing in a request failed: the database is unreachable")
            raise _unavailable() from None
        if multipart:
            upload.check(context.viewer, query, operation_name)
        admission = await _admit(request, context, query, operation_name, allowed)
        if admission is not None and admission.refusal:
            # Throttled: nothing runs (HTTP 429, Retry-After, THROTTLED).
            return _json(
                429,
                app.state.rate_limits.throttled(admission),
                media_type,
                {"Retry-After": str(admission.retry_after)},
            )
        if multipart:
            await upload.receive(context.settings, variables)
        # The lean path: a query the planner knows runs its plan on one connection;
        # anything else (None) goes through strawberry below.
        try:
            async with one_connection():
                result = await run_planned(
                    app.state.schema, query, operation_name, variables, context
                )
        except Exception as error:  # borrowing the connection failed: nothing ran
            if not is_unreachable(error):
                raise
            log.warning("running a planned query failed: the database is unreachable")
            raise _unavailable() from None
        try:
            if result is None:
                result = await app.state.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation_name,
                    allowed_operation_types=allowed,
                    operation_extensions=extensions,
                )
        except InvalidOperationTypeError as error:
            # Only POST allows mutations, so a refused mutation came by GET (or HEAD).
            if error.operation_type is OperationType.MUTATION:
                raise RequestProblem(
                    405, "Mutations are sent with POST.", {"Allow": "POST"}
                ) from None
            raise RequestProblem(
                400, "Subscriptions run over the websocket at this same URL."
            ) from None
        except CannotGetOperationTypeError as error:
            # GraphQL's GetOperation() failed: a request error, answered like a validation
            # error (strawberry raises it before validation instead of returning it).
            result = PreExecutionError(data=None, errors=[GraphQLError(_no_operation(error))])
    except (RequestProblem, UploadProblem) as problem:
        error: dict[str, Any] = {"message": problem.message}
        if problem.code:
            error["extensions"] = {"code": problem.code}
            if problem.status == 503:
                error["extensions"]["retryable"] = True
        return _json(
            problem.status, {"errors": [error]}, media_type or APPLICATION_JSON, problem.headers
        )
    executed = not _is_request_error(result)
    cost = None
    if admission is not None:
        # Give back what the operation did not use; `extensions.cost` says how much was.
        cost = await app.state.rate_limits.settle(admission, result.data, executed)
    if not executed:
        status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
        return _json(status, _with_cost({"errors": _formatted(result.errors)}, cost), media_type)
    if _unavailable_only(result.errors):
        # Nothing could be served because the database is away (every error says so; the
        # data holds only the nulls they left): say so at the HTTP level, so load
        # balancers and clients back off.
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return _json(
            503, _with_cost({"errors": _formatted(result.errors)}, cost), media_type, headers
        )
    if isinstance(result.data, RawData):
        # Written by PostgreSQL as JSON (schema/execution/answers.py): sent as it is.
        extensions = b',"extensions":' + orjson.dumps({"cost": cost}) if cost else b""
        return Response(
            b'{"data":' + result.data.text.encode() + extensions + b"}",
            status_code=200,
            media_type=f"{media_type}; charset=utf-8",
            headers=context.response_headers or None,
        )
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = _formatted(result.errors)
    _with_cost(body, cost)
    return _json(200, body, media_type, context.response_headers or None)
