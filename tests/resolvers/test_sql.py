"""The SQL composer (resolvers/sql/): each part's text, generated placeholders, shifted
conditions, the cache of texts per shape, and the same statements run on the database the
suite runs on (SQLite by default, PostgreSQL with GUICHET_TEST_DATABASE_URL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from guichet.models.db import dialect
from guichet.models.people import Role, User
from guichet.models.tickets import Ticket, TicketStatus
from guichet.resolvers import access, sql
from guichet.resolvers.people.people import USER
from guichet.resolvers.sql.dialects import _ordered
from guichet.resolvers.tickets.tickets import TICKET
from tests.seed import seed_people, seed_tickets


@dataclass
class Pair:
    pk: int
    name: str
    on: datetime | None


PAIR = sql.Table("pair", "p", Pair, "id", "name", ("on", sql.as_datetime))


# ---------------------------------------------------------------- tables


def test_a_table_declares_its_columns_once():
    assert PAIR.columns == "p.id, p.name, p.on"
    assert str(PAIR) == '"pair" p'
    assert PAIR.names == ("id", "name", "on")


def test_a_table_builds_its_rows_from_results_and_models():
    assert PAIR.row({"id": 1, "name": "a", "on": "2026-01-02 03:04:05"}) == Pair(
        1, "a", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )

    class Model:
        id, name, on = 2, "b", None

    assert PAIR.row_of(Model()) == Pair(2, "b", None)


def test_optional_reads_empty_values_as_none():
    status = sql.optional(TicketStatus)
    assert status("OPEN") is TicketStatus.OPEN
    assert status(None) is None
    assert status("") is None


# ---------------------------------------------------------------- parts and placeholders


def test_select_names_the_first_table_and_its_columns():
    assert sql.select(PAIR).text() == 'SELECT p.id, p.name, p.on FROM "pair" p'
    statement = sql.select("x.k", PAIR, from_=f"x JOIN {PAIR} ON p.id = x.p")
    assert statement.text() == 'SELECT x.k, p.id, p.name, p.on FROM x JOIN "pair" p ON p.id = x.p'


def test_values_are_numbered_in_text_order():
    statement = sql.select(PAIR).where("p.id > ?", "p.name = ?").order("p.id").page()
    assert statement.text() == (
        'SELECT p.id, p.name, p.on FROM "pair" p WHERE p.id > $1 AND p.name = $2'
        " ORDER BY p.id LIMIT $3 OFFSET $4"
    )
    assert statement.bind([1, "a", 10, 20]) == ((), [1, "a", 10, 20])


def test_among_takes_one_placeholder_per_value():
    statement = sql.select(PAIR).where(sql.among("p.id"), "p.name = ?")
    shape, params = statement.bind([[7, 8, 9], "a"])
    assert shape == (3,)
    assert params == [7, 8, 9, "a"]
    assert statement.text(shape).endswith("WHERE p.id IN ($1, $2, $3) AND p.name = $4")
    assert statement.text((0,)).endswith("WHERE p.id IN (NULL) AND p.name = $1")


def test_given_conditions_are_shifted_into_place():
    statement = sql.select(PAIR).where("p.name = ?", sql.GIVEN, "p.id < ?").limit()
    given = ("(p.id = $1 OR p.id IN (SELECT 1 WHERE $1 = $2))", [5, 6])
    shape, params = statement.bind(["a", given, 9, 10])
    assert params == ["a", 5, 6, 9, 10]
    assert statement.text(shape).endswith(
        "WHERE p.name = $1 AND (p.id = $2 OR p.id IN (SELECT 1 WHERE $2 = $3))"
        " AND p.id < $4 LIMIT $5"
    )
    # A plain str takes no value.
    shape, params = statement.bind(["a", "TRUE", 9, 10])
    assert statement.text(shape).endswith("WHERE p.name = $1 AND TRUE AND p.id < $2 LIMIT $3")


def test_group_then_and_subqueries():
    inner = sql.select("p.name", "COUNT(*) AS n", from_=PAIR).where("p.id > ?").group("p.name")
    outer = sql.select("*", from_=inner.as_("counted")).where("n > ?").then("FOR UPDATE")
    assert outer.text() == (
        'SELECT * FROM (SELECT p.name, COUNT(*) AS n FROM "pair" p WHERE p.id > $1'
        " GROUP BY p.name) counted WHERE n > $2 FOR UPDATE"
    )
    assert sql.count(PAIR).where("p.id = ?").text() == (
        'SELECT COUNT(*) AS total FROM "pair" p WHERE p.id = $1'
    )
    write = sql.statement("UPDATE pair SET name = ?").where(sql.among("id")).then("RETURNING id")
    assert write.text((2,)) == "UPDATE pair SET name = $1 WHERE id IN ($2, $3) RETURNING id"


def test_a_statement_takes_exactly_its_values():
    with pytest.raises(TypeError):
        sql.select(PAIR).where("p.id = ?").bind([])


def test_where_numbers_conditions_chosen_at_run_time():
    where = sql.Where()
    assert where.sql() == "TRUE"
    where.add("p.id > ?", 3)
    where.given(("p.name = $1 OR p.name = $2", ["a", "b"]))
    where.given("p.on IS NULL")
    where.add("(p.id = ? OR p.id = ?)", 4, 5)
    assert where.part == (
        "p.id > $1 AND p.name = $2 OR p.name = $3 AND p.on IS NULL AND (p.id = $4 OR p.id = $5)",
        [3, "a", "b", 4, 5],
    )
    with pytest.raises(TypeError):
        where.add("p.id = ?")


def test_like_pattern_takes_wildcards_literally():
    assert sql.like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


# ---------------------------------------------------------------- dialects and cache


def test_sqlite_gets_question_marks_and_its_values_in_order():
    statement = sql.select(PAIR).where(sql.GIVEN, "p.id > ?")
    shape, _ = statement.bind([("(p.id = $1 OR $1 = $2)", [1, 2]), 3])
    text, order = statement._compiled("sqlite", shape)
    assert text.endswith("WHERE (p.id = ? OR ? = ?) AND p.id > ?")
    assert order == (0, 0, 1, 2)
    assert _ordered([1, 2, 3], order) == [1, 1, 2, 3]
    assert _ordered([datetime(2026, 1, 2, tzinfo=UTC), True], (0, 1)) == [
        "2026-01-02 00:00:00+00:00",
        1,
    ]
    assert statement._compiled("postgres", shape) == (statement.text(shape), None)


def test_each_shape_is_built_once(monkeypatch):
    statement = sql.select(PAIR).where(sql.among("p.id"), sql.GIVEN)
    built = []
    original = sql.Statement.text

    def counting(self, shape=()):
        built.append(shape)
        return original(self, shape)

    monkeypatch.setattr(sql.Statement, "text", counting)
    for _ in range(3):
        for keys in ([1], [1, 2], [3]):
            shape, _ = statement.bind([keys, "TRUE"])
            first = statement._compiled("postgres", shape)
            assert statement._compiled("postgres", shape) is first
    assert built == [(1, "TRUE"), (2, "TRUE")]


# ---------------------------------------------------------------- on the database


async def test_select_where_order_page_match_the_orm(app):
    customers, agents = await seed_people(customers=6, agents=2)
    everyone = [*customers, *agents]
    statement = sql.select(USER).where(sql.among("u.id"), "u.role = ?").order("u.id DESC").page()
    rows = await statement.fetch([u.id for u in everyone], Role.END_USER.value, 3, 1)
    expected = (
        await User.filter(id__in=[u.id for u in everyone], role=Role.END_USER)
        .order_by("-id")
        .offset(1)
        .limit(3)
    )
    assert [USER.row(r).pk for r in rows] == [u.id for u in expected]
    assert [USER.row(r).email_address for r in rows] == [u.email for u in expected]
    assert await statement.fetch([], Role.END_USER.value, 3, 0) == []


async def test_given_access_conditions_match_the_orm(app, agent, end_user):
    customers, agents = await seed_people(customers=2, agents=2)
    requester = await User.get(id=end_user.row.pk)
    mine = await seed_tickets(
        requesters=[requester], agents=agents, tickets=3, comments_per_ticket=0
    )
    others = await seed_tickets(
        requesters=customers, agents=agents, tickets=3, comments_per_ticket=0
    )
    keys = [t.id for t in [*mine, *others]]
    statement = sql.select(TICKET).where(sql.among("t.id"), sql.GIVEN, "t.number > ?")
    for person, expected in ((end_user, mine), (agent, [*mine, *others])):
        visible = access.visible_tickets_condition(person.viewer, "t", 1)
        rows = await statement.fetch(keys, visible, 0)
        assert sorted(TICKET.row(r).pk for r in rows) == sorted(t.id for t in expected)


async def test_datetimes_compare_alike_on_both_databases(app):
    customers, agents = await seed_people(customers=1, agents=1)
    seeded = await seed_tickets(
        requesters=customers, agents=agents, tickets=2, comments_per_ticket=0
    )
    moment = datetime.now(UTC) + timedelta(days=1)
    await Ticket.filter(id=seeded[0].id).update(created_at=moment)
    statement = sql.select("t.id", from_=TICKET).where(sql.among("t.id"), "t.created_at >= ?")
    rows = await statement.fetch([t.id for t in seeded], moment - timedelta(seconds=1))
    assert [r["id"] for r in rows] == [seeded[0].id]


async def test_writes_count_return_and_upsert(app):
    customers, _ = await seed_people(customers=3, agents=0)
    rename = (
        sql.statement('UPDATE "user" SET name = ?')
        .where(sql.among("id"), "name <> ?")
        .then("RETURNING id")
    )
    pks = [u.id for u in customers]
    assert sorted(r["id"] for r in await rename.fetch("Same", pks, "Same")) == sorted(pks)
    assert await rename.execute("Same", pks, "Same") == 0
    upsert = sql.statement(
        "INSERT INTO login_throttle (email, attempts, window_started_at) VALUES (?, 1, ?)",
        "ON CONFLICT (email) DO UPDATE SET attempts = login_throttle.attempts + 1",
        "RETURNING attempts",
    )
    now = datetime.now(UTC)
    assert [r["attempts"] for r in await upsert.fetch("x@example.test", now)] == [1]
    assert [r["attempts"] for r in await upsert.fetch("x@example.test", now)] == [2]
    forget = sql.statement("DELETE FROM login_throttle").where("email = ?")
    assert await forget.execute("x@example.test") == 1


async def test_like_patterns_match_literally(app):
    customers, _ = await seed_people(customers=2, agents=0)
    await User.filter(id=customers[0].id).update(name="Half_Price 50%")
    await User.filter(id=customers[1].id).update(name="HalfXPrice 50 off")
    statement = sql.select("u.id", from_=USER).where("LOWER(u.name) LIKE ? ESCAPE '\\'")
    assert [r["id"] for r in await statement.fetch(sql.like_pattern("f_price 50%"))] == [
        customers[0].id
    ]


async def test_the_dialect_is_the_one_the_suite_runs_on(app):
    expected = "postgres" if "postgres" in str(app.state.settings.database_url) else "sqlite"
    assert dialect() == expected
