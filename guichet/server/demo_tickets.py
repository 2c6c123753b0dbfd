"""Demo tickets: one story per status, written through the same rules as the API, so the
demo has real history, public replies and internal notes."""

from __future__ import annotations

from typing import Any

from guichet.models.people import Role, User
from guichet.models.tickets import (
    CustomFieldType,
    FieldVisibility,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from guichet.resolvers import ids
from guichet.resolvers.context import Context, Viewer
from guichet.resolvers.tickets import comments, custom_fields, ticket_opening, ticket_updates
from guichet.server.settings import Settings

# subject, requester, agent, priority, type, product, [(author, body, public)], final status
STORIES: list[tuple[Any, ...]] = [
    ("The printer on floor 2 jams every morning", "alice@acme.test", "agnes@guichet.test",
     TicketPriority.HIGH, TicketType.INCIDENT, "Printer",
     [("agnes@guichet.test", "Could you send a photo of the error on the printer's screen?", True),
      ("alice@acme.test", "Here it is: it says E-42, paper path blocked.", True)], TicketStatus.OPEN),
    ("The VPN disconnects every hour", "bob@acme.test", None,
     TicketPriority.NORMAL, TicketType.PROBLEM, "VPN", [], TicketStatus.NEW),
    ("Our invoice shows the wrong VAT rate", "carol@globex.test", "bruno@guichet.test",
     TicketPriority.URGENT, TicketType.QUESTION, "Billing",
     [("louise@guichet.test", "Globex moved to the reduced rate in March; finance confirmed.", False),
      ("bruno@guichet.test", "We are correcting the invoice. Could you confirm your VAT number?", True)],
     TicketStatus.PENDING),
    ("A second monitor for the new designer", "alice@acme.test", "bruno@guichet.test",
     TicketPriority.LOW, TicketType.TASK, "Hardware",
     [("bruno@guichet.test", "Waiting for the supplier's delivery date.", False)], TicketStatus.ON_HOLD),
    ("The password reset link has expired", "bob@acme.test", "agnes@guichet.test",
     TicketPriority.NORMAL, TicketType.QUESTION, "Accounts",
     [("agnes@guichet.test", "I sent you a new link; it is valid for 24 hours.", True),
      ("bob@acme.test", "It worked, thank you!", True)], TicketStatus.SOLVED),
    ("Reports cannot be exported to PDF", "carol@globex.test", "agnes@guichet.test",
     TicketPriority.HIGH, TicketType.INCIDENT, "Reports",
     [("agnes@guichet.test", "Fixed in today's release: exports work again.", True)], TicketStatus.CLOSED),
]  # fmt: skip

PRODUCTS = ["Printer", "VPN", "Billing", "Hardware", "Accounts", "Reports"]


def _viewer(user: User) -> Context:
    return Context(Settings(), Viewer(user.id, user.name, user.email, Role(user.role)), None)


async def load_demo_tickets() -> int:
    """Write the demo's custom fields and tickets; returns how many tickets."""
    people = {u.email: u for u in await User.all()}
    admin = _viewer(people["admin@guichet.test"]).viewer
    await custom_fields.create_custom_field(
        admin, key="product", title="Product", type=CustomFieldType.DROPDOWN,
        visibility=FieldVisibility.PUBLIC, options=PRODUCTS, required_for_end_users=False,
    )  # fmt: skip
    await custom_fields.create_custom_field(
        admin, key="cost_center", title="Cost center", type=CustomFieldType.TEXT,
        visibility=FieldVisibility.AGENTS_ONLY, options=None, required_for_end_users=False,
    )  # fmt: skip
    for subject, requester, agent, priority, kind, product, conversation, status in STORIES:
        customer = _viewer(people[requester])
        opened = await ticket_opening.create_ticket(
            customer,
            ticket_opening.NewTicket(
                subject=subject, description=f"{subject}. Can you help?", type=kind,
                priority=priority, custom_fields=[custom_fields.FieldValue("product", product)],
            ),
        )  # fmt: skip
        if agent is None:
            continue
        staff = _viewer(people[agent])
        await ticket_updates.update_ticket(
            staff,
            ticket_updates.TicketChanges(
                opened.id, assignee_id=ids.encode("User", people[agent].id),
                tags=[product.lower()],
                custom_fields=[custom_fields.FieldValue("cost_center", "CC-" + product.upper())],
            ),
        )  # fmt: skip
        for author, body, public in conversation:
            await comments.add_comment(
                _viewer(people[author]),
                ticket_id=opened.id,
                body=body,
                public=public,
                idempotency_key=None,
            )
        if status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
            await ticket_updates.update_ticket(
                staff, ticket_updates.TicketChanges(opened.id, status=TicketStatus.SOLVED)
            )
        if status is not TicketStatus.OPEN and status is not TicketStatus.SOLVED:
            await ticket_updates.update_ticket(
                staff, ticket_updates.TicketChanges(opened.id, status=status)
            )
        if status is TicketStatus.CLOSED:
            await ticket_opening.create_follow_up(
                customer, ticket_id=opened.id, subject=None,
                description="The PDF export fails again since this morning.",
            )  # fmt: skip
    return len(STORIES) + 1
