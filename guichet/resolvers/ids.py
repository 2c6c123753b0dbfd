"""Global Relay ids: opaque to clients, `Type:pk` inside."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

_URL_SAFE = bytes.maketrans(b"+/", b"-_")


# A list answer writes hundreds of ids, many of them the same people again: each text is
# made once while it stays in this cache (a few MB at most).
@lru_cache(maxsize=65_536)
def encode(type_name: str, pk: int | str) -> str:
    raw = binascii.b2a_base64(f"{type_name}:{pk}".encode(), newline=False)
    return raw.translate(_URL_SAFE).rstrip(b"=").decode()


def decode(global_id: str) -> tuple[str, int] | None:
    """(type name, pk), or None for anything that is not one of our ids."""
    if not isinstance(global_id, str) or not 0 < len(global_id) <= 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    # ASCII digits only: str.isdigit() also holds for '¹' (int() refuses it) and for other
    # scripts' digits (int() takes them, so one key would have several ids).
    if not sep or not type_name.isidentifier() or not (pk.isascii() and pk.isdigit()):
        return None
    if len(pk) > 18:
        return None
    return type_name, int(pk)


# Types whose keys are 64-bit; every other table's key is a 32-bit integer.
BIG_KEYS = frozenset({"TicketEvent"})
MAX_KEY = 2**31 - 1


def decode_as(global_id: str, type_name: str) -> int | None:
    """The pk of an id of that type, or None (also for a key no row of that type can have)."""
    decoded = decode(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    if decoded[1] > MAX_KEY and type_name not in BIG_KEYS:
        return None
    return decoded[1]


def encode_cursor(position: int) -> str:
    return encode("cursor", position)


def decode_cursor(cursor: str) -> int | None:
    decoded = decode(cursor)
    if decoded is None or decoded[0] != "cursor":
        return None
    return decoded[1]
