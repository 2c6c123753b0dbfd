"""GraphQL over HTTP at /graphql: methods, media types, request errors and limits."""

from __future__ import annotations

import json

import httpx
import pytest

from guichet.models import people as models
from guichet.server.graphql_http import MAX_BODY_BYTES

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
TYPENAME = "{ __typename }"
USER_BY_ID = "query($id: ID!) { node(id: $id) { ... on User { name } } }"
CREATE_GROUP = 'mutation { createGroup(input: {name: "Over GET"}) { group { name } } }'


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def error_messages(response: httpx.Response) -> list[str]:
    """The messages of a JSON error answer, checking its shape on the way."""
    assert media_type(response) in (JSON, GRAPHQL_RESPONSE), response.headers
    body = response.json()
    assert "data" not in body
    assert body["errors"], body
    return [error["message"] for error in body["errors"]]


async def post_raw(gql, content, content_type: str | None = JSON, **headers) -> httpx.Response:
    if content_type is not None:
        headers["content-type"] = content_type
    return await gql.http.post("/graphql", content=content, headers=headers)


# ---------------------------------------------------------------- methods


async def test_a_query_posted_as_json_is_answered(gql, agent):
    response = await gql.post(USER_BY_ID, {"id": agent.id}, as_=agent)
    assert response.status_code == 200
    assert response.json() == {"data": {"node": {"name": agent.row.name}}}


async def test_a_query_over_get_is_answered_with_url_encoded_variables(gql, agent):
    response = await gql.http.get(
        "/graphql",
        params={"query": USER_BY_ID, "variables": json.dumps({"id": agent.id})},
        headers={"authorization": f"Bearer {agent.token}"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"node": {"name": agent.row.name}}}


async def test_a_mutation_over_get_is_refused(gql, admin):
    groups_before = await models.Group.all().count()
    response = await gql.http.get(
        "/graphql",
        params={"query": CREATE_GROUP},
        headers={"authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_messages(response) == ["Mutations are sent with POST."]
    assert await models.Group.all().count() == groups_before


async def test_a_mutation_picked_by_operation_name_over_get_is_refused(gql, admin):
    document = f"query Q {TYPENAME} {CREATE_GROUP.replace('mutation', 'mutation M', 1)}"
    groups_before = await models.Group.all().count()
    response = await gql.http.get(
        "/graphql",
        params={"query": document, "operationName": "M"},
        headers={"authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 405
    assert await models.Group.all().count() == groups_before
    query = await gql.http.get("/graphql", params={"query": document, "operationName": "Q"})
    assert query.json() == {"data": {"__typename": "Query"}}


async def test_the_same_mutation_posted_runs(gql, admin):
    response = await gql.post(CREATE_GROUP, as_=admin)
    assert response.status_code == 200
    assert response.json()["data"]["createGroup"]["group"] == {"name": "Over GET"}


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_refused(gql, method):
    query = "subscription { __typename }"
    if method == "POST":
        response = await gql.post(query)
    else:
        response = await gql.http.get("/graphql", params={"query": query})
    assert response.status_code == 400
    assert error_messages(response) == ["Subscriptions run over the websocket at this same URL."]


async def test_other_methods_are_refused_with_the_allowed_ones(gql):
    response = await gql.http.put("/graphql", content=b"{}")
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}
    assert error_messages(response) == ["Method Not Allowed"]


async def test_an_unknown_path_is_a_json_404(gql):
    response = await gql.http.get("/graphq1")
    assert response.status_code == 404
    assert media_type(response) == JSON
    assert error_messages(response) == ["Not Found"]


async def test_a_browser_opening_the_endpoint_gets_graphiql(gql):
    response = await gql.http.get(
        "/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )
    assert response.status_code == 200
    assert media_type(response) == "text/html"
    assert "graphiql" in response.text.lower()


# ---------------------------------------------------------------- media types


async def test_graphql_response_json_is_used_when_the_client_accepts_it(gql):
    response = await gql.post(TYPENAME, headers={"accept": f"{GRAPHQL_RESPONSE}, {JSON}"})
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", [JSON, "*/*", "application/*", ""])
async def test_application_json_is_used_otherwise(gql, accept):
    response = await gql.post(TYPENAME, headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{JSON}; charset=utf-8"


async def test_application_json_is_used_without_an_accept_header(gql):
    request = gql.http.build_request("POST", "/graphql", json={"query": TYPENAME})
    del request.headers["accept"]
    response = await gql.http.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{JSON}; charset=utf-8"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.1, {JSON}", JSON),
        (f"{GRAPHQL_RESPONSE};q=0, */*", JSON),
    ],
)
async def test_the_clients_preferences_decide_the_media_type(gql, accept, expected):
    response = await gql.post(TYPENAME, headers={"accept": accept})
    assert response.status_code == 200
    assert media_type(response) == expected


@pytest.mark.parametrize("accept", ["text/plain", f"text/plain, {JSON};q=0"])
async def test_a_client_accepting_no_json_gets_406(gql, accept):
    response = await gql.post(TYPENAME, headers={"accept": accept})
    assert response.status_code == 406
    assert media_type(response) == JSON
    assert error_messages(response) == [f"Accept {GRAPHQL_RESPONSE} or {JSON}."]


async def test_utf_8_requests_and_answers_round_trip(gql):
    query = '{ __type(name: "Run🏃Swim🏊") { name } }'
    response = await post_raw(
        gql, json.dumps({"query": query}, ensure_ascii=False).encode(), f"{JSON}; charset=utf-8"
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": None}}


# ---------------------------------------------------------------- GraphQL request errors


PARSE_ERROR = "{ __typename"
VALIDATION_ERROR = "{ noSuchField }"
COERCION_ERROR = ("query($name: String!) { __type(name: $name) { name } }", {"name": None})


@pytest.mark.parametrize(
    ("query", "variables"),
    [(PARSE_ERROR, None), (VALIDATION_ERROR, None), COERCION_ERROR],
    ids=["parse", "validation", "variable coercion"],
)
async def test_a_request_error_answers_200_in_application_json(gql, query, variables):
    response = await gql.post(query, variables, headers={"accept": JSON})
    assert response.status_code == 200
    assert media_type(response) == JSON
    assert error_messages(response)


@pytest.mark.parametrize(
    ("query", "variables"),
    [(PARSE_ERROR, None), (VALIDATION_ERROR, None), COERCION_ERROR],
    ids=["parse", "validation", "variable coercion"],
)
async def test_a_request_error_answers_400_in_graphql_response_json(gql, query, variables):
    response = await gql.post(query, variables, headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    assert error_messages(response)


async def test_a_request_error_over_get_is_answered_the_same_way(gql):
    response = await gql.http.get(
        "/graphql", params={"query": PARSE_ERROR}, headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    assert error_messages(response)[0].startswith("Syntax Error")


@pytest.mark.parametrize(
    ("query", "operation_name", "message"),
    [
        ("query A { __typename }", "B", 'The document has no operation named "B".'),
        (TYPENAME, "A", 'The document has no operation named "A".'),
        ("fragment F on Query { __typename }", None, "The document has no operation to run."),
    ],
)
async def test_an_operation_that_is_not_in_the_document_is_a_request_error(
    gql, query, operation_name, message
):
    body = {"query": query, "operationName": operation_name}
    as_json = await post_raw(gql, json.dumps(body))
    assert as_json.status_code == 200
    assert error_messages(as_json) == [message]
    as_graphql_response = await post_raw(gql, json.dumps(body), accept=GRAPHQL_RESPONSE)
    assert as_graphql_response.status_code == 400
    assert error_messages(as_graphql_response) == [message]


async def test_an_error_in_a_field_still_answers_200_with_data(gql):
    response = await gql.post(
        '{ node(id: "anything") { id } }', headers={"accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- malformed HTTP requests


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"query": "{ __typename }"', "The request body is not valid JSON."),
        (b'{"query": "\xff"}', "The request body is not valid JSON."),
        (
            b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]',
            "The request body must be a JSON object (batches are not accepted).",
        ),
        (b"", "The request body is empty: send a JSON object with a query."),
        (b"{}", "A query (a non-empty string) is required."),
        (b'{"query": "   "}', "A query (a non-empty string) is required."),
        (b'{"query": {"obj": "ect"}}', "A query (a non-empty string) is required."),
        (b'{"query": 0}', "A query (a non-empty string) is required."),
        (b'{"query": ["{ __typename }"]}', "A query (a non-empty string) is required."),
        (b'{"query": "{ __typename }", "variables": "{}"}', "variables must be a JSON object."),
        (b'{"query": "{ __typename }", "variables": [1]}', "variables must be a JSON object."),
        (b'{"query": "{ __typename }", "operationName": 0}', "operationName must be a string."),
        (b'{"query": "{ __typename }", "extensions": false}', "extensions must be a JSON object."),
    ],
    ids=[
        "malformed JSON",
        "not UTF-8",
        "batch",
        "empty body",
        "missing query",
        "blank query",
        "object query",
        "number query",
        "array query",
        "string variables",
        "array variables",
        "number operationName",
        "boolean extensions",
    ],
)
@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_a_malformed_post_is_a_400_with_a_json_error(gql, body, message, accept):
    response = await post_raw(gql, body, accept=accept)
    assert response.status_code == 400
    assert media_type(response) == accept
    assert error_messages(response) == [message]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "A query (a non-empty string) is required."),
        (
            {"query": TYPENAME, "variables": "{not json"},
            "The variables parameter is not valid JSON.",
        ),
        ({"query": TYPENAME, "variables": "[1]"}, "variables must be a JSON object."),
        ({"query": TYPENAME, "extensions": "1"}, "extensions must be a JSON object."),
    ],
    ids=["missing query", "malformed variables", "array variables", "number extensions"],
)
async def test_a_malformed_get_is_a_400_with_a_json_error(gql, params, message):
    response = await gql.http.get("/graphql", params=params, headers={"accept": JSON})
    assert response.status_code == 400
    assert error_messages(response) == [message]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_application_json_is_refused_with_415(gql, content_type):
    # multipart/form-data carries files (tests/server/test_uploads.py).
    response = await post_raw(gql, json.dumps({"query": TYPENAME}), content_type)
    assert response.status_code == 415
    assert error_messages(response) == [
        "Send the request as application/json (with files: multipart/form-data)."
    ]


async def test_a_form_post_is_refused_with_415(gql):
    response = await gql.http.post("/graphql", data={"query": TYPENAME})
    assert response.status_code == 415


def padded_query(size: int) -> bytes:
    """A valid request body of exactly `size` bytes."""
    body = json.dumps({"query": TYPENAME}).encode()
    return body + b" " * (size - len(body))


async def test_a_body_of_exactly_the_limit_is_accepted(gql):
    response = await post_raw(gql, padded_query(MAX_BODY_BYTES))
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_body_over_the_limit_is_refused_with_413(gql):
    response = await post_raw(gql, padded_query(MAX_BODY_BYTES + 1))
    assert int(response.request.headers["content-length"]) == MAX_BODY_BYTES + 1
    assert response.status_code == 413
    assert error_messages(response) == [f"The request body is larger than {MAX_BODY_BYTES} bytes."]


async def test_a_streamed_body_over_the_limit_is_refused_with_413(gql):
    async def chunks():
        yield b'{"query": "{ __typename }"'
        for _ in range(MAX_BODY_BYTES // 4096 + 1):
            yield b" " * 4096
        yield b"}"

    response = await post_raw(gql, chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_messages(response) == [f"The request body is larger than {MAX_BODY_BYTES} bytes."]


# ---------------------------------------------------------------- never a server error


BAD_REQUESTS = [
    ("POST", {"content": b"{", "headers": {"content-type": JSON}}),
    ("POST", {"content": b"[]", "headers": {"content-type": JSON}}),
    ("POST", {"content": b"null", "headers": {"content-type": JSON}}),
    ("POST", {"content": b"[" * 5000 + b"]" * 5000, "headers": {"content-type": JSON}}),
    ("POST", {"content": b'{"query": "{ __typename }\\u0000"}', "headers": {"content-type": JSON}}),
    ("POST", {"content": b"{}", "headers": {"content-type": "application/json; charset=latin-1"}}),
    ("POST", {"content": b"{}", "headers": {"content-type": JSON, "content-length": "abc"}}),
    ("POST", {"content": b"{}", "headers": {"content-type": JSON, "accept": ";;,q=x"}}),
    ("POST", {"json": {"query": "{ __type(name: " + "[" * 3000 + "]" * 3000 + ") { name } }"}}),
    ("POST", {"json": {"query": "{ __typename " * 6000 + "}"}}),
    ("POST", {"json": {"query": TYPENAME, "operationName": ""}}),
    ("POST", {"json": {"query": TYPENAME}, "headers": {"authorization": "Bearer a.b.c"}}),
    ("POST", {"json": {"query": TYPENAME}, "headers": {"authorization": "Bearer " + "x" * 5000}}),
    (
        "POST",
        {
            "json": {
                "query": "query($v: Boolean!) { __typename @include(if: $v) }",
                "variables": {"v": "x"},
            }
        },
    ),
    ("GET", {"params": {"query": TYPENAME, "operationName": "Nope"}}),
    ("GET", {"params": {"query": "mutation {"}}),
    ("GET", {"params": {"query": TYPENAME, "variables": ""}}),
    ("GET", {"params": {"query": TYPENAME}, "headers": {"accept": "text/html"}}),
    ("HEAD", {"params": {"query": CREATE_GROUP}}),
    ("DELETE", {}),
    ("OPTIONS", {}),
]


@pytest.mark.parametrize(("method", "kwargs"), BAD_REQUESTS)
async def test_no_odd_request_gets_a_server_error_or_a_traceback(gql, method, kwargs):
    response = await gql.http.request(method, "/graphql", **kwargs)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if method != "HEAD" and response.status_code >= 400:
        assert error_messages(response)
