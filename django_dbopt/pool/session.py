"""Which statements can leave session state behind (``RESET_SESSION = "dirty"``).

With ``DBOPT['POOL']['RESET_SESSION'] = "dirty"`` (the default) the managed pool resets a
returning connection only when it may have changed session state. The engine installs
``mark_dirty_on_execute`` as an execute wrapper on its connections; it flags the psycopg
connection (attribute ``_dbopt_dirty``) before running a statement that
``leaves_session_state`` says may leave state behind. ``ManagedPool.putconn`` resets
flagged connections and clears the flag.

The test is an allow-list, memoized per SQL string: a statement is *clean* only when it
is one statement (no ``;`` but a trailing one) that starts with a keyword known to leave
nothing beyond its transaction, and calls none of the functions known to change the
session. Everything else is *dirty*: unknown statements, anything that is not a ``str``,
DDL (``CREATE TEMP`` among it), ``SET``/``RESET`` (but ``SET LOCAL``, ``SET TRANSACTION``,
``SET CONSTRAINTS``), ``LISTEN``, ``PREPARE``, ``EXECUTE``, ``DEALLOCATE``, ``DISCARD``,
``DECLARE ... WITH HOLD``, ``LOAD``, ``DO``, ``CALL``, ``COPY``, ``SELECT ... INTO``;
calls to session-level advisory locks, ``set_config(..., false)`` (or any third argument
but a literal ``true``), ``nextval``/``setval``, ``dblink_connect``. Comments and string
literals are not parsed: a risky name or a ``;`` inside them makes the statement dirty
(a needless reset, never a missed one).

What it cannot see (docs/pool.md): SQL run on the psycopg connection itself
(``connection.connection.execute(...)``), functions of your own that change session
state internally, and psycopg-level attributes (``cursor.callproc()`` is flagged by the
engine's cursor wrapper). Call
``mark_dirty(alias)`` after such work, or set ``RESET_SESSION = "always"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

#: the attribute set on a psycopg connection that may carry session state
DIRTY = "_dbopt_dirty"

_LEADING_COMMENT = re.compile(r"\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/)", re.DOTALL)
_FIRST_WORDS = re.compile(r"\s*\(*\s*([A-Za-z]+)(?:\s+([A-Za-z]+))?")
#: statements that leave nothing behind once their transaction ends (more checks below)
_CLEAN = frozenset(
    {
        "SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE",
        "EXPLAIN", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT",
        "RELEASE", "SHOW", "NOTIFY", "UNLISTEN", "CLOSE", "FETCH", "MOVE", "LOCK",
        "TRUNCATE", "DECLARE", "SET",
    }
)  # fmt: skip
#: ``SET`` forms that last only until the end of the transaction
_SET_TRANSACTION_SCOPED = frozenset({"LOCAL", "TRANSACTION", "CONSTRAINTS"})
#: ``SELECT ... INTO`` makes a table (maybe a temporary one)
_INTO = re.compile(r"\bINTO\b", re.IGNORECASE)
_CREATE = re.compile(r"\bCREATE\b", re.IGNORECASE)
_WITH_HOLD = re.compile(r"\bWITH\s+HOLD\b", re.IGNORECASE)
#: session-level advisory locks (``pg_advisory_lock``, ``pg_try_advisory_lock_shared``...;
#: not the ``_xact_`` ones, not unlocks) and other functions that change the session
_RISKY_CALL = re.compile(
    r"advisory_lock|\b(?:nextval|setval|dblink_connect\w*)\"?\s*\(",
    re.IGNORECASE,
)
_SET_CONFIG = re.compile(r"set_config", re.IGNORECASE)
_CALL_OPENS = re.compile(r"\s*\(")


@functools.lru_cache(maxsize=4096)
def leaves_session_state(sql: str) -> bool:
    """Whether running ``sql`` may leave session state for the next borrower (when unsure: yes)."""
    text = sql
    while match := _LEADING_COMMENT.match(text):
        if match[0].count("/*") > 1:
            return True  # nested block comments (PostgreSQL nests them): unsure
        text = text[match.end() :]
    body = text.rstrip().rstrip(";")
    if ";" in body:
        return True  # several statements (or a ';' in a literal or comment): unsure
    words = _FIRST_WORDS.match(body)
    if words is None:
        return True
    first, second = words[1].upper(), (words[2] or "").upper()
    if first not in _CLEAN:
        return True
    if first == "SET":
        return second not in _SET_TRANSACTION_SCOPED
    if first == "DECLARE":
        return _WITH_HOLD.search(body) is not None
    if first in ("SELECT", "WITH", "VALUES", "TABLE", "EXPLAIN") and _INTO.search(body):
        return True
    if first == "EXPLAIN" and _CREATE.search(body):
        return True  # EXPLAIN ANALYZE CREATE TEMP TABLE ... AS runs it
    if _RISKY_CALL.search(body):
        return True
    for found in _SET_CONFIG.finditer(body):
        opens = _CALL_OPENS.match(body, found.end())  # not a quoted "set_config"(...)
        if opens is None or not _is_local_set_config(body, opens.end()):
            return True
    return False


def _is_local_set_config(text: str, start: int) -> bool:
    """``set_config(a, b, true)``: only a literal ``true`` third argument is transaction-local.

    ``start`` is just past the opening parenthesis. Quotes are followed so that commas and
    parentheses inside ``'...'`` / ``"..."`` do not count; anything it cannot follow
    (dollar quotes, an unclosed quote or parenthesis) answers "not local".
    """
    depth, args, current = 0, [], []
    quote = ""
    for char in text[start:]:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char == "$":
            return False  # a dollar-quoted string or a parameter: unsure
        if char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                args.append("".join(current))
                return len(args) == 3 and args[2].strip().lower() == "true"
            depth -= 1
        elif char == "," and depth == 0:
            args.append("".join(current))
            current = []
            continue
        current.append(char)
    return False


def mark_dirty_on_execute(
    execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """Execute wrapper: flag the connection before a statement that may leave state."""
    if sql.__class__ is not str or leaves_session_state(sql):
        raw = context["connection"].connection
        if raw is not None:
            setattr(raw, DIRTY, True)
    return execute(sql, params, many, context)


def mark_dirty(using: str = DEFAULT_DB_ALIAS) -> None:
    """Have ``using``'s current pooled connection reset when it returns to the pool.

    For session changes django-dbopt cannot see: SQL run on the psycopg connection itself
    (``connection.connection.execute(...)``), functions of your own that change session
    state. Does nothing when the alias holds no connection now.
    """
    raw = connections[using].connection
    if raw is not None:
        setattr(raw, DIRTY, True)
