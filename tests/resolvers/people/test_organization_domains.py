"""Organization domains: a new end user whose address is in an organization's domain joins
it — created by an agent, by a mail from an unknown sender, or as an unknown CC."""

from __future__ import annotations

import pytest

from guichet.models.people import Organization, OrganizationDomain, OrganizationMember, User
from guichet.resolvers.mail.inbound import receive_mail
from guichet.resolvers.people.organization_domains import join_by_domain
from tests.resolvers.inbound_helpers import mail, raw
from tests.resolvers.tickets_helpers import make_ticket

CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { organizations { name } } errors { code } }
}
"""


@pytest.fixture
async def acme_domain(org) -> None:
    await OrganizationDomain.create(organization_id=org.pk, domain="acme.test")


async def organizations_of(email: str) -> list[str]:
    user = await User.get(email=email)
    return sorted(
        await OrganizationMember.filter(user_id=user.id).values_list(
            "organization__name", flat=True
        )
    )


async def test_an_end_user_an_agent_creates_joins_by_domain(gql, agent, acme_domain):
    result = await gql(
        CREATE_USER,
        {"input": {"name": "Dana", "email": "Dana@ACME.test", "role": "END_USER"}},
        as_=agent,
    )
    assert result["data"]["createUser"] == {
        "user": {"organizations": [{"name": "Acme"}]},
        "errors": [],
    }


async def test_staff_do_not_join_by_domain(gql, admin, acme_domain):
    await gql(
        CREATE_USER,
        {"input": {"name": "Sam", "email": "sam@acme.test", "role": "AGENT"}},
        as_=admin,
    )
    assert await organizations_of("sam@acme.test") == []


async def test_an_unknown_sender_by_mail_joins_by_domain(app, acme_domain):
    message = raw(mail(sender="Erin <erin@acme.test>"))
    await receive_mail(app.state.settings, message, bus=app.state.bus)
    assert await organizations_of("erin@acme.test") == ["Acme"]


async def test_an_unknown_cc_joins_by_domain(gql, agent, end_user, acme_domain):
    await make_ticket(gql, agent, requesterId=end_user.row.id, ccEmails=["frank@acme.test"])
    assert await organizations_of("frank@acme.test") == ["Acme"]


async def test_a_subdomain_or_another_domain_does_not_join(app, org, acme_domain):
    stranger = await User.create(email="x@mail.acme.test", name="X")
    assert await join_by_domain(stranger.id, stranger.email) is None
    assert await organizations_of("x@mail.acme.test") == []


async def test_a_deactivated_organizations_domain_adds_nobody(app, org, acme_domain):
    await Organization.filter(id=org.pk).update(active=False)
    newcomer = await User.create(email="g@acme.test", name="G")
    assert await join_by_domain(newcomer.id, newcomer.email) is None
