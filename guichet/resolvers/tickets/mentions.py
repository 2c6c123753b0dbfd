"""Mentions: `@someone` in a comment notifies that member of staff.

How a mention is read, left to right, at every `@` that starts a word (at the start of the
text or after a character that is not a letter, digit or `_`, so `ana@example.com` inside a
sentence mentions nobody):

- `@ana@example.com`: the staff member with that address (case does not matter);
- `@"Ana Lopez"`: the staff member whose whole name is the quoted text (any case);
- `@Ana Lopez`: the longest staff name (or address) the text after `@` starts with, any
  case, ending where a word ends: with two agents "Ana" and "Ana Lopez", `@ana lopez, hi`
  mentions Ana Lopez and `@Ana, hi` mentions Ana.

Only staff are mentioned (light agents and up), since only they may see every comment,
internal notes included (`access.sees_ticket_change`); `@` an end user notifies nobody. The
author is never notified, and a person mentioned several times in a comment once, as a
MENTIONED notification about the ticket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from guichet.models.people import AGENT_ROLES, Role
from guichet.resolvers import access, sql
from guichet.resolvers.context import Viewer

if TYPE_CHECKING:
    from guichet.models.tickets import Ticket
    from guichet.resolvers.tickets.history import Changes

MENTIONED = "MENTIONED"

_STAFF = sql.select("u.id", "u.name", "u.email", "u.role", from_='"user" u').where(
    sql.among("u.role")
)
_ROLES = sorted(r.value for r in AGENT_ROLES)


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def mentioned(body: str, staff: list[Viewer]) -> list[Viewer]:
    """The staff `body` mentions, in order of first mention, each once."""
    names: list[tuple[str, Viewer]] = []
    for person in staff:
        names.append((person.email.lower(), person))
        names.append((" ".join(person.name.split()).lower(), person))
    names.sort(key=lambda pair: -len(pair[0]))
    exact = dict(reversed(names))  # for quoted names: any of the ties will do
    text = body.lower()
    found: dict[int, Viewer] = {}
    at = text.find("@")
    while at != -1:
        if at == 0 or not _word_char(text[at - 1]):
            rest = text[at + 1 :]
            person = None
            if rest.startswith('"') and (end := rest.find('"', 1)) != -1:
                person = exact.get(" ".join(rest[1:end].split()))
            else:
                person = next(
                    (
                        p
                        for name, p in names
                        if name
                        and rest.startswith(name)
                        and (len(rest) == len(name) or not _word_char(rest[len(name)]))
                    ),
                    None,
                )
            if person is not None:
                found.setdefault(person.id, person)
        at = text.find("@", at + 1)
    return list(found.values())


async def tell_mentioned(
    changes: Changes, ticket: Ticket, body: str, *, public: bool, author: Viewer
) -> None:
    """Notify everyone `body` mentions who may see the comment, the author excepted. No
    statement when the body holds no `@`."""
    if "@" not in body:
        return
    rows = await _STAFF.fetch(_ROLES)
    staff = [Viewer(r["id"], r["name"], r["email"], Role(r["role"])) for r in rows]
    for person in mentioned(body, staff):
        # Staff see every comment; the rule stays `access`'s should mentions ever widen.
        if person.id == author.id or not access.sees_ticket_change(person, public, None):
            continue
        await changes.notify(
            person.id,
            MENTIONED,
            f"{author.name} mentioned you on ticket #{ticket.number}: {ticket.subject}",
            ticket.id,
        )
