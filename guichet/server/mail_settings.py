"""The settings of mail and of the help center's face: the SMTP relay, the sender, the
name and time zone, the SMS sender and the links mails carry."""

from __future__ import annotations

import string
from collections.abc import Mapping
from email.utils import parseaddr
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from guichet.server.setting_values import SettingsError


def smtp_url(env: Mapping[str, str]) -> str | None:
    url = env.get("GUICHET_SMTP_URL") or None
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError(
            "GUICHET_SMTP_URL must look like smtp://user:password@host:port "
            "(smtps:// for implicit TLS)"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise SettingsError("GUICHET_SMTP_URL has a port that is not a number") from None
    return url


def mail_from(env: Mapping[str, str]) -> str:
    value = env.get("GUICHET_MAIL_FROM") or "Guichet <no-reply@guichet.invalid>"
    address = parseaddr(value)[1]
    if "@" not in address or any(c in value for c in "\r\n"):
        raise SettingsError(
            f"GUICHET_MAIL_FROM must be an address like 'Help <help@example.com>', got {value!r}"
        )
    return value


def help_center_name(env: Mapping[str, str]) -> str:
    value = (env.get("GUICHET_HELP_CENTER_NAME") or "Guichet").strip()
    if not value or len(value) > 200 or any(c in value for c in "\r\n\x00"):
        raise SettingsError("GUICHET_HELP_CENTER_NAME must be one line of at most 200 characters")
    return value


def time_zone(env: Mapping[str, str]) -> str:
    value = env.get("GUICHET_TIME_ZONE") or "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"GUICHET_TIME_ZONE must be an IANA time zone like Europe/Zurich, got {value!r}"
        ) from None
    return value


def sms_sender(env: Mapping[str, str]) -> str | None:
    path = env.get("GUICHET_SMS_SENDER") or None
    if path is None:
        return None
    module, sep, name = path.partition(":")
    if not sep or not name.isidentifier() or not all(p.isidentifier() for p in module.split(".")):
        raise SettingsError(
            f"GUICHET_SMS_SENDER must name an async callable as package.module:function, got {path!r}"
        )
    return path


_LINK_FIELDS = frozenset({"number", "id", "token", "score"})


def _link(env: Mapping[str, str], name: str, default: str, needs: set[str]) -> str:
    """A link template: an http(s) URL whose {placeholders} are among the known ones and
    include `needs`."""
    template = env.get(name) or default
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError:
        used = {"{"}
    if (
        urlsplit(template).scheme not in ("http", "https")
        or not used <= _LINK_FIELDS
        or not needs <= used
    ):
        raise SettingsError(
            f"{name} must be an http(s) URL using {', '.join('{' + n + '}' for n in sorted(needs))}"
            f" (and optionally {{number}}, {{id}}), got {template!r}"
        )
    return template


def mail_links(env: Mapping[str, str], public_url: str) -> dict[str, str]:
    base = public_url.rstrip("/")
    return {
        "ticket_link": _link(env, "GUICHET_TICKET_LINK", base + "/tickets/{number}", set()),
        "satisfaction_link": _link(
            env,
            "GUICHET_SATISFACTION_LINK",
            base + "/satisfaction?token={token}&score={score}",
            {"token", "score"},
        ),
        "password_reset_link": _link(
            env, "GUICHET_PASSWORD_RESET_LINK", base + "/reset-password?token={token}", {"token"}
        ),
        "sign_up_link": _link(
            env, "GUICHET_SIGN_UP_LINK", base + "/sign-up?token={token}", {"token"}
        ),
    }
