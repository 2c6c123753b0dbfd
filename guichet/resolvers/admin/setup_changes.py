"""Changing the help desk's setup: organizations (name, sharing, e-mail domains), groups and
custom fields, and deactivating them. A deactivated one stays on the tickets that have it
and is gone from forms: new tickets cannot use it. Admins only; one transaction each,
audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from guichet.models import people as models
from guichet.models.people import Role
from guichet.models.tickets import CustomField, CustomFieldType, FieldVisibility
from guichet.resolvers import access, ids
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.errors import CommonErrorCode, Refused, UserError, text_error
from guichet.resolvers.omitted import OMITTED, OmittedType, given
from guichet.resolvers.people import organization_subscriptions
from guichet.resolvers.people.organization_domains import (
    DomainErrorCode,
    domain_errors,
    normalize_domain,
)
from guichet.resolvers.people.people import (
    GROUP,
    ORGANIZATION,
    GroupRow,
    OrganizationRow,
    PeopleErrorCode,
)
from guichet.resolvers.tickets.custom_fields import (
    CUSTOM_FIELD,
    CustomFieldErrorCode,
    CustomFieldRow,
    checked_options,
)

if TYPE_CHECKING:
    from guichet.resolvers.context import Viewer

PATH_ID = ["input", "id"]


def _not_found(what: str) -> Refused:
    return Refused(UserError(f"No such {what}.", PeopleErrorCode.NOT_FOUND, PATH_ID))


async def _locked(model: Any, global_id: str, type_name: str) -> Any:
    pk = ids.decode_as(global_id, type_name)
    found = await model.filter(id=pk).select_for_update().first() if pk else None
    if found is None:
        raise _not_found(type_name.lower())
    return found


def _name_taken(kind: str, name: str) -> Refused:
    return Refused(
        UserError(
            f"{kind} is already named {name!r}.", PeopleErrorCode.NAME_TAKEN, ["input", "name"]
        )
    )


async def _apply(
    viewer: Viewer, row: Any, updates: dict[str, Any], action: str, target: str, extra: dict
) -> dict[str, list[Any]]:
    """Write what changed and audit it; returns the changes ({} when nothing did)."""
    changed = {k: [getattr(row, k), v] for k, v in updates.items() if getattr(row, k) != v}
    if changed:
        await type(row).filter(id=row.id).update(**{k: v for k, (_, v) in changed.items()})
        row.update_from_dict({k: v for k, (_, v) in changed.items()})
    changed.update(extra)
    if changed:
        await audit(viewer, action, target_type=target, target_id=row.id, changes=changed)
    return changed


# ---------------------------------------------------------------- organizations


@dataclass(frozen=True, slots=True)
class OrganizationChanges:
    id: str
    name: str | OmittedType | None = OMITTED
    shared_tickets: bool | OmittedType | None = OMITTED
    domains: Sequence[str] | OmittedType | None = OMITTED


async def update_organization(viewer: Viewer, changes: OrganizationChanges) -> OrganizationRow:
    """Rename, share or not, and set the e-mail domains (the whole list; each domain in one
    organization only) of an organization."""
    access.require_role(viewer, Role.ADMIN)
    updates: dict[str, Any] = {}
    errors = []
    if given(changes.name):
        if error := text_error(changes.name, ["input", "name"], max_length=200):
            errors.append(error)
        else:
            updates["name"] = changes.name.strip()
    if given(changes.shared_tickets) and changes.shared_tickets is not None:
        updates["shared_tickets"] = changes.shared_tickets
    domains = None
    if given(changes.domains):
        errors += domain_errors(changes.domains or (), ["input", "domains"])
        domains = sorted({normalize_domain(d) for d in changes.domains or ()})
    if errors:
        raise Refused(*errors)
    try:
        async with in_transaction():
            org = await _locked(models.Organization, changes.id, "Organization")
            extra = {} if domains is None else await _set_domains(org.id, domains)
            await _apply(viewer, org, updates, "organization.updated", "Organization", extra)
            # Customers who followed it only while it shared its tickets stop following it.
            await organization_subscriptions.unfollow_what_is_no_longer_allowed(
                organization_pk=org.id
            )
    except IntegrityError:
        # The unique indexes decide between concurrent requests (name, domain).
        raise _name_taken("An organization", updates.get("name", "")) from None
    return ORGANIZATION.row_of(org)


async def _set_domains(org_pk: int, domains: list[str]) -> dict[str, list[Any]]:
    taken = await models.OrganizationDomain.filter(domain__in=domains).exclude(
        organization_id=org_pk
    )
    if taken:
        raise Refused(
            *(
                UserError(
                    f"{d.domain} already belongs to another organization.",
                    DomainErrorCode.DOMAIN_TAKEN,
                    ["input", "domains"],
                )
                for d in taken
            )
        )
    current = sorted(
        await models.OrganizationDomain.filter(organization_id=org_pk).values_list(
            "domain", flat=True
        )
    )
    if current == domains:
        return {}
    await (
        models.OrganizationDomain.filter(organization_id=org_pk)
        .exclude(domain__in=domains)
        .delete()
    )
    for domain in sorted(set(domains) - set(current)):
        await models.OrganizationDomain.create(organization_id=org_pk, domain=domain)
    return {"domains": [current, domains]}


async def deactivate_organization(viewer: Viewer, global_id: str) -> OrganizationRow:
    """Kept on old tickets and in members' profiles; new tickets and new members cannot
    use it, and its domains stop adding people to it."""
    access.require_role(viewer, Role.ADMIN)
    async with in_transaction():
        org = await _locked(models.Organization, global_id, "Organization")
        await _apply(viewer, org, {"active": False}, "organization.deactivated", "Organization", {})
    return ORGANIZATION.row_of(org)


# ---------------------------------------------------------------- groups


async def update_group(viewer: Viewer, global_id: str, name: str | None) -> GroupRow:
    access.require_role(viewer, Role.ADMIN)
    updates: dict[str, Any] = {}
    if name is not None:
        if error := text_error(name, ["input", "name"], max_length=200):
            raise Refused(error)
        updates["name"] = name.strip()
    try:
        async with in_transaction():
            group = await _locked(models.Group, global_id, "Group")
            await _apply(viewer, group, updates, "group.updated", "Group", {})
    except IntegrityError:
        raise _name_taken("A group", updates.get("name", "")) from None
    return GROUP.row_of(group)


async def deactivate_group(viewer: Viewer, global_id: str) -> GroupRow:
    """Kept on old tickets (and its members stay in it); new tickets cannot use it."""
    access.require_role(viewer, Role.ADMIN)
    async with in_transaction():
        group = await _locked(models.Group, global_id, "Group")
        await _apply(viewer, group, {"active": False}, "group.deactivated", "Group", {})
    return GROUP.row_of(group)


# ---------------------------------------------------------------- custom fields


@dataclass(frozen=True, slots=True)
class CustomFieldChanges:
    id: str
    title: str | OmittedType | None = OMITTED
    visibility: FieldVisibility | OmittedType | None = OMITTED
    options: Sequence[str] | OmittedType | None = OMITTED
    required_for_end_users: bool | OmittedType | None = OMITTED
    position: int | OmittedType | None = OMITTED


async def update_custom_field(viewer: Viewer, changes: CustomFieldChanges) -> CustomFieldRow:
    """Title, options (dropdowns), visibility, requirement and position; never the type
    (values already given stay as they were)."""
    access.require_role(viewer, Role.ADMIN)
    updates: dict[str, Any] = {}
    if given(changes.title):
        if error := text_error(changes.title, ["input", "title"], max_length=200):
            raise Refused(error)
        updates["title"] = changes.title.strip()
    if given(changes.position) and changes.position is not None:
        if not 0 <= changes.position <= 1_000_000:
            raise Refused(
                UserError(
                    "A position is between 0 and 1000000.",
                    CommonErrorCode.INVALID,
                    ["input", "position"],
                )
            )
        updates["position"] = changes.position
    if given(changes.visibility) and changes.visibility is not None:
        updates["visibility"] = FieldVisibility(changes.visibility)
    if given(changes.required_for_end_users) and changes.required_for_end_users is not None:
        updates["required_for_end_users"] = changes.required_for_end_users
    async with in_transaction():
        field = await _locked(CustomField, changes.id, "CustomField")
        if given(changes.options):
            updates["options"] = checked_options(
                CustomFieldType(field.type), changes.options, ["input", "options"]
            )
        visibility = updates.get("visibility", FieldVisibility(field.visibility))
        required = updates.get("required_for_end_users", field.required_for_end_users)
        if required and visibility is FieldVisibility.AGENTS_ONLY:
            raise Refused(
                UserError(
                    "An agents-only field cannot be required from customers.",
                    CustomFieldErrorCode.INVALID_OPTIONS,
                    ["input", "requiredForEndUsers"],
                )
            )
        await _apply(viewer, field, updates, "custom_field.updated", "CustomField", {})
    return CUSTOM_FIELD.row_of(field)


async def deactivate_custom_field(viewer: Viewer, global_id: str) -> CustomFieldRow:
    """Its values stay on the tickets that have them; forms no longer offer it, and giving
    it a value is FIELD_INACTIVE."""
    access.require_role(viewer, Role.ADMIN)
    async with in_transaction():
        field = await _locked(CustomField, global_id, "CustomField")
        await _apply(
            viewer, field, {"active": False}, "custom_field.deactivated", "CustomField", {}
        )
    return CUSTOM_FIELD.row_of(field)
