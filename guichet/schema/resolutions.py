"""Resolutions, the help center and satisfaction: types, suggestions, statistics and the
mutations that write them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from guichet.models import resolutions as models
from guichet.models.people import Role
from guichet.resolvers.people import people
from guichet.resolvers.work import resolutions, satisfaction
from guichet.schema.fields import related
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import User
from guichet.schema.relay import Node
from guichet.schema.requires import requires
from guichet.schema.ticket_ref import LazyTicket

SatisfactionScore = strawberry.enum(models.SatisfactionScore, name="SatisfactionScore")


@strawberry.type(description="A help-center article, often published from a ticket's resolution.")
class Article(Node):
    title: str
    body: str
    published: bool
    created_at: datetime

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, resolutions.ArticleRow)


@strawberry.type(description="How a ticket was resolved: one per ticket.")
class Resolution:
    body: str
    updated_at: datetime
    author: User = related(
        people.users_by_id, key="author_id", description="Who last wrote the resolution."
    )
    article: Article | None = related(
        resolutions.articles_by_id,
        key="article_id",
        description="Set when the resolution was published to the help center.",
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, resolutions.ResolutionRow)


@strawberry.type(description="The requester's rating of a solved ticket.")
class SatisfactionRating:
    score: SatisfactionScore
    comment: str | None
    updated_at: datetime

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, satisfaction.RatingRow)


@strawberry.type
class SatisfactionStats:
    good: int
    bad: int
    score: float | None = strawberry.field(
        description="good / (good + bad), null when nothing was rated."
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, satisfaction.SatisfactionStats)


@strawberry.input
class SetResolutionInput:
    ticket_id: strawberry.ID
    body: str
    publish_as_article: bool | None = strawberry.field(
        default=None,
        description="Publish (or update) the resolution as a help-center article.",
    )
    article_title: str | None = strawberry.field(
        default=None,
        description="The article's title: by default the ticket's subject when it is created, "
        "unchanged when it is updated.",
    )
    notify_requester: bool | None = strawberry.field(
        default=None, description="E-mail the resolution to the requester."
    )


@strawberry.input
class RateSatisfactionInput:
    ticket_id: strawberry.ID
    score: SatisfactionScore
    comment: str | None = None
    survey_token: str | None = strawberry.field(
        default=None,
        description="The token of the survey mail's link: rates this ticket as its requester "
        "without signing in (INVALID_SURVEY_TOKEN for another ticket or a changed token).",
    )


@strawberry.input(description="Only the fields given change.")
class UpdateArticleInput:
    id: strawberry.ID
    title: str | None = None
    body: str | None = None
    published: bool | None = None


@payload
class ResolutionPayload:
    resolution: Resolution | None = None
    ticket: LazyTicket | None = None


@payload
class SatisfactionPayload:
    satisfaction: SatisfactionRating | None = None


@payload
class ArticlePayload:
    article: Article | None = None


@strawberry.type
class ResolutionQuery:
    @strawberry.field(
        description=(
            "Help-center articles matching the text, for suggestions while a subject is typed: "
            "published articles, most relevant first (`first`: 5 by default, at most 20)."
        )
    )
    async def suggest_articles(
        self, info: strawberry.Info, query: str, first: int | None = None
    ) -> list[Article]:
        return await resolutions.suggest_articles(info.context, query, first)

    @strawberry.field(
        extensions=[requires(Role.AGENT)],
        description="Satisfaction ratings last changed in [from, to): counts and the GOOD share.",
    )
    async def satisfaction_stats(
        self,
        info: strawberry.Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> SatisfactionStats | None:
        return await satisfaction.satisfaction_stats(info.context, from_, to)


@strawberry.type
class ResolutionMutation:
    @mutation(
        ResolutionPayload,
        description=(
            "Agents: write how a SOLVED or CLOSED ticket was resolved (again to change it); "
            "optionally publish it to the help center and e-mail it to the requester."
        ),
    )
    async def set_resolution(
        self, info: strawberry.Info, input: SetResolutionInput
    ) -> ResolutionPayload:
        resolution, ticket = await resolutions.set_resolution(
            info.context,
            ticket_id=input.ticket_id,
            body=input.body,
            publish_as_article=bool(input.publish_as_article),
            article_title=input.article_title,
            notify_requester=bool(input.notify_requester),
        )
        return ResolutionPayload(resolution=resolution, ticket=ticket)

    @mutation(
        SatisfactionPayload,
        description=(
            "The requester rates a SOLVED or CLOSED ticket, or changes the rating, "
            "during the window after solving."
        ),
    )
    async def rate_satisfaction(
        self, info: strawberry.Info, input: RateSatisfactionInput
    ) -> SatisfactionPayload:
        rating = await satisfaction.rate(
            info.context,
            ticket_id=input.ticket_id,
            score=input.score,
            comment=input.comment,
            survey_token=input.survey_token,
        )
        return SatisfactionPayload(satisfaction=rating)

    @mutation(
        ArticlePayload, description="Agents: edit, publish or unpublish a help-center article."
    )
    async def update_article(
        self, info: strawberry.Info, input: UpdateArticleInput
    ) -> ArticlePayload:
        article = await resolutions.update_article(
            info.context,
            article_id=input.id,
            title=input.title,
            body=input.body,
            published=input.published,
        )
        return ArticlePayload(article=article)
