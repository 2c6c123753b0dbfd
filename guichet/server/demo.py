"""Demo data: a small helpdesk with people to sign in as, so a first start shows life.

Every demo account has the password DEMO_PASSWORD. Later capabilities add their data
here (tickets, approvals, activities...)."""

from __future__ import annotations

from dataclasses import dataclass

from guichet.models.people import Role, User
from guichet.resolvers.context import Viewer
from guichet.resolvers.people import accounts, auth
from guichet.server.demo_tickets import load_demo_tickets
from guichet.server.demo_work import load_demo_work

DEMO_PASSWORD = "guichet-demo"

ORGANIZATIONS = [("Acme Corporation", True), ("Globex", False)]
GROUPS = ["Tier 1", "Tier 2"]
# name, e-mail, role, organizations, groups
PEOPLE = [
    ("Olivia Martin", "owner@guichet.test", Role.OWNER, [], []),
    ("Adam Durand", "admin@guichet.test", Role.ADMIN, [], ["Tier 2"]),
    ("Agnès Petit", "agnes@guichet.test", Role.AGENT, [], ["Tier 1"]),
    ("Bruno Leroy", "bruno@guichet.test", Role.AGENT, [], ["Tier 1", "Tier 2"]),
    ("Louise Girard", "louise@guichet.test", Role.LIGHT_AGENT, [], ["Tier 1"]),
    ("Alice Moreau", "alice@acme.test", Role.END_USER, ["Acme Corporation"], []),
    ("Bob Lambert", "bob@acme.test", Role.END_USER, ["Acme Corporation"], []),
    ("Carol Faure", "carol@globex.test", Role.END_USER, ["Globex"], []),
]


@dataclass
class DemoLoaded:
    users: int
    organizations: int
    groups: int
    tickets: int

    @property
    def summary(self) -> str:
        return (
            f"demo: {self.users} users, {self.organizations} organizations, {self.groups} groups, "
            f"{self.tickets} tickets; "
            f"sign in as owner@guichet.test, agnes@guichet.test or alice@acme.test "
            f"with the password {DEMO_PASSWORD!r}"
        )


async def load_demo() -> DemoLoaded | None:
    """Fill an empty database; None (and nothing written) when it already has users."""
    if await User.exists():
        return None
    owner_hash = await auth.hash_password(DEMO_PASSWORD)
    organizations = {}
    for name, shared in ORGANIZATIONS:
        row = await accounts.create_organization(_system_admin(), name=name, shared_tickets=shared)
        organizations[name] = row.id
    groups = {}
    for name in GROUPS:
        row = await accounts.create_group(_system_admin(), name=name, agent_ids=[])
        groups[name] = row.id
    for name, email, role, orgs, member_of in PEOPLE:
        await accounts.create_user(
            None,
            name=name,
            email=email,
            role=role,
            password_hash=owner_hash,
            organization_ids=[organizations[o] for o in orgs],
            group_ids=[groups[g] for g in member_of],
        )
    tickets = await load_demo_tickets()
    await load_demo_work()
    return DemoLoaded(len(PEOPLE), len(ORGANIZATIONS), len(GROUPS), tickets)


def _system_admin():
    # The loader acts as an admin that does not exist as a user: nothing it writes names it.
    return Viewer(id=0, name="demo", email="", role=Role.ADMIN)


__all__ = ["DEMO_PASSWORD", "DemoLoaded", "load_demo"]
