"""Database faults under a request: a lost race runs again, an outage says so."""

from __future__ import annotations

import asyncio
import sqlite3

from asyncpg.exceptions import DeadlockDetectedError, SerializationError
from tortoise.exceptions import OperationalError

from guichet.models.db import is_conflict, is_unreachable
from guichet.resolvers.people import auth
from guichet.schema import faults
from tests.conftest import error_codes
from tests.resolvers.time_helpers import logged, ticket_for
from tests.resolvers.work.test_time_billing import bill

LOGOUT = "mutation { logout { errors { code } } }"


def _wrapped(cause: Exception) -> OperationalError:
    """As Tortoise raises the driver's errors: wrapped, the driver's as the cause."""
    try:
        raise OperationalError(str(cause)) from cause
    except OperationalError as error:
        return error


def test_deadlocks_serialization_failures_and_a_busy_sqlite_are_conflicts():
    assert is_conflict(_wrapped(DeadlockDetectedError("deadlock detected")))
    assert is_conflict(_wrapped(SerializationError("could not serialize access")))
    assert is_conflict(sqlite3.OperationalError("database is locked"))
    assert not is_conflict(_wrapped(sqlite3.IntegrityError("UNIQUE constraint failed")))
    assert not is_conflict(ValueError("a bug"))


def test_refused_and_reset_connections_are_an_unreachable_database():
    assert is_unreachable(ConnectionRefusedError(111, "Connect call failed"))
    assert is_unreachable(_wrapped(ConnectionResetError(104, "reset by peer")))
    assert not is_unreachable(FileNotFoundError(2, "no such file"))
    assert not is_unreachable(ValueError("a bug"))


async def test_a_mutation_that_lost_a_race_runs_again(gql, agent, monkeypatch):
    real_logout = auth.logout
    attempts = []

    async def collides_twice(*args, **kwargs):
        attempts.append(1)
        if len(attempts) < faults.CONFLICT_RETRIES:
            raise _wrapped(DeadlockDetectedError("deadlock detected"))
        return await real_logout(*args, **kwargs)

    monkeypatch.setattr(auth, "logout", collides_twice)
    answer = await gql(LOGOUT, as_=agent)
    assert answer == {"data": {"logout": {"errors": []}}}
    assert len(attempts) == faults.CONFLICT_RETRIES


async def test_a_mutation_that_keeps_losing_answers_conflict_not_unexpected(
    gql, agent, monkeypatch
):
    async def always_collides(*args, **kwargs):
        raise _wrapped(SerializationError("could not serialize access"))

    monkeypatch.setattr(auth, "logout", always_collides)
    answer = await gql(LOGOUT, as_=agent)
    assert error_codes(answer) == ["CONFLICT"]
    assert answer["errors"][0]["extensions"]["retryable"] is True
    assert "Send it again" in answer["errors"][0]["message"]


async def test_overlapping_invoice_runs_never_fail_nor_bill_twice(
    gql, admin, owner, agent, end_user
):
    ticket = await ticket_for(gql, agent, end_user)
    entries = [await logged(gql, agent, ticket["id"], m, billable=True) for m in range(1, 31)]
    entry_ids = [e["id"] for e in entries]
    first, second = await asyncio.gather(
        bill(gql, admin, entry_ids[:20], "INV-A"), bill(gql, owner, entry_ids[10:][::-1], "INV-B")
    )
    for answer in (first, second):
        assert "errors" not in answer, answer  # never a deadlock nor "Unexpected error."
    outcomes = [first["data"]["markBilled"], second["data"]["markBilled"]]
    assert sorted(bool(o["errors"]) for o in outcomes) == [False, True]
