"""Reading one received e-mail: who sent it, what it answers, what it says.

Nothing here touches the database: `read_mail` turns raw RFC 822 bytes into a `ReceivedMail`
(or raises `Unreadable` with the reason it is refused), and the helpers below decide what a
body means once quoted history and signatures are cut. inbound.py acts on the result.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import errors as email_errors
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

from guichet.resolvers.mail.mail_text import html_to_text, reply_text
from guichet.resolvers.people.people import email_error, normalize_email
from guichet.resolvers.tickets.tickets import MAX_BODY, MAX_CCS, MAX_SUBJECT

# A header section larger than this is refused before it is parsed: real mail stays far
# below (a long thread's References is a few kB), and parsing cost grows with it.
MAX_HEADER_BYTES = 64 * 1024
NO_SUBJECT = "(no subject)"
# Stored ids are at most 500 characters (mail_message.message_id).
_MAX_ID = 500

# MIME damage the parser recovers from by guessing: the message is refused rather than
# read as something its sender did not write.
_MALFORMED = (
    email_errors.NoBoundaryInMultipartDefect,
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
    email_errors.InvalidMultipartContentTransferEncodingDefect,
)
# Senders that are mail systems, not people: answering them is how mail loops start.
_SYSTEM_SENDERS = {"mailer-daemon", "postmaster"}
_SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")
_COMMAND = re.compile(r"\A\s*#id[ \t]+(\d{1,12})[ \t]*(?:\r?\n[ \t]*\r?\n|\s*\Z)")
_IDS = re.compile(r"<[^<>\s]+>")


class Unreadable(Exception):
    """The message cannot be read as mail; the message is the reason, for the mail log.
    `refused`: too large to read at all (a transport says so: 413, SMTP 552)."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


@dataclass(frozen=True, slots=True)
class MailFile:
    filename: str
    content_type: str
    content: bytes


@dataclass(slots=True)
class ReceivedMail:
    message_id: str
    # Whether the Message-ID is the sender's (False: made from the content, see _message_id).
    has_message_id: bool
    sender: str  # the From address, normalized; "" when there is none usable
    sender_name: str
    to: list[str]
    cc: list[str]  # valid addresses only
    dropped_cc: list[str]  # Cc entries that are not addresses
    subject: str
    in_reply_to: str | None
    references: list[str]  # In-Reply-To first, then References newest first
    body: str  # what the sender wrote, history and signature cut; "" when nothing
    quoted_only: bool  # the body had text, all of it quoted history or signature
    command_ticket: int | None  # the `#id 123` at the start of the body
    subject_ticket: int | None  # the `[#123]` tag in the subject
    auto_reply: str | None  # why this looks automatic, None for a person's mail
    files: list[MailFile] = field(default_factory=list)
    # Every recipient address seen in To, Cc and Delivered-To (for plus-addressed replies).
    recipients: list[str] = field(default_factory=list)


def header_size(raw: bytes) -> int:
    """Bytes before the blank line that ends the header section (all of it if none)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def content_id(raw: bytes) -> str:
    """A Message-ID for a message without one: the same bytes delivered twice share it."""
    return f"<{hashlib.sha256(raw).hexdigest()}@inbound.guichet.invalid>"


def read_mail(raw: bytes, *, envelope_sender: str | None = None) -> ReceivedMail:
    """The message as Guichet reads it, or Unreadable (huge headers, malformed MIME).

    `envelope_sender` is the SMTP MAIL FROM when there was one ("" for the null sender
    of bounces)."""
    if header_size(raw) > MAX_HEADER_BYTES:
        raise Unreadable(f"headers larger than {MAX_HEADER_BYTES // 1024} kB", refused=True)
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        if any(isinstance(d, _MALFORMED) for part in message.walk() for d in part.defects):
            raise Unreadable("malformed MIME")
        return _read(message, raw, envelope_sender)
    except Unreadable:
        raise
    except (ValueError, TypeError, LookupError, AttributeError, IndexError) as error:
        # The parser is lenient, reading its result is not: a header that does not parse,
        # an unknown charset, a broken encoding.
        raise Unreadable(f"malformed message ({type(error).__name__})") from None


def _read(message: EmailMessage, raw: bytes, envelope_sender: str | None) -> ReceivedMail:
    given_id = _one_id(_header(message, "Message-ID"))
    sender, sender_name = _sender(message)
    to, _ = _addresses(message, "To")
    cc, dropped = _addresses(message, "Cc")
    delivered, _ = _addresses(message, "Delivered-To")
    in_reply_to = _one_id(_header(message, "In-Reply-To"))
    references = _IDS.findall(_header(message, "References"))[::-1]
    subject = " ".join(_header(message, "Subject").split())[:MAX_SUBJECT]
    text, quoted_only, files = _content(message)
    command = _COMMAND.match(text)
    if command:
        rest = text[command.end() :]
        text = reply_text(rest)
        quoted_only = bool(rest.strip()) and not text
    tag = _SUBJECT_TAG.search(subject)
    return ReceivedMail(
        message_id=given_id or content_id(raw),
        has_message_id=given_id is not None,
        sender=sender,
        sender_name=sender_name,
        to=to,
        cc=[a for a in cc if a != sender][:MAX_CCS],
        dropped_cc=dropped,
        subject=subject or NO_SUBJECT,
        in_reply_to=in_reply_to,
        references=list(dict.fromkeys(([in_reply_to] if in_reply_to else []) + references)),
        body=text,
        quoted_only=quoted_only,
        command_ticket=int(command[1]) if command else None,
        subject_ticket=int(tag[1]) if tag else None,
        auto_reply=_automatic(message, sender, envelope_sender),
        files=files,
        recipients=list(dict.fromkeys(to + cc + delivered)),
    )


def _clean(text: str) -> str:
    """Text a database can store: bytes that were not text (kept by the parser as lone
    surrogates) become U+FFFD, NUL characters go."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _header(message: EmailMessage, name: str) -> str:
    value = message.get(name)
    return "" if value is None else _clean(str(value))


def _valid_address(spec: str) -> bool:
    return email_error(spec, ["address"]) is None and _clean(spec) == spec


def _one_id(value: str) -> str | None:
    found = _IDS.search(value)
    if found is None:
        return None
    return found[0] if len(found[0]) <= _MAX_ID else content_id(found[0].encode())


def _sender(message: EmailMessage) -> tuple[str, str]:
    """The From address (one, valid) and display name; ("", "") when there is none."""
    header = message.get("From")
    addresses = getattr(header, "addresses", ()) if header is not None else ()
    if len(addresses) != 1:
        return "", ""
    address = addresses[0].addr_spec
    if not _valid_address(address):
        return "", ""
    name = _clean(" ".join(addresses[0].display_name.split()))
    return normalize_email(address), name[:200]


def _addresses(message: EmailMessage, name: str) -> tuple[list[str], list[str]]:
    """The valid addresses of an address header, normalized, and the entries that are not."""
    valid: list[str] = []
    invalid: list[str] = []
    for header in message.get_all(name) or ():
        for address in getattr(header, "addresses", ()):
            spec = address.addr_spec
            if _valid_address(spec):
                valid.append(normalize_email(spec))
            else:
                invalid.append(_clean(str(address))[:200])
        if not getattr(header, "addresses", ()) and str(header).strip():
            invalid.append(_clean(str(header))[:200])
    return list(dict.fromkeys(valid)), invalid


def _automatic(message: EmailMessage, sender: str, envelope_sender: str | None) -> str | None:
    """Why a message was sent by a machine (RFC 3834 and the usual conventions)."""
    auto = _header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        return f"auto-reply (Auto-Submitted: {auto})"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"auto-reply (Precedence: {precedence})"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if message.get(name) is not None:
            return f"auto-reply ({name})"
    # X-Auto-Response-Suppress asks others not to auto-reply; it marks no auto-reply itself
    # (Exchange puts it on ordinary mail too), so it is not a reason to ignore a message.
    if message.get_content_type() == "multipart/report":
        return "bounce (multipart/report)"
    return_path = message.get("Return-Path")
    if envelope_sender == "" or (
        return_path is not None and str(return_path).strip() in ("", "<>")
    ):
        return "bounce (null return path)"
    if sender and sender.split("@")[0] in _SYSTEM_SENDERS:
        return f"bounce (from {sender.split('@')[0]})"
    return None


def _content(message: EmailMessage) -> tuple[str, bool, list[MailFile]]:
    """The body (text/plain preferred, else HTML as text) with history and signature cut,
    whether all its text was cut, and the attached files."""
    body_part = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body_part is not None:
        content = body_part.get_content()
        if body_part.get_content_type() == "text/html":
            content = html_to_text(content)
        text = _clean(content).replace("\r\n", "\n").replace("\r", "\n")
    kept = reply_text(text) if not _COMMAND.match(text) else text.strip()
    quoted_only = bool(text.strip()) and not kept
    files = []
    for part in message.walk():
        if part.is_multipart() or part is body_part:
            continue
        filename = _clean(part.get_filename() or "")
        if not filename and part.get_content_disposition() != "attachment":
            continue  # an alternative rendering of the body, not a file
        content = part.get_payload(decode=True) or b""
        files.append(MailFile(filename or "attachment", part.get_content_type(), content))
    return kept[:MAX_BODY], quoted_only, files


def own_address(mail_from: str) -> tuple[str, str]:
    """Our address (GUICHET_MAIL_FROM) as (local part, domain), lower-cased."""
    address = normalize_email(parseaddr(mail_from)[1])
    local, _, domain = address.rpartition("@")
    return local.partition("+")[0], domain


def is_own(address: str, mail_from: str) -> bool:
    """Whether `address` is ours, plus-addressed forms included (support+id12@…)."""
    local, domain = own_address(mail_from)
    their_local, _, their_domain = address.lower().rpartition("@")
    return their_domain == domain and their_local.split("+")[0] == local


def plus_addressed_ticket(recipients: list[str], mail_from: str) -> int | None:
    """The ticket number of a reply address `support+id123@…` among the recipients."""
    local, domain = own_address(mail_from)
    pattern = re.compile(rf"\A{re.escape(local)}\+id(\d{{1,12}})@{re.escape(domain)}\Z")
    for address in recipients:
        if found := pattern.match(address.lower()):
            return int(found[1])
    return None
