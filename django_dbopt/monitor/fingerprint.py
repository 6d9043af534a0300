"""SQL fingerprints: one id per query shape, and no literal value in it.

A small PostgreSQL-aware lexer (PostgreSQL's own lexical rules: ``'...'`` with ``''``,
``E'...'`` with backslash escapes, ``U&'...'``, ``B''``/``X''``/``N''``, dollar quotes
``$tag$...$tag$``, quoted identifiers, ``--`` and nested ``/* /* */ */`` comments,
numbers including ``.5``, ``1e-3``, ``0x1F``, ``0o17``, ``0b101``, ``1_000``) replaces
every literal and placeholder (``%s``, ``%(name)s``, ``$1``, ``?``) with ``?``, drops
comments and collapses whitespace. Then the length of ``IN (...)`` lists and of
multi-row ``VALUES``, savepoint names and server-side cursor names are collapsed.
Anything that does not lex cleanly (an unterminated string, quote or comment, a stray
``$``: a query that failed on the server, or text another parser would read
differently) becomes
``UNREADABLE SQL <keyed hash>``: never its text. The lexer assumes
``standard_conforming_strings = on`` (PostgreSQL's default since 9.1).

The work is done once per distinct SQL string and memoized, bounded in bytes
(``django_dbopt.memo``): the per-query path is one dict lookup.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from django_dbopt.memo import SqlMemo


class Fingerprint(NamedTuple):
    id: str
    sql: str


class Unreadable(ValueError):
    """The SQL does not lex cleanly."""


#: bytes of SQL text and shapes the memo may hold
MEMO_MAX_BYTES = 8 * 1024 * 1024

_IDENT_START = r"[A-Za-z_\x80-\U0010ffff]"
_IDENT_CONT = r"[\w$\x80-\U0010ffff]"
_NOT_AFTER_WORD = r"(?<![\w$\x80-\U0010ffff])"
_TAG = r"[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*"  # a dollar-quote tag has no $
_TOKEN = re.compile(
    "|".join(
        (
            r"(?P<line>--[^\n]*)",
            r"(?P<block>/\*)",
            rf"(?P<ident>(?:{_NOT_AFTER_WORD}[uU]&)?\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`)",
            rf"(?P<estr>{_NOT_AFTER_WORD}[eE]'(?:[^'\\]|\\.|'')*')",
            rf"(?P<str>(?:{_NOT_AFTER_WORD}(?:[uU]&|[bBxXnN]))?'(?:[^']|'')*')",
            rf"(?P<dollar>{_NOT_AFTER_WORD}\$(?P<tag>(?:{_TAG})?)\$(?s:.*?)\$(?P=tag)\$)",
            rf"(?P<param>{_NOT_AFTER_WORD}\$\d+|%\(\w+\)s|%s|\?)",
            r"(?P<pct>%%)",
            rf"(?P<num>(?<![\w$.\x80-\U0010ffff])-?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+"
            r"|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)"
            rf"(?:[eE][-+]?\d+)?)(?!{_IDENT_CONT}))",
            rf"(?P<bool>{_NOT_AFTER_WORD}(?i:TRUE|FALSE)(?!{_IDENT_CONT}))",
            rf"(?P<bad>['\"`]|{_NOT_AFTER_WORD}\$)",
        )
    )
)
_NESTED = re.compile(r"/\*|\*/")
#: SQL without these (most ORM SQL: values are parameters) takes the fast path
_SPECIAL = re.compile(r"['$`\\]|/\*|--")
_SIMPLE = re.compile(
    r"%\(\w+\)s|%s|\?"
    rf"|(?<![\w$.\"\x80-\U0010ffff])-?(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+"
    r"|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)"
    rf"(?:[eE][-+]?\d+)?)(?!{_IDENT_CONT})"
    rf"|{_NOT_AFTER_WORD}(?i:TRUE|FALSE)(?!{_IDENT_CONT})"
)
_LITERALS = frozenset({"estr", "str", "dollar", "param", "num", "bool"})

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\b(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\s+\"?\w+\"?", re.I),
        r"\1 ?",
    ),
    (re.compile(r"\"?_django_curs_\w+\"?"), "?"),
    (
        re.compile(r"(?i)\b(DECLARE|CLOSE|FETCH\s+\w+\s+FROM|MOVE\s+\w+\s+FROM)\s+\"?[\w]+\"?"),
        r"\1 ?",
    ),
    (re.compile(r"\s+"), " "),
    (re.compile(r"(?i)\b(IN|VALUES) ?\( ?\?(?: ?, ?\?)* ?\)"), r"\1 (...)"),
    (re.compile(r"(?i)\b(VALUES) \(\.\.\.\)(?: ?, ?\( ?\?(?: ?, ?\?)* ?\))+"), r"\1 (...)"),
)


def _end_of_comment(sql: str, start: int) -> int:
    """Where the nested ``/* ... */`` comment opening at ``start`` ends."""
    depth, pos = 0, start
    while True:
        match = _NESTED.search(sql, pos)
        if match is None:
            raise Unreadable("unterminated /* comment")
        depth += 1 if match.group() == "/*" else -1
        pos = match.end()
        if depth == 0:
            return pos


def lex(sql: str) -> str:
    """``sql`` with every literal and placeholder replaced by ``?`` and comments by a
    space; ``Unreadable`` when it does not lex cleanly."""
    if _SPECIAL.search(sql) is None:
        if sql.count('"') % 2:
            raise Unreadable('unterminated "')
        return _SIMPLE.sub("?", sql)
    out: list[str] = []
    pos = 0
    while True:
        match = _TOKEN.search(sql, pos)
        if match is None:
            out.append(sql[pos:])
            return "".join(out)
        out.append(sql[pos : match.start()])
        kind = match.lastgroup
        if kind == "bad":
            raise Unreadable(f"unterminated or stray {match.group()!r}")
        if kind == "block":
            out.append(" ")
            pos = _end_of_comment(sql, match.start())
            continue
        out.append("?" if kind in _LITERALS else " " if kind == "line" else match.group())
        pos = match.end()


def unreadable(sql: str) -> str:
    """The shape of SQL that does not lex: a keyed hash, so equal text groups together
    and no literal (not even a guessable one) can be recovered from it."""
    from django.conf import settings

    key = hashlib.blake2b(str(getattr(settings, "SECRET_KEY", "")).encode()).digest()
    digest = hashlib.blake2b(sql.encode(errors="replace"), key=key, digest_size=8)
    return f"UNREADABLE SQL {digest.hexdigest()}"


def normalize(sql: str) -> str:
    """The query shape of ``sql``: values and list lengths collapsed, whitespace single."""
    try:
        text = lex(sql)
    except Unreadable:
        return unreadable(sql)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.strip().rstrip(";").strip()


def _compute(sql: str) -> Fingerprint:
    shape = normalize(sql)
    digest = hashlib.blake2b(shape.encode(errors="replace"), digest_size=8).hexdigest()
    return Fingerprint(digest, shape)


#: the fingerprint of ``sql`` (memoized per SQL string, bounded in bytes)
fingerprint: SqlMemo[Fingerprint] = SqlMemo(_compute, MEMO_MAX_BYTES, lambda fp: len(fp.sql) + 120)
