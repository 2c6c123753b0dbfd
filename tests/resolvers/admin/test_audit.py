"""The audit trail writer: who (and through whose impersonation), what, from what to what,
committed or rolled back with the change it describes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from guichet.models.admin import AuditEntry
from guichet.models.people import Role
from guichet.resolvers.admin.audit import audit
from guichet.resolvers.context import Viewer


async def test_an_entry_names_actor_action_target_and_changes(admin):
    viewer = admin.row
    await audit(
        Viewer(viewer.pk, viewer.name, viewer.email_address, Role.ADMIN),
        "user.updated",
        target_type="User",
        target_id=7,
        changes={"role": [Role.END_USER, Role.AGENT], "at": datetime(2026, 1, 2, tzinfo=UTC)},
    )
    entry = await AuditEntry.get()
    assert (entry.actor_id, entry.impersonator_id, entry.action) == (
        viewer.pk,
        None,
        "user.updated",
    )
    assert (entry.target_type, entry.target_id) == ("User", 7)
    assert json.loads(entry.changes) == {
        "role": ["END_USER", "AGENT"],
        "at": "2026-01-02T00:00:00+00:00",
    }


async def test_an_impersonated_actions_entry_names_the_admin_behind_it(admin, end_user):
    acting = Viewer(
        end_user.row.pk,
        end_user.row.name,
        end_user.row.email_address,
        Role.END_USER,
        impersonator_id=admin.row.pk,
    )
    await audit(acting, "user.updated", target_type="User", target_id=1, changes=None)
    entry = await AuditEntry.get()
    assert (entry.actor_id, entry.impersonator_id, entry.changes) == (
        end_user.row.pk,
        admin.row.pk,
        None,
    )


async def test_the_system_acts_without_an_actor(app):
    await audit(None, "settings.updated", target_type=None, target_id=None, changes={"a": [1, 2]})
    assert (await AuditEntry.get()).actor_id is None


async def test_an_entry_rolls_back_with_its_change(app):
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await audit(None, "group.updated", target_type="Group", target_id=1, changes={})
            raise RuntimeError("the change failed")
    assert not await AuditEntry.exists()
