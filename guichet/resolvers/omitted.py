"""What a partial update leaves out.

"Only the fields given change" needs three states per field: a value, null (clear it), and
not mentioned. Rules take plain dataclasses whose fields default to OMITTED for the third;
the schema turns its framework's own marker into this one at the boundary, so no rule
depends on the GraphQL library.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal


class Omitted(Enum):
    OMITTED = "OMITTED"

    def __bool__(self) -> bool:
        # Falsy like None, so `value or default` reads the same for both.
        return False

    def __repr__(self) -> str:
        return "OMITTED"


OMITTED: Final = Omitted.OMITTED
OmittedType = Literal[Omitted.OMITTED]


def given(value: object) -> bool:
    """Whether a partial update mentions this field (null counts: it clears)."""
    return value is not OMITTED
