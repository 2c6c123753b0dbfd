"""The portal's people side: the viewer's own profile and the organizations they follow."""

from __future__ import annotations

import strawberry

from guichet.resolvers.people import organization_subscriptions, profile
from guichet.schema.inputs import plain
from guichet.schema.payloads import mutation
from guichet.schema.people import OrganizationPayload, UserPayload


@strawberry.input(
    description="Only the fields given change; null clears the phone and default organization."
)
class UpdateProfileInput:
    name: str | None = strawberry.UNSET
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="E.164, e.g. +41791234567 (spaces, dots, hyphens and parentheses are dropped); null or empty clears it.",
    )
    default_organization_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="One of the viewer's organizations; null clears it."
    )


@strawberry.input
class OrganizationSubscriptionInput:
    organization_id: strawberry.ID


@strawberry.type
class ProfileMutation:
    @mutation(
        UserPayload,
        description=(
            "The viewer's own name, phone and default organization. Codes: REQUIRED, TOO_LONG "
            "(name), INVALID_PHONE, NOT_FOUND (an organization the viewer may not see), "
            "NOT_A_MEMBER (one they do not belong to)."
        ),
    )
    async def update_profile(self, info: strawberry.Info, input: UpdateProfileInput) -> UserPayload:
        changes = plain(input, profile.ProfileChanges)
        return UserPayload(user=await profile.update_profile(info.context, changes))

    @mutation(
        OrganizationPayload,
        description=(
            "Follow every request of an organization the viewer belongs to (when it shares "
            "tickets) or, for staff (light agents included), any organization: mail and "
            "notifications (ORGANIZATION_TICKET_CREATED, ORGANIZATION_TICKET_UPDATED) of every "
            "new and updated request the viewer may see, except their own changes. Following "
            "twice changes nothing. NOT_FOUND for an organization the viewer may not see; "
            "NOT_SHARED for a customer's organization that does not share its tickets."
        ),
    )
    async def subscribe_to_organization(
        self, info: strawberry.Info, input: OrganizationSubscriptionInput
    ) -> OrganizationPayload:
        organization = await organization_subscriptions.set_subscription(
            info.context, input.organization_id, subscribed=True
        )
        return OrganizationPayload(organization=organization)

    @mutation(
        OrganizationPayload,
        description="Stop following an organization (nothing changes if the viewer does not follow it).",
    )
    async def unsubscribe_from_organization(
        self, info: strawberry.Info, input: OrganizationSubscriptionInput
    ) -> OrganizationPayload:
        organization = await organization_subscriptions.set_subscription(
            info.context, input.organization_id, subscribed=False
        )
        return OrganizationPayload(organization=organization)
