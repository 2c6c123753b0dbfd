"""Deactivating and reactivating a person.

A deactivated user cannot sign in (the answer is the same as for a wrong password: whether
an account exists, and in what state, is told to nobody who merely types an address),
every session of theirs is revoked and every websocket of theirs closes — at once on the
process that ended them, within seconds on the others (`server/live_sessions.py` hears it
on the bus, or finds the revoked sessions in the database should the message be lost).
Their tickets, comments and history stay as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models import people as models
from guichet.models.auth import PasswordReset, Session
from guichet.models.people import Role
from guichet.resolvers import access
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.errors import Refused, UserError
from guichet.resolvers.people.auth import announce_ended_sessions
from guichet.resolvers.people.people import USER, UserRow
from guichet.resolvers.people.user_changes import (
    AccountErrorCode,
    other_active_admins,
    target_user,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Context


async def deactivate_user(context: Context, user_id: str) -> UserRow:
    """Admins deactivate anyone but themselves and the owner; the last active admin stays."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.ADMIN)
    path = ["input", "id"]
    now = datetime.now(UTC)
    async with in_transaction():
        user = await target_user(user_id)
        if user.id == viewer.id:
            raise Refused(
                UserError("Nobody deactivates themself.", AccountErrorCode.OWN_ACCOUNT, path)
            )
        if Role(user.role) is Role.OWNER:
            raise Refused(
                UserError(
                    "The owner cannot be deactivated (transfer ownership first).",
                    AccountErrorCode.OWNER,
                    path,
                )
            )
        if user.active:
            if access.counts_as_admin(Role(user.role)) and not await other_active_admins(user.id):
                raise Refused(
                    UserError(
                        "The last active admin cannot be deactivated.",
                        AccountErrorCode.LAST_ADMIN,
                        path,
                    )
                )
            await models.User.filter(id=user.id).update(active=False)
            await Session.filter(user_id=user.id, revoked_at__isnull=True).update(revoked_at=now)
            await PasswordReset.filter(user_id=user.id, used_at__isnull=True).update(used_at=now)
            await audit(
                viewer,
                "user.deactivated",
                target_type="User",
                target_id=user.id,
                changes={"active": [True, False]},
            )
            user.active = False
    # After the commit: every process closes their websockets and forgets their sign-ins.
    await announce_ended_sessions(context.bus, user_ids=[user.id])
    context.next_event()
    return USER.row_of(user)


async def reactivate_user(context: Context, user_id: str) -> UserRow:
    """Admins let a deactivated person sign in again (with their old password, or a reset)."""
    viewer = context.require_viewer()
    access.require_role(viewer, Role.ADMIN)
    async with in_transaction():
        user = await target_user(user_id)
        if not user.active:
            await models.User.filter(id=user.id).update(active=True)
            await audit(
                viewer,
                "user.reactivated",
                target_type="User",
                target_id=user.id,
                changes={"active": [False, True]},
            )
            user.active = True
    context.next_event()
    return USER.row_of(user)
