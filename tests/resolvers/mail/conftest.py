"""`receive`: hand a message to inbound mail as /inbound/email and `guichet smtpd` do."""

from __future__ import annotations

import pytest

from guichet.resolvers.mail.inbound import receive_mail
from tests.resolvers.inbound_helpers import raw


@pytest.fixture
def receive(app):
    async def receive(message, **envelope):
        data = message if isinstance(message, bytes) else raw(message)
        return await receive_mail(app.state.settings, data, bus=app.state.bus, **envelope)

    return receive
