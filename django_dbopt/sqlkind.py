"""What kind of statement a SQL string is, decided fast and conservatively.

Used on the per-query path (the router, the cache's write detection, the monitor), so
it looks only at leading keywords and memoizes per SQL string. When unsure it answers
``"write"``: treating a read as a write costs a cache invalidation or a primary read;
the reverse would serve stale data or send a write to a replica.
"""

from __future__ import annotations

import re
from typing import Literal

from django_dbopt.memo import SqlMemo

Kind = Literal["read", "write", "transaction", "other"]

_COMMENTS = re.compile(r"(--[^\n]*\n?|/\*.*?\*/)", re.DOTALL)
_WRITE_WORDS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|ALTER|DROP|COPY|GRANT|REVOKE|"
    r"VACUUM|REINDEX|CLUSTER|REFRESH|LOCK|CALL|DO|NEXTVAL|SETVAL)\b|\bFOR\s+(NO\s+KEY\s+)?"
    r"(UPDATE|SHARE|KEY\s+SHARE)\b|\bINTO\b",
    re.IGNORECASE,
)
_TRANSACTION = frozenset(
    {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "PREPARE", "ABORT"}
)
#: bytes of SQL text the memo may hold
MEMO_MAX_BYTES = 4 * 1024 * 1024
_OTHER = frozenset({"SET", "SHOW", "RESET", "DISCARD", "LISTEN", "UNLISTEN", "NOTIFY"})


def _statement_kind(sql: str) -> Kind:
    """``"read"`` for a plain SELECT (or VALUES / EXPLAIN without ANALYZE), else the kind."""
    text = _COMMENTS.sub(" ", sql).strip().lstrip("(").lstrip()
    first = text[:12].split(None, 1)[0].upper() if text else ""
    if first in _TRANSACTION:
        return "transaction"
    if first in _OTHER:
        return "other"
    if first in ("SELECT", "WITH", "VALUES", "TABLE"):
        return "write" if _WRITE_WORDS.search(text) else "read"
    if first == "EXPLAIN":
        return "write" if re.search(r"\bANALY[SZ]E\b", text, re.IGNORECASE) else "read"
    return "write"


#: memoized per SQL string, bounded in bytes (``django_dbopt.memo``)
statement_kind: SqlMemo[Kind] = SqlMemo(_statement_kind, MEMO_MAX_BYTES, lambda _: 0)


def is_read(sql: str) -> bool:
    return statement_kind(sql) == "read"
