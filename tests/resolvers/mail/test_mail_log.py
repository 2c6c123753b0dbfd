"""The mail log as admins read it: every message in and out, newest first, by page."""

from __future__ import annotations

from guichet.models.mail import MailDirection, MailMessage, MailStatus
from guichet.resolvers import ids
from guichet.resolvers.mail.inbound import receive_mail
from tests.conftest import error_codes
from tests.resolvers.inbound_helpers import mail, raw
from tests.resolvers.tickets_helpers import make_ticket

MAIL_MESSAGES = """
query($direction: MailDirection, $ticketId: ID, $first: Int, $after: String) {
  mailMessages(direction: $direction, ticketId: $ticketId, first: $first, after: $after) {
    totalCount
    edges { cursor node {
      id direction status messageId inReplyTo from to cc subject reason createdAt
      ticket { number }
    } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def two_messages(app) -> None:
    """A ticket opened by mail and an auto-reply ignored (and whatever mail the new ticket
    sends: the receipt)."""
    settings = app.state.settings
    await receive_mail(settings, raw(mail(message_id="<a@client.test>", Cc="eve@partner.test")))
    await receive_mail(settings, raw(mail(message_id="<b@client.test>", Precedence="bulk")))


async def test_admins_read_the_mail_log_newest_first(app, gql, admin):
    await two_messages(app)
    await MailMessage.create(
        direction=MailDirection.OUTBOUND, status=MailStatus.QUEUED, message_id="<r@guichet>",
        in_reply_to="<a@client.test>", from_address="no-reply@guichet.invalid",
        to_addresses='["dana@newcomer.test"]', cc_addresses="[]", subject="[#1] Received",
        ticket_id=(await MailMessage.get(message_id="<a@client.test>")).ticket_id,
    )  # fmt: skip
    log = (await gql(MAIL_MESSAGES, {"first": 100}, as_=admin))["data"]["mailMessages"]
    logged = await MailMessage.all().order_by("-id")
    assert log["totalCount"] == len(logged)
    nodes = [e["node"] for e in log["edges"]]
    assert [n["messageId"] for n in nodes] == [m.message_id for m in logged]
    assert (nodes[0]["direction"], nodes[0]["status"], nodes[0]["inReplyTo"]) == (
        "OUTBOUND", "QUEUED", "<a@client.test>",
    )  # fmt: skip
    inbound = [n for n in nodes if n["direction"] == "INBOUND"]
    assert [(n["status"], n["messageId"]) for n in inbound] == [
        ("IGNORED", "<b@client.test>"),
        ("RECEIVED", "<a@client.test>"),
    ]
    received = inbound[1]
    assert (received["from"], received["to"], received["cc"]) == (
        "dana@newcomer.test", ["no-reply@guichet.invalid"], ["eve@partner.test"],
    )  # fmt: skip
    assert (received["ticket"], received["reason"]) == ({"number": 1}, None)
    assert inbound[0]["reason"] == "auto-reply (Precedence: bulk)"


async def test_the_mail_log_pages_and_filters(app, gql, admin, end_user):
    await two_messages(app)
    total = await MailMessage.all().count()
    first = (await gql(MAIL_MESSAGES, {"first": 1}, as_=admin))["data"]["mailMessages"]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (total, True)
    cursor = first["pageInfo"]["endCursor"]
    rest = await gql(MAIL_MESSAGES, {"first": 100, "after": cursor}, as_=admin)
    rest = rest["data"]["mailMessages"]
    pages = [e["node"]["messageId"] for e in first["edges"] + rest["edges"]]
    assert pages == [m.message_id for m in await MailMessage.all().order_by("-id")]
    assert rest["pageInfo"]["hasNextPage"] is False

    inbound = await gql(MAIL_MESSAGES, {"direction": "INBOUND"}, as_=admin)
    assert inbound["data"]["mailMessages"]["totalCount"] == 2
    ticket = await make_ticket(gql, end_user)  # number 2: not in the log by mail in
    by_ticket = await gql(
        MAIL_MESSAGES, {"ticketId": ticket["id"], "direction": "INBOUND"}, as_=admin
    )
    assert by_ticket["data"]["mailMessages"]["totalCount"] == 0
    one = first["edges"][0]["node"]
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": one["id"]}, as_=admin)
    assert node["data"]["node"] == {"id": one["id"]}


async def test_nobody_but_admins_reads_the_mail_log(app, gql, agent, end_user):
    await two_messages(app)
    for person in (agent, end_user):
        answer = await gql(MAIL_MESSAGES, as_=person)
        assert answer["data"]["mailMessages"] is None
        assert error_codes(answer) == ["FORBIDDEN"]
    admins_id = (await MailMessage.first()).id
    node = await gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": ids.encode("MailMessage", admins_id)},
        as_=agent,
    )
    assert node["data"]["node"] is None
