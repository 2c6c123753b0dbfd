"""Tickets: reading them (rows and batch functions) and opening them (new requests and
follow-ups). Changing them is in ticket_updates.py; conversations in comments.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from guichet.models import people as people_models
from guichet.models.people import Role
from guichet.models.tickets import (
    Channel,
    CustomFieldValue,
    FieldVisibility,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import Refused, UserError
from guichet.resolvers.people import organization_domains, people
from guichet.resolvers.sql import as_datetime, json_text, optional
from guichet.resolvers.tickets import custom_fields
from guichet.resolvers.tickets.history import Changes

if TYPE_CHECKING:
    from guichet.resolvers.context import Context, Viewer

MAX_SUBJECT = 250
MAX_BODY = 64 * 1024
MAX_TAGS = 50
MAX_CCS = 50


class TicketErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"
    NOT_ALLOWED = "NOT_ALLOWED"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_TAG = "INVALID_TAG"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    NOT_AN_AGENT = "NOT_AN_AGENT"
    ASSIGNEE_NOT_IN_GROUP = "ASSIGNEE_NOT_IN_GROUP"
    TICKET_CLOSED = "TICKET_CLOSED"
    NOT_CLOSED = "NOT_CLOSED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    ASSIGNEE_REQUIRED = "ASSIGNEE_REQUIRED"
    NOT_REQUESTER = "NOT_REQUESTER"
    TOO_MANY = "TOO_MANY"
    # A deactivated organization, group or person: kept on old tickets, not used anew.
    INACTIVE = "INACTIVE"


@dataclass(slots=True)
class TicketRow:
    pk: int
    number: int
    subject: str
    description: str
    status: TicketStatus
    type: TicketType | None
    priority: TicketPriority | None
    via: Channel
    requester_id: int
    submitter_id: int
    assignee_id: int | None
    group_id: int | None
    organization_id: int | None
    follow_up_of_id: int | None
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    first_reply_at: datetime | None

    @property
    def id(self) -> str:
        return ids.encode("Ticket", self.pk)


TICKET = sql.Table(
    "ticket", "t", TicketRow,
    "id", "number", "subject", "description", ("status", TicketStatus),
    ("type", optional(TicketType)), ("priority", optional(TicketPriority)), ("via", Channel),
    "requester_id", "submitter_id", "assignee_id", "group_id", "organization_id",
    "follow_up_of_id", ("created_at", as_datetime), ("updated_at", as_datetime),
    ("solved_at", as_datetime), ("first_reply_at", as_datetime),
)  # fmt: skip

_BY_ID = sql.select(TICKET).where(sql.among("t.id"), sql.GIVEN)
_BY_NUMBER = sql.select(TICKET).where("t.number = ?", sql.GIVEN)
_CCS = (
    sql.select(
        "cc.ticket_id", people.USER, from_=f"ticket_cc cc JOIN {people.USER} ON u.id = cc.user_id"
    )
    .where(sql.among("cc.ticket_id"))
    .order("cc.id")
)
_CC_EMAILS = (
    sql.select(
        "cc.ticket_id",
        "u.email",
        from_=f'ticket_cc cc JOIN "user" u ON u.id = cc.user_id JOIN {TICKET} ON t.id = cc.ticket_id',
    )
    .where(sql.among("cc.ticket_id"), sql.GIVEN)
    .order("cc.id")
)
_TAGS = sql.select("ticket_id, tag", from_="ticket_tag").where(sql.among("ticket_id")).order("tag")
# A requester's organizations and default organization, in one statement.
_MEMBERSHIPS = sql.select(
    "m.organization_id",
    "o.active",
    "u.default_organization_id",
    from_='"user" u LEFT JOIN organization_member m ON m.user_id = u.id'
    " LEFT JOIN organization o ON o.id = m.organization_id",
).where("u.id = ?")
_FOLLOW_UPS = sql.select(TICKET).where(sql.among("t.follow_up_of_id"), sql.GIVEN).order("t.number")


# ---------------------------------------------------------------- batch functions


async def tickets_by_id(context: Context, keys: Sequence[int]) -> list[TicketRow | None]:
    """Tickets by id, each only if the viewer may see it."""
    viewer = context.require_viewer()
    visible = access.visible_tickets_condition(viewer, "t", 1)
    return sql.in_key_order(keys, await _BY_ID.fetch(keys, visible), TICKET.row)


def by_number_in_sql(viewer: Viewer, arguments: dict, alias: str) -> tuple[str, list]:
    """`ticket_by_number`'s row, for an answer built in SQL (resolvers/sql/sources.py)."""
    visible, params = access.visible_tickets_condition(viewer, alias, 2)
    return f"{alias}.number = $1 AND {visible}", [arguments["number"], *params]


async def ticket_by_number(context: Context, number: int) -> TicketRow | None:
    viewer = context.require_viewer()
    rows = await _BY_NUMBER.fetch(number, access.visible_tickets_condition(viewer, "t", 1))
    return TICKET.row(rows[0]) if rows else None


async def ticket_for_viewer(context: Context, pk: int) -> TicketRow:
    """A ticket the viewer may see, or NotFound (missing and hidden alike)."""
    return await context.visible_one(tickets_by_id, pk, "No such ticket.")


@sql.answers_in_sql(sql.One(people.GROUP, visible=access.can_see_groups))
async def ticket_groups_by_id(
    context: Context, keys: Sequence[int]
) -> list[people.GroupRow | None]:
    """A ticket's group, for staff only: groups are internal (access.can_see_groups)."""
    if not access.can_see_groups(context.require_viewer()):
        return [None] * len(keys)
    return await people.groups_by_id(context, keys)


async def ccs_by_ticket(context: Context, keys: Sequence[int]) -> list[list[people.UserRow]]:
    return sql.grouped_by(keys, await _CCS.fetch(keys), people.USER.row, "ticket_id")


async def cc_emails_by_ticket(context: Context, keys: Sequence[int]) -> list[list[str]]:
    """Each ticket's CC addresses, for staff and the customers who take part in it
    (`access.cc_emails_condition`); empty for anyone else."""
    condition = access.cc_emails_condition(context.require_viewer(), "t", 1)
    rows = await _CC_EMAILS.fetch(keys, condition)
    return sql.grouped_by(keys, rows, itemgetter("email"), "ticket_id")


async def tags_by_ticket(context: Context, keys: Sequence[int]) -> list[list[str]]:
    return sql.grouped_by(keys, await _TAGS.fetch(keys), itemgetter("tag"), "ticket_id")


async def follow_ups_by_ticket(context: Context, keys: Sequence[int]) -> list[list[TicketRow]]:
    viewer = context.require_viewer()
    rows = await _FOLLOW_UPS.fetch(keys, access.visible_tickets_condition(viewer, "t", 1))
    return sql.grouped_by(keys, rows, TICKET.row, "follow_up_of_id")


# ---------------------------------------------------------------- checks shared with updates


def normalized_tags(tags: Sequence[str] | None, path: list[str]) -> list[str]:
    cleaned: list[str] = []
    for i, tag in enumerate(tags or ()):
        tag = tag.strip().lower()
        if not tag or len(tag) > 80 or any(c.isspace() or c == "\x00" for c in tag):
            raise Refused(
                UserError(
                    f"{tag!r} is not a tag: 1 to 80 characters, no spaces.",
                    TicketErrorCode.INVALID_TAG,
                    [*path, str(i)],
                )
            )
        cleaned.append(tag)
    cleaned = list(dict.fromkeys(cleaned))
    if len(cleaned) > MAX_TAGS:
        raise Refused(
            UserError(f"A ticket has at most {MAX_TAGS} tags.", TicketErrorCode.TOO_MANY, path)
        )
    return cleaned


def decoded(global_id: str | None, type_name: str, path: list[str]) -> int | None:
    if global_id is None:
        return None
    pk = ids.decode_as(global_id, type_name)
    if pk is None:
        raise Refused(
            UserError(
                f"No {type_name.lower()} has the id {global_id!r}.", TicketErrorCode.NOT_FOUND, path
            )
        )
    return pk


async def existing_user(pk: int, path: list[str]) -> people_models.User:
    user = await people_models.User.get_or_none(id=pk)
    if user is None:
        raise Refused(UserError("No such user.", TicketErrorCode.NOT_FOUND, path))
    return user


async def checked_assignee(
    assignee_pk: int | None,
    group_pk: int | None,
    *,
    new_group: bool = True,
    new_assignee: bool = True,
) -> None:
    """An assignee is an active agent (light agents are not assigned tickets), in the group
    if any. A deactivated group stays on the tickets that have it, but is not set anew."""
    if group_pk is not None:
        group_active = (
            await people_models.Group.filter(id=group_pk).first().values_list("active", flat=True)
        )
        if group_active is None:
            raise Refused(
                UserError("No such group.", TicketErrorCode.NOT_FOUND, ["input", "groupId"])
            )
        if new_group and not group_active:
            raise Refused(
                UserError(
                    "That group was deactivated.", TicketErrorCode.INACTIVE, ["input", "groupId"]
                )
            )
    if assignee_pk is None:
        return
    user = await existing_user(assignee_pk, ["input", "assigneeId"])
    if new_assignee and not user.active:
        raise Refused(
            UserError(
                "That person was deactivated.", TicketErrorCode.INACTIVE, ["input", "assigneeId"]
            )
        )
    if not Role(user.role).at_least(Role.AGENT):
        raise Refused(
            UserError(
                "Tickets are assigned to agents.",
                TicketErrorCode.NOT_AN_AGENT,
                ["input", "assigneeId"],
            )
        )
    if (
        group_pk is not None
        and not await people_models.GroupMember.filter(
            group_id=group_pk, user_id=assignee_pk
        ).exists()
    ):
        raise Refused(
            UserError(
                "The assignee is not in that group.",
                TicketErrorCode.ASSIGNEE_NOT_IN_GROUP,
                ["input", "assigneeId"],
            )
        )


async def checked_organization(requester_pk: int, organization_pk: int | None) -> int | None:
    """The ticket's organization: one the requester belongs to; by default their default
    organization (while they still belong to it), else their only one, else none."""
    rows = await _MEMBERSHIPS.fetch(requester_pk)
    memberships = [r["organization_id"] for r in rows if r["organization_id"] is not None]
    # A deactivated organization stays on old tickets; new ones do not go to it.
    inactive = {r["organization_id"] for r in rows if r["organization_id"] and not r["active"]}
    if organization_pk in inactive:
        raise Refused(
            UserError(
                "That organization was deactivated.",
                TicketErrorCode.INACTIVE,
                ["input", "organizationId"],
            )
        )
    memberships = [pk for pk in memberships if pk not in inactive]
    if organization_pk is None:
        default = rows[0]["default_organization_id"] if rows else None
        if default in memberships:
            return default
        return memberships[0] if len(memberships) == 1 else None
    if organization_pk not in memberships:
        raise Refused(
            UserError(
                "The requester is not a member of that organization.",
                TicketErrorCode.NOT_A_MEMBER,
                ["input", "organizationId"],
            )
        )
    return organization_pk


async def cc_users(emails: Sequence[str] | None, path: list[str]) -> list[people_models.User]:
    """People to copy, by address; unknown addresses become customers (end users)."""
    if emails and len(emails) > MAX_CCS:
        raise Refused(UserError(f"At most {MAX_CCS} CCs.", TicketErrorCode.TOO_MANY, path))
    users = []
    for i, email in enumerate(emails or ()):
        if "\x00" in email or people.email_error(email, [*path, str(i)]):
            raise Refused(
                UserError(
                    f"{email!r} is not an e-mail address.",
                    TicketErrorCode.INVALID_EMAIL,
                    [*path, str(i)],
                )
            )
        address = people.normalize_email(email)
        user, created = await people_models.User.get_or_create(
            email=address, defaults={"name": address.split("@")[0], "role": Role.END_USER}
        )
        if created:
            await organization_domains.join_by_domain(user.id, address)
        users.append(user)
    return list({u.id: u for u in users}.values())


async def record_values(
    changes: Changes,
    ticket_pk: int,
    values: dict[custom_fields.CustomFieldRow, Any],
    viewer: Viewer,
    via: Channel,
) -> None:
    for field, value in values.items():
        existing = await CustomFieldValue.get_or_none(ticket_id=ticket_pk, field_id=field.pk)
        previous = orjson.loads(existing.value) if existing and existing.value is not None else None
        if previous == value:
            continue
        if existing:
            await CustomFieldValue.filter(id=existing.id).update(value=json_text(value))
        else:
            await CustomFieldValue.create(
                ticket_id=ticket_pk, field_id=field.pk, value=json_text(value)
            )
        await changes.record(
            ticket_pk, TicketEventKind.FIELD_CHANGED, actor_pk=viewer.id, via=via,
            public=field.visibility is FieldVisibility.PUBLIC,
            field=f"customFields.{field.key}", previous=previous, new=value,
        )  # fmt: skip


def forget(context: Context) -> None:
    """A write committed: what this request's loaders read before it (the ticket's status,
    assignee...) is stale, so the payload reads afresh."""
    context.next_event()


async def target_ticket(context: Context, global_id: str) -> TicketRow:
    """The ticket a mutation acts on: NOT_FOUND alike when malformed, missing or invisible."""
    return await ticket_for_viewer(context, ids.decode_as(global_id, "Ticket") or 0)


# ---------------------------------------------------------------- opening tickets


def channel_of(viewer: Viewer) -> Channel:
    return Channel.WEB if viewer.is_agent else Channel.PORTAL
