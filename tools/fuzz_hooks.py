"""schemathesis hooks for tools/fuzz.py: the findings that count, and values that reach
the rules.

Findings: a 5xx, or a response with "Unexpected error." (INTERNAL_SERVER_ERROR). Top-level
errors that are answers (BAD_USER_INPUT, FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, ...) are not
findings, so schemathesis's own GraphQL checks that count every `errors` entry are off.

Values: the scalars schemathesis has no strategy for (JSON, Upload) get one; DateTime values
carry offsets and reach the ends of the calendar; an ID is, most of the time, the id of an
object of the demo data (FUZZ_IDS_FILE, written by tools/fuzz.py), so mutations get past
NOT_FOUND into their rules, and otherwise a malformed or unknown one.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes


@schemathesis.check
def no_server_error(ctx, response, case) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")


@schemathesis.check
def no_unexpected_error(ctx, response, case) -> None:
    if b"Unexpected error." in response.content or b"INTERNAL_SERVER_ERROR" in response.content:
        raise AssertionError(f"The API answered 'Unexpected error.': {response.text[:500]}")


def _known_ids() -> list[str]:
    path = os.environ.get("FUZZ_IDS_FILE")
    if not path:
        return []
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _global_id(type_name: str, key: str) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


KNOWN_IDS = _known_ids()
ODD_IDS = st.one_of(
    st.text(max_size=40),
    st.builds(
        _global_id,
        st.sampled_from(["Ticket", "User", "Comment", "TimeEntry", "Activity", "cursor"]),
        st.one_of(
            st.integers(min_value=-(2**63), max_value=2**63).map(str),
            st.text(max_size=12),
        ),
    ),
)
IDS = st.one_of(st.sampled_from(KNOWN_IDS), ODD_IDS) if KNOWN_IDS else ODD_IDS
schemathesis.graphql.scalar("ID", IDS.map(nodes.String))

OFFSETS = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))]
)
MOMENTS = st.one_of(
    st.datetimes(timezones=OFFSETS),
    st.sampled_from([datetime.min, datetime.max]).flatmap(
        lambda edge: OFFSETS.map(lambda tz: edge.replace(tzinfo=tz))
    ),
    st.datetimes(
        min_value=datetime.now() - timedelta(days=60), max_value=datetime.now() + timedelta(days=60)
    ),
)
schemathesis.graphql.scalar("DateTime", MOMENTS.map(datetime.isoformat).map(nodes.String))

JSON_LEAVES = st.one_of(
    st.none().map(lambda _: nodes.Null),
    st.booleans().map(nodes.Boolean),
    st.integers().map(nodes.Int),  # JSON numbers have no range: 10**30 reaches the rules
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    st.text(max_size=30).map(nodes.String),
    st.sampled_from(["Pro", "2026-01-01", "x" * 10_001]).map(nodes.String),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(nodes.List),
        st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), inner, max_size=4
        ).map(lambda d: nodes.Object([_field(k, v) for k, v in d.items()])),
    ),
    max_leaves=12,
)


def _field(name: str, value):
    import graphql

    return graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)


schemathesis.graphql.scalar("JSON", JSON_VALUES)
schemathesis.graphql.scalar("Upload", st.text(max_size=20).map(nodes.String))
