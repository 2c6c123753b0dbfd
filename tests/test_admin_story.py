"""The admin and dashboard story, tried as a new user would: an admin script over HTTP
against a served Guichet, and a dashboard client with a live websocket."""

from __future__ import annotations

import httpx

from guichet.models.people import Role, User
from tests.resolvers.tickets_helpers import make_ticket
from tests.server.test_websocket import receive, send, signed_in, until_closed, websocket


class Script:
    """What an admin's script does: POST GraphQL with a bearer token, stop on errors."""

    def __init__(self, server: str, client: httpx.AsyncClient, token: str) -> None:
        self.url = f"http://{server}/graphql"
        self.client = client
        self.token = token

    async def __call__(self, query: str, variables: dict | None = None) -> dict:
        answer = await self.client.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]


COUNTS = "subscription { viewCounts { view { name } count } }"


async def counts(ws) -> dict[str, int]:
    message = await receive(ws)
    assert message["type"] == "next" and "errors" not in message["payload"], message
    return {c["view"]["name"]: c["count"] for c in message["payload"]["data"]["viewCounts"]}


async def test_an_admin_script_runs_the_desk_and_a_dashboard_follows_live(
    gql, live_server, owner, admin, agent, colleague, end_user, org, make_person
):
    other_agent = await make_person("Otto Other", "otto@example.test", Role.AGENT)
    ticket = await make_ticket(gql, end_user)
    async with httpx.AsyncClient(timeout=30) as client:
        script = Script(live_server, client, admin.token)

        # Lists and searches people.
        everyone = await script("{ users(first: 50) { totalCount edges { node { email } } } }")
        assert everyone["users"]["totalCount"] == 6
        found = await script(
            'query { users(filter: {query: "OTTO", role: [AGENT]}) { edges { node { name } } } }'
        )
        assert found["users"]["edges"] == [{"node": {"name": "Otto Other"}}]

        # Renames an organization.
        renamed = await script(
            'mutation($id: ID!) { updateOrganization(input: {id: $id, name: "Acme Europe"})'
            " { organization { name } errors { code } } }",
            {"id": org.id},
        )
        assert renamed["updateOrganization"] == {
            "organization": {"name": "Acme Europe"},
            "errors": [],
        }

        # A dashboard client builds its home page, then follows its counts live.
        home = Script(live_server, client, agent.token)
        page = await home(
            "{ dashboard { myOpenTickets unassignedTickets views { view { name } count } }"
            " views { name count } }"
        )
        assert (page["dashboard"]["myOpenTickets"], page["dashboard"]["unassignedTickets"]) == (
            0,
            1,
        )
        assert "My open tickets" in [v["name"] for v in page["views"]]
        async with websocket(live_server) as dashboard, websocket(live_server) as otto:
            await signed_in(dashboard, agent)
            await send(dashboard, {"id": "c", "type": "subscribe", "payload": {"query": COUNTS}})
            first = await counts(dashboard)
            assert (first["My open tickets"], first["Unassigned"]) == (0, 1)

            assigned = await script(
                "mutation($t: ID!, $a: ID!) { updateTicket(input: {id: $t, assigneeId: $a})"
                " { errors { code } } }",
                {"t": ticket["id"], "a": agent.id},
            )
            assert assigned["updateTicket"]["errors"] == []
            moved = await counts(dashboard)
            assert (moved["My open tickets"], moved["Unassigned"]) == (1, 0)

            # Deactivates an agent: their open websocket closes.
            await signed_in(otto, other_agent)
            await send(otto, {"type": "ping"})
            assert (await receive(otto))["type"] == "pong"
            gone = await script(
                "mutation($id: ID!) { deactivateUser(input: {id: $id}) { user { active }"
                " errors { code } } }",
                {"id": other_agent.id},
            )
            assert gone["deactivateUser"] == {"user": {"active": False}, "errors": []}
            code, _ = await until_closed(otto, within=5.0)
            assert code == 4401

        # Impersonates a customer: sees what they see, and history names the admin.
        acting = await script(
            'mutation($id: ID!) { impersonate(input: {userId: $id, reason: "Ticket #1 view"})'
            " { token errors { code } } }",
            {"id": end_user.id},
        )
        as_customer = Script(live_server, client, acting["impersonate"]["token"])
        seen = await as_customer("{ me { email } tickets { totalCount } }")
        assert seen == {"me": {"email": end_user.email}, "tickets": {"totalCount": 1}}
        await as_customer(
            'mutation($t: ID!) { addComment(input: {ticketId: $t, body: "Checking."})'
            " { errors { code } } }",
            {"t": ticket["id"]},
        )
        history = await script(
            "query($t: ID!) { node(id: $t) { ... on Ticket { history(first: 50) { edges { node"
            " { kind actor { email } impersonator { email } } } } } } }",
            {"t": ticket["id"]},
        )
        comments = [
            e["node"]
            for e in history["node"]["history"]["edges"]
            if e["node"]["kind"] == "COMMENT_ADDED"
        ]
        assert comments == [
            {
                "kind": "COMMENT_ADDED",
                "actor": {"email": end_user.email},
                "impersonator": {"email": admin.email},
            }
        ]

        # The owner hands the desk over to the admin: exactly one owner, at every moment.
        handed = await Script(live_server, client, owner.token)(
            "mutation($to: ID!) { transferOwnership(input: {toUserId: $to}) { user { role }"
            " errors { code } } }",
            {"to": admin.id},
        )
        assert handed["transferOwnership"] == {"user": {"role": "OWNER"}, "errors": []}
    roles = dict(await User.filter(id__in=[owner.row.pk, admin.row.pk]).values_list("id", "role"))
    assert roles == {owner.row.pk: Role.ADMIN, admin.row.pk: Role.OWNER}
