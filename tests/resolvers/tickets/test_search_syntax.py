"""The Zendesk-style search syntax: terms, their normalised values, and every way to get it wrong."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from guichet.resolvers.tickets.search_syntax import (
    FieldTerm,
    ParsedQuery,
    SearchSyntaxError,
    parse,
)

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def terms(text: str) -> tuple[FieldTerm, ...]:
    return parse(text, now=NOW).terms


def only(text: str) -> FieldTerm:
    (term,) = terms(text)
    return term


def refused(text: str) -> SearchSyntaxError:
    with pytest.raises(SearchSyntaxError) as caught:
        parse(text, now=NOW)
    return caught.value


# --- status and priority --------------------------------------------------------------------


def test_status_colon_means_that_one_status():
    assert only("status:open") == FieldTerm("status", ("OPEN",))


def test_status_less_than_solved_means_new_open_pending_on_hold():
    assert only("status<solved").values == ("NEW", "OPEN", "PENDING", "ON_HOLD")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("status<=pending", ("NEW", "OPEN", "PENDING")),
        ("status>new", ("OPEN", "PENDING", "ON_HOLD", "SOLVED", "CLOSED")),
        ("status>=solved", ("SOLVED", "CLOSED")),
    ],
)
def test_status_comparisons_follow_the_ticket_lifecycle(text, values):
    assert only(text).values == values


@pytest.mark.parametrize("spelling", ["hold", "on_hold", "on-hold", "On-Hold", '"on hold"'])
def test_every_spelling_of_on_hold_means_on_hold(spelling):
    assert only(f"status:{spelling}").values == ("ON_HOLD",)


def test_keywords_and_enum_values_are_case_insensitive():
    assert only("STATUS:Open") == FieldTerm("status", ("OPEN",))
    assert only("Priority:URGENT") == FieldTerm("priority", ("URGENT",))


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("priority:high", ("HIGH",)),
        ("priority>normal", ("HIGH", "URGENT")),
        ("priority<urgent", ("LOW", "NORMAL", "HIGH")),
        ("priority>=high", ("HIGH", "URGENT")),
        ("priority<=low", ("LOW",)),
    ],
)
def test_priority_comparisons_run_low_normal_high_urgent(text, values):
    assert only(text) == FieldTerm("priority", values)


def test_a_comparison_past_the_end_of_the_scale_is_refused_rather_than_matching_nothing():
    error = refused("status>closed")
    assert error.term == "status>closed"
    assert "matches nothing" in str(error)
    assert refused("priority<low").term == "priority<low"


def test_unknown_status_names_the_term_and_lists_the_statuses():
    error = refused("status:opne")
    assert error.term == "status:opne"
    assert str(error) == (
        "Unknown status 'opne' in 'status:opne' (use new, open, pending, hold, solved, closed)."
    )


# --- type and via ---------------------------------------------------------------------------


def test_type_takes_one_of_the_four_ticket_types():
    assert only("type:incident") == FieldTerm("type", ("INCIDENT",))
    assert only("type:Task").values == ("TASK",)
    assert "question, incident, problem, task" in str(refused("type:bug"))


@pytest.mark.parametrize("channel", ["web", "portal", "email", "api", "rule", "system"])
def test_via_names_the_channel_a_ticket_came_through(channel):
    assert only(f"via:{channel}") == FieldTerm("via", (channel.upper(),))


@pytest.mark.parametrize("text", ["type>incident", "via<email", "assignee>x", "tags<=a", "org>b"])
def test_comparison_on_a_field_without_an_order_is_refused(text):
    error = refused(text)
    assert error.term == text
    assert f"'{text}'" in str(error)
    assert "takes ':' only" in str(error)


# --- people, groups, organizations, tags ----------------------------------------------------


def test_assignee_me_and_none_are_left_for_the_caller_to_resolve():
    assert only("assignee:me") == FieldTerm("assignee", ("me",))
    assert only("assignee:NONE") == FieldTerm("assignee", ("none",))


def test_people_are_found_by_lowercased_email_or_name():
    assert only("assignee:Jane@Example.test").values == ("jane@example.test",)
    assert only("requester:me") == FieldTerm("requester", ("me",))
    assert only('submitter:"Jane  Doe"') == FieldTerm("submitter", ("jane doe",))


@pytest.mark.parametrize("keyword", ["requester", "submitter"])
def test_requester_and_submitter_none_is_refused_because_every_ticket_has_one(keyword):
    assert refused(f"{keyword}:none").term == f"{keyword}:none"


def test_quoted_group_and_organization_names_keep_their_spaces():
    assert only('group:"Tier 2"') == FieldTerm("group", ("tier 2",))
    assert only('organization:"Acme Corporation"') == FieldTerm(
        "organization", ("acme corporation",)
    )


def test_org_is_short_for_organization_and_none_means_without_one():
    assert only("org:none") == FieldTerm("organization", ("none",))
    assert only("group:none") == FieldTerm("group", ("none",))


def test_tag_and_tags_both_search_tags_lowercased():
    assert only("tags:Billing") == FieldTerm("tags", ("billing",))
    assert only("tag:vip") == FieldTerm("tags", ("vip",))


# --- negation, words and phrases ------------------------------------------------------------


def test_a_leading_dash_negates_a_field_term():
    assert terms("-tags:billing -status:closed") == (
        FieldTerm("tags", ("billing",), negated=True),
        FieldTerm("status", ("CLOSED",), negated=True),
    )


def test_a_leading_dash_on_a_word_excludes_it():
    parsed = parse("toner -Printer", now=NOW)
    assert parsed.words == ("toner",)
    assert parsed.excluded_words == ("printer",)


def test_a_negated_phrase_is_excluded_as_a_whole():
    assert parse('-"Paper Jam"', now=NOW).excluded_words == ("paper jam",)


def test_quoted_text_is_a_phrase_and_other_text_lowercased_words():
    parsed = parse('Printer "paper  JAM" tray', now=NOW)
    assert parsed == ParsedQuery(
        terms=(), words=("printer", "tray"), phrases=("paper jam",), excluded_words=()
    )


def test_a_full_query_mixes_terms_words_and_phrases_in_order():
    parsed = parse('status<solved assignee:me "printer jam" toner -fax', now=NOW)
    assert [t.field for t in parsed.terms] == ["status", "assignee"]
    assert parsed.words == ("toner",)
    assert parsed.phrases == ("printer jam",)
    assert parsed.excluded_words == ("fax",)


def test_an_empty_or_blank_query_parses_to_nothing():
    empty = ParsedQuery((), (), (), ())
    assert parse("", now=NOW) == empty
    assert parse("   \t\n ", now=NOW) == empty
    assert parse('- "" -""', now=NOW) == empty


def test_unknown_keyword_is_an_error_not_a_word():
    error = refused("foo:bar")
    assert error.term == "foo:bar"
    assert "Unknown keyword 'foo' in 'foo:bar'" in str(error)


def test_a_url_stays_a_word():
    parsed = parse("see http://Example.test/x -https://spam.test", now=NOW)
    assert parsed.words == ("see", "http://example.test/x")
    assert parsed.excluded_words == ("https://spam.test",)


def test_a_time_of_day_or_a_non_ascii_prefix_is_a_word():
    assert parse("12:30 été:x", now=NOW).words == ("12:30", "été:x")


# --- dates ----------------------------------------------------------------------------------


def day(d: int, month: int = 1) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


def test_created_on_a_date_means_that_whole_utc_day_as_one_term():
    assert only("created:2026-01-01") == FieldTerm("created", (">=", day(1), "<", day(2)))


def test_a_negated_day_negates_both_bounds_together():
    assert only("-solved:2026-01-01") == FieldTerm("solved", (">=", day(1), "<", day(2)), True)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("created>2026-01-01", (">=", day(2))),
        ("created>=2026-01-01", (">=", day(1))),
        ("created<2026-01-01", ("<", day(1))),
        ("created<=2026-01-01", ("<", day(2))),
    ],
)
def test_comparisons_with_a_date_treat_it_as_a_whole_day(text, values):
    assert only(text) == FieldTerm("created", values)


def test_a_datetime_with_an_offset_is_compared_in_utc():
    term = only("updated>2026-01-01T09:30:00+02:00")
    assert term == FieldTerm("updated", (">", datetime(2026, 1, 1, 7, 30, tzinfo=UTC)))
    assert term.values[1].tzinfo is UTC
    assert only("updated<=2026-01-01T09:30Z").values == (
        "<=",
        datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    )


def test_updated_less_than_7d_means_updated_after_a_week_ago():
    assert only("updated<7d") == FieldTerm("updated", (">", NOW - timedelta(days=7)))


def test_created_more_than_2hours_means_created_before_two_hours_ago():
    assert only("created>2hours") == FieldTerm("created", ("<", NOW - timedelta(hours=2)))


@pytest.mark.parametrize(
    ("age", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("30min", timedelta(minutes=30)),
        ("1minute", timedelta(minutes=1)),
        ("5minutes", timedelta(minutes=5)),
        ("3h", timedelta(hours=3)),
        ("1hour", timedelta(hours=1)),
        ("1day", timedelta(days=1)),
        ("2days", timedelta(days=2)),
        ("2w", timedelta(weeks=2)),
        ("1week", timedelta(weeks=1)),
        ("3weeks", timedelta(weeks=3)),
        ("4D", timedelta(days=4)),
    ],
)
def test_ages_accept_minutes_hours_days_and_weeks(age, delta):
    assert only(f"solved>={age}").values == ("<=", NOW - delta)
    assert only(f"solved<={age}").values == (">=", NOW - delta)


def test_ages_are_measured_from_now_in_utc_whatever_its_zone():
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    (term,) = parse("updated<1d", now=paris).terms
    assert term.values == (">", NOW - timedelta(days=1))
    assert term.values[1].tzinfo is UTC


def test_a_naive_now_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("updated<1d", now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "text",
    [
        "created:2026-02-30",
        "created>2026-13-01",
        "created>yesterday",
        "created>26-01-01",
        "created>2026-01-01T25:00:00Z",
        "updated<7months",
        "updated:7d",
        "updated>2026-01-01T09:00:00",
        "updated:2026-01-01T09:00:00Z",
        "created<99999999999w",
        "created>9999-12-31",
    ],
)
def test_bad_dates_are_refused_naming_the_term(text):
    error = refused(text)
    assert error.term == text
    assert f"'{text}'" in str(error)


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["status:", "group:", 'org:""', "-tags:", "created>"])
def test_an_empty_value_is_refused(text):
    error = refused(text)
    assert error.term == text
    assert str(error).startswith(f"Empty value in '{text}'")


def test_an_unterminated_phrase_names_the_text_from_the_quote():
    error = refused('toner "printer jam')
    assert error.term == '"printer jam'
    assert "Unterminated quote" in str(error)


def test_an_unterminated_quoted_value_names_the_text_from_the_quote():
    assert refused('status:open group:"Tier 2').term == '"Tier 2'


def test_a_negated_term_is_named_with_its_dash():
    assert refused("-status:opne").term == "-status:opne"


def test_a_query_over_1000_characters_is_refused():
    parse("x" * 1000, now=NOW)
    error = refused("x" * 1001)
    assert error.term == "x" * 1001
    assert "too long" in str(error)


def test_more_than_50_terms_are_refused_naming_the_51st():
    parse(" ".join(f"w{i}" for i in range(50)), now=NOW)
    error = refused(" ".join(f"w{i}" for i in range(60)))
    assert error.term == "w50"
    assert "Too many terms" in str(error)


def test_the_error_is_a_value_error_with_a_one_line_message():
    error = refused('status:open group:"Tier\n2" foo:"a\nb"')
    assert isinstance(error, ValueError)
    assert error.term == 'foo:"a\nb"'
    assert "\n" not in str(error)


def test_any_string_parses_or_raises_only_search_syntax_error():
    pieces = [
        "status", "priority", "type", "assignee", "created", "updated", "tags", "org", "via",
        ":", "<", ">", "=", "<=", ">=", "-", "--", '"', '""', " ", "\t", "\n", "open", "me",
        "none", "7d", "2026-01-01", "2026-01-01T09:00:00Z", "9999-12-31", "0001-01-01T00:00+14:00",
        "99999999999w", "http://", "été", "日本", "\u00a0", "\u2028", "\x00", "🙂", ",", "\\",
        "'", "{", "}", "%", "_", "x",
    ]  # fmt: skip
    rng = random.Random(20260315)
    samples = [
        "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(400)
    ] + [
        "".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(0, 40))) for _ in range(200)
    ]
    for text in samples:
        try:
            result = parse(text, now=NOW)
        except SearchSyntaxError as error:
            assert isinstance(error.term, str)
            assert error.term, text
            assert "\n" not in str(error)
        else:
            assert isinstance(result, ParsedQuery)


def test_approval_names_a_state_of_the_tickets_approval_requests():
    assert only("approval:pending") == FieldTerm("approval", ("PENDING",))
    assert only("-approval:Denied") == FieldTerm("approval", ("DENIED",), negated=True)
    assert "approval" in str(refused("approval>pending"))
    assert "pending" in str(refused("approval:maybe"))


def test_activity_overdue_carries_the_moment_it_is_judged_at():
    assert only("activity:overdue") == FieldTerm("activity", ("OVERDUE", NOW))
    assert only("activity:open") == FieldTerm("activity", ("OPEN",))
    assert "overdue" in str(refused("activity:late"))
