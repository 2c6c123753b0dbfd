"""Fixtures of the resolver tests that mail: a real SMTP server, the app set up with a
support address, and delivering the outbox to it as the worker does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from guichet.resolvers.mail import outbox, ticket_mail
from guichet.server.mailer import senders_for
from tests.server.smtp import Mailbox, smtp_server

SUPPORT = "Acme Support <support@acme.test>"


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_url(mailbox: Mailbox):
    with smtp_server(mailbox) as url:
        yield url


@pytest.fixture
def support(app):
    """The app mails as Acme Support (its settings are read per request)."""
    settings = app.state.settings
    app.state.settings = replace(settings, mail_from=SUPPORT)
    yield app.state.settings
    app.state.settings = settings


@pytest.fixture
def deliver(app, smtp_url):
    """Run the worker's delivery round against the SMTP server; how many were sent."""

    async def run() -> int:
        senders = senders_for(replace(app.state.settings, smtp_url=smtp_url))
        sent = 0
        while n := await outbox.deliver_due(senders, ticket_mail.checks(app.state.settings)):
            sent += n
        return sent

    return run
