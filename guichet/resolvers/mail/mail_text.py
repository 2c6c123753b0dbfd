"""The words of a reply: HTML as plain text, and what remains once the quoted history and
the signature are cut."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# "On Mon, 7 Dec 2026 at 10:00, Alice <alice@acme.test> wrote:" and its usual translations;
# mail clients wrap it over two lines, so it may end on the next line.
_ATTRIBUTION = re.compile(
    r"^(On\s.+wrote|Le\s.+a\s+écrit|Am\s.+schrieb.*|El\s.+escribió|Il\s.+ha\s+scritto"
    r"|Op\s.+schreef)\s*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^(On|Le|Am|El|Il|Op)\s", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Message d'origine|Ursprüngliche Nachricht|Forwarded message)"
    r"\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)
# Outlook's header block: "From: …" followed within a few lines by "Sent:" or "Date:".
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|De|Von)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Envoyé|Gesendet|To|À|An)\s*:", re.IGNORECASE)
# The marker our own mails may carry above the quoted conversation.
_REPLY_ABOVE = re.compile(r"reply above this line", re.IGNORECASE)
_SIGNATURE = re.compile(r"^--\s?$")


def reply_text(text: str) -> str:
    """What the sender wrote: the text above the quoted history, without `>` lines and
    without the signature (after a `-- ` line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _ends_reply(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _ends_reply(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if _SIGNATURE.match(lines[i]) or _ORIGINAL.match(line) or _REPLY_ABOVE.search(line):
        return True
    if _ATTRIBUTION.match(line):
        return True
    if _ATTRIBUTION_START.match(line) and i + 1 < len(lines):
        joined = f"{line} {lines[i + 1].strip()}"
        if _ATTRIBUTION.match(joined):
            return True
    if _OUTLOOK_FROM.match(line):
        return any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1 : i + 4])
    return False


_BLOCKS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
    "blockquote", "pre", "hr",
}  # fmt: skip
_SKIPPED = {"script", "style", "head", "title"}


class _TextOfHtml(HTMLParser):
    """Text of an HTML body: blocks on their own lines, quoted blocks as `>` lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.quoting = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "blockquote":
            self.quoting += 1
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self.skipping:
            self.skipping -= 1
        elif tag == "blockquote" and self.quoting:
            self.quoting -= 1
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if self.quoting and text.strip():
            text = "\n> " + text.strip() + "\n"
        self.parts.append(text)


def html_to_text(html: str) -> str:
    """A readable plain-text rendering of an HTML mail body (no markup survives)."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
