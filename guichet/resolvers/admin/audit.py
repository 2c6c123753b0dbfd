"""The audit trail: one row per change to a person, an organization, a group, a custom
field, a view or the settings — who did it (and through whose impersonation), what, and
from what to what."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from guichet.models.admin import AuditEntry

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer


def _plain(value: Any) -> Any:
    # Changes carry enums and datetimes now and then; the trail keeps their text.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


async def audit(
    actor: Viewer | None,
    action: str,
    *,
    target_type: str | None,
    target_id: int | None,
    changes: dict | None,
) -> None:
    """Write one audit entry. Called inside the caller's transaction (`in_transaction()`
    sets the connection for the task), so the entry commits, or rolls back, with the change
    it describes. `actor` None: the system. When the actor's session is an impersonation,
    the admin behind it is recorded as `impersonator`."""
    await AuditEntry.create(
        actor_id=actor.id if actor is not None else None,
        impersonator_id=getattr(actor, "impersonator_id", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        changes=None if changes is None else json.dumps(changes, default=_plain),
    )
