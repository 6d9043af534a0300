"""SQL fingerprints: one id per query shape.

Constants (strings, numbers, placeholders), the length of ``IN (...)`` lists and of
multi-row ``VALUES``, savepoint names and server-side cursor names are collapsed, and
comments and whitespace dropped, so the same query shape shares one fingerprint whatever
its values and wherever it was called from. The work is regular expressions, done once
per distinct SQL string and memoized: the per-query path only looks the string up.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import NamedTuple


class Fingerprint(NamedTuple):
    id: str
    sql: str


_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL), " "),
    (
        re.compile(r"\b(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\s+\"?\w+\"?", re.I),
        r"\1 ?",
    ),
    (re.compile(r"\"?_django_curs_\w+\"?"), "?"),
    (
        re.compile(r"(?i)\b(DECLARE|CLOSE|FETCH\s+\w+\s+FROM|MOVE\s+\w+\s+FROM)\s+\"?[\w]+\"?"),
        r"\1 ?",
    ),
    (re.compile(r"E?'(?:[^']|'')*'"), "?"),
    (re.compile(r"\$\d+|%\(\w+\)s|%s"), "?"),
    (re.compile(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b"), "?"),
    (re.compile(r"\b(?:TRUE|FALSE)\b", re.I), "?"),
    (re.compile(r"\s+"), " "),
    (re.compile(r"(?i)\b(IN|VALUES) ?\( ?\?(?: ?, ?\?)* ?\)"), r"\1 (...)"),
    (re.compile(r"(?i)\b(VALUES) \(\.\.\.\)(?: ?, ?\( ?\?(?: ?, ?\?)* ?\))+"), r"\1 (...)"),
)


def normalize(sql: str) -> str:
    """The query shape of ``sql``: values and list lengths collapsed, whitespace single."""
    text = sql
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.strip().rstrip(";").strip()


@functools.lru_cache(maxsize=8192)
def fingerprint(sql: str) -> Fingerprint:
    """The fingerprint of ``sql`` (memoized per SQL string)."""
    shape = normalize(sql)
    digest = hashlib.blake2b(shape.encode(), digest_size=8).hexdigest()
    return Fingerprint(digest, shape)
