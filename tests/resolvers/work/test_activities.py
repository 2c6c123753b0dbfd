"""Activities: who adds, reads and changes them, and every rule, from each role's side.
Reminders firing are in test_activity_reminders.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from guichet.models.activities import Activity
from guichet.models.people import User
from guichet.models.tickets import TicketEvent, TicketEventKind
from guichet.resolvers import ids
from guichet.resolvers.context import Context
from guichet.resolvers.work import activities
from tests.conftest import error_codes
from tests.resolvers.tickets_helpers import history_of, make_ticket

ACTIVITY = """
  id kind subject description dueAt remindAt reminderChannels remindedAt completed completedAt
  createdAt ticket { id number } owner { id } createdBy { id }
"""
ADD = f"""mutation($input: AddActivityInput!) {{
  addActivity(input: $input) {{ activity {{ {ACTIVITY} }} errors {{ code field message }} }}
}}"""
UPDATE = f"""mutation($input: UpdateActivityInput!) {{
  updateActivity(input: $input) {{ activity {{ {ACTIVITY} }} errors {{ code field message }} }}
}}"""
MINE = """query($completed: Boolean, $first: Int, $after: String) {
  myActivities(completed: $completed, first: $first, after: $after) { id subject }
}"""
OF_TICKET = "query($n: Int!) { ticket(number: $n) { number activities { id subject } } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Activity { subject owner { id } } } }"
PHONE = "+33612345678"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def add(gql, person, ticket: dict, **fields: Any) -> dict:
    """The addActivity payload, errors included."""
    request = {"ticketId": ticket["id"], "kind": "TASK", "subject": "Call back", **fields}
    result = await gql(ADD, {"input": request}, as_=person)
    assert "errors" not in result, result
    return result["data"]["addActivity"]


async def added(gql, person, ticket: dict, **fields: Any) -> dict:
    payload = await add(gql, person, ticket, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["activity"]


async def update(gql, person, activity: dict, **fields: Any) -> dict:
    result = await gql(UPDATE, {"input": {"id": activity["id"], **fields}}, as_=person)
    assert "errors" not in result, result
    return result["data"]["updateActivity"]


async def updated(gql, person, activity: dict, **fields: Any) -> dict:
    payload = await update(gql, person, activity, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["activity"]


async def give_phone(person, phone: str | None = PHONE) -> None:
    await User.filter(id=person.row.pk).update(phone=phone)


@pytest.fixture
async def ticket(gql, agent, end_user) -> dict:
    return await make_ticket(gql, agent, requesterId=end_user.id)


# ---------------------------------------------------------------- who


async def test_light_agent_adds_an_activity_they_own(gql, light_agent, end_user, ticket):
    due = later(days=2)
    activity = await added(
        gql, light_agent, ticket, kind="CALL", subject="  Call Alice  ", description="About it.",
        dueAt=due,
    )  # fmt: skip
    assert activity["kind"] == "CALL" and activity["subject"] == "Call Alice"
    assert activity["description"] == "About it."
    assert datetime.fromisoformat(activity["dueAt"]) == datetime.fromisoformat(due)
    assert activity["owner"] == activity["createdBy"] == {"id": light_agent.id}
    assert activity["ticket"] == {"id": ticket["id"], "number": ticket["number"]}
    assert (activity["completed"], activity["completedAt"], activity["remindAt"]) == (
        False, None, None,
    )  # fmt: skip
    assert activity["reminderChannels"] == []
    event = await TicketEvent.get(kind=TicketEventKind.ACTIVITY_ADDED)
    assert (event.actor_id, event.public, event.via) == (light_agent.row.pk, False, "WEB")
    assert orjson.loads(event.data)["activity"] == activity["id"]
    kinds = [
        e["node"]["kind"] for e in (await history_of(gql, end_user, ticket["number"]))["edges"]
    ]
    assert "ACTIVITY_ADDED" not in kinds


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_every_staff_role_adds_and_updates_activities(gql, everyone, ticket, role):
    person = everyone[role]
    activity = await added(gql, person, ticket, kind="EVENT")
    assert (await updated(gql, person, activity, subject="Meeting"))["subject"] == "Meeting"
    assert (await updated(gql, person, activity, completed=True))["completed"] is True


async def test_end_user_cannot_add_activities(gql, end_user, ticket):
    own = await make_ticket(gql, end_user)
    for target in (ticket, own):
        result = await gql(
            ADD, {"input": {"ticketId": target["id"], "kind": "TASK", "subject": "x"}}, as_=end_user
        )
        assert error_codes(result) == ["FORBIDDEN"]
    assert not await Activity.exists()


async def test_end_user_cannot_update_activities(gql, agent, end_user, ticket):
    activity = await added(gql, agent, ticket)
    for fields in ({"subject": "Mine now"}, {"completed": True}, {"ownerId": end_user.id}):
        result = await gql(UPDATE, {"input": {"id": activity["id"], **fields}}, as_=end_user)
        assert error_codes(result) == ["FORBIDDEN"]
    stored = await Activity.get()
    assert (stored.subject, stored.completed_at, stored.owner_id) == (
        "Call back",
        None,
        agent.row.pk,
    )


async def test_end_user_cannot_read_activities(gql, agent, end_user, ticket):
    activity = await added(gql, agent, ticket, ownerId=agent.id)
    result = await gql(OF_TICKET, {"n": ticket["number"]}, as_=end_user)
    assert result["data"]["ticket"] == {"number": ticket["number"], "activities": None}
    assert error_codes(result) == ["FORBIDDEN"]
    assert error_codes(await gql(MINE, as_=end_user)) == ["FORBIDDEN"]
    result = await gql(NODE, {"id": activity["id"]}, as_=end_user)
    assert result == {"data": {"node": None}}


@pytest.mark.parametrize("role", ["LIGHT_AGENT", "AGENT", "ADMIN", "OWNER"])
async def test_staff_read_activities_of_a_ticket_and_by_id(gql, everyone, agent, ticket, role):
    activity = await added(gql, agent, ticket)
    result = await gql(OF_TICKET, {"n": ticket["number"]}, as_=everyone[role])
    assert result["data"]["ticket"]["activities"] == [
        {"id": activity["id"], "subject": "Call back"}
    ]
    node = (await gql(NODE, {"id": activity["id"]}, as_=everyone[role]))["data"]["node"]
    assert node == {"id": activity["id"], "subject": "Call back", "owner": {"id": agent.id}}


async def test_an_unknown_ticket_or_activity_is_not_found(gql, light_agent, ticket):
    for ticket_id in ("nope", ids.encode("Ticket", 999), ids.encode("User", 1)):
        result = await gql(
            ADD, {"input": {"ticketId": ticket_id, "kind": "TASK", "subject": "x"}}, as_=light_agent
        )
        assert error_codes(result) == ["NOT_FOUND"]
    for activity_id in ("nope", ids.encode("Activity", 999), ticket["id"]):
        result = await gql(UPDATE, {"input": {"id": activity_id, "subject": "x"}}, as_=light_agent)
        assert error_codes(result) == ["NOT_FOUND"]
    assert (await gql(NODE, {"id": ids.encode("Activity", 999)}, as_=light_agent)) == {
        "data": {"node": None}
    }


# ---------------------------------------------------------------- the owner


async def test_the_owner_may_be_another_member_of_staff(gql, agent, light_agent, ticket):
    activity = await added(gql, agent, ticket, ownerId=light_agent.id)
    assert activity["owner"] == {"id": light_agent.id}
    assert activity["createdBy"] == {"id": agent.id}


async def test_an_unknown_owner_is_a_not_found_error(gql, agent, ticket):
    for owner_id in ("garbage", ids.encode("User", 999), ticket["id"]):
        payload = await add(gql, agent, ticket, ownerId=owner_id)
        assert codes(payload) == [("NOT_FOUND", ["input", "ownerId"])]
        assert payload["activity"] is None
    activity = await added(gql, agent, ticket)
    payload = await update(gql, agent, activity, ownerId=ids.encode("User", 999))
    assert codes(payload) == [("NOT_FOUND", ["input", "ownerId"])]
    assert not await Activity.filter(owner_id=999).exists()


async def test_an_end_user_cannot_own_an_activity(gql, agent, end_user, ticket):
    payload = await add(gql, agent, ticket, ownerId=end_user.id)
    assert codes(payload) == [("OWNER_NOT_STAFF", ["input", "ownerId"])]
    activity = await added(gql, agent, ticket)
    payload = await update(gql, agent, activity, ownerId=end_user.id)
    assert codes(payload) == [("OWNER_NOT_STAFF", ["input", "ownerId"])]
    assert await Activity.filter(owner_id=agent.row.pk).count() == 1


async def test_the_owner_changes_only_when_changed_explicitly(
    gql, agent, admin, light_agent, ticket
):
    activity = await added(gql, agent, ticket, ownerId=light_agent.id)
    edited = await updated(gql, admin, activity, subject="Edited by the admin", completed=True)
    assert edited["owner"] == {"id": light_agent.id}
    assert (await updated(gql, admin, activity, ownerId=admin.id))["owner"] == {"id": admin.id}
    payload = await update(gql, agent, activity, ownerId=None)
    assert codes(payload) == [("REQUIRED", ["input", "ownerId"])]


# ---------------------------------------------------------------- fields


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"subject": ""}, ("REQUIRED", ["input", "subject"])),
        ({"subject": "   "}, ("REQUIRED", ["input", "subject"])),
        ({"subject": "x" * 251}, ("TOO_LONG", ["input", "subject"])),
        ({"subject": "a\x00b"}, ("INVALID", ["input", "subject"])),
        ({"description": "x" * (64 * 1024 + 1)}, ("TOO_LONG", ["input", "description"])),
        ({"description": "a\x00b"}, ("INVALID", ["input", "description"])),
    ],
)
async def test_bad_subjects_and_descriptions_are_refused(gql, agent, ticket, fields, expected):
    assert codes(await add(gql, agent, ticket, **fields)) == [expected]
    activity = await added(gql, agent, ticket, subject="x" * 250, description="y" * 64 * 1024)
    assert codes(await update(gql, agent, activity, **fields)) == [expected]
    assert await Activity.all().count() == 1
    assert await TicketEvent.filter(kind=TicketEventKind.ACTIVITY_ADDED).count() == 1


async def test_only_given_fields_change_and_null_clears(gql, agent, ticket):
    activity = await added(
        gql, agent, ticket, kind="CALL", description="Notes", dueAt=later(days=1)
    )
    same = await updated(gql, agent, activity, subject="New subject")
    assert (same["kind"], same["description"], same["dueAt"]) == (
        "CALL", "Notes", activity["dueAt"],
    )  # fmt: skip
    cleared = await updated(gql, agent, activity, description=None, dueAt=None)
    assert (cleared["description"], cleared["dueAt"], cleared["subject"]) == (
        None, None, "New subject",
    )  # fmt: skip
    assert codes(await update(gql, agent, activity, subject=None)) == [
        ("REQUIRED", ["input", "subject"])
    ]


async def test_completing_marks_done_and_reopening_undoes_it(gql, agent, light_agent, ticket):
    activity = await added(gql, agent, ticket)
    done = await updated(gql, light_agent, activity, completed=True)
    assert done["completed"] is True and done["completedAt"] is not None
    again = await updated(gql, agent, activity, completed=True)
    assert again["completedAt"] == done["completedAt"]
    events = await TicketEvent.filter(kind=TicketEventKind.ACTIVITY_COMPLETED)
    assert [(e.actor_id, e.public) for e in events] == [(light_agent.row.pk, False)]
    assert orjson.loads(events[0].data)["activity"] == activity["id"]
    reopened = await updated(gql, agent, activity, completed=False)
    assert (reopened["completed"], reopened["completedAt"]) == (False, None)


# ---------------------------------------------------------------- reminder rules


async def test_a_remind_time_must_be_in_the_future(gql, agent, ticket):
    for when in (later(minutes=-1), later(days=-30)):
        payload = await add(gql, agent, ticket, remindAt=when, reminderChannels=["POPUP"])
        assert codes(payload) == [("REMIND_AT_IN_PAST", ["input", "remindAt"])]
    activity = await added(gql, agent, ticket)
    payload = await update(
        gql, agent, activity, remindAt=later(seconds=-1), reminderChannels=["EMAIL"]
    )
    assert codes(payload) == [("REMIND_AT_IN_PAST", ["input", "remindAt"])]
    armed = await added(gql, agent, ticket, remindAt=later(hours=1), reminderChannels=["POPUP"])
    assert armed["reminderChannels"] == ["POPUP"] and armed["remindedAt"] is None


async def test_channels_and_time_go_together(gql, agent, ticket):
    payload = await add(gql, agent, ticket, reminderChannels=["EMAIL"])
    assert codes(payload) == [("CHANNELS_WITHOUT_TIME", ["input", "remindAt"])]
    for channels in (None, []):
        payload = await add(gql, agent, ticket, remindAt=later(hours=1), reminderChannels=channels)
        assert codes(payload) == [("TIME_WITHOUT_CHANNELS", ["input", "reminderChannels"])]
    activity = await added(gql, agent, ticket)
    payload = await update(gql, agent, activity, reminderChannels=["POPUP"])
    assert codes(payload) == [("CHANNELS_WITHOUT_TIME", ["input", "remindAt"])]
    payload = await update(gql, agent, activity, remindAt=later(hours=1))
    assert codes(payload) == [("TIME_WITHOUT_CHANNELS", ["input", "reminderChannels"])]
    armed = await updated(
        gql, agent, activity, remindAt=later(hours=1), reminderChannels=["POPUP", "EMAIL", "POPUP"]
    )
    assert armed["reminderChannels"] == ["EMAIL", "POPUP"]
    payload = await update(gql, agent, activity, reminderChannels=[])
    assert codes(payload) == [("TIME_WITHOUT_CHANNELS", ["input", "reminderChannels"])]
    assert [a.reminder_channels for a in await Activity.all()] == ["EMAIL,POPUP"]


async def test_sms_needs_an_owner_with_a_phone(gql, agent, light_agent, admin, ticket):
    sms = {"remindAt": later(hours=1), "reminderChannels": ["SMS"]}
    payload = await add(gql, agent, ticket, **sms)
    assert codes(payload) == [("OWNER_HAS_NO_PHONE", ["input", "reminderChannels"])]
    await give_phone(light_agent)
    payload = await add(gql, agent, ticket, ownerId=admin.id, **sms)
    assert codes(payload) == [("OWNER_HAS_NO_PHONE", ["input", "reminderChannels"])]
    activity = await added(gql, agent, ticket, ownerId=light_agent.id, **sms)
    assert activity["reminderChannels"] == ["SMS"]
    # A pending SMS reminder cannot pass to an owner without a phone…
    payload = await update(gql, agent, activity, ownerId=admin.id)
    assert codes(payload) == [("OWNER_HAS_NO_PHONE", ["input", "reminderChannels"])]
    # …but once the reminder is gone, it can.
    moved = await updated(gql, agent, activity, ownerId=admin.id, remindAt=None)
    assert (moved["owner"], moved["reminderChannels"]) == ({"id": admin.id}, [])


async def test_removing_the_remind_time_removes_the_reminder(gql, agent, ticket):
    activity = await added(
        gql, agent, ticket, remindAt=later(hours=1), reminderChannels=["EMAIL", "POPUP"]
    )
    removed = await updated(gql, agent, activity, remindAt=None)
    assert (removed["remindAt"], removed["reminderChannels"]) == (None, [])
    stored = await Activity.get()
    assert (stored.remind_at, stored.reminder_channels, stored.reminded_at) == (None, "", None)
    payload = await update(gql, agent, activity, remindAt=None, reminderChannels=["EMAIL"])
    assert codes(payload) == [("CHANNELS_WITHOUT_TIME", ["input", "remindAt"])]


async def test_completing_cancels_the_reminder(gql, agent, ticket):
    activity = await added(gql, agent, ticket, remindAt=later(hours=1), reminderChannels=["POPUP"])
    done = await updated(gql, agent, activity, completed=True)
    assert (done["remindAt"], done["reminderChannels"]) == (None, [])
    payload = await update(
        gql, agent, activity, remindAt=later(hours=2), reminderChannels=["POPUP"]
    )
    assert codes(payload) == [("REMINDER_ON_COMPLETED", ["input", "remindAt"])]
    payload = await update(
        gql, agent, activity, completed=True, remindAt=later(hours=2), reminderChannels=["POPUP"]
    )
    assert codes(payload) == [("REMINDER_ON_COMPLETED", ["input", "remindAt"])]
    reopened = await updated(
        gql, agent, activity, completed=False, remindAt=later(hours=2), reminderChannels=["POPUP"]
    )
    assert (reopened["completed"], reopened["reminderChannels"]) == (False, ["POPUP"])


# ---------------------------------------------------------------- lists


async def _spread(gql, agent, light_agent, ticket) -> list[str]:
    """Activities of `agent`, due in this order: in 1 h, 2 h, 2 h, 3 h, none, none."""
    due = [2, None, 1, 3, None, 2]
    made = [
        await added(gql, agent, ticket, subject=f"A{i}", dueAt=later(hours=h) if h else None)
        for i, h in enumerate(due)
    ]
    await added(gql, light_agent, ticket, subject="Not mine", dueAt=later(minutes=1))
    # Equal due times must compare equal: give the two "2 h" activities the same instant.
    await Activity.filter(subject="A5").update(due_at=(await Activity.get(subject="A0")).due_at)
    return [made[i]["subject"] for i in (2, 0, 5, 3, 1, 4)]


async def test_my_activities_come_soonest_due_first(gql, agent, light_agent, ticket):
    expected = await _spread(gql, agent, light_agent, ticket)
    mine = (await gql(MINE, as_=agent))["data"]["myActivities"]
    assert [a["subject"] for a in mine] == expected
    of_ticket = (await gql(OF_TICKET, {"n": ticket["number"]}, as_=agent))["data"]["ticket"]
    assert [a["subject"] for a in of_ticket["activities"]] == ["Not mine", *expected]
    pages, after = [], None
    while True:
        page = (await gql(MINE, {"first": 2, "after": after}, as_=agent))["data"]["myActivities"]
        if not page:
            break
        pages.append([a["subject"] for a in page])
        after = page[-1]["id"]
    assert pages == [expected[0:2], expected[2:4], expected[4:6]]


async def test_my_activities_filter_on_completion(gql, agent, light_agent, ticket):
    expected = await _spread(gql, agent, light_agent, ticket)
    done = await Activity.get(subject=expected[1])
    await updated(gql, agent, {"id": ids.encode("Activity", done.id)}, completed=True)
    for completed, subjects in (
        (True, [expected[1]]),
        (False, [s for s in expected if s != expected[1]]),
        (None, expected),
    ):
        mine = (await gql(MINE, {"completed": completed}, as_=agent))["data"]["myActivities"]
        assert [a["subject"] for a in mine] == subjects


async def test_my_activities_refuse_a_foreign_or_malformed_after(gql, agent, light_agent, ticket):
    theirs = await added(gql, light_agent, ticket)
    for after in (theirs["id"], "garbage", ticket["id"]):
        assert error_codes(await gql(MINE, {"after": after}, as_=agent)) == ["BAD_USER_INPUT"]
    assert error_codes(await gql(MINE, {"first": 101}, as_=agent)) == ["BAD_USER_INPUT"]


async def test_activity_reads_match_the_orm(app, gql, agent, light_agent, ticket):
    await _spread(gql, agent, light_agent, ticket)
    other = await make_ticket(gql, agent, subject="Other")
    await added(gql, agent, other, subject="B")
    context = Context(app.state.settings, agent.viewer, app.state.bus)
    pks = [ids.decode_as(t["id"], "Ticket") for t in (ticket, other)]
    by_ticket = await activities.activities_by_ticket(context, [*pks, 999])
    for pk, rows in zip(pks, by_ticket, strict=False):
        orm = await Activity.filter(ticket_id=pk).order_by("id")
        ordered = sorted(orm, key=lambda a: (a.due_at is None, a.due_at or EPOCH, a.id))
        assert [r.pk for r in rows] == [a.id for a in ordered]
        assert [(r.subject, r.due_at, r.owner_id) for r in rows] == [
            (a.subject, a.due_at, a.owner_id) for a in ordered
        ]
    assert by_ticket[2] == []
    every = await Activity.all().order_by("-id").values_list("id", flat=True)
    assert [r.pk for r in await activities.activities_by_id(context, [*every, 999]) if r] == every
    mine = await activities.my_activities(context, completed=None, after=None, limit=100)
    expected = await Activity.filter(owner_id=agent.row.pk)
    expected.sort(key=lambda a: (a.due_at is None, a.due_at or EPOCH, a.id))
    assert [r.pk for r in mine] == [a.id for a in expected]
