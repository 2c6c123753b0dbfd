"""The ticket search syntax agents know from Zendesk, parsed into plain data.

A query is a list of terms separated by whitespace; every term narrows the search::

    status<solved priority>=high assignee:me -tags:billing updated<7d "printer jam" -toner

Field terms are ``keyword OP value`` with OP one of ``:``, ``<``, ``<=``, ``>``, ``>=``.
Keywords are case-insensitive, and so are enum values and names. A value with spaces is
quoted: ``group:"Tier 2"``. A leading ``-`` negates a term. The keywords:

* ``status``: new < open < pending < hold < solved < closed (``hold``, ``on_hold``,
  ``on-hold`` all mean ON_HOLD); ``priority``: low < normal < high < urgent;
* ``type``: question, incident, problem, task; ``via``: web, portal, email, api, rule, system;
* ``assignee``: ``me``, ``none``, an e-mail address or a name; ``requester``, ``submitter``:
  the same but never ``none`` (every ticket has both);
* ``group``, ``organization`` (alias ``org``): a name or ``none``; ``tags`` (alias ``tag``);
* ``created``, ``updated``, ``solved``: a date, a date-time or an age (see below);
* ``approval``: pending, approved, denied, withdrawn (the ticket has an approval request in
  that state); ``activity``: open (an activity not done yet), overdue (one not done and past
  its due time). Both are for staff.

Only ``status``, ``priority`` and the dates take ``<``, ``<=``, ``>``, ``>=``.

Dates. ``YYYY-MM-DD`` is a whole UTC day: ``created:2026-01-01`` is that day,
``created>2026-01-01`` after it, ``created>=2026-01-01`` from its start, ``created<2026-01-01``
before it, ``created<=2026-01-01`` up to its end. An ISO date-time must carry an offset
(``2026-01-01T09:30:00+01:00`` or ``…Z``) and takes a comparison only. An age is a number and
a unit (m, min, minute(s); h, hour(s); d, day(s); w, week(s)) compared with how old the
ticket is: ``updated<7d`` is "updated less than 7 days ago", ``created>2hours`` "created more
than 2 hours ago"; ages take a comparison only.

Anything else is text: ``"printer jam"`` is a phrase, other terms are words, ``-word`` and
``-"some phrase"`` are excluded (both go to ``excluded_words``). A word that looks like
``keyword:value`` with an unknown keyword is an error (it is almost always a typo), except
URL-like words (``http://…``), which stay words. Only ASCII letters and ``_`` before the
operator make a keyword, so ``12:30`` or ``été:x`` are words.

Normalised output (the caller builds SQL from it without re-parsing):

* enums: ``values`` is the tuple of matching upper-case names, ordered fields expanded
  (``status<solved`` -> ``("NEW", "OPEN", "PENDING", "ON_HOLD")``);
* people, group, organization, tags: ``(lower-cased text,)`` with ``"me"`` and ``"none"``
  left for the caller to resolve;
* dates: ``values`` is a flat tuple of one or two ``(op, aware UTC datetime)`` pairs, op in
  ``> >= < <=``, applied to the ticket's timestamp and ANDed: ``updated<7d`` ->
  ``(">", now - 7 days)``; ``created:2026-01-01`` is ONE term
  ``(">=", 2026-01-01T00:00Z, "<", 2026-01-02T00:00Z)``, so that ``negated`` negates the
  whole day;
* words, phrases and excluded words are lower-cased, inner whitespace collapsed.

Every malformed query raises `SearchSyntaxError` naming the offending term; no other
exception escapes `parse` for any string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 50


class SearchSyntaxError(ValueError):
    """A query the parser refuses; ``term`` is the offending term as typed."""

    def __init__(self, term: str, message: str) -> None:
        super().__init__(" ".join(message.split()))  # one line, even for a term with newlines
        self.term = term


@dataclass(frozen=True)
class FieldTerm:
    field: str
    values: tuple
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[FieldTerm, ...]
    words: tuple[str, ...]
    phrases: tuple[str, ...]
    excluded_words: tuple[str, ...]


# --- tokenizer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    raw: str  # as typed, with its '-' and quotes
    negated: bool
    body: str  # after the '-'; a phrase's text without its quotes
    phrase: bool


def _close_quote(text: str, quote: int) -> int:
    end = text.find('"', quote + 1)
    if end < 0:
        term = text[quote:]
        raise SearchSyntaxError(term, f"Unterminated quote in '{term}': close it with '\"'.")
    return end


def _tokenize(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        negated = text[i] == "-"
        i += negated
        if i < n and text[i] == '"':
            end = _close_quote(text, i)
            yield _Token(text[start : end + 1], negated, text[i + 1 : end], True)
            i = end + 1
            continue
        while i < n and not text[i].isspace():
            if text[i] == '"':  # a quoted part inside a term, as in group:"Tier 2"
                i = _close_quote(text, i)
            i += 1
        yield _Token(text[start:i], negated, text[start + negated : i], False)


# --- per-keyword normalisers ----------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    raw: str
    keyword: str  # lower-cased, as typed (``org``, not ``organization``)
    field: str
    op: str
    value: str  # unquoted, stripped, whitespace collapsed; case as typed
    now: datetime


def _colon_only(t: _Term) -> None:
    if t.op != ":":
        raise SearchSyntaxError(
            t.raw,
            f"No comparison in '{t.raw}': {t.field} takes ':' only, as in {t.keyword}:{t.value}.",
        )


def _enum(
    names: tuple[str, ...],
    *,
    ordered: bool,
    aliases: dict[str, str] | None = None,
    hint: str | None = None,
) -> Callable[[_Term], tuple]:
    lookup = {name.lower(): name for name in names} | (aliases or {})
    hint = hint or ", ".join(name.lower() for name in names)

    def normalise(t: _Term) -> tuple:
        if not ordered:
            _colon_only(t)
        name = lookup.get(t.value.lower())
        if name is None:
            raise SearchSyntaxError(
                t.raw, f"Unknown {t.field} '{t.value}' in '{t.raw}' (use {hint})."
            )
        i = names.index(name)
        chosen = {
            ":": (name,),
            "<": names[:i],
            "<=": names[: i + 1],
            ">": names[i + 1 :],
            ">=": names[i:],
        }[t.op]
        if not chosen:
            side = "below" if t.op == "<" else "above"
            message = f"'{t.raw}' matches nothing: no {t.field} is {side} {t.value.lower()}."
            raise SearchSyntaxError(t.raw, message)
        return chosen

    return normalise


def _name(*, none_allowed: bool = True) -> Callable[[_Term], tuple]:
    def normalise(t: _Term) -> tuple:
        _colon_only(t)
        value = t.value.lower()
        if value == "none" and not none_allowed:
            message = f"Every ticket has a {t.field}: '{t.raw}' would match nothing."
            raise SearchSyntaxError(t.raw, message)
        return (value,)

    return normalise


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt].+", re.ASCII)
_AGE = re.compile(r"(\d{1,12}) ?([a-z]+)", re.ASCII)
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hour", "hours"), "hours"),
    **dict.fromkeys(("d", "day", "days"), "days"),
    **dict.fromkeys(("w", "week", "weeks"), "weeks"),
}
_OLDER = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}  # an age below N is a timestamp after now-N
_DATE_HINT = "use YYYY-MM-DD, a date-time with offset like 2026-01-01T09:00:00Z, or an age like 7d"


def _date(t: _Term) -> tuple:
    def refuse(message: str) -> SearchSyntaxError:
        return SearchSyntaxError(t.raw, message)

    try:
        if age := _AGE.fullmatch(t.value.lower()):
            unit = _UNITS.get(age[2])
            if unit is None:
                raise refuse(f"Unknown unit '{age[2]}' in '{t.raw}' (use m, h, d or w).")
            if t.op == ":":
                raise refuse(f"An age needs < or > in '{t.raw}', as in {t.keyword}<{t.value}.")
            return (_OLDER[t.op], t.now - timedelta(**{unit: int(age[1])}))
        if _DATE.fullmatch(t.value):
            start = datetime.fromisoformat(t.value).replace(tzinfo=UTC)
            if t.op in (">=", "<"):
                return (t.op, start)
            end = start + timedelta(days=1)
            return {":": (">=", start, "<", end), ">": (">=", end), "<=": ("<", end)}[t.op]
        if _DATETIME.fullmatch(t.value):
            moment = datetime.fromisoformat(t.value)
            if moment.tzinfo is None:
                raise refuse(f"Add an offset (Z or +01:00) to '{t.value}' in '{t.raw}'.")
            if t.op == ":":
                raise refuse(f"A date-time needs <, <=, > or >= in '{t.raw}' (or use a date).")
            return (t.op, moment.astimezone(UTC))
    except SearchSyntaxError:
        raise
    except (ValueError, OverflowError):
        pass  # an impossible or out-of-range date
    raise refuse(f"Bad date '{t.value}' in '{t.raw}' ({_DATE_HINT}).")


def _activity(t: _Term) -> tuple:
    """``activity:overdue`` carries the parse's ``now``: "past due" is as of the query."""
    state = _enum(("OPEN", "OVERDUE"), ordered=False)(t)[0]
    return (state, t.now) if state == "OVERDUE" else (state,)


_STATUS = _enum(
    ("NEW", "OPEN", "PENDING", "ON_HOLD", "SOLVED", "CLOSED"),
    ordered=True,
    aliases=dict.fromkeys(("hold", "on_hold", "on-hold", "on hold"), "ON_HOLD"),
    hint="new, open, pending, hold, solved, closed",
)
_TEXT = _name()

# keyword -> (field, normaliser)
_KEYWORDS: dict[str, tuple[str, Callable[[_Term], tuple]]] = {
    "status": ("status", _STATUS),
    "priority": ("priority", _enum(("LOW", "NORMAL", "HIGH", "URGENT"), ordered=True)),
    "type": ("type", _enum(("QUESTION", "INCIDENT", "PROBLEM", "TASK"), ordered=False)),
    "via": ("via", _enum(("WEB", "PORTAL", "EMAIL", "API", "RULE", "SYSTEM"), ordered=False)),
    "assignee": ("assignee", _TEXT),
    "requester": ("requester", _name(none_allowed=False)),
    "submitter": ("submitter", _name(none_allowed=False)),
    "group": ("group", _TEXT),
    "organization": ("organization", _TEXT),
    "org": ("organization", _TEXT),
    "tags": ("tags", _TEXT),
    "tag": ("tags", _TEXT),
    "created": ("created", _date),
    "updated": ("updated", _date),
    "solved": ("solved", _date),
    "approval": (
        "approval",
        _enum(("PENDING", "APPROVED", "DENIED", "WITHDRAWN"), ordered=False),
    ),
    "activity": ("activity", _activity),
}
_KEYWORD_HINT = ", ".join(k for k in _KEYWORDS if k not in ("org", "tag"))
_FIELD = re.compile(r"([A-Za-z_]+)(<=|>=|:|<|>)(.*)", re.ASCII | re.DOTALL)


def _field_term(token: _Token, keyword: str, op: str, value: str, now: datetime) -> FieldTerm:
    spec = _KEYWORDS.get(keyword.lower())
    if spec is None:
        raise SearchSyntaxError(
            token.raw, f"Unknown keyword '{keyword}' in '{token.raw}' (use {_KEYWORD_HINT})."
        )
    field, normalise = spec
    value = " ".join(value.replace('"', " ").split())
    if not value:
        raise SearchSyntaxError(token.raw, f"Empty value in '{token.raw}': say which {field}.")
    term = _Term(token.raw, keyword.lower(), field, op, value, now)
    return FieldTerm(field, normalise(term), token.negated)


# --- parse -----------------------------------------------------------------------------------


def parse(text: str, *, now: datetime) -> ParsedQuery:
    """Parse a search query (see the module docstring for the syntax).

    ``now`` (timezone-aware) anchors ages such as ``updated<7d``. Raises `SearchSyntaxError`
    for a malformed query, one over 1,000 characters or one of more than 50 terms.
    """
    if now.tzinfo is None:
        raise ValueError("parse() needs a timezone-aware 'now'.")
    if len(text) > MAX_QUERY_LENGTH:
        raise SearchSyntaxError(
            text,
            f"Query '{text[:30]}…' is too long: {len(text)} characters, "
            f"at most {MAX_QUERY_LENGTH}.",
        )
    now = now.astimezone(UTC)
    terms: list[FieldTerm] = []
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    count = 0
    for token in _tokenize(text):
        body = " ".join(token.body.split())
        if not body:
            continue  # a lone '-' or an empty "" says nothing
        count += 1
        if count > MAX_TERMS:
            raise SearchSyntaxError(
                token.raw, f"Too many terms: '{token.raw}' is term {count}, at most {MAX_TERMS}."
            )
        field = None if token.phrase else _FIELD.fullmatch(token.body)
        url_like = field and field[2] == ":" and field[3].startswith("//")
        if field and not (url_like and field[1].lower() not in _KEYWORDS):
            terms.append(_field_term(token, *field.groups(), now))
            continue
        text_term = " ".join(body.replace('"', " ").split()).lower()
        if token.negated:
            excluded.append(text_term)
        elif token.phrase or " " in text_term:  # a quoted part inside a word makes a phrase
            phrases.append(text_term)
        else:
            words.append(text_term)
    return ParsedQuery(tuple(terms), tuple(words), tuple(phrases), tuple(excluded))
