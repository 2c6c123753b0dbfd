"""Handing over the help desk: the owner makes an active admin the owner and becomes an
admin.

There is exactly one owner at every moment, whatever runs at the same time:
- the database refuses a second owner (a partial unique index on role = 'OWNER'), so the
  owner steps down *before* the admin steps up, in one transaction: no instant, committed
  or not, has two owners, and a failure between the two leaves the old owner in place;
- the owner's row is locked first (PostgreSQL; SQLite has one writer), so concurrent
  transfers queue: the first one wins, the others find the viewer is no longer the owner
  and answer NOT_OWNER;
- each update is conditional (`WHERE role = ...`), so a role changed meanwhile by someone
  else (an admin demoted by updateUser) is never overwritten.

Signed-in sessions read the role with the session (server/session_cache.py keeps a viewer
for at most FRESH_SECONDS), so the new roles apply to every process within that window.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models.people import Role, User
from guichet.resolvers import access, ids, sql
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.errors import Forbidden, Refused, UserError
from guichet.resolvers.people import people

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

_STEP = sql.statement('UPDATE "user" SET role = ?').where("id = ?", "role = ?", "active = TRUE")


class OwnershipErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    NOT_AN_ADMIN = "NOT_AN_ADMIN"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    ALREADY_OWNER = "ALREADY_OWNER"
    # The viewer stopped being the owner meanwhile (a concurrent transfer won).
    NOT_OWNER = "NOT_OWNER"


def _refused(message: str, code: OwnershipErrorCode) -> Refused:
    return Refused(UserError(message, code, ["input", "toUserId"]))


async def transfer_ownership(context: Context, *, to_user_id: str) -> people.UserRow:
    """Make an active admin the owner; the owner becomes an admin. Answers the new owner."""
    viewer = context.require_viewer()
    if viewer.impersonator_id is not None:
        raise Forbidden("An impersonation session cannot transfer ownership.")
    access.require_role(viewer, Role.OWNER)
    target_pk = ids.decode_as(to_user_id, "User")
    if target_pk == viewer.id:
        raise _refused("You are the owner already.", OwnershipErrorCode.ALREADY_OWNER)
    async with in_transaction():
        # The owner's row first, always: concurrent transfers queue here.
        owner = await User.filter(id=viewer.id).select_for_update().first()
        if owner is None or owner.role is not Role.OWNER:
            raise _refused("You are no longer the owner.", OwnershipErrorCode.NOT_OWNER)
        target = None
        if target_pk is not None:
            target = await User.filter(id=target_pk).select_for_update().first()
        if target is None:
            raise _refused("No such user.", OwnershipErrorCode.NOT_FOUND)
        if not target.active:
            raise _refused(
                "A deactivated user cannot become the owner.", OwnershipErrorCode.USER_DEACTIVATED
            )
        if target.role is not Role.ADMIN:
            raise _refused(
                "Ownership goes to an admin only: make them an admin first.",
                OwnershipErrorCode.NOT_AN_ADMIN,
            )
        # Down first, then up: the unique index never sees two owners.
        if not await _STEP.execute(Role.ADMIN.value, owner.id, Role.OWNER.value):
            raise _refused("You are no longer the owner.", OwnershipErrorCode.NOT_OWNER)
        if not await _STEP.execute(Role.OWNER.value, target.id, Role.ADMIN.value):
            raise _refused(
                "Ownership goes to an active admin only.", OwnershipErrorCode.NOT_AN_ADMIN
            )
        await audit(
            viewer,
            "ownership.transferred",
            target_type="User",
            target_id=target.id,
            changes={
                "owner": [owner.id, target.id],
                "role": {str(owner.id): ["OWNER", "ADMIN"], str(target.id): ["ADMIN", "OWNER"]},
            },
        )
        target.role = Role.OWNER
    return people.USER.row_of(target)
