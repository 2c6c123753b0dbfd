"""Impersonation: an admin signs in as a customer or an agent for a short while, to see
what they see.

- Admins and the owner only, never from an impersonation session; never as an admin or the
  owner, never as oneself, never as a deactivated user; a reason is required (≤ 500).
- The token is an ordinary session of the impersonated user that also names the admin
  (`Session.impersonator`, `Session.reason`): it lasts TTL (15 minutes), acts with the
  user's role, and everything done with it records the admin as `impersonator` (history
  events through `Changes.of(viewer)`, audit entries through `audit`).
- It cannot impersonate again, change the password or transfer ownership (each rule checks
  `viewer.impersonator_id`).
- The impersonated user can see that it happened: `User.impersonations` lists who signed in
  as them and when (the reason is kept for admins), read from the audit trail, which
  outlives the sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from guichet.models.people import Role, User
from guichet.resolvers import access, ids, sql
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.errors import Forbidden, Refused, UserError, text_error
from guichet.resolvers.people import auth, people
from guichet.resolvers.sql import as_datetime, as_json

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

TTL = timedelta(minutes=15)
MAX_REASON = 500
ACTION = "user.impersonated"


class ImpersonationErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    # The target is an admin or the owner.
    NOT_IMPERSONABLE = "NOT_IMPERSONABLE"
    CANNOT_IMPERSONATE_SELF = "CANNOT_IMPERSONATE_SELF"
    USER_DEACTIVATED = "USER_DEACTIVATED"


@dataclass(slots=True)
class ImpersonationRow:
    """One time someone signed in as a user: who, when, until when (and why, for admins)."""

    pk: int
    user_id: int
    impersonator_id: int | None
    started_at: datetime
    expires_at: datetime | None
    reason: str | None


_OF_USERS = (
    sql.select("a.id, a.target_id, a.actor_id, a.changes, a.created_at", from_="audit_entry a")
    .where("a.target_type = 'User'", sql.among("a.target_id"), "a.action = ?")
    .order("a.id DESC")
)


def _user_error(message: str, code: ImpersonationErrorCode, field: str) -> Refused:
    return Refused(UserError(message, code, ["input", field]))


async def impersonate(context: Context, *, user_id: str, reason: str) -> auth.SignedIn:
    """A 15-minute token acting as the user, recorded in the audit trail."""
    viewer = context.require_viewer()
    if viewer.impersonator_id is not None:
        raise Forbidden("An impersonation session cannot impersonate again.")
    access.require_role(viewer, Role.ADMIN)
    if error := text_error(reason, ["input", "reason"], max_length=MAX_REASON):
        raise Refused(error)
    pk = ids.decode_as(user_id, "User")
    target = await User.get_or_none(id=pk) if pk is not None else None
    if target is None:
        raise _user_error("No such user.", ImpersonationErrorCode.NOT_FOUND, "userId")
    if target.id == viewer.id:
        raise _user_error(
            "You cannot impersonate yourself.",
            ImpersonationErrorCode.CANNOT_IMPERSONATE_SELF,
            "userId",
        )
    if not access.may_be_impersonated(target.role):
        raise _user_error(
            "Admins and the owner cannot be impersonated.",
            ImpersonationErrorCode.NOT_IMPERSONABLE,
            "userId",
        )
    if not target.active:
        raise _user_error(
            "A deactivated user cannot be impersonated.",
            ImpersonationErrorCode.USER_DEACTIVATED,
            "userId",
        )
    reason = reason.strip()
    async with in_transaction():
        token, session_id = await auth.issue_token(
            context.settings.secret_key,
            target.id,
            TTL,
            impersonator_pk=viewer.id,
            reason=reason,
        )
        await audit(
            viewer,
            ACTION,
            target_type="User",
            target_id=target.id,
            changes={
                "reason": reason,
                "role": target.role.value,
                "expiresAt": (datetime.now(UTC) + TTL).isoformat(),
            },
        )
    return auth.SignedIn(token, people.USER.row_of(target), session_id)


async def impersonations_by_user_id(
    context: Context, keys: Sequence[int]
) -> list[list[ImpersonationRow] | None]:
    """For each user, the times someone signed in as them, newest first: for the user
    themself and for admins; None for anyone else. The reason is shown to admins only."""
    viewer = context.require_viewer()
    allowed = [k for k in dict.fromkeys(keys) if access.may_see_impersonations(viewer, k)]
    found: dict[int, list[ImpersonationRow]] = {k: [] for k in allowed}
    if allowed:
        with_reason = access.may_read_impersonation_reasons(viewer)
        for r in await _OF_USERS.fetch(allowed, ACTION):
            changes = as_json(r["changes"]) or {}
            expires = changes.get("expiresAt")
            found[r["target_id"]].append(
                ImpersonationRow(
                    r["id"],
                    r["target_id"],
                    r["actor_id"],
                    as_datetime(r["created_at"]),
                    datetime.fromisoformat(expires) if expires else None,
                    changes.get("reason") if with_reason else None,
                )
            )
    return [found.get(k) for k in keys]


async def impersonators_for_viewer(
    context: Context, keys: Sequence[tuple[int | None, int | None]]
) -> list[people.UserRow | None]:
    """For each (actor, impersonator) of a history event: the impersonator, when the viewer
    may know (staff, and the impersonated person themself), else None."""
    viewer = context.require_viewer()
    shown = [
        impersonator
        if impersonator is not None and access.may_see_impersonator(viewer, actor)
        else None
        for actor, impersonator in keys
    ]
    wanted = list(dict.fromkeys(k for k in shown if k is not None))
    users = await context.loader(people.users_by_id).load_many(wanted) if wanted else []
    by_pk = dict(zip(wanted, users, strict=True))
    return [by_pk.get(k) if k is not None else None for k in shown]
