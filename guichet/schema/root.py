"""The root schema, composed from an explicit list of per-domain classes."""

from __future__ import annotations

from functools import cache

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from guichet.resolvers import ids
from guichet.resolvers.approvals import approvals
from guichet.resolvers.errors import NotFound
from guichet.resolvers.mail import mail_log
from guichet.resolvers.people import notifications, people
from guichet.resolvers.tickets import attachments, comments, custom_fields, history, tickets
from guichet.resolvers.views import views
from guichet.resolvers.work import activities, resolutions, time_tracking
from guichet.schema.activities import Activity, ActivityMutation, ActivityQuery
from guichet.schema.admin_settings import AdminSettingsMutation, AdminSettingsQuery
from guichet.schema.analytics import AnalyticsQuery
from guichet.schema.approvals import (
    ApprovalMutation,
    ApprovalQuery,
    ApprovalRequest,
    ApprovalSubscription,
)
from guichet.schema.attachments import Attachment
from guichet.schema.auth import AuthMutation
from guichet.schema.comments import Comment, CommentMutation
from guichet.schema.custom_fields import CustomField, CustomFieldMutation, CustomFieldQuery
from guichet.schema.directory import DirectoryQuery
from guichet.schema.execution import PlannedExecution
from guichet.schema.faults import TranslateFaults, retry_conflicting_mutations
from guichet.schema.history import HistorySubscription, TicketEvent
from guichet.schema.limits import describe
from guichet.schema.mail import MailMessage, MailQuery
from guichet.schema.notifications import (
    Notification,
    NotificationMutation,
    NotificationQuery,
    NotificationSubscription,
)
from guichet.schema.people import Group, Organization, PeopleMutation, PeopleQuery, User
from guichet.schema.people_admin import PeopleAdminMutation
from guichet.schema.profile import ProfileMutation
from guichet.schema.protection import EXTENSIONS
from guichet.schema.relay import Node
from guichet.schema.requires import RefuseMutationsAboveTheViewer, check_requires_nullable
from guichet.schema.resolutions import Article, ResolutionMutation, ResolutionQuery
from guichet.schema.scalars import SCALAR_OVERRIDES
from guichet.schema.ticket_list import TicketQuery
from guichet.schema.tickets import Ticket, TicketMutation
from guichet.schema.time_tracking import TimeEntry, TimeTrackingMutation, TimeTrackingQuery
from guichet.schema.views import View, ViewMutation, ViewQuery, ViewSubscription

# Node types by the type name inside their global id, each loaded by its domain for the
# viewer: NotFound alike for what is missing and what the viewer may not see.
NODE_LOADERS = {
    "User": people.user_for_viewer,
    "Organization": people.organization_for_viewer,
    "Group": people.group_for_viewer,
    "Ticket": tickets.ticket_for_viewer,
    "Comment": comments.comment_for_viewer,
    "Attachment": attachments.attachment_for_viewer,
    "TicketEvent": history.event_for_viewer,
    "CustomField": custom_fields.custom_field_for_viewer,
    "ApprovalRequest": approvals.approval_request_for_viewer,
    "Article": resolutions.article_for_viewer,
    "TimeEntry": time_tracking.time_entry_for_viewer,
    "Activity": activities.activity_for_viewer,
    "Notification": notifications.notification_for_viewer,
    "MailMessage": mail_log.mail_message_for_viewer,
    "View": views.view_for_viewer,
}


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global id; null when unknown, malformed or not visible to you."
    )
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        info.context.require_viewer()
        decoded = ids.decode(id)
        load = NODE_LOADERS.get(decoded[0]) if decoded else None
        pk = ids.decode_as(id, decoded[0]) if decoded else None
        if load is None or pk is None:
            return None
        try:
            return await load(info.context, pk)
        except NotFound:
            return None


QUERIES = (
    NodeQuery,
    AdminSettingsQuery,
    PeopleQuery,
    DirectoryQuery,
    TicketQuery,
    CustomFieldQuery,
    ApprovalQuery,
    AnalyticsQuery,
    TimeTrackingQuery,
    ActivityQuery,
    ResolutionQuery,
    NotificationQuery,
    MailQuery,
    ViewQuery,
)
MUTATIONS = (
    AuthMutation,
    AdminSettingsMutation,
    PeopleMutation,
    PeopleAdminMutation,
    ProfileMutation,
    TicketMutation,
    CommentMutation,
    CustomFieldMutation,
    ApprovalMutation,
    TimeTrackingMutation,
    ActivityMutation,
    ResolutionMutation,
    NotificationMutation,
    ViewMutation,
)
SUBSCRIPTIONS = (
    NotificationSubscription,
    HistorySubscription,
    ApprovalSubscription,
    ViewSubscription,
)
# Types reachable only through the Node interface must still be in the schema.
EXTRA_TYPES = (
    User,
    Organization,
    Group,
    Ticket,
    Comment,
    TicketEvent,
    CustomField,
    Attachment,
    ApprovalRequest,
    TimeEntry,
    Activity,
    Article,
    Notification,
    MailMessage,
    View,
)


class GuichetSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        # Refusals are answers, not incidents; unexpected errors are logged where they
        # are masked (protection.MaskUnexpectedErrors).
        return None


@cache
def build_schema(debug: bool = False) -> strawberry.Schema:
    schema = GuichetSchema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS),
        types=EXTRA_TYPES,
        # The planner first: it hands out cached documents and verdicts before the others
        # look, and its results leave through their exits (faults, masking) like any other.
        extensions=[PlannedExecution, RefuseMutationsAboveTheViewer, *EXTENSIONS, TranslateFaults],
        config=StrawberryConfig(disable_field_suggestions=not debug),
        scalar_overrides=SCALAR_OVERRIDES,
    )
    check_requires_nullable(schema._schema)
    retry_conflicting_mutations(schema._schema)
    describe(schema._schema)
    return schema
