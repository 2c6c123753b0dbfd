"""Global ids: anything that is not exactly one of ours decodes to None, never raises."""

from __future__ import annotations

import base64

import pytest

from guichet.resolvers import ids


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_an_id_decodes_to_its_type_and_key():
    assert ids.decode(ids.encode("Ticket", 42)) == ("Ticket", 42)
    assert ids.decode_as(ids.encode("Ticket", 42), "Ticket") == 42
    assert ids.decode_cursor(ids.encode_cursor(7)) == 7


@pytest.mark.parametrize(
    "key",
    [
        "¹",  # isdigit() holds, int() refuses: was an unexpected error (found by tools/fuzz.py)
        "٣",  # Arabic-Indic three: int() takes it, so "Ticket:3" would have a second id
        "3²",
        "-1",
        "+1",
        " 1",
        "1_000",
        "",
        "1" * 19,
    ],
)
def test_a_key_that_is_not_plain_ascii_digits_is_no_id(key):
    for type_name in ("Ticket", "Notification", "cursor"):
        assert ids.decode(raw(f"{type_name}:{key}")) is None
        assert ids.decode_as(raw(f"{type_name}:{key}"), type_name) is None
    assert ids.decode_cursor(raw(f"cursor:{key}")) is None
