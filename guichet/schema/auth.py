"""Sign-in: login, logout, changePassword, password reset by mail, and sign-up."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from guichet.resolvers.people import auth, password_reset, sign_up
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


@strawberry.input
class RequestSignUpInput:
    name: str
    email: str


@payload
class RequestSignUpPayload:
    accepted: bool = strawberry.field(
        default=True,
        description="True unless the name or address is malformed (see errors); it never "
        "tells whether the address has an account.",
    )


@strawberry.input
class CompleteSignUpInput:
    token: str = strawberry.field(description="The single-use token from the sign-up mail.")
    password: str


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

    @mutation(
        RequestSignUpPayload,
        description=(
            "A customer asks for an account: a link to finish signing up is mailed to the "
            "address (valid a day, single use); an address that already has an account is "
            "mailed so instead. The same answer either way, at most one mail per address "
            "every 5 minutes. Nothing is made until the link is followed (completeSignUp). "
            "SIGN_UP_CLOSED while admins have sign-up closed (Settings.signUpOpen)."
        ),
    )
    async def request_sign_up(
        self, info: strawberry.Info, input: RequestSignUpInput
    ) -> RequestSignUpPayload:
        await sign_up.request_sign_up(info.context.settings, input.name, input.email)
        return RequestSignUpPayload(accepted=True)

    @mutation(
        LoginPayload,
        description=(
            "Makes the end user the sign-up link was mailed for, with this password (the "
            "rules of changePassword), in the organization of their address's domain if "
            "one has it, and signs them in. A used, expired or unknown token: "
            "INVALID_SIGN_UP_TOKEN; an address that got an account meanwhile: EMAIL_TAKEN; "
            "sign-up closed since the mail: SIGN_UP_CLOSED."
        ),
    )
    async def complete_sign_up(
        self, info: strawberry.Info, input: CompleteSignUpInput
    ) -> LoginPayload:
        signed_in = await sign_up.complete_sign_up(
            info.context.settings, _ttl(info), input.token, input.password
        )
        info.context.viewer = signed_in.viewer
        return LoginPayload(token=signed_in.token, user=signed_in.user)
