"""Storage: Tortoise models, one module per aggregate (see MODEL_MODULES)."""

# The modules Tortoise loads as the "models" app, in one list for the app and aerich.
MODEL_MODULES = [
    "guichet.models.people",
    "guichet.models.auth",
    "guichet.models.tickets",
    "guichet.models.approvals",
    "guichet.models.outbox",
    "guichet.models.activities",
    "guichet.models.time_tracking",
    "guichet.models.resolutions",
    "guichet.models.notifications",
    "guichet.models.attachments",
    "guichet.models.mail",
    "guichet.models.admin",
    "guichet.models.views",
]
