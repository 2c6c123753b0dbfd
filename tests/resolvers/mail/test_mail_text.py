"""What is kept of a reply: the words above the quoted history, without the signature."""

from __future__ import annotations

import pytest

from guichet.resolvers.mail.mail_text import html_to_text, reply_text


@pytest.mark.parametrize(
    "history",
    [
        "On Mon, 7 Dec 2026 at 10:00, Support <support@acme.test> wrote:\n> Hi",
        "On Mon, 7 Dec 2026 at 10:00, Support <\nsupport@acme.test> wrote:\n> Hi",
        "Le lun. 7 déc. 2026 à 10:00, Support <support@acme.test> a écrit :\n> Salut",
        "Am Mo., 7. Dez. 2026 um 10:00 Uhr schrieb Support <support@acme.test>:\n> Hallo",
        "-----Original Message-----\nFrom: Support\nSent: Monday\nHi",
        "From: Support <support@acme.test>\nSent: Monday, 7 December 2026 10:00\nTo: Dana\nHi",
        "________________________________\nFrom: Support\nHi",
        "##- Please type your reply above this line -##\nHi",
    ],
    ids=["gmail", "wrapped", "french", "german", "original", "outlook", "underscores", "marker"],
)
def test_quoted_history_is_cut(history):
    assert reply_text(f"Thanks, fixed.\n\n{history}\nmore history") == "Thanks, fixed."


def test_quoted_lines_and_the_signature_are_cut():
    text = "Yes.\n> you asked\nAnd no.\n--\nDana\n+41 79 123 45 67"
    assert reply_text(text) == "Yes.\nAnd no."


def test_a_line_starting_with_from_is_kept_when_no_header_block_follows():
    text = "From: the finance team, with thanks.\nWe paid."
    assert reply_text(text) == text


def test_nothing_but_history_leaves_nothing():
    assert reply_text("On Mon, Support wrote:\n> Hi\n") == ""


def test_html_is_read_as_text_without_markup_scripts_or_quotes():
    html = (
        "<div>Hello&nbsp;<i>there</i>,<br>line two</div><style>x{}</style>"
        "<ul><li>one</li><li>two &lt;3</li></ul>"
        "<blockquote><p>quoted</p></blockquote>"
    )
    assert reply_text(html_to_text(html)) == "Hello there,\nline two\n\none\n\ntwo <3"
