"""Topic names: one place, so publishers and subscribers cannot drift apart.

Here rather than in `subscriptions`: the rules publish (through `context.bus`, which the
server wires in) and must not depend on the package that subscribes.
"""


def user_notifications(user_pk: int) -> str:
    return f"guichet:user:{user_pk}:notifications"


def ticket_history(ticket_pk: int) -> str:
    return f"guichet:ticket:{ticket_pk}:history"


def approval_requests(user_pk: int) -> str:
    return f"guichet:user:{user_pk}:approval-requests"


def ended_sessions() -> str:
    """Sessions that ended (logout, password change, deactivation): every process closes
    their websockets."""
    return "guichet:sessions:ended"


def help_center_settings() -> str:
    """The help desk's settings changed: every process reads them again."""
    return "guichet:help-center:settings"


def view_counts_changed() -> str:
    """Something that may move view counts happened (a ticket changed, a view was made,
    changed or deleted): every process recounts the views its subscribers watch."""
    return "guichet:views:counts-changed"
