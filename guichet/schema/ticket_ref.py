"""`Ticket` for the types a ticket holds (comments, approvals, history…), which also point
back to their ticket: strawberry resolves it lazily, so these modules never import
schema/tickets.py and the types stay free of import circles."""

from __future__ import annotations

from typing import Annotated, ForwardRef

import strawberry

LazyTicket = Annotated[ForwardRef("Ticket"), strawberry.lazy("guichet.schema.tickets")]
