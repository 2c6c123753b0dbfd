"""Resolutions and the help center: how a solved ticket was resolved, published (when the
agent wants) as a help-center article, and the articles suggested while a subject is typed.

One resolution per ticket: the unique index on resolution.ticket_id decides between
concurrent first writers (`claim_one`), so a later call, or a racing one, updates the row
instead of adding a second. An article published from a resolution stays linked to it:
publishing again updates that article rather than adding another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from guichet.models.people import User
from guichet.models.resolutions import Article, Resolution
from guichet.models.tickets import Ticket, TicketEventKind, TicketStatus
from guichet.resolvers import access, ids, sql
from guichet.resolvers.errors import BadRequest, Forbidden, NotFound, Refused, UserError, text_error
from guichet.resolvers.mail import outbound
from guichet.resolvers.sql import as_bool, as_datetime
from guichet.resolvers.tickets.history import Changes
from guichet.resolvers.tickets.ticket_gate import TicketAction, ticket_for_change
from guichet.resolvers.tickets.ticket_updates import SOLVED_STATES
from guichet.resolvers.tickets.tickets import MAX_BODY, TICKET, TicketRow, channel_of, forget

if TYPE_CHECKING:
    from guichet.resolvers.context import Context

MAX_TITLE = 250  # article.title is VARCHAR(250)
MAX_SUGGESTIONS = 20
DEFAULT_SUGGESTIONS = 5
MAX_WORDS = 10
MIN_WORD = 3
TITLE_WEIGHT, BODY_WEIGHT, PHRASE_BONUS = 3, 1, 5


class ResolutionErrorCode(StrEnum):
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID = "INVALID"
    NOT_SOLVED = "NOT_SOLVED"


@dataclass(slots=True)
class ArticleRow:
    pk: int
    title: str
    body: str
    published: bool
    created_at: datetime
    updated_at: datetime

    @property
    def id(self) -> str:
        return ids.encode("Article", self.pk)


@dataclass(slots=True)
class ResolutionRow:
    pk: int
    ticket_id: int
    body: str
    author_id: int
    article_id: int | None
    updated_at: datetime


ARTICLE = sql.Table(
    "article", "a", ArticleRow,
    "id", "title", "body", ("published", as_bool), ("created_at", as_datetime),
    ("updated_at", as_datetime),
)  # fmt: skip
RESOLUTION = sql.Table(
    "resolution", "r", ResolutionRow,
    "id", "ticket_id", "body", "author_id", "article_id", ("updated_at", as_datetime),
)  # fmt: skip
_ARTICLES_BY_ID = sql.select(ARTICLE).where(sql.among("a.id"), sql.GIVEN)
_RESOLUTIONS_BY_TICKET = sql.select(RESOLUTION).where(sql.among("r.ticket_id"))


# ---------------------------------------------------------------- batch functions


async def articles_by_id(context: Context, keys: Sequence[int]) -> list[ArticleRow | None]:
    """Articles by id: published ones for everyone signed in, the others for staff."""
    visible = access.visible_articles_condition(context.require_viewer(), "a")
    return sql.in_key_order(keys, await _ARTICLES_BY_ID.fetch(keys, visible), ARTICLE.row)


async def article_for_viewer(context: Context, pk: int) -> ArticleRow:
    """A help-center article: published for everyone signed in, unpublished for staff."""
    return await context.visible_one(articles_by_id, pk)


async def resolutions_by_ticket(
    context: Context, keys: Sequence[int]
) -> list[ResolutionRow | None]:
    """Each ticket's resolution: whoever sees the ticket sees it."""
    rows = await _RESOLUTIONS_BY_TICKET.fetch(keys)
    return sql.in_key_order(keys, rows, RESOLUTION.row, "ticket_id")


# ---------------------------------------------------------------- suggestions


def search_words(query: str) -> tuple[list[str], str | None]:
    """The words a suggestion is scored on (lower-cased, 3 characters or more, at most 10,
    each once) and the phrase whose presence in a title earns a bonus (None for one word)."""
    tokens = re.findall(r"\w+", query[:1000].lower())
    words = list(dict.fromkeys(t for t in tokens if len(t) >= MIN_WORD))[:MAX_WORDS]
    phrase = " ".join(tokens)
    return words, phrase if len(tokens) > 1 and len(phrase) <= MAX_TITLE else None


def _weighs(column: str, weight: int) -> str:
    return f"CASE WHEN LOWER(a.{column}) LIKE ? ESCAPE '\\' THEN {weight} ELSE 0 END"


@cache
def _suggestions(word_count: int, with_phrase: bool) -> sql.Statement:
    """One statement scores every published article: each word in the title weighs 3, in
    the body 1, the whole phrase in the title adds 5. Built once per shape."""
    terms = [_weighs("title", TITLE_WEIGHT)] * word_count + [
        _weighs("body", BODY_WEIGHT)
    ] * word_count
    if with_phrase:
        terms.append(_weighs("title", PHRASE_BONUS))
    scored = sql.select(ARTICLE, f"{' + '.join(terms)} AS score").where(
        "a.published = TRUE", sql.GIVEN
    )
    return (
        sql.select(ARTICLE, from_=scored.as_("a"))
        .where("a.score > 0")
        .order("a.score DESC, a.created_at DESC, a.id DESC")
        .limit()
    )


async def suggest_articles(context: Context, query: str, first: int | None) -> list[ArticleRow]:
    """Published articles ranked by relevance to the words typed; [] when none matches."""
    viewer = context.require_viewer()
    limit = DEFAULT_SUGGESTIONS if first is None else first
    if not 0 <= limit <= MAX_SUGGESTIONS:
        raise BadRequest(f"first must be between 0 and {MAX_SUGGESTIONS}.")
    words, phrase = search_words(query)
    if not words or limit == 0:
        return []
    likes = [sql.like_pattern(w) for w in words]
    rows = await _suggestions(len(words), phrase is not None).fetch(
        *likes, *likes, *([sql.like_pattern(phrase)] if phrase else []),
        access.visible_articles_condition(viewer, "a"), limit,
    )  # fmt: skip
    return [ARTICLE.row(r) for r in rows]


# ---------------------------------------------------------------- writing a resolution


async def claim_one(model: type[Model], ticket_pk: int, **values: Any) -> tuple[Any, bool]:
    """A ticket's one-to-one row: inserted with `values`, or, when it exists, locked and
    returned as it is. The unique index on ticket_id decides between concurrent first
    writers: the loser's insert fails inside a savepoint and it updates the winner's row."""
    try:
        async with in_transaction():  # a savepoint: a conflict leaves the outer one usable
            return await model.create(ticket_id=ticket_pk, **values), True
    except IntegrityError:
        return await model.select_for_update().get(ticket_id=ticket_pk), False


def not_solved(status: TicketStatus, code: str) -> Refused | None:
    if status in SOLVED_STATES:
        return None
    return Refused(
        UserError(
            f"The ticket is {status.value.lower()}: solve it first.", code, ["input", "ticketId"]
        )
    )


async def set_resolution(
    context: Context,
    *,
    ticket_id: str,
    body: str,
    publish_as_article: bool,
    article_title: str | None,
    notify_requester: bool,
) -> tuple[ResolutionRow, TicketRow]:
    """Write (or rewrite) how a SOLVED or CLOSED ticket was resolved; optionally publish it
    as a help-center article and e-mail it to the requester."""
    viewer = context.require_viewer()
    via = channel_of(viewer)
    changes = Changes.of(viewer)
    async with in_transaction():
        ticket = await ticket_for_change(context, ticket_id, TicketAction.RESOLVE)
        errors = [text_error(body, ["input", "body"], max_length=MAX_BODY)]
        if article_title is not None:
            errors.append(
                text_error(article_title, ["input", "articleTitle"], max_length=MAX_TITLE)
            )
        if errors := [e for e in errors if e]:
            raise Refused(*errors)
        if refused := not_solved(ticket.status, ResolutionErrorCode.NOT_SOLVED):
            raise refused
        resolution, _ = await claim_one(Resolution, ticket.id, body=body, author_id=viewer.id)
        if publish_as_article:
            title = article_title.strip() if article_title is not None else None
            article = await _publish(resolution.article_id, title, ticket.subject, body)
            resolution.article_id = article.id
        resolution.body, resolution.author_id = body, viewer.id
        await resolution.save()
        if notify_requester:
            await _email_requester(context, ticket, viewer.name, body)
        article_gid = (
            ids.encode("Article", resolution.article_id) if resolution.article_id else None
        )
        await changes.record(
            ticket.id, TicketEventKind.RESOLUTION_SET, actor_pk=viewer.id, via=via, public=True,
            data={"article": article_gid, "published": publish_as_article,
                  "notifiedRequester": notify_requester},
        )  # fmt: skip
        await ticket.save(update_fields=["updated_at"])  # auto_now stamps it
    forget(context)
    await changes.publish(context)
    return RESOLUTION.row_of(resolution), TICKET.row_of(ticket)


async def _publish(article_pk: int | None, title: str | None, subject: str, body: str) -> Article:
    """The resolution's article, created (titled `title` or the ticket's subject) or brought
    up to date, and published. An update keeps the article's title unless one is given."""
    article = await Article.select_for_update().get_or_none(id=article_pk) if article_pk else None
    if article is None:
        return await Article.create(title=title or subject, body=body, published=True)
    article.title = title or article.title
    article.body, article.published = body, True
    await article.save()
    return article


async def _email_requester(context: Context, ticket: Ticket, author: str, body: str) -> None:
    requester = await User.get(id=ticket.requester_id)
    base = context.settings.public_url if context.settings else "http://127.0.0.1:8000"
    await outbound.queue_notice(
        context.settings,
        to=requester.email,
        subject=f"Resolution of your request #{ticket.number}: {ticket.subject}",
        body=f"Hello {requester.name},\n\n{author} wrote how your request #{ticket.number}, "
        f"\u201c{ticket.subject}\u201d, was resolved:\n\n{body}\n\n"
        f"{base}/tickets/{ticket.number}\n",
        ticket_pk=ticket.id,
        ticket_number=ticket.number,
    )


# ---------------------------------------------------------------- articles


async def update_article(
    context: Context,
    *,
    article_id: str,
    title: str | None,
    body: str | None,
    published: bool | None,
) -> ArticleRow:
    """Agents edit, publish or unpublish a help-center article; what is not given stays."""
    viewer = context.require_viewer()
    if not access.may_work_tickets(viewer):
        raise Forbidden("Agents and admins edit help-center articles.")
    pk = ids.decode_as(article_id, "Article") or 0
    errors = [
        title is not None and text_error(title, ["input", "title"], max_length=MAX_TITLE),
        body is not None and text_error(body, ["input", "body"], max_length=MAX_BODY),
    ]
    if errors := [e for e in errors if e]:
        raise Refused(*errors)
    async with in_transaction():
        article = await Article.select_for_update().get_or_none(id=pk)
        if article is None:
            raise NotFound("No such article.")
        article.title = title.strip() if title is not None else article.title
        article.body = body if body is not None else article.body
        article.published = published if published is not None else article.published
        await article.save()
    forget(context)
    return ARTICLE.row_of(article)
