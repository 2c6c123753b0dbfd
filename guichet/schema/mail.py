"""The mail log: every e-mail in or out, for admins."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.models.mail import MailDirection as MailDirectionValue
from guichet.models.mail import MailStatus as MailStatusValue
from guichet.models.people import Role
from guichet.resolvers.mail import mail_log
from guichet.resolvers.tickets import tickets
from guichet.schema.fields import related
from guichet.schema.relay import Connection, Node, connection, page_size
from guichet.schema.requires import requires
from guichet.schema.ticket_ref import LazyTicket

MailDirection = strawberry.enum(MailDirectionValue, name="MailDirection")
MailStatus = strawberry.enum(
    MailStatusValue,
    name="MailStatus",
    description=(
        "RECEIVED: acted on; IGNORED: changed nothing (see reason); QUEUED, SENT, FAILED: "
        "an outgoing mail's delivery; LOGGED: kept, not sent (no SMTP server configured)."
    ),
)


@strawberry.type(description="One e-mail in or out, as the mail log shows it to admins.")
class MailMessage(Node):
    id: strawberry.ID
    direction: MailDirection
    status: MailStatus
    message_id: str
    in_reply_to: str | None
    from_address: str = strawberry.field(name="from")
    to_addresses: list[str] = strawberry.field(name="to")
    cc_addresses: list[str] = strawberry.field(name="cc")
    subject: str
    reason: str | None = strawberry.field(
        description=(
            "Why an inbound message changed nothing (duplicate, auto-reply, unknown ticket, "
            "not allowed...)."
        )
    )
    ticket: LazyTicket | None = related(tickets.tickets_by_id, key="ticket_id")
    created_at: datetime

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, mail_log.MailMessageRow)


@strawberry.type
class MailQuery:
    @strawberry.field(
        extensions=[requires(Role.ADMIN)], description="The mail log, newest first (admins)."
    )
    async def mail_messages(
        self,
        info: strawberry.Info,
        direction: MailDirection | None = None,
        ticket_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[MailMessage] | None:
        limit = page_size(first)
        found = await mail_log.page(
            info.context,
            direction=MailDirectionValue(direction.value) if direction else None,
            ticket_id=ticket_id,
            before_pk=mail_log.position(after),
            limit=limit,
        )
        return connection(
            found.rows,
            found.total,
            key=lambda row: row.pk,
            has_next=found.has_next,
            has_previous=after is not None,
        )
