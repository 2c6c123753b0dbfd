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
