"""Sign-in: login, logout, changePassword, and password reset by mail."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from guichet.resolvers.people import auth, password_reset
from guichet.schema.payloads import mutation, payload
from guichet.schema.people import User


@strawberry.input
class LoginInput:
    email: str
    password: str


@payload
class LoginPayload:
    token: str | None = strawberry.field(
        default=None,
        description="Bearer token for the Authorization header and the websocket connection_init payload.",
    )
    user: User | None = None


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@payload
class LogoutPayload:
    pass


@strawberry.input
class RequestPasswordResetInput:
    email: str


@payload
class RequestPasswordResetPayload:
    accepted: bool = strawberry.field(
        default=True,
        description="Always true: the answer never tells whether the address has an account.",
    )


@strawberry.input
class ResetPasswordInput:
    token: str = strawberry.field(description="The single-use token from the reset mail.")
    new_password: str


def _ttl(info: strawberry.Info) -> timedelta:
    return timedelta(days=info.context.settings.token_ttl_days)


@strawberry.type
class AuthMutation:
    @mutation(
        LoginPayload,
        description=(
            "Sign in. The same error (INVALID_CREDENTIALS) answers an unknown address, a wrong "
            "password and a locked address: after 5 failed checks in 15 minutes the address "
            "is locked for the rest of that time, and the HTTP response carries Retry-After."
        ),
    )
    async def login(self, info: strawberry.Info, input: LoginInput) -> LoginPayload:
        # A locked address raises auth.RetryLater: payloads.mutation sets Retry-After.
        signed_in = await auth.login(
            info.context.settings.secret_key, _ttl(info), input.email, input.password
        )
        # The rest of this response is read as the user who just signed in.
        info.context.viewer = signed_in.viewer
        return LoginPayload(token=signed_in.token, user=signed_in.user)

    @mutation(
        LogoutPayload,
        description=(
            "End the session this request is signed in with. Its websockets, on every "
            "server process, are closed with 4401 within seconds."
        ),
    )
    async def logout(self, info: strawberry.Info) -> LogoutPayload:
        await auth.logout(info.context.require_viewer(), info.context.bus)
        return LogoutPayload()

    @mutation(
        LoginPayload,
        description=(
            "Change the password: every session of the user ends (their websockets close "
            "with 4401 within seconds); the payload has a new token for this device."
        ),
    )
    async def change_password(
        self, info: strawberry.Info, input: ChangePasswordInput
    ) -> LoginPayload:
        signed_in = await auth.change_password(
            info.context.settings.secret_key,
            _ttl(info),
            info.context.require_viewer(),
            input.current_password,
            input.new_password,
            info.context.bus,
        )
        info.context.viewer = signed_in.viewer
        return LoginPayload(token=signed_in.token, user=signed_in.user)

    @mutation(
        RequestPasswordResetPayload,
        description=(
            "Mails a single-use link valid for an hour; same answer for every address "
            "(at most one mail per address every 5 minutes)."
        ),
    )
    async def request_password_reset(
        self, info: strawberry.Info, input: RequestPasswordResetInput
    ) -> RequestPasswordResetPayload:
        await password_reset.request_password_reset(info.context.settings, input.email)
        return RequestPasswordResetPayload(accepted=True)

    @mutation(
        LoginPayload,
        description=(
            "Sets the password, ends every session, answers a new token. A used, expired or "
            "unknown token: INVALID_RESET_TOKEN."
        ),
    )
    async def reset_password(
        self, info: strawberry.Info, input: ResetPasswordInput
    ) -> LoginPayload:
        signed_in = await password_reset.reset_password(
            info.context.settings, _ttl(info), input.token, input.new_password, info.context.bus
        )
        info.context.viewer = signed_in.viewer
        return LoginPayload(token=signed_in.token, user=signed_in.user)
