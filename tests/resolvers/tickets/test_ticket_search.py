"""The ticket list: filters, the search syntax, sorting and pages, each within what the
viewer may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from guichet.resolvers import ids
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import (
    TICKETS,
    commented,
    list_tickets,
    make_ticket,
    numbers,
    set_timestamps,
    updated,
)

LONG_AGO = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
BY_NUMBER = [{"field": "NUMBER", "direction": "ASC"}]


@pytest.fixture
async def catalogue(gql, admin, agent, end_user, colleague, other_customer, group) -> None:
    """Four tickets, by number:

    1. Alice (Acme): "Printer jam", INCIDENT, HIGH, OPEN, agent, Tier 1, tags hardware
    2. Bob (Acme): "Invoice wrong", QUESTION, LOW, NEW, unassigned, tags billing; Bob's
       public reply asks for a "refund", an internal note says "kangaroo"; last updated
       30 days ago
    3. Carol (Globex): "Globex printer down", PROBLEM, URGENT, SOLVED by admin; created 2020
    4. Alice (Acme), opened by the agent: "VPN access", no type, NORMAL, PENDING, agent,
       tags billing and vpn
    """
    one = await make_ticket(gql, end_user, subject="Printer jam", description="Paper stuck in tray")
    await updated(
        gql, agent, one["id"], type="INCIDENT", priority="HIGH", assigneeId=agent.id,
        groupId=group.id, tags=["hardware"],
    )  # fmt: skip
    two = await make_ticket(gql, colleague, subject="Invoice wrong", description="Charged 100%")
    await updated(gql, agent, two["id"], type="QUESTION", priority="LOW", tags=["billing"])
    await commented(gql, agent, two["id"], "Our kangaroo ate it.", public=False)
    await commented(gql, colleague, two["id"], "A refund would be nice.")
    three = await make_ticket(
        gql, other_customer, subject="Globex printer down", description="All floors"
    )
    await updated(
        gql, agent, three["id"], type="PROBLEM", priority="URGENT", assigneeId=admin.id,
        status="SOLVED",
    )  # fmt: skip
    four = await make_ticket(
        gql,
        agent,
        requesterId=end_user.id,
        subject="VPN access",
        description="Needs a token",
        priority="NORMAL",
        assigneeId=agent.id,
        tags=["billing", "vpn"],
    )
    await updated(gql, agent, four["id"], status="PENDING")
    await set_timestamps(3, created_at=LONG_AGO)
    await set_timestamps(2, updated_at=datetime.now(UTC) - timedelta(days=30))


async def search(gql, person, query: str) -> list[int]:
    found = await list_tickets(gql, person, filter={"query": query}, sort=BY_NUMBER)
    assert found["totalCount"] == len(found["edges"])
    return numbers(found)


async def filtered(gql, person, **filter) -> list[int]:
    found = await list_tickets(gql, person, filter=filter, sort=BY_NUMBER)
    assert found["totalCount"] == len(found["edges"])
    return numbers(found)


# ---------------------------------------------------------------- the search syntax


# One catalogue, many searches: (query, the numbers it finds for the agent).
SEARCHES = [
    ("", [1, 2, 3, 4]),
    ("status:open", [1]),
    ("STATUS:Open", [1]),
    ("status:new", [2]),
    ("status<solved", [1, 2, 4]),
    ("status>=solved", [3]),
    ("status:pending", [4]),
    ("priority>normal", [1, 3]),
    ("priority<=normal", [2, 4]),
    ("type:incident", [1]),
    ("type:question", [2]),
    ("assignee:me", [1, 4]),
    ("assignee:none", [2]),
    ("assignee:admin@guichet.test", [3]),
    ('assignee:"Adam Admin"', [3]),
    ("requester:alice@acme.test", [1, 4]),
    ("requester:ALICE@acme.test", [1, 4]),
    ("requester:nobody@acme.test", []),
    ("submitter:agent@guichet.test", [4]),
    ('group:"Tier 1"', [1]),
    ("group:none", [2, 3, 4]),
    ("organization:acme", [1, 2, 4]),
    ("org:Globex", [3]),
    ("tags:billing", [2, 4]),
    ("tag:vpn", [4]),
    ("tags:nothing", []),
    ("created>2021-01-01", [1, 2, 4]),
    ("created<2021-01-01", [3]),
    ("created:2020-06-01", [3]),
    ("created>=2020-06-01T12:00:00Z", [1, 2, 4, 3]),
    ("updated<7d", [1, 3, 4]),
    ("updated>7d", [2]),
    ("via:portal", [1, 2, 3]),
    ("via:web", [4]),
    ("solved>1d", []),
    ("solved<1d", [3]),
    # free text: subject, description, comments
    ("printer", [1, 3]),
    ("PRINTER", [1, 3]),
    ('"printer jam"', [1]),
    ('"jam printer"', []),
    ("tray", [1]),
    ("refund", [2]),
    ("printer globex", [3]),
    ("printer -globex", [1]),
    ('-"printer jam"', [2, 3, 4]),
    ("100%", [2]),
    ("%", [2]),
    ("_", []),
    ("nothing-matches-this", []),
    # combinations
    ("status<solved priority>normal", [1]),
    ("tags:billing status:pending assignee:me", [4]),
    ("org:acme printer", [1]),
]
NEGATED_SEARCHES = [
    ("-tags:billing", [1, 3]),
    ("-assignee:none", [1, 3, 4]),
    ("-status:open", [2, 3, 4]),
    ("-created<2021-01-01", [1, 2, 4]),
    # Tickets without a value are not excluded by a negated term about that value.
    ("-type:incident", [2, 3, 4]),
    ("-assignee:agent@guichet.test", [2, 3]),
    ('-group:"Tier 1"', [2, 3, 4]),
    ("-solved>2021-01-01", [1, 2, 4]),
]


async def test_agents_search_with_the_search_syntax(gql, agent, catalogue):
    found = {query: await search(gql, agent, query) for query, _ in SEARCHES}
    assert found == {query: sorted(expected) for query, expected in SEARCHES}


async def test_a_negated_term_excludes_what_it_matches(gql, agent, catalogue):
    found = {query: await search(gql, agent, query) for query, _ in NEGATED_SEARCHES}
    assert found == dict(NEGATED_SEARCHES)


async def test_assignee_me_is_the_viewer(gql, admin, agent, light_agent, catalogue):
    assert await search(gql, agent, "assignee:me") == [1, 4]
    assert await search(gql, admin, "assignee:me") == [3]
    assert await search(gql, light_agent, "assignee:me") == []


async def test_end_user_searches_only_what_they_may_see(gql, end_user, colleague, catalogue):
    for person in (end_user, colleague):
        assert await search(gql, person, "") == [1, 2, 4]
        assert await search(gql, person, "printer") == [1]  # not Globex's
        assert await search(gql, person, "org:globex") == []
        assert await search(gql, person, "status:solved") == []
        assert await search(gql, person, "refund") == [2]  # a public reply


async def test_end_user_cannot_find_a_ticket_by_a_word_of_an_internal_note(
    gql, agent, light_agent, end_user, colleague, catalogue
):
    for person in (end_user, colleague):
        assert await search(gql, person, "kangaroo") == []
        assert await search(gql, person, '"kangaroo ate"') == []
        # Excluding the word does not reveal it either.
        assert await search(gql, person, "-kangaroo") == [1, 2, 4]
    for person in (agent, light_agent):
        assert await search(gql, person, "kangaroo") == [2]
        assert await search(gql, person, "-kangaroo") == [1, 3, 4]


async def test_other_customers_find_nothing_of_acme(gql, other_customer, catalogue):
    assert await search(gql, other_customer, "") == [3]
    assert await search(gql, other_customer, "org:acme") == []
    assert await search(gql, other_customer, "requester:alice@acme.test") == []
    assert await search(gql, other_customer, "printer") == [3]


async def test_end_user_cannot_search_by_tags_or_groups(gql, end_user, group, catalogue):
    for filter, term in (
        ({"query": "tags:billing"}, "tags"),
        ({"tags": ["billing"]}, "tags"),
        ({"query": "-tag:billing"}, "tags"),
        ({"query": 'group:"Tier 1"'}, "group"),
        ({"query": "group:none"}, "group"),
        ({"groupId": group.id}, "groupId"),
    ):
        result = await gql(TICKETS, {"filter": filter}, as_=end_user)
        assert result["data"] is None
        assert error_codes(result) == ["BAD_USER_INPUT"], filter
        assert result["errors"][0]["extensions"]["term"] == term


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("status:bogus", "status:bogus"),
        ("printer colour:red", "colour:red"),
        ('"printer jam', '"printer jam'),
        ('group:"Tier 1', '"Tier 1'),
        ("created>yesterday", "created>yesterday"),
        ("created:2026-02-30", "created:2026-02-30"),
        ("priority<low", "priority<low"),
        ("type>incident", "type>incident"),
        ("assignee:", "assignee:"),
        ("requester:none", "requester:none"),
        ("updated:7d", "updated:7d"),
        ("x" * 1001, "x" * 1001),
        ("drop:table", "drop:table"),
        ('status:"open\'; DROP TABLE ticket; --"', 'status:"open\'; DROP TABLE ticket; --"'),
    ],
)
async def test_a_malformed_query_is_a_clear_error_naming_the_term(
    gql, agent, end_user, query, term
):
    for person in (agent, end_user):
        result = await gql(TICKETS, {"filter": {"query": query}}, as_=person)
        assert result["data"] is None
        assert error_codes(result) == ["BAD_USER_INPUT"], result
        error = result["errors"][0]
        assert error["extensions"]["term"] == term
        assert error["message"]
        assert "select" not in error["message"].lower()
        assert "ticket t" not in error["message"]


async def test_odd_characters_in_a_query_are_words_not_errors(gql, agent, catalogue):
    """Not errors, and harmless: the tickets are all still there afterwards."""
    queries = ("12:30", "été:x", "http://example.test/x", "'; DROP TABLE ticket; --", "\\")
    for query in (*queries, "a\\%b", "\u00ff", "é"):
        result = await gql(TICKETS, {"filter": {"query": query}}, as_=agent)
        assert "errors" not in result, (query, result)
    assert await search(gql, agent, "") == [1, 2, 3, 4]


async def test_a_nul_character_in_a_search_is_bad_user_input(gql, agent):
    result = await gql(TICKETS, {"filter": {"query": "printer jam\x00s"}}, as_=agent)
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["term"] == "jam\x00s"
    result = await gql(TICKETS, {"filter": {"tags": ["a\x00"]}}, as_=agent)
    assert error_codes(result) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- the filter's fields


async def test_agents_filter_by_each_field(
    gql, admin, agent, end_user, colleague, group, org, other_org, catalogue
):
    assert await filtered(gql, agent, status=["OPEN", "PENDING"]) == [1, 4]
    assert await filtered(gql, agent, priority=["LOW", "URGENT"]) == [2, 3]
    assert await filtered(gql, agent, type=["INCIDENT", "PROBLEM"]) == [1, 3]
    assert await filtered(gql, agent, assigneeId=agent.id) == [1, 4]
    assert await filtered(gql, agent, assigneeId=admin.id) == [3]
    assert await filtered(gql, agent, requesterId=end_user.id) == [1, 4]
    assert await filtered(gql, agent, requesterId=colleague.id) == [2]
    assert await filtered(gql, agent, groupId=group.id) == [1]
    assert await filtered(gql, agent, organizationId=org.id) == [1, 2, 4]
    assert await filtered(gql, agent, organizationId=other_org.id) == [3]
    assert await filtered(gql, agent, tags=["billing"]) == [2, 4]
    assert await filtered(gql, agent, tags=["Billing", "vpn"]) == [4]
    assert await filtered(gql, agent, createdAfter="2021-01-01T00:00:00Z") == [1, 2, 4]
    assert await filtered(gql, agent, createdBefore="2021-01-01T00:00:00Z") == [3]
    assert await filtered(gql, agent, status=[], priority=[]) == [1, 2, 3, 4]
    assert await filtered(gql, agent, status=["OPEN"], query="printer") == [1]


async def test_end_user_filters_stay_within_what_they_see(
    gql, end_user, other_customer, other_org, catalogue
):
    assert await filtered(gql, end_user, organizationId=other_org.id) == []
    assert await filtered(gql, end_user, requesterId=other_customer.id) == []
    assert await filtered(gql, end_user, status=["SOLVED"]) == []
    assert await filtered(gql, end_user, status=["OPEN", "NEW", "PENDING"]) == [1, 2, 4]


async def test_a_filter_with_a_malformed_id_is_bad_user_input(gql, agent, catalogue):
    for filter in ({"assigneeId": "bogus"}, {"groupId": agent.id}, {"requesterId": ""}):
        result = await gql(TICKETS, {"filter": filter}, as_=agent)
        assert error_codes(result) == ["BAD_USER_INPUT"], filter
    unknown = ids.encode("User", 999)
    assert await filtered(gql, agent, assigneeId=unknown) == []


# ---------------------------------------------------------------- sorting


@pytest.fixture
async def sortable(gql, agent, end_user) -> None:
    """Five tickets whose created/updated times, priorities and statuses differ:

    number  created  updated  priority  status
    1       day 3    day 1    HIGH      PENDING
    2       day 1    day 5    (none)    NEW
    3       day 5    day 2    LOW       SOLVED
    4       day 2    day 4    URGENT    OPEN
    5       day 4    day 3    NORMAL    ON_HOLD
    """
    plan = [
        (3, 1, "HIGH", "PENDING"),
        (1, 5, None, None),
        (5, 2, "LOW", "SOLVED"),
        (2, 4, "URGENT", "OPEN"),
        (4, 3, "NORMAL", "ON_HOLD"),
    ]
    for created, updated_day, priority, status in plan:
        ticket = await make_ticket(gql, end_user)
        if status:
            await updated(
                gql, agent, ticket["id"], priority=priority, assigneeId=agent.id, status=status
            )
        day = datetime(2026, 1, 1, tzinfo=UTC)
        await set_timestamps(
            ticket["number"],
            created_at=day + timedelta(days=created),
            updated_at=day + timedelta(days=updated_day),
        )


@pytest.mark.parametrize(
    ("field", "ascending"),
    [
        ("NUMBER", [1, 2, 3, 4, 5]),
        ("CREATED_AT", [2, 4, 1, 5, 3]),
        ("UPDATED_AT", [1, 3, 5, 4, 2]),
        ("PRIORITY", [2, 3, 5, 1, 4]),  # no priority first, then LOW < NORMAL < HIGH < URGENT
        ("STATUS", [2, 4, 1, 5, 3]),  # NEW < OPEN < PENDING < ON_HOLD < SOLVED
    ],
)
async def test_tickets_sort_by_each_field_both_ways(
    gql, agent, end_user, sortable, field, ascending
):
    for person in (agent, end_user):
        up = await list_tickets(gql, person, sort=[{"field": field, "direction": "ASC"}])
        assert numbers(up) == ascending
        down = await list_tickets(gql, person, sort=[{"field": field, "direction": "DESC"}])
        assert numbers(down) == ascending[::-1]


async def test_newest_tickets_come_first_by_default(gql, agent, sortable):
    assert numbers(await list_tickets(gql, agent)) == [3, 5, 1, 4, 2]


async def test_ties_are_broken_by_the_next_sort_then_by_creation_order(gql, agent, end_user):
    for priority in ("LOW", "HIGH", "LOW", "HIGH"):
        await make_ticket(gql, agent, requesterId=end_user.id, priority=priority)
    sort = [
        {"field": "PRIORITY", "direction": "DESC"},
        {"field": "NUMBER", "direction": "ASC"},
    ]
    assert numbers(await list_tickets(gql, agent, sort=sort)) == [2, 4, 1, 3]
    only_priority = [{"field": "PRIORITY", "direction": "ASC"}]
    assert numbers(await list_tickets(gql, agent, sort=only_priority)) == [1, 3, 2, 4]


# ---------------------------------------------------------------- pages


async def walk_forward(gql, person, size: int) -> list[list[int]]:
    pages, after = [], None
    while True:
        page = await list_tickets(gql, person, sort=BY_NUMBER, first=size, after=after)
        assert page["totalCount"] == 5
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages.append(numbers(page))
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]


async def walk_backward(gql, person, size: int) -> list[list[int]]:
    pages, before = [], None
    while True:
        page = await list_tickets(gql, person, sort=BY_NUMBER, last=size, before=before)
        assert page["totalCount"] == 5
        pages.append(numbers(page))
        if not page["pageInfo"]["hasPreviousPage"]:
            return pages
        before = page["pageInfo"]["startCursor"]
        assert before == page["edges"][0]["cursor"]


async def test_pages_forward_with_first_and_after(gql, agent, end_user):
    for _ in range(5):
        await make_ticket(gql, end_user)
    assert await walk_forward(gql, agent, 2) == [[1, 2], [3, 4], [5]]
    assert await walk_forward(gql, end_user, 5) == [[1, 2, 3, 4, 5]]


async def test_pages_backward_with_last_and_before(gql, agent, end_user):
    for _ in range(5):
        await make_ticket(gql, end_user)
    assert await walk_backward(gql, agent, 2) == [[4, 5], [2, 3], [1]]
    assert await walk_backward(gql, end_user, 10) == [[1, 2, 3, 4, 5]]


async def test_a_page_of_a_search_counts_the_whole_search(gql, agent, end_user):
    for subject in ("alpha", "beta", "alpha two", "alpha three"):
        await make_ticket(gql, end_user, subject=subject)
    page = await list_tickets(gql, agent, filter={"query": "alpha"}, sort=BY_NUMBER, first=2)
    assert (page["totalCount"], numbers(page)) == (3, [1, 3])
    rest = await list_tickets(
        gql, agent, filter={"query": "alpha"}, sort=BY_NUMBER, first=2,
        after=page["pageInfo"]["endCursor"],
    )  # fmt: skip
    assert (rest["totalCount"], numbers(rest), rest["pageInfo"]["hasNextPage"]) == (3, [4], False)


async def test_without_first_a_page_holds_twenty(gql, agent, end_user):
    for _ in range(21):
        await make_ticket(gql, end_user)
    page = await list_tickets(gql, agent)
    assert (page["totalCount"], len(page["edges"]), page["pageInfo"]["hasNextPage"]) == (
        21,
        20,
        True,
    )


async def test_total_count_alone_costs_no_edges(gql, agent, end_user):
    for _ in range(3):
        await make_ticket(gql, end_user)
    page = await list_tickets(gql, agent, first=0)
    assert (page["totalCount"], page["edges"]) == (3, [])


@pytest.mark.parametrize(
    "args",
    [
        {"first": 101},
        {"last": 101},
        {"first": -1},
        {"first": 1, "last": 1},
        {"after": "bogus"},
        {"before": "bogus", "last": 1},
        {"after": ids.encode("Ticket", 1)},
    ],
)
async def test_page_arguments_out_of_range_are_bad_user_input(gql, agent, end_user, args):
    await make_ticket(gql, end_user)
    result = await gql(TICKETS, args, as_=agent)
    assert result["data"] is None
    assert error_codes(result) == ["BAD_USER_INPUT"], result


async def test_a_page_of_100_is_allowed(gql, agent, end_user):
    await make_ticket(gql, end_user)
    assert (await list_tickets(gql, agent, first=100))["totalCount"] == 1
    assert (await list_tickets(gql, agent, last=100))["totalCount"] == 1


async def test_listing_tickets_needs_sign_in(gql):
    assert error_codes(await gql(TICKETS)) == ["UNAUTHENTICATED"]


async def test_approval_and_activity_terms_are_for_staff(gql, end_user, light_agent):
    from tests.resolvers.tickets_helpers import TICKETS

    for query in ("approval:pending", "activity:overdue"):
        refused = await gql(TICKETS, {"filter": {"query": query}}, as_=end_user)
        assert error_codes(refused) == ["BAD_USER_INPUT"], query
        allowed = await gql(TICKETS, {"filter": {"query": query}}, as_=light_agent)
        assert "errors" not in allowed, allowed
