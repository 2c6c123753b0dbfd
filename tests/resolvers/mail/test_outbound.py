"""Addresses and headers of the mail the support team sends."""

from __future__ import annotations

from dataclasses import replace

from guichet.resolvers.mail.outbound import new_message_id, reply_address, sender
from guichet.server.settings import Settings

SETTINGS = Settings(
    mail_from="Acme Support <support@acme.test>", public_url="https://help.acme.test"
)


def test_the_reply_address_tags_the_support_address_with_the_ticket():
    assert reply_address(SETTINGS, 123) == "support+id123@acme.test"
    tagged = replace(SETTINGS, mail_from="Help <help+desk@acme.test>")
    assert reply_address(tagged, 7) == "help+id7@acme.test"


def test_a_person_speaks_via_the_support_address():
    assert sender(SETTINGS, "Ana Agent") == "Ana Agent via Acme Support <support@acme.test>"
    assert sender(SETTINGS, None) == "Acme Support <support@acme.test>"
    # A name cannot smuggle another address or a header in.
    sly = sender(SETTINGS, "Eve <eve@evil.test>,\r\nBcc: x@y.test")
    assert sly.endswith("<support@acme.test>") and "\r" not in sly and "\n" not in sly
    unnamed = replace(SETTINGS, mail_from="support@acme.test")
    assert sender(unnamed, "Ana Agent") == "Ana Agent via Support <support@acme.test>"


def test_message_ids_are_unique_and_end_in_the_deployments_host():
    first, second = new_message_id(SETTINGS, 5), new_message_id(SETTINGS, 5)
    assert first != second
    assert first.startswith("<ticket-5.") and first.endswith("@help.acme.test>")
