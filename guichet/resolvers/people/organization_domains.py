"""Organization domains: a new end user whose address is in an organization's e-mail
domain joins that organization, however the account was made (sign-up, an agent, mail)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

from guichet.models.people import OrganizationDomain, OrganizationMember
from guichet.resolvers import sql
from guichet.resolvers.errors import UserError

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

# A host name of at least two labels (RFC 1123), each 1-63 letters, digits or inner hyphens;
# the last label not all digits (that would be an IP address, not a domain).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?!\d+$){_LABEL}$")
MAX_DOMAINS = 50

_DOMAINS_OF = (
    sql.select("organization_id, domain", from_="organization_domain")
    .where(sql.among("organization_id"))
    .order("domain")
)


class DomainErrorCode(StrEnum):
    INVALID_DOMAIN = "INVALID_DOMAIN"
    DOMAIN_TAKEN = "DOMAIN_TAKEN"
    TOO_MANY = "TOO_MANY"


def normalize_domain(domain: str) -> str:
    """As stored: trimmed, lower-cased, without a leading '@' or a trailing dot."""
    return domain.strip().lower().removeprefix("@").removesuffix(".")


def domain_errors(domains: Sequence[str], path: list[str]) -> list[UserError]:
    """What is wrong with a list of domains as a client sent it (each checked normalized)."""
    if len(domains) > MAX_DOMAINS:
        return [
            UserError(
                f"An organization has at most {MAX_DOMAINS} domains.",
                DomainErrorCode.TOO_MANY,
                path,
            )
        ]
    errors = []
    for i, raw in enumerate(domains):
        domain = normalize_domain(raw)
        if len(domain) > 253 or not DOMAIN.match(domain):
            errors.append(
                UserError(
                    f"{raw!r} is not a domain name (e.g. example.com).",
                    DomainErrorCode.INVALID_DOMAIN,
                    [*path, str(i)],
                )
            )
    return errors


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


async def join_by_domain(user_pk: int, email: str) -> int | None:
    """Put a new end user in the active organization whose domain their address is in;
    returns that organization's id (None: no such organization). Called by whoever creates
    the account, inside its transaction."""
    org_pk = (
        await OrganizationDomain.filter(domain=email_domain(email), organization__active=True)
        .first()
        .values_list("organization_id", flat=True)
    )
    if org_pk is None:
        return None
    await OrganizationMember.get_or_create(organization_id=org_pk, user_id=user_pk)
    return org_pk


async def domains_by_organization_id(context: Context, keys: Sequence[int]) -> list[list[str]]:
    rows = await _DOMAINS_OF.fetch(keys)
    return sql.grouped_by(keys, rows, lambda r: r["domain"], "organization_id")
