"""Reading one setting's value from the environment: the parsers every setting shares.
A bad value raises `SettingsError` with one line that names the variable."""

from __future__ import annotations

from collections.abc import Mapping


class SettingsError(Exception):
    """A setting has a value Guichet cannot start with; the message is one line."""


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def whole_number(
    env: Mapping[str, str], name: str, default: int, maximum: int, *, zero_is_off: bool = False
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    least = "0 (off)" if zero_is_off else "1"
    if not (0 if zero_is_off else 1) <= value <= maximum:
        raise SettingsError(f"{name} must be between {least} and {maximum}, got {value}")
    return value


def positive_int(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    return whole_number(env, name, default, maximum)


def limit(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A whole number from 0 (the limit is off) to maximum."""
    return whole_number(env, name, default, maximum, zero_is_off=True)
