"""What the owner and admins run: settings, ownership and impersonation."""

from __future__ import annotations

from datetime import datetime

import strawberry

from guichet.models.people import Role as RoleValue
from guichet.resolvers.admin import help_center, help_center_changes, ownership
from guichet.resolvers.people import impersonation
from guichet.schema.auth import LoginPayload
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import UserPayload
from guichet.schema.requires import requires


@strawberry.type(name="Settings", description="The help desk's settings (admins change them).")
class HelpCenterSettings:
    help_center_name: str
    support_email: str = strawberry.field(
        description="Sender address of outgoing mail; the agent's name is shown before it."
    )
    time_zone: str
    agents_use_portal: bool = strawberry.field(
        description=(
            "Agents (not light agents) may submit and follow requests as requesters in the portal."
        )
    )
    sign_up_open: bool = strawberry.field(
        description="Customers may sign up in the portal (requestSignUp); otherwise SIGN_UP_CLOSED."
    )
    csat_enabled: bool
    csat_window_days: int
    auto_close_solved_after_days: int = strawberry.field(
        description="Solved tickets close automatically after this many days (0: never)."
    )
    updated_at: datetime = strawberry.field(
        description="When admins last changed a setting (the epoch: never)."
    )

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, help_center.HelpCenter)


@strawberry.input
class UpdateSettingsInput:
    help_center_name: str | None = None
    support_email: str | None = None
    time_zone: str | None = None
    agents_use_portal: bool | None = None
    sign_up_open: bool | None = None
    csat_enabled: bool | None = None
    csat_window_days: int | None = None
    auto_close_solved_after_days: int | None = None


@payload
class SettingsPayload:
    settings: HelpCenterSettings | None = None


@strawberry.input
class TransferOwnershipInput:
    to_user_id: strawberry.ID = strawberry.field(
        description="An active admin; the current owner becomes an admin."
    )


@strawberry.input
class ImpersonateInput:
    user_id: strawberry.ID
    reason: str = strawberry.field(description="Kept in the audit trail.")


@strawberry.type
class AdminSettingsQuery:
    @strawberry.field(extensions=[requires(RoleValue.ADMIN)])
    async def settings(self, info: strawberry.Info) -> HelpCenterSettings | None:
        return await help_center.current(info.context)  # type: ignore[return-value]


@strawberry.type
class AdminSettingsMutation:
    @mutation(
        SettingsPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description=(
            "Change settings (omitted ones stay): applied on every server process at once. "
            "Invalid values (UNKNOWN_TIME_ZONE, OUT_OF_RANGE, INVALID_EMAIL, REQUIRED, "
            "TOO_LONG) change nothing."
        ),
    )
    async def update_settings(
        self, info: strawberry.Info, input: UpdateSettingsInput
    ) -> SettingsPayload:
        changes = help_center_changes.SettingsChanges(
            **{name: getattr(input, name) for name in help_center_changes.SETTINGS}
        )
        settings = await help_center_changes.update_settings(info.context, changes)
        return SettingsPayload(settings=settings)  # type: ignore[arg-type]

    @mutation(
        UserPayload,
        extensions=[requires(RoleValue.OWNER)],
        description=(
            "Owner only: make an active admin the owner; you become an admin. Answers the "
            "new owner."
        ),
    )
    async def transfer_ownership(
        self, info: strawberry.Info, input: TransferOwnershipInput
    ) -> UserPayload:
        user = await ownership.transfer_ownership(info.context, to_user_id=input.to_user_id)
        return UserPayload(user=user)

    @mutation(
        LoginPayload,
        extensions=[requires(RoleValue.ADMIN)],
        description=(
            "Admins (and the owner): a 15-minute token acting as an agent, light agent or end "
            "user; never as an admin or the owner (NOT_IMPERSONABLE). Everything done with it "
            "records you as `impersonator`; the user sees it in `User.impersonations`."
        ),
    )
    async def impersonate(self, info: strawberry.Info, input: ImpersonateInput) -> LoginPayload:
        signed_in = await impersonation.impersonate(
            info.context, user_id=input.user_id, reason=input.reason
        )
        return LoginPayload(token=signed_in.token, user=signed_in.user)
