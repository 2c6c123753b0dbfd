"""Demo work around the tickets: approvals in every state, activities (one due soon, with
a reminder), time across agents and organizations, a resolution published to the help
center, and satisfaction ratings. Written through the same rules as the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guichet.models.activities import ActivityKind, ReminderChannel
from guichet.models.people import User
from guichet.models.resolutions import SatisfactionScore
from guichet.models.tickets import Ticket
from guichet.resolvers import ids
from guichet.resolvers.approvals import approval_decisions
from guichet.resolvers.work import (
    activity_changes,
    resolutions,
    satisfaction,
    time_billing,
    time_tracking,
)
from guichet.server.demo_tickets import _viewer


def _user_id(people: dict[str, User], email: str) -> str:
    return ids.encode("User", people[email].id)


async def load_demo_work() -> None:
    people = {u.email: u for u in await User.all()}
    tickets = {t.number: ids.encode("Ticket", t.id) for t in await Ticket.all()}
    agnes, bruno = _viewer(people["agnes@guichet.test"]), _viewer(people["bruno@guichet.test"])
    admin, owner = _viewer(people["admin@guichet.test"]), _viewer(people["owner@guichet.test"])

    # Approvals: approved, denied, pending with an agent, pending with a customer.
    vat = await approval_decisions.request_approval(
        bruno, ticket_id=tickets[3], approver_ids=[_user_id(people, "admin@guichet.test")],
        subject="Refund the VAT difference (€412)",
        message="Globex was invoiced at the standard rate for March; they qualify for the reduced one.",
    )  # fmt: skip
    await approval_decisions.respond(
        admin, approval_id=vat.id, decision="APPROVE", comment="Approved, refund this month."
    )
    monitor = await approval_decisions.request_approval(
        bruno, ticket_id=tickets[4], approver_ids=[_user_id(people, "owner@guichet.test")],
        subject="Buy a 27-inch monitor (€320)", message="The new designer at Acme needs a second screen.",
    )  # fmt: skip
    await approval_decisions.respond(
        owner, approval_id=monitor.id, decision="DENY", comment="Use the spare one in storage."
    )
    await approval_decisions.request_approval(
        agnes, ticket_id=tickets[2], approver_ids=[_user_id(people, "admin@guichet.test")],
        subject="Allow VPN split tunnelling for Acme", message="It would stop the hourly disconnections.",
    )  # fmt: skip
    await approval_decisions.request_approval(
        agnes, ticket_id=tickets[1], approver_ids=[_user_id(people, "alice@acme.test")],
        subject="Replace the printer's drum unit (€180)",
        message="The drum is worn out; replacing it is billed to Acme. Do you approve?",
    )  # fmt: skip

    # Activities: a call due soon with a reminder, a task for tomorrow, a completed task.
    now = datetime.now(UTC)
    await activity_changes.add_activity(agnes, activity_changes.NewActivity(
        ticket_id=tickets[1], kind=ActivityKind.CALL, subject="Call Alice about the drum unit",
        description="Explain the cost and the delay.", due_at=now + timedelta(hours=2),
        remind_at=now + timedelta(hours=1), reminder_channels=[ReminderChannel.POPUP, ReminderChannel.EMAIL],
    ))  # fmt: skip
    await activity_changes.add_activity(bruno, activity_changes.NewActivity(
        ticket_id=tickets[3], kind=ActivityKind.TASK, subject="Send the corrected invoice",
        due_at=now + timedelta(days=1),
    ))  # fmt: skip
    done = await activity_changes.add_activity(agnes, activity_changes.NewActivity(
        ticket_id=tickets[5], kind=ActivityKind.TASK, subject="Check the reset links' lifetime",
    ))  # fmt: skip
    await activity_changes.update_activity(
        agnes, activity_changes.ActivityChanges(done.id, completed=True)
    )

    # Time: rates, then entries across agents and both organizations.
    for viewer, cents in ((agnes, 6000), (bruno, 7500)):
        await time_billing.set_hourly_rate(
            admin, agent_id=ids.encode("User", viewer.viewer.id), cents=cents
        )
    for viewer, number, minutes, billable, note in (
        (agnes, 1, 30, True, "Remote diagnosis of the printer"),
        (agnes, 5, 45, False, "Reset link investigation"),
        (agnes, 6, 20, True, "PDF export fix check"),
        (bruno, 3, 60, True, "Invoice correction with finance"),
        (bruno, 4, 15, False, None),
    ):
        await time_tracking.log_time(
            viewer,
            ticket_id=tickets[number],
            minutes=minutes,
            billable=billable,
            note=note,
            worked_on=None,
        )

    # Resolutions: one published to the help center; ratings on both solved stories.
    await resolutions.set_resolution(
        agnes, ticket_id=tickets[5], publish_as_article=True,
        article_title="How to get a new password reset link",
        body="Reset links are valid for 24 hours. If yours has expired, ask for a new one from the "
        "sign-in page (\u201cForgot your password?\u201d) and use it within the day.",
        notify_requester=True,
    )  # fmt: skip
    await resolutions.set_resolution(
        agnes, ticket_id=tickets[6], publish_as_article=False, article_title=None,
        body="Fixed by the release of the PDF export service.", notify_requester=False,
    )  # fmt: skip
    await satisfaction.rate(
        _viewer(people["bob@acme.test"]), ticket_id=tickets[5], score=SatisfactionScore.GOOD,
        comment="Quick and friendly, thank you.",
    )  # fmt: skip
    await satisfaction.rate(
        _viewer(people["carol@globex.test"]), ticket_id=tickets[6], score=SatisfactionScore.BAD,
        comment="It took a week to fix.",
    )  # fmt: skip
