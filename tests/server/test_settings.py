"""Settings from the environment: defaults, one-line errors naming the variable, the key."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from guichet.server.settings import Settings, SettingsError, load_settings

KEY = "k" * 32
POSTGRES = "postgres://guichet:secret@127.0.0.1:5432/guichet"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths (the default database, its key file) land in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings({"GUICHET_SECRET_KEY": KEY, **env})
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_defaults(in_tmp: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite://guichet.sqlite3"
    assert settings.broadcast_url == "memory://"
    assert settings.token_ttl_days == 30
    assert settings.debug is False
    assert settings.legacy_graphql_ws is False
    assert settings.max_subscriptions_per_connection == 20
    assert settings.allowed_origins == ()
    assert settings.smtp_url is None
    assert settings.inbound_token is None
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.storage_dir == Path("guichet-storage")
    assert settings.is_sqlite
    assert settings.sqlite_path == Path("guichet.sqlite3")
    assert len(settings.secret_key) >= 32
    # The key is kept out of reprs (and so out of logs).
    assert settings.secret_key not in repr(settings)


def test_every_value_is_read() -> None:
    settings = load_settings(
        {
            "GUICHET_DATABASE_URL": "postgresql://guichet:secret@db.internal:5433/helpdesk",
            "GUICHET_BROADCAST_URL": "redis://cache.internal:6379/1",
            "GUICHET_SECRET_KEY": KEY,
            "GUICHET_STORAGE_DIR": "/srv/guichet/files",
            "GUICHET_SMTP_URL": "smtps://mailer:pw@mail.internal:465",
            "GUICHET_INBOUND_TOKEN": "inbound-token",
            "GUICHET_PUBLIC_URL": "https://help.example.com/",
            "GUICHET_TOKEN_TTL_DAYS": "7",
            "GUICHET_DEBUG": "yes",
            "GUICHET_LEGACY_GRAPHQL_WS": "TRUE",
            "GUICHET_MAX_SUBSCRIPTIONS_PER_CONNECTION": "5",
            "GUICHET_ALLOWED_ORIGINS": "https://app.example.com/, http://localhost:3000",
        }
    )
    # Tortoise names the asyncpg engine "postgres".
    assert settings.database_url == "postgres://guichet:secret@db.internal:5433/helpdesk"
    assert not settings.is_sqlite
    assert settings.sqlite_path is None
    assert settings.broadcast_url == "redis://cache.internal:6379/1"
    assert settings.secret_key == KEY
    assert settings.storage_dir == Path("/srv/guichet/files")
    assert settings.smtp_url == "smtps://mailer:pw@mail.internal:465"
    assert settings.inbound_token == "inbound-token"
    assert settings.public_url == "https://help.example.com"
    assert settings.token_ttl_days == 7
    assert settings.debug is True
    assert settings.legacy_graphql_ws is True
    assert settings.max_subscriptions_per_connection == 5
    assert settings.allowed_origins == ("https://app.example.com", "http://localhost:3000")
    # Links in mails default to the public URL's routes.
    assert settings.sign_up_link == "https://help.example.com/sign-up?token={token}"


def test_empty_values_mean_the_default() -> None:
    settings = load_settings(
        {
            "GUICHET_SECRET_KEY": KEY,
            "GUICHET_DATABASE_URL": "",
            "GUICHET_BROADCAST_URL": "",
            "GUICHET_SMTP_URL": "",
            "GUICHET_TOKEN_TTL_DAYS": "",
            "GUICHET_DEBUG": "",
            "GUICHET_ALLOWED_ORIGINS": "",
        }
    )
    assert settings == Settings(secret_key=KEY)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"GUICHET_DATABASE_URL": "mysql://root@127.0.0.1/guichet"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_DATABASE_URL": "guichet.sqlite3"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_DATABASE_URL": "postgres:///guichet"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_DATABASE_URL": "postgres://guichet@127.0.0.1:5432"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_DATABASE_URL": "postgres://guichet@127.0.0.1:5432/"}, "GUICHET_DATABASE_URL"),
        ({"GUICHET_BROADCAST_URL": "kafka://127.0.0.1:9092"}, "GUICHET_BROADCAST_URL"),
        ({"GUICHET_BROADCAST_URL": "redis:///0"}, "GUICHET_BROADCAST_URL"),
        ({"GUICHET_SMTP_URL": "mail.example.com"}, "GUICHET_SMTP_URL"),
        ({"GUICHET_SMTP_URL": "http://mail.example.com"}, "GUICHET_SMTP_URL"),
        ({"GUICHET_SMTP_URL": "smtp://:25"}, "GUICHET_SMTP_URL"),
        ({"GUICHET_SMTP_URL": "smtp://mail.example.com:twenty-five"}, "GUICHET_SMTP_URL"),
        ({"GUICHET_PUBLIC_URL": "help.example.com"}, "GUICHET_PUBLIC_URL"),
        ({"GUICHET_TOKEN_TTL_DAYS": "thirty"}, "GUICHET_TOKEN_TTL_DAYS"),
        ({"GUICHET_TOKEN_TTL_DAYS": "1.5"}, "GUICHET_TOKEN_TTL_DAYS"),
        ({"GUICHET_TOKEN_TTL_DAYS": "0"}, "GUICHET_TOKEN_TTL_DAYS"),
        ({"GUICHET_TOKEN_TTL_DAYS": "-3"}, "GUICHET_TOKEN_TTL_DAYS"),
        ({"GUICHET_TOKEN_TTL_DAYS": "3651"}, "GUICHET_TOKEN_TTL_DAYS"),
        ({"GUICHET_MAX_SUBSCRIPTIONS_PER_CONNECTION": "0"}, "GUICHET_MAX_SUBSCRIPTIONS"),
        ({"GUICHET_DEBUG": "maybe"}, "GUICHET_DEBUG"),
        ({"GUICHET_DEBUG": "2"}, "GUICHET_DEBUG"),
        ({"GUICHET_LEGACY_GRAPHQL_WS": "enabled"}, "GUICHET_LEGACY_GRAPHQL_WS"),
        ({"GUICHET_SECRET_KEY": "too-short"}, "GUICHET_SECRET_KEY"),
        ({"GUICHET_SECRET_KEY": "k" * 31}, "GUICHET_SECRET_KEY"),
        ({"GUICHET_ALLOWED_ORIGINS": "app.example.com"}, "GUICHET_ALLOWED_ORIGINS"),
        ({"GUICHET_ALLOWED_ORIGINS": "ftp://app.example.com"}, "GUICHET_ALLOWED_ORIGINS"),
        (
            {"GUICHET_ALLOWED_ORIGINS": "https://ok.example.com,https://"},
            "GUICHET_ALLOWED_ORIGINS",
        ),
        # An origin has no path: this one would never match a browser's Origin header.
        ({"GUICHET_ALLOWED_ORIGINS": "https://app.example.com/ui"}, "GUICHET_ALLOWED_ORIGINS"),
        ({"GUICHET_TIME_ZONE": "Mars/Olympus_Mons"}, "GUICHET_TIME_ZONE"),
        ({"GUICHET_HELP_CENTER_NAME": "x" * 201}, "GUICHET_HELP_CENTER_NAME"),
        ({"GUICHET_CSAT_ENABLED": "sometimes"}, "GUICHET_CSAT_ENABLED"),
        ({"GUICHET_AGENTS_USE_PORTAL": "2"}, "GUICHET_AGENTS_USE_PORTAL"),
        ({"GUICHET_AUTO_CLOSE_SOLVED_AFTER_DAYS": "-1"}, "GUICHET_AUTO_CLOSE_SOLVED_AFTER"),
        ({"GUICHET_AUTO_CLOSE_SOLVED_AFTER_DAYS": "3651"}, "GUICHET_AUTO_CLOSE_SOLVED_AFTER"),
        # A sign-up link without its token could finish nobody's sign-up.
        ({"GUICHET_SIGN_UP_LINK": "https://help.example.com/sign-up"}, "GUICHET_SIGN_UP_LINK"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    assert variable in refused(env)


def test_the_message_shows_what_was_wrong() -> None:
    assert "'mysql'" in refused({"GUICHET_DATABASE_URL": "mysql://x"})
    assert "'thirty'" in refused({"GUICHET_TOKEN_TTL_DAYS": "thirty"})
    assert "3650" in refused({"GUICHET_TOKEN_TTL_DAYS": "9999"})
    assert "'maybe'" in refused({"GUICHET_DEBUG": "maybe"})


def test_messages_do_not_leak_the_database_password() -> None:
    message = refused({"GUICHET_DATABASE_URL": "postgres://guichet:hunter2@127.0.0.1:5432"})
    assert "hunter2" not in message


@pytest.mark.parametrize("value", ["1", "true", "Yes", " ON "])
def test_true_flags(value: str) -> None:
    assert load_settings({"GUICHET_SECRET_KEY": KEY, "GUICHET_DEBUG": value}).debug is True


@pytest.mark.parametrize("value", ["0", "false", "NO", "off"])
def test_false_flags(value: str) -> None:
    assert load_settings({"GUICHET_SECRET_KEY": KEY, "GUICHET_DEBUG": value}).debug is False


def test_token_ttl_bounds_are_inclusive() -> None:
    for days in (1, 3650):
        env = {"GUICHET_SECRET_KEY": KEY, "GUICHET_TOKEN_TTL_DAYS": str(days)}
        assert load_settings(env).token_ttl_days == days


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "asyncpg"])
def test_postgres_needs_a_secret_key(scheme: str, in_tmp: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"GUICHET_DATABASE_URL": f"{scheme}://guichet@127.0.0.1:5432/guichet"})
    message = str(raised.value)
    assert "GUICHET_SECRET_KEY" in message
    assert "PostgreSQL" in message
    assert "\n" not in message
    assert list(in_tmp.iterdir()) == []


def test_postgres_with_a_key() -> None:
    settings = load_settings({"GUICHET_DATABASE_URL": POSTGRES, "GUICHET_SECRET_KEY": KEY})
    assert settings.database_url == POSTGRES
    assert settings.secret_key == KEY


def test_sqlite_without_a_key_generates_one_next_to_the_database(
    in_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"GUICHET_DATABASE_URL": f"sqlite://{in_tmp / 'data' / 'helpdesk.sqlite3'}"}
    with caplog.at_level(logging.WARNING, logger="guichet.settings"):
        first = load_settings(env)
    key_file = in_tmp / "data" / "helpdesk.sqlite3.secret"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first.secret_key
    assert len(first.secret_key) >= 32
    warnings = [r for r in caplog.records if r.name == "guichet.settings"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "GUICHET_SECRET_KEY" in warnings[0].getMessage()
    assert str(key_file) in warnings[0].getMessage()
    # The key is not in the log.
    assert first.secret_key not in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="guichet.settings"):
        second = load_settings(env)
    assert second.secret_key == first.secret_key
    assert caplog.records == []  # reused quietly


def test_the_default_database_keeps_its_key_in_the_working_directory(in_tmp: Path) -> None:
    key = load_settings({}).secret_key
    assert (in_tmp / "guichet.sqlite3.secret").read_text().strip() == key
    assert load_settings({}).secret_key == key
    # Each database has its own key.
    other = load_settings({"GUICHET_DATABASE_URL": "sqlite://other.sqlite3"}).secret_key
    assert other != key
    assert (in_tmp / "other.sqlite3.secret").read_text().strip() == other


def test_a_kept_key_that_is_too_short_is_replaced(in_tmp: Path) -> None:
    key_file = in_tmp / "guichet.sqlite3.secret"
    key_file.write_text("short\n")
    key = load_settings({}).secret_key
    assert len(key) >= 32
    assert key_file.read_text().strip() == key


def test_a_given_key_wins_and_nothing_is_written(in_tmp: Path) -> None:
    assert load_settings({"GUICHET_SECRET_KEY": KEY}).secret_key == KEY
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite://"])
def test_in_memory_sqlite_gets_a_key_without_a_file(
    url: str, in_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="guichet.settings"):
        first = load_settings({"GUICHET_DATABASE_URL": url})
        second = load_settings({"GUICHET_DATABASE_URL": url})
    assert first.sqlite_path is None
    assert len(first.secret_key) >= 32
    # The database lives as long as the process; so does its key.
    assert first.secret_key != second.secret_key
    assert list(in_tmp.iterdir()) == []
    assert caplog.records == []


def test_a_bad_value_writes_no_key_file(in_tmp: Path) -> None:
    with pytest.raises(SettingsError, match="GUICHET_SMTP_URL"):
        load_settings({"GUICHET_SMTP_URL": "nonsense"})
    with pytest.raises(SettingsError, match="GUICHET_ALLOWED_ORIGINS"):
        load_settings({"GUICHET_ALLOWED_ORIGINS": "nonsense"})
    assert list(in_tmp.iterdir()) == []


def test_a_key_that_cannot_be_written_is_a_settings_error(in_tmp: Path) -> None:
    (in_tmp / "a-file").write_text("")
    # The database would live under a regular file: no folder, no key file.
    url = f"sqlite://{in_tmp / 'a-file' / 'guichet.sqlite3'}"
    with pytest.raises(SettingsError) as raised:
        load_settings({"GUICHET_DATABASE_URL": url})
    message = str(raised.value)
    assert "GUICHET_SECRET_KEY" in message
    assert "\n" not in message


def test_the_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GUICHET_") and not name.startswith("GUICHET_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GUICHET_SECRET_KEY", KEY)
    monkeypatch.setenv("GUICHET_TOKEN_TTL_DAYS", "12")
    assert load_settings().token_ttl_days == 12
    monkeypatch.setenv("GUICHET_TOKEN_TTL_DAYS", "never")
    with pytest.raises(SettingsError, match="GUICHET_TOKEN_TTL_DAYS"):
        load_settings()


# ---------------------------------------------------------------- rate limits


def test_rate_limit_defaults() -> None:
    settings = load_settings({"GUICHET_SECRET_KEY": KEY})
    assert settings.sign_in_rate_per_minute == 30
    assert settings.cost_budget == 20_000
    assert settings.cost_restore_rate == 500
    assert settings.max_query_cost == 10_000
    assert settings.trusted_proxies == ()
    # The dataclass has the same defaults as the environment.
    fresh = Settings()
    assert (fresh.sign_in_rate_per_minute, fresh.cost_budget, fresh.cost_restore_rate) == (
        30,
        20_000,
        500,
    )
    assert fresh.max_query_cost == 10_000


def test_rate_limits_are_read() -> None:
    settings = load_settings(
        {
            "GUICHET_SECRET_KEY": KEY,
            "GUICHET_SIGN_IN_RATE_PER_MINUTE": "10",
            "GUICHET_COST_BUDGET": "5000",
            "GUICHET_COST_RESTORE_RATE": "50",
            "GUICHET_MAX_QUERY_COST": "2000",
            "GUICHET_TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,fd00::/8,",
        }
    )
    assert settings.sign_in_rate_per_minute == 10
    assert settings.cost_budget == 5000
    assert settings.cost_restore_rate == 50
    assert settings.max_query_cost == 2000
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.7/32", "fd00::/8")


def test_zero_turns_the_sign_in_limit_and_the_budget_off() -> None:
    settings = load_settings(
        {
            "GUICHET_SECRET_KEY": KEY,
            "GUICHET_SIGN_IN_RATE_PER_MINUTE": "0",
            "GUICHET_COST_BUDGET": "0",
        }
    )
    assert settings.sign_in_rate_per_minute == 0
    assert settings.cost_budget == 0


@pytest.mark.parametrize(
    ("env", "variable", "detail"),
    [
        ({"GUICHET_SIGN_IN_RATE_PER_MINUTE": "-1"}, "GUICHET_SIGN_IN_RATE_PER_MINUTE", "0 (off)"),
        ({"GUICHET_SIGN_IN_RATE_PER_MINUTE": "many"}, "GUICHET_SIGN_IN_RATE_PER_MINUTE", "many"),
        ({"GUICHET_COST_BUDGET": "1.5"}, "GUICHET_COST_BUDGET", "1.5"),
        ({"GUICHET_COST_BUDGET": "5000"}, "GUICHET_COST_BUDGET", "GUICHET_MAX_QUERY_COST"),
        ({"GUICHET_COST_RESTORE_RATE": "0"}, "GUICHET_COST_RESTORE_RATE", "between 1"),
        ({"GUICHET_MAX_QUERY_COST": "0"}, "GUICHET_MAX_QUERY_COST", "between 1"),
        (
            {"GUICHET_MAX_QUERY_COST": "30000"},
            "GUICHET_COST_BUDGET",
            "GUICHET_MAX_QUERY_COST (30000)",
        ),
        (
            {"GUICHET_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
            "GUICHET_TRUSTED_PROXIES",
            "proxy.internal",
        ),
        ({"GUICHET_TRUSTED_PROXIES": "10.0.0.0/33"}, "GUICHET_TRUSTED_PROXIES", "10.0.0.0/33"),
    ],
)
def test_a_bad_rate_limit_is_refused_in_one_line(
    env: dict[str, str], variable: str, detail: str
) -> None:
    message = refused(env)
    assert message.startswith(variable), message
    assert detail in message


def test_a_budget_may_equal_the_largest_query() -> None:
    settings = load_settings(
        {"GUICHET_SECRET_KEY": KEY, "GUICHET_COST_BUDGET": "300", "GUICHET_MAX_QUERY_COST": "300"}
    )
    assert settings.cost_budget == settings.max_query_cost == 300


def test_the_help_center_defaults_come_from_the_environment() -> None:
    settings = load_settings(
        {
            "GUICHET_SECRET_KEY": KEY,
            "GUICHET_HELP_CENTER_NAME": "Acme Help",
            "GUICHET_TIME_ZONE": "Europe/Zurich",
            "GUICHET_AGENTS_USE_PORTAL": "false",
            "GUICHET_CSAT_ENABLED": "off",
            "GUICHET_AUTO_CLOSE_SOLVED_AFTER_DAYS": "30",
        }
    )
    assert (
        settings.help_center_name,
        settings.time_zone,
        settings.agents_use_portal,
        settings.csat_enabled,
        settings.auto_close_solved_after_days,
    ) == ("Acme Help", "Europe/Zurich", False, False, 30)
    default = load_settings({"GUICHET_SECRET_KEY": KEY})
    assert (default.help_center_name, default.time_zone, default.agents_use_portal) == (
        "Guichet",
        "UTC",
        True,
    )
    assert (default.csat_enabled, default.auto_close_solved_after_days) == (True, 0)
